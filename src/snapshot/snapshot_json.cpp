// Snapshot files: written by `netwhy snapshot -j`, read by `netwhy port
// --snapshot FILE`. A file may come from anywhere: every field is checked,
// an error names the field, and the reading is linear in the file's size.
#include <nlohmann/json.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <concepts>
#include <iterator>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

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

// ---- reading ----
//
// nlohmann's SAX interface drives the reading: its callback parser, the only
// other way to limit depth, rescans the parent container after every closing
// brace (quadratic: 200,000 small objects took 45 s). The Reader below builds
// a document for everything but the records of the top-level arrays (links,
// listeners, ...): each record is built alone, turned into its value as soon
// as it closes, and dropped; firewall.nftables goes straight back to text for
// parse_nft_ruleset. Objects are std::map (nlohmann::json, not
// ordered_json, whose objects are vectors searched for each key: quadratic in
// a large object); the last of twin keys wins.

using dom = nlohmann::json;

struct Bad {
  std::string what;
};

// A JSON number as T when it is an integer in T's range; nlohmann reads 2^64
// or 1e300 as a double: that is nullopt too, never cast.
template <std::integral T>
std::optional<T> integer_of(const dom& v) {
  if (v.is_number_unsigned()) {
    const auto n = v.get<std::uint64_t>();
    if (std::in_range<T>(n)) return static_cast<T>(n);
  } else if (v.is_number_integer()) {
    const auto n = v.get<std::int64_t>();
    if (std::in_range<T>(n)) return static_cast<T>(n);
  }
  return std::nullopt;
}

// A value of the document and where it is. The path ("listeners[3].port")
// is spelled only for an error message, with the file's keys escaped. An In
// refers to its parent: it lives no longer than the In it came from.
class In {
 public:
  // The document, or a record of a top-level array ("listeners", 3).
  explicit In(const dom& v) : v_(v) {}
  In(const dom& v, std::string_view array, std::size_t index) : v_(v), key_(array), index_(index) {}

  In at(std::string_view key) const {
    if (!v_.is_object()) throw Bad{what() + ": expected an object"};
    static const dom null_value;
    const auto it = v_.find(key);
    return In(it == v_.end() ? null_value : *it, this, key);
  }
  bool present() const { return !v_.is_null(); }

  template <class F>
  void each(F&& f) const {
    if (v_.is_null()) return;
    if (!v_.is_array()) throw Bad{path() + ": expected an array"};
    for (std::size_t i = 0; i < v_.size(); ++i) f(In(v_[i], this, i));
  }
  // f(key, value) for each member of an object; null: none.
  template <class F>
  void members(F&& f) const {
    if (v_.is_null()) return;
    if (!v_.is_object()) throw Bad{path() + ": expected an object"};
    for (auto it = v_.begin(); it != v_.end(); ++it) f(it.key(), In(it.value(), this, it.key()));
  }

  // An integer in [lo, hi], which T holds: out of range is an error naming
  // the field, never a cast.
  template <std::integral T>
  T integer(T lo = std::numeric_limits<T>::min(), T hi = std::numeric_limits<T>::max()) const {
    if (!v_.is_number_integer()) throw Bad{path() + ": expected an integer"};
    const std::optional<T> n = integer_of<T>(v_);
    if (!n || *n < lo || *n > hi) {
      throw Bad{fmt::format("{}: {} is out of range ({} to {})", path(), v_.dump(), +lo, +hi)};
    }
    return *n;
  }
  template <std::integral T>
  std::optional<T> opt_integer(T lo = std::numeric_limits<T>::min(), T hi = std::numeric_limits<T>::max()) const {
    if (v_.is_null()) return std::nullopt;
    return integer<T>(lo, hi);
  }
  // A finite number in [lo, hi].
  double real(double lo, double hi) const {
    if (!v_.is_number()) throw Bad{path() + ": expected a number"};
    const double d = v_.get<double>();
    if (!std::isfinite(d) || d < lo || d > hi) {
      throw Bad{fmt::format("{}: {} is out of range ({} to {})", path(), v_.dump(), lo, hi)};
    }
    return d;
  }
  bool boolean() const {
    if (!v_.is_boolean()) throw Bad{path() + ": expected true or false"};
    return v_.get<bool>();
  }
  std::optional<bool> opt_boolean() const { return v_.is_null() ? std::nullopt : std::optional<bool>(boolean()); }
  std::string string() const {
    if (!v_.is_string()) throw Bad{path() + ": expected a string"};
    return v_.get<std::string>();
  }
  std::optional<std::string> opt_string() const {
    return v_.is_null() ? std::nullopt : std::optional<std::string>(string());
  }
  IpAddr ip() const {
    auto a = IpAddr::parse(string());
    if (!a) throw Bad{path() + ": expected an IP address"};
    return *a;
  }
  std::optional<IpAddr> opt_ip() const { return v_.is_null() ? std::nullopt : std::optional<IpAddr>(ip()); }
  Family family() const {
    const std::string f = string();
    if (f == "inet") return Family::inet;
    if (f == "inet6") return Family::inet6;
    throw Bad{path() + ": expected \"inet\" or \"inet6\""};
  }
  Protocol protocol() const {
    const std::string p = string();
    if (p == "tcp") return Protocol::tcp;
    if (p == "udp") return Protocol::udp;
    throw Bad{path() + ": expected \"tcp\" or \"udp\""};
  }

