// Ports by service name, as /etc/services lists them ("http 80/tcp www").
// A container image may have no /etc/services: then only numbers work.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "netwhy/error.hpp"
#include "netwhy/sockets.hpp"

namespace netwhy {

// The port of NAME (a service name or one of its aliases) for the protocol,
// from the text of an /etc/services file. Pure.
[[nodiscard]] std::optional<std::uint16_t> parse_services(std::string_view text, std::string_view name,
                                                          Protocol protocol);

// A port number (1-65535), or a service name looked up in services_file.
[[nodiscard]] Expected<std::uint16_t> parse_port_arg(std::string_view text, Protocol protocol,
                                                     const std::string& services_file = "/etc/services");

}  // namespace netwhy
