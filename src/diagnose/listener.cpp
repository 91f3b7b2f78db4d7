// The listeners on the port: which there are, how they are bound, and, when
// there is none, where the server might be instead.
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "engine.hpp"
#include "netwhy/containers.hpp"
#include "netwhy/text.hpp"

namespace netwhy::engine {

namespace {

constexpr std::int64_t default_unprivileged_port_start = 1024;

std::string upper_first(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

const ContainerState* state_of(const Context& c, const ProcessContainer& pc) {
  for (const ContainerState& cs : c.s.containers) {
    if (cs.id.id == pc.id) return &cs;
  }
  return nullptr;
}

ProcessContainer tag_of(const ContainerState& cs) {
  return {std::string(to_string(cs.id.engine)), cs.id.id, cs.id.name, false};
}

// How to publish host_port to the container's port on every address: the
// compose file's ports line when compose made it, else -p when recreating.
std::string publish_fix(const Context& c, const ProcessContainer& pc, std::uint16_t container_port,
                        std::string_view instead = {}) {
  const std::string mapping = fmt::format("{}:{}", c.q.port, container_port);
  const std::string udp = c.q.protocol == Protocol::udp ? "/udp" : "";
  const ContainerState* cs = state_of(c, pc);
  if (cs != nullptr && !cs->id.compose_service.empty()) {
    return fmt::format("in the compose file of project {}, service {}: ports: [\"{}{}\"]{}, then docker compose up -d",
                       shell_word(cs->id.compose_project), shell_word(cs->id.compose_service), mapping, udp,
                       instead.empty() ? "" : fmt::format(" (instead of \"{}\")", instead));
  }
  const std::string prog = engine_program(pc);
  return fmt::format("recreate {} with -p {}{}{}: {} rm -f {}, then {} run with -p {}{} and the rest as before", container_text(pc),
                     mapping, udp, instead.empty() ? "" : fmt::format(" instead of -p {}", instead), prog,
                     shell_word(pc.name), prog, mapping, udp);
}

// The container's port behind host port q.port: docker-proxy's
// -container-port, the engine's record, or a nat output rule's target.
std::optional<std::uint16_t> container_port_of(Context& c, const ProcessContainer& pc, const Listener* l) {
  if (l != nullptr) {
    if (const Process* p = main_process(*l)) {
      std::string raw = p->cmdline;
      std::replace(raw.begin(), raw.end(), ' ', '\0');
      if (const auto f = parse_docker_proxy_cmdline(raw)) return f->container_port;
    }
  }
  if (const ContainerState* cs = state_of(c, pc)) {
    for (const auto* list : {&cs->networking.requested, &cs->networking.published}) {
      for (const PortBinding& b : *list) {
        if (b.host_port == c.q.port) return b.container_port;
      }
    }
  }
  // rootless podman: the container's own listener (of the same number, or its only one).
  if (const ContainerState* cs = state_of(c, pc); cs != nullptr && !cs->netns.empty()) {
    std::vector<std::uint16_t> ports;
    for (const ForeignListener& fl : c.s.other_netns) {
      if (fl.netns == cs->netns && fl.listener.socket.protocol == c.q.protocol && fl.listener.socket.listening()) {
        ports.push_back(fl.listener.socket.port);
      }
    }
    if (std::find(ports.begin(), ports.end(), c.q.port) != ports.end()) return c.q.port;
    if (!ports.empty() && std::all_of(ports.begin(), ports.end(), [&](std::uint16_t x) { return x == ports[0]; })) {
      return ports[0];
    }
  }
  FwPacket p;
  p.family = l != nullptr ? l->socket.local.family : Family::inet;
  p.protocol = c.q.protocol;
  p.daddr = l != nullptr ? l->socket.local : IpAddr::parse("127.0.0.1").value();
  p.dport = c.q.port;
  p.saddr = p.daddr;
  p.saddr_len = p.daddr.bits();
  p.oifname = "lo";
  p.oif = c.lo.value_or(1);
  if (const auto n = c.fw.nat("output", p).forward) return n->port;
  return std::nullopt;
}

void add_published_loopback(Context& c, const ProcessContainer& pc, const IpAddr& host_ip, const Listener* l,
                            std::vector<IpAddr> about) {
  const std::optional<std::uint16_t> cport = container_port_of(c, pc, l);
  const std::uint16_t to = cport.value_or(c.q.port);
  const std::string asked = fmt::format("{}:{}:{}", host_ip.family == Family::inet6 ? "[" + host_ip.to_string() + "]"
                                                                                      : host_ip.to_string(),
                                        c.q.port, to);
  Finding& f = c.add(Code::published_loopback, Effect::cause,
                     fmt::format("{} publishes {} on {} only (-p {}): other machines can't connect, only this host "
                                 "can.",
                                 upper_first(container_text(pc)),
                                 c.what(), host_ip.to_string(), asked),
                     publish_fix(c, pc, to, asked), std::move(about))
                   .finding;
  f.container = pc;
  f.container->holder = false;  // the container itself, not the process holding its port
  f.address = host_ip.to_string();
  f.port = c.q.port;
  if (l != nullptr) {
    if (const Process* p = main_process(*l)) f.pid = p->pid;
  }
}

bool stalled_queue(const Socket& sk) {
  // The kernel drops a SYN once more connections wait than the backlog
  // (sk_acceptq_is_full: ack_backlog > max_ack_backlog).
  return sk.protocol == Protocol::tcp && sk.queued && sk.backlog && *sk.queued > *sk.backlog;
}

// A program that usually serves the asked port (5000: Flask, 8000:
// gunicorn/Django, ...) listening elsewhere is named even when far away.
bool is_typical(const Listener& l, std::uint16_t port) {
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
  const auto it = typical.find(port);
  if (it == typical.end()) return false;
  const Process* p = main_process(l);
  if (p == nullptr) return false;
  return std::any_of(it->second.begin(), it->second.end(),
                     [&](std::string_view name) { return p->comm.rfind(name, 0) == 0; });
}

void explain_port_mismatch(Context& c) {
  struct Near {
    const Listener* l;
    int distance;
  };
  std::vector<Near> near;
  for (const Listener& l : c.s.listeners) {
    if (l.socket.protocol != c.q.protocol || !l.socket.listening() || l.socket.port == c.q.port) continue;
    const int distance = std::abs(static_cast<int>(l.socket.port) - static_cast<int>(c.q.port));
    if (distance <= 100 || is_typical(l, c.q.port)) near.push_back({&l, distance});
  }
  std::sort(near.begin(), near.end(), [](const Near& a, const Near& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.l->socket.port < b.l->socket.port;
  });
  std::vector<std::string> named;
  std::set<std::uint16_t> seen;
  for (const Near& n : near) {
    if (!seen.insert(n.l->socket.port).second) continue;
    named.push_back(fmt::format("{} on {}", c.owner_text(*n.l), listener_text(*n.l)));
    if (named.size() == 3) break;
  }
  if (named.empty()) return;
  std::string list;
  for (std::size_t i = 0; i < named.size(); ++i) {
    list += (i == 0 ? "" : i + 1 == named.size() ? " and " : ", ") + named[i];
  }
  Finding& f = c.add(Code::port_mismatch, Effect::hint,
                     fmt::format("Nothing is on port {}, but {} listen{} nearby: {}.", c.q.port,
                                 named.size() == 1 ? "one server" : "servers", named.size() == 1 ? "s" : "", list),
                     fmt::format("connect to the port the server really uses, or start it with port {}", c.q.port))
                   .finding;
  f.port = near.front().l->socket.port;
  if (const Process* p = main_process(*near.front().l)) f.pid = p->pid;
}

void explain_other_protocol(Context& c) {
  const Protocol other = c.q.protocol == Protocol::tcp ? Protocol::udp : Protocol::tcp;
  for (const Listener& l : c.s.listeners) {
    if (l.socket.port != c.q.port || l.socket.protocol != other || !l.socket.listening()) continue;
    Finding& f = c.add(Code::other_protocol, Effect::hint,
                       fmt::format("Nothing listens on {}, but {} listens on {} port {} ({}): the client and the "
                                   "server must use the same protocol.",
                                   c.what(), c.owner_text(l), proto_name(other), c.q.port, listener_text(l)),
                       other == Protocol::udp
                           ? fmt::format("if the service speaks UDP, ask with --udp (netwhy port {} --udp)", c.q.port)
                           : fmt::format("if the service speaks TCP, ask without --udp (netwhy port {})", c.q.port))
                     .finding;
    f.port = c.q.port;
    if (const Process* p = main_process(l)) f.pid = p->pid;
    return;
  }
}

// Does the engine's record list the container's bindings (docker's does)?
bool has_bindings(const Context& c, const ProcessContainer& pc) {
  const ContainerState* cs = state_of(c, pc);
  return cs != nullptr && (!cs->networking.published.empty() || !cs->networking.requested.empty() ||
                           cs->id.engine == Engine::docker);
}

// Does the container publish its port q.port on another host port (its
// record, or a DNAT rule to one of its addresses)? Then it is a port
// mismatch, not a missing -p.
bool published_elsewhere(const Context& c, const ProcessContainer& pc, const std::string& netns) {
  const std::string proto = c.q.protocol == Protocol::tcp ? "tcp" : "udp";
  if (const ContainerState* cs = state_of(c, pc)) {
    for (const PortBinding& b : cs->networking.published) {
      if (b.container_port == c.q.port && b.proto == proto) return true;
    }
  }
  // A port held for it here (podman's conmon, rootlessport): its mappings
  // are in podman's database, not read, so it may well be this one.
  for (const Listener& l : c.s.listeners) {
    const auto held = container_of(l);
    if (held && held->holder && held->id == pc.id && !has_bindings(c, pc)) return true;
  }
  for (const FwForward& t : port_forward_targets(c.s.firewall)) {
    if (t.port != c.q.port) continue;
    for (const ForeignAddress& a : c.s.other_netns_addresses) {
      if (a.netns == netns && a.address == t.to) return true;
    }
  }
  return false;
}

// A container that publishes the port and is not running: the port went
// with it.
void explain_exited(Context& c) {
  const std::string proto = c.q.protocol == Protocol::tcp ? "tcp" : "udp";
  for (const ContainerState& cs : c.s.containers) {
    if (cs.networking.running || !cs.engine_here) continue;
    const PortBinding* b = nullptr;
    for (const auto* list : {&cs.networking.requested, &cs.networking.published}) {
      for (const PortBinding& one : *list) {
        if (b == nullptr && one.host_port == c.q.port && one.proto == proto) b = &one;
      }
    }
    if (b == nullptr) continue;
    const ProcessContainer pc = tag_of(cs);
    const std::string host = b->host_ip ? b->host_ip->to_string() + ":" : "";
    Finding& f = c.add(Code::container_exited, Effect::cause,
                       fmt::format("{} publishes {} (-p {}{}:{}), but it is not running: the port went with it.",
                                   upper_first(container_text(pc)), c.what(), host, c.q.port,
                                   b->container_port),
                       cs.id.compose_service.empty()
                           ? fmt::format("{} start {} (and {} logs {} tells why it stopped)", engine_program(pc),
                                         shell_word(pc.name), engine_program(pc), shell_word(pc.name))
                           : fmt::format("docker compose -p {} up -d {} (and docker logs {} tells why it stopped)",
                                         shell_word(cs.id.compose_project), shell_word(cs.id.compose_service),
                                         shell_word(pc.name)))
                     .finding;
    f.container = pc;
    f.port = c.q.port;
  }
}

void explain_not_listening(Context& c) {
  c.add(Code::not_listening, Effect::cause,
        fmt::format("Nothing listens on {} in this network namespace.", c.what()),
        fmt::format("start the server on port {}, or check the port it was told to use", c.q.port));
  explain_other_protocol(c);
  explain_port_mismatch(c);
  for (const TimeWait& t : c.s.time_wait) {
    if (t.port == c.q.port && t.protocol == c.q.protocol && t.count > 0) {
      c.add(Code::time_wait_only, Effect::hint,
            fmt::format("{} connection{} to port {} {} still in TIME_WAIT: a server was here and stopped recently.",
                        t.count, t.count == 1 ? "" : "s", c.q.port, t.count == 1 ? "is" : "are"),
            "check why the server exited (its log, journalctl, or the terminal it ran in) and start it again")
          .finding.port = c.q.port;
    }
  }
  const auto it = c.s.sysctls.find("net.ipv4.ip_unprivileged_port_start");
  const std::int64_t start = it != c.s.sysctls.end() ? it->second : default_unprivileged_port_start;
  if (c.q.port < start) {
    c.add(Code::privileged_port, Effect::hint,
          fmt::format("Port {} is below net.ipv4.ip_unprivileged_port_start ({}): a server started without root or "
                      "CAP_NET_BIND_SERVICE cannot bind it.",
                      c.q.port, start),
          fmt::format("run the server as root, or grant it the capability (setcap cap_net_bind_service=+ep "
                      "/path/to/program), or use a port of {} or more behind a proxy",
                      start))
        .finding.port = c.q.port;
  }
  explain_exited(c);
  for (const ForeignListener& f : c.s.other_netns) {
    const Listener& l = f.listener;
    if (l.socket.port != c.q.port || l.socket.protocol != c.q.protocol || !l.socket.listening()) continue;
    const auto pc = container_of(l);
    const ContainerState* cs = pc ? state_of(c, *pc) : nullptr;
    if (pc && !pc->holder && cs != nullptr && cs->engine_here && !published_elsewhere(c, *pc, f.netns)) {
      // A container's server on the port, not published: -p does it.
      const bool loopback = l.socket.local.is_loopback();
      Finding& fd = c.add(Code::not_published, Effect::cause,
                          fmt::format("{} listens on {} in {}, but the container does not publish port {}: nothing "
                                      "takes it on this host.{}",
                                      c.owner_text(l).substr(0, c.owner_text(l).find(" in container")), listener_text(l),
                                      container_text(*pc), c.q.port,
                                      loopback ? " It listens on loopback only there, too." : ""),
                          publish_fix(c, *pc, c.q.port))
                        .finding;
      fd.netns = f.netns;
      fd.container = pc;
      if (const Process* p = main_process(l)) fd.pid = p->pid;
      fd.port = c.q.port;
      continue;
    }
    Finding& fd = c.add(Code::other_netns, Effect::hint,
                        fmt::format("{} listens on {} in another network namespace ({}), not in this one: a container "
                                    "or namespace has the server.",
                                    c.owner_text(l), listener_text(l), f.netns),
                        fmt::format("connect to that namespace's address, publish the port to this one (docker run "
                                    "-p {0}:{0} ...), or look inside with netwhy -n {1} port {0}",
                                    c.q.port, f.netns))
                      .finding;
    fd.netns = f.netns;
    if (const Process* p = main_process(l)) fd.pid = p->pid;
    fd.port = c.q.port;
  }
}

// The addresses of this host (not loopback, not link-local) whose clients a
// listener refuses.
std::vector<IpAddr> refused_addresses(const Context& c, Family family) {
  std::vector<IpAddr> out;
  for (const Endpoint& e : c.endpoints) {
    if (!e.interface || e.address.is_loopback() || e.address.family != family || link_local_v6(e.address)) continue;
    if (c.place(e.address) != Place::own) continue;
    if (!e.listener) out.push_back(e.address);
  }
  return out;
}

std::vector<std::string> with_interfaces(const Context& c, const std::vector<IpAddr>& addrs) {
  std::vector<std::string> out;
  for (const IpAddr& a : addrs) {
    const Endpoint* e = c.endpoint(a);
    out.push_back(e != nullptr && e->interface ? fmt::format("{} ({})", a.to_string(), *e->interface) : a.to_string());
  }
  return out;
}

void explain_bindings(Context& c) {
  std::map<Family, std::vector<IpAddr>> refused_by_family;  // the same for every listener of a family
  const auto refused_of = [&](Family f) -> const std::vector<IpAddr>& {
    auto it = refused_by_family.find(f);
    if (it == refused_by_family.end()) it = refused_by_family.emplace(f, refused_addresses(c, f)).first;
    return it->second;
  };
  const bool all_loopback = std::all_of(c.listeners.begin(), c.listeners.end(), [&](const Listener& l) {
    return l.socket.local.is_loopback() || (l.socket.bound_ifindex != 0 && c.is_loopback_link(l.socket.bound_ifindex));
  });
  const auto holder = container_of(c.listeners.front());
  if (all_loopback && holder && holder->holder) {
    std::vector<IpAddr> about = refused_of(Family::inet);
    const auto& v6 = refused_of(Family::inet6);
    about.insert(about.end(), v6.begin(), v6.end());
    add_published_loopback(c, *holder, c.listeners.front().socket.local, &c.listeners.front(), std::move(about));
  } else if (all_loopback) {
    const Listener& l = c.listeners.front();
    std::vector<IpAddr> about = refused_of(Family::inet);
    const auto& v6 = refused_of(Family::inet6);
    about.insert(about.end(), v6.begin(), v6.end());
    Finding& f = c.add(Code::bound_to_loopback, Effect::cause,
                       fmt::format("{} listens on {} only: other machines can't connect, only this host can.",
                                   c.owners_text(l), listener_text(l)),
                       l.socket.local.is_loopback()
                           ? fix_to_listen_everywhere(l, c.q.port)
                           : fmt::format("start {} without binding its socket to lo (SO_BINDTODEVICE): it listens on "
                                         "{} already, but takes only what arrives on lo",
                                         c.owner_text(l), endpoint_text(l.socket.local, l.socket.port)),
                       std::move(about))
                     .finding;
    if (const Process* p = main_process(l)) f.pid = p->pid;
    f.address = l.socket.local.to_string();
  }
  std::set<std::pair<IpAddr, int>, bool (*)(const std::pair<IpAddr, int>&, const std::pair<IpAddr, int>&)> seen(
      [](const std::pair<IpAddr, int>& a, const std::pair<IpAddr, int>& b) {
        return std::tie(a.first.family, a.first.bytes, a.second) < std::tie(b.first.family, b.first.bytes, b.second);
      });
  const bool v4_covered = std::any_of(c.listeners.begin(), c.listeners.end(),
                                      [&](const Listener& o) { return o.socket.family == Family::inet; });
  for (std::size_t i = 0; i < c.listeners.size(); ++i) {
    const Listener& l = c.listeners[i];
    const Socket& sk = l.socket;
    const Process* owner = main_process(l);
    // SO_REUSEPORT: one finding names every process sharing the socket's address
    if (!seen.insert({sk.local, sk.bound_ifindex}).second) continue;
    if (!sk.local.is_unspecified() && !sk.local.is_loopback() && !c.local_interface(sk.local)) {
      Finding& f = c.add(Code::address_not_local, Effect::cause,
                         fmt::format("{} listens on {}, an address no interface here has: nobody can connect to it.",
                                     c.owners_text(l), listener_text(l)),
                         fmt::format("add {} to an interface, or make the server listen on an address this host has "
                                     "(or 0.0.0.0)",
                                     sk.local.to_string()))
                       .finding;
      f.address = sk.local.to_string();
      if (owner != nullptr) f.pid = owner->pid;
    }
    if (!sk.local.is_unspecified() && !sk.local.is_loopback() && !all_loopback && c.local_interface(sk.local)) {
      const std::vector<IpAddr>& missed = refused_of(sk.family);
      if (!missed.empty()) {
        Finding& f = c.add(Code::bound_to_other_address, Effect::cause,
                           fmt::format("{} listens on {} only: connections to {} are refused.", c.owners_text(l),
                                       listener_text(l), join_list(with_interfaces(c, missed), 4)),
                           fix_to_listen_everywhere(l, c.q.port), missed)
                         .finding;
        f.address = sk.local.to_string();
        if (owner != nullptr) f.pid = owner->pid;
      }
    }
    if (sk.family == Family::inet6 && sk.local.is_unspecified() && c.v6only(sk)) {
      if (!v4_covered) {
        std::vector<IpAddr> v4;
        for (const Endpoint& e : c.endpoints) {
          if (e.interface && e.address.family == Family::inet) v4.push_back(e.address);
        }
        Finding& f = c.add(Code::v6only, Effect::cause,
                           fmt::format("{} listens on {} with IPV6_V6ONLY: IPv4 clients are refused.", c.owners_text(l),
                                       listener_text(l)),
                           "turn IPV6_V6ONLY off in the server (or sysctl net.ipv6.bindv6only=0 before it starts), or "
                           "make it listen on 0.0.0.0 as well",
                           std::move(v4))
                         .finding;
        if (owner != nullptr) f.pid = owner->pid;
      }
    }
    if (sk.bound_ifindex != 0 && !c.is_loopback_link(sk.bound_ifindex)) {
      // Bound to one device: only packets arriving on it are taken; from this
      // host, only connections to that device's own addresses.
      std::vector<IpAddr> refused;
      Listener unbound = l;
      unbound.socket.bound_ifindex = 0;
      for (const Endpoint& e : c.endpoints) {
        if (!e.interface || link_local_v6(e.address)) continue;
        if (!c.covers(unbound, e.address, 0)) continue;  // another address or family: not this socket's business
        if (!e.local || e.remote == false) refused.push_back(e.address);
      }
      const std::string dev = c.link_name(sk.bound_ifindex);
      std::string message = fmt::format("{} listens on {} bound to {} (SO_BINDTODEVICE): it takes only connections that "
                                     "arrive on {}{}.",
                                     c.owners_text(l), endpoint_text(sk.local, sk.port), dev, dev,
                                     refused.empty() ? ""
                                                     : ", so connections to " +
                                                           join_list(with_interfaces(c, refused), 4) + " are refused");
      Finding& f = c.add(Code::bound_to_device, Effect::cause, std::move(message),
                         fmt::format("if clients come through other interfaces too, start the server without binding it "
                                     "to {} (SO_BINDTODEVICE, --bind-to-device, or an interface setting)",
                                     dev),
                         std::move(refused))
                       .finding;
      f.interface = dev;
      if (owner != nullptr) f.pid = owner->pid;
    }
    if (c.stalled[i]) {
      std::vector<IpAddr> taken;
      for (const Endpoint& e : c.endpoints) {
        if (e.listener == i) taken.push_back(e.address);
      }
      Finding& f = c.add(Code::accept_queue_full, Effect::cause,
                         fmt::format("{} has stopped accepting connections on {}: its accept queue is full ({} waiting, "
                                     "backlog {}), so new connections time out.",
                                     c.owners_text(l), listener_text(l), *sk.queued, *sk.backlog),
                         "the server is not calling accept(): look for a stuck or overloaded process (its threads, "
                         "its log), add workers, or raise the listen() backlog (and net.core.somaxconn)",
                         std::move(taken))
                       .finding;
      if (owner != nullptr) f.pid = owner->pid;
    }
    if (l.processes.empty()) {
      std::string why = "it may belong to the kernel or have been passed to a process that exited";
      if (!c.s.gaps.root || c.s.gaps.unreadable_processes > 0) {
        why = fmt::format("netwhy is not root and could not look into {} process{}", c.s.gaps.unreadable_processes,
                          c.s.gaps.unreadable_processes == 1 ? "" : "es");
      }
      if (c.s.gaps.hidepid) why = "/proc is mounted with hidepid, which hides other users' processes";
      c.add(Code::process_unknown, Effect::doubt,
            fmt::format("The process holding {} can't be seen: {}.", listener_text(l), why),
            "run netwhy as root (sudo netwhy port ...) to see it");
    }
  }
  // The counters are the namespace's, since it was created: say so only when
  // one has counted, and only when no queue here is full right now.
  const auto over = c.s.counters.find("TcpExt.ListenOverflows");
  const std::uint64_t o = over != c.s.counters.end() ? over->second : 0;
  if (c.q.protocol == Protocol::tcp && o > 0 && !c.has_draft(Code::accept_queue_full)) {
    c.add(Code::accept_queue_full, Effect::context,
          fmt::format("The kernel has counted {} listen overflow{} in this network namespace since it was created (all "
                      "listeners together): an accept queue was full at some time, though none is now.",
                      o, o == 1 ? "" : "s"),
          "if connections time out now and then, watch ss -ltn (Recv-Q against Send-Q) while it happens");
  }
}

// Without a listener here (dockerd --userland-proxy=false, netavark): a
// running container whose every binding of the port is on loopback.
void explain_loopback_records(Context& c) {
  const std::string proto = c.q.protocol == Protocol::tcp ? "tcp" : "udp";
  for (const ContainerState& cs : c.s.containers) {
    if (!cs.networking.running || !cs.engine_here) continue;
    std::optional<IpAddr> host_ip;
    bool everywhere = false;
    for (const PortBinding& b : cs.networking.requested) {
      if (b.host_port != c.q.port || b.proto != proto) continue;
      if (!b.host_ip || !b.host_ip->is_loopback()) everywhere = true;
      else host_ip = b.host_ip;
    }
    if (!host_ip || everywhere) continue;
    std::vector<IpAddr> about;
    for (const Endpoint& e : c.endpoints) {
      if (e.interface && !e.address.is_loopback() && e.remote == false) about.push_back(e.address);
    }
    add_published_loopback(c, tag_of(cs), *host_ip, nullptr, std::move(about));
  }
}

}  // namespace

void collect_listeners(Context& c) {
  for (const Listener& l : c.s.listeners) {
    if (l.socket.port == c.q.port && l.socket.protocol == c.q.protocol && l.socket.listening()) {
      // ::ffff:a.b.c.d is a.b.c.d (a snapshot from an older netwhy may
      // still hold the mapped form).
      Listener copy = l;
      unmap_ipv4(copy.socket);
      const bool stalled = stalled_queue(copy.socket);
      c.add_listener(std::move(copy), stalled);
    }
  }
}

void explain_listeners(Context& c) {
  // HOST is another machine: what listens here is beside the point.
  if (c.q.host && !c.q.addresses.empty() &&
      std::all_of(c.q.addresses.begin(), c.q.addresses.end(),
                  [&](const IpAddr& a) { return c.place(a) == Place::other; })) {
    return;
  }
  if (c.listeners.empty() && c.forwarding) {
    c.add(Code::not_listening, Effect::context,
          fmt::format("Nothing listens on {} here; connections to it are forwarded (see port-forward).", c.what()));
    explain_loopback_records(c);
  } else if (c.listeners.empty()) {
    explain_not_listening(c);
  } else {
    explain_bindings(c);
  }
}

}  // namespace netwhy::engine