  // "listeners[3].processes[0].pid"; "" for the document.
  std::string path() const {
    std::string out = parent_ != nullptr ? parent_->path() : std::string();
    if (key_) {
      if (!out.empty()) out += '.';
      out += escape_arg(*key_);  // a key of sysctls or counters is anyone's bytes
    }
    if (index_) out += fmt::format("[{}]", *index_);
    return out;
  }

 private:
  In(const dom& v, const In* parent, std::string_view key) : v_(v), parent_(parent), key_(key) {}
  In(const dom& v, const In* parent, std::size_t index) : v_(v), parent_(parent), index_(index) {}
  std::string what() const { return parent_ == nullptr && !key_ ? "the document" : path(); }

  const dom& v_;
  const In* parent_ = nullptr;
  std::optional<std::string_view> key_;
  std::optional<std::size_t> index_;
};

constexpr pid_t max_pid = 0x3FFFFFFF;  // PID_MAX_LIMIT
constexpr double max_millis = 3'600'000;       // a probe's time: an hour is far past any timeout

// The engines a file may name: netwhy tags no container whose engine it
// could not tell.
Engine engine_from(const In& o) {
  const std::string e = o.string();
  for (const Engine known : {Engine::docker, Engine::podman, Engine::containerd, Engine::kubernetes}) {
    if (to_string(known) == e) return known;
  }
  throw Bad{o.path() + ": expected docker, podman, containerd or kubernetes"};
}

Listener listener_from(const In& o) {
  Listener l;
  Socket& s = l.socket;
  s.protocol = o.at("protocol").protocol();
  s.family = o.at("family").family();
  s.local = o.at("local_address").ip();
  if (s.local.family != s.family) throw Bad{o.path() + ".local_address: not of the listener's family"};
  s.port = o.at("port").integer<std::uint16_t>();
  l.interface = o.at("interface").opt_string();
  s.bound_ifindex = o.at("bound_ifindex").opt_integer<int>(0).value_or(0);
  s.v6only = o.at("v6only").opt_boolean();
  s.backlog = o.at("backlog").opt_integer<std::uint32_t>();
  s.queued = o.at("queued").opt_integer<std::uint32_t>();
  if (s.protocol == Protocol::udp && (s.backlog || s.queued)) {
    throw Bad{o.path() + ": a UDP socket has no accept queue (backlog and queued are null)"};
  }
  s.inode = o.at("inode").integer<std::uint64_t>();
  s.uid = o.at("uid").integer<std::uint32_t>();
  s.state = o.at("state").opt_integer<std::uint8_t>().value_or(s.protocol == Protocol::tcp ? tcp_listen : tcp_close);
  o.at("processes").each([&](const In& p) {
    Process proc;
    proc.pid = p.at("pid").integer<pid_t>(1, max_pid);
    proc.comm = p.at("comm").string();
    proc.cmdline = p.at("cmdline").string();
    proc.user = p.at("user").string();
    proc.ppid = p.at("ppid").opt_integer<pid_t>(0, max_pid).value_or(0);
    proc.uid = p.at("uid").opt_integer<std::uint32_t>().value_or(0);
    proc.framework = p.at("framework").opt_string().value_or("");
    if (const In c = p.at("container"); c.present()) {
      ProcessContainer pc;
      pc.engine = to_string(engine_from(c.at("engine")));
      pc.id = c.at("id").string();
      pc.name = c.at("name").string();
      pc.holder = c.at("holder").boolean();
      proc.container = std::move(pc);
    }
    l.processes.push_back(std::move(proc));
  });
  return l;
}

