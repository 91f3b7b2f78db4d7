#include <doctest/doctest.h>

#include "netwhy/inet.hpp"

using netwhy::Family;
using netwhy::IpAddr;

TEST_CASE("addresses parse in either family and print as inet_ntop does") {
  auto v4 = IpAddr::parse("10.0.2.15");
  REQUIRE(v4);
  CHECK(v4->family == Family::inet);
  CHECK(v4->to_string() == "10.0.2.15");
  auto v6 = IpAddr::parse("2001:DB8:0:0::1");
  REQUIRE(v6);
  CHECK(v6->family == Family::inet6);
  CHECK(v6->to_string() == "2001:db8::1");
  auto mapped = IpAddr::parse("::ffff:10.0.0.1");
  REQUIRE(mapped);
  CHECK(mapped->to_string() == "::ffff:10.0.0.1");
}

TEST_CASE("malformed addresses are refused") {
  for (const char* bad : {"", "10.0.0.256", "10.0.0", "10.0.0.1/24", "[::1]", "::1%lo", "localhost",
                          "1.2.3.4 ", "fe80:::1", "0123456789012345678901234567890123456789012345678"}) {
    CAPTURE(bad);
    CHECK_FALSE(IpAddr::parse(bad).has_value());
  }
}

TEST_CASE("loopback and unspecified") {
  CHECK(IpAddr::parse("127.0.0.1")->is_loopback());
  CHECK(IpAddr::parse("127.8.9.10")->is_loopback());
  CHECK(IpAddr::parse("::1")->is_loopback());
  CHECK_FALSE(IpAddr::parse("10.0.0.1")->is_loopback());
  CHECK_FALSE(IpAddr::parse("::ffff:127.0.0.1")->is_loopback());
  CHECK(IpAddr::parse("0.0.0.0")->is_unspecified());
  CHECK(IpAddr::parse("::")->is_unspecified());
}

TEST_CASE("from_bytes needs enough bytes for the family") {
  const unsigned char four[4] = {192, 0, 2, 1};
  CHECK(IpAddr::from_bytes(Family::inet, four, 4)->to_string() == "192.0.2.1");
  CHECK_FALSE(IpAddr::from_bytes(Family::inet, four, 3).has_value());
  CHECK_FALSE(IpAddr::from_bytes(Family::inet6, four, 4).has_value());
  CHECK_FALSE(IpAddr::from_bytes(Family::unspec, four, 4).has_value());
}
