// Private to src/http: the bytes of one TCP connection of run_exchange, each
// wait bounded by the exchange's one deadline.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "netwhy/error.hpp"
#include "netwhy/fd.hpp"
#include "netwhy/inet.hpp"

namespace netwhy {

class Deadline {
 public:
  // timeout_s is clamped to [0, one day]; NaN counts as 0.
  explicit Deadline(double timeout_s);
  [[nodiscard]] bool passed() const { return std::chrono::steady_clock::now() >= at_; }
  // For poll(): the milliseconds left, rounded up so a wait never ends early; 0 once passed.
  [[nodiscard]] int poll_ms() const;
  [[nodiscard]] double elapsed_s() const;

 private:
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point at_;
};

enum class IoStatus {
  ok,
  closed,     // the peer closed its side (a read returned 0)
  failed,     // a system call failed: Wire::error_number()
  timed_out,  // the deadline passed first
  protocol,   // the bytes broke the protocol (a TLS error, a proxy's bad answer): said elsewhere
};

class Wire {
 public:
  explicit Wire(const Deadline& deadline) : deadline_(deadline) {}

  // A non-blocking TCP socket for the family: a system error when this host
  // can't make one (EMFILE, EAFNOSUPPORT).
  [[nodiscard]] Expected<void> open(Family family);
  // A connect of the open socket to address:port. failed with error_number()
  // (ECONNREFUSED, EHOSTUNREACH...); timed_out when the deadline passes first.
  [[nodiscard]] IoStatus connect(const IpAddr& address, std::uint16_t port);
  // Appends at least one byte and at most max to out (bytes kept back by
  // unread() first), or says why not.
  [[nodiscard]] IoStatus read_some(std::string& out, std::size_t max);
  [[nodiscard]] IoStatus write_all(std::string_view bytes);
  // Gives back bytes read past what the caller wanted: the next reads return them first.
  void unread(std::string_view bytes);
  // From now on every byte read from the socket is also kept in first_bytes()
  // (at most max); bytes given back by unread() count as read now.
  void start_capture(std::size_t max);
  // After a failure: reads what has already arrived, without waiting, only
  // so first_bytes() shows more of what the peer said.
  void read_arrived();
  [[nodiscard]] const std::string& first_bytes() const { return first_bytes_; }
  [[nodiscard]] int error_number() const { return error_; }

 private:
  void capture(std::string_view bytes);
  [[nodiscard]] IoStatus wait_for(short events);

  const Deadline& deadline_;
  UniqueFd fd_;
  std::string kept_;
  std::string first_bytes_;
  std::size_t capture_max_ = 0;
  bool capturing_ = false;
  int error_ = 0;
};

}  // namespace netwhy
