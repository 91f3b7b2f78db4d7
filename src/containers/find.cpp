// find_container(): the init process of a running container named on the
// command line (-n docker:NAME, -n podman:NAME), from /proc and the engines'
// state files, as identify() reads them: no engine API, no engine command.
#include <dirent.h>
#include <unistd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <string_view>

#include <fmt/format.h>

#include "netwhy/containers.hpp"
#include "netwhy/fd.hpp"
#include "netwhy/file.hpp"
#include "netwhy/procmap.hpp"
#include "netwhy/text.hpp"

namespace netwhy {

namespace {

constexpr std::size_t proc_limit = 64U << 10;        // cmdline, stat, cgroup
constexpr std::size_t state_limit = 16U << 20;       // config.v2.json, containers.json
constexpr std::size_t max_processes = 1U << 16;      // /proc entries looked at
constexpr std::size_t max_docker_containers = 4096;  // per data root
constexpr std::size_t min_id_prefix = 12;            // as docker ps shows ids
constexpr std::size_t full_id = 64;
constexpr std::size_t max_listed = 4;                // of the containers an ambiguous name matches
constexpr const char* default_docker_root = "/var/lib/docker";
constexpr const char* default_podman_containers = "/var/lib/containers/storage/overlay-containers";

// What was typed after "docker:" or "podman:": a name, or 12 to 64 hex digits
// of an id. A name is looked for first, as docker does.
struct Wanted {
  Engine engine = Engine::unknown;
  std::string_view text;

