// An address and port as the socket calls take them.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

#include "netwhy/inet.hpp"

namespace netwhy {

// Fills `out` for connect()/bind(); returns the length to pass with it.
inline socklen_t to_sockaddr(const IpAddr& address, std::uint16_t port, sockaddr_storage& out) {
  out = sockaddr_storage{};
  if (address.family == Family::inet6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, address.bytes.data(), 16);
    return sizeof *sin6;
  }
  auto* sin = reinterpret_cast<sockaddr_in*>(&out);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  std::memcpy(&sin->sin_addr, address.bytes.data(), 4);
  return sizeof *sin;
}

}  // namespace netwhy
