// The diagnosis engine. Pure: a snapshot and a question in, a verdict, the
// per-address evidence and findings out.
#include "netwhy/diagnose.hpp"

#include "netwhy/firewall.hpp"

#include <linux/if.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include <fmt/format.h>

namespace netwhy {

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::reachable: return "reachable";
    case Verdict::local_only: return "local-only";
    case Verdict::not_listening: return "not-listening";
    case Verdict::unreachable: return "unreachable";
  }
  return "unreachable";
}

namespace {

constexpr std::int64_t default_unprivileged_port_start = 1024;

std::string proto_name(Protocol p) { return p == Protocol::tcp ? "TCP" : "UDP"; }

std::string endpoint_text(const IpAddr& a, std::uint16_t port) {
  return a.family == Family::inet6 ? fmt::format("[{}]:{}", a.to_string(), port)
                                   : fmt::format("{}:{}", a.to_string(), port);
}

std::string listener_text(const Listener& l) {
  std::string out = endpoint_text(l.socket.local, l.socket.port);
  if (l.interface) out += " on " + *l.interface;
  return out;
}

// "gunicorn (pid 256, 3 workers)"
std::string owner_text(const Listener& l) {
  const Process* p = main_process(l);
  if (p == nullptr) return "a process netwhy cannot see";
  const std::size_t others = l.processes.size() - 1;
  if (others == 0) return fmt::format("{} (pid {})", p->comm, p->pid);
  std::size_t workers = 0;
  for (const Process& w : l.processes) {
    if (w.ppid == p->pid) ++workers;
  }
  if (workers == others) return fmt::format("{} (pid {}, {} worker{})", p->comm, p->pid, workers, workers == 1 ? "" : "s");
  return fmt::format("{} (pid {}, and {} more)", p->comm, p->pid, others);
}

class Engine {
 public:
  Engine(const Snapshot& snap, const Query& q) : s_(snap), q_(q) {}

  Diagnosis run() {
    d_.query = q_;
    collect_listeners();
    find_loopback();
    build_endpoints();
    if (d_.listeners.empty() && forwarding_seen_) {
      add("not-listening", Severity::info,
          fmt::format("Nothing listens on {} port {} here; connections to it are forwarded (see port-forward).",
                      proto_name(q_.protocol), q_.port));
    } else if (d_.listeners.empty()) {
      explain_not_listening();
    } else {
      explain_listeners();
    }
    explain_firewall();
    explain_host();
    explain_interfaces();
    decide();
    std::stable_sort(d_.findings.begin(), d_.findings.end(),
                     [](const Finding& a, const Finding& b) { return a.severity < b.severity; });
    return std::move(d_);
  }

 private:
  // ---- facts ----

  const Link* link(int ifindex) const {
    for (const Link& l : s_.links) {
      if (l.ifindex == ifindex) return &l;
    }
    return nullptr;
  }
  static bool is_up(const Link* l) { return l != nullptr && (l->flags & IFF_UP) != 0; }
  static bool has_carrier(const Link* l) { return l != nullptr && (l->flags & IFF_LOWER_UP) != 0; }
  std::string link_name(int ifindex) const {
    const Link* l = link(ifindex);
    return l != nullptr && l->name ? *l->name : fmt::format("if{}", ifindex);
  }

  bool bindv6only_default() const {
    const auto it = s_.sysctls.find("net.ipv6.bindv6only");
    return it != s_.sysctls.end() && it->second != 0;
  }
  bool v6only(const Socket& sk) const { return sk.v6only.value_or(bindv6only_default()); }

  // Does the socket take a connection to addr that arrives on arrival_ifindex?
  bool covers(const Listener& l, const IpAddr& addr, int arrival_ifindex) const {
    const Socket& sk = l.socket;
    if (sk.bound_ifindex != 0 && sk.bound_ifindex != arrival_ifindex) return false;
    if (sk.family == Family::inet) {
      return addr.family == Family::inet && (sk.local.is_unspecified() || sk.local == addr);
    }
    if (addr.family == Family::inet6) return sk.local.is_unspecified() || sk.local == addr;
    if (sk.local.is_unspecified()) return !v6only(sk);
    // ::ffff:a.b.c.d takes a.b.c.d
    static constexpr std::array<std::uint8_t, 12> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::equal(mapped.begin(), mapped.end(), sk.local.bytes.begin()) &&
           std::equal(addr.bytes.begin(), addr.bytes.begin() + 4, sk.local.bytes.begin() + 12);
  }

  // The most specific listener that takes addr arriving on ifindex.
  std::optional<std::size_t> taker(const IpAddr& addr, int ifindex) const {
    std::optional<std::size_t> best;
    int best_score = -1;
    for (std::size_t i = 0; i < d_.listeners.size(); ++i) {
      const Listener& l = d_.listeners[i];
      if (!covers(l, addr, ifindex)) continue;
      const int score = (l.socket.local.is_unspecified() ? 0 : 2) + (l.socket.family == addr.family ? 1 : 0) +
                        (l.socket.bound_ifindex != 0 ? 4 : 0);
      if (score > best_score) {
        best = i;
        best_score = score;
      }
    }
    return best;
  }

  void collect_listeners() {
    for (const Listener& l : s_.listeners) {
      if (l.socket.port == q_.port && l.socket.protocol == q_.protocol && l.socket.listening()) {
        d_.listeners.push_back(l);
      }
    }
  }

  void find_loopback() {
    for (const Link& l : s_.links) {
      if ((l.flags & IFF_LOOPBACK) != 0) {
        lo_ = l.ifindex;
        return;
      }
    }
  }

  static IpAddr address_of(const Address& a) { return a.local ? *a.local : a.address.value_or(IpAddr{}); }

  // An address of this host: assigned to an interface, or inside a loopback
  // prefix (127.0.0.0/8 on lo answers for 127.0.0.2 too).
  std::optional<int> local_interface(const IpAddr& addr) const {
    for (const Address& a : s_.addresses) {
      if (address_of(a) == addr) return a.ifindex;
    }
    for (const Address& a : s_.addresses) {
      const Link* l = link(a.ifindex);
      if (l == nullptr || (l->flags & IFF_LOOPBACK) == 0 || a.family != addr.family) continue;
      const IpAddr base = address_of(a);
      const unsigned bits = a.prefixlen;
      bool match = true;
      for (unsigned b = 0; b < bits && match; ++b) {
        const unsigned mask = 0x80U >> (b % 8);
        match = (base.bytes[b / 8] & mask) == (addr.bytes[b / 8] & mask);
      }
      if (match) return a.ifindex;
    }
    return std::nullopt;
  }

