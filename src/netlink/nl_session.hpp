// libnl plumbing shared by rtnetlink and sock_diag: RAII for libnl's handles,
// a socket set up for dumps, and one request/answer exchange that reports the
// kernel's errno (also the one a refused dump carries in NLMSG_DONE).
// Private to src/: the rest of the code never sees libnl.
#pragma once

#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include <functional>
#include <memory>
#include <string>

#include "netwhy/error.hpp"

namespace netwhy::nl {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};
using Sock = std::unique_ptr<nl_sock, Deleter<nl_socket_free>>;
using Msg = std::unique_ptr<nl_msg, Deleter<nlmsg_free>>;
using Cb = std::unique_ptr<nl_cb, Deleter<nl_cb_put>>;

// A socket of the given netlink protocol, connected, without auto-ack, with
// 32 KiB reads and no peeking (the kernel's dump chunks fit).
[[nodiscard]] Expected<Sock> open_socket(int protocol, const char* what);

struct Outcome {
  int kernel_errno = 0;   // the kernel refused (NLMSG_ERROR, or an errno in NLMSG_DONE)
  int nl_error = 0;       // libnl failed (negative NLE_*)
  bool interrupted = false;  // NLM_F_DUMP_INTR: the tables changed during the dump
  [[nodiscard]] bool failed() const { return kernel_errno != 0 || nl_error != 0; }
  [[nodiscard]] Error error(const std::string& what) const;
};

// Sends req and calls on_msg for each reply message (errors and the end of
// the dump are handled here).
[[nodiscard]] Outcome exchange(nl_sock* sock, nl_msg* req, const std::function<void(const nlmsghdr*)>& on_msg);

}  // namespace netwhy::nl
