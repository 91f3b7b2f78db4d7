// The engine's parts share one Context: the snapshot and the question, the
// indexes built once, and the evidence the rules add. Rules (listener.cpp,
// endpoint.cpp, firewall.cpp, host.cpp) add facts and draft findings with
// what each finding is about and what it means for those clients; grade.cpp,
// run last, is the only place that sets severities, the verdict and the
// headline.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "netwhy/containers.hpp"
#include "netwhy/diagnose.hpp"
#include "netwhy/firewall.hpp"

namespace netwhy::engine {

// What a finding says about the clients it is about.
enum class Effect {
  cause,    // they fail, and this is why
  partial,  // some of them fail (named), others get through
  doubt,    // whether they get through can't be decided: this is what is missing
  hint,     // no failure of its own: a lead while the answer is "no"
  context,  // how things are: no failure
};

struct Draft {
  Finding finding;
  Effect effect = Effect::context;
  // The addresses whose clients the finding is about; empty: the port in
  // this network namespace as a whole.
  std::vector<IpAddr> about;
  // For a doubt: what is unknown and how to find out, in a few words for
  // the headline ("reading the firewall needs root: run sudo netwhy port 80").
  std::string reason;
};

struct AddrHash {
  std::size_t operator()(const IpAddr& a) const noexcept;
};

// The longest prefix covering an address, among many (connected networks,
// routes): one hash lookup per distinct prefix length instead of a scan of
// them all. Lengths are compared as given; a length past the family's bits
// covers as prefix_covers() does (all of them).
template <class T>
class PrefixIndex {
 public:
  void add(const IpAddr& net, unsigned len, const T* item);
  // The items of the longest prefix covering addr, in the order added;
  // nullptr when none covers it.
  [[nodiscard]] const std::vector<const T*>* longest(const IpAddr& addr) const;

 private:
  using Level = std::unordered_map<IpAddr, std::vector<const T*>, AddrHash>;
  std::map<unsigned, Level, std::greater<>> levels_;  // longest first
};

// Where one of HOST's addresses is, which decides who answers for it.
enum class Place { loopback, own, other };

struct Context {
  Context(const Snapshot& snap, const Query& query);

  const Snapshot& s;
  const Query& q;

  // ---- indexes, built once ----
  std::unordered_map<int, const Link*> link_by_index;
  std::unordered_map<IpAddr, const Address*, AddrHash> address_owner;  // first Address carrying it
  std::optional<int> lo;
  std::vector<int> arrivals;  // interfaces a packet from another host can arrive on: up, carrier, not loopback
  std::unordered_map<std::uint64_t, const Address*> first_address;  // (ifindex, family) -> its first address
  std::vector<const Address*> lo_addresses;  // on lo, in order: 127.0.0.0/8 takes 127.0.0.2
  PrefixIndex<Address> connected;            // by network, but not on a loopback link: egress_to()
  PrefixIndex<Route> routes_by_dst;          // route_for()
  PrefixIndex<Route> routes_with_oif;        // egress_to()
  bool nat_prerouting = false;  // a nat chain hooks prerouting: a packet may be sent elsewhere

