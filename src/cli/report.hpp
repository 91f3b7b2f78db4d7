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
void write_stdout(std::string_view text);

}  // namespace netwhy::cli
