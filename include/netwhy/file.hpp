// Reading a whole file with a size limit: read(2) in chunks into a string
// reserved at the size fstat gives for a regular file, growing with what
// arrives otherwise (a 4-byte sysctl never costs a 64 MiB buffer).
#pragma once

#include <cstddef>
#include <string>

#include "netwhy/error.hpp"

namespace netwhy {

// What a file longer than the limit gives: an error ("PATH: larger than
// 64 MiB"), or its first `limit` bytes (for /proc files read for a few fields).
enum class OverLimit { fail, truncate };

// Errors: "open PATH: No such file or directory", "PATH: is a directory",
// "read PATH: ...", "PATH: larger than N MiB". PATH is escaped for a terminal.
[[nodiscard]] Expected<std::string> read_file(const std::string& path, std::size_t limit,
                                              OverLimit over = OverLimit::fail);
// The same for NAME relative to the directory descriptor dirfd (openat).
[[nodiscard]] Expected<std::string> read_file_at(int dirfd, const char* name, std::size_t limit,
                                                 OverLimit over = OverLimit::fail);
// The same for an open descriptor; `shown` names it in messages.
[[nodiscard]] Expected<std::string> read_fd(int fd, const std::string& shown, std::size_t limit,
                                            OverLimit over = OverLimit::fail);

}  // namespace netwhy
