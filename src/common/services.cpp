#include "netwhy/services.hpp"

#include <charconv>

#include <fmt/format.h>

#include "netwhy/file.hpp"
#include "netwhy/text.hpp"

namespace netwhy {

namespace {

constexpr std::size_t max_services_bytes = 16U << 20;

std::optional<unsigned long> parse_number(std::string_view text) {
  unsigned long n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return n;
}

}  // namespace

std::optional<std::uint16_t> parse_services(std::string_view text, std::string_view name, Protocol protocol) {
  for (std::string_view line : split_lines(text)) {
    line = line.substr(0, line.find('#'));
    const auto f = split_fields(line);
    if (f.size() < 2) continue;
    // "80/tcp"
    const std::size_t slash = f[1].find('/');
    if (slash == std::string_view::npos || f[1].substr(slash + 1) != to_string(protocol)) continue;
    bool named = false;
    for (std::size_t i = 0; i < f.size() && !named; ++i) named = i != 1 && f[i] == name;
    if (!named) continue;
    const auto port = parse_number(f[1].substr(0, slash));
    if (port && *port >= 1 && *port <= 65535) return static_cast<std::uint16_t>(*port);
  }
  return std::nullopt;
}

Expected<std::uint16_t> parse_port_arg(std::string_view text, Protocol protocol, const std::string& services_file) {
  if (const auto n = parse_number(text)) {
    if (*n == 0 || *n > 65535) return input_error(fmt::format("bad port \"{}\": ports are 1 to 65535", escape_arg(text)));
    return static_cast<std::uint16_t>(*n);
  }
  const std::string shown = escape_arg(text);
  if (text.empty() || text.size() >= 64 || text.find_first_of(" \t\n#/") != std::string_view::npos ||
      text.find('\0') != std::string_view::npos) {
    return input_error(fmt::format("bad port \"{}\": not a number or a service name", shown));
  }
  const auto services = read_file(services_file, max_services_bytes, OverLimit::truncate);
  if (!services) {
    return input_error(fmt::format("bad port \"{}\": not a number, and service names cannot be looked up ({})",
                                   shown, services.error().message()));
  }
  if (const auto port = parse_services(*services, text, protocol)) return *port;
  return input_error(fmt::format("bad port \"{}\": not a number or a service name", shown));
}

}  // namespace netwhy
