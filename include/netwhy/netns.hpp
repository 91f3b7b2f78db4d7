// Network namespaces named as `ip -n` does (/run/netns/NAME), or by a process
// ("pid:1234", e.g. a container's).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

#include "netwhy/error.hpp"

namespace netwhy {

struct NetnsTarget {
  std::string path;     // /run/netns/NAME or /proc/PID/ns/net
  std::string display;  // what the user typed, for messages
  pid_t pid = 0;        // set for pid:PID
};

// Validates the spelling only ("pid:" followed by a number, or a name without '/').
[[nodiscard]] Expected<NetnsTarget> parse_netns_spec(std::string_view spec);
// setns() into it, with a message that says what went wrong (missing, not root).
[[nodiscard]] Expected<void> enter_netns(const NetnsTarget& target);

// Runs fn on a thread that has entered the network namespace of process pid
// (setns moves only the calling thread: the caller stays where it is).
// Without CAP_SYS_ADMIN, an error and fn is not run.
[[nodiscard]] Expected<void> run_in_netns_of(pid_t pid, const std::function<void()>& fn);

}  // namespace netwhy
