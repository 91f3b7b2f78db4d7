// --host: the question a client asks. A loopback HOST is this host's own
// client; a non-loopback address of this host is a client on another host;
// another machine is what the route and the probe from here say.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "engine.hpp"

namespace netwhy::engine {

namespace {

std::string route_words(const Context& c, const Route& rt) {
  std::string via;
  if (rt.gateway) via += " via " + rt.gateway->to_string();
  if (rt.oif) via += " dev " + c.link_name(*rt.oif);
  if (rt.prefsrc) via += " src " + rt.prefsrc->to_string();
  return via;
}

void explain_probe(Context& c, const IpAddr& addr, const Probe& p, const std::string& route_note) {
  const std::string where = endpoint_text(addr, c.q.port);
  const std::string err = p.error != 0 ? std::strerror(p.error) : "error";
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
    explain_probe(c, addr, *p, route_note);
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
