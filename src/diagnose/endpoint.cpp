// Per address: does a client on this host get through, and does a client on
// another host? The remote answer follows the kernel: Linux takes a packet
// for any of its addresses on any interface that is up (the weak host
// model), so an address on a down interface is still reached by clients
// that route it through another one.
#include <linux/rtnetlink.h>

#include <algorithm>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "engine.hpp"

namespace netwhy::engine {

namespace {

// A client on the network of the interface a packet arrives on.
FwPacket packet_from(const Context& c, const IpAddr& addr, int arrival, int addr_ifindex, unsigned prefixlen) {
  FwPacket p;
  p.family = addr.family;
  p.protocol = c.q.protocol;
  p.daddr = addr;
  p.dport = c.q.port;
  p.iifname = c.link_name(arrival);
  p.iif = arrival;
  p.saddr = addr;
  p.saddr_len = prefixlen;
  if (arrival != addr_ifindex) {
    p.saddr = IpAddr{addr.family, {}};
    p.saddr_len = 0;  // anywhere: a routed client
    if (const Address* a = c.first_address_on(arrival, addr.family)) {
      p.saddr = address_of(*a);
      p.saddr_len = a->prefixlen;
    }
  }
  return p;
}

// This host's own connect to addr, leaving over lo.
FwPacket local_packet(const Context& c, const IpAddr& addr) {
  FwPacket p;
  p.family = addr.family;
  p.protocol = c.q.protocol;
  p.daddr = addr;
  p.dport = c.q.port;
  p.saddr = addr;
  p.saddr_len = addr.bits();
  p.oifname = c.lo ? c.link_name(*c.lo) : "lo";
  p.oif = c.lo.value_or(1);
  return p;
}

// Through one interface: nullopt when it can't be decided.
std::optional<bool> remote_through(Context& c, const IpAddr& addr, int arrival, int addr_ifindex, unsigned prefixlen,
                                   std::optional<std::size_t>& listener) {
  const auto taker = c.taker(addr, arrival);
  if (!taker && !c.nat_prerouting) return false;  // no socket, and no rule that could send it elsewhere
  FwPacket p = packet_from(c, addr, arrival, addr_ifindex, prefixlen);
  // The kernel's order: ingress of the arrival interface, prerouting (raw,
  // mangle, ...), the nat decision, input; then the answer leaves through
  // output and postrouting.
  if (const auto early = filter_hooks(c, {"ingress", "prerouting"}, p, addr, arrival, false); early != true) {
    return early;
  }
  if (auto fwd = follow_forward(c, p, arrival)) return *fwd;
  if (!taker) return false;
  if (!listener) listener = taker;
  if (c.stalled[*taker]) return false;
  if (const auto in = filter_hooks(c, {"input"}, p, addr, arrival, false); in != true) return in;
  FwPacket reply = reply_to(p, p.iifname, arrival);
  const auto back = filter_hooks(c, {"output", "postrouting"}, reply, addr, arrival, false, true);
  if (back != true) return back;
  return through_holder(c, c.listeners[*taker], addr);  // docker-proxy passes it on
}

// An IPv6 address still in duplicate address detection, or that failed it,
// takes no packet.
bool unusable(const Address* a) {
  constexpr std::uint32_t tentative = 0x40, optimistic = 0x04, dadfailed = 0x08;  // IFA_F_*
  return a != nullptr && a->family == Family::inet6 &&
         (((a->flags & tentative) != 0 && (a->flags & optimistic) == 0) || (a->flags & dadfailed) != 0);
}

void add_endpoint(Context& c, const IpAddr& addr, int ifindex, bool from_host, unsigned prefixlen) {
  if (const auto it = c.endpoint_index.find(addr); it != c.endpoint_index.end()) {
    Endpoint& e = c.endpoints[it->second];
    e.from_host = e.from_host || from_host;
    return;
  }
  Endpoint e;
  e.address = addr;
  e.interface = c.link_name(ifindex);
  e.from_host = from_host;
  // From this host: the connection goes over lo, but a socket bound to a
  // device still takes connections to that device's own addresses.
  const auto owner = c.address_owner.find(addr);
  const bool dead = unusable(owner == c.address_owner.end() ? nullptr : owner->second);
  const auto local_taker = c.taker(addr, ifindex);
  e.local = local_taker.has_value() && !c.stalled[*local_taker] && !dead;
  // A nat output rule may send this host's own connect elsewhere (a
  // published container port): then that decides, not what listens here.
  std::optional<FwForward> out_nat;
  if (c.s.firewall.read && !dead) out_nat = c.fw.nat("output", local_packet(c, addr)).forward;
  if (out_nat) {
    e.local = local_forward(c, *out_nat, addr) == true;
  } else if (e.local && c.s.firewall.read) {
    // output and postrouting on the way out, over lo, then prerouting and
    // input on the way in; the answer goes back the same way.
    const std::string lo_name = c.lo ? c.link_name(*c.lo) : "lo";
    FwPacket p = local_packet(c, addr);
    bool blocked = filter_hooks(c, {"output", "postrouting"}, p, addr, ifindex, true) == false;
    FwPacket in = p;  // over lo the packet keeps its marks, and the connection its own
    in.oifname.clear();
    in.oif = 0;
    in.iifname = lo_name;
    in.iif = c.lo.value_or(1);
    blocked = blocked || filter_hooks(c, {"prerouting", "input"}, in, addr, ifindex, true) == false;
    FwPacket reply = reply_to(in, lo_name, c.lo.value_or(1));
    blocked = blocked || filter_hooks(c, {"output", "postrouting"}, reply, addr, ifindex, true, true) == false;
    if (blocked) e.local = false;
  }
  if (e.local && !out_nat && local_taker) e.local = through_holder(c, c.listeners[*local_taker], addr) == true;
  // From another host: never for loopback; else through the address's own
  // interface when it is up, or else any other one that is (the weak host
  // model).
  std::optional<std::size_t> remote_taker;
  if (addr.is_loopback() || dead) {
    e.remote = false;
  } else {
    // Clients on the address's own network, when its interface can take
    // packets; else, for IPv4 and for addresses on lo, clients that route it
    // through the other interfaces (IPv6 drops the local route of an
    // address whose interface goes down).
    std::vector<int> ways;
    if (std::find(c.arrivals.begin(), c.arrivals.end(), ifindex) != c.arrivals.end()) {
      ways = {ifindex};
    } else if (addr.family == Family::inet || c.is_loopback_link(ifindex)) {
      ways = c.arrivals;
    }
    bool any_unknown = false;
    bool ok = false;
    for (const int way : ways) {
      const std::optional<bool> r = remote_through(c, addr, way, ifindex, prefixlen, remote_taker);
      if (r == true) {
        ok = true;
        break;
      }
      if (!r) any_unknown = true;
    }
    e.remote = ok ? std::optional<bool>(true) : any_unknown ? std::nullopt : std::optional<bool>(false);
  }
  e.listener = local_taker ? local_taker : remote_taker;
  c.endpoint_index.emplace(addr, c.endpoints.size());
  c.endpoints.push_back(std::move(e));
}

}  // namespace

void build_endpoints(Context& c) {
  for (const Address& a : c.s.addresses) add_endpoint(c, address_of(a), a.ifindex, false, a.prefixlen);
  for (const IpAddr& addr : c.q.addresses) {
    if (auto ifindex = c.local_interface(addr)) {
      add_endpoint(c, addr, *ifindex, true, addr.bits());
      continue;
    }
    if (c.endpoint(addr) != nullptr) continue;
    Endpoint e;  // another machine: what the probe found from here
    e.address = addr;
    e.from_host = true;
    e.remote = std::nullopt;
    const Probe* p = c.probe_for(addr);
    e.local = p != nullptr && p->result == ProbeResult::ok;
    c.endpoint_index.emplace(addr, c.endpoints.size());
    c.endpoints.push_back(std::move(e));
  }
}

void explain_interfaces(Context& c) {
  std::set<int> reported;
  std::unordered_map<int, std::vector<IpAddr>> by_interface;  // every address, grouped once when needed
  for (const Address& a : c.s.addresses) {
    const IpAddr addr = address_of(a);
    const Endpoint* e = c.endpoint(addr);
    if (e == nullptr || addr.is_loopback() || c.is_loopback_link(a.ifindex)) continue;
    const bool matters = e->listener.has_value() || e->from_host || c.forwarding;
    if (!matters || reported.count(a.ifindex) != 0) continue;
    const Link* l = c.link(a.ifindex);
    if (l == nullptr || (Context::is_up(l) && Context::has_carrier(l))) continue;
    reported.insert(a.ifindex);
    const std::string name = c.link_name(a.ifindex);
    if (by_interface.empty()) {
      for (const Address& b : c.s.addresses) by_interface[b.ifindex].push_back(address_of(b));
    }
    std::vector<IpAddr> on_it = by_interface[a.ifindex];
    const std::string net = fmt::format("{}/{}", network_of(addr, a.prefixlen).to_string(), a.prefixlen);
    const bool down = !Context::is_up(l);
    const std::string state = down ? fmt::format("{} is down (administratively)", name)
                                   : fmt::format("{} is up but has no carrier (NO-CARRIER)", name);
    // Who still gets through: clients that route the address through
    // another interface of this host that is up.
    std::string message;
    Effect effect = Effect::cause;
    if (e->remote != false) {  // through another interface: they connect, or it is unknown
      effect = Effect::partial;
      message = fmt::format("{}: clients on its network ({}) can't reach {}; clients that route {} through another "
                            "interface of this host {}.",
                            state, net, addr.to_string(), addr.to_string(),
                            e->remote == true ? "still connect" : "may (see the other findings)");
    } else {
      message = fmt::format("{}: no packet from another host arrives on it, so clients on its network ({}) can't "
                            "reach {}.",
                            state, net, addr.to_string());
    }
    std::string fix = down ? fmt::format("ip link set {} up", name)
                           : l->kind == "bridge"
                                 ? "add a port to the bridge and bring it up (ip link set DEV master " + name + " up)"
                                 : std::string("check the cable or the other end of the link (a veth peer must be up)");
    Finding& f = c.add(down ? Code::interface_down : Code::no_carrier, effect, std::move(message), std::move(fix),
                       std::move(on_it))
                     .finding;
    f.interface = name;
    f.address = addr.to_string();
  }
}

namespace {

bool main_unicast(const Route& r) { return r.type == RTN_UNICAST && (r.table == 0 || r.table == RT_TABLE_MAIN); }

// The interfaces a route leaves through (one, or each of a multipath route's).
std::vector<int> route_devices(const Route& r) {
  std::vector<int> out;
  if (r.oif) out.push_back(*r.oif);
  if (r.nexthops) {
    for (const Nexthop& n : *r.nexthops) out.push_back(n.ifindex);
  }
  return out;
}

const Route* default_route(const Context& c, Family f) {
  for (const Route& r : c.s.routes) {
    if (r.family == f && r.dst_len == 0 && main_unicast(r)) return &r;
  }
  return nullptr;
}

std::int64_t sysctl_or(const Context& c, const std::string& name, std::int64_t fallback) {
  const auto it = c.s.sysctls.find(name);
  return it == c.s.sysctls.end() ? fallback : it->second;
}

}  // namespace

void explain_way_back(Context& c) {
  if (c.s.routes.empty()) return;  // the routes were not read (an older snapshot file): nothing to say
  for (const Family f : {Family::inet, Family::inet6}) {
    std::vector<IpAddr> reached;
    for (const Endpoint& e : c.endpoints) {
      if (e.remote == true && e.address.family == f && !link_local_v6(e.address) && c.place(e.address) == Place::own) {
        reached.push_back(e.address);
      }
    }
    if (reached.empty()) continue;
    const Route* def = default_route(c, f);
    if (def == nullptr) {
      // Answers to a client reach it only through a route: with no default
      // route, clients on networks this host has no route to time out.
      std::vector<std::string> nets;
      for (const Route& r : c.s.routes) {
        if (r.family != f || !main_unicast(r) || !r.dst) continue;
        if (f == Family::inet6 && link_local_v6(*r.dst)) continue;
        nets.push_back(fmt::format("{}/{}{}", r.dst->to_string(), r.dst_len,
                                   r.oif ? " (" + c.link_name(*r.oif) + ")" : ""));
      }
      const std::string fam = f == Family::inet ? "IPv4" : "IPv6";
      c.add(Code::no_route_back, Effect::partial,
            fmt::format("This host has no default route for {}: its answers reach only clients on {}; clients on other "
                        "networks time out, since the answers have no way back to them.",
                        fam, nets.empty() ? std::string("its own links") : join_list(nets, 4)),
            fmt::format("ip {}route add default via ROUTER-ADDRESS (a router on one of those networks, for clients "
                        "everywhere), or a route to the clients' own network",
                        f == Family::inet6 ? "-6 " : ""),
            reached);
      continue;
    }
    if (f != Family::inet) continue;  // rp_filter is IPv4's
    // Strict reverse-path filtering: a packet from a client outside the
    // arrival interface's networks is dropped when the route back to that
    // client (the default route) leaves through another interface.
    const std::vector<int> back = route_devices(*def);
    const std::int64_t all = sysctl_or(c, "net.ipv4.conf.all.rp_filter", 0);
    std::set<int> said;
    std::unordered_map<int, std::vector<IpAddr>> reached_on;  // grouped once when needed
    for (const IpAddr& a : reached) {
      const auto owner = c.address_owner.find(a);
      if (owner == c.address_owner.end()) continue;
      const int ifindex = owner->second->ifindex;
      if (said.count(ifindex) != 0 || std::find(back.begin(), back.end(), ifindex) != back.end()) continue;
      const std::string name = c.link_name(ifindex);
      const std::int64_t own = sysctl_or(c, fmt::format("net.ipv4.conf.{}.rp_filter", name), 0);
      if (std::max(all, own) != 1) continue;
      said.insert(ifindex);
      if (reached_on.empty()) {
        for (const IpAddr& b : reached) {
          const auto o = c.address_owner.find(b);
          if (o != c.address_owner.end()) reached_on[o->second->ifindex].push_back(b);
        }
      }
      std::vector<IpAddr> on_it = reached_on[ifindex];
      const std::string out = back.empty() ? std::string("another interface") : c.link_name(back.front());
      Finding& f2 = c.add(Code::rp_filter, Effect::partial,
                          fmt::format("Reverse-path filtering is strict on {} (rp_filter {}, all {}): a client outside "
                                      "{}'s networks whose packets for {} arrive on {} is dropped, because the route "
                                      "back to it (the default route) leaves through {}; clients on {}'s own networks "
                                      "connect. Loose filtering (2) takes them.",
                                      name, own, all, name, a.to_string(), name, out, name),
                          fmt::format("sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.{}.rp_filter=2", name),
                          std::move(on_it))
                        .finding;
      f2.interface = name;
    }
  }
}

}  // namespace netwhy::engine