  void add_endpoint(const IpAddr& addr, int ifindex, bool from_host, unsigned prefixlen = 0) {
    for (Endpoint& e : d_.endpoints) {
      if (e.address == addr) {
        e.from_host = e.from_host || from_host;
        return;
      }
    }
    Endpoint e;
    e.address = addr;
    e.interface = link_name(ifindex);
    e.from_host = from_host;
    const auto local_taker = taker(addr, lo_.value_or(ifindex));
    e.local = local_taker.has_value();
    const Link* l = link(ifindex);
    const auto remote_taker = taker(addr, ifindex);
    // From another host: the packet must arrive, on an interface that is up
    // and has a carrier, for an address that is not loopback.
    e.remote = !addr.is_loopback() && is_up(l) && has_carrier(l) && remote_taker.has_value();
    e.listener = local_taker ? local_taker : remote_taker;
    // A DNAT or redirect rule sends the packet elsewhere before any socket
    // here sees it (a published container port, a port redirect).
    FwPacket from_outside;
    from_outside.family = addr.family;
    from_outside.protocol = q_.protocol;
    from_outside.daddr = addr;
    from_outside.dport = q_.port;
    from_outside.saddr = addr;  // a client anywhere on the address's network
    from_outside.saddr_len = prefixlen;
    from_outside.iifname = link_name(ifindex);
    from_outside.iif = ifindex;
    if (!addr.is_loopback() && is_up(l) && has_carrier(l)) {
      if (auto fwd = find_port_forward(s_.firewall, "prerouting", from_outside)) {
        e.remote = forwarded(*fwd, from_outside, ifindex);
        d_.endpoints.push_back(std::move(e));
        return;
      }
    }
    // The packet filter, where the socket would take the connection.
    if (e.remote.value_or(false)) {
      const FwResult r = evaluate_hook(s_.firewall, "input", from_outside);
      if (r.decision == FwDecision::unknown) {
        e.remote = std::nullopt;
        note_firewall(r, addr, ifindex, false);
      } else if (r.decision != FwDecision::accept) {
        e.remote = false;
        note_firewall(r, addr, ifindex, false);
      }
    }
    if (e.local && s_.firewall.read) {
      FwPacket p;
      p.family = addr.family;
      p.protocol = q_.protocol;
      p.daddr = addr;
      p.dport = q_.port;
      p.saddr = addr;
      p.saddr_len = addr.bits();
      p.iifname = lo_ ? link_name(*lo_) : "lo";
      p.iif = lo_.value_or(1);
      const FwResult r = evaluate_hook(s_.firewall, "input", p);
      if (r.decision == FwDecision::drop || r.decision == FwDecision::reject) {
        e.local = false;
        note_firewall(r, addr, ifindex, true);
      }
    }
    d_.endpoints.push_back(std::move(e));
  }

  // ---- port forwarding ----

  static bool prefix_covers(const IpAddr& net, unsigned len, const IpAddr& a) {
    if (net.family != a.family) return false;
    for (unsigned b = 0; b < len; ++b) {
      const unsigned mask = 0x80U >> (b % 8);
      if ((net.bytes[b / 8] & mask) != (a.bytes[b / 8] & mask)) return false;
    }
    return true;
  }

  static IpAddr network_of(const IpAddr& a, unsigned len) {
    IpAddr n = a;
    for (unsigned b = len; b < a.bits(); ++b) n.bytes[b / 8] &= static_cast<std::uint8_t>(~(0x80U >> (b % 8)));
    return n;
  }

  bool forwarding_seen_ = false;

