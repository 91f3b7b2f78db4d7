// Snapshot files: written by `netwhy snapshot -j`, read by `netwhy port
// --snapshot FILE`. A file may come from anywhere: every field is checked and
// an error names the field.
#include <nlohmann/json.hpp>

#include <charconv>

#include <fmt/format.h>

#include "netwhy/iptables.hpp"
#include "netwhy/snapshot.hpp"
#include "netwhy/text.hpp"
#include "../common/json_error.hpp"

namespace netwhy {

namespace {

using json = nlohmann::ordered_json;
constexpr int format_version = 1;

std::string_view probe_name(ProbeResult r) {
  switch (r) {
    case ProbeResult::ok: return "ok";
    case ProbeResult::refused: return "refused";
    case ProbeResult::timeout: return "timeout";
    case ProbeResult::unreachable: return "unreachable";
    case ProbeResult::error: return "error";
  }
  return "error";
}

json opt_ip(const std::optional<IpAddr>& a) { return a ? json(a->to_string()) : json(nullptr); }
template <class T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json binding_json(const PortBinding& b) {
  return {{"proto", b.proto}, {"container_port", b.container_port}, {"host_ip", opt_ip(b.host_ip)},
          {"host_port", b.host_port}};
}

json container_json(const ContainerState& c) {
  json sources = json::array();
  for (const std::string& v : c.id.sources) sources.push_back(v);
  json published = json::array();
  for (const PortBinding& b : c.networking.published) published.push_back(binding_json(b));
  json requested = json::array();
  for (const PortBinding& b : c.networking.requested) requested.push_back(binding_json(b));
  json addresses = json::array();
  for (const ContainerAddress& a : c.networking.addresses) {
    addresses.push_back({{"network", a.network}, {"address", a.addr.to_string()}});
  }
  return {{"engine", to_string(c.id.engine)},
          {"id", c.id.id},
          {"name", c.id.name},
          {"compose_project", c.id.compose_project},
          {"compose_service", c.id.compose_service},
          {"image", c.id.image},
          {"pod_uid", c.id.pod_uid},
          {"containerd_namespace", c.id.containerd_namespace},
          {"sources", sources},
          {"netns", c.netns},
          {"engine_here", c.engine_here},
          {"pid", opt(c.networking.pid)},
          {"running", c.networking.running},
          {"network_mode", c.networking.network_mode},
          {"published", published},
          {"requested", requested},
          {"addresses", addresses}};
}

json listener_json(const Listener& l) {
  const Socket& s = l.socket;
  json procs = json::array();
  for (const Process& p : l.processes) {
    json container = nullptr;
    if (p.container) {
      container = {{"engine", p.container->engine},
                   {"id", p.container->id},
                   {"name", p.container->name},
                   {"holder", p.container->holder}};
    }
    procs.push_back({{"pid", p.pid}, {"comm", p.comm}, {"cmdline", p.cmdline}, {"user", p.user}, {"ppid", p.ppid},
                     {"uid", p.uid}, {"framework", p.framework}, {"container", container}});
  }
  return {{"protocol", to_string(s.protocol)},
          {"family", to_string(s.family)},
          {"local_address", s.local.to_string()},
          {"port", s.port},
          {"interface", opt(l.interface)},
          {"bound_ifindex", s.bound_ifindex},
          {"v6only", opt(s.v6only)},
          {"backlog", opt(s.backlog)},
          {"queued", opt(s.queued)},
          {"inode", s.inode},
          {"uid", s.uid},
          {"state", s.state},
          {"processes", procs}};
}

json route_json(const Route& r) {
  return {{"family", to_string(r.family)}, {"type", r.type},       {"dst", opt_ip(r.dst)},
          {"dst_len", r.dst_len},          {"gateway", opt_ip(r.gateway)}, {"oif", opt(r.oif)},
          {"prefsrc", opt_ip(r.prefsrc)},  {"table", r.table},     {"metric", opt(r.priority)},
          {"protocol", r.protocol},        {"scope", r.scope}};
}

// ---- reading, with the path of every value for the error message ----

struct Bad {
  std::string what;
};

class In {
 public:
  In(const json& v, std::string path) : v_(v), path_(std::move(path)) {}

