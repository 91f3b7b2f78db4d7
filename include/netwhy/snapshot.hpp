// Everything the diagnosis needs to know about a host, as plain values:
// gathered live (read_snapshot), or loaded from a file written on another
// host (`netwhy snapshot -j`). The engine sees only this.
#pragma once

#include <cerrno>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "netwhy/containers.hpp"
#include "netwhy/error.hpp"
#include "netwhy/firewall.hpp"
#include "netwhy/model.hpp"
#include "netwhy/listener.hpp"

namespace netwhy {

// A listener found in another network namespace (a container's).
struct ForeignListener {
  std::string netns;      // its /run/netns name, or "pid:PID"
  std::uint64_t netns_inode = 0;
  Listener listener;
  bool operator==(const ForeignListener&) const = default;
};

// An address assigned in another network namespace: where a DNAT rule may
// send traffic, or HOST's address when a connect from here got no answer.
struct ForeignAddress {
  std::string netns;
  IpAddr address;
  std::string interface;
  // The namespace's main-table destinations (address, prefix length; the
  // default route is 0.0.0.0/0 or ::/0): can replies get back to a client?
  std::vector<std::pair<IpAddr, unsigned>> routes;
  // The interface's link kind ("veth", "macvlan", "ipvlan", ...; empty:
  // none) and, for a device stacked on an interface of THIS namespace (a
  // macvlan or ipvlan child whose parent is here), the parent's ifindex;
  // for a veth whose peer is here (a container's), the peer's ifindex.
  std::string kind;
  std::optional<int> parent;
  std::optional<std::uint32_t> macvlan_mode;  // MACVLAN_MODE_*: 4 bridge, 1 private, 2 vepa, 8 passthru, 16 source
  std::optional<std::uint16_t> ipvlan_mode;   // IPVLAN_MODE_*: 0 l2, 1 l3, 2 l3s
  bool operator==(const ForeignAddress&) const = default;
};

// What the kernel said when asked for the route to an address.
struct RouteLookup {
  IpAddr address;
  std::optional<Route> route;  // absent: no route
  int error = 0;               // the kernel's errno when there is none
  bool operator==(const RouteLookup&) const = default;
};

// A container as its engine's state files (and /proc) show it: a published
// port that nothing takes, an exited container, the -p it was run with.
struct ContainerState {
  ContainerId id;
  ContainerNetworking networking;
  std::string netns;  // the label of its network namespace when its sockets were read ("pid:PID", a /run/netns name)
  // Its engine (dockerd, conmon) runs in this network namespace: the ports
  // it publishes land here. Another namespace's engine publishes there.
  bool engine_here = true;
  bool operator==(const ContainerState&) const = default;
};

enum class ProbeResult { ok, refused, timeout, unreachable, error };

// The one active step: a TCP connect from this host, with a timeout.
struct Probe {
  IpAddr address;
  std::uint16_t port = 0;
  ProbeResult result = ProbeResult::error;
  int error = 0;        // errno for refused/unreachable/error
  double millis = 0;    // how long it took
  bool operator==(const Probe&) const = default;
};

// A connect that got no answer at all: it timed out, or no ARP or neighbour
// reply came (EHOSTUNREACH). The gathering looks for macvlan children then,
// and the diagnosis explains them then: one test for both.
[[nodiscard]] inline bool unanswered(const Probe& p) {
  return p.result == ProbeResult::timeout || (p.result == ProbeResult::unreachable && p.error == EHOSTUNREACH);
}

struct TimeWait {
  Protocol protocol = Protocol::tcp;
  std::uint16_t port = 0;
  std::size_t count = 0;
  bool operator==(const TimeWait&) const = default;
};

// What could not be seen, and why: the diagnosis says what that hides.
struct Gaps {
  bool root = true;
  std::size_t unreadable_processes = 0;
  bool hidepid = false;                    // /proc mounted with hidepid
  bool other_netns_unreadable = false;     // some namespaces could not be looked into
  std::vector<std::string> notes;
  bool operator==(const Gaps&) const = default;
};

struct Snapshot {
  std::string hostname;
  std::vector<Link> links;
  std::vector<Address> addresses;
  std::vector<Route> routes;                // main tables; for offline route lookups
  std::vector<Listener> listeners;          // this namespace
  std::vector<TimeWait> time_wait;
  std::vector<ForeignListener> other_netns;
  std::vector<ForeignAddress> other_netns_addresses;  // DNAT targets, and HOST's addresses a probe got no answer from
  std::vector<ContainerState> containers;   // those whose processes hold sockets here or there, and those publishing the port
  std::vector<RouteLookup> route_lookups;   // for --host addresses
  std::vector<Probe> probes;
  std::map<std::string, std::int64_t> sysctls;   // "net.ipv4.ip_unprivileged_port_start" -> 1024
  std::map<std::string, std::uint64_t> counters; // "TcpExt.ListenOverflows" -> 0
  Gaps gaps;
  Firewall firewall;
  bool operator==(const Snapshot&) const = default;
};

// ---- gathering (I/O) ----

struct SnapshotRequest {
  std::optional<std::uint16_t> port;       // nullopt: every port (netwhy snapshot)
  Protocol protocol = Protocol::tcp;
  bool all_protocols = false;              // netwhy snapshot: TCP and UDP
  std::vector<IpAddr> route_to;            // look up routes to these
  bool probe = false;                      // connect (TCP) to route_to addresses that are not local
  double probe_timeout_s = 2.0;
  bool with_routes = false;                // dump main tables (for the file)
};
[[nodiscard]] Expected<Snapshot> read_snapshot(const SnapshotRequest& req);

// ---- pure helpers, unit-tested ----

// /proc/net/netstat: "TcpExt: name name ...\nTcpExt: 1 2 ..." -> "TcpExt.name" -> value
[[nodiscard]] std::map<std::string, std::uint64_t> parse_netstat(std::string_view text);
// /proc/self/mountinfo: is /proc mounted with hidepid (other than 0/off)?
[[nodiscard]] bool parse_hidepid(std::string_view mountinfo);

// ---- files ----

[[nodiscard]] std::string snapshot_to_json(const Snapshot& s, bool pretty);
// How deeply a snapshot file may nest arrays and objects (the document is
// level 1). What netwhy writes reaches about 20 (firewall.nftables holds
// libnftables' JSON, where a verdict map over a concatenation of ranges
// nests 18 deep); deeper is refused before anything recursive sees it.
inline constexpr int snapshot_max_depth = 64;
// Validates every field; errors name the field: "links[2].ifindex: expected
// an integer", "sysctls.x: 300 is out of range (...)"; numbers are never cast
// into a narrower type. Bytes from the file in a message (a key of sysctls or
// counters) are escaped. Linear in the size of the text: each record of the
// top-level arrays (links, listeners, ...) becomes its value as soon as it is
// read and its JSON is dropped, so the peak is about the text and the result.
[[nodiscard]] Expected<Snapshot> snapshot_from_json(std::string_view text);

}  // namespace netwhy
