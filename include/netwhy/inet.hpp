// IP addresses as plain values: parsing and formatting, nothing else.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace netwhy {

enum class Family : std::uint8_t { unspec = 0, inet = 2, inet6 = 10 };  // AF_* values

[[nodiscard]] std::string_view to_string(Family f);

struct IpAddr {
  Family family = Family::inet;
  std::array<std::uint8_t, 16> bytes{};  // network order; 4 used for inet

  [[nodiscard]] std::size_t size() const { return family == Family::inet6 ? 16 : 4; }
  [[nodiscard]] unsigned bits() const { return family == Family::inet6 ? 128U : 32U; }
  // inet_ntop's spelling: "10.0.0.1", "2001:db8::1", "::ffff:10.0.0.1"
  [[nodiscard]] std::string to_string() const;
  [[nodiscard]] bool is_loopback() const;
  [[nodiscard]] bool is_unspecified() const;
  // ::ffff:a.b.c.d, an IPv4 address as an IPv6 socket sees it
  [[nodiscard]] bool is_v4_mapped() const;
  // The IPv4 address of a mapped one; any other address as it is.
  [[nodiscard]] IpAddr unmapped() const;
  bool operator==(const IpAddr&) const = default;

  // A bare address in either family ("10.0.0.1", "fe80::1"); no brackets,
  // no prefix, no zone. nullopt when malformed.
  [[nodiscard]] static std::optional<IpAddr> parse(std::string_view text);
  // Raw bytes as the kernel gives them; nullopt unless len fits the family.
  [[nodiscard]] static std::optional<IpAddr> from_bytes(Family f, const void* data, std::size_t len);
};

}  // namespace netwhy
