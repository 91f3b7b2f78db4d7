// Untrusted bytes (interface names, labels, process names) on their way to a
// terminal or a JSON document.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace netwhy {

// For a terminal: valid printable UTF-8 passes; control characters (C0, DEL,
// C1), backslash and invalid bytes become \n, \t, \\ or \xNN, so no escape
// sequence reaches the screen and the original bytes can be read back.
[[nodiscard]] std::string escape_text(std::string_view raw);

// For a line on a terminal that may already hold escape_text()'s output (a
// message quoting escaped names, or raw bytes someone forgot): as
// escape_text, but a backslash stays as it is, so text escaped once passes
// unchanged and no raw byte reaches the screen. stderr's one way out
// (src/cli/report.cpp) passes every line through it.
[[nodiscard]] std::string escape_controls(std::string_view raw);

// One line for stderr: a newline (or carriage return) inside becomes a
// space, the rest as escape_controls(), and past max bytes the line is cut
// at a character boundary and ends in "...".
[[nodiscard]] std::string escape_line(std::string_view raw, std::size_t max = 4096);

// A message that quotes what was typed, from code that does not escape it
// (CLI11's "The following argument was not expected: ARG"): each of `typed`
// found in it is shown as escape_arg() shows it (escaped, a long one cut as
// one, spaces and all); the rest word by word the same way.
[[nodiscard]] std::string escape_typed(std::string_view message, const std::vector<std::string>& typed,
                                       std::size_t max = 60);

// For an error message that echoes what was typed (an argument, a path):
// escaped, and when longer than max bytes, cut at a character boundary to at
// most max bytes followed by "...".
[[nodiscard]] std::string escape_arg(std::string_view raw, std::size_t max = 60);

// A name from the system (anyone's bytes) as one word of a shell command:
// as it is when plainly one word, else in single quotes.
[[nodiscard]] std::string shell_word(std::string_view raw);

// ASCII case folding, as protocols fold names (schemes, header names, host
// names, nginx's words): A-Z only, every other byte as it is, whatever the locale.
[[nodiscard]] constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
[[nodiscard]] std::string ascii_lower(std::string_view s);
[[nodiscard]] bool starts_with_ascii_ci(std::string_view s, std::string_view prefix);

// True when escape_text would return raw unchanged (the common, fast case).
[[nodiscard]] bool is_plain_text(std::string_view raw);

// For JSON: the longest valid UTF-8 prefix is kept; each invalid sequence
// becomes U+FFFD. Control characters are left for the JSON escaper.
[[nodiscard]] std::string to_valid_utf8(std::string_view raw);

// Lines of a text (without their '\n'); a last line without one counts too.
[[nodiscard]] std::vector<std::string_view> split_lines(std::string_view text);

// Words separated by spaces or tabs (as in /proc files and command lines).
[[nodiscard]] std::vector<std::string_view> split_fields(std::string_view line);

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
[[nodiscard]] std::size_t utf8_sequence_length(std::string_view s, std::size_t i);

}  // namespace netwhy
