#include "netwhy/text.hpp"

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

namespace netwhy {

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t len = 0;
  unsigned lo = 0x80;
  unsigned hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlong forms
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return len;
}

namespace {

// C1 control characters are U+0080..U+009F, encoded as C2 80..C2 9F.
bool is_c1(std::string_view s, std::size_t i, std::size_t len) {
  return len == 2 && static_cast<unsigned char>(s[i]) == 0xC2 &&
         static_cast<unsigned char>(s[i + 1]) <= 0x9F;
}

// Whether a backslash is escaped too (escape_text) or left (escape_controls).
enum class Backslash { escape, keep };

bool needs_escape(unsigned char c, Backslash b) {
  return c < 0x20 || c == 0x7F || (c == '\\' && b == Backslash::escape);
}

bool plain(std::string_view raw, Backslash b) {
  for (std::size_t i = 0; i < raw.size();) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c < 0x80) {
      if (needs_escape(c, b)) return false;
      ++i;
      continue;
    }
    const std::size_t len = utf8_sequence_length(raw, i);
    if (len == 0 || is_c1(raw, i, len)) return false;
    i += len;
  }
  return true;
}

std::string escape(std::string_view raw, Backslash b) {
  if (plain(raw, b)) return std::string(raw);
  std::string out;
  out.reserve(raw.size() + 16);
  for (std::size_t i = 0; i < raw.size();) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c < 0x80) {
      if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c == '\\' && b == Backslash::escape) {
        out += "\\\\";
      } else if (needs_escape(c, b)) {
        out += fmt::format("\\x{:02x}", c);
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    const std::size_t len = utf8_sequence_length(raw, i);
    if (len == 0 || is_c1(raw, i, len)) {
      const std::size_t n = len == 0 ? 1 : len;
      for (std::size_t k = 0; k < n; ++k) {
        out += fmt::format("\\x{:02x}", static_cast<unsigned char>(raw[i + k]));
      }
      i += n;
      continue;
    }
    out.append(raw.substr(i, len));
    i += len;
  }
  return out;
}

}  // namespace

bool is_plain_text(std::string_view raw) { return plain(raw, Backslash::escape); }

std::string escape_arg(std::string_view raw, std::size_t max) {
  if (raw.size() <= max) return escape_text(raw);
  std::size_t cut = 0;
  while (cut < max) {
    const std::size_t len = std::max<std::size_t>(1, utf8_sequence_length(raw, cut));
    if (cut + len > max) break;
    cut += len;
  }
  return escape_text(raw.substr(0, cut)) + "...";
}

std::string escape_text(std::string_view raw) { return escape(raw, Backslash::escape); }

std::string escape_controls(std::string_view raw) { return escape(raw, Backslash::keep); }

std::string escape_line(std::string_view raw, std::size_t max) {
  std::string flat(raw);
  std::replace_if(flat.begin(), flat.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  std::string out = escape_controls(flat);
  if (out.size() <= max) return out;
  // What escape_controls() returns is valid UTF-8: back off to a lead byte.
  std::size_t cut = max > 3 ? max - 3 : 0;
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  out.resize(cut);
  return out + "...";
}

namespace {

// Word by word: a word longer than max is cut.
void escape_words(std::string_view text, std::size_t max, std::string& out) {
  for (std::size_t i = 0;;) {
    const std::size_t space = text.find(' ', i);
    out += escape_arg(text.substr(i, space == std::string_view::npos ? space : space - i), max);
    if (space == std::string_view::npos) return;
    out += ' ';
    i = space + 1;
  }
}

}  // namespace

std::string escape_typed(std::string_view message, const std::vector<std::string>& typed, std::size_t max) {
  // Only what escape_arg would cut needs finding whole (a shorter argument
  // with spaces comes out the same word by word): by its first max + 1
  // bytes, longest first, so that each position of the message costs one
  // lookup.
  std::unordered_map<std::string_view, std::vector<std::string_view>> long_args;
  for (const std::string& t : typed) {
    if (t.size() > max) long_args[std::string_view(t).substr(0, max + 1)].push_back(t);
  }
  for (auto& [head, args] : long_args) {
    std::sort(args.begin(), args.end(), [](std::string_view a, std::string_view b) { return a.size() > b.size(); });
  }
  std::string out;
  std::size_t plain_from = 0;
  for (std::size_t i = 0; !long_args.empty() && i + max < message.size();) {
    std::string_view found;
    if (const auto it = long_args.find(message.substr(i, max + 1)); it != long_args.end()) {
      for (const std::string_view a : it->second) {
        if (message.substr(i, a.size()) == a) {
          found = a;
          break;
        }
      }
    }
    if (found.empty()) {
      ++i;
      continue;
    }
    escape_words(message.substr(plain_from, i - plain_from), max, out);
    out += escape_arg(found, max);
    i += found.size();
    plain_from = i;
  }
  escape_words(message.substr(plain_from), max, out);
  return out;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    out.push_back(text.substr(pos, eol - pos));
    pos = eol + 1;
  }
  return out;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string to_valid_utf8(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size();) {
    const std::size_t len = utf8_sequence_length(raw, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
      continue;
    }
    out.append(raw.substr(i, len));
    i += len;
  }
  return out;
}

std::string shell_word(std::string_view raw) {
  const bool plain = !raw.empty() && std::all_of(raw.begin(), raw.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           std::string_view("_.-+=:,@%/").find(ch) != std::string_view::npos;
  });
  if (plain) return std::string(raw);
  std::string out = "'";
  for (const char ch : raw) {
    if (ch == '\'') out += "'\\''";
    else out += ch;
  }
  return out + "'";
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

bool starts_with_ascii_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (ascii_lower(s[i]) != ascii_lower(prefix[i])) return false;
  }
  return true;
}

}  // namespace netwhy