  // ---- evidence ----
  std::vector<Listener> listeners;     // on the port, this namespace
  std::vector<bool> stalled;           // per listener: accept queue full, new connections time out
  std::unordered_map<IpAddr, std::vector<std::size_t>, AddrHash> listeners_at;  // by bound address
  std::vector<std::size_t> wildcard_listeners;
  std::vector<Endpoint> endpoints;
  std::unordered_map<IpAddr, std::size_t, AddrHash> endpoint_index;
  std::vector<Draft> drafts;
  // The first draft of each code and message, and the addresses it is about
  // (for the drafts add_once() extended), so that one more address costs a
  // lookup, not a scan of every draft and address.
  std::unordered_map<std::string, std::size_t> draft_by_message;
  std::unordered_map<std::size_t, std::unordered_set<IpAddr, AddrHash>> draft_about;
  bool forwarding = false;             // a DNAT/redirect takes the port somewhere
  // The interfaces towards the namespaces forwarded connections go to (a
  // container bridge, docker0): their clients are this host's containers,
  // not other machines, so they decide the verdict only when nothing else does.
  std::unordered_set<std::string> inner_interfaces;
  std::optional<FwRule> forward_rule;  // the first one met, and the family of the packets it took
  Family forwarded_family = Family::unspec;
  struct FwHit {
    FwResult result;
    std::vector<std::string> places;     // "10.0.0.5 (eth0)"
    std::vector<IpAddr> addresses;
    bool local = false;                  // on this host's own (loopback) path
    bool reply = false;                  // the server's answer, going back
    std::optional<FwForward> via;        // the DNAT the packet passed before it was stopped
    std::unordered_set<IpAddr, AddrHash> seen;  // addresses, for a constant-time check
  };
  std::vector<FwHit> fw_hits;
  // What a connection handed to another namespace meets (firewall.cpp's
  // into_namespace), by destination, way and client network: the answer and
  // the draft that says why.
  struct HandedOn {
    std::optional<bool> answer;
    std::optional<std::size_t> draft;
    Effect effect = Effect::context;
  };
  std::unordered_map<std::string, HandedOn> handed_on;
  std::unordered_map<const Process*, std::optional<Forwarder>> docker_proxy;  // parsed once per process
  std::unordered_map<std::string, std::size_t> fw_hit_index;  // by what makes them one (firewall.cpp)
  FwEvaluator fw;  // the ruleset, prepared once

  // ---- facts about the host ----
  [[nodiscard]] const Link* link(int ifindex) const;
  [[nodiscard]] std::string link_name(int ifindex) const;
  [[nodiscard]] static bool is_up(const Link* l);
  [[nodiscard]] static bool has_carrier(const Link* l);
  [[nodiscard]] bool is_loopback_link(int ifindex) const;
  // The interface carrying an address of this host (inside a loopback prefix
  // counts: 127.0.0.2 is taken by 127.0.0.0/8 on lo); nullopt: not ours.
  [[nodiscard]] std::optional<int> local_interface(const IpAddr& addr) const;
  [[nodiscard]] Place place(const IpAddr& addr) const;
  [[nodiscard]] const Address* first_address_on(int ifindex, Family family) const;

  // ---- facts about sockets ----
  [[nodiscard]] bool v6only(const Socket& sk) const;
  // Does the socket take a connection to addr that arrives on arrival_ifindex?
  [[nodiscard]] bool covers(const Listener& l, const IpAddr& addr, int arrival_ifindex) const;
  // The listener on the port that takes addr arriving on ifindex, as the
  // kernel picks it: a socket bound to the address before a wildcard; then
  // one bound to the device; then one of the address's own family.
  [[nodiscard]] std::optional<std::size_t> taker(const IpAddr& addr, int ifindex) const;
  void add_listener(Listener l, bool stalled_queue);

  [[nodiscard]] const Endpoint* endpoint(const IpAddr& addr) const;
  [[nodiscard]] const Probe* probe_for(const IpAddr& addr) const;
  [[nodiscard]] std::optional<RouteLookup> route_for(const IpAddr& addr) const;

  // ---- words ----
  [[nodiscard]] std::string what() const;  // "TCP port 8080"
  [[nodiscard]] std::string owner_text(const Listener& l) const;
  // The interface a packet to addr leaves through: the connected network
  // that holds it (longest prefix), else the routes in the snapshot.
  [[nodiscard]] std::optional<int> egress_to(const IpAddr& addr) const;
  // Every listener sharing l's address and port (SO_REUSEPORT), named.
  [[nodiscard]] std::string owners_text(const Listener& l) const;

