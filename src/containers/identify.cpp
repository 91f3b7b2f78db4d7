// identify(): which container a process belongs to, from /proc and the
// engines' state files (no engine API, no engine command).
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <string_view>

#include <fmt/format.h>

#include "netwhy/containers.hpp"
#include "netwhy/fd.hpp"
#include "netwhy/file.hpp"
#include "netwhy/procmap.hpp"

namespace netwhy {

namespace {

constexpr std::size_t proc_limit = 64U << 10;       // cgroup, cmdline, stat
constexpr std::size_t mountinfo_limit = 1U << 20;
constexpr std::size_t state_limit = 16U << 20;      // config.v2.json, containers.json
constexpr int max_ancestors = 16;
constexpr std::size_t max_docker_containers = 4096;  // scanned for docker-proxy's container
constexpr const char* default_docker_root = "/var/lib/docker";
constexpr const char* default_podman_containers = "/var/lib/containers/storage/overlay-containers";

// A process on the way from pid up to init.
struct Link {
  pid_t pid = 0;
  std::string cmdline;  // raw, NUL-separated
};

Expected<std::string> read_proc(const IdentifyOptions& opt, pid_t pid, const char* name, std::size_t limit) {
  return read_file(fmt::format("{}/{}/{}", opt.proc_root, pid, name), limit, OverLimit::truncate);
}

// "read PATH: Permission denied: the container's name is not known (root can
// read it)", with the full path (read_file shortens it).
std::string describe_failure(const std::string& path, const Error& e, std::string_view unknown = {}) {
  std::string text = e.kind == ErrorKind::system ? system_error("read " + path, e.code).message() : e.message();
  if (!unknown.empty()) text += fmt::format(": {} not known", unknown);
  if (e.code == EACCES || e.code == EPERM) text += " (root can read it)";
  return text;
}

// pid, then its parents, at most max_ancestors of them; init ends the walk.
std::vector<Link> ancestry(pid_t pid, const IdentifyOptions& opt) {
  std::vector<Link> out;
  for (int i = 0; i <= max_ancestors && pid > 0; ++i) {
    auto cmdline = read_proc(opt, pid, "cmdline", proc_limit);
    out.push_back({pid, cmdline ? std::move(*cmdline) : std::string{}});
    const auto stat = read_proc(opt, pid, "stat", proc_limit);
    const auto fields = stat ? parse_stat(*stat) : std::nullopt;
    if (!fields || fields->ppid <= 1 || fields->ppid == pid) break;
    pid = fields->ppid;
  }
  return out;
}

int specificity(Engine e) {
  switch (e) {
    case Engine::unknown: return 0;
    case Engine::containerd: return 1;
    case Engine::docker: return 2;
    case Engine::podman: return 2;
    case Engine::kubernetes: return 3;
  }
  return 0;
}

void fill(std::string& into, const std::string& from) {
  if (into.empty()) into = from;
}

// What another source adds; the first one to name a field keeps it.
void merge(std::optional<ContainerId>& into, const ContainerId& from) {
  if (!into) {
    into = from;
    return;
  }
  if (specificity(from.engine) > specificity(into->engine)) into->engine = from.engine;
  fill(into->id, from.id);
  fill(into->name, from.name);
  fill(into->compose_project, from.compose_project);
  fill(into->compose_service, from.compose_service);
  fill(into->image, from.image);
  fill(into->pod_uid, from.pod_uid);
  fill(into->containerd_namespace, from.containerd_namespace);
  into->sources.insert(into->sources.end(), from.sources.begin(), from.sources.end());
}

void read_cgroup(pid_t pid, const IdentifyOptions& opt, Identity& out) {
  const auto text = read_proc(opt, pid, "cgroup", proc_limit);
  if (!text) {
    out.notes.push_back(describe_failure(fmt::format("{}/{}/cgroup", opt.proc_root, pid), text.error()));
    return;
  }
  if (auto c = parse_cgroup(*text)) merge(out.container, *c);
}

// The nearest shim or conmon among pid and its ancestors.
const Link* engine_parent(const std::vector<Link>& chain) {
  for (const Link& link : chain) {
    if (parse_parent_cmdline(link.cmdline)) return &link;
  }
  return nullptr;
}

void add_unique(std::vector<std::string>& list, std::string item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(std::move(item));
}

// Where dockerd keeps its state: a bind source in the container's mountinfo,
// dockerd's --data-root among the ancestors, then the default.
std::vector<std::string> docker_roots(pid_t pid, const std::string& id, const std::vector<Link>& chain,
                                      const IdentifyOptions& opt, Identity& out) {
  std::vector<std::string> roots;
  if (!id.empty()) {
    const auto mountinfo = read_proc(opt, pid, "mountinfo", mountinfo_limit);
    if (!mountinfo) {
      out.notes.push_back(describe_failure(fmt::format("{}/{}/mountinfo", opt.proc_root, pid), mountinfo.error()));
    } else if (auto root = parse_docker_data_root(*mountinfo, id)) {
      add_unique(roots, std::move(*root));
    }
  }
  for (const Link& link : chain) {
    if (auto root = parse_dockerd_data_root(link.cmdline)) add_unique(roots, std::move(*root));
  }
  add_unique(roots, default_docker_root);
  return roots;
}

// config.v2.json and hostconfig.json in one container's directory.
Expected<DockerConfig> read_docker_container(const std::string& dir) {
  const std::string config_path = dir + "/config.v2.json";
  const auto text = read_file(config_path, state_limit);
  if (!text) return text.error();
  auto config = parse_docker_config(*text);
  if (!config) return Error{ErrorKind::parse, 0, config_path + ": not a container's config.v2.json"};
  if (const auto host_text = read_file(dir + "/hostconfig.json", state_limit)) {
    if (auto host = parse_docker_hostconfig(*host_text)) {
      config->net.network_mode = std::move(host->network_mode);
      config->net.requested = std::move(host->port_bindings);
      config->container.sources.emplace_back("hostconfig.json");
    }
  }
  return *std::move(config);
}

void adopt_docker(DockerConfig config, Identity& out) {
  merge(out.container, config.container);
  out.networking = std::move(config.net);
}

// The container's own directory under the first data root that has it.
void read_docker_state(pid_t pid, const std::vector<Link>& chain, const IdentifyOptions& opt, Identity& out) {
  const std::string id = out.container->id;
  for (const std::string& root : docker_roots(pid, id, chain, opt, out)) {
    const std::string dir = root + "/containers/" + id;
    auto config = read_docker_container(opt.host_root + dir);
    if (config) {
      adopt_docker(*std::move(config), out);
      return;
    }
    if (config.error().code == ENOENT) continue;
    out.notes.push_back(describe_failure(dir + "/config.v2.json", config.error(),
                                         "the container's name, compose labels and ports are"));
    return;
  }
  out.notes.push_back(fmt::format("no config.v2.json for docker container {} in the data roots looked at", id));
}

bool has_address(const ContainerNetworking& net, const IpAddr& addr) {
  return std::any_of(net.addresses.begin(), net.addresses.end(),
                     [&](const ContainerAddress& a) { return a.addr.unmapped() == addr.unmapped(); });
}

// docker-proxy names only the container's address: the container is the one
// whose config.v2.json holds it.
Expected<bool> find_in_root(const std::string& root, const IpAddr& addr, const IdentifyOptions& opt, Identity& out) {
  const std::string dir = opt.host_root + root + "/containers";
  const UniqueDir d(::opendir(dir.c_str()));
  if (!d) return system_error("open " + root + "/containers");
  std::size_t scanned = 0;
  while (const dirent* e = ::readdir(d.get())) {
    if (e->d_name[0] == '.') continue;
    if (++scanned > max_docker_containers) break;
    auto config = read_docker_container(dir + "/" + e->d_name);
    if (!config) {
      if (config.error().code == EACCES || config.error().code == EPERM) return config.error();
      continue;
    }
    if (config->net.running && has_address(config->net, addr)) {
      config->container.sources.insert(config->container.sources.begin(), "docker-proxy cmdline");
      adopt_docker(*std::move(config), out);
      return true;
    }
  }
  return false;
}

void find_forwarded_container(const std::vector<Link>& chain, const IdentifyOptions& opt, Identity& out) {
  for (const std::string& root : docker_roots(0, "", chain, opt, out)) {
    const auto found = find_in_root(root, out.forwarder->container_ip, opt, out);
    if (found && *found) return;
    if (!found && found.error().code != ENOENT) {
      out.notes.push_back(describe_failure(root + "/containers", found.error(), "the container behind docker-proxy is"));
      return;
    }
  }
}

void read_podman_names(const Link* conmon, const IdentifyOptions& opt, Identity& out) {
  std::string dir = default_podman_containers;
  if (conmon != nullptr) {
    if (auto from_cmdline = parse_conmon_containers_dir(conmon->cmdline)) dir = std::move(*from_cmdline);
  }
  const std::string path = dir + "/containers.json";
  const auto text = read_file(opt.host_root + path, state_limit);
  if (!text) {
    out.notes.push_back(describe_failure(path, text.error(), "the container's name and image are"));
    return;
  }
  const auto entries = parse_podman_containers(*text);
  if (!entries) {
    out.notes.push_back(path + ": not podman's containers.json");
    return;
  }
  for (const PodmanContainer& p : *entries) {
    if (p.id != out.container->id) continue;
    ContainerId found;
    found.engine = Engine::podman;
    found.name = p.names.empty() ? std::string{} : p.names.front();
    found.image = p.image;
    found.sources.emplace_back("containers.json");
    merge(out.container, found);
    return;
  }
}

}  // namespace

Identity identify(pid_t pid, const IdentifyOptions& opt) {
  Identity out;
  read_cgroup(pid, opt, out);
  const std::vector<Link> chain = ancestry(pid, opt);
  if (!chain.empty()) out.forwarder = parse_docker_proxy_cmdline(chain.front().cmdline);
  const Link* parent = engine_parent(chain);
  if (parent != nullptr) merge(out.container, *parse_parent_cmdline(parent->cmdline));
  out.monitor = parent != nullptr && parent == &chain.front();
  if (parent != nullptr) out.engine_pid = parent->pid;

  if (out.forwarder) out.engine_pid = pid;  // docker-proxy runs beside its dockerd
  if (!out.container) {
    if (out.forwarder) find_forwarded_container(chain, opt, out);
    return out;
  }
  if (out.container->id.empty()) return out;
  if (out.container->engine == Engine::docker) read_docker_state(pid, chain, opt, out);
  if (out.container->engine == Engine::podman) read_podman_names(parent, opt, out);
  return out;
}

namespace {

bool worth_identifying(const Process& p, const IdentifyOptions& opt) {
  if (p.comm == "docker-proxy" || p.comm == "conmon") return true;
  const auto text = read_proc(opt, p.pid, "cgroup", proc_limit);
  return text && parse_cgroup(*text).has_value();
}

ProcessContainer tag_of(const Identity& id) {
  ProcessContainer t;
  t.engine = std::string(to_string(id.container->engine));
  t.id = id.container->id;
  t.name = id.container->name;
  t.holder = id.monitor || id.forwarder.has_value();
  return t;
}

// The running container in docker's records whose published port is this
// socket's (the address it is bound to, or every address).
std::optional<ProcessContainer> published_by(const std::vector<DockerContainer>& all, const Listener& l, pid_t dockerd,
                                             ContainerTags& tags) {
  const std::string proto(to_string(l.socket.protocol));
  for (const DockerContainer& d : all) {
    if (!d.config.net.running || (d.dockerd != 0 && d.dockerd != dockerd)) continue;
    for (const PortBinding& b : d.config.net.published) {
      if (b.host_port != l.socket.port || b.proto != proto) continue;
      if (b.host_ip && !b.host_ip->is_unspecified() && b.host_ip->unmapped() != l.socket.local.unmapped()) continue;
      Identity id;
      id.container = d.config.container;
      id.networking = d.config.net;
      id.forwarder.reset();
      id.monitor = true;
      id.engine_pid = dockerd;
      ProcessContainer tag = tag_of(id);
      const bool seen = std::any_of(tags.seen.begin(), tags.seen.end(), [&](const Identity& s) {
        return s.container->id == id.container->id;
      });
      if (!seen) tags.seen.push_back(std::move(id));
      return tag;
    }
  }
  return std::nullopt;
}

}  // namespace

std::vector<pid_t> process_ids(const std::string& proc_root, std::size_t limit) {
  std::vector<pid_t> out;
  const UniqueDir d(::opendir(proc_root.c_str()));
  while (d && out.size() < limit) {
    const dirent* e = ::readdir(d.get());
    if (e == nullptr) break;
    const std::string_view name = e->d_name;
    if (name.empty() || name.size() > 9 || name.find_first_not_of("0123456789") != std::string_view::npos) continue;
    pid_t pid = 0;
    for (const char ch : name) pid = pid * 10 + (ch - '0');
    if (pid > 0) out.push_back(pid);
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

std::optional<std::uint64_t> netns_of(const IdentifyOptions& opt, pid_t pid) {
  char target[64] = {};
  const std::string path = fmt::format("{}/{}/ns/net", opt.proc_root, pid);
  const ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
  if (n <= 0) return std::nullopt;
  return parse_netns_link(std::string_view(target, static_cast<std::size_t>(n)));
}

// The container behind rootlessport: rootlessport holds the port here,
// while one of its threads (not always the main one: Go moves them) sits in
// the container's namespace. A process inside a container there (not a
// conmon) tells which container.
std::optional<ProcessContainer> rootless_holder(pid_t pid, const IdentifyOptions& opt, ContainerTags& tags) {
  const auto own = netns_of(opt, ::getpid());
  std::vector<std::uint64_t> inside;
  for (const pid_t tid : process_ids(fmt::format("{}/{}/task", opt.proc_root, pid), 4096)) {
    char target[64] = {};
    const std::string path = fmt::format("{}/{}/task/{}/ns/net", opt.proc_root, pid, tid);
    const ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    const auto inode = parse_netns_link(std::string_view(target, static_cast<std::size_t>(n)));
    if (inode && inode != own && std::find(inside.begin(), inside.end(), *inode) == inside.end()) {
      inside.push_back(*inode);
    }
  }
  if (inside.empty()) return std::nullopt;
  for (const pid_t q : process_ids(opt.proc_root)) {
    if (q == pid) continue;
    const auto inode = netns_of(opt, q);
    if (!inode || std::find(inside.begin(), inside.end(), *inode) == inside.end()) continue;
    const auto comm = read_proc(opt, q, "comm", 64);
    if (!comm || comm->starts_with("rootlessport")) continue;
    Identity id = identify(q, opt);
    if (!id.container || id.container->engine != Engine::podman || id.monitor) continue;
    for (std::string& n : id.notes) add_unique(tags.notes, std::move(n));
    id.notes.clear();
    id.monitor = true;
    id.netns_inode = inode;
    id.container->sources.emplace_back("rootlessport's network namespace");
    ProcessContainer tag = tag_of(id);
    tag.holder = true;
    const bool seen = std::any_of(tags.seen.begin(), tags.seen.end(), [&](const Identity& s) {
      return s.container->id == id.container->id;
    });
    if (!seen) tags.seen.push_back(std::move(id));
    return tag;
  }
  return std::nullopt;
}

}  // namespace

void tag_containers(std::vector<Listener>& listeners, ContainerTags& tags, const IdentifyOptions& opt) {
  std::map<pid_t, std::optional<ProcessContainer>> by_pid;
  std::optional<std::vector<DockerContainer>> docker;  // read once, when dockerd itself holds a port
  for (Listener& l : listeners) {
    for (Process& p : l.processes) {
      if (p.comm == "rootlessport") {
        // rootless podman: it holds the port in the namespace podman runs
        // in, while its main thread sits in the container's.
        auto known = by_pid.find(p.pid);
        if (known == by_pid.end()) known = by_pid.emplace(p.pid, rootless_holder(p.pid, opt, tags)).first;
        p.container = known->second;
        continue;
      }
      if (p.comm == "dockerd") {
        // --userland-proxy=false: dockerd holds the published port itself.
        if (!docker) docker = read_docker_containers(tags.notes, opt);
        p.container = published_by(*docker, l, p.pid, tags);
        continue;
      }
      auto known = by_pid.find(p.pid);
      if (known == by_pid.end()) {
        std::optional<ProcessContainer> tag;
        if (worth_identifying(p, opt)) {
          Identity id = identify(p.pid, opt);
          for (std::string& n : id.notes) add_unique(tags.notes, std::move(n));
          id.notes.clear();
          if (id.container) {
            tag = tag_of(id);
            const bool seen = std::any_of(tags.seen.begin(), tags.seen.end(), [&](const Identity& s) {
              return s.container->id == id.container->id && s.container->engine == id.container->engine;
            });
            if (!seen) tags.seen.push_back(std::move(id));
          }
        }
        known = by_pid.emplace(p.pid, std::move(tag)).first;
      }
      p.container = known->second;
    }
  }
}

std::vector<DockerRoot> docker_data_roots(const IdentifyOptions& opt) {
  std::vector<DockerRoot> roots;
  const auto add = [&](std::string path, pid_t pid) {
    const bool known = std::any_of(roots.begin(), roots.end(), [&](const DockerRoot& r) { return r.path == path; });
    if (!known) roots.push_back({std::move(path), pid});
  };
  for (const pid_t pid : process_ids(opt.proc_root)) {
    const auto comm = read_proc(opt, pid, "comm", 64);
    if (!comm || (*comm != "dockerd\n" && *comm != "dockerd")) continue;
    const auto cmdline = read_proc(opt, pid, "cmdline", proc_limit);
    if (!cmdline) continue;
    add(parse_dockerd_data_root(*cmdline).value_or(default_docker_root), pid);
  }
  add(default_docker_root, 0);
  return roots;
}

std::vector<DockerContainer> read_docker_containers(std::vector<std::string>& notes, const IdentifyOptions& opt) {
  std::vector<DockerContainer> out;
  for (const DockerRoot& root : docker_data_roots(opt)) {
    const std::string dir = opt.host_root + root.path + "/containers";
    const UniqueDir d(::opendir(dir.c_str()));
    if (!d) {
      const int err = errno;
      if (err != ENOENT) {
        notes.push_back(describe_failure(root.path + "/containers", system_error("open", err),
                                         "docker containers that are not running are"));
      }
      continue;
    }
    std::size_t scanned = 0;
    while (const dirent* e = ::readdir(d.get())) {
      if (e->d_name[0] == '.') continue;
      if (++scanned > max_docker_containers) break;
      auto config = read_docker_container(dir + "/" + e->d_name);
      if (!config) continue;
      out.push_back({*std::move(config), root.dockerd});
    }
  }
  return out;
}

}  // namespace netwhy