  In at(std::string_view key) const {
    if (!v_.is_object()) throw Bad{path_ + ": expected an object"};
    const auto it = v_.find(std::string(key));
    static const json null_value;
    return In(it == v_.end() ? null_value : *it, path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key));
  }
  bool present() const { return !v_.is_null(); }

  template <class F>
  void each(F&& f) const {
    if (v_.is_null()) return;
    if (!v_.is_array()) throw Bad{path_ + ": expected an array"};
    for (std::size_t i = 0; i < v_.size(); ++i) f(In(v_[i], fmt::format("{}[{}]", path_, i)));
  }

  std::int64_t integer(std::int64_t lo, std::int64_t hi) const {
    if (!v_.is_number_integer()) throw Bad{path_ + ": expected an integer"};
    const std::int64_t n = v_.is_number_unsigned() && v_.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)
                               ? INT64_MAX
                               : v_.get<std::int64_t>();
    if (n < lo || n > hi) throw Bad{fmt::format("{}: {} is out of range ({} to {})", path_, n, lo, hi)};
    return n;
  }
  std::uint64_t unsigned_integer() const {
    if (!v_.is_number_unsigned() && !(v_.is_number_integer() && v_.get<std::int64_t>() >= 0)) {
      throw Bad{path_ + ": expected a non-negative integer"};
    }
    return v_.get<std::uint64_t>();
  }
  template <class T>
  std::optional<T> opt_integer(std::int64_t lo, std::int64_t hi) const {
    if (v_.is_null()) return std::nullopt;
    return static_cast<T>(integer(lo, hi));
  }
  double number() const {
    if (!v_.is_number()) throw Bad{path_ + ": expected a number"};
    return v_.get<double>();
  }
  bool boolean() const {
    if (!v_.is_boolean()) throw Bad{path_ + ": expected true or false"};
    return v_.get<bool>();
  }
  std::optional<bool> opt_boolean() const { return v_.is_null() ? std::nullopt : std::optional<bool>(boolean()); }
  std::string string() const {
    if (!v_.is_string()) throw Bad{path_ + ": expected a string"};
    return v_.get<std::string>();
  }
  std::optional<std::string> opt_string() const {
    return v_.is_null() ? std::nullopt : std::optional<std::string>(string());
  }
  IpAddr ip() const {
    auto a = IpAddr::parse(string());
    if (!a) throw Bad{path_ + ": expected an IP address"};
    return *a;
  }
  std::optional<IpAddr> opt_ip() const { return v_.is_null() ? std::nullopt : std::optional<IpAddr>(ip()); }
  Family family() const {
    const std::string f = string();
    if (f == "inet") return Family::inet;
    if (f == "inet6") return Family::inet6;
    throw Bad{path_ + ": expected \"inet\" or \"inet6\""};
  }
  Protocol protocol() const {
    const std::string p = string();
    if (p == "tcp") return Protocol::tcp;
    if (p == "udp") return Protocol::udp;
    throw Bad{path_ + ": expected \"tcp\" or \"udp\""};
  }
  const std::string& path() const { return path_; }

 private:
  const json& v_;
  std::string path_;
};

constexpr std::int64_t max_u32 = 0xFFFFFFFFLL;
constexpr std::int64_t max_pid = 0x3FFFFFFFLL;

