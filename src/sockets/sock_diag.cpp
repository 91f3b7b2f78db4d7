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

namespace netwhy {

namespace {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};
using NlSock = std::unique_ptr<nl_sock, Deleter<nl_socket_free>>;
using NlMsg = std::unique_ptr<nl_msg, Deleter<nlmsg_free>>;
using NlCb = std::unique_ptr<nl_cb, Deleter<nl_cb_put>>;

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
  return s;
}

Expected<SocketRead> read_sockets_diag(const SocketQuery& q) {
  NlSock sk(nl_socket_alloc());
  if (!sk) return system_error("allocate a netlink socket", ENOMEM);
  if (const int err = nl_connect(sk.get(), NETLINK_SOCK_DIAG); err < 0) {
    return Error{ErrorKind::system, 0, fmt::format("connect to sock_diag: {}", nl_geterror(err))};
  }
  nl_socket_disable_auto_ack(sk.get());
  nl_socket_disable_msg_peek(sk.get());
  nl_socket_set_msg_buf_size(sk.get(), 32768);

  SocketRead out;
  const std::vector<std::uint8_t> filter = q.port ? port_filter_bytecode(*q.port) : std::vector<std::uint8_t>{};
  for (const Protocol proto : {Protocol::tcp, Protocol::udp}) {
    if ((proto == Protocol::tcp && !q.tcp) || (proto == Protocol::udp && !q.udp)) continue;
    for (const Family fam : {Family::inet, Family::inet6}) {
      if (q.family != Family::unspec && q.family != fam) continue;
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
      NlMsg msg(nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP));
      if (!msg || nlmsg_append(msg.get(), &req, sizeof req, NLMSG_ALIGNTO) < 0 ||
          (!filter.empty() &&
           nla_put(msg.get(), INET_DIAG_REQ_BYTECODE, static_cast<int>(filter.size()), filter.data()) < 0)) {
        return system_error("build sock_diag request", ENOMEM);
      }
      if (const int err = nl_send_auto(sk.get(), msg.get()); err < 0) {
        return Error{ErrorKind::system, 0, fmt::format("send sock_diag request: {}", nl_geterror(err))};
      }
      struct Ctx {
        std::vector<Socket>* sockets;
        Protocol proto;
        const SocketQuery* q;
        int kernel_errno = 0;
      } ctx{&out.sockets, proto, &q};
      NlCb cb(nl_cb_alloc(NL_CB_DEFAULT));
      if (!cb) return system_error("allocate netlink callbacks", ENOMEM);
      nl_cb_set(
          cb.get(), NL_CB_VALID, NL_CB_CUSTOM,
          [](nl_msg* m, void* arg) -> int {
            auto* c = static_cast<Ctx*>(arg);
            auto s = socket_from_diag(nlmsg_hdr(m), c->proto);
            if (!s) return NL_OK;
            // UDP "unconnected" is TCP_CLOSE with no peer; a port filter the
            // kernel could not apply is applied here.
            if (c->q->port && s->port != *c->q->port) return NL_OK;
            c->sockets->push_back(*s);
            return NL_OK;
          },
          &ctx);
      nl_cb_set(
          cb.get(), NL_CB_FINISH, NL_CB_CUSTOM,
          [](nl_msg* m, void* arg) -> int {
            const nlmsghdr* h = nlmsg_hdr(m);
            if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
              int status = 0;
              std::memcpy(&status, NLMSG_DATA(h), sizeof status);
              if (status < 0) static_cast<Ctx*>(arg)->kernel_errno = -status;
            }
            return NL_STOP;
          },
          &ctx);
      nl_cb_err(
          cb.get(), NL_CB_CUSTOM,
          [](sockaddr_nl*, nlmsgerr* e, void* arg) -> int {
            static_cast<Ctx*>(arg)->kernel_errno = -e->error;
            return NL_STOP;
          },
          &ctx);
      const int rc = nl_recvmsgs(sk.get(), cb.get());
      if (ctx.kernel_errno != 0) {
        // No UDP diag module, or no IPv6: the kernel cannot answer that part.
        if (ctx.kernel_errno == ENOENT || ctx.kernel_errno == EAFNOSUPPORT) {
          out.warnings.push_back(fmt::format("the kernel has no sock_diag for {} over {}; not listed",
                                             to_string(proto), fam == Family::inet6 ? "IPv6" : "IPv4"));
          continue;
        }
        return Error{ErrorKind::kernel, ctx.kernel_errno, "sock_diag dump"};
      }
      if (rc < 0 && rc != -NLE_DUMP_INTR) {
        return Error{ErrorKind::system, 0, fmt::format("sock_diag dump: {}", nl_geterror(rc))};
      }
    }
  }
  return out;
}

}  // namespace netwhy
