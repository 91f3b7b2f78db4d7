#include <doctest/doctest.h>

#include "netwhy/sockets.hpp"

using namespace netwhy;

TEST_CASE("/proc/net/tcp: listeners and established sockets, addresses in host byte order") {
  const char* text =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 0100007F:1F40 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 48122 1 "
      "0000000000000000 100 0 0 10 0\n"
      "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20011 1 "
      "0000000000000000 100 0 0 10 0\n"
      "   2: 0F02000A:0016 0202000A:C350 01 00000000:00000000 02:0009A7F3 00000000     0        0 20514 4 "
      "0000000000000000 20 4 29 10 -1\n";
  const auto got = parse_proc_net(text, Protocol::tcp, Family::inet);
  CHECK(got.skipped_lines == 0);
  REQUIRE(got.sockets.size() == 3);
  const Socket& flask = got.sockets[0];
  CHECK(flask.local.to_string() == "127.0.0.1");
  CHECK(flask.port == 8000);
  CHECK(flask.state == tcp_listen);
  CHECK(flask.listening());
  CHECK(flask.queued == 3U);
  CHECK_FALSE(flask.backlog.has_value());  // /proc does not say
  CHECK_FALSE(flask.v6only.has_value());
  CHECK(flask.uid == 1000U);
  CHECK(flask.inode == 48122U);
  CHECK(got.sockets[1].local.to_string() == "0.0.0.0");
  const Socket& ssh = got.sockets[2];
  CHECK(ssh.local.to_string() == "10.0.2.15");
  CHECK(ssh.remote.to_string() == "10.0.2.2");
  CHECK(ssh.remote_port == 50000);
  CHECK_FALSE(ssh.listening());
  CHECK_FALSE(ssh.queued.has_value());
}

// The first line of /proc/net/tcp6, as the kernel writes it.
#define TCP6_HEADER                                                                                        \
  "  sl  local_address                         remote_address                        st tx_queue rx_queue tr " \
  "tm->when retrnsmt   uid  timeout inode\n"

TEST_CASE("/proc/net/tcp6: IPv6, the wildcard and v4-mapped addresses") {
  const char* text =
      TCP6_HEADER
      "   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 "
      "00:00000000 00000000     0        0 20013 1 0000000000000000 100 0 0 10 0\n"
      "   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 "
      "00:00000000 00000000   33        0 777 1 0000000000000000 100 0 0 10 0\n"
      "   2: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D0F2 01 00000000:00000000 "
      "00:00000000 00000000     0        0 778 1 0000000000000000 20 4 30 10 -1\n"
      "   3: B80D0120000000000000000001000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 "
      "00:00000000 00000000     0        0 779 1 0000000000000000 100 0 0 10 0\n";
  const auto got = parse_proc_net(text, Protocol::tcp, Family::inet6);
  REQUIRE(got.sockets.size() == 4);
  CHECK(got.sockets[0].local.to_string() == "::");
  CHECK(got.sockets[1].local.to_string() == "::1");
  CHECK(got.sockets[1].port == 8080);
  CHECK(got.sockets[1].uid == 33U);
  // A v4-mapped socket is its IPv4 address, remote end included.
  CHECK(got.sockets[2].family == Family::inet);
  CHECK(got.sockets[2].local.to_string() == "127.0.0.1");
  CHECK(got.sockets[2].remote.to_string() == "127.0.0.1");
  CHECK(got.sockets[2].remote_port == 0xD0F2);
  CHECK(got.sockets[3].local.to_string() == "2001:db8::1");
  CHECK(got.sockets[3].family == Family::inet6);
}

TEST_CASE("/proc/net/tcp6: a Java listener on ::ffff:127.0.0.1 reads as IPv4 127.0.0.1") {
  // Tomcat with address="127.0.0.1": an AF_INET6 socket bound to the mapped address.
  const char* text =
      TCP6_HEADER
      "   0: 0000000000000000FFFF00000100007F:2382 00000000000000000000000000000000:0000 0A 00000000:00000000 "
      "00:00000000 00000000   998        0 4242 1 0000000000000000 100 0 0 10 0\n"
      "   1: 0000000000000000FFFF00000F02000A:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 "
      "00:00000000 00000000   998        0 4243 1 0000000000000000 100 0 0 10 0\n";
  const auto got = parse_proc_net(text, Protocol::tcp, Family::inet6);
  REQUIRE(got.sockets.size() == 2);
  const Socket& java = got.sockets[0];
  CHECK(java.family == Family::inet);
  CHECK(java.local.to_string() == "127.0.0.1");
  CHECK(java.local.is_loopback());
  CHECK(java.port == 9090);
  CHECK(java.remote.family == Family::inet);
  CHECK(java.remote.to_string() == "0.0.0.0");
  CHECK_FALSE(java.v6only.has_value());
  CHECK(java.listening());
  CHECK(got.sockets[1].local.to_string() == "10.0.2.15");
  CHECK(got.sockets[1].family == Family::inet);
}

TEST_CASE("/proc/net/udp: bound unconnected sockets are listeners, connected ones are not") {
  const char* text =
      "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref "
      "pointer drops\n"
      "  123: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 15000 2 "
      "0000000000000000 0\n"
      "  200: 0100007F:0035 0100007F:A000 01 00000000:00000000 00:00000000 00000000   101        0 15001 2 "
      "0000000000000000 0\n";
  const auto got = parse_proc_net(text, Protocol::udp, Family::inet);
  REQUIRE(got.sockets.size() == 2);
  CHECK(got.sockets[0].listening());
  CHECK(got.sockets[0].port == 68);
  CHECK_FALSE(got.sockets[0].queued.has_value());
  CHECK_FALSE(got.sockets[1].listening());
}

TEST_CASE("/proc/net parser: odd input is skipped and counted, never a crash") {
  SUBCASE("header only") {
    const auto got = parse_proc_net("  sl  local_address rem_address   st tx_queue rx_queue\n", Protocol::tcp,
                                    Family::inet);
    CHECK(got.sockets.empty());
    CHECK(got.skipped_lines == 0);
  }
  SUBCASE("empty") {
    CHECK(parse_proc_net("", Protocol::tcp, Family::inet).sockets.empty());
  }
  SUBCASE("a truncated last line (no newline) and short lines") {
    const char* text =
        "  sl  local_address rem_address   st\n"
        "   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
        "   1: 0100007F:1F41 00000000:0000 0A\n"
        "   2: 0100007F:1F42 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3";
    const auto got = parse_proc_net(text, Protocol::tcp, Family::inet);
    REQUIRE(got.sockets.size() == 1);
    CHECK(got.sockets[0].port == 8000);
    CHECK(got.skipped_lines == 2);
  }
  SUBCASE("garbage") {
    const char* text =
        "header\n"
        "   0: ZZZZZZZZ:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
        "   1: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     x        0 1 1\n"
        "   2: 0100007F1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
        "   3: 0100007F:11F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
        "\x1b[2J\xff\xfe\n";
    const auto got = parse_proc_net(text, Protocol::tcp, Family::inet);
    CHECK(got.sockets.empty());
    CHECK(got.skipped_lines == 5);
  }
  SUBCASE("an IPv4 line in the IPv6 file") {
    const char* text =
        "h\n   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n";
    CHECK(parse_proc_net(text, Protocol::tcp, Family::inet6).skipped_lines == 1);
  }
}
