#include <doctest/doctest.h>

#include <linux/if_arp.h>
#include <linux/rtnetlink.h>

#include "netwhy/iproute_names.hpp"

using namespace netwhy;

TEST_CASE("rt_tables-style files: ids, hex ids, comments and junk") {
  const auto got = parse_id_names(
      "#\n# reserved values\n#\n255\tlocal\n254 main # the main table\n0x10 sixteen\n"
      "junk line\n  42\tanswer\textra\n300\n\n7");
  REQUIRE(got.size() == 4);
  CHECK(got[0] == std::pair<std::uint32_t, std::string>{255, "local"});
  CHECK(got[1] == std::pair<std::uint32_t, std::string>{254, "main"});
  CHECK(got[2] == std::pair<std::uint32_t, std::string>{16, "sixteen"});
  CHECK(got[3] == std::pair<std::uint32_t, std::string>{42, "answer"});
}

TEST_CASE("built-in names match ip's") {
  CHECK(route_type_name(RTN_UNREACHABLE) == "unreachable");
  CHECK(route_type_name(RTN_BLACKHOLE) == "blackhole");
  CHECK(route_type_name(200) == "200");
  CHECK(route_scope_name(RT_SCOPE_UNIVERSE) == "global");
  CHECK(route_scope_name(RT_SCOPE_LINK) == "link");
  CHECK(route_scope_name(RT_SCOPE_HOST) == "host");
  CHECK(route_protocol_name(RTPROT_KERNEL) == "kernel");
  CHECK(route_protocol_name(RTPROT_STATIC) == "static");
  CHECK(route_table_name(RT_TABLE_LOCAL) == "local");
  CHECK(route_table_name(RT_TABLE_MAIN) == "main");
  CHECK(route_table_id("main") == RT_TABLE_MAIN);
  CHECK(route_table_id("100") == 100U);
  CHECK_FALSE(route_table_id("no-such-table-name").has_value());
  CHECK(link_group_name(0) == "default");
  CHECK(link_type_name(ARPHRD_ETHER) == "ether");
  CHECK(link_type_name(ARPHRD_LOOPBACK) == "loopback");
  CHECK(link_type_name(ARPHRD_NONE) == "none");
  CHECK(link_type_name(9999) == "[9999]");
  CHECK(operstate_name(6) == "UP");
  CHECK(operstate_name(2) == "DOWN");
  CHECK(operstate_name(7).empty());
}

TEST_CASE("hardware addresses: colon hex, or an IP address for IP tunnels") {
  CHECK(hwaddr_string({0x42, 0xcd, 0xe7, 0xcc, 0x7d, 0xf2}, ARPHRD_ETHER) == "42:cd:e7:cc:7d:f2");
  CHECK(hwaddr_string({0, 0, 0, 0, 0, 0}, ARPHRD_LOOPBACK) == "00:00:00:00:00:00");
  CHECK(hwaddr_string({192, 0, 2, 7}, ARPHRD_SIT) == "192.0.2.7");
  CHECK(hwaddr_string({192, 0, 2, 7}, ARPHRD_ETHER) == "c0:00:02:07");
  CHECK(hwaddr_string({}, ARPHRD_NONE).empty());
}
