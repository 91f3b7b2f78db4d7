// The only file that speaks libnl. Requests are built with libnl's message
// API; replies are decoded attribute by attribute into model values.
#include "netwhy/netlink.hpp"

#include "netwhy/fd.hpp"
#include "nl_session.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

namespace netwhy {

namespace {

using nl::Msg;

constexpr int max_dump_attempts = 3;

// ---- attribute readers: absent or short attributes read as nullopt ----

std::optional<std::uint32_t> get_u32(const nlattr* a) {
  if (a == nullptr || nla_len(a) < 4) return std::nullopt;
  return nla_get_u32(const_cast<nlattr*>(a));
}

std::optional<std::uint8_t> get_u8(const nlattr* a) {
  if (a == nullptr || nla_len(a) < 1) return std::nullopt;
  return nla_get_u8(const_cast<nlattr*>(a));
}

std::optional<std::string> get_string(const nlattr* a) {
  if (a == nullptr) return std::nullopt;
  const auto* data = static_cast<const char*>(nla_data(a));
  const auto len = static_cast<std::size_t>(nla_len(a));
  return std::string(data, strnlen(data, len));
}

std::optional<HwAddr> get_bytes(const nlattr* a) {
  if (a == nullptr) return std::nullopt;
  const auto* data = static_cast<const std::uint8_t*>(nla_data(a));
  return HwAddr(data, data + nla_len(a));
}

std::optional<IpAddr> get_ip(const nlattr* a, Family f) {
  if (a == nullptr) return std::nullopt;
  return IpAddr::from_bytes(f, nla_data(a), static_cast<std::size_t>(nla_len(a)));
}

std::optional<int> get_index(const nlattr* a) {
  if (auto v = get_u32(a)) return static_cast<int>(*v);
  return std::nullopt;
}

Error truncated(const char* what) { return Error{ErrorKind::parse, 0, fmt::format("truncated {} message", what)}; }

template <std::size_t N>
bool parse_attrs(const nlmsghdr* msg, std::size_t header, nlattr* (&tb)[N]) {
  return nlmsg_parse(const_cast<nlmsghdr*>(msg), static_cast<int>(header), tb, static_cast<int>(N - 1),
                     nullptr) == 0;
}

Family family_of(unsigned af) {
  if (af == AF_INET) return Family::inet;
  if (af == AF_INET6) return Family::inet6;
  return Family::unspec;
}

}  // namespace

// ---- decoders ----

Expected<Link> link_from_rtnl(const nlmsghdr* msg) {
  if (msg->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return truncated("link");
  const auto* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(msg));
  nlattr* tb[IFLA_MAX + 1] = {};
  if (!parse_attrs(msg, sizeof(ifinfomsg), tb)) return truncated("link");

  Link l;
  l.ifindex = ifi->ifi_index;
  l.family = ifi->ifi_family;
  l.type = ifi->ifi_type;
  l.flags = ifi->ifi_flags;
  l.name = get_string(tb[IFLA_IFNAME]);
  l.mtu = get_u32(tb[IFLA_MTU]);
  l.qdisc = get_string(tb[IFLA_QDISC]);
  l.master = get_index(tb[IFLA_MASTER]);
  l.operstate = get_u8(tb[IFLA_OPERSTATE]);
  l.linkmode = get_u8(tb[IFLA_LINKMODE]);
  l.group = get_u32(tb[IFLA_GROUP]);
  l.txqlen = get_u32(tb[IFLA_TXQLEN]);
  l.address = get_bytes(tb[IFLA_ADDRESS]);
  l.broadcast = get_bytes(tb[IFLA_BROADCAST]);
  l.perm_address = get_bytes(tb[IFLA_PERM_ADDRESS]);
  l.link = get_index(tb[IFLA_LINK]);
  if (auto id = get_u32(tb[IFLA_LINK_NETNSID])) l.link_netnsid = static_cast<std::int32_t>(*id);
  l.proto_down = get_u8(tb[IFLA_PROTO_DOWN]);
  l.ifalias = get_string(tb[IFLA_IFALIAS]);
  if (tb[IFLA_LINKINFO] != nullptr) {
    nlattr* info[IFLA_INFO_MAX + 1] = {};
    if (nla_parse_nested(info, IFLA_INFO_MAX, tb[IFLA_LINKINFO], nullptr) == 0) {
      l.kind = get_string(info[IFLA_INFO_KIND]);
      // A macvlan's or ipvlan's mode decides whether its siblings (and a
      // macvlan of the host's own) reach it.
      const bool macvlan = l.kind && macvlan_kind(*l.kind);
      const bool ipvlan = l.kind && ipvlan_kind(*l.kind);
      if ((macvlan || ipvlan) && info[IFLA_INFO_DATA] != nullptr) {
        nlattr* data[IFLA_MACVLAN_MAX > IFLA_IPVLAN_MAX ? IFLA_MACVLAN_MAX + 1 : IFLA_IPVLAN_MAX + 1] = {};
        const int max = macvlan ? IFLA_MACVLAN_MAX : IFLA_IPVLAN_MAX;
        if (nla_parse_nested(data, max, info[IFLA_INFO_DATA], nullptr) == 0) {
          if (macvlan) {
            l.macvlan_mode = get_u32(data[IFLA_MACVLAN_MODE]);
          } else if (data[IFLA_IPVLAN_MODE] != nullptr && nla_len(data[IFLA_IPVLAN_MODE]) >= 2) {
            l.ipvlan_mode = nla_get_u16(data[IFLA_IPVLAN_MODE]);
          }
        }
      }
    }
  }
  if (tb[IFLA_PROP_LIST] != nullptr) {
    nlattr* a = nullptr;
    int rem = 0;
    l.altnames.emplace();
    nla_for_each_nested(a, tb[IFLA_PROP_LIST], rem) {
      if (nla_type(a) == IFLA_ALT_IFNAME) l.altnames->push_back(*get_string(a));
    }
  }
  return l;
}

Expected<Address> address_from_rtnl(const nlmsghdr* msg) {
  if (msg->nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) return truncated("address");
  const auto* ifa = static_cast<const ifaddrmsg*>(NLMSG_DATA(msg));
  nlattr* tb[IFA_MAX + 1] = {};
  if (!parse_attrs(msg, sizeof(ifaddrmsg), tb)) return truncated("address");
  const Family f = family_of(ifa->ifa_family);
  if (f == Family::unspec) {
    return Error{ErrorKind::parse, 0, fmt::format("address family {} is not IP", ifa->ifa_family)};
  }
  Address a;
  a.family = f;
  a.ifindex = static_cast<int>(ifa->ifa_index);
  a.prefixlen = ifa->ifa_prefixlen;
  a.scope = ifa->ifa_scope;
  a.flags = get_u32(tb[IFA_FLAGS]).value_or(ifa->ifa_flags);
  a.local = get_ip(tb[IFA_LOCAL], f);
  a.address = get_ip(tb[IFA_ADDRESS], f);
  a.broadcast = get_ip(tb[IFA_BROADCAST], f);
  a.anycast = get_ip(tb[IFA_ANYCAST], f);
  a.label = get_string(tb[IFA_LABEL]);
  a.rt_priority = get_u32(tb[IFA_RT_PRIORITY]);
  if (tb[IFA_CACHEINFO] != nullptr && nla_len(tb[IFA_CACHEINFO]) >= static_cast<int>(sizeof(ifa_cacheinfo))) {
    ifa_cacheinfo ci{};
    std::memcpy(&ci, nla_data(tb[IFA_CACHEINFO]), sizeof ci);
    a.cacheinfo = AddrCacheInfo{ci.ifa_prefered, ci.ifa_valid};
  }
  return a;
}

namespace {

std::vector<RouteMetric> metrics_from(const nlattr* nest) {
  std::vector<RouteMetric> out;
  nlattr* mx[RTAX_MAX + 1] = {};
  if (nla_parse_nested(mx, RTAX_MAX, const_cast<nlattr*>(nest), nullptr) != 0) return out;
  for (int i = 1; i <= RTAX_MAX; ++i) {
    if (mx[i] == nullptr) continue;
    RouteMetric m;
    m.id = i;
    if (i == RTAX_CC_ALGO) {
      m.text = get_string(mx[i]).value_or("");
    } else {
      m.value = get_u32(mx[i]).value_or(0);
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<Nexthop> nexthops_from(const nlattr* attr, Family f) {
  std::vector<Nexthop> out;
  const auto* p = static_cast<const std::uint8_t*>(nla_data(attr));
  std::size_t len = static_cast<std::size_t>(nla_len(attr));
  while (len >= sizeof(rtnexthop)) {
    rtnexthop nh{};
    std::memcpy(&nh, p, sizeof nh);
    if (nh.rtnh_len < sizeof(rtnexthop) || nh.rtnh_len > len) break;
    Nexthop hop;
    hop.ifindex = nh.rtnh_ifindex;
    hop.flags = nh.rtnh_flags;
    hop.hops = nh.rtnh_hops;
    if (nh.rtnh_len > sizeof(rtnexthop)) {
      nlattr* tb[RTA_MAX + 1] = {};
      if (nla_parse(tb, RTA_MAX, reinterpret_cast<nlattr*>(const_cast<std::uint8_t*>(p) + RTNH_LENGTH(0)),
                    static_cast<int>(nh.rtnh_len - RTNH_LENGTH(0)), nullptr) == 0) {
        hop.gateway = get_ip(tb[RTA_GATEWAY], f);
      }
    }
    out.push_back(hop);
    const std::size_t step = RTNH_ALIGN(nh.rtnh_len);
    if (step >= len) break;
    len -= step;
    p += step;
  }
  return out;
}

}  // namespace

Expected<Route> route_from_rtnl(const nlmsghdr* msg, long user_hz) {
  if (msg->nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) return truncated("route");
  const auto* rtm = static_cast<const rtmsg*>(NLMSG_DATA(msg));
  nlattr* tb[RTA_MAX + 1] = {};
  if (!parse_attrs(msg, sizeof(rtmsg), tb)) return truncated("route");
  const Family f = family_of(rtm->rtm_family);
  if (f == Family::unspec) {
    return Error{ErrorKind::parse, 0, fmt::format("route family {} is not IP", rtm->rtm_family)};
  }
  Route r;
  r.family = f;
  r.dst_len = rtm->rtm_dst_len;
  r.src_len = rtm->rtm_src_len;
  r.tos = rtm->rtm_tos;
  r.protocol = rtm->rtm_protocol;
  r.scope = rtm->rtm_scope;
  r.type = rtm->rtm_type;
  r.flags = rtm->rtm_flags;
  r.table = get_u32(tb[RTA_TABLE]).value_or(rtm->rtm_table);
  r.dst = get_ip(tb[RTA_DST], f);
  r.src = get_ip(tb[RTA_SRC], f);
  r.gateway = get_ip(tb[RTA_GATEWAY], f);
  r.prefsrc = get_ip(tb[RTA_PREFSRC], f);
  r.oif = get_index(tb[RTA_OIF]);
  r.iif = get_index(tb[RTA_IIF]);
  r.priority = get_u32(tb[RTA_PRIORITY]);
  r.mark = get_u32(tb[RTA_MARK]);
  r.uid = get_u32(tb[RTA_UID]);
  r.nhid = get_u32(tb[RTA_NH_ID]);
  r.pref = get_u8(tb[RTA_PREF]);
  if (tb[RTA_CACHEINFO] != nullptr && nla_len(tb[RTA_CACHEINFO]) >= static_cast<int>(sizeof(rta_cacheinfo))) {
    rta_cacheinfo ci{};
    std::memcpy(&ci, nla_data(tb[RTA_CACHEINFO]), sizeof ci);
    const long hz = user_hz > 0 ? user_hz : 100;
    r.cacheinfo = RouteCacheInfo{static_cast<std::int32_t>(ci.rta_expires / hz), ci.rta_error, ci.rta_id,
                                 ci.rta_ts, ci.rta_tsage};
  }
  if (tb[RTA_METRICS] != nullptr) r.metrics = metrics_from(tb[RTA_METRICS]);
  if (tb[RTA_MULTIPATH] != nullptr) r.nexthops = nexthops_from(tb[RTA_MULTIPATH], f);
  return r;
}

// ---- the socket ----

struct Rtnl::Impl {
  nl::Sock sock;
  long user_hz = 100;

  nl::Outcome exchange(nl_msg* req, const std::function<void(const nlmsghdr*)>& on_msg) {
    return nl::exchange(sock.get(), req, on_msg);
  }
};

Rtnl::Rtnl(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Rtnl::Rtnl(Rtnl&&) noexcept = default;
Rtnl& Rtnl::operator=(Rtnl&&) noexcept = default;
Rtnl::~Rtnl() = default;

Expected<Rtnl> Rtnl::open() {
  auto sk = nl::open_socket(NETLINK_ROUTE, "rtnetlink");
  if (!sk) return sk.error();
  // Let the kernel filter dumps (by table) instead of sending everything.
  const int one = 1;
  (void)setsockopt(nl_socket_get_fd(sk->get()), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
  auto impl = std::make_unique<Impl>();
  impl->sock = std::move(*sk);
  const long hz = sysconf(_SC_CLK_TCK);
  impl->user_hz = hz > 0 ? hz : 100;
  return Rtnl(std::move(impl));
}

namespace {

// Interface tx queue length by ioctl, for link messages that lack IFLA_TXQLEN
// (IPv6's link dump); ip does the same.
std::optional<std::uint32_t> txqlen_by_ioctl(UniqueFd& sock, const std::string& name) {
  if (name.size() >= IFNAMSIZ) return std::nullopt;
  if (!sock.valid()) sock.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return std::nullopt;
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(sock.get(), SIOCGIFTXQLEN, &ifr) < 0) return std::nullopt;
  return static_cast<std::uint32_t>(ifr.ifr_qlen);
}

}  // namespace

Expected<std::vector<Link>> read_links(Rtnl& rtnl, std::uint8_t dump_family) {
  std::vector<Link> links;
  for (int attempt = 0; attempt < max_dump_attempts; ++attempt) {
    links.clear();
    Msg req(nlmsg_alloc_simple(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP));
    if (!req) return system_error("build link dump", ENOMEM);
    ifinfomsg ifi{};
    ifi.ifi_family = dump_family;
    // IPv6's link dump takes no attributes (strict checking refuses them).
    if (nlmsg_append(req.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0 ||
        (dump_family != AF_INET6 && nla_put_u32(req.get(), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0)) {
      return system_error("build link dump", ENOMEM);
    }
    const auto out = rtnl.impl().exchange(req.get(), [&](const nlmsghdr* m) {
      if (m->nlmsg_type != RTM_NEWLINK) return;
      if (auto l = link_from_rtnl(m)) links.push_back(std::move(*l));
    });
    if (out.failed()) return out.error("dump links");
    if (!out.interrupted) break;
  }
  UniqueFd sock;
  for (Link& l : links) {
    if (!l.txqlen && l.name) l.txqlen = txqlen_by_ioctl(sock, *l.name);
  }
  return links;
}

Expected<std::vector<Address>> read_addresses(Rtnl& rtnl, Family family) {
  std::vector<Address> addrs;
  for (int attempt = 0; attempt < max_dump_attempts; ++attempt) {
    addrs.clear();
    Msg req(nlmsg_alloc_simple(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP));
    if (!req) return system_error("build address dump", ENOMEM);
    ifaddrmsg ifa{};
    ifa.ifa_family = static_cast<std::uint8_t>(family);
    if (nlmsg_append(req.get(), &ifa, sizeof ifa, NLMSG_ALIGNTO) < 0) {
      return system_error("build address dump", ENOMEM);
    }
    const auto out = rtnl.impl().exchange(req.get(), [&](const nlmsghdr* m) {
      if (m->nlmsg_type != RTM_NEWADDR) return;
      if (auto a = address_from_rtnl(m)) addrs.push_back(std::move(*a));
    });
    if (out.failed()) return out.error("dump addresses");
    if (!out.interrupted) break;
  }
  return addrs;
}

Expected<DumpResult> for_each_route(Rtnl& rtnl, const RouteDump& what,
                                    const std::function<void(const Route&)>& sink) {
  Msg req(nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP));
  if (!req) return system_error("build route dump", ENOMEM);
  rtmsg rtm{};
  rtm.rtm_family = static_cast<std::uint8_t>(what.family);
  if (nlmsg_append(req.get(), &rtm, sizeof rtm, NLMSG_ALIGNTO) < 0 ||
      (what.table && nla_put_u32(req.get(), RTA_TABLE, *what.table) < 0)) {
    return system_error("build route dump", ENOMEM);
  }
  const long hz = rtnl.impl().user_hz;
  const auto out = rtnl.impl().exchange(req.get(), [&](const nlmsghdr* m) {
    if (m->nlmsg_type != RTM_NEWROUTE) return;
    auto r = route_from_rtnl(m, hz);
    if (!r) return;
    // The kernel filters when it can (strict checking); filter again for
    // kernels that ignore the request's table, and drop cached clones.
    if (what.family != Family::unspec && r->family != what.family) return;
    if (what.table && r->table != *what.table) return;
    if ((r->flags & RTM_F_CLONED) != 0) return;
    sink(*r);
  });
  if (out.failed()) return out.error("dump routes");
  return DumpResult{out.interrupted};
}

Expected<std::vector<Route>> read_routes(Rtnl& rtnl, const RouteDump& what) {
  std::vector<Route> routes;
  for (int attempt = 0; attempt < max_dump_attempts; ++attempt) {
    routes.clear();
    auto res = for_each_route(rtnl, what, [&](const Route& r) { routes.push_back(r); });
    if (!res) return res.error();
    if (!res->interrupted) break;
  }
  return routes;
}

Expected<Route> route_get(Rtnl& rtnl, const IpAddr& dst) {
  Msg req(nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_REQUEST));
  if (!req) return system_error("build route request", ENOMEM);
  rtmsg rtm{};
  rtm.rtm_family = static_cast<std::uint8_t>(dst.family);
  rtm.rtm_dst_len = static_cast<std::uint8_t>(dst.bits());
  if (nlmsg_append(req.get(), &rtm, sizeof rtm, NLMSG_ALIGNTO) < 0 ||
      nla_put(req.get(), RTA_DST, static_cast<int>(dst.size()), dst.bytes.data()) < 0) {
    return system_error("build route request", ENOMEM);
  }
  std::optional<Expected<Route>> got;
  const long hz = rtnl.impl().user_hz;
  const auto out = rtnl.impl().exchange(req.get(), [&](const nlmsghdr* m) {
    if (m->nlmsg_type == RTM_NEWROUTE && !got) got = route_from_rtnl(m, hz);
  });
  if (out.failed()) return out.error(fmt::format("route to {}", dst.to_string()));
  if (!got) return Error{ErrorKind::kernel, 0, fmt::format("route to {}: no answer", dst.to_string())};
  return std::move(*got);
}

std::optional<int> read_netns_id(Rtnl& rtnl, int netns_fd) {
  Msg req(nlmsg_alloc_simple(RTM_GETNSID, NLM_F_REQUEST));
  if (!req) return std::nullopt;
  rtgenmsg g{};
  g.rtgen_family = AF_UNSPEC;
  if (nlmsg_append(req.get(), &g, sizeof g, NLMSG_ALIGNTO) < 0 ||
      nla_put_u32(req.get(), NETNSA_FD, static_cast<std::uint32_t>(netns_fd)) < 0) {
    return std::nullopt;
  }
  std::optional<int> nsid;
  (void)rtnl.impl().exchange(req.get(), [&](const nlmsghdr* m) {
    if (m->nlmsg_type != RTM_NEWNSID || m->nlmsg_len < NLMSG_LENGTH(sizeof(rtgenmsg))) return;
    nlattr* tb[NETNSA_MAX + 1] = {};
    if (nlmsg_parse(const_cast<nlmsghdr*>(m), sizeof(rtgenmsg), tb, NETNSA_MAX, nullptr) != 0) return;
    if (auto v = get_u32(tb[NETNSA_NSID])) nsid = static_cast<std::int32_t>(*v);
  });
  if (nsid && *nsid < 0) return std::nullopt;  // NETNSA_NSID_NOT_ASSIGNED
  return nsid;
}

std::vector<std::pair<int, std::string>> read_netns_ids(Rtnl& rtnl) {
  std::vector<std::pair<int, std::string>> ids;
  const UniqueDir dir(opendir("/run/netns"));
  if (dir == nullptr) return ids;
  while (const dirent* e = readdir(dir.get())) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const UniqueFd fd(::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) continue;
    if (const auto nsid = read_netns_id(rtnl, fd.get())) ids.emplace_back(*nsid, name);
  }
  return ids;
}

}  // namespace netwhy