Listener listener_from(const In& o) {
  Listener l;
  Socket& s = l.socket;
  s.protocol = o.at("protocol").protocol();
  s.family = o.at("family").family();
  s.local = o.at("local_address").ip();
  if (s.local.family != s.family) throw Bad{o.path() + ".local_address: not of the listener's family"};
  s.port = static_cast<std::uint16_t>(o.at("port").integer(0, 65535));
  l.interface = o.at("interface").opt_string();
  s.bound_ifindex = o.at("bound_ifindex").present() ? static_cast<int>(o.at("bound_ifindex").integer(0, INT32_MAX)) : 0;
  s.v6only = o.at("v6only").opt_boolean();
  s.backlog = o.at("backlog").opt_integer<std::uint32_t>(0, max_u32);
  s.queued = o.at("queued").opt_integer<std::uint32_t>(0, max_u32);
  s.inode = o.at("inode").unsigned_integer();
  s.uid = static_cast<std::uint32_t>(o.at("uid").integer(0, max_u32));
  s.state = o.at("state").present() ? static_cast<std::uint8_t>(o.at("state").integer(0, 255))
                                    : (s.protocol == Protocol::tcp ? tcp_listen : tcp_close);
  o.at("processes").each([&](const In& p) {
    Process proc;
    proc.pid = static_cast<pid_t>(p.at("pid").integer(1, max_pid));
    proc.comm = p.at("comm").string();
    proc.cmdline = p.at("cmdline").string();
    proc.user = p.at("user").string();
    proc.ppid = p.at("ppid").present() ? static_cast<pid_t>(p.at("ppid").integer(0, max_pid)) : 0;
    proc.uid = p.at("uid").present() ? static_cast<std::uint32_t>(p.at("uid").integer(0, max_u32)) : 0;
    proc.framework = p.at("framework").opt_string().value_or("");
    if (const In c = p.at("container"); c.present()) {
      ProcessContainer pc;
      pc.engine = c.at("engine").string();
      pc.id = c.at("id").string();
      pc.name = c.at("name").string();
      pc.holder = c.at("holder").boolean();
      proc.container = std::move(pc);
    }
    l.processes.push_back(std::move(proc));
  });
  return l;
}

Engine engine_from(const In& o) {
  const std::string e = o.string();
  for (const Engine known : {Engine::unknown, Engine::docker, Engine::podman, Engine::containerd, Engine::kubernetes}) {
    if (to_string(known) == e) return known;
  }
  throw Bad{o.path() + ": expected docker, podman, containerd, kubernetes or unknown"};
}

PortBinding binding_from(const In& o) {
  PortBinding b;
  b.proto = o.at("proto").string();
  b.container_port = static_cast<std::uint16_t>(o.at("container_port").integer(0, 65535));
  b.host_ip = o.at("host_ip").opt_ip();
  b.host_port = static_cast<std::uint16_t>(o.at("host_port").integer(0, 65535));
  return b;
}

ContainerState container_from(const In& o) {
  ContainerState c;
  c.id.engine = engine_from(o.at("engine"));
  c.id.id = o.at("id").string();
  c.id.name = o.at("name").string();
  c.id.compose_project = o.at("compose_project").opt_string().value_or("");
  c.id.compose_service = o.at("compose_service").opt_string().value_or("");
  c.id.image = o.at("image").opt_string().value_or("");
  c.id.pod_uid = o.at("pod_uid").opt_string().value_or("");
  c.id.containerd_namespace = o.at("containerd_namespace").opt_string().value_or("");
  o.at("sources").each([&](const In& v) { c.id.sources.push_back(v.string()); });
  c.netns = o.at("netns").opt_string().value_or("");
  c.engine_here = o.at("engine_here").opt_boolean().value_or(true);
  ContainerNetworking& n = c.networking;
  n.pid = o.at("pid").opt_integer<pid_t>(1, max_pid);
  n.running = o.at("running").boolean();
  n.network_mode = o.at("network_mode").opt_string().value_or("");
  o.at("published").each([&](const In& b) { n.published.push_back(binding_from(b)); });
  o.at("requested").each([&](const In& b) { n.requested.push_back(binding_from(b)); });
  o.at("addresses").each([&](const In& a) { n.addresses.push_back({a.at("network").string(), a.at("address").ip()}); });
  return c;
}