  // Where a DNAT rule sends a packet from another host, does it get taken?
  std::optional<bool> forwarded(const FwForward& f, const FwPacket& p, int ifindex) {
    forwarding_seen_ = true;
    const std::string what = fmt::format("{} port {}", proto_name(q_.protocol), q_.port);
    const std::string rule = rule_text(f.rule);
    const std::string dest = endpoint_text(f.to, f.port);
    // To this host itself (a redirect, or a DNAT to one of its addresses).
    if (auto local_if = local_interface(f.to)) {
      for (const Listener& l : s_.listeners) {
        if (l.socket.port == f.port && l.socket.protocol == q_.protocol && l.socket.listening() &&
            covers(l, f.to, ifindex)) {
          add_forward_finding(Severity::info,
                              fmt::format("Connections to {} are redirected ({}) to {}, where {} listens on {}.", what,
                                          rule, dest, owner_text(l), listener_text(l)),
                              std::nullopt);
          return true;
        }
      }
      add_forward_finding(Severity::error,
                          fmt::format("Connections to {} are redirected ({}) to {}, where nothing takes them.", what,
                                      rule, dest),
                          fmt::format("start the server on port {}, or fix the redirect", f.port));
      return false;
    }
    // Through this host to another namespace or machine: forwarding must be
    // on, the forward hook (not input) must let it through, and something
    // must listen there.
    const auto fwd_sysctl = s_.sysctls.find(f.to.family == Family::inet ? "net.ipv4.ip_forward"
                                                                         : "net.ipv6.conf.all.forwarding");
    if (fwd_sysctl != s_.sysctls.end() && fwd_sysctl->second == 0) {
      add_forward_finding(Severity::error,
                          fmt::format("Connections to {} are forwarded ({}) to {}, but this host does not forward "
                                      "packets ({} is 0).",
                                      what, rule, dest, fwd_sysctl->first),
                          fmt::format("sysctl -w {}=1", fwd_sysctl->first));
      return false;
    }
    FwPacket through = p;
    through.daddr = f.to;
    through.dport = f.port;
    const FwResult fr = evaluate_hook(s_.firewall, "forward", through);
    if (fr.decision != FwDecision::accept) {
      note_firewall(fr, p.daddr, ifindex, false);
      if (fr.decision == FwDecision::unknown) return std::nullopt;
      return false;
    }
    const ForeignAddress* owner = nullptr;
    for (const ForeignAddress& a : s_.other_netns_addresses) {
      if (a.address == f.to) owner = &a;
    }
    if (owner == nullptr) {
      add_forward_finding(Severity::info,
                          fmt::format("Connections to {} are forwarded ({}) to {}, which is not in a network "
                                      "namespace of this host: whether it listens there can't be seen from here.",
                                      what, rule, dest),
                          std::nullopt);
      return std::nullopt;
    }
    // Replies go back to the client from inside that namespace: it needs a
    // route to the client's network (Docker gives containers a default route).
    const bool route_back = std::any_of(owner->routes.begin(), owner->routes.end(), [&](const auto& r) {
      return r.first.family == p.saddr.family && r.second <= std::max(p.saddr_len, 0U) &&
             prefix_covers(r.first, r.second, p.saddr);
    });
    if (!route_back) {
      add_forward_finding(Severity::error,
                          fmt::format("Connections to {} are forwarded ({}) to {} in network namespace {}, but that "
                                      "namespace has no route back to clients on {}/{}: replies never leave it.",
                                      what, rule, dest, owner->netns, network_of(p.saddr, p.saddr_len).to_string(),
                                      p.saddr_len),
                          fmt::format("give the namespace a default route via this host (ip -n {} route add default "
                                      "via ADDRESS-OF-THIS-HOST), or masquerade forwarded traffic",
                                      owner->netns))
          .netns = owner->netns;
      return false;
    }
    const Listener* seen = nullptr;
    for (const ForeignListener& fl : s_.other_netns) {
      const Listener& l = fl.listener;
      if (fl.netns != owner->netns || l.socket.port != f.port || l.socket.protocol != q_.protocol ||
          !l.socket.listening()) {
        continue;
      }
      Listener any_dev = l;
      any_dev.socket.bound_ifindex = 0;
      if (covers(any_dev, f.to, 0)) {
        add_forward_finding(Severity::info,
                            fmt::format("Connections to {} are forwarded ({}) to {} in network namespace {}, where {} "
                                        "listens on {}; forwarded packets pass the forward hook, not input, so "
                                        "input rules for port {} do not apply to them.",
                                        what, rule, dest, owner->netns, owner_text(l), listener_text(l), q_.port),
                            std::nullopt);
        return true;
      }
      seen = &l;
    }
    if (seen != nullptr) {
      Finding& f2 = add_forward_finding(
          Severity::error,
          fmt::format("Connections to {} are forwarded ({}) to {} in network namespace {}, but {} listens on {} only "
                      "there: forwarded connections are refused.",
                      what, rule, dest, owner->netns, owner_text(*seen), listener_text(*seen)),
          fix_to_listen_everywhere(*seen, f.port));
      f2.netns = owner->netns;
      if (const Process* pr = main_process(*seen)) f2.pid = pr->pid;
      return false;
    }
    add_forward_finding(Severity::error,
                        fmt::format("Connections to {} are forwarded ({}) to {} in network namespace {}, where nothing "
                                    "listens on port {}.",
                                    what, rule, dest, owner->netns, f.port),
                        fmt::format("start the server in that namespace on port {}, or fix the DNAT rule", f.port))
        .netns = owner->netns;
    return false;
  }

  Finding& add_forward_finding(Severity sev, std::string message, std::optional<std::string> fix) {
    for (Finding& f : d_.findings) {
      if (f.code == "port-forward" && f.message == message) return f;
    }
    Finding& f = add("port-forward", sev, std::move(message), std::move(fix));
    f.port = q_.port;
    return f;
  }

  // ---- the firewall ----

  struct FwHit {
    FwResult result;
    std::vector<std::string> addresses;  // "10.0.0.5 (eth0)"
    bool local = false;                  // on this host's own (loopback) path
  };
  std::vector<FwHit> fw_hits_;

  void note_firewall(const FwResult& r, const IpAddr& addr, int ifindex, bool local) {
    const std::string where = fmt::format("{} ({})", addr.to_string(), link_name(ifindex));
    for (FwHit& h : fw_hits_) {
      const bool same_rule = h.result.rule && r.rule && h.result.rule->handle == r.rule->handle &&
                             h.result.rule->table == r.rule->table && h.result.rule->family == r.rule->family;
      const bool same_policy = !h.result.rule && !r.rule && h.result.chain == r.chain;
      if (h.result.decision == r.decision && h.local == local && (same_rule || same_policy)) {
        h.addresses.push_back(where);
        return;
      }
    }
    fw_hits_.push_back({r, {where}, local});
  }

  static std::string rule_text(const FwRule& r) {
    return fmt::format("table {} {}, chain {}, rule {}{}", r.family, r.table, r.chain, r.handle,
                       r.text.empty() ? "" : ": " + r.text);
  }

  std::string firewall_fix(const FwResult& r) const {
    const std::string proto = q_.protocol == Protocol::tcp ? "tcp" : "udp";
    const FwChain* where = nullptr;
    FwChain chain;
    if (r.rule) {
      chain.family = r.rule->family;
      chain.table = r.rule->table;
      chain.name = r.rule->chain;
      where = &chain;
    } else if (r.chain) {
      where = &*r.chain;
    }
    if (where == nullptr) return "allow the port in the firewall";
    if (where->table.rfind("ufw", 0) == 0 || where->name.find("ufw") != std::string::npos) {
      return fmt::format("ufw allow {}/{}", q_.port, proto);
    }
    if (where->table == "firewalld") {
      return fmt::format("firewall-cmd --add-port={}/{} && firewall-cmd --runtime-to-permanent", q_.port, proto);
    }
    if (r.rule) {
      return fmt::format("nft insert rule {} {} {} position {} {} dport {} accept (or nft delete rule {} {} {} "
                         "handle {} if the rule is not wanted)",
                         where->family, where->table, where->name, r.rule->handle, proto, q_.port, where->family,
                         where->table, where->name, r.rule->handle);
    }
    return fmt::format("nft add rule {} {} {} {} dport {} accept", where->family, where->table, where->name, proto,
                       q_.port);
  }

