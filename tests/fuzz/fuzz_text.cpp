// Escaping, addresses and arguments, the first input byte picking one, each
// with the promise its header makes: escape_text leaves nothing a terminal
// would act on and is_plain_text says when it changes nothing; escape_arg
// stays within its bound; to_valid_utf8 returns valid UTF-8 and leaves
// valid text alone; an address parsed and printed parses back to itself;
// the port and netns arguments' errors are safe to print.
#include <algorithm>

#include "fuzz.hpp"
#include "netwhy/inet.hpp"
#include "netwhy/netns.hpp"
#include "netwhy/services.hpp"
#include "netwhy/text.hpp"

namespace {

using namespace netwhy;

void round_trip(const IpAddr& a) {
  const auto again = IpAddr::parse(a.to_string());
  fuzz::check(again.has_value() && *again == a, "an address printed parses back to itself");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text = fuzz::text_of(data + 1, size - 1);
  switch (data[0] % 8U) {
    case 0: {
      const std::string e = escape_text(text);
      fuzz::check(fuzz::terminal_safe(e), "escape_text's output is safe for a terminal");
      fuzz::check(is_plain_text(text) == (e == text), "is_plain_text says whether escape_text changes the text");
      break;
    }
    case 1:
      for (const std::size_t max : {std::size_t{0}, std::size_t{8}, std::size_t{60}}) {
        const std::string e = escape_arg(text, max);
        fuzz::check(fuzz::terminal_safe(e), "escape_arg's output is safe for a terminal");
        // max counts the bytes kept; each may be escaped to 4 (\xNN)
        fuzz::check(e.size() <= 4 * std::min(text.size(), max) + 3, "escape_arg keeps at most max bytes");
        if (text.size() > max) fuzz::check(e.ends_with("..."), "escape_arg marks a cut argument with an ellipsis");
      }
      break;
    case 2:
      (void)shell_word(text);
      break;
    case 3: {
      const std::string v = to_valid_utf8(text);
      fuzz::check(fuzz::valid_utf8(v), "to_valid_utf8 returns valid UTF-8");
      if (fuzz::valid_utf8(text)) fuzz::check(v == text, "to_valid_utf8 leaves valid UTF-8 as it is");
      for (std::size_t i = 0; i < text.size(); ++i) (void)utf8_sequence_length(text, i);
      break;
    }
    case 4:
      for (const std::string_view line : split_lines(text)) {
        fuzz::check(line.find('\n') == std::string_view::npos, "a line holds no newline");
        for (const std::string_view f : split_fields(line)) {
          fuzz::check(!f.empty() && f.find_first_of(" \t") == std::string_view::npos, "a field is one word");
        }
      }
      break;
    case 5:
      if (const auto a = IpAddr::parse(text)) round_trip(*a);
      if (text.size() == 4) round_trip(*IpAddr::from_bytes(Family::inet, text.data(), 4));
      if (text.size() == 16) round_trip(*IpAddr::from_bytes(Family::inet6, text.data(), 16));
      break;
    case 6: {
      const auto [arg, services] = fuzz::split_at_nul(text);
      const auto port = parse_port_arg(arg, Protocol::tcp, "/nonexistent/services");
      if (!port) fuzz::check(fuzz::terminal_safe(port.error().message()), "a bad port's message is safe to print");
      (void)parse_services(services, arg, Protocol::udp);
      break;
    }
    default: {
      const auto spec = parse_netns_spec(text);
      if (!spec) fuzz::check(fuzz::terminal_safe(spec.error().message()), "a bad netns's message is safe to print");
      break;
    }
  }
  return 0;
}
