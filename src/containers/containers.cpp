// Pure parsers for what tells a container apart: cgroup paths, the cmdlines
// of shims, conmon, docker-proxy and dockerd, mountinfo, and the engines'
// JSON state files. Bounded input; nullopt on anything unexpected.
#include "netwhy/containers.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include <nlohmann/json.hpp>

#include "netwhy/text.hpp"

namespace netwhy {

namespace {

using json = nlohmann::json;

constexpr std::size_t max_text = 1U << 20;     // cgroup, mountinfo
constexpr std::size_t max_json = 16U << 20;    // state files
constexpr std::size_t max_lines = 4096;
constexpr std::size_t max_args = 1024;
constexpr std::size_t max_components = 64;
constexpr std::size_t max_nesting = 64;
constexpr std::size_t hex_id_length = 64;
constexpr std::size_t max_identifier = 76;  // containerd's limit for namespaces and ids

// ---- small text helpers ----

bool is_hex_id(std::string_view s) {
  return s.size() == hex_id_length &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// containerd's identifier rule: alphanumerics separated by single '.', '_' or '-'.
bool is_identifier(std::string_view s) {
  if (s.empty() || s.size() > max_identifier || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (!is_alnum(s[i]) && !is_alnum(s[i - 1])) return false;
    if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-') return false;
  }
  return true;
}

template <class T>
std::optional<T> parse_unsigned(std::string_view text) {
  T n{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  const auto n = parse_unsigned<std::uint16_t>(text);
  if (!n || *n == 0) return std::nullopt;
  return n;
}

std::vector<std::string_view> split_on(std::string_view text, char sep, std::size_t max) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < text.size() && out.size() < max) {
    std::size_t end = text.find(sep, pos);
    if (end == std::string_view::npos) end = text.size();
    if (end > pos) out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::string_view basename(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// ---- command lines ----

// /proc/PID/cmdline: arguments separated (and ended) by NUL; empty ones kept.
std::vector<std::string_view> split_args(std::string_view raw) {
  std::vector<std::string_view> out;
  if (raw.size() > max_text) return out;
  while (!raw.empty() && out.size() < max_args) {
    const std::size_t nul = std::min(raw.find('\0'), raw.size());
    out.push_back(raw.substr(0, nul));
    raw.remove_prefix(std::min(nul + 1, raw.size()));
  }
  return out;
}

// "NAME VALUE" or "NAME=VALUE", for any of the spellings in names.
std::optional<std::string_view> flag_value(const std::vector<std::string_view>& args,
                                           std::initializer_list<std::string_view> names) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    for (const std::string_view name : names) {
      if (args[i] == name && i + 1 < args.size()) return args[i + 1];
      if (args[i].starts_with(name) && args[i].size() > name.size() && args[i][name.size()] == '=') {
        return args[i].substr(name.size() + 1);
      }
    }
  }
  return std::nullopt;
}

std::string_view program(const std::vector<std::string_view>& args) {
  return args.empty() ? std::string_view{} : basename(args.front());
}

Engine engine_of_namespace(std::string_view ns) {
  if (ns == "moby") return Engine::docker;
  if (ns == "k8s.io") return Engine::kubernetes;
  return Engine::containerd;
}

std::optional<ContainerId> from_shim(const std::vector<std::string_view>& args) {
  const auto ns = flag_value(args, {"-namespace", "--namespace"});
  auto id = flag_value(args, {"-id", "--id"});
  if (!id) {  // the v1 shim: -workdir .../io.containerd.runtime.v1.linux/NS/ID
    if (const auto workdir = flag_value(args, {"-workdir", "--workdir"})) id = basename(*workdir);
  }
  if (!ns || !id || !is_identifier(*ns) || !is_identifier(*id)) return std::nullopt;
  ContainerId c;
  c.engine = engine_of_namespace(*ns);
  c.containerd_namespace = std::string(*ns);
  if (c.engine != Engine::kubernetes) c.id = std::string(*id);  // under CRI the shim is the pod sandbox's
  c.sources.emplace_back("containerd-shim cmdline");
  return c;
}

std::optional<ContainerId> from_conmon(const std::vector<std::string_view>& args) {
  const auto id = flag_value(args, {"-c", "--cid"});
  if (!id || !is_hex_id(*id)) return std::nullopt;
  ContainerId c;
  c.engine = Engine::podman;
  c.id = std::string(*id);
  if (const auto name = flag_value(args, {"-n", "--name"})) c.name = std::string(*name);
  c.sources.emplace_back("conmon cmdline");
  return c;
}

// ---- cgroup paths ----

struct CgroupLine {
  std::string_view hierarchy;  // "0" for v2
  std::string_view path;
};

std::optional<CgroupLine> parse_cgroup_line(std::string_view line) {
  const std::size_t first = line.find(':');
  if (first == std::string_view::npos) return std::nullopt;
  const std::size_t second = line.find(':', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  const std::string_view path = line.substr(second + 1);  // may itself hold ':'
  if (path.empty() || path.front() != '/') return std::nullopt;
  return CgroupLine{line.substr(0, first), path};
}

// The path most lines carry; on a tie the v2 ("0::") line's.
std::optional<std::string_view> dominant_path(std::string_view text) {
  std::map<std::string_view, std::size_t> counts;
  std::optional<std::string_view> unified;
  const auto lines = split_lines(text);
  for (std::size_t i = 0; i < lines.size() && i < max_lines; ++i) {
    const auto line = parse_cgroup_line(lines[i]);
    if (!line) continue;
    ++counts[line->path];
    if (line->hierarchy == "0") unified = line->path;
  }
  std::optional<std::string_view> best = unified;
  std::size_t best_count = unified ? counts[*unified] : 0;
  for (const auto& [path, count] : counts) {
    if (count > best_count) {
      best = path;
      best_count = count;
    }
  }
  return best;
}

// "PREFIX<64 hex>[.scope]" -> the id.
std::optional<std::string_view> scoped_id(std::string_view component, std::string_view prefix) {
  if (!component.starts_with(prefix)) return std::nullopt;
  std::string_view id = component.substr(prefix.size());
  if (id.ends_with(".scope")) id.remove_suffix(6);
  if (!is_hex_id(id)) return std::nullopt;
  return id;
}

ContainerId make_id(Engine engine, std::string_view id, const char* source) {
  ContainerId c;
  c.engine = engine;
  c.id = std::string(id);
  c.sources.emplace_back(source);
  return c;
}

// One component on its own: a systemd scope or podman's cgroupfs name.
std::optional<ContainerId> from_scope(std::string_view component) {
  struct Scope {
    std::string_view prefix;
    Engine engine;
    const char* source;
  };
  // Longer prefixes first: "libpod-conmon-" is also "libpod-..." in spelling.
  static constexpr Scope scopes[] = {
      {"libpod-conmon-", Engine::podman, "cgroup (conmon)"},
      {"libpod-", Engine::podman, "cgroup"},
      {"docker-", Engine::docker, "cgroup"},
      {"cri-containerd-", Engine::kubernetes, "cgroup"},
      {"crio-conmon-", Engine::kubernetes, "cgroup (conmon)"},
      {"crio-", Engine::kubernetes, "cgroup"},
      {"cri-o-", Engine::kubernetes, "cgroup"},
  };
  for (const Scope& s : scopes) {
    if (const auto id = scoped_id(component, s.prefix)) return make_id(s.engine, *id, s.source);
  }
  return std::nullopt;
}

// "pod<uid>" (cgroupfs) or "kubepods-burstable-pod<uid with '_'>.slice" (systemd).
std::optional<std::string> pod_uid_of(std::string_view component) {
  const std::size_t at = component.rfind("pod");
  if (at == std::string_view::npos || (at != 0 && component[at - 1] != '-')) return std::nullopt;
  std::string_view uid = component.substr(at + 3);
  if (uid.ends_with(".slice")) uid.remove_suffix(6);
  const bool ok = !uid.empty() && uid.size() <= 64 && std::all_of(uid.begin(), uid.end(), [](char c) {
    return is_alnum(c) || c == '-' || c == '_';
  });
  if (!ok) return std::nullopt;
  std::string out(uid);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

std::optional<ContainerId> from_kubepods(const std::vector<std::string_view>& parts) {
  ContainerId c;
  c.engine = Engine::kubernetes;
  c.sources.emplace_back("cgroup");
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (auto uid = pod_uid_of(parts[i])) c.pod_uid = std::move(*uid);
    if (auto scoped = from_scope(parts[i])) {
      c.id = std::move(scoped->id);
      c.sources = std::move(scoped->sources);
    } else if (is_hex_id(parts[i]) && !c.pod_uid.empty()) {
      c.id = std::string(parts[i]);
    }
  }
  if (c.pod_uid.empty() && c.id.empty()) return std::nullopt;
  return c;
}

bool is_systemd_unit(std::string_view s) {
  return s.ends_with(".slice") || s.ends_with(".scope") || s.ends_with(".service") || s.ends_with(".mount");
}

// Plain containerd: "/NS/ID", nothing else in the path.
std::optional<ContainerId> from_containerd_path(const std::vector<std::string_view>& parts) {
  static constexpr std::string_view not_namespaces[] = {"docker", "libpod_parent", "lxc", "lxc.payload", "machine"};
  if (parts.size() != 2 || !is_identifier(parts[0]) || !is_identifier(parts[1])) return std::nullopt;
  if (is_systemd_unit(parts[0]) || is_systemd_unit(parts[1])) return std::nullopt;
  if (std::find(std::begin(not_namespaces), std::end(not_namespaces), parts[0]) != std::end(not_namespaces)) {
    return std::nullopt;
  }
  ContainerId c = make_id(Engine::containerd, parts[1], "cgroup");
  c.containerd_namespace = std::string(parts[0]);
  return c;
}

std::optional<ContainerId> classify_cgroup_path(std::string_view path) {
  const auto parts = split_on(path, '/', max_components);
  if (std::any_of(parts.begin(), parts.end(), [](std::string_view p) { return p.starts_with("kubepods"); })) {
    return from_kubepods(parts);
  }
  for (std::size_t i = parts.size(); i-- > 0;) {  // the innermost container wins
    if (auto c = from_scope(parts[i])) return c;
    if (i > 0 && parts[i - 1] == "docker" && is_hex_id(parts[i])) return make_id(Engine::docker, parts[i], "cgroup");
  }
  return from_containerd_path(parts);
}

// ---- mountinfo ----

bool is_octal(char c) { return c >= '0' && c <= '7'; }

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && is_octal(s[i + 1]) && is_octal(s[i + 2]) && is_octal(s[i + 3])) {
      out += static_cast<char>(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// ---- JSON ----

// nlohmann builds the tree without recursion, but a shallow document is all
// an engine writes: refuse deep ones before parsing.
bool shallow(std::string_view text) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_nesting) return false;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return true;
}

std::optional<json> parse_json(std::string_view text) {
  if (text.size() > max_json || !shallow(text)) return std::nullopt;
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return std::nullopt;
  return doc;
}

const json* member(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

std::string string_member(const json& obj, const char* key) {
  const json* v = member(obj, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string{};
}

// "80/tcp" -> (80, "tcp"); a bare "80" is TCP.
std::optional<std::pair<std::uint16_t, std::string>> parse_port_key(std::string_view key) {
  const std::size_t slash = key.find('/');
  const auto port = parse_port(key.substr(0, slash));
  if (!port) return std::nullopt;
  const std::string proto = slash == std::string_view::npos ? "tcp" : std::string(key.substr(slash + 1));
  if (proto.empty()) return std::nullopt;
  return std::pair{*port, proto};
}

// {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "81/tcp": null}
std::vector<PortBinding> parse_port_map(const json* ports) {
  std::vector<PortBinding> out;
  if (ports == nullptr || !ports->is_object()) return out;
  for (const auto& [key, bindings] : ports->items()) {
    const auto port = parse_port_key(key);
    if (!port || !bindings.is_array()) continue;
    for (const json& b : bindings) {
      PortBinding pb{port->second, port->first, std::nullopt, 0};
      const std::string host_ip = string_member(b, "HostIp");
      const std::string host_port = string_member(b, "HostPort");
      if (!host_ip.empty()) {
        pb.host_ip = IpAddr::parse(host_ip);
        if (!pb.host_ip) continue;
      }
      if (!host_port.empty()) {
        const auto hp = parse_port(host_port);
        if (!hp) continue;
        pb.host_port = *hp;
      }
      out.push_back(std::move(pb));
    }
  }
  return out;
}

std::vector<ContainerAddress> parse_networks(const json* networks) {
  std::vector<ContainerAddress> out;
  if (networks == nullptr || !networks->is_object()) return out;
  for (const auto& [name, net] : networks->items()) {
    for (const char* key : {"IPAddress", "GlobalIPv6Address"}) {
      if (const auto addr = IpAddr::parse(string_member(net, key))) out.push_back({name, *addr});
    }
  }
  return out;
}

void parse_docker_state(const json* state, ContainerNetworking& net) {
  if (state == nullptr) return;
  const json* running = member(*state, "Running");
  net.running = running != nullptr && running->is_boolean() && running->get<bool>();
  const json* pid = member(*state, "Pid");
  if (net.running && pid != nullptr && pid->is_number_integer()) {
    const auto n = pid->get<std::int64_t>();
    if (n > 0 && n <= 0x3fffffff) net.pid = static_cast<pid_t>(n);
  }
}

void parse_docker_labels(const json* config, ContainerId& c) {
  if (config == nullptr) return;
  c.image = string_member(*config, "Image");
  if (const json* labels = member(*config, "Labels")) {
    c.compose_project = string_member(*labels, "com.docker.compose.project");
    c.compose_service = string_member(*labels, "com.docker.compose.service");
  }
}

std::optional<PodmanContainer> parse_podman_entry(const json& entry) {
  PodmanContainer p;
  p.id = string_member(entry, "id");
  if (!is_hex_id(p.id)) return std::nullopt;
  if (const json* names = member(entry, "names"); names != nullptr && names->is_array()) {
    for (const json& n : *names) {
      if (n.is_string()) p.names.push_back(n.get<std::string>());
    }
  }
  // "metadata" is JSON inside a string: {"image-name":"localhost/nwtest:1",...}
  if (const auto meta = parse_json(string_member(entry, "metadata"))) p.image = string_member(*meta, "image-name");
  return p;
}

}  // namespace

std::string_view to_string(Engine e) {
  switch (e) {
    case Engine::unknown: return "unknown";
    case Engine::docker: return "docker";
    case Engine::podman: return "podman";
    case Engine::containerd: return "containerd";
    case Engine::kubernetes: return "kubernetes";
  }
  return "unknown";
}

std::optional<ContainerId> parse_cgroup(std::string_view text) {
  if (text.size() > max_text) return std::nullopt;
  const auto path = dominant_path(text);
  if (!path) return std::nullopt;
  return classify_cgroup_path(*path);
}

std::optional<ContainerId> parse_parent_cmdline(std::string_view raw) {
  const auto args = split_args(raw);
  const std::string_view prog = program(args);
  if (prog.starts_with("containerd-shim")) return from_shim(args);
  if (prog == "conmon") return from_conmon(args);
  return std::nullopt;
}

std::optional<std::string> parse_conmon_containers_dir(std::string_view raw) {
  const auto args = split_args(raw);
  if (program(args) != "conmon") return std::nullopt;
  const auto bundle = flag_value(args, {"-b", "--bundle"});
  const auto id = flag_value(args, {"-c", "--cid"});
  if (!bundle || !id || !is_hex_id(*id)) return std::nullopt;
  // ROOT/overlay-containers/ID/userdata (the directory is named after the storage driver)
  const std::string tail = "/" + std::string(*id) + "/userdata";
  if (!bundle->ends_with(tail)) return std::nullopt;
  const std::string_view dir = bundle->substr(0, bundle->size() - tail.size());
  if (!basename(dir).ends_with("-containers")) return std::nullopt;
  return std::string(dir);
}

std::optional<Forwarder> parse_docker_proxy_cmdline(std::string_view raw) {
  const auto args = split_args(raw);
  if (program(args) != "docker-proxy") return std::nullopt;
  const auto proto = flag_value(args, {"-proto", "--proto"}).value_or("tcp");
  const auto host_ip = IpAddr::parse(flag_value(args, {"-host-ip", "--host-ip"}).value_or(""));
  const auto host_port = parse_port(flag_value(args, {"-host-port", "--host-port"}).value_or(""));
  const auto container_ip = IpAddr::parse(flag_value(args, {"-container-ip", "--container-ip"}).value_or(""));
  const auto container_port = parse_port(flag_value(args, {"-container-port", "--container-port"}).value_or(""));
  if (proto.empty() || !host_ip || !host_port || !container_ip || !container_port) return std::nullopt;
  return Forwarder{Engine::docker, std::string(proto), *host_ip, *host_port, *container_ip, *container_port};
}

std::optional<std::string> parse_dockerd_data_root(std::string_view raw) {
  const auto args = split_args(raw);
  if (program(args) != "dockerd") return std::nullopt;
  const auto root = flag_value(args, {"--data-root", "-g", "--graph"});
  if (!root || root->empty()) return std::nullopt;
  return std::string(*root);
}

std::optional<std::string> parse_docker_data_root(std::string_view mountinfo, std::string_view id) {
  if (mountinfo.size() > max_text || !is_hex_id(id)) return std::nullopt;
  const auto lines = split_lines(mountinfo);
  for (std::size_t i = 0; i < lines.size() && i < max_lines; ++i) {
    // "ID PARENT MAJ:MIN ROOT MOUNTPOINT ..."
    const auto fields = split_fields(lines[i]);
    if (fields.size() < 5) continue;
    const std::string root = unescape_octal(fields[3]);
    const std::string_view target = fields[4];
    if (target != "/etc/hosts" && target != "/etc/hostname" && target != "/etc/resolv.conf") continue;
    const std::string tail = "/containers/" + std::string(id) + "/" + std::string(basename(target));
    if (root.ends_with(tail) && root.size() > tail.size()) return root.substr(0, root.size() - tail.size());
  }
  return std::nullopt;
}

std::optional<DockerConfig> parse_docker_config(std::string_view json_text) {
  const auto doc = parse_json(json_text);
  if (!doc || !doc->is_object()) return std::nullopt;
  DockerConfig out;
  ContainerId& c = out.container;
  c.engine = Engine::docker;
  c.id = string_member(*doc, "ID");
  if (!is_hex_id(c.id)) return std::nullopt;
  c.name = string_member(*doc, "Name");
  if (c.name.starts_with("/")) c.name.erase(0, 1);
  parse_docker_labels(member(*doc, "Config"), c);
  c.sources.emplace_back("config.v2.json");
  parse_docker_state(member(*doc, "State"), out.net);
  if (const json* settings = member(*doc, "NetworkSettings")) {
    out.net.published = parse_port_map(member(*settings, "Ports"));
    out.net.addresses = parse_networks(member(*settings, "Networks"));
  }
  return out;
}

std::optional<DockerHostConfig> parse_docker_hostconfig(std::string_view json_text) {
  const auto doc = parse_json(json_text);
  if (!doc || !doc->is_object()) return std::nullopt;
  DockerHostConfig out;
  out.network_mode = string_member(*doc, "NetworkMode");
  out.port_bindings = parse_port_map(member(*doc, "PortBindings"));
  return out;
}

std::optional<std::vector<PodmanContainer>> parse_podman_containers(std::string_view json_text) {
  const auto doc = parse_json(json_text);
  if (!doc || !doc->is_array()) return std::nullopt;
  std::vector<PodmanContainer> out;
  for (const json& entry : *doc) {
    if (auto p = parse_podman_entry(entry)) out.push_back(std::move(*p));
  }
  return out;
}

}  // namespace netwhy
