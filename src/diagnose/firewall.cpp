// The packet filter's say: the input hook for packets to this host, and the
// DNAT/redirect rules that send them elsewhere (a published container port).
#include <algorithm>

#include <fmt/format.h>

#include "engine.hpp"
#include "netwhy/containers.hpp"
#include "netwhy/iptables.hpp"
#include "netwhy/text.hpp"

namespace netwhy::engine {

namespace {

std::string rule_text(const FwRule& r) {
  return fmt::format("table {} {}, chain {}, rule {}{}", r.family, r.table, r.chain, r.handle,
                     r.text.empty() ? "" : ": " + r.text);
}

// What a rule accepting the packet matches where it was stopped: the port;
// after a DNAT, the rewritten destination; for a reply, its state.
std::string accept_match(const Context& c, bool reply, const std::optional<FwForward>& via = std::nullopt) {
  const std::string proto = c.q.protocol == Protocol::tcp ? "tcp" : "udp";
  if (reply) return "ct state established,related";
  if (via) {
    return fmt::format("{} daddr {} {} dport {}", via->to.family == Family::inet6 ? "ip6" : "ip", via->to.to_string(),
                       proto, via->port);
  }
  return fmt::format("{} dport {}", proto, c.q.port);
}

// What makes two firewall results one finding: the same decision on the
// same way (hook, direction, after a DNAT or not) by the same rule (its
// table and handle), or by the same chain's policy.
std::string hit_key(const FwResult& r, bool local, bool reply, bool via) {
  std::string key = fmt::format("{} {:d}{:d}{:d} {}", static_cast<int>(r.decision), local, reply, via, r.hook);
  const auto field = [&](std::string_view v) { key.append(1, '\0').append(v); };
  if (r.rule) {
    key += " rule";
    field(r.rule->family);
    field(r.rule->table);
    field(std::to_string(r.rule->handle));
  } else if (r.chain) {
    const FwChain& ch = *r.chain;
    key += " policy";
    for (const std::string* f : {&ch.family, &ch.table, &ch.name, &ch.type, &ch.hook, &ch.policy}) field(*f);
    field(std::to_string(ch.priority));
    field(std::to_string(ch.devices.size()));
    for (const std::string& d : ch.devices) field(d);
  }
  return key;
}

void note(Context& c, const FwResult& r, const IpAddr& addr, int ifindex, bool local, bool reply = false,
          const std::optional<FwForward>& via = std::nullopt) {
  const auto where = [&] {
    const auto own = c.local_interface(addr);
    return fmt::format("{} ({})", addr.to_string(), c.link_name(own.value_or(ifindex)));
  };
  const auto [it, added] = c.fw_hit_index.try_emplace(hit_key(r, local, reply, via.has_value()), c.fw_hits.size());
  if (!added) {
    Context::FwHit& h = c.fw_hits[it->second];
    if (h.seen.insert(addr).second) {
      h.addresses.push_back(addr);
      h.places.push_back(where());
    }
    return;
  }
  c.fw_hits.push_back({r, {where()}, {addr}, local, reply, via, {addr}});
}

// One finding per message (and code): the same fact met through several
// addresses names them all.
Draft& add_once_draft(Context& c, Code code, Effect effect, const IpAddr& addr, std::string message,
                      std::optional<std::string> fix) {
  if (Draft* d = c.draft_saying(code, message)) {
    c.add_about(*d, addr);
    if (d->effect == Effect::context && effect != Effect::context) d->effect = effect;
    return *d;
  }
  Draft& d = c.add(code, effect, std::move(message), std::move(fix), {addr});
  d.finding.port = c.q.port;
  return d;
}

Finding& add_once(Context& c, Code code, Effect effect, const IpAddr& addr, std::string message,
                  std::optional<std::string> fix) {
  return add_once_draft(c, code, effect, addr, std::move(message), std::move(fix)).finding;
}

Finding& add_forward(Context& c, Effect effect, const IpAddr& addr, std::string message,
                     std::optional<std::string> fix) {
  return add_once(c, Code::port_forward, effect, addr, std::move(message), std::move(fix));
}

// "httpd (pid 7)", without the container (the sentence names it).
std::string process_text(const Listener& l) {
  const Process* p = main_process(l);
  return p != nullptr ? fmt::format("{} (pid {})", p->comm, p->pid) : "a process netwhy cannot see";
}

// The container behind a namespace: a process of it listening there, or
// the engine's record of the address.
std::optional<ProcessContainer> container_in(const Context& c, const std::string& netns, const IpAddr& to) {
  for (const ForeignListener& fl : c.s.other_netns) {
    if (fl.netns != netns) continue;
    if (auto pc = container_of(fl.listener); pc && !pc->holder) return pc;
  }
  // The engine's record: of that namespace, else one of this host's engine
  // with the address (another namespace's engine may reuse it).
  for (const bool by_netns : {true, false}) {
    for (const ContainerState& cs : c.s.containers) {
      if (!cs.networking.running) continue;
      const bool match = by_netns ? !netns.empty() && cs.netns == netns
                                  : cs.engine_here && std::any_of(cs.networking.addresses.begin(),
                                                                  cs.networking.addresses.end(),
                                                                  [&](const ContainerAddress& a) { return a.addr == to; });
      if (match) return ProcessContainer{std::string(to_string(cs.id.engine)), cs.id.id, cs.id.name, false};
    }
  }
  return std::nullopt;
}

// The namespace holding `to` that a packet from here reaches: several may
// have the address (two docker daemons' 172.17.0.2), so the one whose veth
// peer is on the interface towards it wins, then one whose peer is here.
const ForeignAddress* owner_of(const Context& c, const IpAddr& to) {
  const std::optional<int> out = c.egress_to(to);
  const ForeignAddress* best = nullptr;
  int best_rank = -1;
  for (const ForeignAddress& a : c.s.other_netns_addresses) {
    if (a.address != to) continue;
    int rank = 0;
    if (a.parent && a.kind == "veth") {
      const Link* peer = c.link(*a.parent);
      rank = peer != nullptr && out && (peer->ifindex == *out || peer->master == *out) ? 2 : 1;
    }
    if (rank > best_rank) {
      best = &a;
      best_rank = rank;
    }
  }
  return best;
}

// "in container web (docker)", else "in network namespace NS".
std::string place_text(const std::optional<ProcessContainer>& pc, const std::string& netns) {
  return pc ? "in " + container_text(*pc) : "in network namespace " + netns;
}

// A connection handed to to:port in another namespace of this host (by a
// DNAT rule, or by docker-proxy): is it taken there? `how` says how it got
// there: "are forwarded (RULE)", "are passed on by docker-proxy (pid 5)".
// client: the client's network, when replies must find their way back to
// it from inside (a DNAT keeps the client's address; a proxy does not).
// The answer does not depend on addr (only what the finding is about), so
// it is worked out once per destination, way and client network: then each
// further address is one lookup (see into_namespace() below).
std::optional<bool> into_namespace_once(Context& c, const IpAddr& addr, const IpAddr& to, std::uint16_t port,
                                        const std::string& how, const std::string& extra,
                                        const std::optional<std::pair<IpAddr, unsigned>>& client,
                                        Context::HandedOn& said) {
  // Every finding goes through these, which remember the draft.
  const auto say_once = [&](Context& ctx, Code code, Effect effect, const IpAddr& about, std::string message,
                            std::optional<std::string> fix) -> Finding& {
    Draft& d = add_once_draft(ctx, code, effect, about, std::move(message), std::move(fix));
    said.draft = static_cast<std::size_t>(&d - ctx.drafts.data());
    said.effect = effect;
    return d.finding;
  };
  const auto say_forward = [&](Context& ctx, Effect effect, const IpAddr& about, std::string message,
                               std::optional<std::string> fix) -> Finding& {
    return say_once(ctx, Code::port_forward, effect, about, std::move(message), std::move(fix));
  };
  const std::string what = c.what();
  const std::string dest = endpoint_text(to, port);
  const ForeignAddress* owner = owner_of(c, to);
  if (owner == nullptr) {
    say_forward(c, Effect::doubt, addr,
                fmt::format("Connections to {} {} to {}, which is not in a network namespace of this host: whether it "
                            "listens there can't be seen from here.",
                            what, how, dest),
                fmt::format("run netwhy port {} on {}", port, to.to_string()));
    return std::nullopt;
  }
  const std::optional<ProcessContainer> pc = container_in(c, owner->netns, to);
  if (const auto inner = c.egress_to(to)) c.inner_interfaces.insert(c.link_name(*inner));
  const std::string where = place_text(pc, owner->netns);
  const auto evidence = [&](Finding& f) -> Finding& {
    f.netns = owner->netns;
    f.container = pc;
    return f;
  };
  // Replies go back to the client from inside that namespace: it needs a
  // route to the client's network (Docker gives containers a default route).
  if (client) {
    const IpAddr& saddr = client->first;  // not a structured binding: clang 14 can't capture one in a lambda
    const unsigned len = client->second;
    const bool route_back = std::any_of(owner->routes.begin(), owner->routes.end(), [&](const auto& r) {
      return r.first.family == saddr.family && r.second <= len && prefix_covers(r.first, r.second, saddr);
    });
    if (!route_back) {
      evidence(say_forward(c, Effect::cause, addr,
                           fmt::format("Connections to {} {} to {} {}, but that namespace has no route back to clients "
                                       "on {}/{}: replies never leave it.",
                                       what, how, dest, where, network_of(saddr, len).to_string(), len),
                           fmt::format("give the namespace a default route via this host (ip -n {} route add default "
                                       "via ADDRESS-OF-THIS-HOST), or masquerade forwarded traffic",
                                       shell_word(owner->netns))));
      return false;
    }
  }
  const Listener* seen = nullptr;
  for (const ForeignListener& fl : c.s.other_netns) {
    const Listener& l = fl.listener;
    if (fl.netns != owner->netns || l.socket.port != port || l.socket.protocol != c.q.protocol ||
        !l.socket.listening()) {
      continue;
    }
    Listener any_dev = l;
    any_dev.socket.bound_ifindex = 0;
    if (c.covers(any_dev, to, 0)) {
      // For a container, one finding however the connections get there.
      const std::string who = process_text(l);
      evidence(say_forward(c, Effect::context, addr,
                           pc ? fmt::format("{} is published to {} at {}, where {} listens on {}.", what,
                                            container_text(*pc), dest, who, listener_text(l))
                              : fmt::format("Connections to {} {} to {} {}, where {} listens on {}{}.", what, how,
                                            dest, where, c.owner_text(l), listener_text(l), extra),
                           std::nullopt));
      return true;
    }
    seen = &l;
  }
  if (seen != nullptr) {
    const std::string fix = fix_to_listen_everywhere(*seen, port, pc.has_value());
    Finding& f =
        pc ? say_once(c, Code::container_loopback, Effect::cause, addr,
                      fmt::format("{} is published to {} at {}, but {} listens on {} only inside it: connections "
                                  "through the published port are refused.",
                                  what, container_text(*pc), dest, process_text(*seen), listener_text(*seen)),
                      fmt::format("in {}: {}; then recreate the container with that command ({} rm -f {}, and "
                                  "{} run it again)",
                                  container_text(*pc), fix, engine_program(*pc), shell_word(pc->name),
                                  engine_program(*pc)))
           : say_forward(c, Effect::cause, addr,
                         fmt::format("Connections to {} {} to {} {}, but {} listens on {} only there: forwarded "
                                     "connections are refused.",
                                     what, how, dest, where, c.owner_text(*seen), listener_text(*seen)),
                         fmt::format("in network namespace {}: {}", shell_word(owner->netns), fix));
    evidence(f);
    f.address = seen->socket.local.to_string();
    if (const Process* pr = main_process(*seen)) f.pid = pr->pid;
    return false;
  }
  evidence(say_forward(c, Effect::cause, addr,
                       fmt::format("Connections to {} {} to {} {}, where nothing listens on port {}.", what, how, dest,
                                   where, port),
                       pc ? fmt::format("start the server in {} on port {} ({} logs {} tells why it is not listening)",
                                        container_text(*pc), port, engine_program(*pc), shell_word(pc->name))
                          : fmt::format("start the server in that namespace on port {}, or fix the DNAT rule", port)));
  return false;
}

std::optional<bool> into_namespace(Context& c, const IpAddr& addr, const IpAddr& to, std::uint16_t port,
                                   const std::string& how, const std::string& extra,
                                   const std::optional<std::pair<IpAddr, unsigned>>& client) {
  std::string key = fmt::format("{} {} ", to.to_string(), port);
  if (client) key += fmt::format("{}/{}", client->first.to_string(), client->second);
  key.append(1, '\0').append(how).append(1, '\0').append(extra);
  if (const auto it = c.handed_on.find(key); it != c.handed_on.end()) {
    const Context::HandedOn& said = it->second;
    if (said.draft) {  // as add_once() does for one more address
      Draft& d = c.drafts[*said.draft];
      c.add_about(d, addr);
      if (d.effect == Effect::context && said.effect != Effect::context) d.effect = said.effect;
    }
    return said.answer;
  }
  Context::HandedOn said;
  said.answer = into_namespace_once(c, addr, to, port, how, extra, client, said);
  c.handed_on.emplace(std::move(key), said);
  return said.answer;
}

void note_forward(Context& c, const FwForward& f, Family family) {
  c.forwarding = true;
  if (!c.forward_rule) {
    c.forward_rule = f.rule;
    c.forwarded_family = family;
  }
}

// Where a DNAT rule sends a packet from another host, is it taken?
std::optional<bool> forwarded(Context& c, const FwForward& f, const FwPacket& p, int ifindex) {
  note_forward(c, f, p.family);
  const std::string what = c.what();
  const std::string rule = rule_text(f.rule);
  const std::string dest = endpoint_text(f.to, f.port);
  const IpAddr& addr = p.daddr;
  // To this host itself (a redirect, or a DNAT to one of its addresses).
  if (c.local_interface(f.to)) {
    for (const Listener& l : c.s.listeners) {
      if (l.socket.port == f.port && l.socket.protocol == c.q.protocol && l.socket.listening() &&
          c.covers(l, f.to, ifindex)) {
        add_forward(c, Effect::context, addr,
                    fmt::format("Connections to {} are redirected ({}) to {}, where {} listens on {}.", what, rule,
                                dest, c.owner_text(l), listener_text(l)),
                    std::nullopt);
        return true;
      }
    }
    add_forward(c, Effect::cause, addr,
                fmt::format("Connections to {} are redirected ({}) to {}, where nothing takes them.", what, rule, dest),
                fmt::format("start the server on port {}, or fix the redirect", f.port));
    return false;
  }
  // Through this host to another namespace or machine: forwarding must be
  // on, the forward hook (not input) must let it through, and something
  // must listen there.
  const auto fwd_sysctl =
      c.s.sysctls.find(f.to.family == Family::inet ? "net.ipv4.ip_forward" : "net.ipv6.conf.all.forwarding");
  if (fwd_sysctl != c.s.sysctls.end() && fwd_sysctl->second == 0) {
    const std::optional<ProcessContainer> pc = container_in(c, std::string(), f.to);
    add_forward(c, Effect::cause, addr,
                fmt::format("Connections to {} are forwarded ({}) to {}{}, but this host does not forward packets ({} "
                            "is 0).",
                            what, rule, dest, pc ? " in " + container_text(*pc) : "", fwd_sysctl->first),
                fmt::format("sysctl -w {}=1", fwd_sysctl->first))
        .container = pc;
    return false;
  }
  // The forward hook sees the packet as the DNAT rewrote it, leaving
  // through the interface towards its new destination.
  FwPacket through = p;
  through.daddr = f.to;
  through.dport = f.port;
  through.daddr_local = false;
  through.dnat = true;
  if (const auto out = c.egress_to(f.to)) {
    through.oif = *out;
    through.oifname = c.link_name(*out);
  }
  const FwResult fr = c.fw.hook("forward", through);
  // The server's answers pass the forward hook too, the other way: from the
  // namespace's side to the client's interface (a DOCKER-USER drop of all
  // TCP drops them as well as the client's packets).
  FwPacket back = reply_to(through, p.iifname, p.iif);
  back.iifname = through.oifname;
  back.iif = through.oif;
  back.dnat = true;
  FwResult br = c.fw.hook("forward", back);
  // The answer goes to a client's network, which a rule about one address
  // there (the container's own, for a client on its bridge) can't decide:
  // only a rule that decides counts against the way back.
  if (br.decision == FwDecision::unknown) br.decision = FwDecision::accept;
  if (fr.decision != FwDecision::accept || br.decision != FwDecision::accept) {
    if (fr.decision != FwDecision::accept) note(c, fr, addr, ifindex, false, false, f);
    if (br.decision != FwDecision::accept) note(c, br, addr, ifindex, false, true, f);
    if (fr.decision == FwDecision::drop || fr.decision == FwDecision::reject || br.decision == FwDecision::drop ||
        br.decision == FwDecision::reject) {
      return false;
    }
    return std::nullopt;
  }
  return into_namespace(c, addr, f.to, f.port, fmt::format("are forwarded ({})", rule),
                        fmt::format("; forwarded packets pass the forward hook, not input, so input rules for port {} "
                                    "do not apply to them",
                                    c.q.port),
                        std::pair{p.saddr, p.saddr_len});
}

// The same accept in iptables' words, for tables iptables made.
std::string iptables_match(const Context& c, bool reply, const std::optional<FwForward>& via) {
  const std::string proto = c.q.protocol == Protocol::tcp ? "tcp" : "udp";
  if (reply) return "-m conntrack --ctstate ESTABLISHED,RELATED";
  if (via) return fmt::format("-d {} -p {} --dport {}", via->to.to_string(), proto, via->port);
  return fmt::format("-p {} --dport {}", proto, c.q.port);
}

// A table iptables wrote: a legacy one, or one iptables-nft-save decoded.
std::optional<IptTableRef> iptables_owner(const Context& c, const std::string& family, const std::string& table) {
  auto ref = iptables_table_ref(family, table);
  if (!ref) return std::nullopt;
  if (ref->backend == IptBackend::legacy) return ref;
  const Family f = family == "ip6" ? Family::inet6 : Family::inet;
  const bool decoded = std::any_of(c.s.firewall.iptables.begin(), c.s.firewall.iptables.end(), [&](const FwIptablesSave& s) {
    return !s.legacy && s.family == f && s.text.find("*" + table + "\n") != std::string::npos;
  });
  if (!decoded) return std::nullopt;
  return ref;
}

std::string firewall_fix(const Context& c, const Context::FwHit& h) {
  const FwResult& r = h.result;
  const std::string proto = c.q.protocol == Protocol::tcp ? "tcp" : "udp";
  FwChain chain;
  const FwChain* where = nullptr;
  if (r.rule) {
    chain.family = r.rule->family;
    chain.table = r.rule->table;
    chain.name = r.rule->chain;
    where = &chain;
  } else if (r.chain) {
    where = &*r.chain;
  }
  if (where == nullptr) return "allow the port in the firewall";
  // ufw's tables: its chains, or the policy of a built-in chain that jumps to them.
  const bool ufw = where->table.rfind("ufw", 0) == 0 || where->name.find("ufw") != std::string::npos ||
                   std::any_of(c.s.firewall.chains.begin(), c.s.firewall.chains.end(), [&](const FwChain& other) {
                     return other.family == where->family && other.table == where->table &&
                            other.name.rfind("ufw-", 0) == 0;
                   });
  if (ufw) {
    return fmt::format("ufw allow {}/{}", c.q.port, proto);
  }
  if (where->table == "firewalld") {
    return fmt::format("firewall-cmd --add-port={}/{} && firewall-cmd --runtime-to-permanent", c.q.port, proto);
  }
  if (const auto ipt = iptables_owner(c, where->family, where->table)) {
    const std::string program = fmt::format("{}{}", where->family == "ip6" ? "ip6tables" : "iptables",
                                            ipt->backend == IptBackend::legacy ? "-legacy" : "");
    const std::string table = ipt->table == "filter" ? "" : " -t " + shell_word(ipt->table);
    const std::string match = iptables_match(c, h.reply, h.via);
    if (r.rule) {
      return fmt::format("{}{} -I {} {} {} -j ACCEPT", program, table, shell_word(where->name), r.rule->handle, match);
    }
    return fmt::format("{}{} -A {} {} -j ACCEPT", program, table, shell_word(where->name), match);
  }
  const std::string match = accept_match(c, h.reply, h.via);
  if (r.rule) {
    return fmt::format("nft insert rule {} {} {} position {} {} accept", shell_word(where->family),
                       shell_word(where->table), shell_word(where->name), r.rule->handle, match);
  }
  return fmt::format("nft add rule {} {} {} {} accept", shell_word(where->family), shell_word(where->table),
                     shell_word(where->name), match);
}

}  // namespace

std::optional<bool> filter_hooks(Context& c, std::initializer_list<std::string_view> hooks, FwPacket& p,
                                 const IpAddr& addr, int ifindex, bool from_this_host, bool reply) {
  for (const std::string_view hook : hooks) {
    const FwResult r = c.fw.hook(hook, p);
    p.mark = r.mark;
    p.ct_mark = r.ct_mark;
    if (r.decision == FwDecision::accept) continue;
    // A local connect whose fate is unknown stays "accepted" (local is a
    // bool in the contract): only a rule that decides is worth a finding.
    if (from_this_host && r.decision == FwDecision::unknown) return std::nullopt;
    note(c, r, addr, ifindex, from_this_host, reply);
    if (r.decision == FwDecision::unknown) return std::nullopt;
    return false;
  }
  return true;
}

FwPacket reply_to(const FwPacket& p, const std::string& oifname, int oif) {
  FwPacket r;
  r.family = p.family;
  r.protocol = p.protocol;
  r.reply = true;
  r.saddr = p.daddr;
  r.saddr_len = p.daddr.bits();
  r.sport = p.dport;
  r.daddr = p.saddr;
  r.daddr_len = p.saddr_len;
  r.dport_known = false;
  r.daddr_local = false;
  r.oifname = oifname;
  r.oif = oif;
  r.ct_mark = p.ct_mark;  // the connection's mark, as the first packet's path left it
  return r;
}

std::optional<std::optional<bool>> follow_forward(Context& c, FwPacket& p, int ifindex) {
  const FwEvaluator::Nat n = c.fw.nat("prerouting", p);
  p.mark = n.mark;
  p.ct_mark = n.ct_mark;
  if (n.stop) {
    note(c, *n.stop, p.daddr, ifindex, false);
    return n.stop->decision == FwDecision::unknown ? std::optional<bool>() : std::optional<bool>(false);
  }
  if (!n.forward) return std::nullopt;
  return forwarded(c, *n.forward, p, ifindex);
}

std::optional<bool> local_forward(Context& c, const FwForward& f, const IpAddr& addr) {
  c.forwarding = true;  // the rule for other hosts' packets (one family or both) is prerouting's
  if (c.local_interface(f.to)) {
    return std::any_of(c.s.listeners.begin(), c.s.listeners.end(), [&](const Listener& l) {
      return l.socket.port == f.port && l.socket.protocol == c.q.protocol && l.socket.listening() &&
             c.covers(l, f.to, c.lo.value_or(1));
    });
  }
  // This host's own packet: DNAT in output, then out to the namespace (no
  // forward hook; the answer comes back to one of this host's addresses).
  return into_namespace(c, addr, f.to, f.port, fmt::format("from this host are forwarded ({})", rule_text(f.rule)),
                        "", std::nullopt);
}

namespace {

// Rootless podman: rootlessport takes the connection and dials the
// container's own address (never its loopback) on a port it was told
// through a pipe: the container's port is the one of the same number, or
// its only one.
std::optional<bool> through_rootlessport(Context& c, const Listener& l, const Process& p, const IpAddr& addr) {
  const ProcessContainer pc{p.container->engine, p.container->id, p.container->name, false};
  std::string netns;
  for (const ContainerState& cs : c.s.containers) {
    if (cs.id.id == pc.id) netns = cs.netns;
  }
  std::vector<const Listener*> inside;
  for (const ForeignListener& fl : c.s.other_netns) {
    const Listener& o = fl.listener;
    if (!netns.empty() && fl.netns == netns && o.socket.protocol == c.q.protocol && o.socket.listening()) {
      inside.push_back(&o);
    }
  }
  std::vector<const Listener*> chosen;
  for (const Listener* o : inside) {
    if (o->socket.port == c.q.port) chosen.push_back(o);
  }
  if (chosen.empty() && !inside.empty() &&
      std::all_of(inside.begin(), inside.end(), [&](const Listener* o) { return o->socket.port == inside[0]->socket.port; })) {
    chosen = inside;
  }
  const std::string how = fmt::format("{} is published to {} by rootlessport (pid {})", c.what(), container_text(pc),
                                      p.pid);
  if (netns.empty() || (chosen.empty() && !inside.empty())) {
    add_forward(c, Effect::doubt, addr,
                fmt::format("{}, which passes connections to a port inside that podman keeps in its own database: "
                            "which one can't be seen from here.",
                            how),
                fmt::format("podman port {}", shell_word(pc.name)))
        .container = pc;
    return std::nullopt;
  }
  if (chosen.empty()) {
    add_forward(c, Effect::cause, addr, fmt::format("{}, but nothing listens inside the container.", how),
                fmt::format("start the server in {} (podman logs {} tells why it is not listening)",
                            container_text(pc), shell_word(pc.name)))
        .container = pc;
    return false;
  }
  for (const Listener* o : chosen) {
    if (!o->socket.local.is_loopback()) {
      Finding& f = add_forward(c, Effect::context, addr,
                               fmt::format("{}, where {} listens on {}.", how, process_text(*o), listener_text(*o)),
                               std::nullopt);
      f.container = pc;
      f.netns = netns;
      return true;
    }
  }
  const Listener& seen = *chosen.front();
  Finding& f = add_once(c, Code::container_loopback, Effect::cause, addr,
                        fmt::format("{}, but {} listens on {} only inside it: rootlessport connects to the container's "
                                    "own address, so every connection is reset.",
                                    how, process_text(seen), listener_text(seen)),
                        fmt::format("in {}: {}; then recreate the container with that command (podman rm -f {}, and "
                                    "podman run it again)",
                                    container_text(pc), fix_to_listen_everywhere(seen, seen.socket.port, true),
                                    shell_word(pc.name)));
  f.container = pc;
  f.netns = netns;
  f.address = seen.socket.local.to_string();
  if (const Process* sp = main_process(seen)) f.pid = sp->pid;
  (void)l;
  return false;
}

}  // namespace

std::optional<bool> through_holder(Context& c, const Listener& l, const IpAddr& addr) {
  const Process* p = main_process(l);
  if (p == nullptr) return true;
  auto [proxy, first] = c.docker_proxy.try_emplace(p);
  if (first) {
    std::string raw = p->cmdline;
    std::replace(raw.begin(), raw.end(), ' ', '\0');
    proxy->second = parse_docker_proxy_cmdline(raw);
  }
  if (const auto& fwd = proxy->second) {
    return into_namespace(c, addr, fwd->container_ip, fwd->container_port,
                          fmt::format("are passed on by docker-proxy (pid {})", p->pid), "", std::nullopt);
  }
  if (!p->container || !p->container->holder) return true;
  if (p->comm == "rootlessport") return through_rootlessport(c, l, *p, addr);
  // conmon holds the port so that nothing else takes it; the container gets
  // only what DNAT rules send it. A connection that reaches the socket
  // itself is never answered.
  add_forward(c, Effect::cause, addr,
              fmt::format("Connections to {} that no DNAT rule sends on reach {} at {}, which only holds the port for "
                          "{}: nothing answers them.",
                          endpoint_text(addr, c.q.port), process_text(l), listener_text(l),
                          container_text(*p->container)),
              fmt::format("connect to an address the container's port is published on ({} port {})",
                          engine_program(*p->container), shell_word(p->container->name)))
      .container = ProcessContainer{p->container->engine, p->container->id, p->container->name, false};
  return false;
}

namespace {

// A DNAT or redirect in an ip (or ip6) table takes one family only: clients
// of the other family reach this host's own sockets, and with none there
// they are refused.
void explain_one_family_forward(Context& c) {
  if (!c.forward_rule || (c.forward_rule->family != "ip" && c.forward_rule->family != "ip6")) return;
  const Family other = c.forwarded_family == Family::inet ? Family::inet6 : Family::inet;
  std::vector<IpAddr> refused;
  for (const Endpoint& e : c.endpoints) {
    if (e.address.family == other && e.interface && !e.address.is_loopback() && !link_local_v6(e.address) &&
        e.remote == false && !e.listener && c.place(e.address) == Place::own) {
      refused.push_back(e.address);
    }
  }
  if (refused.empty()) return;
  std::vector<std::string> named;
  for (const IpAddr& a : refused) named.push_back(endpoint_text(a, c.q.port));
  const std::string fam = other == Family::inet6 ? "IPv6" : "IPv4";
  const std::optional<std::string> one =
      refused.size() == 1 ? std::optional<std::string>(refused.front().to_string()) : std::nullopt;
  const FwRule& r = *c.forward_rule;
  // A container's published port: the engine decides which families it forwards.
  const std::optional<ProcessContainer> pc =
      r.nat_addr ? container_in(c, std::string(), *r.nat_addr) : std::optional<ProcessContainer>();
  const bool docker_holds = std::any_of(c.listeners.begin(), c.listeners.end(), [](const Listener& l) {
    const Process* p = main_process(l);
    return p != nullptr && p->comm == "dockerd";
  });
  std::string engine_fix;
  if (pc && other == Family::inet6 && pc->engine == "docker") {
    engine_fix = docker_holds
                     ? "run dockerd with its userland proxy (the default: drop --userland-proxy=false), which takes "
                       "IPv6 clients on [::], or enable IPv6 on its networks (daemon.json: \"ipv6\": true, "
                       "\"ip6tables\": true); or have clients use the IPv4 address"
                     : "enable IPv6 on dockerd's networks (daemon.json: \"ipv6\": true, \"ip6tables\": true), or "
                       "have clients use the IPv4 address";
  } else if (pc && other == Family::inet6 && pc->engine == "podman") {
    engine_fix = fmt::format("put {} on a network with IPv6 (podman network create --ipv6 NAME, then podman run "
                             "--network NAME ...), or have clients use the IPv4 address",
                             container_text(*pc));
  }
  Finding& f = c.add(Code::port_forward, Effect::cause,
                     fmt::format("Connections to {} are not forwarded: the rule that forwards {} ({}) is in an {} "
                                 "table, which sees {} only, and nothing listens here for {} clients: they are "
                                 "refused.",
                                 join_list(named, 3), c.what(), rule_text(r), r.family,
                                 r.family == "ip" ? "IPv4" : "IPv6", fam),
                     !engine_fix.empty()
                         ? engine_fix
                         : fmt::format("forward {} too: the same rule in an {} table (or move it to an inet table), or "
                                       "have clients use the {} address",
                                       fam, r.family == "ip" ? "ip6" : "ip", r.family == "ip" ? "IPv4" : "IPv6"),
                     std::move(refused))
                   .finding;
  f.container = pc;
  f.port = c.q.port;
  f.address = one;  // the one refused address, as evidence for scripts
}

}  // namespace

void explain_firewall(Context& c) {
  explain_one_family_forward(c);
  // Other hosts' way in first: that is what the question is usually about.
  std::stable_sort(c.fw_hits.begin(), c.fw_hits.end(),
                   [](const Context::FwHit& a, const Context::FwHit& b) { return !a.local && b.local; });
  c.fw_hit_index.clear();
  for (std::size_t i = 0; i < c.fw_hits.size(); ++i) {
    const Context::FwHit& h = c.fw_hits[i];
    c.fw_hit_index.emplace(hit_key(h.result, h.local, h.reply, h.via.has_value()), i);
  }
  for (const Context::FwHit& h : c.fw_hits) {
    const std::string list = join_list(h.places, 4);
    const std::string who = h.local ? "from this host" : "from other hosts";
    const std::string what = c.what();
    // Do the clients it is about fail, or do they get in another way?
    const bool fails = std::any_of(h.addresses.begin(), h.addresses.end(), [&](const IpAddr& a) {
      const Endpoint* e = c.endpoint(a);
      return e != nullptr && (h.local ? !e->local : e->remote == false);
    });
    if (h.result.decision == FwDecision::unknown) {
      const bool unreadable = !h.result.rule && !c.s.firewall.read;
      Draft& d = c.add(Code::firewall_unknown, Effect::doubt,
                         h.result.rule
                             ? fmt::format("Whether the firewall lets {} in {} to {} is unknown: {} could decide, and {}.",
                                           what, who, list, rule_text(*h.result.rule), h.result.why)
                             : fmt::format("Whether the firewall lets {} in {} to {} is unknown: {}.", what, who, list,
                                           h.result.why),
                         h.result.rule ? std::string("check that rule by hand (nft -a list ruleset)")
                         : unreadable
                             ? fmt::format("run netwhy as root (sudo netwhy port {}): reading the firewall needs "
                                           "CAP_NET_ADMIN",
                                           c.q.port)
                             : std::string("check the firewall by hand (nft -a list ruleset)"),
                         h.addresses);
      d.reason = h.result.rule ? fmt::format("{} can't be evaluated ({}); check it by hand (nft -a list ruleset)",
                                             rule_text(*h.result.rule), h.result.why)
                 : unreadable  ? fmt::format("{}; run netwhy as root (sudo netwhy port {})", h.result.why, c.q.port)
                               : h.result.why;
      if (h.result.rule) d.finding.rule = rule_text(*h.result.rule);
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
    const std::string seen = drop       ? "clients time out"
                             : no_route ? "clients see \"No route to host\""
                                        : "clients see \"connection refused\"";
    const std::string where = h.result.hook.empty() ? by : fmt::format("hook {}, {}", h.result.hook, by);
    const std::string message =
        h.reply ? fmt::format("The firewall {} the server's answers on {} to clients {}, from {}, as they leave ({}): "
                              "{}{}.",
                              drop ? "drops" : "rejects", what, h.local ? "on this host" : "on other hosts", list,
                              where, seen, fails ? "" : " on that way, though others get through")
                : fmt::format("The firewall {} {} {} to {} ({}): {}{}.", drop ? "drops" : "rejects", what, who, list,
                              where, seen,
                              fails ? "" : " on that way in, though they get in through another interface");
    Finding& f = c.add(drop ? Code::firewall_drop : Code::firewall_reject, fails ? Effect::cause : Effect::partial,
                       message,
                       firewall_fix(c, h), h.addresses)
                     .finding;
    if (h.result.rule) f.rule = rule_text(*h.result.rule);
    if (h.via) f.container = container_in(c, std::string(), h.via->to);  // a published port's way in
  }
}

}  // namespace netwhy::engine
