#include "netwhy/resolve.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "netwhy/text.hpp"

namespace netwhy {

Expected<std::vector<IpAddr>> resolve(const std::string& host, Family family, bool* not_yet) {
  if (auto literal = IpAddr::parse(host)) {
    if (family != Family::unspec && literal->family != family) {
      return input_error(fmt::format("\"{}\" is not an {} address", escape_arg(host),
                                     family == Family::inet ? "IPv4" : "IPv6"));
    }
    return std::vector<IpAddr>{literal->unmapped()};  // ::ffff:a.b.c.d connects to a.b.c.d
  }
  if (host.empty() || host.size() > 253 || host.find('\0') != std::string::npos) {
    return input_error(fmt::format("bad host \"{}\"", escape_arg(host)));
  }
  addrinfo hints{};
  hints.ai_family = family == Family::inet ? AF_INET : family == Family::inet6 ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* got = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &got);
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> res(got, &freeaddrinfo);
  if (rc != 0) {
    if (not_yet != nullptr) *not_yet = rc == EAI_NONAME || rc == EAI_AGAIN || rc == EAI_FAIL || rc == EAI_NODATA;
    return input_error(fmt::format("cannot resolve \"{}\": {}", escape_arg(host), gai_strerror(rc)));
  }
  std::vector<IpAddr> out;
  for (const addrinfo* ai = res.get(); ai != nullptr; ai = ai->ai_next) {
    std::optional<IpAddr> a;
    if (ai->ai_family == AF_INET) {
      a = IpAddr::from_bytes(Family::inet, &reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr, 4);
    } else if (ai->ai_family == AF_INET6) {
      a = IpAddr::from_bytes(Family::inet6, &reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr, 16);
    }
    if (a) a = a->unmapped();
    if (a && std::find(out.begin(), out.end(), *a) == out.end()) out.push_back(*a);
  }
  if (out.empty()) return input_error(fmt::format("\"{}\" has no IP address", escape_arg(host)));
  return out;
}


}  // namespace netwhy
