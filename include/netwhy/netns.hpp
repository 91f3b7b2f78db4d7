// Network namespaces named as `ip -n` does (/run/netns/NAME), by a process
// ("pid:1234"), or by a container ("docker:web", "podman:web").
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

#include "netwhy/containers.hpp"
#include "netwhy/error.hpp"

namespace netwhy {

struct NetnsTarget {
  std::string path;     // /run/netns/NAME or /proc/PID/ns/net; empty for a container not yet resolved
  std::string display;  // what the user typed, for messages
  pid_t pid = 0;        // set for pid:PID, and for a container once resolved
  Engine engine = Engine::unknown;  // docker or podman, for docker:NAME and podman:NAME
  std::string container;            // NAME: the container's name, or 12 to 64 hex digits of its id
};

// Validates the spelling only: "pid:" followed by a number; "docker:" or
// "podman:" followed by a container's name or id (no '/', no NUL, at most
// 255 bytes); or a /run/netns name (no '/').
[[nodiscard]] Expected<NetnsTarget> parse_netns_spec(std::string_view spec);
// A container's target gets the pid of its init (find_container) and that
// process's namespace as its path; any other target is returned as it is.
[[nodiscard]] Expected<NetnsTarget> resolve_netns(NetnsTarget target, const IdentifyOptions& opt = {});
// setns() into it (resolved first when it names a container), with a message
// that says what went wrong (missing, not running, not root).
[[nodiscard]] Expected<void> enter_netns(const NetnsTarget& target);

// Runs fn on a thread that has entered the network namespace of process pid
// (setns moves only the calling thread: the caller stays where it is).
// Without CAP_SYS_ADMIN, an error and fn is not run.
[[nodiscard]] Expected<void> run_in_netns_of(pid_t pid, const std::function<void()>& fn);

}  // namespace netwhy
