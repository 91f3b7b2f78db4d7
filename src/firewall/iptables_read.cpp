// Running iptables-save (nft or legacy, IPv4 and IPv6) and parsing what it
// prints. No shell: posix_spawn with pipes, output and time bounded, the
// child killed (by its pid) when late. These programs only read.
#include <algorithm>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "netwhy/fd.hpp"
#include "netwhy/file.hpp"
#include "netwhy/iptables.hpp"
#include "netwhy/text.hpp"

extern char** environ;

namespace netwhy {

namespace {

constexpr std::size_t max_output = 16U << 20;  // 16 MiB
constexpr std::size_t max_stderr = 64U << 10;
constexpr std::chrono::milliseconds time_limit{5000};

struct RunResult {
  bool started = false;
  bool timed_out = false;
  bool too_large = false;
  int status = 0;          // waitpid status
  int spawn_errno = 0;
  std::string out, err;
};

bool set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

// Reads what is there on fd into buf (up to limit); false at end of file.
bool drain(int fd, std::string& buf, std::size_t limit, bool& over) {
  std::array<char, 65536> chunk{};
  for (;;) {
    const ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n > 0) {
      const auto got = static_cast<std::size_t>(n);
      if (buf.size() + got > limit) {
        buf.append(chunk.data(), limit - buf.size());
        over = true;
        return false;
      }
      buf.append(chunk.data(), got);
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

// argv[0] = path, nothing else; stdin /dev/null; a fixed environment.
RunResult run_program(const std::string& path) {
  RunResult r;
  std::array<int, 2> out_pipe{-1, -1};
  std::array<int, 2> err_pipe{-1, -1};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0) {
    r.spawn_errno = errno;
    return r;
  }
  UniqueFd out_read(out_pipe[0]);
  UniqueFd out_write(out_pipe[1]);
  if (::pipe2(err_pipe.data(), O_CLOEXEC) != 0) {
    r.spawn_errno = errno;
    return r;
  }
  UniqueFd err_read(err_pipe[0]);
  UniqueFd err_write(err_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::string arg0 = path;
  std::string env_path = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  std::string env_lang = "LC_ALL=C";
  std::array<char*, 2> argv{arg0.data(), nullptr};
  std::array<char*, 3> envp{env_path.data(), env_lang.data(), nullptr};
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, path.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  out_write.reset();
  err_write.reset();
  if (rc != 0) {
    r.spawn_errno = rc;
    return r;
  }
  r.started = true;
  set_nonblocking(out_read.get());
  set_nonblocking(err_read.get());

  const auto deadline = std::chrono::steady_clock::now() + time_limit;
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      r.timed_out = true;
      break;
    }
    std::array<pollfd, 2> fds{pollfd{out_open ? out_read.get() : -1, POLLIN, 0},
                              pollfd{err_open ? err_read.get() : -1, POLLIN, 0}};
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left));
    if (n < 0) {
      if (errno == EINTR) continue;
      r.timed_out = true;  // cannot wait any more: treat as late
      break;
    }
    if (out_open && fds[0].revents != 0) {
      bool over = false;
      out_open = drain(out_read.get(), r.out, max_output, over);
      if (over) {
        r.too_large = true;
        break;
      }
    }
    if (err_open && fds[1].revents != 0) {
      bool over = false;
      err_open = drain(err_read.get(), r.err, max_stderr, over);
    }
  }
  out_read.reset();
  err_read.reset();
  // Both pipes closed: the child is ending. Wait for it until the deadline,
  // then kill it (by its pid) and collect it.
  if (!r.timed_out && !r.too_large) {
    for (;;) {
      const pid_t done = ::waitpid(pid, &r.status, WNOHANG);
      if (done == pid) return r;
      if (done < 0 && errno != EINTR) return r;
      if (std::chrono::steady_clock::now() >= deadline) {
        r.timed_out = true;
        break;
      }
      ::usleep(1000);
    }
  }
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, &r.status, 0) < 0 && errno == EINTR) {
  }
  return r;
}

bool is_executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// Does this kernel hold no x_tables table of the family? (iptables-legacy)
// Only when the list says so: the file is absent (ip_tables not loaded) or
// empty. A list that cannot be read (root only) does not say.
bool legacy_tables_absent(Family family) {
  const char* file = family == Family::inet6 ? "/proc/net/ip6_tables_names" : "/proc/net/ip_tables_names";
  const auto names = read_file(file, 1U << 16, OverLimit::truncate);
  if (!names) return names.error().code == ENOENT;
  return names->find_first_not_of(" \t\n") == std::string::npos;
}

std::string first_line(std::string_view s) {
  const auto lines = split_lines(s);
  return lines.empty() ? std::string() : escape_text(lines.front());
}