  Draft& add(Code code, Effect effect, std::string message, std::optional<std::string> fix = std::nullopt,
             std::vector<IpAddr> about = {});
  [[nodiscard]] bool has_draft(Code code) const;
  // The draft of that code and message, if there is one.
  [[nodiscard]] Draft* draft_saying(Code code, const std::string& message);
  // Adds addr to what d is about, unless it is there already.
  void add_about(Draft& d, const IpAddr& addr);
};

// The container a listener's main process runs in or holds a port for.
[[nodiscard]] std::optional<ProcessContainer> container_of(const Listener& l);
// "container web (docker)"
[[nodiscard]] std::string container_text(const ProcessContainer& c);
// The engine's command line program: "docker", "podman"; "docker" for the rest.
[[nodiscard]] std::string engine_program(const ProcessContainer& c);

// Text helpers shared by the parts.
[[nodiscard]] std::string endpoint_text(const IpAddr& a, std::uint16_t port);
[[nodiscard]] std::string listener_text(const Listener& l);
[[nodiscard]] std::string endpoint_text_host(const std::string& host, std::uint16_t port);  // "[::1]:80", "web:80"
[[nodiscard]] std::string proto_name(Protocol p);
[[nodiscard]] bool link_local_v6(const IpAddr& a);
[[nodiscard]] bool prefix_covers(const IpAddr& net, unsigned len, const IpAddr& a);
[[nodiscard]] IpAddr network_of(const IpAddr& a, unsigned len);
[[nodiscard]] IpAddr address_of(const Address& a);
[[nodiscard]] std::string strip_period(std::string s);
[[nodiscard]] std::string lower_first(std::string s);
[[nodiscard]] std::string join_list(const std::vector<std::string>& items, std::size_t shown);

// ---- the rules, in the order diagnose() runs them ----
void collect_listeners(Context& c);     // listener.cpp: the port's listeners, stalled queues
void build_endpoints(Context& c);       // endpoint.cpp: local/remote per address, with the firewall and forwards
void explain_listeners(Context& c);     // listener.cpp: how the listeners are bound, or why none is
void explain_firewall(Context& c);      // firewall.cpp: the rules that decided (or could not be decided)
void explain_interfaces(Context& c);    // endpoint.cpp: down and carrier-less interfaces under the addresses
void explain_way_back(Context& c);      // endpoint.cpp: a route back to clients elsewhere, reverse-path filtering
void explain_host(Context& c);          // host.cpp: HOST's addresses: family, probe, route
// grade.cpp: severities, the verdict, the headline; the only place deciding them.
[[nodiscard]] Diagnosis grade(Context& c);

// firewall.cpp: the firewall's say on a packet through the given hooks in
// order (the first that does not accept is noted for explain_firewall);
// nullopt when it can't be decided. `reply`: the packet is the server's
// answer going back. The marks rules set on the way are left in p for the
// hooks after these.
[[nodiscard]] std::optional<bool> filter_hooks(Context& c, std::initializer_list<std::string_view> hooks,
                                               FwPacket& p, const IpAddr& addr, int ifindex,
                                               bool from_this_host, bool reply = false);
// The server's answer to p (ct state established), leaving through oif; it
// carries the connection's mark, not the packet's.
[[nodiscard]] FwPacket reply_to(const FwPacket& p, const std::string& oifname, int oif);
// firewall.cpp: a DNAT/redirect that takes a packet from another host; nullopt: none.
[[nodiscard]] std::optional<std::optional<bool>> follow_forward(Context& c, FwPacket& p, int ifindex);
// firewall.cpp: a connect from this host that a nat output rule sends to f:
// is it taken there?
[[nodiscard]] std::optional<bool> local_forward(Context& c, const FwForward& f, const IpAddr& addr);
// firewall.cpp: l belongs to a process that holds the port for a container
// (docker-proxy passes connections on; conmon only holds it): is a
// connection to addr that reaches it served? true for any other listener.
[[nodiscard]] std::optional<bool> through_holder(Context& c, const Listener& l, const IpAddr& addr);

}  // namespace netwhy::engine
