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

TEST_CASE("stderr's one way out: every control byte escaped, escaped text unchanged, one bounded line") {
  using netwhy::escape_controls;
  using netwhy::escape_line;
  // Raw bytes from a file or an argument: ESC, BEL, OSC, CSI as C1, invalid UTF-8.
  CHECK(escape_controls("key \x1b]0;pwned\x07 \xc2\x9b" "2J \xff") == "key \\x1b]0;pwned\\x07 \\xc2\\x9b2J \\xff");
  // What a caller escaped already passes as it is: no doubled backslashes.
  const std::string once = escape_text("a\\b \x1b[2J");
  CHECK(once == "a\\\\b \\x1b[2J");
  CHECK(escape_controls(once) == once);
  CHECK(escape_controls("caf\xc3\xa9 \xe2\x9c\x93") == "caf\xc3\xa9 \xe2\x9c\x93");
  // One line: a newline inside is a space.
  CHECK(escape_line("first\nsecond\r\nthird\x1b") == "first second  third\\x1b");
  // Bounded, cut at a character boundary.
  CHECK(escape_line(std::string(5000, 'a')).size() == 4096);
  CHECK(escape_line(std::string(5000, 'a')).ends_with("..."));
  CHECK(escape_line("abcdefgh", 6) == "abc...");
  CHECK(escape_line("ab\xc3\xa9" "defgh", 6) == "ab...");    // é would be cut: left out whole
  CHECK(escape_line("a\x1b" "bcdefgh", 7) == "a\\x1...");  // cut inside an escape: still no raw byte
  for (const std::string& s : {escape_line(std::string(3000, '\x1b')), escape_line(std::string(9000, '\x9b'))}) {
    CHECK(s.size() <= 4096);
    CHECK(s.find('\x1b') == std::string::npos);
    CHECK(is_plain_text(s.substr(0, s.find('\\'))));
  }
}

TEST_CASE("a library's message quoting what was typed: each argument escaped and cut as one") {
  using netwhy::escape_typed;
  const std::string spaced = [] {
    std::string s = "--";
    for (int i = 0; i < 5000; ++i) s += "a ";
    return s;
  }();
  // CLI11's words, with a 10 KB argument of short words: cut as one argument.
  const std::string m = escape_typed("The following argument was not expected: " + spaced, {"link", spaced});
  CHECK(m == "The following argument was not expected: " + spaced.substr(0, 60) + "...");
  // An argument with escapes, found among others, and the same one twice.
  const std::string evil = "\x1b]0;x\x07" + std::string(100, 'b');
  CHECK(escape_typed("x " + evil + " y " + evil, {evil}) ==
        "x \\x1b]0;x\\x07" + std::string(54, 'b') + "... y \\x1b]0;x\\x07" + std::string(54, 'b') + "...");
  // Not typed, or short: word by word as before (each word escaped, a long one cut).
  CHECK(escape_typed("Could not convert: --timeout = \x1b[2J", {"--timeout", "\x1b[2J"}) ==
        "Could not convert: --timeout = \\x1b[2J");
  CHECK(escape_typed(std::string(100, 'c'), {}) == std::string(60, 'c') + "...");
  CHECK(escape_typed("", {spaced}).empty());
}
