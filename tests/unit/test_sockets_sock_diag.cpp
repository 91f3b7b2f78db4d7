#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <cstring>

#include "netwhy/sockets.hpp"
#include "nlbuild.hpp"

using namespace netwhy;

TEST_CASE("sock_diag: a v6only listener on ::1, as the kernel sent it") {
  // Recorded with a raw NETLINK_SOCK_DIAG request: python bound ::1:8333 with
  // IPV6_V6ONLY and listen(7); attributes SHUTDOWN, SKV6ONLY=1, MARK,
  // CGROUP_ID and SOCKOPT follow the inet_diag_msg.
  const unsigned char recorded[] = {
      0x84, 0x00, 0x00, 0x00, 0x14, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3f, 0x24, 0x00, 0x00, 0x0a,
      0x0a, 0x00, 0x00, 0x20, 0x8d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa1,
      0x94, 0x01, 0x00, 0x05, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x0b, 0x00, 0x01, 0x00,
      0x00, 0x00, 0x08, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x15, 0x00, 0x01, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x16, 0x00, 0x12, 0x00, 0x00, 0x00};
  alignas(nlmsghdr) unsigned char buf[sizeof recorded];
  std::memcpy(buf, recorded, sizeof recorded);
  auto s = socket_from_diag(reinterpret_cast<const nlmsghdr*>(buf), Protocol::tcp);
  REQUIRE(s);
  CHECK(s->family == Family::inet6);
  CHECK(s->local.to_string() == "::1");
  CHECK(s->port == 8333);
  CHECK(s->state == tcp_listen);
  CHECK(s->v6only == true);
  CHECK(s->backlog == 7U);
  CHECK(s->queued == 0U);
  CHECK(s->inode == 103585U);
  CHECK(s->uid == 0U);
  CHECK(s->bound_ifindex == 0);
}

TEST_CASE("sock_diag: a UDP socket bound to a device, no v6only for IPv4, no queue numbers") {
  inet_diag_msg d{};
  d.idiag_family = AF_INET;
  d.idiag_state = tcp_close;
  d.id.idiag_sport = htons(68);
  d.id.idiag_if = 3;
  d.idiag_rqueue = 4096;
  d.idiag_wqueue = 0;
  d.idiag_uid = 101;
  d.idiag_inode = 555;
  nltest::Msg m(SOCK_DIAG_BY_FAMILY, d);
  auto s = socket_from_diag(m.hdr(), Protocol::udp);
  REQUIRE(s);
  CHECK(s->listening());
  CHECK(s->local.to_string() == "0.0.0.0");
  CHECK(s->bound_ifindex == 3);
  CHECK_FALSE(s->v6only.has_value());
  CHECK_FALSE(s->queued.has_value());
  CHECK_FALSE(s->backlog.has_value());
}

TEST_CASE("sock_diag: a Java listener on ::ffff:127.0.0.1 reads as IPv4 127.0.0.1") {
  inet_diag_msg d{};
  d.idiag_family = AF_INET6;
  d.idiag_state = tcp_listen;
  d.id.idiag_sport = htons(9090);
  REQUIRE(inet_pton(AF_INET6, "::ffff:127.0.0.1", d.id.idiag_src) == 1);
  d.idiag_wqueue = 100;
  d.idiag_inode = 4242;
  const std::uint8_t v6only = 0;
  nltest::Msg m(SOCK_DIAG_BY_FAMILY, d);
  m.attr(INET_DIAG_SKV6ONLY, &v6only, sizeof v6only);
  auto s = socket_from_diag(m.hdr(), Protocol::tcp);
  REQUIRE(s);
  CHECK(s->family == Family::inet);
  CHECK(s->local.to_string() == "127.0.0.1");
  CHECK(s->local.is_loopback());
  CHECK(s->port == 9090);
  CHECK(s->remote.family == Family::inet);
  CHECK(s->remote.to_string() == "0.0.0.0");
  CHECK_FALSE(s->v6only.has_value());
  CHECK(s->backlog == 100U);

  SUBCASE("a connection between mapped addresses: both ends IPv4") {
    inet_diag_msg c = d;
    c.idiag_state = tcp_established;
    REQUIRE(inet_pton(AF_INET6, "::ffff:10.0.0.9", c.id.idiag_dst) == 1);
    c.id.idiag_dport = htons(40000);
    nltest::Msg cm(SOCK_DIAG_BY_FAMILY, c);
    auto conn = socket_from_diag(cm.hdr(), Protocol::tcp);
    REQUIRE(conn);
    CHECK(conn->family == Family::inet);
    CHECK(conn->remote.to_string() == "10.0.0.9");
    CHECK(conn->remote_port == 40000);
  }
  SUBCASE("a plain IPv6 socket is left alone") {
    inet_diag_msg v6 = d;
    REQUIRE(inet_pton(AF_INET6, "::1", v6.id.idiag_src) == 1);
    nltest::Msg vm(SOCK_DIAG_BY_FAMILY, v6);
    vm.attr(INET_DIAG_SKV6ONLY, &v6only, sizeof v6only);
    auto plain = socket_from_diag(vm.hdr(), Protocol::tcp);
    REQUIRE(plain);
    CHECK(plain->family == Family::inet6);
    CHECK(plain->v6only == false);
  }
}

TEST_CASE("sock_diag: truncated answers and foreign families are errors") {
  inet_diag_msg d{};
  d.idiag_family = AF_UNIX;
  nltest::Msg m(SOCK_DIAG_BY_FAMILY, d);
  CHECK_FALSE(socket_from_diag(m.hdr(), Protocol::tcp));
  auto cut = m.truncated(NLMSG_HDRLEN + 10);
  CHECK_FALSE(socket_from_diag(reinterpret_cast<const nlmsghdr*>(cut.data()), Protocol::tcp));
}

TEST_CASE("the port filter is [S_GE port][S_LE port] with jumps the kernel accepts") {
  const auto bc = port_filter_bytecode(8000);
  REQUIRE(bc.size() == 16);
  inet_diag_bc_op ops[4];
  std::memcpy(ops, bc.data(), sizeof ops);
  CHECK(ops[0].code == INET_DIAG_BC_S_GE);
  CHECK(ops[0].yes == 8);
  CHECK(ops[0].no == 20);  // past the end: reject
  CHECK(ops[1].no == 8000);
  CHECK(ops[2].code == INET_DIAG_BC_S_LE);
  CHECK(ops[2].yes == 8);  // exactly the end: accept
  CHECK(ops[2].no == 12);
  CHECK(ops[3].no == 8000);
}
