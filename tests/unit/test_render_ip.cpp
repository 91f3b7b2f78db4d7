#include <doctest/doctest.h>

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_arp.h>
#include <linux/in_route.h>
#include <linux/rtnetlink.h>

#include <nlohmann/json.hpp>

#include "netwhy/render_ip.hpp"

using namespace netwhy;

namespace {

Link make_link(int index, std::string name, unsigned flags) {
  Link l;
  l.ifindex = index;
  l.name = std::move(name);
  l.type = ARPHRD_ETHER;
  l.flags = flags;
  l.mtu = 1500;
  l.qdisc = "noqueue";
  l.operstate = IF_OPER_UP;
  l.linkmode = 0;
  l.group = 0;
  l.txqlen = 1000;
  l.address = HwAddr{0x02, 0, 0, 0, 0, 0x01};
  l.broadcast = HwAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  return l;
}

std::string links_json(const std::vector<Link>& links, const std::vector<Address>& addrs, ListOptions opt) {
  JsonWriter w(JsonStyle::compact);
  const LinkIndex index(links);
  render_links_json(w, select_links(links, addrs, opt.view, opt.family, std::nullopt), index, opt);
  return w.text();
}

std::string links_text(const std::vector<Link>& links, const std::vector<Address>& addrs, ListOptions opt) {
  const LinkIndex index(links);
  return render_links_text(select_links(links, addrs, opt.view, opt.family, std::nullopt), index, opt);
}

Address make_addr(int ifindex, const char* ip, std::uint8_t len) {
  Address a;
  a.ifindex = ifindex;
  a.local = IpAddr::parse(ip);
  a.address = a.local;
  a.family = a.local->family;
  a.prefixlen = len;
  a.flags = IFA_F_PERMANENT;
  a.cacheinfo = AddrCacheInfo{0xFFFFFFFFU, 0xFFFFFFFFU};
  return a;
}

}  // namespace

TEST_CASE("a link whose lower device is down shows M-DOWN; an up link without carrier shows NO-CARRIER") {
  std::vector<Link> links = {make_link(5, "vB", IFF_BROADCAST | IFF_MULTICAST),
                             make_link(6, "vA", IFF_UP | IFF_BROADCAST | IFF_MULTICAST)};
  links[1].link = 5;
  links[1].operstate = IF_OPER_LOWERLAYERDOWN;
  const auto doc = nlohmann::json::parse(links_json(links, {}, ListOptions{}));
  CHECK(doc[1]["link"] == "vB");
  CHECK(doc[1]["flags"] == nlohmann::json({"NO-CARRIER", "BROADCAST", "MULTICAST", "UP", "M-DOWN"}));
  CHECK(doc[1]["operstate"] == "LOWERLAYERDOWN");
  CHECK(doc[1]["linkmode"] == "DEFAULT");
  const std::string text = links_text(links, {}, ListOptions{});
  CHECK(text.find("6: vA@vB: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 qdisc noqueue "
                  "state LOWERLAYERDOWN mode DEFAULT group default qlen 1000\n"
                  "    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff\n") != std::string::npos);
}

TEST_CASE("a peer in another namespace is link_index and link_netnsid, never a local name") {
  std::vector<Link> links = {make_link(2, "ifb0", IFF_UP), make_link(4, "veth0", IFF_UP | IFF_RUNNING | IFF_LOWER_UP)};
  links[1].link = 2;
  links[1].link_netnsid = 0;
  const auto doc = nlohmann::json::parse(links_json(links, {}, ListOptions{}));
  CHECK(doc[1]["link_index"] == 2);
  CHECK_FALSE(doc[1].contains("link"));
  CHECK(doc[1]["link_netnsid"] == 0);
  ListOptions named;
  named.netns_names = {{0, "blue"}};
  CHECK(links_text(links, {}, named).find("4: veth0@if2: ") != std::string::npos);
  CHECK(links_text(links, {}, named).find(" link-netns blue\n") != std::string::npos);
  CHECK(links_text(links, {}, ListOptions{}).find(" link-netnsid 0\n") != std::string::npos);
}