  [[nodiscard]] bool may_be_id() const {
    return text.size() >= min_id_prefix && text.size() <= full_id &&
           std::all_of(text.begin(), text.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  }
  [[nodiscard]] bool named(std::string_view name) const { return name == text; }
  [[nodiscard]] bool id_starts(std::string_view id) const { return may_be_id() && id.starts_with(text); }
  // "docker container \"web\"", the name escaped and cut.
  [[nodiscard]] std::string shown() const {
    return fmt::format("{} container \"{}\"", to_string(engine), escape_arg(text));
  }
};

// A container a state file or a cmdline names.
struct Candidate {
  std::string id;
  std::string where;  // "in /var/lib/docker" (the data root), "conmon 4242"
  bool running = false;
  pid_t pid = 0;      // the container's init, when running
};

struct Matches {
  std::vector<Candidate> found;
  bool by_name = true;  // else by id
};

// The candidates that match by name, or when none does, by id; each
// container once (a data root reached by two spellings shows it twice).
Matches pick(const Wanted& w, std::vector<std::pair<Candidate, std::string>> all) {
  std::vector<Candidate> by_name;
  std::vector<Candidate> by_id;
  const auto has = [](const std::vector<Candidate>& list, const std::string& id) {
    return std::any_of(list.begin(), list.end(), [&](const Candidate& o) { return o.id == id; });
  };
  for (auto& [c, name] : all) {
    if (w.named(name)) {
      if (!has(by_name, c.id)) by_name.push_back(std::move(c));
    } else if (w.id_starts(c.id) && !has(by_id, c.id)) {
      by_id.push_back(std::move(c));
    }
  }
  if (by_name.empty()) return {std::move(by_id), false};
  return {std::move(by_name), true};
}

// The processes in proc_root, at most max_processes of them, ascending.
Expected<std::vector<pid_t>> list_pids(const std::string& proc_root) {
  if (::access(proc_root.c_str(), R_OK | X_OK) != 0) return system_error("open " + escape_text(proc_root));
  return process_ids(proc_root, max_processes);
}

std::string read_proc(const IdentifyOptions& opt, pid_t pid, const char* name) {
  return read_file(fmt::format("{}/{}/{}", opt.proc_root, pid, name), proc_limit, OverLimit::truncate)
      .value_or(std::string{});
}

bool denied(const Error& e) { return e.code == EACCES || e.code == EPERM; }

// "docker container \"web\": reading PATH needs root: Permission denied", for
// e = {system, EACCES, PATH}.
Error needs_root(const Wanted& w, const Error& e) {
  return Error{ErrorKind::system, e.code, fmt::format("{}: reading {} needs root", w.shown(), escape_text(e.context))};
}

// "2 running docker containers match \"web\" (da418ace7fb6 in /var/lib/docker,
// 0ebae9104919 in /srv/docker): name one by its id"
Error ambiguous(const Wanted& w, const std::vector<Candidate>& running, bool by_name) {
  std::string which;
  for (std::size_t i = 0; i < running.size() && i < max_listed; ++i) {
    if (i > 0) which += ", ";
    which += fmt::format("{} {}", running[i].id.substr(0, min_id_prefix), escape_text(running[i].where));
  }
  if (running.size() > max_listed) which += ", ...";
  return input_error(fmt::format("{} running {} containers match \"{}\" ({}): {}", running.size(),
                                 to_string(w.engine), escape_arg(w.text), which,
                                 by_name ? "name one by its id" : "give more of the id"));
}

Error not_running(const Wanted& w) {
  return input_error(fmt::format("container \"{}\" ({}) is not running", escape_arg(w.text), to_string(w.engine)));
}

Error absent(const Wanted& w, std::string_view why = {}) {
  std::string text = fmt::format("no running {} container named \"{}\"", to_string(w.engine), escape_arg(w.text));
  if (w.may_be_id()) text += " or with that id";
  if (!why.empty()) text += fmt::format(" ({})", why);
  return input_error(std::move(text));
}

// ---- docker ----

std::string without_trailing_slash(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// Every running dockerd's --data-root, then the default.
std::vector<std::string> docker_roots(const std::vector<pid_t>& pids, const IdentifyOptions& opt) {
  std::vector<std::string> roots;
  const auto add = [&](std::string root) {
    root = without_trailing_slash(std::move(root));
    if (std::find(roots.begin(), roots.end(), root) == roots.end()) roots.push_back(std::move(root));
  };
  for (const pid_t pid : pids) {
    if (auto root = parse_dockerd_data_root(read_proc(opt, pid, "cmdline"))) add(std::move(*root));
  }
  add(default_docker_root);
  return roots;
}

// The state files under one data root: each container with its name. A
// permission error is returned; other failures skip the root or the entry.
Expected<void> read_docker_root(const std::string& root, const IdentifyOptions& opt,
                                std::vector<std::pair<Candidate, std::string>>& out) {
  const std::string shown = root + "/containers";
  const UniqueDir d(::opendir((opt.host_root + shown).c_str()));
  if (!d) {
    if (errno == EACCES || errno == EPERM) return system_error(shown);
    return {};  // no such root: another daemon's, or none
  }
  std::size_t scanned = 0;
  while (const dirent* e = ::readdir(d.get())) {
    if (e->d_name[0] == '.') continue;
    if (++scanned > max_docker_containers) break;
    const std::string path = shown + "/" + e->d_name + "/config.v2.json";
    const auto text = read_file(opt.host_root + path, state_limit);
    if (!text) {
      if (denied(text.error())) return Error{ErrorKind::system, text.error().code, path};
      continue;
    }
    auto config = parse_docker_config(*text);
    if (!config) continue;
    Candidate c{config->container.id, "in " + root, config->net.running, config->net.pid.value_or(0)};
    out.emplace_back(std::move(c), std::move(config->container.name));
  }
  return {};
}

// State files outlive the daemon and a reboot: the pid they name must still
// be that container's (its cgroup names no other container).
bool still_running(const Candidate& c, const IdentifyOptions& opt) {
  struct stat st {};
  if (!c.running || c.pid <= 0 || ::stat(fmt::format("{}/{}", opt.proc_root, c.pid).c_str(), &st) != 0) return false;
  const auto cgroup = parse_cgroup(read_proc(opt, c.pid, "cgroup"));
  return !cgroup || cgroup->id.empty() || cgroup->id == c.id;
}

// Several engines run (one per network namespace, as in a test lab): the
// containers of the engine beside the caller come first. A candidate's
// engine side is its pid (conmon) or that pid's parent (the shim).
std::vector<Candidate> beside_caller(std::vector<Candidate> found, const IdentifyOptions& opt) {
  const auto netns_of = [&](const std::string& who) {
    char target[64] = {};
    const std::string path = fmt::format("{}/{}/ns/net", opt.proc_root, who);
    const ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
    return n > 0 ? std::string(target, static_cast<std::size_t>(n)) : std::string();
  };
  const std::string own = netns_of("self");
  if (own.empty()) return found;
  std::vector<Candidate> near;
  for (const Candidate& c : found) {
    const auto stat = parse_stat(read_proc(opt, c.pid, "stat"));
    const bool here = netns_of(std::to_string(c.pid)) == own ||
                      (stat && stat->ppid > 0 && netns_of(std::to_string(stat->ppid)) == own);
    if (here) near.push_back(c);
  }
  return near.empty() ? found : near;
}

Expected<pid_t> find_docker(const Wanted& w, const IdentifyOptions& opt) {
  const auto pids = list_pids(opt.proc_root);
  if (!pids) return pids.error();
  std::vector<std::pair<Candidate, std::string>> all;
  std::optional<Error> unreadable;
  for (const std::string& root : docker_roots(*pids, opt)) {
    if (auto read = read_docker_root(root, opt, all); !read && !unreadable) unreadable = read.error();
  }
  const Matches matches = pick(w, std::move(all));
  std::vector<Candidate> running;  // a stopped namesake has no namespace to enter: no ambiguity
  std::copy_if(matches.found.begin(), matches.found.end(), std::back_inserter(running),
               [&](const Candidate& c) { return still_running(c, opt); });
  if (running.size() > 1) running = beside_caller(std::move(running), opt);
  if (running.size() == 1) return running.front().pid;
  if (running.size() > 1) return ambiguous(w, running, matches.by_name);
  if (unreadable) return needs_root(w, *unreadable);  // a running one may be where we could not look
  if (!matches.found.empty()) return not_running(w);
  return absent(w);
}

// ---- podman ----

struct Conmon {
  pid_t pid = 0;
  ContainerId container;  // id and name from its -c and -n
};

// conmon's children: the container's init, the one in the container's cgroup
// first (conmon also parents the runtime for a moment, and exec sessions).
std::optional<pid_t> conmon_child(const std::vector<pid_t>& pids, const std::vector<pid_t>& conmons,
                                  const std::string& id, const IdentifyOptions& opt) {
  std::optional<pid_t> any;
  for (const pid_t pid : pids) {
    const auto stat = parse_stat(read_proc(opt, pid, "stat"));
    if (!stat || std::find(conmons.begin(), conmons.end(), stat->ppid) == conmons.end()) continue;
    const auto cgroup = parse_cgroup(read_proc(opt, pid, "cgroup"));
    if (cgroup && cgroup->id == id) return pid;
    if (!any) any = pid;
  }
  return any;
}

// Not running: does containers.json know it? Looked for where each conmon's
// bundle says, then in the default storage.
Expected<pid_t> podman_stopped(const Wanted& w, const std::vector<std::string>& dirs, const IdentifyOptions& opt) {
  std::optional<std::string> unreadable;
  for (const std::string& dir : dirs) {
    const std::string path = dir + "/containers.json";
    const auto text = read_file(opt.host_root + path, state_limit);
    if (!text) {
      if (denied(text.error()) && !unreadable) unreadable = path;
      continue;
    }
    const auto entries = parse_podman_containers(*text);
    if (!entries) continue;
    for (const PodmanContainer& p : *entries) {
      const bool named = std::any_of(p.names.begin(), p.names.end(), [&](const std::string& n) { return w.named(n); });
      if (named || w.id_starts(p.id)) return not_running(w);
    }
  }
  if (unreadable) return absent(w, fmt::format("whether it exists: reading {} needs root", escape_text(*unreadable)));
  return absent(w);
}

Expected<pid_t> find_podman(const Wanted& w, const IdentifyOptions& opt) {
  const auto pids = list_pids(opt.proc_root);
  if (!pids) return pids.error();
  std::vector<Conmon> conmons;
  std::vector<std::string> dirs;
  for (const pid_t pid : *pids) {
    const std::string cmdline = read_proc(opt, pid, "cmdline");
    auto parent = parse_parent_cmdline(cmdline);
    if (!parent || parent->engine != Engine::podman) continue;
    if (auto dir = parse_conmon_containers_dir(cmdline);
        dir && std::find(dirs.begin(), dirs.end(), *dir) == dirs.end()) {
      dirs.push_back(std::move(*dir));
    }
    conmons.push_back({pid, std::move(*parent)});
  }
  if (std::find(dirs.begin(), dirs.end(), default_podman_containers) == dirs.end()) {
    dirs.emplace_back(default_podman_containers);
  }

  std::vector<std::pair<Candidate, std::string>> all;
  for (const Conmon& c : conmons) {
    all.emplace_back(Candidate{c.container.id, fmt::format("conmon {}", c.pid), true, 0}, c.container.name);
  }
  Matches matches = pick(w, std::move(all));
  if (matches.found.size() > 1) matches.found = beside_caller(std::move(matches.found), opt);
  if (matches.found.size() > 1) return ambiguous(w, matches.found, matches.by_name);
  if (matches.found.empty()) return podman_stopped(w, dirs, opt);

  const std::string& id = matches.found.front().id;
  std::vector<pid_t> monitors;  // every conmon of that container (exec sessions have their own)
  for (const Conmon& c : conmons) {
    if (c.container.id == id) monitors.push_back(c.pid);
  }
  if (auto child = conmon_child(*pids, monitors, id, opt)) return *child;
  return not_running(w);  // conmon outlives its container for a moment
}

}  // namespace

Expected<pid_t> find_container(Engine engine, std::string_view name_or_id, const IdentifyOptions& opt) {
  const Wanted w{engine, name_or_id};
  switch (engine) {
    case Engine::docker: return find_docker(w, opt);
    case Engine::podman: return find_podman(w, opt);
    case Engine::unknown:
    case Engine::containerd:
    case Engine::kubernetes: break;
  }
  return input_error(fmt::format("containers of {} cannot be named with -n", to_string(engine)));
}

}  // namespace netwhy
