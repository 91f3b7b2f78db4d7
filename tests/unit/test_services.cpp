#include <doctest/doctest.h>

#include "netwhy/services.hpp"

using netwhy::parse_port_arg;
using netwhy::parse_services;
using netwhy::Protocol;

namespace {

// A few lines of Debian's netbase /etc/services, with its spacing.
constexpr std::string_view services = R"(# Network services, Internet style
tcpmux		1/tcp				# TCP port service multiplexer
ssh		22/tcp				# SSH Remote Login Protocol
domain		53/tcp				# Domain Name Server
domain		53/udp
http		80/tcp		www		# WorldWideWeb HTTP
https		443/tcp				# http protocol over TLS/SSL
https		443/udp				# HTTP/3
postgresql	5432/tcp	postgres	# PostgreSQL Database
broken		99999/tcp
noport		/tcp
)";

}  // namespace

TEST_CASE("service names and aliases give their port for the protocol") {
  CHECK(parse_services(services, "ssh", Protocol::tcp) == 22);
  CHECK(parse_services(services, "http", Protocol::tcp) == 80);
  CHECK(parse_services(services, "www", Protocol::tcp) == 80);
  CHECK(parse_services(services, "postgres", Protocol::tcp) == 5432);
  CHECK(parse_services(services, "domain", Protocol::udp) == 53);
  CHECK(parse_services(services, "https", Protocol::udp) == 443);
}

TEST_CASE("unknown names, other protocols, comments and broken lines give nothing") {
  CHECK_FALSE(parse_services(services, "ssh", Protocol::udp).has_value());
  CHECK_FALSE(parse_services(services, "gopher", Protocol::tcp).has_value());
  CHECK_FALSE(parse_services(services, "WorldWideWeb", Protocol::tcp).has_value());  // in a comment
  CHECK_FALSE(parse_services(services, "80/tcp", Protocol::tcp).has_value());        // the port field
  CHECK_FALSE(parse_services(services, "broken", Protocol::tcp).has_value());
  CHECK_FALSE(parse_services(services, "noport", Protocol::tcp).has_value());
  CHECK_FALSE(parse_services("", "ssh", Protocol::tcp).has_value());
}

TEST_CASE("port arguments: numbers need no /etc/services") {
  CHECK(*parse_port_arg("8080", Protocol::tcp, "/nonexistent/services") == 8080);
  CHECK(*parse_port_arg("65535", Protocol::udp, "/nonexistent/services") == 65535);
  CHECK(parse_port_arg("0", Protocol::tcp).error().message() == "bad port \"0\": ports are 1 to 65535");
  CHECK(parse_port_arg("65536", Protocol::tcp).error().message() == "bad port \"65536\": ports are 1 to 65535");
}

TEST_CASE("a service name without /etc/services fails cleanly, in one line") {
  const auto r = parse_port_arg("http", Protocol::tcp, "/nonexistent/services");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message() ==
        "bad port \"http\": not a number, and service names cannot be looked up "
        "(open /nonexistent/services: No such file or directory)");
}

TEST_CASE("a long or hostile port argument is shortened and escaped in the message") {
  const std::string long_arg(10000, '9');
  const std::string msg = parse_port_arg(long_arg, Protocol::tcp).error().message();
  CHECK(msg.size() < 120);
  CHECK(msg.find(std::string(60, '9') + "...") != std::string::npos);
  const std::string evil = parse_port_arg("\x1b[2J", Protocol::tcp).error().message();
  CHECK(evil.find('\x1b') == std::string::npos);
}
