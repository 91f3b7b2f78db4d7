#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <tuple>

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

TEST_CASE("docker:NAME and podman:NAME name a container, found when the namespace is entered") {
  for (const auto& [spec, engine, name] :
       {std::tuple{"docker:web", netwhy::Engine::docker, "web"},
        std::tuple{"podman:web", netwhy::Engine::podman, "web"},
        std::tuple{"docker:da418ace7fb6", netwhy::Engine::docker, "da418ace7fb6"},
        std::tuple{"podman:my_app.1-db", netwhy::Engine::podman, "my_app.1-db"},
        std::tuple{"docker:a:b", netwhy::Engine::docker, "a:b"}}) {
    const char* const typed = spec;  // clang 14 can't capture a structured binding (CAPTURE's lambda)
    CAPTURE(typed);
    const auto t = parse_netns_spec(spec);
    REQUIRE(t);
    CHECK(t->engine == engine);
    CHECK(t->container == name);
    CHECK(t->display == spec);
    CHECK(t->pid == 0);  // not looked up yet
    CHECK(t->path.empty());
  }
  // Other engines' prefixes, and other spellings, stay /run/netns names.
  for (const char* plain : {"containerd:web", "Docker:web", "dockerweb", "docker"}) {
    CAPTURE(plain);
    const auto t = parse_netns_spec(plain);
    REQUIRE(t);
    CHECK(t->engine == netwhy::Engine::unknown);
    CHECK(t->path == std::string("/run/netns/") + plain);
  }
}

TEST_CASE("container names that are empty, hold '/' or NUL, or are too long are refused") {
  using namespace std::string_view_literals;
  for (const std::string_view bad : {"docker:"sv, "podman:"sv, "docker:a/b"sv, "podman:/web"sv, "docker:../x"sv,
                                     "docker:w\0b"sv}) {
    CAPTURE(std::string(bad));
    const auto t = parse_netns_spec(bad);
    REQUIRE_FALSE(t.has_value());
    CHECK(t.error().kind == netwhy::ErrorKind::input);
  }
  CHECK(parse_netns_spec("docker:").error().message() ==
        "bad netns \"docker:\": expected docker:NAME with a container's name or id");
  const auto long_name = parse_netns_spec("podman:" + std::string(256, 'w'));
  REQUIRE_FALSE(long_name.has_value());
  CHECK(long_name.error().message() == "bad container name \"" + std::string(60, 'w') + "...\": longer than 255 bytes");
  CHECK(parse_netns_spec("podman:" + std::string(255, 'w')).has_value());
}

TEST_CASE("resolving: a container's target gets its init's pid and namespace; others stay as they are") {
  const auto blue = netwhy::resolve_netns(*parse_netns_spec("blue"));
  REQUIRE(blue);
  CHECK(blue->path == "/run/netns/blue");
  const auto pid = netwhy::resolve_netns(*parse_netns_spec("pid:4242"));
  REQUIRE(pid);
  CHECK(pid->path == "/proc/4242/ns/net");
  // An empty /proc and no data root: no container runs there (find_container
  // itself is tested in test_containers.cpp).
  char tmpl[] = "/tmp/netwhy-netns-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::filesystem::path root = tmpl;
  std::filesystem::create_directory(root / "proc");
  const auto none = netwhy::resolve_netns(*parse_netns_spec("docker:web"), {(root / "proc").string(), tmpl});
  std::filesystem::remove_all(root);
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().message() == "no running docker container named \"web\"");
}