bool says_needs_root(std::string_view err) {
  return err.find("Permission denied") != std::string_view::npos ||
         err.find("Operation not permitted") != std::string_view::npos ||
         err.find("must be root") != std::string_view::npos;
}

}  // namespace

std::string iptables_save_program(Family family, IptBackend backend) {
  const std::string name = fmt::format("{}-{}-save", family == Family::inet6 ? "ip6tables" : "iptables",
                                       backend == IptBackend::nft ? "nft" : "legacy");
  for (const char* dir : {"/usr/sbin", "/sbin", "/usr/local/sbin"}) {
    std::string path = fmt::format("{}/{}", dir, name);
    if (is_executable(path)) return path;
  }
  return {};
}

IptablesRead read_iptables(IptBackend backend) {
  IptablesRead out;
  out.backend = backend;
  std::vector<std::string> problems;
  for (const Family family : {Family::inet, Family::inet6}) {
    const std::string name = fmt::format("{}-{}-save", family == Family::inet6 ? "ip6tables" : "iptables",
                                         backend == IptBackend::nft ? "nft" : "legacy");
    const std::string path = iptables_save_program(family, backend);
    if (path.empty()) {
      problems.push_back(fmt::format("{} is not installed (Debian package iptables)", name));
      continue;
    }
    if (backend == IptBackend::legacy && legacy_tables_absent(family)) {
      IptablesRuleset empty;
      empty.family = family;
      empty.backend = backend;
      out.rulesets.push_back(std::move(empty));  // no x_tables table: nothing to read
      continue;
    }
    const RunResult r = run_program(path);
    if (!r.started) {
      problems.push_back(fmt::format("{}: {}", name, std::strerror(r.spawn_errno)));
      continue;
    }
    if (r.timed_out) {
      problems.push_back(fmt::format("{}: timed out after {} s", name, time_limit.count() / 1000));
      continue;
    }
    if (r.too_large) {
      problems.push_back(fmt::format("{}: printed more than {} MiB", name, max_output >> 20));
      continue;
    }
    const bool ok = WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
    if (!ok) {
      if (says_needs_root(r.err) || ::geteuid() != 0) {
        problems.push_back("reading iptables rules needs root (CAP_NET_ADMIN)");
      } else if (WIFSIGNALED(r.status)) {
        problems.push_back(fmt::format("{}: killed by signal {}", name, WTERMSIG(r.status)));
      } else {
        const std::string said = first_line(r.err);
        problems.push_back(fmt::format("{} failed (exit status {}){}{}", name, WEXITSTATUS(r.status),
                                       said.empty() ? "" : ": ", said));
      }
      continue;
    }
    for (const std::string_view line : split_lines(r.err)) {
      if (!line.empty()) out.warnings.push_back(fmt::format("{}: {}", name, escape_text(line)));
    }
    auto parsed = parse_iptables_save(r.out, family, backend);
    if (!parsed) {
      problems.push_back(fmt::format("{}: {}", name, parsed.error().message()));
      continue;
    }
    parsed->text = r.out;
    out.rulesets.push_back(std::move(*parsed));
  }
  // One reason per kind, in the order met ("needs root" once, not twice).
  for (const std::string& p : problems) {
    if (out.unreadable.find(p) != std::string::npos) continue;
    if (!out.unreadable.empty()) out.unreadable += "; ";
    out.unreadable += p;
  }
  return out;
}

void read_iptables_into(Firewall& fw) {
  if (!fw.read) return;
  // iptables-nft's tables: opaque xt expressions, or its built-in chains
  // (INPUT, PREROUTING, ...) in an ip/ip6 table of iptables' names. Its
  // rules are then named as iptables names them (their position).
  const bool opaque =
      std::any_of(fw.rules.begin(), fw.rules.end(),
                  [](const FwRule& r) { return r.not_understood.rfind("xt ", 0) == 0; }) ||
      std::any_of(fw.chains.begin(), fw.chains.end(), [](const FwChain& c) {
        return (c.family == "ip" || c.family == "ip6") && iptables_builtin_chain(c.table, c.name, IptBackend::nft);
      });
  for (const IptBackend backend : {IptBackend::nft, IptBackend::legacy}) {
    if (backend == IptBackend::nft ? !opaque : fw.legacy_tables.empty()) continue;
    const IptablesRead got = read_iptables(backend);
    for (const IptablesRuleset& r : got.rulesets) {
      if (!r.text.empty()) fw.iptables.push_back({r.family, backend == IptBackend::legacy, r.text});
    }
  }
  apply_iptables(fw);
}

}  // namespace netwhy
