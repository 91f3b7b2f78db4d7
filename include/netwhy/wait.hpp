// `netwhy port --wait`: how often to look again, and the one line a
// terminal shows while waiting. Pure: the loop itself is src/cli/port.cpp's.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace netwhy {

// The pause before the next look: 250 ms, then half as long again each
// time, up to 2 s (a few reads per second at most, and a server that comes
// up late is seen within 2 s); never past what remains of the wait.
class Backoff {
 public:
  static constexpr std::chrono::milliseconds first{250};
  static constexpr std::chrono::milliseconds longest{2000};

  [[nodiscard]] std::chrono::milliseconds next(std::chrono::milliseconds remaining);

 private:
  std::chrono::milliseconds delay_ = first;
};

// "[12.3s] nothing listens on port 8000": the elapsed time and the current
// headline, escaped as one line (escape_line) and cut to `width` columns
// (counting one per character) with "...", so it never wraps and a carriage
// return can overwrite it.
[[nodiscard]] std::string wait_status_line(std::chrono::milliseconds elapsed, std::string_view headline,
                                           std::size_t width);

}  // namespace netwhy
