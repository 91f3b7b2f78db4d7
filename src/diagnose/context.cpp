// The shared facts of the engine's parts: indexes over the snapshot, which
// socket takes which connection, and the words for listeners and owners.
#include <linux/if.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "engine.hpp"

namespace netwhy::engine {

std::size_t AddrHash::operator()(const IpAddr& a) const noexcept {
  std::size_t h = static_cast<std::size_t>(a.family);
  for (std::size_t i = 0; i < a.size(); ++i) h = h * 131 + a.bytes[i];
  return h;
}

template <class T>
void PrefixIndex<T>::add(const IpAddr& net, unsigned len, const T* item) {
  levels_[len][network_of(net, std::min(len, net.bits()))].push_back(item);
}

template <class T>
const std::vector<const T*>* PrefixIndex<T>::longest(const IpAddr& addr) const {
  for (const auto& [len, level] : levels_) {
    const auto it = level.find(network_of(addr, std::min(len, addr.bits())));
    if (it != level.end()) return &it->second;
  }
  return nullptr;
}

template class PrefixIndex<Address>;
template class PrefixIndex<Route>;

Context::Context(const Snapshot& snap, const Query& query) : s(snap), q(query), fw(snap.firewall) {
  for (const Link& l : s.links) {
    link_by_index.emplace(l.ifindex, &l);
    if ((l.flags & IFF_LOOPBACK) != 0 && !lo) lo = l.ifindex;
  }
  for (const Address& a : s.addresses) {
    const IpAddr addr = address_of(a);
    address_owner.emplace(addr, &a);
    first_address.emplace((static_cast<std::uint64_t>(static_cast<unsigned>(a.ifindex)) << 8) |
                              static_cast<std::uint8_t>(a.family),
                          &a);
    if (lo && a.ifindex == *lo) lo_addresses.push_back(&a);
    if (addr.family == a.family && !is_loopback_link(a.ifindex)) connected.add(addr, a.prefixlen, &a);
  }
  for (const Route& r : s.routes) {
    const IpAddr dst = r.dst.value_or(IpAddr{r.family, {}});
    if (dst.family != r.family) continue;  // covers nothing (prefix_covers)
    routes_by_dst.add(dst, r.dst_len, &r);
    if (r.oif) routes_with_oif.add(dst, r.dst_len, &r);
  }
  for (const Link& l : s.links) {
    if ((l.flags & IFF_LOOPBACK) == 0 && is_up(&l) && has_carrier(&l)) arrivals.push_back(l.ifindex);
  }
  nat_prerouting = s.firewall.read && std::any_of(s.firewall.chains.begin(), s.firewall.chains.end(), [](const FwChain& ch) {
    return ch.type == "nat" && ch.hook == "prerouting";
  });
}

const Address* Context::first_address_on(int ifindex, Family family) const {
  const auto it = first_address.find((static_cast<std::uint64_t>(static_cast<unsigned>(ifindex)) << 8) |
                                     static_cast<std::uint8_t>(family));
  return it == first_address.end() ? nullptr : it->second;
}

void Context::add_listener(Listener l, bool stalled_queue) {
  const std::size_t i = listeners.size();
  if (l.socket.local.is_unspecified()) {
    wildcard_listeners.push_back(i);
  } else {
    listeners_at[l.socket.local].push_back(i);
  }
  listeners.push_back(std::move(l));
  stalled.push_back(stalled_queue);
}

const Link* Context::link(int ifindex) const {
  const auto it = link_by_index.find(ifindex);
  return it == link_by_index.end() ? nullptr : it->second;
}

std::string Context::link_name(int ifindex) const {
  const Link* l = link(ifindex);
  return l != nullptr && l->name ? *l->name : fmt::format("if{}", ifindex);
}

bool Context::is_up(const Link* l) { return l != nullptr && (l->flags & IFF_UP) != 0; }
bool Context::has_carrier(const Link* l) { return l != nullptr && (l->flags & IFF_LOWER_UP) != 0; }

bool Context::is_loopback_link(int ifindex) const {
  const Link* l = link(ifindex);
  return l != nullptr && (l->flags & IFF_LOOPBACK) != 0;
}

std::optional<int> Context::local_interface(const IpAddr& addr) const {
  if (const auto it = address_owner.find(addr); it != address_owner.end()) return it->second->ifindex;
  for (const Address* a : lo_addresses) {
    if (a->family != addr.family) continue;
    if (prefix_covers(address_of(*a), a->prefixlen, addr)) return a->ifindex;
  }
  return std::nullopt;
}

// Loopback is 127.0.0.0/8 and ::1: a service address on lo (anycast, a
// load balancer's VIP) is reached by other hosts like any other.
Place Context::place(const IpAddr& addr) const {
  if (addr.is_loopback()) return Place::loopback;
  return local_interface(addr) ? Place::own : Place::other;
}

bool Context::v6only(const Socket& sk) const {
  if (sk.v6only) return *sk.v6only;
  const auto it = s.sysctls.find("net.ipv6.bindv6only");
  return it != s.sysctls.end() && it->second != 0;
}

bool Context::covers(const Listener& l, const IpAddr& addr, int arrival_ifindex) const {
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

std::optional<std::size_t> Context::taker(const IpAddr& addr, int ifindex) const {
  const auto best_of = [&](const std::vector<std::size_t>& candidates) {
    std::optional<std::size_t> best;
    int best_score = -1;
    for (const std::size_t i : candidates) {
      const Listener& l = listeners[i];
      if (!covers(l, addr, ifindex)) continue;
      const int score = (l.socket.bound_ifindex != 0 ? 2 : 0) + (l.socket.family == addr.family ? 1 : 0);
      if (score > best_score) {
        best = i;
        best_score = score;
      }
    }
    return best;
  };
  // The kernel looks up the bound address first, the wildcard only when
  // nothing is bound there (__inet_lookup_listener).
  if (const auto it = listeners_at.find(addr); it != listeners_at.end()) {
    if (auto t = best_of(it->second)) return t;
  }
  return best_of(wildcard_listeners);
}

const Endpoint* Context::endpoint(const IpAddr& addr) const {
  const auto it = endpoint_index.find(addr);
  return it == endpoint_index.end() ? nullptr : &endpoints[it->second];
}

const Probe* Context::probe_for(const IpAddr& addr) const {
  for (const Probe& p : s.probes) {
    if (p.address == addr && p.port == q.port) return &p;
  }
  return nullptr;
}

// The kernel's answer when netwhy could ask it; for a snapshot from another
// host, the longest matching route of its main tables.
std::optional<RouteLookup> Context::route_for(const IpAddr& addr) const {
  for (const RouteLookup& r : s.route_lookups) {
    if (r.address == addr) return r;
  }
  if (s.routes.empty()) return std::nullopt;
  const Route* best = nullptr;  // the longest match; of those, the lowest metric, then the first
  if (const auto* longest = routes_by_dst.longest(addr)) {
    for (const Route* rt : *longest) {
      if (best == nullptr || rt->priority.value_or(0) < best->priority.value_or(0)) best = rt;
    }
  }
  RouteLookup out;
  out.address = addr;
  if (best != nullptr && best->type == RTN_UNICAST) {
    out.route = *best;
  } else {
    out.error = ENETUNREACH;
  }
  return out;
}

std::string Context::what() const { return fmt::format("{} port {}", proto_name(q.protocol), q.port); }

// "gunicorn (pid 256, 3 workers)"
std::optional<ProcessContainer> container_of(const Listener& l) {
  const Process* p = main_process(l);
  return p != nullptr ? p->container : std::nullopt;
}

std::string container_text(const ProcessContainer& c) {
  return fmt::format("container {} ({})", c.name.empty() ? c.id.substr(0, 12) : c.name, c.engine);
}

std::string engine_program(const ProcessContainer& c) {
  return c.engine == "podman" ? "podman" : "docker";
}

std::string Context::owner_text(const Listener& l) const {
  const Process* p = main_process(l);
  if (p == nullptr) return "a process netwhy cannot see";
  // "httpd (pid 7) in container web (docker)", "docker-proxy (pid 5) for container web (docker)"
  const std::string in = !p->container              ? std::string()
                         : p->container->holder     ? " for " + container_text(*p->container)
                                                    : " in " + container_text(*p->container);
  const std::size_t others = l.processes.size() - 1;
  if (others == 0) return fmt::format("{} (pid {}){}", p->comm, p->pid, in);
  std::size_t workers = 0;
  for (const Process& w : l.processes) {
    if (w.ppid == p->pid) ++workers;
  }
  if (workers == others) {
    return fmt::format("{} (pid {}, {} worker{}){}", p->comm, p->pid, workers, workers == 1 ? "" : "s", in);
  }
  return fmt::format("{} (pid {}, and {} more){}", p->comm, p->pid, others, in);
}

std::optional<int> Context::egress_to(const IpAddr& addr) const {
  // The longest prefix; of equally long ones, the first.
  if (const auto* on = connected.longest(addr)) return on->front()->ifindex;
  if (const auto* via = routes_with_oif.longest(addr)) return via->front()->oif;
  return std::nullopt;
}

// "python3 (pid 10) and python3 (pid 11)": the sockets of one address and
// port shared with SO_REUSEPORT, each with its own process.
std::string Context::owners_text(const Listener& l) const {
  std::vector<std::string> names;
  const auto at = listeners_at.find(l.socket.local);
  const std::vector<std::size_t>& same = l.socket.local.is_unspecified() || at == listeners_at.end()
                                             ? wildcard_listeners
                                             : at->second;
  for (const std::size_t i : same) {
    const Listener& o = listeners[i];
    if (o.socket.local == l.socket.local && o.socket.family == l.socket.family &&
        o.socket.bound_ifindex == l.socket.bound_ifindex) {
      names.push_back(owner_text(o));
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (names.size() <= 1) return owner_text(l);
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < 4; ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  }
  if (names.size() > 4) out += fmt::format(" and {} more", names.size() - 4);
  return out;
}

Draft& Context::add(Code code, Effect effect, std::string message, std::optional<std::string> fix,
                    std::vector<IpAddr> about) {
  Draft d;
  d.finding.code = code;
  d.finding.severity = info(code).severity;
  d.finding.message = std::move(message);
  d.finding.fix = std::move(fix);
  d.effect = effect;
  d.about = std::move(about);
  draft_by_message.emplace(fmt::format("{}\n{}", static_cast<int>(code), d.finding.message), drafts.size());
  drafts.push_back(std::move(d));
  return drafts.back();
}

Draft* Context::draft_saying(Code code, const std::string& message) {
  const auto it = draft_by_message.find(fmt::format("{}\n{}", static_cast<int>(code), message));
  return it == draft_by_message.end() ? nullptr : &drafts[it->second];
}

void Context::add_about(Draft& d, const IpAddr& addr) {
  const auto i = static_cast<std::size_t>(&d - drafts.data());
  auto [it, first] = draft_about.try_emplace(i);
  if (first) it->second.insert(d.about.begin(), d.about.end());
  if (it->second.insert(addr).second) d.about.push_back(addr);
}

bool Context::has_draft(Code code) const {
  return std::any_of(drafts.begin(), drafts.end(), [&](const Draft& d) { return d.finding.code == code; });
}

std::string endpoint_text(const IpAddr& a, std::uint16_t port) {
  return a.family == Family::inet6 ? fmt::format("[{}]:{}", a.to_string(), port)
                                   : fmt::format("{}:{}", a.to_string(), port);
}

std::string listener_text(const Listener& l) {
  std::string out = endpoint_text(l.socket.local, l.socket.port);
  if (l.interface) out += " on " + *l.interface;
  return out;
}

std::string proto_name(Protocol p) { return p == Protocol::tcp ? "TCP" : "UDP"; }

bool link_local_v6(const IpAddr& a) {
  return a.family == Family::inet6 && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80;
}

bool prefix_covers(const IpAddr& net, unsigned len, const IpAddr& a) {
  if (net.family != a.family) return false;
  len = std::min(len, a.bits());
  for (unsigned b = 0; b < len; ++b) {
    const unsigned mask = 0x80U >> (b % 8);
    if ((net.bytes[b / 8] & mask) != (a.bytes[b / 8] & mask)) return false;
  }
  return true;
}

IpAddr network_of(const IpAddr& a, unsigned len) {
  IpAddr n = a;
  for (unsigned b = len; b < a.bits(); ++b) n.bytes[b / 8] &= static_cast<std::uint8_t>(~(0x80U >> (b % 8)));
  return n;
}

IpAddr address_of(const Address& a) { return a.local ? *a.local : a.address.value_or(IpAddr{}); }

std::string strip_period(std::string s) {
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string lower_first(std::string s) {
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z' && !(s.size() > 1 && s[1] >= 'A' && s[1] <= 'Z')) {
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  }
  return strip_period(s);
}

std::string join_list(const std::vector<std::string>& items, std::size_t shown) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < shown; ++i) out += (i == 0 ? "" : ", ") + items[i];
  if (items.size() > shown) out += fmt::format(" and {} more", items.size() - shown);
  return out;
}

}  // namespace netwhy::engine
