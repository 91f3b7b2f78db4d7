#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "netwhy/fd.hpp"
#include "netwhy/file.hpp"
#include "temp_dir.hpp"

using netwhy::OverLimit;
using netwhy::read_file;
using netwhy::read_file_at;

namespace {

using unittest::TempDir;

}  // namespace

TEST_CASE("read_file returns the whole file, also across many chunks") {
  const TempDir dir;
  SUBCASE("empty") { CHECK(*read_file(dir.write("empty", ""), 100) == ""); }
  SUBCASE("small") { CHECK(*read_file(dir.write("small", "1024\n"), 64) == "1024\n"); }
  SUBCASE("larger than one chunk") {
    std::string big(200'000, 'x');
    for (std::size_t i = 0; i < big.size(); i += 1000) big[i] = static_cast<char>('a' + i % 26);
    CHECK(*read_file(dir.write("big", big), 1U << 20) == big);
  }
  SUBCASE("exactly the limit") { CHECK(*read_file(dir.write("exact", "12345"), 5) == "12345"); }
}

TEST_CASE("a regular file is read into a buffer of its size: not of the limit, not grown by doubling") {
  const TempDir dir;
  const std::string content((std::size_t{1} << 17) + 1, 'z');  // doubling from 16 KiB would end at 256 KiB
  const auto got = read_file(dir.write("sized", content), 64U << 20);
  REQUIRE(got.has_value());
  CHECK(*got == content);
  CHECK(got->capacity() < content.size() + content.size() / 8);
}

TEST_CASE("a file over the limit is an error, or its first bytes when truncating") {
  const TempDir dir;
  const std::string p = dir.write("long", std::string(3U << 20, 'y'));
  const auto too_big = read_file(p, 1U << 20);
  REQUIRE_FALSE(too_big.has_value());
  CHECK(too_big.error().message() == p + ": larger than 1 MiB");
  CHECK(read_file(dir.write("six", "123456"), 5).error().message().find("larger than 5 bytes") != std::string::npos);

  const auto head = read_file(p, 10, OverLimit::truncate);
  REQUIRE(head.has_value());
  CHECK(*head == std::string(10, 'y'));
}

TEST_CASE("missing files and directories say so in one line") {
  const TempDir dir;
  const auto missing = read_file(dir.path + "/nosuch", 100);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message() == "open " + dir.path + "/nosuch: No such file or directory");
  CHECK(missing.error().code == ENOENT);

  const auto directory = read_file(dir.path, 100);
  REQUIRE_FALSE(directory.has_value());
  CHECK(directory.error().message() == dir.path + ": is a directory");
}

TEST_CASE("read_file_at reads relative to a directory descriptor") {
  const TempDir dir;
  dir.write("stat", "42 (sshd) S 1");
  const netwhy::UniqueFd d(::open(dir.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(d.valid());
  CHECK(*read_file_at(d.get(), "stat", 4096) == "42 (sshd) S 1");
  CHECK_FALSE(read_file_at(d.get(), "cmdline", 4096).has_value());
  CHECK(read_file_at(d.get(), "cmdline", 4096).value_or("") == "");
}

TEST_CASE("paths are escaped in messages") {
  const auto r = read_file("/nonexistent/\x1b[2Jx", 10);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message().find('\x1b') == std::string::npos);
  CHECK(r.error().message().find("\\x1b[2Jx") != std::string::npos);
}

TEST_CASE("UniqueDir closes the directory stream") {
  const TempDir dir;
  dir.write("a", "");
  netwhy::UniqueDir d(opendir(dir.path.c_str()));
  REQUIRE(d != nullptr);
  int seen = 0;
  while (const dirent* e = readdir(d.get())) seen += e->d_name[0] == 'a' ? 1 : 0;
  CHECK(seen == 1);
}
