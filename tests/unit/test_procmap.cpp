#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <sys/stat.h>

#include "netwhy/procmap.hpp"

using namespace netwhy;

TEST_CASE("socket links: only socket:[N] counts") {
  CHECK(parse_socket_link("socket:[48122]") == 48122U);
  CHECK_FALSE(parse_socket_link("pipe:[48122]").has_value());
  CHECK_FALSE(parse_socket_link("socket:[]").has_value());
  CHECK_FALSE(parse_socket_link("socket:[12x]").has_value());
  CHECK_FALSE(parse_socket_link("socket:[12").has_value());
  CHECK_FALSE(parse_socket_link("/dev/null").has_value());
  CHECK_FALSE(parse_socket_link("anon_inode:[eventpoll]").has_value());
}

TEST_CASE("command lines: NUL separators become spaces, hostile bytes stay for the renderer") {
  CHECK(parse_cmdline(std::string_view("gunicorn\0-w\0" "3\0app:app\0", 22)) == "gunicorn -w 3 app:app");
  CHECK(parse_cmdline("") == "");
  CHECK(parse_cmdline(std::string_view("a\x1b[2J\0", 6)) == "a\x1b[2J");
}

TEST_CASE("stat: the command name may hold spaces, parentheses and escapes") {
  auto f = parse_stat("256 (gunicorn) S 1 256 256 0 -1 4194560 3096 0 0 0 10 2 0 0 20 0 1 0 123 0\n");
  REQUIRE(f);
  CHECK(f->comm == "gunicorn");
  CHECK(f->ppid == 1);
  auto odd = parse_stat("7 (a) b (c)) \x1b[2J) R 42 7 7 0 -1\n");
  REQUIRE(odd);
  CHECK(odd->comm == "a) b (c)) \x1b[2J");
  CHECK(odd->ppid == 42);
  CHECK_FALSE(parse_stat("7 (unterminated S 1").has_value());
  CHECK_FALSE(parse_stat("").has_value());
  CHECK_FALSE(parse_stat("7 (x) S").has_value());
}

TEST_CASE("this process is found holding a socket it opened") {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  struct stat st {};
  REQUIRE(fstat(fd, &st) == 0);
  const auto map = map_socket_owners({static_cast<std::uint64_t>(st.st_ino)});
  close(fd);
  REQUIRE(map.holders.count(st.st_ino) == 1);
  CHECK(map.holders.at(st.st_ino) == std::vector<pid_t>{getpid()});
  const Process& me = map.processes.at(getpid());
  CHECK(me.comm == "unit-tests");
  CHECK(me.uid == geteuid());
  CHECK(me.ppid == getppid());
  CHECK(me.cmdline.find("unit-tests") != std::string::npos);
  CHECK(map.scanned > 0);
}
