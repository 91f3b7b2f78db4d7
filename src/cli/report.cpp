#include "report.hpp"

#include <cstdio>
#include <string>

#include "netwhy/text.hpp"
#include "options.hpp"

namespace netwhy::cli {

namespace {
// The one way to stderr. Whatever a message holds (names from files,
// arguments as typed, another library's text), one line goes out and no
// control byte: callers escape what they quote, and what they missed is
// escaped here (escape_line leaves their escapes as they are).
void line_to_stderr(std::string_view prefix, std::string_view message) {
  std::string line = escape_line(std::string(prefix) + std::string(message));
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}
}  // namespace

int fail(const Error& e) { return fail(e.message()); }

int fail(std::string_view message) {
  line_to_stderr("netwhy: ", message);
  return exit_usage;
}

void warn(std::string_view message) { line_to_stderr("netwhy: warning: ", message); }

void inform(std::string_view message) { line_to_stderr("netwhy: ", message); }

void show_status(std::string_view line) {
  // Carriage return, the line, then "erase to the end of the line" (ours,
  // not the system's: the line itself holds no control byte).
  const std::string out = "\r" + escape_line(line) + "\x1b[K";
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
}

void clear_status() {
  std::fputs("\r\x1b[K", stderr);
  std::fflush(stderr);
}

void write_stdout(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace netwhy::cli
