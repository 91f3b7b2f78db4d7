// Numbers as rulesets print them ("80", "-150", "0x000000ff"), checked: a
// value outside the type's range is nullopt, never wrapped or cut. One
// helper for nft's text listing and iptables-save alike.
#pragma once

#include <charconv>
#include <concepts>
#include <optional>
#include <string_view>

namespace netwhy {

enum class Radix {
  decimal,         // digits only: "80" ("-150" for a signed type)
  decimal_or_hex,  // and "0x..." as nft and iptables print marks and masks
};

template <std::integral T>
[[nodiscard]] std::optional<T> parse_integer(std::string_view s, Radix radix = Radix::decimal) {
  int base = 10;
  if (radix == Radix::decimal_or_hex && s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
    if (s.front() == '-') return std::nullopt;  // "0x-1"
  }
  T n{};
  if (s.empty()) return std::nullopt;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n, base);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return n;
}

}  // namespace netwhy
