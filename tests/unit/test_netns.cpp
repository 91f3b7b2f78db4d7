#include <doctest/doctest.h>

#include <string>

#include "netwhy/netns.hpp"

using netwhy::parse_netns_spec;

TEST_CASE("netns names map to /run/netns") {
  auto t = parse_netns_spec("blue");
  REQUIRE(t);
  CHECK(t->path == "/run/netns/blue");
  CHECK(t->pid == 0);
}

TEST_CASE("pid:PID names the namespace of a process") {
  auto t = parse_netns_spec("pid:4242");
  REQUIRE(t);
  CHECK(t->path == "/proc/4242/ns/net");
  CHECK(t->pid == 4242);
}

TEST_CASE("spellings that could escape /run/netns or are not pids are refused") {
  for (const char* bad : {"", ".", "..", "../etc", "a/b", "pid:", "pid:0", "pid:-1", "pid:12x", "pid:99999999999"}) {
    CAPTURE(bad);
    auto t = parse_netns_spec(bad);
    REQUIRE_FALSE(t.has_value());
    CHECK(t.error().kind == netwhy::ErrorKind::input);
  }
}

TEST_CASE("a netns name longer than a file name is refused, and cut in the message") {
  const auto r = parse_netns_spec(std::string(10240, 'n'));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message() == "bad netns name \"" + std::string(60, 'n') + "...\": longer than 255 bytes");
  CHECK(parse_netns_spec(std::string(255, 'n')).has_value());
}
