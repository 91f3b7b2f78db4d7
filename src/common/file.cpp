#include "netwhy/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>

#include <fmt/format.h>

#include "netwhy/fd.hpp"
#include "netwhy/text.hpp"

namespace netwhy {

namespace {

std::string describe_size(std::size_t bytes) {
  constexpr std::size_t mib = std::size_t{1} << 20;
  if (bytes >= mib && bytes % mib == 0) return fmt::format("{} MiB", bytes / mib);
  return fmt::format("{} bytes", bytes);
}

Expected<std::string> read_opened(int fd, int open_errno, const std::string& shown, std::size_t limit,
                                  OverLimit over) {
  if (fd < 0) return system_error(fmt::format("open {}", shown), open_errno);
  return read_fd(fd, shown, limit, over);
}

}  // namespace

Expected<std::string> read_fd(int fd, const std::string& shown, std::size_t limit, OverLimit over) {
  // One byte past the limit tells "exactly the limit" from "longer".
  const std::size_t want = over == OverLimit::fail && limit < SIZE_MAX ? limit + 1 : limit;
  std::string out;
  // A regular file says its size: one buffer of that size (never of the
  // limit), and a file over the limit is refused unread. /proc files say 0;
  // the string grows with what arrives, as it does for a file that grows.
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (over == OverLimit::fail && size > limit) {
      return input_error(fmt::format("{}: larger than {}", shown, describe_size(limit)));
    }
    out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(size, limit)));
  }
  std::array<char, 16384> chunk;
  while (out.size() < want) {
    const std::size_t n_want = std::min(chunk.size(), want - out.size());
    const ssize_t n = ::read(fd, chunk.data(), n_want);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EISDIR) return input_error(fmt::format("{}: is a directory", shown));
      return system_error(fmt::format("read {}", shown));
    }
    if (n == 0) return out;
    out.append(chunk.data(), static_cast<std::size_t>(n));
  }
  if (over == OverLimit::fail && out.size() > limit) {
    return input_error(fmt::format("{}: larger than {}", shown, describe_size(limit)));
  }
  out.resize(std::min(out.size(), limit));
  return out;
}

Expected<std::string> read_file(const std::string& path, std::size_t limit, OverLimit over) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  const int open_errno = errno;
  return read_opened(fd.get(), open_errno, escape_arg(path), limit, over);
}

Expected<std::string> read_file_at(int dirfd, const char* name, std::size_t limit, OverLimit over) {
  const UniqueFd fd(::openat(dirfd, name, O_RDONLY | O_CLOEXEC));
  const int open_errno = errno;
  return read_opened(fd.get(), open_errno, escape_arg(name), limit, over);
}

}  // namespace netwhy