  void explain_firewall() {
    for (const FwHit& h : fw_hits_) {
      std::string list;
      for (std::size_t i = 0; i < h.addresses.size() && i < 4; ++i) list += (i == 0 ? "" : ", ") + h.addresses[i];
      if (h.addresses.size() > 4) list += fmt::format(" and {} more", h.addresses.size() - 4);
      const std::string who = h.local ? "from this host" : "from other hosts";
      const std::string what = fmt::format("{} port {}", proto_name(q_.protocol), q_.port);
      if (h.result.decision == FwDecision::unknown) {
        Finding& f = add("firewall-unknown", Severity::warning,
                         h.result.rule
                             ? fmt::format("Whether the firewall lets {} in {} to {} is unknown: {} could decide, and "
                                           "{}.",
                                           what, who, list, rule_text(*h.result.rule), h.result.why)
                             : fmt::format("Whether the firewall lets {} in {} to {} is unknown: {}.", what, who, list,
                                           h.result.why),
                         h.result.rule ? "check that rule by hand (nft -a list ruleset)"
                                       : "run netwhy as root to read the firewall (nft list ruleset needs CAP_NET_ADMIN)");
        if (h.result.rule) f.rule = rule_text(*h.result.rule);
        continue;
      }
      const bool drop = h.result.decision == FwDecision::drop;
      std::string by;
      if (h.result.rule) {
        by = rule_text(*h.result.rule);
      } else if (h.result.chain) {
        by = fmt::format("the {} policy of table {} {}, chain {}", h.result.chain->policy, h.result.chain->family,
                         h.result.chain->table, h.result.chain->name);
      }
      const std::string rt = h.result.rule ? h.result.rule->reject_type : "";
      const bool no_route = rt.find("host-unreachable") != std::string::npos ||
                            rt.find("admin-prohibited") != std::string::npos ||
                            rt.find("net-unreachable") != std::string::npos;
      const std::string seen = drop ? "clients time out" : no_route ? "clients see \"No route to host\""
                                                                    : "clients see \"connection refused\"";
      Finding& f = add(drop ? "firewall-drop" : "firewall-reject", Severity::error,
                       fmt::format("The firewall {} {} {} to {} ({}): {}.", drop ? "drops" : "rejects", what, who,
                                   list, by, seen),
                       firewall_fix(h.result));
      if (h.result.rule) f.rule = rule_text(*h.result.rule);
    }
  }

  bool remote_unknown() const {
    return std::any_of(d_.endpoints.begin(), d_.endpoints.end(),
                       [](const Endpoint& e) { return e.interface && !e.address.is_loopback() && !e.remote; });
  }

  void build_endpoints() {
    for (const Address& a : s_.addresses) add_endpoint(address_of(a), a.ifindex, false, a.prefixlen);
    for (const IpAddr& addr : q_.addresses) {
      if (auto ifindex = local_interface(addr)) {
        add_endpoint(addr, *ifindex, true);
        continue;
      }
      Endpoint e;  // not an address of this host: what the probe found
      e.address = addr;
      e.from_host = true;
      e.remote = std::nullopt;
      const Probe* p = probe_for(addr);
      e.local = p != nullptr && p->result == ProbeResult::ok;
      d_.endpoints.push_back(std::move(e));
    }
  }

  const Probe* probe_for(const IpAddr& addr) const {
    for (const Probe& p : s_.probes) {
      if (p.address == addr && p.port == q_.port) return &p;
    }
    return nullptr;
  }

  // The kernel's answer when netwhy could ask it; for a snapshot from
  // another host, the longest matching route of its main tables.
  std::optional<RouteLookup> route_for(const IpAddr& addr) const {
    for (const RouteLookup& r : s_.route_lookups) {
      if (r.address == addr) return r;
    }
    if (s_.routes.empty()) return std::nullopt;
    const Route* best = nullptr;
    for (const Route& rt : s_.routes) {
      if (rt.family != addr.family) continue;
      const IpAddr dst = rt.dst.value_or(IpAddr{addr.family, {}});
      if (!prefix_covers(dst, rt.dst_len, addr)) continue;
      if (best == nullptr || rt.dst_len > best->dst_len ||
          (rt.dst_len == best->dst_len && rt.priority.value_or(0) < best->priority.value_or(0))) {
        best = &rt;
      }
    }
    RouteLookup out;
    out.address = addr;
    if (best != nullptr && best->type == RTN_UNICAST) {
      out.route = *best;
    } else {
      out.error = EHOSTUNREACH;
    }
    return out;
  }

  Finding& add(std::string code, Severity sev, std::string message, std::optional<std::string> fix = std::nullopt) {
    Finding f;
    f.code = std::move(code);
    f.severity = sev;
    f.message = std::move(message);
    f.fix = std::move(fix);
    d_.findings.push_back(std::move(f));
    return d_.findings.back();
  }

  bool has_error() const {
    return std::any_of(d_.findings.begin(), d_.findings.end(),
                       [](const Finding& f) { return f.severity == Severity::error; });
  }

  bool has_finding(std::string_view code) const {
    return std::any_of(d_.findings.begin(), d_.findings.end(), [&](const Finding& f) { return f.code == code; });
  }

  // ---- nothing listens ----