Route route_from(const In& o) {
  Route r;
  r.family = o.at("family").family();
  r.type = static_cast<std::uint8_t>(o.at("type").integer(0, 255));
  r.dst = o.at("dst").opt_ip();
  r.dst_len = static_cast<std::uint8_t>(o.at("dst_len").integer(0, 128));
  r.gateway = o.at("gateway").opt_ip();
  r.oif = o.at("oif").opt_integer<int>(0, INT32_MAX);
  r.prefsrc = o.at("prefsrc").opt_ip();
  r.table = static_cast<std::uint32_t>(o.at("table").integer(0, max_u32));
  r.priority = o.at("metric").opt_integer<std::uint32_t>(0, max_u32);
  r.protocol = o.at("protocol").present() ? static_cast<std::uint8_t>(o.at("protocol").integer(0, 255)) : 0;
  r.scope = o.at("scope").present() ? static_cast<std::uint8_t>(o.at("scope").integer(0, 255)) : 0;
  return r;
}

}  // namespace

std::string snapshot_to_json(const Snapshot& s, bool pretty) {
  json doc;
  doc["netwhy_snapshot"] = format_version;
  doc["hostname"] = s.hostname;
  json links = json::array();
  for (const Link& l : s.links) {
    links.push_back({{"ifindex", l.ifindex}, {"ifname", opt(l.name)}, {"flags", l.flags}, {"type", l.type},
                     {"mtu", opt(l.mtu)}, {"operstate", opt(l.operstate)}, {"kind", opt(l.kind)},
                     {"master", opt(l.master)}, {"link", opt(l.link)}, {"link_netnsid", opt(l.link_netnsid)},
                     {"macvlan_mode", opt(l.macvlan_mode)}, {"ipvlan_mode", opt(l.ipvlan_mode)}});
  }
  doc["links"] = links;
  json addrs = json::array();
  for (const Address& a : s.addresses) {
    addrs.push_back({{"ifindex", a.ifindex}, {"family", to_string(a.family)}, {"local", opt_ip(a.local)},
                     {"address", opt_ip(a.address)}, {"prefixlen", a.prefixlen}, {"scope", a.scope},
                     {"flags", a.flags}, {"label", opt(a.label)}});
  }
  doc["addresses"] = addrs;
  json routes = json::array();
  for (const Route& r : s.routes) routes.push_back(route_json(r));
  doc["routes"] = routes;
  json listeners = json::array();
  for (const Listener& l : s.listeners) listeners.push_back(listener_json(l));
  doc["listeners"] = listeners;
  json tw = json::array();
  for (const TimeWait& t : s.time_wait) tw.push_back({{"protocol", to_string(t.protocol)}, {"port", t.port}, {"count", t.count}});
  doc["time_wait"] = tw;
  json other = json::array();
  for (const ForeignListener& f : s.other_netns) {
    other.push_back({{"netns", f.netns}, {"netns_inode", f.netns_inode}, {"listener", listener_json(f.listener)}});
  }
  doc["other_netns"] = other;
  json foreign_addrs = json::array();
  for (const ForeignAddress& a : s.other_netns_addresses) {
    json routes_json = json::array();
    for (const auto& [dst, len] : a.routes) routes_json.push_back(fmt::format("{}/{}", dst.to_string(), len));
    foreign_addrs.push_back({{"netns", a.netns},
                             {"address", a.address.to_string()},
                             {"interface", a.interface},
                             {"routes", routes_json},
                             {"kind", a.kind.empty() ? json(nullptr) : json(a.kind)},
                             {"parent", opt(a.parent)},
                             {"macvlan_mode", opt(a.macvlan_mode)},
                             {"ipvlan_mode", opt(a.ipvlan_mode)}});
  }
  doc["other_netns_addresses"] = foreign_addrs;
  json containers = json::array();
  for (const ContainerState& c : s.containers) containers.push_back(container_json(c));
  doc["containers"] = containers;
  json lookups = json::array();
  for (const RouteLookup& r : s.route_lookups) {
    lookups.push_back({{"address", r.address.to_string()}, {"route", r.route ? route_json(*r.route) : json(nullptr)},
                       {"error", r.error}});
  }
  doc["route_lookups"] = lookups;
  json probes = json::array();
  for (const Probe& p : s.probes) {
    probes.push_back({{"address", p.address.to_string()}, {"port", p.port}, {"result", probe_name(p.result)},
                      {"error", p.error}, {"millis", p.millis}});
  }
  doc["probes"] = probes;
  doc["sysctls"] = s.sysctls;
  doc["counters"] = s.counters;
  json fw = {{"read", s.firewall.read}, {"unreadable", s.firewall.unreadable},
             {"legacy_tables", s.firewall.legacy_tables}, {"listing", s.firewall.raw_text}};
  json raw = s.firewall.raw_json.empty() ? json(nullptr) : json::parse(s.firewall.raw_json, nullptr, false);
  fw["nftables"] = raw.is_discarded() ? json(nullptr) : raw;
  json saves = json::array();
  for (const FwIptablesSave& save : s.firewall.iptables) {
    saves.push_back({{"family", to_string(save.family)}, {"backend", save.legacy ? "legacy" : "nft"},
                     {"save", to_valid_utf8(save.text)}});
  }
  fw["iptables"] = saves;
  doc["firewall"] = fw;
  doc["gaps"] = {{"root", s.gaps.root},
                 {"unreadable_processes", s.gaps.unreadable_processes},
                 {"hidepid", s.gaps.hidepid},
                 {"other_netns_unreadable", s.gaps.other_netns_unreadable},
                 {"notes", s.gaps.notes}};
  return doc.dump(pretty ? 4 : -1, ' ', false, json::error_handler_t::replace) + "\n";
}

