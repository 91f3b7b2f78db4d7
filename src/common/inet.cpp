#include "netwhy/inet.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace netwhy {

std::string_view to_string(Family f) {
  switch (f) {
    case Family::unspec: return "unspec";
    case Family::inet: return "inet";
    case Family::inet6: return "inet6";
  }
  return "unspec";
}

std::string IpAddr::to_string() const {
  if (family == Family::inet) {  // by hand: inet_ntop goes through sprintf
    char buf[16];
    char* p = buf;
    for (int i = 0; i < 4; ++i) {
      if (i != 0) *p++ = '.';
      p = std::to_chars(p, buf + sizeof buf, bytes[static_cast<std::size_t>(i)]).ptr;
    }
    return std::string(buf, p);
  }
  char buf[INET6_ADDRSTRLEN] = {};
  const int af = family == Family::inet6 ? AF_INET6 : AF_INET;
  if (inet_ntop(af, bytes.data(), buf, sizeof buf) == nullptr) return "?";
  return buf;
}

bool IpAddr::is_loopback() const {
  if (family == Family::inet) return bytes[0] == 127;
  static constexpr std::array<std::uint8_t, 16> v6_loopback{0, 0, 0, 0, 0, 0, 0, 0,
                                                           0, 0, 0, 0, 0, 0, 0, 1};
  return bytes == v6_loopback;
}

bool IpAddr::is_unspecified() const {
  return std::all_of(bytes.begin(), bytes.begin() + static_cast<long>(size()),
                     [](std::uint8_t b) { return b == 0; });
}

bool IpAddr::is_v4_mapped() const {
  static constexpr std::array<std::uint8_t, 12> prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return family == Family::inet6 && std::equal(prefix.begin(), prefix.end(), bytes.begin());
}

IpAddr IpAddr::unmapped() const {
  if (!is_v4_mapped()) return *this;
  IpAddr v4;
  v4.family = Family::inet;
  std::copy(bytes.begin() + 12, bytes.end(), v4.bytes.begin());
  return v4;
}

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, text.data(), text.size());
  IpAddr a;
  if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) {
    a.family = Family::inet;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
    a.family = Family::inet6;
    return a;
  }
  return std::nullopt;
}

std::optional<IpAddr> IpAddr::from_bytes(Family f, const void* data, std::size_t len) {
  IpAddr a;
  a.family = f;
  if (f == Family::unspec || len < a.size() || data == nullptr) return std::nullopt;
  std::memcpy(a.bytes.data(), data, a.size());
  return a;
}

}  // namespace netwhy
