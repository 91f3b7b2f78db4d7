// parse_url: URLs as curl 7.88 reads them from its command line.
#include <doctest/doctest.h>

#include <string>

#include "netwhy/url.hpp"

using netwhy::parse_url;

TEST_CASE("scheme, host, port and target as curl takes them") {
  struct Case {
    const char* text;
    const char* scheme;
    const char* host;
    unsigned port;
    const char* target;
    const char* normal;
  };
  for (const Case& c : {
           Case{"http://example.com", "http", "example.com", 80, "/", "http://example.com/"},
           Case{"HTTPS://Example.com/a/b?c=1#frag", "https", "Example.com", 443, "/a/b?c=1", "https://Example.com/a/b?c=1"},
           Case{"localhost:8000", "http", "localhost", 8000, "/", "http://localhost:8000/"},
           Case{"10.0.0.1:5000/api", "http", "10.0.0.1", 5000, "/api", "http://10.0.0.1:5000/api"},
           Case{"http://127.1:8000/", "http", "127.0.0.1", 8000, "/", "http://127.0.0.1:8000/"},
           Case{"http://0x7f.0.0.1/", "http", "127.0.0.1", 80, "/", "http://127.0.0.1/"},
           Case{"http://2130706433/", "http", "127.0.0.1", 80, "/", "http://127.0.0.1/"},
           Case{"http://[::1]:8080/x", "http", "::1", 8080, "/x", "http://[::1]:8080/x"},
           Case{"https://[0:0::1]/", "https", "::1", 443, "/", "https://[::1]/"},
           Case{"http://h:/", "http", "h", 80, "/", "http://h/"},
           Case{"http://h?q=1", "http", "h", 80, "/?q=1", "http://h/?q=1"},
           Case{"https://h:443/", "https", "h", 443, "/", "https://h/"},
           Case{"http://deadbeef/", "http", "deadbeef", 80, "/", "http://deadbeef/"},
       }) {
    CAPTURE(c.text);
    auto u = parse_url(c.text);
    REQUIRE(u.has_value());
    CHECK(u->scheme == c.scheme);
    CHECK(u->host == c.host);
    CHECK(u->port == c.port);
    CHECK(u->target == c.target);
    CHECK(u->to_string() == c.normal);
  }
}

TEST_CASE("the Host header, the authority and the other scheme") {
  auto u = parse_url("http://[fd00::1]:8080/a");
  REQUIRE(u.has_value());
  CHECK(u->host_header() == "[fd00::1]:8080");
  CHECK(u->authority() == "[fd00::1]:8080");
  CHECK(u->with_scheme("https").to_string() == "https://[fd00::1]:8080/a");
  auto d = parse_url("http://web/");
  REQUIRE(d.has_value());
  CHECK(d->host_header() == "web");
  CHECK(d->authority() == "web:80");
  CHECK(d->with_scheme("https").to_string() == "https://web/");
  CHECK(d->with_scheme("https").port == 443);
}

TEST_CASE("bad URLs are input errors that name the problem") {
  struct Case {
    std::string text;
    const char* says;
  };
  for (const Case& c : {
           Case{"", "empty URL"},
           Case{"ftp://h/", "unsupported scheme"},
           Case{"http://user:secret@h/", "credentials"},
           Case{"http://h:0/", "bad port"},
           Case{"http://h:65536/", "bad port"},
           Case{"http://h:8x/", "bad port"},
           Case{"http://h:-1/", "bad port"},
           Case{"http:///x", "no host"},
           Case{"http://[::1/", "closing"},
           Case{"http://[10.0.0.1]/", "IPv6"},
           Case{"http://[fe80::1%25eth0]/", "zone"},
           Case{"http://a b/", "blank"},
           Case{std::string("http://a\x1b[31m/"), "control"},
           Case{"http://a{b}/", "host name"},
           Case{"http://[::1]x/", "after"},
           Case{"http://" + std::string(300, 'a') + "/", "253"},
           Case{"http://h/" + std::string(9000, 'a'), "longer than"},
       }) {
    CAPTURE(c.text);
    auto u = parse_url(c.text);
    REQUIRE_FALSE(u.has_value());
    CHECK(u.error().kind == netwhy::ErrorKind::input);
    const std::string m = u.error().message();
    CHECK(m.find(c.says) != std::string::npos);
    CHECK(m.find('\x1b') == std::string::npos);
    CHECK(m.find("secret") == std::string::npos);
  }
}
