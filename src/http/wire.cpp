#include "wire.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>

#include "netwhy/sockaddr.hpp"

namespace netwhy {

namespace {

using Clock = std::chrono::steady_clock;

constexpr double max_timeout_s = 24 * 3600.0;
constexpr std::size_t exchange_read_chunk = 16 * 1024;

}  // namespace

Deadline::Deadline(double timeout_s) : start_(Clock::now()) {
  double s = std::isnan(timeout_s) ? 0.0 : std::clamp(timeout_s, 0.0, max_timeout_s);
  at_ = start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

int Deadline::poll_ms() const {
  const auto left = at_ - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<long long>(ms, INT_MAX));
}

double Deadline::elapsed_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

IoStatus Wire::wait_for(short events) {
  pollfd pfd{fd_.get(), events, 0};
  for (;;) {
    const int ms = deadline_.poll_ms();
    if (ms == 0) {
      error_ = ETIMEDOUT;
      return IoStatus::timed_out;
    }
    const int rc = ::poll(&pfd, 1, ms);
    if (rc > 0) return IoStatus::ok;  // ready, or an error the next call reports
    if (rc < 0 && errno != EINTR) {
      error_ = errno;
      return IoStatus::failed;
    }
  }
}

Expected<void> Wire::open(Family family) {
  const int af = family == Family::inet6 ? AF_INET6 : AF_INET;
  fd_.reset(::socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_.valid()) return system_error(af == AF_INET6 ? "create an IPv6 TCP socket" : "create a TCP socket");
  return {};
}

IoStatus Wire::connect(const IpAddr& address, std::uint16_t port) {
  sockaddr_storage ss{};
  const socklen_t len = to_sockaddr(address, port, ss);
  if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0) return IoStatus::ok;
  if (errno != EINPROGRESS && errno != EINTR) {
    error_ = errno;
    return IoStatus::failed;
  }
  if (const IoStatus st = wait_for(POLLOUT); st != IoStatus::ok) return st;
  int err = 0;
  socklen_t elen = sizeof err;
  if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &elen) != 0) err = errno;
  if (err != 0) {
    error_ = err;
    return IoStatus::failed;
  }
  return IoStatus::ok;
}

void Wire::capture(std::string_view bytes) {
  if (!capturing_ || first_bytes_.size() >= capture_max_) return;
  first_bytes_.append(bytes.substr(0, capture_max_ - first_bytes_.size()));
}

void Wire::start_capture(std::size_t max) {
  capturing_ = true;
  capture_max_ = max;
  capture(kept_);
}

void Wire::unread(std::string_view bytes) { kept_.insert(0, bytes); }

IoStatus Wire::read_some(std::string& out, std::size_t max) {
  if (max == 0) return IoStatus::ok;
  if (!kept_.empty()) {
    const std::size_t n = std::min(max, kept_.size());
    out.append(kept_, 0, n);
    kept_.erase(0, n);
    return IoStatus::ok;
  }
  std::array<char, exchange_read_chunk> buf{};
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buf.data(), std::min(max, buf.size()), 0);
    if (n > 0) {
      const std::string_view got(buf.data(), static_cast<std::size_t>(n));
      capture(got);
      out.append(got);
      return IoStatus::ok;
    }
    if (n == 0) return IoStatus::closed;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (const IoStatus st = wait_for(POLLIN); st != IoStatus::ok) return st;
      continue;
    }
    error_ = errno;
    return IoStatus::failed;
  }
}

void Wire::read_arrived() {
  if (!fd_.valid()) return;
  std::array<char, exchange_read_chunk> buf{};
  while (capturing_ && first_bytes_.size() < capture_max_) {
    const std::size_t want = std::min(buf.size(), capture_max_ - first_bytes_.size());
    const ssize_t n = ::recv(fd_.get(), buf.data(), want, MSG_DONTWAIT);
    if (n > 0) {
      capture(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return;
    }
  }
}

IoStatus Wire::write_all(std::string_view bytes) {
  while (!bytes.empty()) {
    // MSG_NOSIGNAL: a peer that has gone away is EPIPE here, never SIGPIPE.
    const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (const IoStatus st = wait_for(POLLOUT); st != IoStatus::ok) return st;
      continue;
    }
    error_ = errno;
    return IoStatus::failed;
  }
  return IoStatus::ok;
}

}  // namespace netwhy
