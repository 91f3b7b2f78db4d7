// Private to src/: nlohmann's exceptions in netwhy's words, without the
// "[json.exception.parse_error.101] parse error at line 1, column 5: ..."
// text, which means nothing to whoever reads the message.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace netwhy {

// "syntax error at byte 17", "invalid UTF-8 at byte 40", "empty", "cut
// short at byte 24"
inline std::string describe_json_parse_error(const nlohmann::json::parse_error& e, std::string_view text) {
  const std::string_view what = e.what();
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return "empty";
  if (what.find("UTF-8") != std::string_view::npos) return fmt::format("invalid UTF-8 at byte {}", e.byte);
  if (what.find("unexpected end of input") != std::string_view::npos) return fmt::format("cut short at byte {}", e.byte);
  return fmt::format("syntax error at byte {}", e.byte);
}

// Any other json exception: its message without the "[json.exception.x.n] " tag.
inline std::string describe_json_error(const nlohmann::json::exception& e) {
  std::string_view what = e.what();
  if (what.rfind("[json.exception.", 0) == 0) {
    const std::size_t close = what.find("] ");
    if (close != std::string_view::npos) what.remove_prefix(close + 2);
  }
  return std::string(what);
}

}  // namespace netwhy