  void explain_not_listening() {
    add("not-listening", Severity::error,
        fmt::format("Nothing listens on {} port {} in this network namespace.", proto_name(q_.protocol), q_.port),
        fmt::format("start the server on port {}, or check the port it was told to use", q_.port));
    explain_port_mismatch();
    for (const TimeWait& t : s_.time_wait) {
      if (t.port == q_.port && t.protocol == q_.protocol && t.count > 0) {
        add("time-wait-only", Severity::info,
            fmt::format("{} connection{} to port {} {} still in TIME_WAIT: a server was here and stopped recently.",
                        t.count, t.count == 1 ? "" : "s", q_.port, t.count == 1 ? "is" : "are"),
            "check why the server exited (its log, journalctl, or the terminal it ran in) and start it again")
            .port = q_.port;
      }
    }
    const auto it = s_.sysctls.find("net.ipv4.ip_unprivileged_port_start");
    const std::int64_t start = it != s_.sysctls.end() ? it->second : default_unprivileged_port_start;
    if (q_.port < start) {
      add("privileged-port", Severity::warning,
          fmt::format("Port {} is below net.ipv4.ip_unprivileged_port_start ({}): a server started without root or "
                      "CAP_NET_BIND_SERVICE cannot bind it.",
                      q_.port, start),
          fmt::format("run the server as root, or grant it the capability (setcap cap_net_bind_service=+ep "
                      "/path/to/program), or use a port of {} or more behind a proxy",
                      start))
          .port = q_.port;
    }
    for (const ForeignListener& f : s_.other_netns) {
      const Listener& l = f.listener;
      if (l.socket.port != q_.port || l.socket.protocol != q_.protocol || !l.socket.listening()) continue;
      Finding& fd = add("other-netns", Severity::warning,
                        fmt::format("{} listens on {} in another network namespace ({}), not in this one: a container "
                                    "or namespace has the server.",
                                    owner_text(l), listener_text(l), f.netns),
                        fmt::format("connect to that namespace's address, publish the port to this one (docker run "
                                    "-p {0}:{0} ...), or look inside with netwhy -n {1} port {0}",
                                    q_.port, f.netns.rfind("pid:", 0) == 0 ? f.netns : f.netns));
      fd.netns = f.netns;
      if (const Process* p = main_process(l)) fd.pid = p->pid;
      fd.port = q_.port;
    }
  }

  void explain_port_mismatch() {
    struct Near {
      const Listener* l;
      int distance;
    };
    std::vector<Near> near;
    std::set<std::uint16_t> seen;
    for (const Listener& l : s_.listeners) {
      if (l.socket.protocol != q_.protocol || !l.socket.listening() || l.socket.port == q_.port) continue;
      const int distance = std::abs(static_cast<int>(l.socket.port) - static_cast<int>(q_.port));
      if (distance <= 100 || is_typical(l)) near.push_back({&l, distance});
    }
    std::sort(near.begin(), near.end(), [](const Near& a, const Near& b) {
      return a.distance != b.distance ? a.distance < b.distance : a.l->socket.port < b.l->socket.port;
    });
    std::vector<std::string> named;
    for (const Near& n : near) {
      if (!seen.insert(n.l->socket.port).second) continue;
      named.push_back(fmt::format("{} on {}", owner_text(*n.l), listener_text(*n.l)));
      if (named.size() == 3) break;
    }
    if (named.empty()) return;
    std::string list;
    for (std::size_t i = 0; i < named.size(); ++i) {
      list += (i == 0 ? "" : i + 1 == named.size() ? " and " : ", ") + named[i];
    }
    Finding& f = add("port-mismatch", Severity::warning,
                     fmt::format("Nothing is on port {}, but {} listen{} nearby: {}.", q_.port,
                                 named.size() == 1 ? "one server" : "servers", named.size() == 1 ? "s" : "", list),
                     fmt::format("connect to the port the server really uses, or start it with port {}", q_.port));
    f.port = near.front().l->socket.port;
    if (const Process* p = main_process(*near.front().l)) f.pid = p->pid;
  }

  // A program that usually serves the asked port (5000: Flask, 8000:
  // gunicorn/Django, ...) listening elsewhere is named even when far away.
  bool is_typical(const Listener& l) const {
    static const std::map<std::uint16_t, std::vector<std::string_view>> typical = {
        {80, {"nginx", "apache2", "httpd", "caddy", "lighttpd"}},
        {443, {"nginx", "apache2", "httpd", "caddy"}},
        {3000, {"node", "ruby", "puma"}},
        {5000, {"python", "flask", "gunicorn"}},
        {5432, {"postgres"}},
        {3306, {"mysqld", "mariadbd"}},
        {6379, {"redis-server"}},
        {8000, {"python", "gunicorn", "uvicorn", "node"}},
        {8080, {"java", "node", "python"}},
        {9090, {"java", "prometheus"}},
        {27017, {"mongod"}}};
    const auto it = typical.find(q_.port);
    if (it == typical.end()) return false;
    const Process* p = main_process(l);
    if (p == nullptr) return false;
    return std::any_of(it->second.begin(), it->second.end(),
                       [&](std::string_view name) { return p->comm.rfind(name, 0) == 0; });
  }

  // ---- something listens ----

