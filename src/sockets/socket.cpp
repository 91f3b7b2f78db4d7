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

bool unmap_ipv4(Socket& s) {
  if (s.family != Family::inet6 || !s.local.is_v4_mapped()) return false;
  s.family = Family::inet;
  s.local = s.local.unmapped();
  s.v6only.reset();
  if (s.remote.is_v4_mapped()) {
    s.remote = s.remote.unmapped();
  } else if (s.remote.is_unspecified()) {
    s.remote = IpAddr{};  // 0.0.0.0
  }
  return true;
}

}  // namespace netwhy
