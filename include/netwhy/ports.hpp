// Listening sockets joined with the processes that hold them: what
// `netwhy ports` shows and what the diagnosis starts from.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "netwhy/color.hpp"
#include "netwhy/error.hpp"
#include "netwhy/json_writer.hpp"
#include "netwhy/procmap.hpp"
#include "netwhy/sockets.hpp"

namespace netwhy {

struct Listener {
  Socket socket;
  std::optional<std::string> interface;  // name of socket.bound_ifindex
  std::vector<Process> processes;        // ascending pid
  bool operator==(const Listener&) const = default;
};

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
};

// Gathers sockets (sock_diag, falling back to /proc when it is unavailable),
// the processes holding them and the names of bound interfaces.
[[nodiscard]] Expected<ListenerRead> read_listeners(const ListenerQuery& q);

// Joins sockets and a process map into listeners (pure).
[[nodiscard]] std::vector<Listener> join_listeners(const std::vector<Socket>& sockets, const ProcessMap& map);

// The master: the holder whose parent does not hold the socket too (a
// gunicorn master, not its workers); nullptr when none can be seen.
[[nodiscard]] const Process* main_process(const Listener& l);

// How the processes of one socket read in a table: "gunicorn(256) +3 workers".
[[nodiscard]] std::string describe_processes(const std::vector<Process>& procs);

void render_listeners_json(JsonWriter& out, const std::vector<Listener>& listeners);
[[nodiscard]] std::string render_listeners_text(const std::vector<Listener>& listeners, const Palette& palette);

}  // namespace netwhy
