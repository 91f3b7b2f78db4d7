// The only place that writes to the terminal: results on stdout, one-line
// errors on stderr. Every stderr line goes through one function, which
// escapes every control byte and invalid UTF-8 (what callers already
// escaped stays as it is) and bounds the line's length.
#pragma once

#include <string_view>

#include "netwhy/error.hpp"

namespace netwhy::cli {

// "netwhy: <message>" on stderr; returns the usage exit status.
int fail(const Error& e);
int fail(std::string_view message);
void warn(std::string_view message);
// "netwhy: <message>" on stderr, neither an error nor a warning ("reachable after 3.4 s").
void inform(std::string_view message);
// A line on a terminal's stderr that the next call overwrites (--wait's
// progress), and its erasure. `line` must already fit the terminal and be
// escaped (wait_status_line does both); escape_line passes it unchanged.
void show_status(std::string_view line);
void clear_status();
void write_stdout(std::string_view text);

}  // namespace netwhy::cli
