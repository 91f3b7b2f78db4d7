// A host name or address, resolved the way a client resolves it: the
// resolver's order (getaddrinfo, /etc/gai.conf), duplicates dropped,
// IPv4-mapped addresses as the IPv4 address they connect to.
#pragma once

#include <string>
#include <vector>

#include "netwhy/error.hpp"
#include "netwhy/inet.hpp"

namespace netwhy {

// An error names the host (escaped) and the resolver's reason. With
// `not_yet`, a name the resolver does not know (yet: a compose service
// before its container starts) or could not look up now sets it to true.
[[nodiscard]] Expected<std::vector<IpAddr>> resolve(const std::string& host, Family family, bool* not_yet = nullptr);

}  // namespace netwhy
