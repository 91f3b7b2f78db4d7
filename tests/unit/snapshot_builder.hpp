// Snapshots built in tests: a host with lo and eth0, listeners and processes.
#pragma once

#include <linux/if.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <string>
#include <vector>

#include "netwhy/diagnose.hpp"

namespace snaptest {

using namespace netwhy;

inline constexpr unsigned up_flags = IFF_UP | IFF_RUNNING | IFF_LOWER_UP;

inline Process proc(pid_t pid, pid_t ppid, std::string comm, std::string cmdline) {
  Process p;
  p.pid = pid;
  p.ppid = ppid;
  p.comm = std::move(comm);
  p.cmdline = std::move(cmdline);
  p.user = "dev";
  p.uid = 1000;
  return p;
}

struct Host {
  Snapshot s;

  Host() {
    s.firewall.read = true;  // an empty ruleset: nothing filtered
    link(1, "lo", up_flags | IFF_LOOPBACK);
    addr(1, "127.0.0.1", 8);
    addr(1, "::1", 128);
    link(2, "eth0", up_flags | IFF_BROADCAST | IFF_MULTICAST);
    addr(2, "10.0.2.15", 24);
  }

  Host& link(int ifindex, std::string name, unsigned flags) {
    Link l;
    l.ifindex = ifindex;
    l.name = std::move(name);
    l.flags = flags;
    s.links.push_back(std::move(l));
    return *this;
  }
  Link& link_named(const std::string& name) {
    return *std::find_if(s.links.begin(), s.links.end(), [&](const Link& l) { return l.name == name; });
  }
  Host& addr(int ifindex, const char* ip, std::uint8_t len) {
    Address a;
    a.ifindex = ifindex;
    a.local = IpAddr::parse(ip);
    a.address = a.local;
    a.family = a.local->family;
    a.prefixlen = len;
    s.addresses.push_back(a);
    return *this;
  }
  Listener& listen(const char* ip, std::uint16_t port, std::vector<Process> procs,
                   Protocol protocol = Protocol::tcp) {
    Listener l;
    l.socket.protocol = protocol;
    l.socket.local = *IpAddr::parse(ip);
    l.socket.family = l.socket.local.family;
    l.socket.port = port;
    l.socket.state = protocol == Protocol::tcp ? tcp_listen : tcp_close;
    if (l.socket.family == Family::inet6) l.socket.v6only = false;
    if (protocol == Protocol::tcp) {
      l.socket.queued = 0;
      l.socket.backlog = 128;
    }
    l.socket.inode = 1000 + s.listeners.size();
    l.processes = std::move(procs);
    s.listeners.push_back(std::move(l));
    return s.listeners.back();
  }
  // A listener in another network namespace (a container's), labelled NETNS.
  Listener& listen_in(const char* netns, const char* ip, std::uint16_t port, std::vector<Process> procs,
                      Protocol protocol = Protocol::tcp) {
    ForeignListener f;
    f.netns = netns;
    f.listener.socket.protocol = protocol;
    f.listener.socket.local = *IpAddr::parse(ip);
    f.listener.socket.family = f.listener.socket.local.family;
    f.listener.socket.port = port;
    f.listener.socket.state = protocol == Protocol::tcp ? tcp_listen : tcp_close;
    if (f.listener.socket.family == Family::inet6) f.listener.socket.v6only = false;
    f.listener.socket.inode = 5000 + s.other_netns.size();
    f.listener.processes = std::move(procs);
    s.other_netns.push_back(std::move(f));
    return s.other_netns.back().listener;
  }
  // An address of another network namespace on its eth0 (a veth), with a
  // default route there and the route to its own network.
  Host& addr_in(const char* netns, const char* ip, const char* network, unsigned prefix) {
    ForeignAddress fa;
    fa.netns = netns;
    fa.address = *IpAddr::parse(ip);
    fa.interface = "eth0";
    fa.kind = "veth";
    const IpAddr any = *IpAddr::parse(fa.address.family == Family::inet ? "0.0.0.0" : "::");
    fa.routes = {{any, 0}, {*IpAddr::parse(network), prefix}};
    s.other_netns_addresses.push_back(std::move(fa));
    return *this;
  }
};

// A process's container tag: engine "docker" or "podman", the full id, the
// name; holder: outside it, holding its published port (docker-proxy, conmon,
// dockerd).
inline ProcessContainer container_tag(std::string engine, std::string id, std::string name, bool holder) {
  ProcessContainer c;
  c.engine = std::move(engine);
  c.id = std::move(id);
  c.name = std::move(name);
  c.holder = holder;
  return c;
}

inline Process tagged(Process p, ProcessContainer c) {
  p.container = std::move(c);
  return p;
}

// -p [HOST_IP:]HOST_PORT:CONTAINER_PORT; host_ip null: every address.
inline PortBinding binding(std::uint16_t host_port, std::uint16_t container_port, const char* host_ip = nullptr,
                           std::string proto = "tcp") {
  PortBinding b;
  b.proto = std::move(proto);
  b.container_port = container_port;
  if (host_ip != nullptr) b.host_ip = IpAddr::parse(host_ip);
  b.host_port = host_port;
  return b;
}

// A container as its engine's records show it, without ports: running
// ones with their init's pid and their namespace's label.
inline ContainerState container_state(Engine engine, std::string id, std::string name, bool running,
                                      const char* netns = "", std::optional<pid_t> pid = std::nullopt) {
  ContainerState c;
  c.id.engine = engine;
  c.id.id = std::move(id);
  c.id.name = std::move(name);
  c.id.sources = {"config.v2.json", "hostconfig.json"};
  c.networking.pid = pid;
  c.networking.running = running;
  c.networking.network_mode = "default";
  c.netns = netns;
  c.engine_here = true;
  return c;
}

inline Query query(std::uint16_t port, std::optional<std::string> host = std::nullopt,
                   std::vector<const char*> addrs = {}) {
  Query q;
  q.port = port;
  q.host = std::move(host);
  for (const char* a : addrs) q.addresses.push_back(*IpAddr::parse(a));
  return q;
}

// A copy: the diagnosis it came from may be a temporary.
inline std::optional<Finding> finding(const Diagnosis& d, std::string_view code) {
  for (const Finding& f : d.findings) {
    if (to_string(f.code) == code) return f;
  }
  return std::nullopt;
}

inline const Endpoint& endpoint(const Diagnosis& d, const char* ip) {
  const IpAddr a = *IpAddr::parse(ip);
  return *std::find_if(d.endpoints.begin(), d.endpoints.end(), [&](const Endpoint& e) { return e.address == a; });
}

}  // namespace snaptest
