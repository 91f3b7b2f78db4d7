#include "nl_session.hpp"

#include <cstring>

#include <fmt/format.h>

namespace netwhy::nl {

Expected<Sock> open_socket(int protocol, const char* what) {
  Sock sk(nl_socket_alloc());
  if (!sk) return system_error(fmt::format("allocate a {} socket", what), ENOMEM);
  if (const int err = nl_connect(sk.get(), protocol); err < 0) {
    return Error{ErrorKind::system, 0, fmt::format("connect to {}: {}", what, nl_geterror(err))};
  }
  nl_socket_disable_auto_ack(sk.get());
  nl_socket_disable_msg_peek(sk.get());
  nl_socket_set_msg_buf_size(sk.get(), 32768);
  return sk;
}

Error Outcome::error(const std::string& what) const {
  if (kernel_errno != 0) return Error{ErrorKind::kernel, kernel_errno, what};
  return Error{ErrorKind::system, 0, fmt::format("{}: {}", what, nl_geterror(nl_error))};
}

Outcome exchange(nl_sock* sock, nl_msg* req, const std::function<void(const nlmsghdr*)>& on_msg) {
  Outcome out;
  const int sent = nl_send_auto(sock, req);
  if (sent < 0) {
    out.nl_error = sent;
    return out;
  }
  struct Ctx {
    const std::function<void(const nlmsghdr*)>* on_msg;
    Outcome* out;
  } ctx{&on_msg, &out};
  Cb cb(nl_cb_alloc(NL_CB_DEFAULT));
  if (!cb) {
    out.nl_error = -NLE_NOMEM;
    return out;
  }
  nl_cb_set(
      cb.get(), NL_CB_VALID, NL_CB_CUSTOM,
      [](nl_msg* m, void* arg) -> int {
        auto* c = static_cast<Ctx*>(arg);
        (*c->on_msg)(nlmsg_hdr(m));
        return NL_OK;
      },
      &ctx);
  nl_cb_set(
      cb.get(), NL_CB_DUMP_INTR, NL_CB_CUSTOM,
      [](nl_msg*, void* arg) -> int {
        static_cast<Ctx*>(arg)->out->interrupted = true;
        return NL_OK;
      },
      &ctx);
  // A dump the kernel refused ends with NLMSG_DONE carrying the errno.
  nl_cb_set(
      cb.get(), NL_CB_FINISH, NL_CB_CUSTOM,
      [](nl_msg* m, void* arg) -> int {
        const nlmsghdr* h = nlmsg_hdr(m);
        if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
          int status = 0;
          std::memcpy(&status, NLMSG_DATA(h), sizeof status);
          if (status < 0) static_cast<Ctx*>(arg)->out->kernel_errno = -status;
        }
        return NL_STOP;
      },
      &ctx);
  nl_cb_err(
      cb.get(), NL_CB_CUSTOM,
      [](sockaddr_nl*, nlmsgerr* e, void* arg) -> int {
        static_cast<Ctx*>(arg)->out->kernel_errno = -e->error;
        return NL_STOP;
      },
      &ctx);
  const int rc = nl_recvmsgs(sock, cb.get());
  if (rc < 0 && out.kernel_errno == 0 && rc != -NLE_DUMP_INTR) out.nl_error = rc;
  return out;
}

}  // namespace netwhy::nl