  void explain_listeners() {
    const bool any_remote = std::any_of(d_.endpoints.begin(), d_.endpoints.end(), [](const Endpoint& e) {
      return e.interface && e.remote.value_or(false);
    });
    // Loopback only
    const bool all_loopback = std::all_of(d_.listeners.begin(), d_.listeners.end(), [](const Listener& l) {
      return l.socket.local.is_loopback() || (l.interface && l.interface == "lo");
    });
    if (all_loopback) {
      const Listener& l = d_.listeners.front();
      Finding& f = add("bound-to-loopback", Severity::error,
                       fmt::format("{} listens on {} only: other machines can't connect, only this host can.",
                                   owner_text(l), listener_text(l)),
                       fix_to_listen_everywhere(l, q_.port));
      if (const Process* p = main_process(l)) f.pid = p->pid;
      f.address = l.socket.local.to_string();
    }
    for (const Listener& l : d_.listeners) {
      const Socket& sk = l.socket;
      const Process* owner = main_process(l);
      // Bound to an address no interface has.
      if (!sk.local.is_unspecified() && !sk.local.is_loopback() && !local_interface(sk.local)) {
        Finding& f = add("address-not-local", Severity::error,
                         fmt::format("{} listens on {}, an address no interface here has: nobody can connect to it.",
                                     owner_text(l), listener_text(l)),
                         fmt::format("add {} to an interface, or make the server listen on an address this host has "
                                     "(or 0.0.0.0)",
                                     sk.local.to_string()));
        f.address = sk.local.to_string();
        if (owner != nullptr) f.pid = owner->pid;
      }
      // Bound to one address of several.
      if (!sk.local.is_unspecified() && !sk.local.is_loopback() && !all_loopback) {
        std::vector<std::string> missed;
        for (const Endpoint& e : d_.endpoints) {
          if (!e.interface || e.address.is_loopback() || e.address.family != sk.family || e.listener) continue;
          if (e.address.family == Family::inet6 && (e.address.bytes[0] == 0xfe && (e.address.bytes[1] & 0xc0) == 0x80)) {
            continue;  // link-local addresses are rarely what anyone means
          }
          missed.push_back(fmt::format("{} ({})", e.address.to_string(), *e.interface));
        }
        if (!missed.empty()) {
          std::string list;
          for (std::size_t i = 0; i < missed.size() && i < 4; ++i) list += (i == 0 ? "" : ", ") + missed[i];
          if (missed.size() > 4) list += fmt::format(" and {} more", missed.size() - 4);
          Finding& f = add("bound-to-other-address", any_remote ? Severity::info : Severity::warning,
                           fmt::format("{} listens on {} only: connections to {} are refused.", owner_text(l),
                                       listener_text(l), list),
                           fix_to_listen_everywhere(l, q_.port));
          f.address = sk.local.to_string();
          if (owner != nullptr) f.pid = owner->pid;
        }
      }
      // v6only wildcard with no IPv4 listener beside it.
      if (sk.family == Family::inet6 && sk.local.is_unspecified() && v6only(sk)) {
        const bool v4_covered = std::any_of(d_.listeners.begin(), d_.listeners.end(), [&](const Listener& o) {
          return o.socket.family == Family::inet;
        });
        if (!v4_covered) {
          Finding& f = add("v6only", Severity::warning,
                           fmt::format("{} listens on {} with IPV6_V6ONLY: IPv4 clients are refused.", owner_text(l),
                                       listener_text(l)),
                           "turn IPV6_V6ONLY off in the server (or sysctl net.ipv6.bindv6only=0 before it starts), or "
                           "make it listen on 0.0.0.0 as well");
          if (owner != nullptr) f.pid = owner->pid;
        }
      }
      // Accept queue
      if (sk.protocol == Protocol::tcp && sk.queued && sk.backlog && *sk.backlog > 0 && *sk.queued >= *sk.backlog) {
        Finding& f = add("accept-queue-full", Severity::warning,
                         fmt::format("{}'s accept queue on {} is full ({} waiting, backlog {}): new connections are "
                                     "dropped or time out.",
                                     owner_text(l), listener_text(l), *sk.queued, *sk.backlog),
                         "the server is not calling accept() fast enough: look for a stuck or overloaded process, "
                         "add workers, or raise the listen() backlog (and net.core.somaxconn)");
        if (owner != nullptr) f.pid = owner->pid;
      }
      // Owner unknown
      if (l.processes.empty()) {
        std::string why = "it may belong to the kernel or have been passed to a process that exited";
        if (!s_.gaps.root || s_.gaps.unreadable_processes > 0) {
          why = fmt::format("netwhy is not root and could not look into {} process{}",
                            s_.gaps.unreadable_processes, s_.gaps.unreadable_processes == 1 ? "" : "es");
        }
        if (s_.gaps.hidepid) why = "/proc is mounted with hidepid, which hides other users' processes";
        add("process-unknown", Severity::warning,
            fmt::format("The process holding {} can't be seen: {}.", listener_text(l), why),
            "run netwhy as root (sudo netwhy port ...) to see it");
      }
    }
    const auto over = s_.counters.find("TcpExt.ListenOverflows");
    const auto drops = s_.counters.find("TcpExt.ListenDrops");
    const std::uint64_t o = over != s_.counters.end() ? over->second : 0;
    const std::uint64_t dr = drops != s_.counters.end() ? drops->second : 0;
    if (q_.protocol == Protocol::tcp && (o > 0 || dr > 0) && !has_finding("accept-queue-full")) {
      add("accept-queue-full", Severity::info,
          fmt::format("The kernel has counted {} listen overflow{} and {} listen drop{} since boot (all listeners "
                      "together): some listener's accept queue has overflowed.",
                      o, o == 1 ? "" : "s", dr, dr == 1 ? "" : "s"),
          "watch ss -ltn (Recv-Q against Send-Q) while the problem happens");
    }
  }

  // ---- --host ----

  void explain_host() {
    if (!q_.host) return;
    const std::string host = *q_.host;
    bool any_local = false;
    std::optional<std::size_t> first_ok;
    for (std::size_t i = 0; i < q_.addresses.size(); ++i) {
      const IpAddr& addr = q_.addresses[i];
      const Endpoint* e = endpoint(addr);
      if (e == nullptr) continue;
      if (e->interface) {
        any_local = true;
        if (e->local && !first_ok) first_ok = i;
        continue;
      }
      explain_remote(addr);
      if (e->local && !first_ok) first_ok = i;
    }
    if (q_.addresses.empty() || d_.listeners.empty() || !any_local) return;
    // HOST is this host: which of its addresses does a listener take?
    const IpAddr& first = q_.addresses.front();
    if (first_ok && *first_ok != 0 && local_interface(first)) {
      add("family-mismatch", Severity::warning,
          fmt::format("{} resolves to {} first, and nothing here takes {}; clients that try it first (curl, "
                      "browsers) must fall back to {}, and those that don't fall back fail.",
                      host, first.to_string(), endpoint_text(first, q_.port),
                      q_.addresses[*first_ok].to_string()),
          fmt::format("listen on {} as well (a dual-stack [::]:{} takes both), or connect to {} instead of {}",
                      first.family == Family::inet6 ? "::1 or ::" : "127.0.0.1 or 0.0.0.0", q_.port,
                      q_.addresses[*first_ok].to_string(), host))
          .address = first.to_string();
      return;
    }
    if (first_ok) return;
    // None of HOST's addresses is taken: say why, once, for the first one here.
    for (const IpAddr& addr : q_.addresses) {
      if (!local_interface(addr)) continue;
      const auto same_family = std::find_if(d_.listeners.begin(), d_.listeners.end(), [&](const Listener& l) {
        return l.socket.family == addr.family || (addr.family == Family::inet && l.socket.local.is_unspecified());
      });
      if (same_family == d_.listeners.end()) {
        const Listener& l = d_.listeners.front();
        add("family-mismatch", Severity::error,
            fmt::format("{} resolves to {}, but {} listens only on {}: nothing takes {} connections.", host,
                        addr.to_string(), owner_text(l), listener_text(l),
                        addr.family == Family::inet6 ? "IPv6" : "IPv4"),
            fmt::format("connect to {} instead, or make the server listen on {}", l.socket.local.to_string(),
                        addr.family == Family::inet6 ? ":: (both families)" : "0.0.0.0"))
            .address = addr.to_string();
        return;
      }
      // It listens in that family, on another address: the finding may be
      // there already (without --host it was a warning); now it is the error.
      for (Finding& f : d_.findings) {
        if (f.code == "bound-to-other-address" || f.code == "bound-to-loopback" || f.code == "v6only") {
          f.severity = Severity::error;
          return;
        }
      }
      const Listener& l = *same_family;
      Finding& f = add("bound-to-other-address", Severity::error,
                       fmt::format("{} listens on {} only, not on {}, which {} resolves to.", owner_text(l),
                                   listener_text(l), addr.to_string(), host),
                       fix_to_listen_everywhere(l, q_.port));
      f.address = l.socket.local.to_string();
      if (const Process* p = main_process(l)) f.pid = p->pid;
      return;
    }
  }

