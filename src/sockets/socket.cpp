// What every socket decoder shares.
#include <algorithm>
#include <array>

#include "netwhy/sockets.hpp"

namespace netwhy {

std::string_view to_string(Protocol p) {
  switch (p) {
    case Protocol::tcp: return "tcp";
    case Protocol::udp: return "udp";
  }
  return "tcp";
}

namespace {

constexpr std::array<std::uint8_t, 12> mapped_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_mapped(const IpAddr& a) {
  return a.family == Family::inet6 && std::equal(mapped_prefix.begin(), mapped_prefix.end(), a.bytes.begin());
}

// ::ffff:a.b.c.d -> a.b.c.d
IpAddr ipv4_of_mapped(const IpAddr& a) {
  IpAddr v4;
  v4.family = Family::inet;
  std::copy(a.bytes.begin() + 12, a.bytes.end(), v4.bytes.begin());
  return v4;
}

}  // namespace

bool unmap_ipv4(Socket& s) {
  if (s.family != Family::inet6 || !is_mapped(s.local)) return false;
  s.family = Family::inet;
  s.local = ipv4_of_mapped(s.local);
  s.v6only.reset();
  if (is_mapped(s.remote)) {
    s.remote = ipv4_of_mapped(s.remote);
  } else if (s.remote.is_unspecified()) {
    s.remote = IpAddr{};  // 0.0.0.0
  }
  return true;
}

}  // namespace netwhy
