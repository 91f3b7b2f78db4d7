// SOCK_DIAG_BY_FAMILY over NETLINK_SOCK_DIAG, built with libnl's message API
// (libnl's idiag module is TCP-only and has no INET_DIAG_SKV6ONLY).
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "netwhy/sockets.hpp"
#include "../netlink/nl_session.hpp"

namespace netwhy {

namespace {

Family family_of(unsigned af) {
  if (af == AF_INET) return Family::inet;
  if (af == AF_INET6) return Family::inet6;
  return Family::unspec;
}

}  // namespace

std::vector<std::uint8_t> port_filter_bytecode(std::uint16_t port) {
  // [S_GE port][S_LE port]: each test is an op and an op holding the port.
  // A failed test jumps 4 bytes past the end (reject); passing both ends
  // exactly at the end (accept).
  const inet_diag_bc_op prog[4] = {
      {INET_DIAG_BC_S_GE, 8, 16 + 4},
      {0, 0, port},
      {INET_DIAG_BC_S_LE, 8, 8 + 4},
      {0, 0, port},
  };
  std::vector<std::uint8_t> out(sizeof prog);
  std::memcpy(out.data(), prog, sizeof prog);
  return out;
}

Expected<Socket> socket_from_diag(const nlmsghdr* msg, Protocol protocol) {
  if (msg->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) {
    return Error{ErrorKind::parse, 0, "truncated sock_diag message"};
  }
  const auto* d = static_cast<const inet_diag_msg*>(NLMSG_DATA(msg));
  const Family f = family_of(d->idiag_family);
  if (f == Family::unspec) return Error{ErrorKind::parse, 0, fmt::format("socket family {}", d->idiag_family)};
  nlattr* tb[INET_DIAG_MAX + 1] = {};
  if (nlmsg_parse(const_cast<nlmsghdr*>(msg), sizeof(inet_diag_msg), tb, INET_DIAG_MAX, nullptr) != 0) {
    return Error{ErrorKind::parse, 0, "malformed sock_diag attributes"};
  }
  Socket s;
  s.protocol = protocol;
  s.family = f;
  s.state = d->idiag_state;
  s.local = *IpAddr::from_bytes(f, d->id.idiag_src, sizeof d->id.idiag_src);
  s.remote = *IpAddr::from_bytes(f, d->id.idiag_dst, sizeof d->id.idiag_dst);
  s.port = ntohs(d->id.idiag_sport);
  s.remote_port = ntohs(d->id.idiag_dport);
  s.bound_ifindex = static_cast<int>(d->id.idiag_if);
  s.inode = d->idiag_inode;
  s.uid = d->idiag_uid;
  if (protocol == Protocol::tcp && s.state == tcp_listen) {
    s.queued = d->idiag_rqueue;   // connections waiting for accept()
    s.backlog = d->idiag_wqueue;  // the listen() backlog
  }
  if (f == Family::inet6 && tb[INET_DIAG_SKV6ONLY] != nullptr && nla_len(tb[INET_DIAG_SKV6ONLY]) >= 1) {
    s.v6only = nla_get_u8(tb[INET_DIAG_SKV6ONLY]) != 0;
  }
  unmap_ipv4(s);
  return s;
}

Expected<SocketRead> read_sockets_diag(const SocketQuery& q) {
  auto sk = nl::open_socket(NETLINK_SOCK_DIAG, "sock_diag");
  if (!sk) return sk.error();

  SocketRead out;
  const std::vector<std::uint8_t> filter = q.port ? port_filter_bytecode(*q.port) : std::vector<std::uint8_t>{};
  for (const Protocol proto : {Protocol::tcp, Protocol::udp}) {
    if ((proto == Protocol::tcp && !q.tcp) || (proto == Protocol::udp && !q.udp)) continue;
    for (const Family fam : {Family::inet, Family::inet6}) {
      // IPv4 sockets are in the IPv6 dump too (IPv4-mapped): asked for -4 also.
      if (q.family == Family::inet6 && fam == Family::inet) continue;
      const bool only_mapped = q.family == Family::inet && fam == Family::inet6;
      inet_diag_req_v2 req{};
      req.sdiag_family = static_cast<std::uint8_t>(fam);
      req.sdiag_protocol = proto == Protocol::tcp ? IPPROTO_TCP : IPPROTO_UDP;
      if (q.time_wait_only) {
        if (proto != Protocol::tcp) continue;
        req.idiag_states = 1U << tcp_time_wait;
      } else if (q.listening_only) {
        req.idiag_states = 1U << (proto == Protocol::tcp ? tcp_listen : tcp_close);
      } else {
        req.idiag_states = ~0U;
      }
      nl::Msg msg(nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP));
      if (!msg || nlmsg_append(msg.get(), &req, sizeof req, NLMSG_ALIGNTO) < 0 ||
          (!filter.empty() &&
           nla_put(msg.get(), INET_DIAG_REQ_BYTECODE, static_cast<int>(filter.size()), filter.data()) < 0)) {
        return system_error("build sock_diag request", ENOMEM);
      }
      const auto result = nl::exchange(sk->get(), msg.get(), [&](const nlmsghdr* m) {
        auto s = socket_from_diag(m, proto);
        // A port filter the kernel could not apply is applied here.
        if (s && (!q.port || s->port == *q.port) && (q.family == Family::unspec || s->family == q.family)) {
          out.sockets.push_back(*s);
        }
      });
      if (only_mapped && result.failed()) continue;  // no IPv6: no mapped sockets either
      if (result.kernel_errno == ENOENT || result.kernel_errno == EAFNOSUPPORT) {
        // No UDP diag module, or no IPv6: the kernel cannot answer that part.
        out.warnings.push_back(fmt::format("the kernel has no sock_diag for {} over {}; not listed",
                                           to_string(proto), fam == Family::inet6 ? "IPv6" : "IPv4"));
        continue;
      }
      if (result.failed()) return result.error("sock_diag dump");
    }
  }
  return out;
}

}  // namespace netwhy
