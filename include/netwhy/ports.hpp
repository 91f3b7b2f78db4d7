// Reading the listening sockets of this host (or namespace) and the
// processes that hold them: what `netwhy ports` shows and what the snapshot
// for the diagnosis starts from.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "netwhy/error.hpp"
#include "netwhy/listener.hpp"
#include "netwhy/model.hpp"
#include "netwhy/procmap.hpp"
#include "netwhy/sockets.hpp"
// For the code that includes this header to render listeners (compatibility).
#include "netwhy/render_ports.hpp"

namespace netwhy {

enum class SocketSource { automatic, netlink, proc };

struct ListenerRead {
  std::vector<Listener> listeners;        // sorted: protocol, port, family, address
  std::vector<std::string> warnings;      // one line each, for stderr
  std::size_t unreadable_processes = 0;
  SocketSource used = SocketSource::netlink;
};

struct ListenerQuery {
  SocketQuery sockets;
  SocketSource source = SocketSource::automatic;
  ProcSource proc;          // for the proc source (root, or /proc/PID/net)
  bool with_processes = true;
  // The links of the namespace, when the caller has them already: bound
  // devices are named from these instead of a new link dump.
  std::optional<std::vector<Link>> links;
};

// Gathers sockets (sock_diag, falling back to /proc when it is unavailable),
// the processes holding them and the names of bound interfaces.
[[nodiscard]] Expected<ListenerRead> read_listeners(const ListenerQuery& q);

// Joins sockets and a process map into listeners (pure).
[[nodiscard]] std::vector<Listener> join_listeners(const std::vector<Socket>& sockets, const ProcessMap& map);

// Adds the holders of each listener's socket found in map (pure).
void attach_processes(std::vector<Listener>& listeners, const ProcessMap& map);

}  // namespace netwhy
