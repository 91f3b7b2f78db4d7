#include <doctest/doctest.h>

#include "netwhy/wait.hpp"

using namespace std::chrono_literals;
using netwhy::Backoff;
using netwhy::wait_status_line;

TEST_CASE("backoff: 250 ms, half as long again each time, at most 2 s, never past the deadline") {
  Backoff b;
  CHECK(b.next(60s) == 250ms);
  CHECK(b.next(60s) == 375ms);
  CHECK(b.next(60s) == 562ms);
  CHECK(b.next(60s) == 843ms);
  CHECK(b.next(60s) == 1264ms);
  CHECK(b.next(60s) == 1896ms);
  CHECK(b.next(60s) == 2000ms);
  CHECK(b.next(60s) == 2000ms);
  CHECK(b.next(700ms) == 700ms);  // the last pause ends at the deadline
  CHECK(b.next(0ms) == 0ms);
  CHECK(b.next(-5ms) == 0ms);
  // A few reads per second at most: in any second, at most four pauses begin.
  Backoff c;
  std::chrono::milliseconds t{0};
  int in_first_second = 0;
  while (t < 1s) {
    t += c.next(60s);
    ++in_first_second;
  }
  CHECK(in_first_second <= 4);
}

TEST_CASE("the status line: elapsed time in tenths, the headline, one line that fits") {
  CHECK(wait_status_line(0ms, "nothing listens on port 8000", 80) == "[0.0s] nothing listens on port 8000");
  CHECK(wait_status_line(12345ms, "x", 80) == "[12.3s] x");
  CHECK(wait_status_line(-3ms, "x", 80) == "[0.0s] x");
  const std::string cut = wait_status_line(1000ms, std::string(200, 'a'), 40);
  CHECK(cut.size() == 40);
  CHECK(cut.ends_with("aaa..."));
  CHECK(wait_status_line(1000ms, "abc", 10) == "[1.0s] abc");  // exactly the width: not cut
  CHECK(wait_status_line(1000ms, "abcd", 10) == "[1.0s] ...");
}

TEST_CASE("the status line is safe on a terminal: no control byte, no newline, characters not split") {
  const std::string hostile = wait_status_line(0ms, "evil\x1b]0;title\x07\nnext\r\xff", 200);
  CHECK(hostile.find('\x1b') == std::string::npos);
  CHECK(hostile.find('\x07') == std::string::npos);
  CHECK(hostile.find('\n') == std::string::npos);
  CHECK(hostile.find('\r') == std::string::npos);
  // "é" is two bytes, one column: 20 columns of it are 7 + 10 + "..." (and whole characters).
  std::string accents;
  for (int i = 0; i < 30; ++i) accents += "\xc3\xa9";
  const std::string line = wait_status_line(0ms, accents, 20);
  CHECK(line == "[0.0s] " + accents.substr(0, 20) + "...");
}