  const Endpoint* endpoint(const IpAddr& addr) const {
    for (const Endpoint& e : d_.endpoints) {
      if (e.address == addr) return &e;
    }
    return nullptr;
  }

  void explain_remote(const IpAddr& addr) {
    const std::optional<RouteLookup> r = route_for(addr);
    const std::string where = endpoint_text(addr, q_.port);
    if (r && !r->route) {
      Finding& f = add("no-route", Severity::error,
                       fmt::format("There is no route to {} from here{}.", addr.to_string(),
                                   r->error != 0 ? fmt::format(" ({})", std::strerror(r->error)) : ""),
                       "add a route (or a default gateway) to that network, or check the address");
      f.address = addr.to_string();
      return;
    }
    std::string via;
    if (r && r->route) {
      const Route& rt = *r->route;
      if (rt.gateway) via += " via " + rt.gateway->to_string();
      if (rt.oif) via += " dev " + link_name(*rt.oif);
      if (rt.prefsrc) via += " src " + rt.prefsrc->to_string();
      if (rt.oif) {
        const Link* out = link(*rt.oif);
        if (out != nullptr && !is_up(out)) {
          add("interface-down", Severity::error,
              fmt::format("The route to {} leaves through {}, which is down.", addr.to_string(), link_name(*rt.oif)),
              fmt::format("ip link set {} up", link_name(*rt.oif)))
              .interface = link_name(*rt.oif);
        } else if (out != nullptr && !has_carrier(out)) {
          add("no-carrier", Severity::error,
              fmt::format("The route to {} leaves through {}, which has no carrier (NO-CARRIER).", addr.to_string(),
                          link_name(*rt.oif)),
              "check the cable, or the other end of the link (a veth peer, a bridge's ports)")
              .interface = link_name(*rt.oif);
        }
      }
    }
    const Probe* p = probe_for(addr);
    if (p == nullptr && q_.protocol == Protocol::udp) {
      add("address-not-local", Severity::info,
          fmt::format("{} is not an address of this host{}; UDP has no handshake, so netwhy cannot test {} by "
                      "connecting: only an answer from the server would tell.",
                      addr.to_string(), via.empty() ? "" : ": the route goes" + via, where),
          fmt::format("run netwhy port {} --udp on that host, or send a request the server answers", q_.port))
          .address = addr.to_string();
      return;
    }
    if (p == nullptr) {
      add("address-not-local", Severity::info,
          fmt::format("{} is not an address of this host{}; netwhy did not try to connect to {}{}.", addr.to_string(),
                      via.empty() ? "" : ": the route goes" + via, where,
                      q_.probed ? "" : " (--no-probe)"),
          fmt::format("run netwhy port {} on that host, or drop --no-probe to test the connection from here", q_.port))
          .address = addr.to_string();
      return;
    }
    const std::string route_note = via.empty() ? "" : " (route" + via + ")";
    Finding f;
    f.address = addr.to_string();
    switch (p->result) {
      case ProbeResult::ok:
        f.code = "connection-ok";
        f.severity = Severity::info;
        f.message = fmt::format("Connecting to {}{} worked ({:.0f} ms).", where, route_note,
                                p->millis);
        break;
      case ProbeResult::refused:
        f.code = "connection-refused";
        f.severity = Severity::error;
        f.message = fmt::format("Connecting to {}{} was refused: the host is up, but nothing listens there on port {}, "
                                "or a firewall rejects it.",
                                where, route_note, q_.port);
        f.fix = fmt::format("on {}, run netwhy port {} to see why", addr.to_string(), q_.port);
        break;
      case ProbeResult::timeout:
        f.code = "connection-timeout";
        f.severity = Severity::error;
        f.message = fmt::format("Connecting to {}{} timed out after {:.0f} ms: packets are dropped on the way (a "
                                "firewall), or the host is down.",
                                where, route_note, p->millis);
        f.fix = "check the firewalls between here and there (nft list ruleset on both ends), and that the host is up";
        break;
      case ProbeResult::unreachable:
      case ProbeResult::error:
        f.code = p->result == ProbeResult::unreachable ? "no-route" : "connection-refused";
        f.severity = Severity::error;
        f.message = fmt::format("Connecting to {} failed: {}.", where, p->error != 0 ? std::strerror(p->error) : "error");
        f.fix = "check the route and the address";
        break;
    }
    d_.findings.push_back(std::move(f));
  }

  // ---- interfaces under the addresses that matter ----

