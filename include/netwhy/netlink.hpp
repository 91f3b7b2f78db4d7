// rtnetlink through libnl: dumps of links, addresses and routes, and route
// lookups, decoded into model values. Never prints, never filters for display.
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "netwhy/error.hpp"
#include "netwhy/model.hpp"

namespace netwhy {

// One rtnetlink socket in the caller's network namespace.
class Rtnl {
 public:
  [[nodiscard]] static Expected<Rtnl> open();
  Rtnl(Rtnl&&) noexcept;
  Rtnl& operator=(Rtnl&&) noexcept;
  ~Rtnl();

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  explicit Rtnl(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The address family of a link dump, as ip sends it: AF_PACKET for `ip link`,
// the -4/-6 family for `ip addr` (the kernel answers an AF_INET6 link dump
// with IPv6's own, smaller, link messages).
[[nodiscard]] Expected<std::vector<Link>> read_links(Rtnl& rtnl, std::uint8_t dump_family);
[[nodiscard]] Expected<std::vector<Address>> read_addresses(Rtnl& rtnl, Family family);

struct RouteDump {
  Family family = Family::unspec;        // unspec: both
  std::optional<std::uint32_t> table;    // nullopt: every table
};
struct DumpResult {
  bool interrupted = false;  // the kernel's tables changed during the dump
};
// Streams routes to sink as they arrive: 20,000 routes never sit in memory.
[[nodiscard]] Expected<DumpResult> for_each_route(Rtnl& rtnl, const RouteDump& what,
                                                  const std::function<void(const Route&)>& sink);
[[nodiscard]] Expected<std::vector<Route>> read_routes(Rtnl& rtnl, const RouteDump& what);

// The route the kernel would use for dst (like `ip route get`). An error of
// kind `kernel` carries the kernel's errno (EHOSTUNREACH, ENETUNREACH, EINVAL).
[[nodiscard]] Expected<Route> route_get(Rtnl& rtnl, const IpAddr& dst);

// The id this namespace has for the namespace open as netns_fd (what
// IFLA_LINK_NETNSID names); nullopt when it has none.
[[nodiscard]] std::optional<int> read_netns_id(Rtnl& rtnl, int netns_fd);
// nsid -> name of each /run/netns entry that this namespace has an id for.
[[nodiscard]] std::vector<std::pair<int, std::string>> read_netns_ids(Rtnl& rtnl);

// Decoders: one kernel message to one value. Pure; errors for truncated input.
[[nodiscard]] Expected<Link> link_from_rtnl(const nlmsghdr* msg);
[[nodiscard]] Expected<Address> address_from_rtnl(const nlmsghdr* msg);
[[nodiscard]] Expected<Route> route_from_rtnl(const nlmsghdr* msg, long user_hz);

}  // namespace netwhy
