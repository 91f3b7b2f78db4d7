// The only place that writes to the terminal: results on stdout, one-line
// errors on stderr.
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
