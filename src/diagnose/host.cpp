// --host: the question a client asks. A loopback HOST is this host's own
// client; a non-loopback address of this host is a client on another host;
// another machine is what the route and the probe from here say.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "engine.hpp"
#include "netwhy/text.hpp"

namespace netwhy::engine {

namespace {

std::string route_words(const Context& c, const Route& rt) {
  std::string via;
  if (rt.gateway) via += " via " + rt.gateway->to_string();
  if (rt.oif) via += " dev " + c.link_name(*rt.oif);
  if (rt.prefsrc) via += " src " + rt.prefsrc->to_string();
  return via;
}

// HOST's address is a container's, on a macvlan or ipvlan child of one of
// this host's interfaces (its parent), and the connect from here got no
// answer: the kernel passes no packet between a host and its own macvlan
// (or ipvlan) children through the parent. Packets for the child leave on
// the wire, which does not send them back, while other machines' packets
// arrive on the parent from outside and are handed to the child. The route
// must be the on-link one through the parent: through a router, or a
// macvlan of this host's own, they get there.
struct StackedChild {
  const ForeignAddress* child = nullptr;
  bool ipvlan = false;
};

std::optional<StackedChild> stacked_child(const Context& c, const IpAddr& addr, const Probe& p,
                                          const std::optional<RouteLookup>& r) {
  if (!unanswered(p)) return std::nullopt;
  for (const ForeignAddress& fa : c.s.other_netns_addresses) {
    if (fa.address != addr || !fa.parent) continue;
    const bool ipvlan = ipvlan_kind(fa.kind);
    if (!macvlan_kind(fa.kind) && !ipvlan) continue;
    const Link* parent = c.link(*fa.parent);
    if (parent == nullptr || !Context::is_up(parent) || !Context::has_carrier(parent)) continue;
    if (r && r->route && (r->route->gateway || r->route->oif != fa.parent)) continue;
    return StackedChild{&fa, ipvlan};
  }
  return std::nullopt;
}

// MACVLAN_MODE_* (linux/if_link.h).
constexpr std::uint32_t macvlan_private = 1;
constexpr std::uint32_t macvlan_vepa = 2;
constexpr std::uint32_t macvlan_bridge = 4;
constexpr std::uint32_t macvlan_passthru = 8;

std::string_view ipvlan_mode_name(std::uint16_t mode) {
  switch (mode) {
    case 0: return "l2";
    case 1: return "l3";
    case 2: return "l3s";
    default: return {};
  }
}

// The name of a new interface: base, or base1, base2... when taken here.
std::string free_link_name(const Context& c, const std::string& base) {
  for (int n = 0;; ++n) {
    const std::string name = n == 0 ? base : fmt::format("{}{}", base, n);
    const bool taken = std::any_of(c.s.links.begin(), c.s.links.end(), [&](const Link& l) { return l.name == name; });
    if (!taken) return name;
  }
}

// The standard way for a host to reach its own macvlan children: a macvlan
// of its own on the same parent, in bridge mode, holding an address of the
// host, and a route to the child through it. For IPv4 the host's own
// address serves (arp_filter keeps the new interface from answering ARP
// for it from the rest of the network); IPv6 answers neighbour
// solicitations per interface, so it takes an address of its own, as
// ipvlan does (an ipvlan child takes every packet for its addresses).
std::string macvlan_host_fix(const Context& c, const StackedChild& sc, const IpAddr& addr,
                             const std::optional<RouteLookup>& r) {
  const ForeignAddress& fa = *sc.child;
  const std::string parent = shell_word(c.link_name(*fa.parent));
  const std::string bits = fmt::format("{}", addr.bits());
  const std::string route = fmt::format("ip route add {}/{} dev ", addr.to_string(), bits);
  if (!sc.ipvlan && fa.macvlan_mode == macvlan_passthru) {
    return fmt::format("a passthru macvlan takes {0} whole: recreate {1} in mode bridge, then give this host a "
                       "macvlan of its own on {0} with a route to {2}; or reach it through another interface or a "
                       "router",
                       parent, shell_word(fa.interface), addr.to_string());
  }
  std::string fix;
  // Private and VEPA macvlans don't reach their siblings either: bridge mode first.
  if (!sc.ipvlan && (fa.macvlan_mode == macvlan_private || fa.macvlan_mode == macvlan_vepa)) {
    const std::string set = fmt::format("link set {} type macvlan mode bridge", shell_word(fa.interface));
    fix = fa.netns.rfind("pid:", 0) == 0 ? fmt::format("nsenter -t {} -n ip {} && ", shell_word(fa.netns.substr(4)), set)
                                         : fmt::format("ip -n {} {} && ", shell_word(fa.netns), set);
  }
  // A macvlan (ipvlan) of this host's own on the parent already: a route
  // through it (and an address, when it has none of the family).
  const Link* existing = nullptr;
  for (const Link& l : c.s.links) {
    if (!l.name || l.link != fa.parent || l.link_netnsid || !Context::is_up(&l)) continue;
    const bool fits = sc.ipvlan ? l.kind == "ipvlan" && l.ipvlan_mode == fa.ipvlan_mode
                                : l.kind == "macvlan" && l.macvlan_mode.value_or(macvlan_bridge) == macvlan_bridge;
    if (!fits) continue;
    existing = &l;
    const bool addressed = std::any_of(c.s.addresses.begin(), c.s.addresses.end(), [&](const Address& a) {
      return a.ifindex == l.ifindex && a.family == addr.family && !link_local_v6(address_of(a));
    });
    if (addressed) return fix + route + shell_word(*l.name);
  }
  const std::string name =
      existing != nullptr ? shell_word(*existing->name) : free_link_name(c, sc.ipvlan ? "ipvl-host" : "mv-host");
  const std::string mode = sc.ipvlan ? std::string(ipvlan_mode_name(fa.ipvlan_mode.value_or(0)))
                                     : std::string("bridge");
  // The host's side: the address the route from here uses, when it is on the parent.
  std::optional<IpAddr> own;
  if (!sc.ipvlan && addr.family == Family::inet) {
    if (r && r->route && r->route->prefsrc && c.local_interface(*r->route->prefsrc) == fa.parent) {
      own = r->route->prefsrc;
    } else if (const Address* a = c.first_address_on(*fa.parent, Family::inet)) {
      own = address_of(*a);
    }
  }
  if (existing == nullptr) {
    fix += fmt::format("ip link add {0} link {1} type {2} mode {3} && ", name, parent,
                       sc.ipvlan ? "ipvlan" : "macvlan", mode.empty() ? "l2" : mode);
  }
  fix += fmt::format("ip addr add {}/{} dev {}", own ? own->to_string() : std::string("FREE-ADDRESS"), bits, name);
  if (own) {
    // sysctl reads dots as separators: a name with one takes the slash form.
    fix += name.find('.') != std::string::npos ? fmt::format(" && sysctl -w net/ipv4/conf/{}/arp_filter=1", name)
                                                : fmt::format(" && sysctl -w net.ipv4.conf.{}.arp_filter=1", name);
  }
  if (existing == nullptr) fix += fmt::format(" && ip link set {} up", name);
  fix += fmt::format(" && {}{}", route, name);
  if (!own) fix += fmt::format(" (FREE-ADDRESS: an unused address of {}'s network)", parent);
  return fix;
}

// The finding; the probe's own finding then says what happened without
// guessing at firewalls.
void explain_stacked_child(Context& c, const IpAddr& addr, const StackedChild& sc,
                           const std::optional<RouteLookup>& r) {
  const ForeignAddress& fa = *sc.child;
  const std::string kind = sc.ipvlan ? "ipvlan" : "macvlan";
  const std::string parent = c.link_name(*fa.parent);
  std::string mode;
  if (!sc.ipvlan && fa.macvlan_mode == macvlan_private) {
    mode = " (mode private: it reaches no other macvlan either)";
  } else if (!sc.ipvlan && fa.macvlan_mode == macvlan_vepa) {
    mode = " (mode vepa: macvlans reach each other only through a switch that sends frames back)";
  } else if (!sc.ipvlan && fa.macvlan_mode == macvlan_passthru) {
    mode = " (mode passthru: it has the device to itself)";
  }
  // The server there, when netwhy saw it.
  std::string who;
  const Listener* server = nullptr;
  for (const ForeignListener& fl : c.s.other_netns) {
    const Listener& l = fl.listener;
    if (fl.netns != fa.netns || l.socket.port != c.q.port || l.socket.protocol != c.q.protocol ||
        !l.socket.listening()) {
      continue;
    }
    Listener any_dev = l;
    any_dev.socket.bound_ifindex = 0;
    if (c.covers(any_dev, addr, 0)) {
      server = &l;
      break;
    }
  }
  if (server != nullptr) who = fmt::format(", where {} listens on {}", c.owner_text(*server), listener_text(*server));
  Draft& d = c.add(
      Code::macvlan_host, Effect::cause,
      fmt::format("{0} is on {1}, {2} of this host's {3}{6}, in network namespace {4}{5}: this host can't reach "
                  "its own {7}s through {3} (nor they this host), while other machines on {3}'s network can; it is "
                  "not a firewall.",
                  addr.to_string(), fa.interface, sc.ipvlan ? "an ipvlan" : "a macvlan", parent, fa.netns, who, mode,
                  kind),
      macvlan_host_fix(c, sc, addr, r), {addr});
  d.finding.address = addr.to_string();
  d.finding.interface = fa.interface;
  d.finding.netns = fa.netns;
  if (server != nullptr) {
    if (const Process* p = main_process(*server)) d.finding.pid = p->pid;
  }
}

void explain_probe(Context& c, const IpAddr& addr, const Probe& p, const std::string& route_note,
                   const StackedChild* stacked = nullptr) {
  const std::string where = endpoint_text(addr, c.q.port);
  const std::string err = p.error != 0 ? std::strerror(p.error) : "error";
  if (stacked != nullptr) {
    const std::string kind = stacked->ipvlan ? "an ipvlan" : "a macvlan";
    const std::string what = p.result == ProbeResult::timeout
                                 ? fmt::format("timed out after {:.0f} ms", p.millis)
                                 : fmt::format("failed: {} (no ARP or neighbour reply)", err);
    c.add(p.result == ProbeResult::timeout ? Code::connection_timeout : Code::host_unreachable, Effect::cause,
          fmt::format("Connecting to {}{} {}: {} is on {} of this host's {}, which this host's own packets never "
                      "reach (see macvlan-host).",
                      where, route_note, what, addr.to_string(), kind, c.link_name(*stacked->child->parent)),
          std::nullopt, {addr})
        .finding.address = addr.to_string();
    return;
  }
  Code code = Code::connection_failed;
  Effect effect = Effect::cause;
  std::string message;
  std::optional<std::string> fix;
  switch (p.result) {
    case ProbeResult::ok:
      code = Code::connection_ok;
      effect = Effect::context;
      message = fmt::format("Connecting to {}{} worked ({:.0f} ms): a server accepts TCP connections there.", where,
                            route_note, p.millis);
      break;
    case ProbeResult::refused:
      code = Code::connection_refused;
      message = fmt::format("Connecting to {}{} was refused: the host is up, but no server listens on port {} there, "
                            "or a firewall rejects it.",
                            where, route_note, c.q.port);
      fix = fmt::format("on {}, run netwhy port {} to see why", addr.to_string(), c.q.port);
      break;
    case ProbeResult::timeout:
      code = Code::connection_timeout;
      message = fmt::format("Connecting to {}{} timed out after {:.0f} ms: packets are dropped on the way (a firewall "
                            "here, there or between), the host is down, or its server has stopped accepting.",
                            where, route_note, p.millis);
      fix = fmt::format("on {}, run netwhy port {} (it names firewall rules and full accept queues); check that the "
                        "host is up",
                        addr.to_string(), c.q.port);
      break;
    case ProbeResult::unreachable:
    case ProbeResult::error:
      if (p.error == ENETUNREACH) {
        code = Code::no_route;
        message = fmt::format("Connecting to {} failed: {} (this host has no route to it).", where, err);
        fix = "add a route (or a default gateway) to that network, or check the address";
      } else if (p.error == EHOSTUNREACH) {
        code = Code::host_unreachable;
        message = fmt::format("Connecting to {}{} failed: {}: nothing answered for {} on its network (no ARP or "
                              "neighbour reply), or a router or firewall on the way said it can't be reached.",
                              where, route_note, err, addr.to_string());
        fix = fmt::format("check that {} is up and has that address (ip neigh show {} here; ping it), and the "
                          "firewalls on the way",
                          addr.to_string(), addr.to_string());
      } else if (p.error == EPERM || p.error == EACCES) {
        code = Code::connection_blocked;
        message = fmt::format("Connecting to {} failed at once: {}: this host's own firewall (an output rule) or "
                              "security policy stopped the connection before it left.",
                              where, err);
        fix = "look for output rules here (nft -a list ruleset, chains with hook output)";
      } else {
        code = Code::connection_failed;
        message = fmt::format("Connecting to {}{} failed: {}.", where, route_note, err);
        fix = "check the address, the route and the host";
      }
      break;
  }
  c.add(code, effect, std::move(message), std::move(fix), {addr}).finding.address = addr.to_string();
}

// Another machine: the route from here, then what the probe found.
void explain_other_machine(Context& c, const IpAddr& addr) {
  const std::optional<RouteLookup> r = c.route_for(addr);
  if (r && !r->route) {
    Finding& f = c.add(Code::no_route, Effect::cause,
                       fmt::format("There is no route to {} from here{}.", addr.to_string(),
                                   r->error != 0 ? fmt::format(" ({})", std::strerror(r->error)) : ""),
                       "add a route (or a default gateway) to that network, or check the address", {addr})
                     .finding;
    f.address = addr.to_string();
    return;
  }
  std::string via;
  if (r && r->route) {
    const Route& rt = *r->route;
    via = route_words(c, rt);
    if (rt.oif) {
      const Link* out = c.link(*rt.oif);
      const std::string name = c.link_name(*rt.oif);
      if (out != nullptr && !Context::is_up(out)) {
        c.add(Code::interface_down, Effect::cause,
              fmt::format("The route to {} leaves through {}, which is down.", addr.to_string(), name),
              fmt::format("ip link set {} up", name), {addr})
            .finding.interface = name;
      } else if (out != nullptr && !Context::has_carrier(out)) {
        c.add(Code::no_carrier, Effect::cause,
              fmt::format("The route to {} leaves through {}, which has no carrier (NO-CARRIER).", addr.to_string(),
                          name),
              "check the cable, or the other end of the link (a veth peer, a bridge's ports)", {addr})
            .finding.interface = name;
      }
    }
  }
  const std::string route_note = via.empty() ? "" : " (route" + via + ")";
  if (const Probe* p = c.probe_for(addr)) {
    const std::optional<StackedChild> stacked = stacked_child(c, addr, *p, r);
    if (stacked) explain_stacked_child(c, addr, *stacked, r);
    explain_probe(c, addr, *p, route_note, stacked ? &*stacked : nullptr);
    return;
  }
  const std::string where = endpoint_text(addr, c.q.port);
  if (c.q.protocol == Protocol::udp) {
    Draft& d = c.add(Code::not_probed, Effect::doubt,
          fmt::format("Whether {} answers on UDP is unknown: UDP has no handshake, so netwhy can't test it by "
                      "connecting{}; only an answer from the server would tell.",
                      where, route_note),
          fmt::format("run netwhy port {} --udp on {}, or send a request the server answers", c.q.port,
                      addr.to_string()),
          {addr});
    d.finding.address = addr.to_string();
    d.reason = fmt::format("UDP has no handshake, so netwhy can't test it by connecting; run netwhy port {} --udp on "
                           "{}, or send a request the server answers",
                           c.q.port, addr.to_string());
    return;
  }
  Draft& d = c.add(Code::not_probed, Effect::doubt,
        fmt::format("Whether {} accepts connections is unknown: netwhy did not try to connect{}{}.", where,
                    c.q.probed ? "" : " (--no-probe)", route_note),
        fmt::format("drop --no-probe to test the connection from here, or run netwhy port {} on {}", c.q.port,
                    addr.to_string()),
        {addr});
  d.finding.address = addr.to_string();
  d.reason = fmt::format("netwhy did not try to connect{}; drop --no-probe to test it from here",
                         c.q.probed ? "" : " (--no-probe)");
}

// HOST is this host: which of its addresses does a listener take, for the
// client the question is about?
void explain_own_addresses(Context& c) {
  const std::string& host = *c.q.host;
  std::optional<std::size_t> first_ok;
  for (std::size_t i = 0; i < c.q.addresses.size(); ++i) {
    const IpAddr& addr = c.q.addresses[i];
    const Place where = c.place(addr);
    if (where == Place::other) continue;
    const Endpoint* e = c.endpoint(addr);
    const bool ok = e != nullptr && (where == Place::loopback ? e->local : e->remote == true);
    if (ok && !first_ok) first_ok = i;
  }
  if (c.listeners.empty() || c.q.addresses.empty()) return;
  const IpAddr& first = c.q.addresses.front();
  if (first_ok && *first_ok != 0 && c.place(first) != Place::other) {
    const Endpoint* e = c.endpoint(first);
    if (e != nullptr && !e->listener) {
      c.add(Code::family_mismatch, Effect::partial,
            fmt::format("{} resolves to {} first, and nothing here takes {}; clients that try it first (curl, "
                        "browsers) must fall back to {}, and those that don't fall back fail.",
                        host, first.to_string(), endpoint_text(first, c.q.port),
                        c.q.addresses[*first_ok].to_string()),
            fmt::format("listen on {} as well (a dual-stack [::]:{} takes both), or connect to {} instead of {}",
                        first.family == Family::inet6 ? "::1 or ::" : "127.0.0.1 or 0.0.0.0", c.q.port,
                        c.q.addresses[*first_ok].to_string(), host),
            {first})
          .finding.address = first.to_string();
    }
    return;
  }
  if (first_ok) return;
  // None of HOST's addresses is taken. A listener of the other family only?
  for (const IpAddr& addr : c.q.addresses) {
    if (c.place(addr) == Place::other) continue;
    const bool same_family = std::any_of(c.listeners.begin(), c.listeners.end(), [&](const Listener& l) {
      return l.socket.family == addr.family || (addr.family == Family::inet && l.socket.local.is_unspecified() &&
                                                !c.v6only(l.socket));
    });
    if (same_family) continue;
    const bool explained = std::any_of(c.drafts.begin(), c.drafts.end(), [&](const Draft& d) {
      return d.effect == Effect::cause && std::find(d.about.begin(), d.about.end(), addr) != d.about.end();
    });
    if (explained) return;  // v6only says it already
    const Listener& l = c.listeners.front();
    const std::string fam = addr.family == Family::inet6 ? "IPv6" : "IPv4";
    c.add(Code::family_mismatch, Effect::cause,
          host == addr.to_string()
              ? fmt::format("{} listens only on {}: nothing takes {} connections to {}.", c.owners_text(l),
                            listener_text(l), fam, host)
              : fmt::format("{} resolves to {}, but {} listens only on {}: nothing takes {} connections.", host,
                            addr.to_string(), c.owners_text(l), listener_text(l), fam),
          fmt::format("connect to {} instead, or make the server listen on {}",
                      !l.socket.local.is_unspecified()           ? l.socket.local.to_string()
                      : l.socket.local.family == Family::inet6 ? std::string("::1 (or this host's IPv6 address)")
                                                               : std::string("127.0.0.1 (or this host's IPv4 address)"),
                      addr.family == Family::inet6 ? ":: (both families)" : "0.0.0.0"),
          {addr})
        .finding.address = addr.to_string();
    return;
  }
  // It listens in that family, on another address: unless a finding says
  // why already (bound to loopback, v6only, ...), name the address it has.
  for (const IpAddr& addr : c.q.addresses) {
    const Endpoint* e = c.endpoint(addr);
    if (c.place(addr) == Place::other || e == nullptr || e->listener) continue;
    const bool explained = std::any_of(c.drafts.begin(), c.drafts.end(), [&](const Draft& d) {
      return d.effect == Effect::cause && std::find(d.about.begin(), d.about.end(), addr) != d.about.end();
    });
    if (explained) return;
    const auto same = std::find_if(c.listeners.begin(), c.listeners.end(),
                                   [&](const Listener& l) { return l.socket.family == addr.family; });
    if (same == c.listeners.end()) return;
    const Listener& l = *same;
    Finding& f = c.add(Code::bound_to_other_address, Effect::cause,
                       fmt::format("{} listens on {} only, not on {}, which {} resolves to.", c.owners_text(l),
                                   listener_text(l), addr.to_string(), host),
                       fix_to_listen_everywhere(l, c.q.port), {addr})
                     .finding;
    f.address = l.socket.local.to_string();
    if (const Process* p = main_process(l)) f.pid = p->pid;
    return;
  }
}

}  // namespace

void explain_host(Context& c) {
  if (!c.q.host) return;
  for (const IpAddr& addr : c.q.addresses) {
    if (c.place(addr) == Place::other) explain_other_machine(c, addr);
  }
  explain_own_addresses(c);
}

}  // namespace netwhy::engine
