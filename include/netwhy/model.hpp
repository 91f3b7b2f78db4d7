// Plain values decoded from the kernel, once. Optional fields are absent when
// the kernel did not send the attribute: renderers follow iproute2's omission
// rules from that presence, never from a zero.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "netwhy/inet.hpp"

namespace netwhy {

using HwAddr = std::vector<std::uint8_t>;

// Link kinds stacked on a parent device whose children the parent's own
// host can't reach through it: macvlan (and macvtap), ipvlan (and ipvtap).
[[nodiscard]] inline bool macvlan_kind(std::string_view kind) { return kind == "macvlan" || kind == "macvtap"; }
[[nodiscard]] inline bool ipvlan_kind(std::string_view kind) { return kind == "ipvlan" || kind == "ipvtap"; }

struct Link {
  int ifindex = 0;
  std::uint8_t family = 0;       // ifi_family of the message (AF_UNSPEC or AF_INET6 dumps differ)
  std::uint16_t type = 0;        // ARPHRD_*
  std::uint32_t flags = 0;       // IFF_*
  std::optional<std::string> name;
  std::optional<std::uint32_t> mtu;
  std::optional<std::string> qdisc;
  std::optional<int> master;
  std::optional<std::uint8_t> operstate;  // IF_OPER_*
  std::optional<std::uint8_t> linkmode;
  std::optional<std::uint32_t> group;
  std::optional<std::uint32_t> txqlen;
  std::optional<HwAddr> address;
  std::optional<HwAddr> broadcast;
  std::optional<HwAddr> perm_address;
  std::optional<int> link;          // IFLA_LINK: the lower or peer device
  std::optional<int> link_netnsid;  // the peer lives in another netns
  std::optional<std::uint8_t> proto_down;
  std::optional<std::string> ifalias;
  std::optional<std::string> kind;  // IFLA_INFO_KIND: "veth", "bridge", ...
  std::optional<std::uint32_t> macvlan_mode;  // IFLA_MACVLAN_MODE (macvlan, macvtap): MACVLAN_MODE_*
  std::optional<std::uint16_t> ipvlan_mode;   // IFLA_IPVLAN_MODE (ipvlan, ipvtap): IPVLAN_MODE_*
  std::optional<std::vector<std::string>> altnames;  // IFLA_PROP_LIST
  bool operator==(const Link&) const = default;
};

struct AddrCacheInfo {
  std::uint32_t preferred = 0;  // seconds; 0xffffffff = forever
  std::uint32_t valid = 0;
  bool operator==(const AddrCacheInfo&) const = default;
};

struct Address {
  Family family = Family::inet;
  int ifindex = 0;
  std::uint8_t prefixlen = 0;
  std::uint8_t scope = 0;           // RT_SCOPE_*
  std::uint32_t flags = 0;          // IFA_F_*, from IFA_FLAGS when present
  std::optional<IpAddr> local;      // IFA_LOCAL (IFA_ADDRESS when absent)
  std::optional<IpAddr> address;    // IFA_ADDRESS (the peer on point-to-point)
  std::optional<IpAddr> broadcast;
  std::optional<IpAddr> anycast;
  std::optional<std::string> label;
  std::optional<AddrCacheInfo> cacheinfo;
  std::optional<std::uint32_t> rt_priority;  // "metric"
  bool operator==(const Address&) const = default;
};

struct Nexthop {
  int ifindex = 0;
  std::uint8_t flags = 0;   // RTNH_F_*
  std::uint8_t hops = 0;    // weight - 1
  std::optional<IpAddr> gateway;
  bool operator==(const Nexthop&) const = default;
};

struct RouteCacheInfo {
  std::int32_t expires = 0;   // seconds (kernel clock ticks / USER_HZ)
  std::uint32_t error = 0;
  std::uint32_t id = 0;
  std::uint32_t ts = 0;
  std::uint32_t tsage = 0;
  bool operator==(const RouteCacheInfo&) const = default;
};

struct RouteMetric {
  int id = 0;                 // RTAX_*
  std::uint32_t value = 0;
  std::string text;           // RTAX_CC_ALGO carries a name
  bool operator==(const RouteMetric&) const = default;
};

struct Route {
  Family family = Family::inet;
  std::uint8_t dst_len = 0;
  std::uint8_t src_len = 0;
  std::uint8_t tos = 0;
  std::uint8_t protocol = 0;  // RTPROT_*
  std::uint8_t scope = 0;     // RT_SCOPE_*
  std::uint8_t type = 0;      // RTN_*
  std::uint32_t flags = 0;    // RTM_F_* | RTNH_F_*
  std::uint32_t table = 0;    // RTA_TABLE, else rtm_table
  std::optional<IpAddr> dst;
  std::optional<IpAddr> src;
  std::optional<IpAddr> gateway;
  std::optional<IpAddr> prefsrc;
  std::optional<int> oif;
  std::optional<int> iif;
  std::optional<std::uint32_t> priority;  // "metric"
  std::optional<std::uint32_t> mark;
  std::optional<std::uint32_t> uid;
  std::optional<std::uint32_t> nhid;
  std::optional<std::uint8_t> pref;       // IPv6 router preference
  std::optional<RouteCacheInfo> cacheinfo;
  std::optional<std::vector<RouteMetric>> metrics;
  std::optional<std::vector<Nexthop>> nexthops;
  bool operator==(const Route&) const = default;
};

// ifindex -> link, for the names printed in place of indexes. Refers to the
// links it was built from: keep them alive and unchanged while it is used.
class LinkIndex {
 public:
  explicit LinkIndex(const std::vector<Link>& links);
  [[nodiscard]] const Link* find(int ifindex) const;
  // ip's ll_index_to_name: the name, "*" for 0, "if%d" when unknown.
  [[nodiscard]] std::string name(int ifindex) const;

 private:
  std::unordered_map<int, const Link*> by_index_;
};

}  // namespace netwhy