Expected<Snapshot> snapshot_from_json(std::string_view text) {
  static constexpr int max_depth = 16;
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), [](int depth, json::parse_event_t, json&) {
      if (depth > max_depth) throw Bad{fmt::format("nested deeper than {} levels", max_depth)};
      return true;
    });
  } catch (const Bad& b) {
    return input_error("snapshot: " + b.what);
  } catch (const json::parse_error& e) {
    return input_error("not JSON: " + describe_json_parse_error(e, text));
  } catch (const json::exception& e) {
    return input_error("not JSON: " + describe_json_error(e));
  }
  Snapshot s;
  try {
    const In root(doc, "");
    if (!doc.is_object()) throw Bad{"the document: expected an object"};
    if (root.at("netwhy_snapshot").integer(1, 1000) != format_version) {
      throw Bad{fmt::format("netwhy_snapshot: version {} is not {}", doc["netwhy_snapshot"].dump(), format_version)};
    }
    s.hostname = root.at("hostname").opt_string().value_or("");
    root.at("links").each([&](const In& o) {
      Link l;
      l.ifindex = static_cast<int>(o.at("ifindex").integer(1, INT32_MAX));
      l.name = o.at("ifname").opt_string();
      l.flags = static_cast<std::uint32_t>(o.at("flags").integer(0, max_u32));
      l.type = o.at("type").present() ? static_cast<std::uint16_t>(o.at("type").integer(0, 65535)) : 1;
      l.mtu = o.at("mtu").opt_integer<std::uint32_t>(0, max_u32);
      l.operstate = o.at("operstate").opt_integer<std::uint8_t>(0, 255);
      l.kind = o.at("kind").opt_string();
      l.master = o.at("master").opt_integer<int>(0, INT32_MAX);
      l.link = o.at("link").opt_integer<int>(0, INT32_MAX);
      l.link_netnsid = o.at("link_netnsid").opt_integer<int>(-1, INT32_MAX);
      l.macvlan_mode = o.at("macvlan_mode").opt_integer<std::uint32_t>(0, max_u32);
      l.ipvlan_mode = o.at("ipvlan_mode").opt_integer<std::uint16_t>(0, 65535);
      s.links.push_back(std::move(l));
    });
    root.at("addresses").each([&](const In& o) {
      Address a;
      a.ifindex = static_cast<int>(o.at("ifindex").integer(1, INT32_MAX));
      a.family = o.at("family").family();
      a.local = o.at("local").opt_ip();
      a.address = o.at("address").opt_ip();
      if (!a.local && !a.address) throw Bad{o.path() + ": has neither local nor address"};
      for (const auto& v : {a.local, a.address}) {
        if (v && v->family != a.family) throw Bad{o.path() + ": an address is not of the entry's family"};
      }
      a.prefixlen = static_cast<std::uint8_t>(o.at("prefixlen").integer(0, a.family == Family::inet ? 32 : 128));
      a.scope = o.at("scope").present() ? static_cast<std::uint8_t>(o.at("scope").integer(0, 255)) : 0;
      a.flags = o.at("flags").present() ? static_cast<std::uint32_t>(o.at("flags").integer(0, max_u32)) : 0x80;
      a.label = o.at("label").opt_string();
      s.addresses.push_back(std::move(a));
    });
    root.at("routes").each([&](const In& o) { s.routes.push_back(route_from(o)); });
    root.at("listeners").each([&](const In& o) { s.listeners.push_back(listener_from(o)); });
    root.at("time_wait").each([&](const In& o) {
      s.time_wait.push_back({o.at("protocol").protocol(), static_cast<std::uint16_t>(o.at("port").integer(0, 65535)),
                             static_cast<std::size_t>(o.at("count").integer(0, INT32_MAX))});
    });
    root.at("other_netns").each([&](const In& o) {
      ForeignListener f;
      f.netns = o.at("netns").string();
      f.netns_inode = o.at("netns_inode").present() ? o.at("netns_inode").unsigned_integer() : 0;
      f.listener = listener_from(o.at("listener"));
      s.other_netns.push_back(std::move(f));
    });
    root.at("other_netns_addresses").each([&](const In& o) {
      ForeignAddress fa;
      fa.netns = o.at("netns").string();
      fa.address = o.at("address").ip();
      fa.interface = o.at("interface").string();
      fa.kind = o.at("kind").opt_string().value_or("");
      fa.parent = o.at("parent").opt_integer<int>(1, INT32_MAX);
      fa.macvlan_mode = o.at("macvlan_mode").opt_integer<std::uint32_t>(0, max_u32);
      fa.ipvlan_mode = o.at("ipvlan_mode").opt_integer<std::uint16_t>(0, 65535);
      o.at("routes").each([&](const In& r) {
        const std::string cidr = r.string();
        const std::size_t slash = cidr.find('/');
        const auto ip = IpAddr::parse(cidr.substr(0, slash));
        unsigned len = 0;
        if (!ip || slash == std::string::npos ||
            std::from_chars(cidr.data() + slash + 1, cidr.data() + cidr.size(), len).ec != std::errc{} ||
            len > ip->bits()) {
          throw Bad{r.path() + ": expected ADDRESS/LENGTH"};
        }
        fa.routes.emplace_back(*ip, len);
      });
      s.other_netns_addresses.push_back(std::move(fa));
    });
    root.at("containers").each([&](const In& o) { s.containers.push_back(container_from(o)); });
    root.at("route_lookups").each([&](const In& o) {
      RouteLookup r;
      r.address = o.at("address").ip();
      if (o.at("route").present()) r.route = route_from(o.at("route"));
      r.error = o.at("error").present() ? static_cast<int>(o.at("error").integer(0, 4095)) : 0;
      s.route_lookups.push_back(std::move(r));
    });
    root.at("probes").each([&](const In& o) {
      Probe p;
      p.address = o.at("address").ip();
      p.port = static_cast<std::uint16_t>(o.at("port").integer(0, 65535));
      const std::string r = o.at("result").string();
      if (r == "ok") {
        p.result = ProbeResult::ok;
      } else if (r == "refused") {
        p.result = ProbeResult::refused;
      } else if (r == "timeout") {
        p.result = ProbeResult::timeout;
      } else if (r == "unreachable") {
        p.result = ProbeResult::unreachable;
      } else if (r == "error") {
        p.result = ProbeResult::error;
      } else {
        throw Bad{o.path() + ".result: expected ok, refused, timeout, unreachable or error"};
      }
      p.error = o.at("error").present() ? static_cast<int>(o.at("error").integer(0, 4095)) : 0;
      p.millis = o.at("millis").present() ? o.at("millis").number() : 0;
      s.probes.push_back(p);
    });
    for (const char* table : {"sysctls", "counters"}) {
      const In t = root.at(table);
      if (!t.present()) continue;
      if (!doc[table].is_object()) throw Bad{std::string(table) + ": expected an object"};
      for (const auto& [key, value] : doc[table].items()) {
        const In v(value, fmt::format("{}.{}", table, key));
        if (std::string_view(table) == "sysctls") {
          s.sysctls[key] = v.integer(INT64_MIN, INT64_MAX);
        } else {
          s.counters[key] = v.unsigned_integer();
        }
      }
    }
    const In fw = root.at("firewall");
    if (fw.present()) {
      s.firewall.read = fw.at("read").opt_boolean().value_or(false);
      s.firewall.unreadable = fw.at("unreadable").opt_string().value_or("");
      fw.at("legacy_tables").each([&](const In& t) { s.firewall.legacy_tables.push_back(t.string()); });
      const bool has_json = doc["firewall"].contains("nftables") && !doc["firewall"]["nftables"].is_null();
      if (s.firewall.read) {
        // The text listing is the ruleset; the JSON comes only when the
        // text was not readable (and in files from netwhy before 0.2).
        const std::string raw = has_json ? doc["firewall"]["nftables"].dump() : std::string();
        const std::string listing = fw.at("listing").opt_string().value_or("");
        auto parsed = has_json ? parse_nft_ruleset(raw, listing) : parse_nft_text(listing);
        if (!parsed) throw Bad{(has_json ? "firewall.nftables: " : "firewall.listing: ") + parsed.error().message()};
        parsed->legacy_tables = s.firewall.legacy_tables;
        parsed->raw_json = raw;
        parsed->raw_text = listing;
        s.firewall = std::move(*parsed);
        // iptables-save output: decoded the same way as live
        fw.at("iptables").each([&](const In& save) {
          FwIptablesSave one;
          const std::string family = save.at("family").string();
          if (family != "inet" && family != "inet6") throw Bad{"firewall.iptables: family must be inet or inet6"};
          one.family = family == "inet6" ? Family::inet6 : Family::inet;
          one.legacy = save.at("backend").string() == "legacy";
          one.text = save.at("save").string();
          s.firewall.iptables.push_back(std::move(one));
        });
        apply_iptables(s.firewall);
      }
    }
    const In gaps = root.at("gaps");
    if (gaps.present()) {
      s.gaps.root = gaps.at("root").opt_boolean().value_or(true);
      s.gaps.unreadable_processes =
          gaps.at("unreadable_processes").present() ? gaps.at("unreadable_processes").unsigned_integer() : 0;
      s.gaps.hidepid = gaps.at("hidepid").opt_boolean().value_or(false);
      s.gaps.other_netns_unreadable = gaps.at("other_netns_unreadable").opt_boolean().value_or(false);
      gaps.at("notes").each([&](const In& n) { s.gaps.notes.push_back(n.string()); });
    }
  } catch (const Bad& b) {
    return input_error("snapshot: " + b.what);
  } catch (const json::exception& e) {
    return input_error("snapshot: " + describe_json_error(e));
  }
  return s;
}

}  // namespace netwhy
