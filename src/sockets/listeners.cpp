// Gathering for `netwhy ports`: sockets, then their processes, then the names
// of the devices they are bound to. Never prints.
#include <sys/socket.h>

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

#include "netwhy/netlink.hpp"
#include "netwhy/ports.hpp"

namespace netwhy {

const Process* main_process(const Listener& l) {
  for (const Process& p : l.processes) {
    const bool parent_holds = std::any_of(l.processes.begin(), l.processes.end(),
                                          [&](const Process& q) { return q.pid == p.ppid; });
    if (!parent_holds) return &p;
  }
  return l.processes.empty() ? nullptr : &l.processes.front();
}

std::vector<Listener> join_listeners(const std::vector<Socket>& sockets, const ProcessMap& map) {
  std::vector<Listener> out;
  out.reserve(sockets.size());
  for (const Socket& s : sockets) {
    Listener l;
    l.socket = s;
    if (auto it = map.holders.find(s.inode); it != map.holders.end()) {
      for (const pid_t pid : it->second) {
        if (auto p = map.processes.find(pid); p != map.processes.end()) l.processes.push_back(p->second);
      }
    }
    out.push_back(std::move(l));
  }
  std::sort(out.begin(), out.end(), [](const Listener& a, const Listener& b) {
    const auto key = [](const Listener& l) {
      return std::tuple(l.socket.protocol, l.socket.port, l.socket.family, l.socket.local.bytes, l.socket.inode);
    };
    return key(a) < key(b);
  });
  return out;
}

Expected<ListenerRead> read_listeners(const ListenerQuery& q) {
  ListenerRead out;
  std::vector<Socket> sockets;
  auto from_proc = [&]() -> Expected<void> {
    auto got = read_sockets_proc(q.sockets, q.proc);
    if (!got) return got.error();
    sockets = std::move(got->sockets);
    out.warnings.insert(out.warnings.end(), got->warnings.begin(), got->warnings.end());
    out.used = SocketSource::proc;
    return {};
  };
  if (q.source == SocketSource::proc) {
    if (auto r = from_proc(); !r) return r.error();
  } else {
    auto got = read_sockets_diag(q.sockets);
    if (got) {
      sockets = std::move(got->sockets);
      out.warnings.insert(out.warnings.end(), got->warnings.begin(), got->warnings.end());
    } else if (q.source == SocketSource::automatic) {
      out.warnings.push_back(fmt::format("sock_diag unavailable ({}); reading /proc/net instead, "
                                         "which does not show v6only, backlog or bound devices",
                                         got.error().message()));
      if (auto r = from_proc(); !r) return r.error();
    } else {
      return got.error();
    }
  }

  ProcessMap map;
  if (q.with_processes) {
    std::vector<std::uint64_t> inodes;
    inodes.reserve(sockets.size());
    for (const Socket& s : sockets) {
      if (s.inode != 0) inodes.push_back(s.inode);
    }
    ScanOptions scan;
    scan.proc_root = q.proc.root;
    map = map_socket_owners(inodes, scan);
    out.unreadable_processes = map.unreadable;
  }
  out.listeners = join_listeners(sockets, map);

  if (std::any_of(sockets.begin(), sockets.end(), [](const Socket& s) { return s.bound_ifindex != 0; })) {
    if (auto rtnl = Rtnl::open()) {
      if (auto links = read_links(*rtnl, AF_PACKET)) {
        for (Listener& l : out.listeners) {
          if (l.socket.bound_ifindex == 0) continue;
          for (const Link& link : *links) {
            if (link.ifindex == l.socket.bound_ifindex && link.name) l.interface = *link.name;
          }
          if (!l.interface) l.interface = fmt::format("if{}", l.socket.bound_ifindex);
        }
      }
    }
  }
  return out;
}

}  // namespace netwhy
