// A listening socket joined with the processes that hold it: the value
// `netwhy ports` lists and the diagnosis starts from. No I/O, no rendering.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "netwhy/procmap.hpp"
#include "netwhy/sockets.hpp"

namespace netwhy {

struct Listener {
  Socket socket;
  std::optional<std::string> interface;  // name of socket.bound_ifindex
  std::vector<Process> processes;        // ascending pid
  bool operator==(const Listener&) const = default;
};

// The master: the holder whose parent does not hold the socket too (a
// gunicorn master, not its workers); nullptr when none can be seen.
[[nodiscard]] const Process* main_process(const Listener& l);

}  // namespace netwhy
