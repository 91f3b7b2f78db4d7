// The connect probe: read_snapshot runs it for a remote HOST, netwhy url for
// the place a redirect sends its client.
#pragma once

#include <cstdint>

#include "netwhy/inet.hpp"
#include "netwhy/snapshot.hpp"

namespace netwhy {

// A non-blocking TCP connect to addr:port, waiting at most timeout_s.
[[nodiscard]] Probe connect_probe(const IpAddr& addr, std::uint16_t port, double timeout_s);

}  // namespace netwhy