  void explain_interfaces() {
    std::set<int> reported;
    for (const Address& a : s_.addresses) {
      const IpAddr addr = address_of(a);
      const Endpoint* e = endpoint(addr);
      if (e == nullptr) continue;
      const bool matters = (e->listener.has_value() || e->from_host) && !addr.is_loopback();
      if (!matters || reported.count(a.ifindex) != 0) continue;
      const Link* l = link(a.ifindex);
      if (l == nullptr || (l->flags & IFF_LOOPBACK) != 0) continue;
      const std::string name = link_name(a.ifindex);
      if (!is_up(l)) {
        reported.insert(a.ifindex);
        Finding& f = add("interface-down", Severity::error,
                         fmt::format("{} is down (administratively): {} and any other address on it can't be reached "
                                     "from other hosts.",
                                     name, addr.to_string()),
                         fmt::format("ip link set {} up", name));
        f.interface = name;
        f.address = addr.to_string();
      } else if (!has_carrier(l)) {
        reported.insert(a.ifindex);
        Finding& f = add("no-carrier", Severity::error,
                         fmt::format("{} is up but has no carrier (NO-CARRIER): no packet from another host can arrive "
                                     "for {}.",
                                     name, addr.to_string()),
                         l->kind == "bridge"
                             ? "add a port to the bridge and bring it up (ip link set DEV master " + name + " up)"
                             : std::string("check the cable or the other end of the link (a veth peer must be up)"));
        f.interface = name;
        f.address = addr.to_string();
      }
    }
  }

  // ---- verdict ----

  void decide() {
    if (q_.host && !q_.addresses.empty()) {
      bool any_ok = false;
      bool all_local = true;
      for (const IpAddr& addr : q_.addresses) {
        const Endpoint* e = endpoint(addr);
        if (e == nullptr) continue;
        if (!e->interface) all_local = false;
        if (e->local) any_ok = true;
      }
      if (any_ok) {
        d_.verdict = Verdict::reachable;
      } else if (all_local && d_.listeners.empty()) {
        d_.verdict = Verdict::not_listening;
      } else {
        d_.verdict = Verdict::unreachable;
      }
    } else if (std::any_of(d_.endpoints.begin(), d_.endpoints.end(), [](const Endpoint& e) {
                 return e.interface && !e.address.is_loopback() && e.remote.value_or(false);
               })) {
      d_.verdict = Verdict::reachable;  // directly, or through a port forward
    } else if (d_.listeners.empty() && !forwarding_seen_) {
      d_.verdict = Verdict::not_listening;
    } else if (remote_unknown()) {
      d_.verdict = Verdict::unreachable;  // not shown to be reachable: the firewall could not be decided
    } else if (std::any_of(d_.endpoints.begin(), d_.endpoints.end(), [](const Endpoint& e) { return e.local; })) {
      d_.verdict = Verdict::local_only;
    } else {
      d_.verdict = Verdict::unreachable;
    }
    // Asked about a HOST that works: the rest is context, not the problem.
    if (q_.host && d_.verdict == Verdict::reachable) {
      for (Finding& f : d_.findings) {
        if (f.code == "bound-to-loopback" || f.code == "bound-to-other-address") f.severity = Severity::info;
      }
    }
    d_.headline = headline();
  }

  std::string headline() const {
    const std::string what = fmt::format("{} port {}", proto_name(q_.protocol), q_.port);
    if (q_.host) {
      const std::string target = fmt::format("{}:{}", *q_.host, q_.port);
      if (d_.verdict == Verdict::reachable) {
        for (const IpAddr& a : q_.addresses) {
          const Endpoint* e = endpoint(a);
          if (e != nullptr && e->local) {
            return fmt::format("{} is reachable from here (via {})", target, a.to_string());
          }
        }
      }
      if (q_.addresses.empty()) return fmt::format("{} did not resolve to any address", *q_.host);
    }
    if (d_.verdict == Verdict::not_listening) {
      std::string out = fmt::format("Nothing listens on {} here", what);
      for (const Finding& f : d_.findings) {
        if (f.code == "other-netns") return out + "; " + lower_first(f.message);
      }
      return out;
    }
    if (d_.listeners.empty()) {
      for (const Finding& f : d_.findings) {
        if (f.severity == Severity::error) return strip_period(f.message);
      }
      for (const Finding& f : d_.findings) {
        if (f.code == "port-forward") {
          return fmt::format("Nothing listens on {} here, but other machines can connect: {}", what,
                             lower_first(f.message));
        }
      }
      return fmt::format("{}:{} is not reachable", q_.host.value_or("this host"), q_.port);
    }
    const Listener& l = d_.listeners.front();
    switch (d_.verdict) {
      case Verdict::reachable: {
        // The addresses other machines can use; link-local ones only when
        // there is nothing else.
        std::vector<std::string> via;
        std::vector<std::string> link_local;
        for (const Endpoint& e : d_.endpoints) {
          if (!e.interface || !e.remote.value_or(false) || e.address.is_loopback()) continue;
          const bool ll = e.address.family == Family::inet6 && e.address.bytes[0] == 0xfe &&
                          (e.address.bytes[1] & 0xc0) == 0x80;
          (ll ? link_local : via).push_back(fmt::format("{} on {}", e.address.to_string(), *e.interface));
        }
        if (via.empty()) via = std::move(link_local);
        std::string list;
        for (std::size_t i = 0; i < via.size() && i < 3; ++i) list += (i == 0 ? "" : ", ") + via[i];
        if (via.size() > 3) list += ", ...";
        return fmt::format("{} listens on {}: other machines can connect{}", owner_text(l), listener_text(l),
                           list.empty() ? "" : " (" + list + ")");
      }
      case Verdict::local_only:
        return fmt::format("{} listens on {}{}: other machines can't connect", owner_text(l), listener_text(l),
                           l.socket.local.is_loopback() ? " only" : "");
      case Verdict::not_listening:
      case Verdict::unreachable:
        if (remote_unknown() && !has_error()) {
          return fmt::format("{} listens on {}; whether other machines get through the firewall is unknown",
                             owner_text(l), listener_text(l));
        }
        for (const Finding& f : d_.findings) {
          if (f.severity == Severity::error) return strip_period(f.message);
        }
        return fmt::format("{} listens on {}, but it can't be reached", owner_text(l), listener_text(l));
    }
    return {};
  }

  static std::string strip_period(std::string s) {
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }
  static std::string lower_first(std::string s) {
    if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z' && !(s.size() > 1 && s[1] >= 'A' && s[1] <= 'Z')) {
      s[0] = static_cast<char>(s[0] - 'A' + 'a');
    }
    return strip_period(s);
  }

  const Snapshot& s_;
  const Query& q_;
  Diagnosis d_;
  std::optional<int> lo_;
};

}  // namespace

Diagnosis diagnose(const Snapshot& snap, const Query& q) { return Engine(snap, q).run(); }

}  // namespace netwhy
