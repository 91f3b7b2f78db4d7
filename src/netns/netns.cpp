#include "netwhy/netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <charconv>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "netwhy/fd.hpp"
#include "netwhy/text.hpp"

namespace netwhy {

namespace {

// "docker:NAME", "podman:NAME": the name (or id) checked for spelling only;
// the engines allow more than they document, so nothing else is refused.
std::optional<Expected<NetnsTarget>> parse_container_spec(std::string_view spec) {
  for (const Engine engine : {Engine::docker, Engine::podman}) {
    const std::string prefix = fmt::format("{}:", to_string(engine));
    if (!spec.starts_with(prefix)) continue;
    const std::string_view name = spec.substr(prefix.size());
    if (name.empty() || name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
      return input_error(fmt::format("bad netns \"{}\": expected {}NAME with a container's name or id",
                                     escape_arg(spec), prefix));
    }
    if (name.size() > NAME_MAX) {
      return input_error(fmt::format("bad container name \"{}\": longer than {} bytes", escape_arg(name), NAME_MAX));
    }
    NetnsTarget t;
    t.display = std::string(spec);
    t.engine = engine;
    t.container = std::string(name);
    return t;
  }
  return std::nullopt;
}

}  // namespace

Expected<NetnsTarget> parse_netns_spec(std::string_view spec) {
  if (auto container = parse_container_spec(spec)) return *std::move(container);
  NetnsTarget t;
  t.display = std::string(spec);
  if (spec.substr(0, 4) == "pid:") {
    const std::string_view num = spec.substr(4);
    long pid = 0;
    const auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), pid);
    if (num.empty() || ec != std::errc{} || end != num.data() + num.size() || pid <= 0 ||
        pid > 0x3fffffff) {
      return input_error(fmt::format("bad netns \"{}\": expected pid:PID with a process id",
                                     escape_arg(spec)));
    }
    t.pid = static_cast<pid_t>(pid);
    t.path = fmt::format("/proc/{}/ns/net", pid);
    return t;
  }
  if (spec.empty() || spec == "." || spec == ".." || spec.find('/') != std::string_view::npos ||
      spec.find('\0') != std::string_view::npos) {
    return input_error(fmt::format("bad netns name \"{}\"", escape_arg(spec)));
  }
  if (spec.size() > NAME_MAX) {
    return input_error(fmt::format("bad netns name \"{}\": longer than {} bytes", escape_arg(spec), NAME_MAX));
  }
  t.path = fmt::format("/run/netns/{}", spec);
  return t;
}

Expected<NetnsTarget> resolve_netns(NetnsTarget target, const IdentifyOptions& opt) {
  if (target.engine == Engine::unknown || target.pid != 0) return target;
  const auto pid = find_container(target.engine, target.container, opt);
  if (!pid) return pid.error();
  target.pid = *pid;
  target.path = fmt::format("/proc/{}/ns/net", *pid);
  return target;
}

Expected<void> enter_netns(const NetnsTarget& target) {
  if (target.engine != Engine::unknown && target.pid == 0) {
    const auto resolved = resolve_netns(target);
    if (!resolved) return resolved.error();
    return enter_netns(*resolved);
  }
  const std::string shown = escape_arg(target.display);
  const UniqueFd fd(::open(target.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    if (err == ENOENT) {
      if (target.engine != Engine::unknown) {
        return input_error(fmt::format("container \"{}\" ({}) stopped: its pid {} is gone",
                                       escape_arg(target.container), to_string(target.engine), target.pid));
      }
      if (target.pid != 0) return input_error(fmt::format("no process with pid {}", target.pid));
      return input_error(fmt::format("no network namespace named \"{}\" (see ip netns list)", shown));
    }
    if (err == EACCES || err == EPERM) {
      return Error{ErrorKind::system, err,
                   fmt::format("cannot open network namespace \"{}\" (run as root)", shown)};
    }
    return system_error(fmt::format("open {}", escape_arg(target.path)), err);
  }
  const int rc = setns(fd.get(), CLONE_NEWNET);
  const int err = errno;
  if (rc != 0) {
    if (err == EPERM) {
      return Error{ErrorKind::system, err,
                   fmt::format("cannot enter network namespace \"{}\" (needs root or CAP_SYS_ADMIN)",
                               shown)};
    }
    if (err == EINVAL) {
      return input_error(fmt::format("\"{}\" is not a network namespace", shown));
    }
    return system_error(fmt::format("enter network namespace \"{}\"", shown), err);
  }
  return {};
}

Expected<void> run_in_netns_of(pid_t pid, const std::function<void()>& fn) {
  const std::string path = fmt::format("/proc/{}/ns/net", pid);
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return system_error(fmt::format("open {}", path));
  Expected<void> result;
  std::thread worker([&] {
    if (setns(fd.get(), CLONE_NEWNET) != 0) {
      result = system_error(fmt::format("enter the network namespace of pid {}", pid));
      return;
    }
    fn();
  });
  worker.join();
  return result;
}

}  // namespace netwhy