PortBinding binding_from(const In& o) {
  PortBinding b;
  b.proto = o.at("proto").string();
  b.container_port = o.at("container_port").integer<std::uint16_t>();
  b.host_ip = o.at("host_ip").opt_ip();
  b.host_port = o.at("host_port").integer<std::uint16_t>();
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
  r.type = o.at("type").integer<std::uint8_t>();
  r.dst = o.at("dst").opt_ip();
  r.dst_len = o.at("dst_len").integer<std::uint8_t>(0, 128);
  r.gateway = o.at("gateway").opt_ip();
  r.oif = o.at("oif").opt_integer<int>(0);
  r.prefsrc = o.at("prefsrc").opt_ip();
  r.table = o.at("table").integer<std::uint32_t>();
  r.priority = o.at("metric").opt_integer<std::uint32_t>();
  r.protocol = o.at("protocol").opt_integer<std::uint8_t>().value_or(0);
  r.scope = o.at("scope").opt_integer<std::uint8_t>().value_or(0);
  return r;
}

Link link_from(const In& o) {
  Link l;
  l.ifindex = o.at("ifindex").integer<int>(1);
  l.name = o.at("ifname").opt_string();
  l.flags = o.at("flags").integer<std::uint32_t>();
  l.type = o.at("type").opt_integer<std::uint16_t>().value_or(1);
  l.mtu = o.at("mtu").opt_integer<std::uint32_t>();
  l.operstate = o.at("operstate").opt_integer<std::uint8_t>();
  l.kind = o.at("kind").opt_string();
  l.master = o.at("master").opt_integer<int>(0);
  l.link = o.at("link").opt_integer<int>(0);
  l.link_netnsid = o.at("link_netnsid").opt_integer<int>(-1);
  l.macvlan_mode = o.at("macvlan_mode").opt_integer<std::uint32_t>();
  l.ipvlan_mode = o.at("ipvlan_mode").opt_integer<std::uint16_t>();
  return l;
}

Address address_from(const In& o) {
  Address a;
  a.ifindex = o.at("ifindex").integer<int>(1);
  a.family = o.at("family").family();
  a.local = o.at("local").opt_ip();
  a.address = o.at("address").opt_ip();
  if (!a.local && !a.address) throw Bad{o.path() + ": has neither local nor address"};
  for (const auto& v : {a.local, a.address}) {
    if (v && v->family != a.family) throw Bad{o.path() + ": an address is not of the entry's family"};
  }
  a.prefixlen = o.at("prefixlen").integer<std::uint8_t>(0, a.family == Family::inet ? 32 : 128);
  a.scope = o.at("scope").opt_integer<std::uint8_t>().value_or(0);
  a.flags = o.at("flags").opt_integer<std::uint32_t>().value_or(0x80);
  a.label = o.at("label").opt_string();
  return a;
}

TimeWait time_wait_from(const In& o) {
  TimeWait t;
  t.protocol = o.at("protocol").protocol();
  t.port = o.at("port").integer<std::uint16_t>();
  t.count = o.at("count").integer<std::size_t>(0, INT32_MAX);
  return t;
}

ForeignListener foreign_listener_from(const In& o) {
  ForeignListener f;
  f.netns = o.at("netns").string();
  f.netns_inode = o.at("netns_inode").opt_integer<std::uint64_t>().value_or(0);
  f.listener = listener_from(o.at("listener"));
  return f;
}

