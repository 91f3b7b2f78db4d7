#include "netwhy/wait.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "netwhy/text.hpp"

namespace netwhy {

std::chrono::milliseconds Backoff::next(std::chrono::milliseconds remaining) {
  const std::chrono::milliseconds now = delay_;
  delay_ = std::min(longest, delay_ + delay_ / 2);
  return std::clamp(remaining, std::chrono::milliseconds{0}, now);
}

std::string wait_status_line(std::chrono::milliseconds elapsed, std::string_view headline, std::size_t width) {
  const auto tenths = std::max<std::int64_t>(0, elapsed.count()) / 100;
  const std::string line = escape_line(fmt::format("[{}.{}s] {}", tenths / 10, tenths % 10, headline));
  // Columns counted as characters (UTF-8 sequences); escape_line left only
  // valid UTF-8 and no control byte.
  constexpr std::string_view ellipsis = "...";
  const std::size_t room = width > ellipsis.size() ? width - ellipsis.size() : 0;
  std::size_t columns = 0;
  std::size_t cut = std::string::npos;  // where the line is cut if it doesn't fit
  for (std::size_t i = 0; i < line.size();) {
    if (columns == room) cut = i;
    if (++columns > width) return line.substr(0, cut) + std::string(ellipsis);
    i += std::max<std::size_t>(1, utf8_sequence_length(line, i));
  }
  return line;
}

}  // namespace netwhy
