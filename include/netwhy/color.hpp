// Terminal colour: decided once by the command layer (--color, isatty,
// NO_COLOR, never with JSON); renderers only ask the palette to paint.
#pragma once

#include <string>
#include <string_view>

namespace netwhy {

enum class Paint { ifname, mac, inet, inet6, good, bad, warn, bold, dim };

enum class ColorMode { never, always };

class Palette {
 public:
  Palette() = default;
  explicit Palette(ColorMode mode) : on_(mode == ColorMode::always) {}
  [[nodiscard]] bool enabled() const { return on_; }
  // text is already escaped; the palette only wraps it.
  [[nodiscard]] std::string paint(Paint p, std::string_view text) const;

 private:
  bool on_ = false;
};

}  // namespace netwhy