ForeignAddress foreign_address_from(const In& o) {
  ForeignAddress fa;
  fa.netns = o.at("netns").string();
  fa.address = o.at("address").ip();
  fa.interface = o.at("interface").string();
  fa.kind = o.at("kind").opt_string().value_or("");
  fa.parent = o.at("parent").opt_integer<int>(1);
  fa.macvlan_mode = o.at("macvlan_mode").opt_integer<std::uint32_t>();
  fa.ipvlan_mode = o.at("ipvlan_mode").opt_integer<std::uint16_t>();
  o.at("routes").each([&](const In& r) {
    const std::string cidr = r.string();
    const std::size_t slash = cidr.find('/');
    const auto ip = IpAddr::parse(cidr.substr(0, slash));
    unsigned len = 0;
    const char* end = cidr.data() + cidr.size();
    if (!ip || slash == std::string::npos) throw Bad{r.path() + ": expected ADDRESS/LENGTH"};
    const auto [stop, ec] = std::from_chars(cidr.data() + slash + 1, end, len);
    if (ec != std::errc{} || stop != end || len > ip->bits()) {
      throw Bad{fmt::format("{}: expected ADDRESS/LENGTH, LENGTH at most {}", r.path(), ip->bits())};
    }
    fa.routes.emplace_back(*ip, len);
  });
  return fa;
}

RouteLookup route_lookup_from(const In& o) {
  RouteLookup r;
  r.address = o.at("address").ip();
  if (const In route = o.at("route"); route.present()) r.route = route_from(route);
  r.error = o.at("error").opt_integer<int>(0, 4095).value_or(0);
  return r;
}

Probe probe_from(const In& o) {
  Probe p;
  p.address = o.at("address").ip();
  p.port = o.at("port").integer<std::uint16_t>();
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
  p.error = o.at("error").opt_integer<int>(0, 4095).value_or(0);
  p.millis = o.at("millis").present() ? o.at("millis").real(0, max_millis) : 0;
  return p;
}

// A top-level array of records, and how one record becomes its value.
struct RecordArray {
  std::string_view key;
  void (*clear)(Snapshot&);
  void (*add)(Snapshot&, const In&);
};

const std::array<RecordArray, 10> record_arrays{{
    {"links", [](Snapshot& s) { s.links.clear(); }, [](Snapshot& s, const In& o) { s.links.push_back(link_from(o)); }},
    {"addresses", [](Snapshot& s) { s.addresses.clear(); },
     [](Snapshot& s, const In& o) { s.addresses.push_back(address_from(o)); }},
    {"routes", [](Snapshot& s) { s.routes.clear(); }, [](Snapshot& s, const In& o) { s.routes.push_back(route_from(o)); }},
    {"listeners", [](Snapshot& s) { s.listeners.clear(); },
     [](Snapshot& s, const In& o) { s.listeners.push_back(listener_from(o)); }},
    {"time_wait", [](Snapshot& s) { s.time_wait.clear(); },
     [](Snapshot& s, const In& o) { s.time_wait.push_back(time_wait_from(o)); }},
    {"other_netns", [](Snapshot& s) { s.other_netns.clear(); },
     [](Snapshot& s, const In& o) { s.other_netns.push_back(foreign_listener_from(o)); }},
    {"other_netns_addresses", [](Snapshot& s) { s.other_netns_addresses.clear(); },
     [](Snapshot& s, const In& o) { s.other_netns_addresses.push_back(foreign_address_from(o)); }},
    {"containers", [](Snapshot& s) { s.containers.clear(); },
     [](Snapshot& s, const In& o) { s.containers.push_back(container_from(o)); }},
    {"route_lookups", [](Snapshot& s) { s.route_lookups.clear(); },
     [](Snapshot& s, const In& o) { s.route_lookups.push_back(route_lookup_from(o)); }},
    {"probes", [](Snapshot& s) { s.probes.clear(); }, [](Snapshot& s, const In& o) { s.probes.push_back(probe_from(o)); }},
}};

// JSON text for a string (nlohmann's SAX gives valid UTF-8: only quotes,
// backslashes and control characters are escaped).
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  out += '"';
}

// The top-level keys read besides the arrays of records; the values of any
// other are checked as JSON and dropped unbuilt.
constexpr std::array<std::string_view, 6> other_keys{"netwhy_snapshot", "hostname", "sysctls",
                                                     "counters",        "firewall", "gaps"};

// nlohmann's SAX events into a document (root), with the depth limit; the
// records of a top-level array handed to the Snapshot one by one once the
// file's version is known to be this one's (before that, they wait in the
// document); and firewall.nftables, which parse_nft_ruleset reads from text,
// written straight back to compact text (a document of libnftables' JSON
// costs about 12 times its text, and dumping it, then freeing it, seconds).
class Reader {
 public:
  Reader(Snapshot& s, std::string_view text) : s_(s), text_(text) {}

  dom root;
  std::string nftables;  // firewall.nftables as compact JSON text; empty: absent or null
  std::string error;     // why the reading stopped: "not JSON: ..." or "snapshot: ..."