TEST_CASE("addr view: no linkmode, addresses with ip's flag words and lifetimes") {
  std::vector<Link> links = {make_link(2, "eth0", IFF_UP | IFF_RUNNING | IFF_LOWER_UP)};
  Address dyn = make_addr(2, "2001:db8::5", 64);
  dyn.flags = IFA_F_SECONDARY | IFA_F_DEPRECATED | IFA_F_NODAD;  // not permanent: dynamic
  dyn.cacheinfo = AddrCacheInfo{0, 300};
  Address sec = make_addr(2, "10.0.0.2", 24);
  sec.flags |= IFA_F_SECONDARY;
  sec.label = "eth0:web";
  sec.broadcast = IpAddr::parse("10.0.0.255");
  ListOptions opt;
  opt.view = LinkView::addr;
  const auto doc = nlohmann::json::parse(links_json(links, {sec, dyn}, opt));
  CHECK_FALSE(doc[0].contains("linkmode"));
  const auto& v4 = doc[0]["addr_info"][0];
  CHECK(v4["secondary"] == true);
  CHECK(v4["label"] == "eth0:web");
  CHECK(v4["broadcast"] == "10.0.0.255");
  CHECK(v4["valid_life_time"] == 4294967295U);
  CHECK_FALSE(v4.contains("dynamic"));
  const auto& v6 = doc[0]["addr_info"][1];
  CHECK(v6["temporary"] == true);  // IFA_F_SECONDARY reads "temporary" for IPv6
  CHECK(v6["dynamic"] == true);
  CHECK(v6["valid_life_time"] == 300);
  CHECK(v6["preferred_life_time"] == 0);
  const std::string text = links_text(links, {sec, dyn}, opt);
  CHECK(text.find("    inet 10.0.0.2/24 brd 10.0.0.255 scope global secondary eth0:web\n"
                  "       valid_lft forever preferred_lft forever\n") != std::string::npos);
  CHECK(text.find("    inet6 2001:db8::5/64 scope global temporary nodad deprecated dynamic \n"
                  "       valid_lft 300sec preferred_lft 0sec\n") != std::string::npos);
}

TEST_CASE("addr -4 shows only links with an IPv4 address, without link/ether lines") {
  std::vector<Link> links = {make_link(1, "a", IFF_UP), make_link(2, "b", IFF_UP)};
  ListOptions opt;
  opt.view = LinkView::addr;
  opt.family = Family::inet;
  const auto doc = nlohmann::json::parse(links_json(links, {make_addr(2, "10.1.1.1", 8), make_addr(1, "fe80::1", 64)}, opt));
  REQUIRE(doc.size() == 1);
  CHECK(doc[0]["ifname"] == "b");
  CHECK_FALSE(doc[0].contains("link_type"));
  CHECK_FALSE(doc[0].contains("address"));
}

TEST_CASE("brief view: one line per link") {
  std::vector<Link> links = {make_link(3, "eth0", IFF_UP | IFF_RUNNING | IFF_LOWER_UP)};
  ListOptions opt;
  opt.view = LinkView::addr;
  opt.brief = true;
  Address p2p = make_addr(3, "10.60.0.1", 32);
  p2p.address = IpAddr::parse("10.60.0.2");
  p2p.rt_priority = 7;
  CHECK(links_text(links, {p2p}, opt) == "eth0             UP             10.60.0.1 peer 10.60.0.2/32 metric 7 \n");
  CHECK(links_json(links, {p2p}, opt) ==
        R"([{"ifname":"eth0","operstate":"UP","addr_info":[{"local":"10.60.0.1","address":"10.60.0.2","prefixlen":32,"metric":7}]}])"
        "\n");
}

TEST_CASE("hostile interface names are escaped in text and valid in JSON") {
  std::vector<Link> links = {make_link(7, "\x1b]0;pwned\x07\xff", IFF_UP)};
  const std::string text = links_text(links, {}, ListOptions{});
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find("7: \\x1b]0;pwned\\x07\\xff: ") != std::string::npos);
  const auto doc = nlohmann::json::parse(links_json(links, {}, ListOptions{}));
  CHECK(doc[0]["ifname"] == "\x1b]0;pwned\x07\xef\xbf\xbd");
}

TEST_CASE("colour wraps fields only when the palette is on") {
  std::vector<Link> links = {make_link(1, "eth0", IFF_UP | IFF_RUNNING | IFF_LOWER_UP)};
  ListOptions opt;
  opt.palette = Palette(ColorMode::always);
  const std::string text = links_text(links, {}, opt);
  CHECK(text.find("\x1b[36meth0\x1b[0m: ") != std::string::npos);
  CHECK(text.find("state \x1b[32mUP\x1b[0m ") != std::string::npos);
  CHECK(links_text(links, {}, ListOptions{}).find('\x1b') == std::string::npos);
}

