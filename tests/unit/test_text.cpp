#include <doctest/doctest.h>

#include "netwhy/text.hpp"

using netwhy::escape_text;
using netwhy::is_plain_text;
using netwhy::shell_word;
using netwhy::to_valid_utf8;

TEST_CASE("plain names pass through untouched") {
  CHECK(escape_text("eth0") == "eth0");
  CHECK(escape_text("wlp3s0:web") == "wlp3s0:web");
  CHECK(escape_text("caf\xc3\xa9") == "caf\xc3\xa9");            // é
  CHECK(escape_text("\xf0\x9f\x90\xa7tux") == "\xf0\x9f\x90\xa7tux");  // 🐧
  CHECK(is_plain_text("gunicorn: master [app:app]"));
}

TEST_CASE("terminal control sequences are shown, not obeyed") {
  CHECK(escape_text("\x1b[31mevil") == "\\x1b[31mevil");
  CHECK(escape_text("a\nb\tc") == "a\\nb\\tc");
  CHECK(escape_text("bell\x07") == "bell\\x07");
  CHECK(escape_text("del\x7f") == "del\\x7f");
  CHECK(escape_text("back\\slash") == "back\\\\slash");
  SUBCASE("C1 controls, which some terminals read as CSI") {
    CHECK(escape_text("x\xc2\x9b" "2J") == "x\\xc2\\x9b2J");
    CHECK(escape_text("\xc2\xa0") == "\xc2\xa0");  // no-break space is printable
  }
  CHECK_FALSE(is_plain_text("\x1b"));
}

TEST_CASE("invalid UTF-8 is escaped byte by byte in text") {
  CHECK(escape_text("\xff\xfe" "bad") == "\\xff\\xfebad");
  CHECK(escape_text("\xc3") == "\\xc3");                 // truncated sequence
  CHECK(escape_text("\xc0\xaf") == "\\xc0\\xaf");        // overlong '/'
  CHECK(escape_text("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // UTF-16 surrogate
  CHECK(escape_text(std::string("nul\0x", 5)) == "nul\\x00x");
}

TEST_CASE("to_valid_utf8 replaces each invalid byte with U+FFFD") {
  CHECK(to_valid_utf8("ok") == "ok");
  CHECK(to_valid_utf8("\xff" "a\xfe") == "\xef\xbf\xbd" "a\xef\xbf\xbd");
  CHECK(to_valid_utf8("\xe2\x82") == "\xef\xbf\xbd\xef\xbf\xbd");
  CHECK(to_valid_utf8("\xe2\x82\xac") == "\xe2\x82\xac");  // €
  CHECK(to_valid_utf8("\xf4\x90\x80\x80") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // > U+10FFFF
}

TEST_CASE("an echoed argument is escaped, and cut when long") {
  using netwhy::escape_arg;
  CHECK(escape_arg("eth0") == "eth0");
  CHECK(escape_arg(std::string(60, 'a')) == std::string(60, 'a'));
  CHECK(escape_arg(std::string(10240, 'a')) == std::string(60, 'a') + "...");
  CHECK(escape_arg("\x1b[2J" + std::string(100, 'b'), 10) == "\\x1b[2Jbbbbbb...");
  // A cut never splits a character: 59 bytes, then a 2-byte é that would end at 61.
  CHECK(escape_arg(std::string(59, 'a') + "\xc3\xa9" + std::string(10, 'c')) == std::string(59, 'a') + "...");
}

TEST_CASE("shell_word: a name from the system is one word of a command, whatever its bytes") {
  CHECK(shell_word("eth0") == "eth0");
  CHECK(shell_word("br-1a2b.100") == "br-1a2b.100");
  CHECK(shell_word("") == "''");
  CHECK(shell_word("a;reboot;b") == "'a;reboot;b'");
  CHECK(shell_word("1 $(touch /tmp/pwned)") == "'1 $(touch /tmp/pwned)'");
  CHECK(shell_word("it's") == "'it'\\''s'");
  CHECK(shell_word("tab\there") == "'tab\there'");
}