  bool null() { return writing_text() ? text_value("null", Null::yes) : value(dom(nullptr)); }
  bool boolean(bool v) { return writing_text() ? text_value(v ? "true" : "false") : value(dom(v)); }
  bool number_integer(dom::number_integer_t v) {
    return writing_text() ? text_value(fmt::format("{}", v)) : value(dom(v));
  }
  bool number_unsigned(dom::number_unsigned_t v) {
    return writing_text() ? text_value(fmt::format("{}", v)) : value(dom(v));
  }
  bool number_float(dom::number_float_t v, const dom::string_t& /*text*/) {
    // as nlohmann writes it back (1e300 as 1e+300): the same text after a round trip
    return writing_text() ? text_value(dom(v).dump()) : value(dom(v));
  }
  bool string(dom::string_t& v) {
    if (!writing_text()) return value(dom(std::move(v)));
    before_text_value();
    append_json_string(nftables, v);
    return true;
  }
  bool binary(dom::binary_t& /*v*/) { return stop("not JSON: a binary value"); }  // never from JSON text
  bool start_object(std::size_t /*size*/) { return open(dom::value_t::object); }
  bool start_array(std::size_t /*size*/) { return open(dom::value_t::array); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(dom::string_t& k) {
    Level& top = levels_.back();
    if (top.into == Into::text) {
      // Written back, twin keys would become one: refused (nft writes none).
      if (!top.keys.insert(k)) {
        return stop(fmt::format("snapshot: {}: \"{}\" twice", path_of(levels_.size() - 1, Element::last), escape_arg(k)));
      }
      if (top.count++ > 0) nftables += ',';
      append_json_string(nftables, k);
      nftables += ':';
    }
    if (levels_.size() == 1 && top.into == Into::document) {
      version_key_ = k == "netwhy_snapshot";
      records_ = nullptr;
      for (const RecordArray& r : record_arrays) {
        if (r.key == k) {
          records_ = &r;
          r.clear(s_);  // the last of twin keys wins, as in the document
        }
      }
      unknown_key_ = records_ == nullptr && std::find(other_keys.begin(), other_keys.end(), k) == other_keys.end();
      if (k == "firewall") nftables.clear();
    }
    if (top.into != Into::document || (unknown_key_ && levels_.size() == 1)) {
      top.key = nullptr;
      top.name = std::move(k);  // for a path in an error
      return true;
    }
    const auto it = top.value->get_ref<dom::object_t&>().insert_or_assign(std::move(k), dom()).first;
    top.key = &it->first;
    slot_ = &it->second;
    if (at_nftables_key()) nftables.clear();
    return true;
  }

  bool parse_error(std::size_t /*position*/, const std::string& /*token*/, const dom::exception& e) {
    if (const auto* p = dynamic_cast<const dom::parse_error*>(&e)) {
      return stop("not JSON: " + describe_json_parse_error(*p, text_));
    }
    return stop("not JSON: " + escape_text(describe_json_error(e)));  // a number too large for a double
  }

 private:
  enum class Into {
    document,  // an array or object of the document
    records,   // a top-level array of records
    text,      // an array or object inside firewall.nftables
    skip,      // an array or object under a top-level key netwhy does not read
  };
  // The keys of an object written as text: a few in a vector, many in a set.
  class Keys {
   public:
    // False: k was there.
    bool insert(const std::string& k) {
      if (many_.empty()) {
        if (std::find(few_.begin(), few_.end(), k) != few_.end()) return false;
        if (few_.size() < 16) {
          few_.push_back(k);
          return true;
        }
        many_.insert(few_.begin(), few_.end());
        few_.clear();
      }
      return many_.insert(k).second;
    }

   private:
    std::vector<std::string> few_;
    std::set<std::string> many_;
  };
  struct Level {
    Into into = Into::document;
    dom* value = nullptr;              // document: the array or object being filled
    bool array = false;                // an array (else an object)
    const std::string* key = nullptr;  // document object: the key whose value is being read
    std::string name;                  // text or skip object: that key
    std::size_t count = 0;             // arrays: the elements so far; text objects: the members
    Keys keys;                         // text object: its keys so far
  };

  bool in_records() const { return !levels_.empty() && levels_.back().into == Into::records; }
  bool writing_text() const { return !levels_.empty() && (levels_.back().into == Into::text || at_nftables_key()); }
  // Is the value about to be read one that nothing reads? (It is checked as
  // JSON, its depth too, and dropped.)
  bool skipping() const {
    return !levels_.empty() && (levels_.back().into == Into::skip || (levels_.size() == 1 && unknown_key_));
  }
  // Is the value about to be read firewall.nftables?
  bool at_nftables_key() const {
    return levels_.size() == 2 && levels_[1].into == Into::document && !levels_[1].array &&
           levels_[1].key != nullptr && *levels_[1].key == "nftables" && levels_[0].key != nullptr &&
           *levels_[0].key == "firewall";
  }

  // A comma before an element of a text array.
  void before_text_value() {
    Level& top = levels_.back();
    if (top.into == Into::text && top.array && top.count++ > 0) nftables += ',';
  }

  enum class Null { no, yes };
  bool text_value(std::string_view text, Null null = Null::no) {
    if (null == Null::yes && levels_.back().into != Into::text) return true;  // "nftables": null is none
    before_text_value();
    nftables += text;
    return true;
  }

  // Where a new value goes: the root, the end of an array, the slot of the
  // last key, or the record of a top-level array.
  dom* place(dom&& v) {
    if (levels_.empty()) {
      root = std::move(v);
      return &root;
    }
    Level& top = levels_.back();
    if (top.into == Into::records) {
      ++top.count;
      record_ = std::move(v);
      return &record_;
    }
    if (top.array) {
      ++top.count;
      top.value->push_back(std::move(v));
      return &top.value->back();
    }
    *slot_ = std::move(v);
    return slot_;
  }

  bool value(dom&& v) {
    if (skipping()) {
      if (levels_.back().into == Into::skip && levels_.back().array) ++levels_.back().count;
      return true;
    }
    const bool record = in_records();
    const dom* placed = place(std::move(v));
    if (levels_.size() == 1 && version_key_) version_ok_ = integer_of<int>(*placed) == format_version;
    return record ? finish_record() : true;
  }

  bool open(dom::value_t type) {
    if (levels_.size() >= static_cast<std::size_t>(snapshot_max_depth)) {
      return stop(fmt::format("snapshot: {}: nested deeper than {} levels", path_of(levels_.size(), Element::next),
                              snapshot_max_depth));
    }
    const bool array = type == dom::value_t::array;
    if (writing_text()) {
      before_text_value();
      nftables += array ? '[' : '{';
      levels_.push_back(Level{Into::text, nullptr, array, nullptr, {}, 0, {}});
      return true;
    }
    if (skipping()) {
      if (levels_.back().into == Into::skip && levels_.back().array) ++levels_.back().count;
      levels_.push_back(Level{Into::skip, nullptr, array, nullptr, {}, 0, {}});
      return true;
    }
    if (array && levels_.size() == 1 && records_ != nullptr && version_ok_) {
      levels_.push_back(Level{Into::records, nullptr, true, nullptr, {}, 0, {}});  // the document keeps null here
      return true;
    }
    dom* placed = place(dom(type));
    levels_.push_back(Level{Into::document, placed, array, nullptr, {}, 0, {}});
    return true;
  }

  bool close() {
    if (levels_.back().into == Into::text) nftables += levels_.back().array ? ']' : '}';
    levels_.pop_back();
    return in_records() ? finish_record() : true;
  }

  bool finish_record() {
    try {
      records_->add(s_, In(record_, records_->key, levels_.back().count - 1));
    } catch (const Bad& b) {
      return stop("snapshot: " + b.what);
    } catch (const dom::exception& e) {
      return stop("snapshot: " + escape_text(describe_json_error(e)));
    }
    record_ = dom();
    return true;
  }

  // The path of what is being read under the first n levels:
  // "firewall.nftables.nftables[3].rule"; in an array at level n, its last
  // element, or the next, about to be read.
  enum class Element { last, next };
  std::string path_of(std::size_t n, Element element) const {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
      const Level& l = levels_[i];
      if (l.array) {
        out += fmt::format("[{}]", i + 1 == n && element == Element::next ? l.count : l.count - 1);
        continue;
      }
      if (!out.empty()) out += '.';
      out += escape_arg(l.key != nullptr ? std::string_view(*l.key) : std::string_view(l.name));
    }
    return out.empty() ? "the document" : out;
  }