TEST_CASE("routes: ip's words, omissions and JSON keys") {
  std::vector<Link> links = {make_link(4, "veth0", IFF_UP)};
  const LinkIndex index(links);
  Route def;
  def.family = Family::inet;
  def.table = RT_TABLE_MAIN;
  def.protocol = RTPROT_BOOT;
  def.type = RTN_UNICAST;
  def.gateway = IpAddr::parse("10.9.0.2");
  def.oif = 4;
  def.priority = 100;
  CHECK(render_route_text(def, index, {}) == "default via 10.9.0.2 dev veth0 metric 100 \n");
  JsonWriter w(JsonStyle::compact);
  render_route_json(w, def, index, {});
  CHECK(w.text() == R"({"dst":"default","gateway":"10.9.0.2","dev":"veth0","metric":100,"flags":[]})" "\n");

  Route hole;
  hole.family = Family::inet;
  hole.type = RTN_BLACKHOLE;
  hole.table = 100;
  hole.protocol = RTPROT_BOOT;
  hole.dst = IpAddr::parse("10.102.0.0");
  hole.dst_len = 16;
  CHECK(render_route_text(hole, index, {}) == "blackhole 10.102.0.0/16 \n");
  CHECK(render_route_text(hole, index, RouteOptions{true, false, {}}) == "blackhole 10.102.0.0/16 table 100 \n");

  Route host;
  host.family = Family::inet;
  host.table = RT_TABLE_MAIN;
  host.type = RTN_UNICAST;
  host.protocol = RTPROT_KERNEL;
  host.scope = RT_SCOPE_LINK;
  host.dst = IpAddr::parse("10.60.0.2");
  host.dst_len = 32;
  host.oif = 4;
  host.prefsrc = IpAddr::parse("10.60.0.1");
  CHECK(render_route_text(host, index, {}) == "10.60.0.2 dev veth0 proto kernel scope link src 10.60.0.1 \n");
  CHECK(render_route_text(host, index, RouteOptions{false, true, {}}) ==
        "10.60.0.2 proto kernel scope link src 10.60.0.1 \n");
}

TEST_CASE("route get answers: cloned IPv4 routes carry cache flags, multipath lists nexthops") {
  std::vector<Link> links = {make_link(1, "lo", IFF_UP), make_link(4, "veth0", IFF_UP)};
  const LinkIndex index(links);
  Route local;
  local.family = Family::inet;
  local.type = RTN_LOCAL;
  local.table = RT_TABLE_MAIN;
  local.flags = RTM_F_CLONED | RTCF_LOCAL;
  local.dst = IpAddr::parse("10.9.0.1");
  local.dst_len = 32;
  local.oif = 1;
  local.prefsrc = IpAddr::parse("10.9.0.1");
  local.uid = 0;
  CHECK(render_route_text(local, index, {}) == "local 10.9.0.1 dev lo src 10.9.0.1 uid 0 \n    cache <local> \n");
  JsonWriter w(JsonStyle::compact);
  render_route_json(w, local, index, {});
  CHECK(w.text() ==
        R"({"type":"local","dst":"10.9.0.1","dev":"lo","prefsrc":"10.9.0.1","flags":[],"uid":0,"cache":["local"]})" "\n");

  Route mp;
  mp.family = Family::inet6;
  mp.type = RTN_UNICAST;
  mp.table = RT_TABLE_MAIN;
  mp.protocol = RTPROT_BOOT;
  mp.dst = IpAddr::parse("2001:db8:300::");
  mp.dst_len = 48;
  mp.priority = 1024;
  mp.pref = 0;
  mp.nexthops = std::vector<Nexthop>{{4, 0, 0, IpAddr::parse("2001:db8:9::2")}, {4, RTNH_F_ONLINK, 2, IpAddr::parse("2001:db8:9::3")}};
  CHECK(render_route_text(mp, index, {}) ==
        "2001:db8:300::/48 metric 1024 pref medium\n\tnexthop via 2001:db8:9::2 dev veth0 weight 1 "
        "\n\tnexthop via 2001:db8:9::3 dev veth0 weight 3 onlink \n");
}
