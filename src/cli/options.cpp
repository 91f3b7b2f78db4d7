#include "options.hpp"

#include <unistd.h>

#include <cstdlib>

#include "netwhy/netns.hpp"

namespace netwhy::cli {

Palette GlobalOptions::palette() const {
  if (json || color == ColorWhen::never) return Palette(ColorMode::never);
  if (color == ColorWhen::always) return Palette(ColorMode::always);
  const char* no_color = std::getenv("NO_COLOR");
  const bool on = isatty(STDOUT_FILENO) == 1 && (no_color == nullptr || *no_color == '\0');
  return Palette(on ? ColorMode::always : ColorMode::never);
}

Expected<void> enter_requested_netns(const GlobalOptions& g) {
  if (!g.netns) return {};
  auto target = parse_netns_spec(*g.netns);
  if (!target) return target.error();
  return enter_netns(*target);
}

}  // namespace netwhy::cli