  bool stop(std::string why) {
    error = std::move(why);
    return false;
  }

  Snapshot& s_;
  std::string_view text_;
  std::vector<Level> levels_;
  dom* slot_ = nullptr;                   // the value of the last key read
  const RecordArray* records_ = nullptr;  // the record kind of the top-level key being read
  bool version_key_ = false;              // the top-level key being read is netwhy_snapshot
  bool version_ok_ = false;               // netwhy_snapshot was read, and is format_version
  bool unknown_key_ = false;              // the top-level key being read is one netwhy does not read
  dom record_;                            // the record being read
};

// A string of the document, moved out of it (a ruleset listing may be most
// of the file): absent or null is empty.
std::string take_string(dom& parent, const char* key, const std::string& path) {
  const auto it = parent.find(key);
  if (it == parent.end() || it->is_null()) return {};
  if (!it->is_string()) throw Bad{path + ": expected a string"};
  return std::move(it->get_ref<std::string&>());
}

// Everything the Reader did not hand over record by record: the document,
// and firewall.nftables as text.
void finish_from(dom& doc, std::string nftables, Snapshot& s) {
  const In root(doc);
  if (!doc.is_object()) throw Bad{"the document: expected an object"};
  if (root.at("netwhy_snapshot").integer<int>(1, 1000) != format_version) {
    throw Bad{fmt::format("netwhy_snapshot: version {} is not {}", doc["netwhy_snapshot"].dump(), format_version)};
  }
  s.hostname = root.at("hostname").opt_string().value_or("");
  for (const RecordArray& r : record_arrays) {
    root.at(r.key).each([&](const In& o) { r.add(s, o); });  // those read before netwhy_snapshot
  }
  root.at("sysctls").members([&](const std::string& key, const In& v) { s.sysctls[key] = v.integer<std::int64_t>(); });
  root.at("counters").members([&](const std::string& key, const In& v) { s.counters[key] = v.integer<std::uint64_t>(); });
  const In fw = root.at("firewall");
  if (fw.present()) {
    s.firewall.read = fw.at("read").opt_boolean().value_or(false);
    s.firewall.unreadable = fw.at("unreadable").opt_string().value_or("");
    fw.at("legacy_tables").each([&](const In& t) { s.firewall.legacy_tables.push_back(t.string()); });
    if (s.firewall.read) {
      // The text listing is the ruleset; the JSON comes only when the text
      // was not readable (and in files from netwhy before 0.2).
      std::string raw = std::move(nftables);
      const bool has_json = !raw.empty();
      std::string listing = take_string(doc["firewall"], "listing", "firewall.listing");
      auto parsed = has_json ? parse_nft_ruleset(raw, listing) : parse_nft_text(listing);
      if (!parsed) throw Bad{(has_json ? "firewall.nftables: " : "firewall.listing: ") + parsed.error().message()};
      parsed->legacy_tables = std::move(s.firewall.legacy_tables);
      parsed->raw_json = std::move(raw);
      parsed->raw_text = std::move(listing);
      s.firewall = std::move(*parsed);
      // iptables-save output: decoded the same way as live
      fw.at("iptables").each([&](const In& save) {
        FwIptablesSave one;
        const std::string family = save.at("family").string();
        if (family != "inet" && family != "inet6") throw Bad{save.path() + ".family: expected inet or inet6"};
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
    s.gaps.unreadable_processes = gaps.at("unreadable_processes").opt_integer<std::size_t>().value_or(0);
    s.gaps.hidepid = gaps.at("hidepid").opt_boolean().value_or(false);
    s.gaps.other_netns_unreadable = gaps.at("other_netns_unreadable").opt_boolean().value_or(false);
    gaps.at("notes").each([&](const In& n) { s.gaps.notes.push_back(n.string()); });
  }
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
  Snapshot s;
  try {
    Reader reader(s, text);
    if (!dom::sax_parse(text.begin(), text.end(), &reader)) {
      return input_error(reader.error.empty() ? std::string("not JSON") : std::move(reader.error));
    }
    finish_from(reader.root, std::move(reader.nftables), s);
  } catch (const Bad& b) {
    return input_error("snapshot: " + b.what);
  } catch (const dom::exception& e) {
    return input_error("snapshot: " + escape_text(describe_json_error(e)));
  }
  return s;
}

}  // namespace netwhy
