#include "report.hpp"

#include <cstdio>
#include <string>

#include "options.hpp"

namespace netwhy::cli {

namespace {
void line_to_stderr(std::string_view prefix, std::string_view message) {
  std::string line(prefix);
  for (const char c : message) line += (c == '\n' || c == '\r') ? ' ' : c;
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

void write_stdout(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace netwhy::cli
