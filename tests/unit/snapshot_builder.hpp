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
};

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
