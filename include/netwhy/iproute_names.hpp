// iproute2's spellings of kernel numbers: route protocols, scopes, types and
// tables, link groups and types, hardware addresses. Names come from ip's
// built-in tables first, then from /etc/iproute2 (as ip reads them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "netwhy/model.hpp"

namespace netwhy {

// "id name" lines of an /etc/iproute2 table, comments and junk skipped.
[[nodiscard]] std::vector<std::pair<std::uint32_t, std::string>> parse_id_names(std::string_view text);

[[nodiscard]] std::string route_protocol_name(unsigned id);
[[nodiscard]] std::string route_scope_name(unsigned id);
[[nodiscard]] std::string route_type_name(unsigned id);
[[nodiscard]] std::string route_table_name(std::uint32_t id);
// "main", "local", a number, or a name from rt_tables; nullopt if unknown.
[[nodiscard]] std::optional<std::uint32_t> route_table_id(std::string_view name);
[[nodiscard]] std::string link_group_name(std::uint32_t id);
[[nodiscard]] std::string link_type_name(unsigned arphrd);
// "UNKNOWN", "UP", ...; empty for a value ip has no name for.
[[nodiscard]] std::string_view operstate_name(std::uint8_t state);
[[nodiscard]] std::string_view linkmode_name(std::uint8_t mode);
// "aa:bb:..", or a dotted address for IP-in-IP tunnels, as ip prints it.
[[nodiscard]] std::string hwaddr_string(const HwAddr& addr, std::uint16_t arphrd);

}  // namespace netwhy
