#include "netwhy/color.hpp"

namespace netwhy {

namespace {

std::string_view sgr(Paint p) {
  switch (p) {
    case Paint::ifname: return "\033[36m";  // cyan, as ip
    case Paint::mac: return "\033[33m";     // yellow
    case Paint::inet: return "\033[35m";    // magenta
    case Paint::inet6: return "\033[34m";   // blue
    case Paint::good: return "\033[32m";    // green
    case Paint::bad: return "\033[31m";     // red
    case Paint::warn: return "\033[33m";    // yellow
    case Paint::bold: return "\033[1m";
    case Paint::dim: return "\033[2m";
  }
  return "";
}

}  // namespace

std::string Palette::paint(Paint p, std::string_view text) const {
  if (!on_ || text.empty()) return std::string(text);
  std::string out(sgr(p));
  out += text;
  out += "\033[0m";
  return out;
}

}  // namespace netwhy
