// Gathering for `netwhy ports`: sockets, then their processes, then the names
// of the devices they are bound to. Never prints.
#include <sys/socket.h>

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

#include "netwhy/netlink.hpp"
#include "netwhy/ports.hpp"

namespace netwhy {

void attach_processes(std::vector<Listener>& listeners, const ProcessMap& map) {
  for (Listener& l : listeners) {
    const auto it = map.holders.find(l.socket.inode);
    if (it == map.holders.end()) continue;
    for (const pid_t pid : it->second) {
      if (auto p = map.processes.find(pid); p != map.processes.end()) l.processes.push_back(p->second);
    }
  }
}

std::vector<Listener> join_listeners(const std::vector<Socket>& sockets, const ProcessMap& map) {
  std::vector<Listener> out;
  out.reserve(sockets.size());
  for (const Socket& s : sockets) out.push_back(Listener{s, std::nullopt, {}});
  attach_processes(out, map);
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
    std::optional<std::vector<Link>> links = q.links;
    if (!links) {
      if (auto rtnl = Rtnl::open()) {
        if (auto got = read_links(*rtnl, AF_PACKET)) links = std::move(*got);
      }
    }
    if (links) {
      const LinkIndex index(*links);
      for (Listener& l : out.listeners) {
        if (l.socket.bound_ifindex != 0) l.interface = index.name(l.socket.bound_ifindex);
      }
    }
  }
  return out;
}

}  // namespace netwhy
