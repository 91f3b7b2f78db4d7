#include <doctest/doctest.h>

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>

#include <cstring>

#include "netwhy/netlink.hpp"
#include "nlbuild.hpp"

using namespace netwhy;
using nltest::Msg;

TEST_CASE("link_from_rtnl: a veth whose peer lives in another namespace") {
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_type = ARPHRD_ETHER;
  ifi.ifi_index = 4;
  ifi.ifi_flags = IFF_UP | IFF_BROADCAST | IFF_MULTICAST | IFF_RUNNING | IFF_LOWER_UP;
  Msg m(RTM_NEWLINK, ifi);
  m.str(IFLA_IFNAME, "veth0")
      .u32(IFLA_MTU, 1500)
      .str(IFLA_QDISC, "noqueue")
      .u8(IFLA_OPERSTATE, 6)
      .u8(IFLA_LINKMODE, 0)
      .u32(IFLA_GROUP, 0)
      .u32(IFLA_TXQLEN, 1000)
      .bytes(IFLA_ADDRESS, {0x7a, 0xf0, 0xfd, 0xc3, 0xd9, 0xc9})
      .bytes(IFLA_BROADCAST, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
      .u32(IFLA_LINK, 2)
      .u32(IFLA_LINK_NETNSID, 0)
      .nest(IFLA_LINKINFO, nltest::attrs({{IFLA_INFO_KIND, "veth"}}))
      .nest(IFLA_PROP_LIST, nltest::attrs({{IFLA_ALT_IFNAME, "uplink"}, {IFLA_ALT_IFNAME, "wan"}}));
  auto l = link_from_rtnl(m.hdr());
  REQUIRE(l);
  CHECK(l->ifindex == 4);
  CHECK(l->name == "veth0");
  CHECK(l->mtu == 1500U);
  CHECK(l->qdisc == "noqueue");
  CHECK(l->operstate == 6);
  CHECK(l->txqlen == 1000U);
  CHECK(l->address == HwAddr{0x7a, 0xf0, 0xfd, 0xc3, 0xd9, 0xc9});
  CHECK(l->link == 2);
  CHECK(l->link_netnsid == 0);
  CHECK_FALSE(l->master.has_value());
  CHECK(l->kind == "veth");
  CHECK(l->altnames == std::vector<std::string>{"uplink", "wan"});
}

TEST_CASE("link_from_rtnl: absent and short attributes read as absent") {
  ifinfomsg ifi{};
  ifi.ifi_index = 9;
  Msg m(RTM_NEWLINK, ifi);
  const std::uint16_t two_bytes = 1500;
  m.attr(IFLA_MTU, &two_bytes, sizeof two_bytes);  // a u32 cut to 2 bytes
  auto l = link_from_rtnl(m.hdr());
  REQUIRE(l);
  CHECK_FALSE(l->name.has_value());
  CHECK_FALSE(l->mtu.has_value());
  CHECK_FALSE(l->txqlen.has_value());
  CHECK_FALSE(l->altnames.has_value());
}

namespace {

// One attribute's bytes (for nested payloads that hold numbers or nests).
std::vector<std::uint8_t> attr_bytes(std::uint16_t type, const void* data, std::size_t len) {
  std::vector<std::uint8_t> out(RTA_LENGTH(len));
  rtattr a{};
  a.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
  a.rta_type = type;
  std::memcpy(out.data(), &a, sizeof a);
  std::memcpy(out.data() + RTA_LENGTH(0), data, len);
  out.resize((out.size() + 3) & ~std::size_t{3});
  return out;
}

// IFLA_LINKINFO for a kind whose IFLA_INFO_DATA holds one mode attribute.
std::vector<std::uint8_t> linkinfo(const std::string& kind, std::uint16_t mode_attr, const void* mode,
                                   std::size_t mode_len) {
  std::vector<std::uint8_t> out = nltest::attrs({{IFLA_INFO_KIND, kind}});
  const auto data = attr_bytes(mode_attr, mode, mode_len);
  const auto nested = attr_bytes(IFLA_INFO_DATA, data.data(), data.size());
  out.insert(out.end(), nested.begin(), nested.end());
  return out;
}

}  // namespace

TEST_CASE("link_from_rtnl: a container's macvlan, its parent in another namespace, and its mode") {
  ifinfomsg ifi{};
  ifi.ifi_index = 3;
  const std::uint32_t bridge = MACVLAN_MODE_BRIDGE;
  Msg m(RTM_NEWLINK, ifi);
  m.str(IFLA_IFNAME, "mv0").u32(IFLA_LINK, 2).u32(IFLA_LINK_NETNSID, 0);
  m.nest(IFLA_LINKINFO, linkinfo("macvlan", IFLA_MACVLAN_MODE, &bridge, 4));
  auto l = link_from_rtnl(m.hdr());
  REQUIRE(l);
  CHECK(l->kind == "macvlan");
  CHECK(l->link == 2);
  CHECK(l->link_netnsid == 0);
  CHECK(l->macvlan_mode == std::uint32_t{MACVLAN_MODE_BRIDGE});
  CHECK_FALSE(l->ipvlan_mode.has_value());

  const std::uint16_t l3 = IPVLAN_MODE_L3;
  Msg iv(RTM_NEWLINK, ifi);
  iv.str(IFLA_IFNAME, "ipvl0").nest(IFLA_LINKINFO, linkinfo("ipvlan", IFLA_IPVLAN_MODE, &l3, 2));
  l = link_from_rtnl(iv.hdr());
  REQUIRE(l);
  CHECK(l->ipvlan_mode == std::uint16_t{IPVLAN_MODE_L3});
  CHECK_FALSE(l->macvlan_mode.has_value());

  // Another kind's data is not read as a mode; a mode cut short is absent.
  const std::uint32_t vni = 42;
  Msg vx(RTM_NEWLINK, ifi);
  vx.str(IFLA_IFNAME, "vx0").nest(IFLA_LINKINFO, linkinfo("vxlan", IFLA_MACVLAN_MODE, &vni, 4));
  l = link_from_rtnl(vx.hdr());
  REQUIRE(l);
  CHECK_FALSE(l->macvlan_mode.has_value());
  const std::uint16_t short_mode = 4;
  Msg cut(RTM_NEWLINK, ifi);
  cut.str(IFLA_IFNAME, "mv1").nest(IFLA_LINKINFO, linkinfo("macvlan", IFLA_MACVLAN_MODE, &short_mode, 2));
  l = link_from_rtnl(cut.hdr());
  REQUIRE(l);
  CHECK(l->kind == "macvlan");
  CHECK_FALSE(l->macvlan_mode.has_value());
}

TEST_CASE("decoders refuse messages shorter than their header") {
  ifinfomsg ifi{};
  Msg m(RTM_NEWLINK, ifi);
  auto cut = m.truncated(NLMSG_HDRLEN + 4);
  auto l = link_from_rtnl(reinterpret_cast<const nlmsghdr*>(cut.data()));
  REQUIRE_FALSE(l);
  CHECK(l.error().kind == ErrorKind::parse);
  auto a = address_from_rtnl(reinterpret_cast<const nlmsghdr*>(cut.data()));
  CHECK_FALSE(a);
  auto r = route_from_rtnl(reinterpret_cast<const nlmsghdr*>(cut.data()), 100);
  CHECK_FALSE(r);
}

TEST_CASE("address_from_rtnl: bytes of an IPv6 address message as the kernel sent them") {
  // Recorded from a dump (strace): 2001:db8:aa::1/64 on ifindex 2, nodad,
  // deprecated, valid_lft 2485, preferred_lft 0.
  const unsigned char recorded[] = {
      0x48, 0x00, 0x00, 0x00, 0x14, 0x00, 0x02, 0x00, 0x3a, 0x0b, 0x07, 0x6b, 0xc2, 0x1c, 0x80, 0xa9,
      0x0a, 0x40, 0x22, 0x00, 0x02, 0x00, 0x00, 0x00, 0x14, 0x00, 0x01, 0x00, 0x20, 0x01, 0x0d, 0xb8,
      0x00, 0xaa, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x14, 0x00, 0x06, 0x00,
      0x00, 0x00, 0x00, 0x00, 0xb5, 0x09, 0x00, 0x00, 0x9a, 0x31, 0x00, 0x00, 0x9a, 0x31, 0x00, 0x00,
      0x08, 0x00, 0x08, 0x00, 0x22, 0x00, 0x00, 0x00};
  alignas(nlmsghdr) unsigned char buf[sizeof recorded];
  std::memcpy(buf, recorded, sizeof recorded);
  auto a = address_from_rtnl(reinterpret_cast<const nlmsghdr*>(buf));
  REQUIRE(a);
  CHECK(a->family == Family::inet6);
  CHECK(a->ifindex == 2);
  CHECK(a->prefixlen == 64);
  CHECK(a->scope == 0);
  CHECK(a->flags == (IFA_F_NODAD | IFA_F_DEPRECATED));
  REQUIRE(a->address);
  CHECK(a->address->to_string() == "2001:db8:aa::1");
  CHECK_FALSE(a->local.has_value());
  REQUIRE(a->cacheinfo);
  CHECK(a->cacheinfo->valid == 2485U);
  CHECK(a->cacheinfo->preferred == 0U);
}

TEST_CASE("address_from_rtnl: a point-to-point IPv4 address with a label and metric") {
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = 32;
  ifa.ifa_index = 9;
  ifa.ifa_flags = IFA_F_PERMANENT;
  Msg m(RTM_NEWADDR, ifa);
  m.bytes(IFA_LOCAL, {10, 60, 0, 1}).bytes(IFA_ADDRESS, {10, 60, 0, 2}).str(IFA_LABEL, "mv0:p2p").u32(IFA_RT_PRIORITY, 77);
  auto a = address_from_rtnl(m.hdr());
  REQUIRE(a);
  CHECK(a->local->to_string() == "10.60.0.1");
  CHECK(a->address->to_string() == "10.60.0.2");
  CHECK(a->label == "mv0:p2p");
  CHECK(a->rt_priority == 77U);
  CHECK(a->flags == IFA_F_PERMANENT);
}

TEST_CASE("address_from_rtnl: families other than IP are not addresses here") {
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_PACKET;
  Msg m(RTM_NEWADDR, ifa);
  CHECK_FALSE(address_from_rtnl(m.hdr()));
}

TEST_CASE("route_from_rtnl: a multipath route, its table and cache info") {
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  rtm.rtm_dst_len = 16;
  rtm.rtm_table = RT_TABLE_UNSPEC;
  rtm.rtm_protocol = RTPROT_BOOT;
  rtm.rtm_type = RTN_UNICAST;
  Msg m(RTM_NEWROUTE, rtm);
  std::vector<std::uint8_t> hops;
  for (const auto& [ifindex, weight, gw] : {std::tuple{4, 1, std::uint8_t{2}}, std::tuple{4, 3, std::uint8_t{3}}}) {
    rtnexthop nh{};
    nh.rtnh_len = RTNH_LENGTH(RTA_LENGTH(4));
    nh.rtnh_ifindex = ifindex;
    nh.rtnh_hops = static_cast<unsigned char>(weight - 1);
    rtattr a{};
    a.rta_len = RTA_LENGTH(4);
    a.rta_type = RTA_GATEWAY;
    const std::uint8_t addr[4] = {10, 9, 0, gw};
    const auto* p = reinterpret_cast<const std::uint8_t*>(&nh);
    hops.insert(hops.end(), p, p + sizeof nh);
    p = reinterpret_cast<const std::uint8_t*>(&a);
    hops.insert(hops.end(), p, p + sizeof a);
    hops.insert(hops.end(), addr, addr + 4);
  }
  rta_cacheinfo ci{};
  ci.rta_expires = 29900;  // clock ticks
  m.bytes(RTA_DST, {10, 105, 0, 0}).u32(RTA_TABLE, 1000).attr(RTA_MULTIPATH, hops.data(), hops.size())
      .attr(RTA_CACHEINFO, &ci, sizeof ci);
  auto r = route_from_rtnl(m.hdr(), 100);
  REQUIRE(r);
  CHECK(r->table == 1000U);  // RTA_TABLE wins over rtm_table
  CHECK(r->dst->to_string() == "10.105.0.0");
  CHECK(r->dst_len == 16);
  REQUIRE(r->nexthops);
  REQUIRE(r->nexthops->size() == 2);
  CHECK((*r->nexthops)[0].gateway->to_string() == "10.9.0.2");
  CHECK((*r->nexthops)[1].hops == 2);
  CHECK((*r->nexthops)[1].ifindex == 4);
  REQUIRE(r->cacheinfo);
  CHECK(r->cacheinfo->expires == 299);
  CHECK_FALSE(r->oif.has_value());
}

TEST_CASE("route_from_rtnl: a nexthop list that lies about its length stops, never overreads") {
  rtmsg rtm{};
  rtm.rtm_family = AF_INET6;
  Msg m(RTM_NEWROUTE, rtm);
  rtnexthop nh{};
  nh.rtnh_len = 200;  // longer than the attribute
  m.attr(RTA_MULTIPATH, &nh, sizeof nh);
  auto r = route_from_rtnl(m.hdr(), 100);
  REQUIRE(r);
  REQUIRE(r->nexthops);
  CHECK(r->nexthops->empty());
}
