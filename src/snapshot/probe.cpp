// The one active step of the diagnosis: a TCP connect with a timeout.
#include "netwhy/probe.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "netwhy/fd.hpp"
#include "netwhy/sockaddr.hpp"

namespace netwhy {

Probe connect_probe(const IpAddr& addr, std::uint16_t port, double timeout_s) {
  Probe p;
  p.address = addr;
  p.port = port;
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  };
  const int af = addr.family == Family::inet6 ? AF_INET6 : AF_INET;
  const UniqueFd sock(::socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  const int fd = sock.get();
  if (fd < 0) {
    p.error = errno;
    return p;
  }
  sockaddr_storage ss{};
  const socklen_t len = to_sockaddr(addr, port, ss);
  int err = 0;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      pollfd pfd{fd, POLLOUT, 0};
      const int ms = static_cast<int>(timeout_s * 1000);
      int rc = 0;
      do {
        rc = ::poll(&pfd, 1, std::max(0, ms - static_cast<int>(elapsed())));
      } while (rc < 0 && errno == EINTR);
      if (rc == 0) {
        p.result = ProbeResult::timeout;
        p.millis = elapsed();
        return p;
      }
      socklen_t elen = sizeof err;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) err = errno;
    }
  }
  p.millis = elapsed();
  p.error = err;
  if (err == 0) {
    p.result = ProbeResult::ok;
  } else if (err == ECONNREFUSED) {
    p.result = ProbeResult::refused;
  } else if (err == EHOSTUNREACH || err == ENETUNREACH) {
    p.result = ProbeResult::unreachable;
  } else if (err == ETIMEDOUT) {
    p.result = ProbeResult::timeout;
  } else {
    p.result = ProbeResult::error;
  }
  return p;
}

}  // namespace netwhy
