// The proxy curl 7.88.1 would use. Each case names the curl source it
// encodes (curl-7_88_1 tag of github.com/curl/curl); tests/integration/
// test_proxy_env_curl.py checks a few of them against the curl binary.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <variant>

#include "netwhy/proxy_env.hpp"

using netwhy::check_no_proxy;
using netwhy::decide_proxy;
using netwhy::Environment;
using netwhy::no_proxy_matches;
using netwhy::parse_proxy_url;
using netwhy::ProxyEndpoint;
using netwhy::ProxyType;
using netwhy::ProxyUrlError;
using netwhy::suggest_no_proxy;

namespace {

struct NoProxyCase {
  const char* host;
  const char* no_proxy;
  bool match;
  bool space;  // curl's spacesep: "space-separated NOPROXY patterns are deprecated"
};

// curl's own table for Curl_check_noproxy(), tests/unit/unit1614.c at
// curl-7_88_1, verbatim: names as given straight to the function.
const NoProxyCase curl_unit1614[] = {
    {"www.example.com", "localhost .example.com .example.de", true, true},
    {"www.example.com", "localhost,.example.com,.example.de", true, false},
    {"www.example.com.", "localhost,.example.com,.example.de", true, false},
    {"example.com", "localhost,.example.com,.example.de", true, false},
    {"example.com.", "localhost,.example.com,.example.de", true, false},
    {"www.example.com", "localhost,.example.com.,.example.de", true, false},
    {"www.example.com", "localhost,www.example.com.,.example.de", true, false},
    {"example.com", "localhost,example.com,.example.de", true, false},
    {"example.com.", "localhost,example.com,.example.de", true, false},
    {"nexample.com", "localhost,example.com,.example.de", false, false},
    {"www.example.com", "localhost,example.com,.example.de", true, false},
    {"127.0.0.1", "127.0.0.1,localhost", true, false},
    {"127.0.0.1", "127.0.0.1,localhost,", true, false},
    {"127.0.0.1", "127.0.0.1/8,localhost,", true, false},
    {"127.0.0.1", "127.0.0.1/28,localhost,", true, false},
    {"127.0.0.1", "127.0.0.1/31,localhost,", true, false},
    {"127.0.0.1", "localhost,127.0.0.1", true, false},
    {"127.0.0.1",
     "localhost,127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1."
     "127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127."
     "0.0.1.127.0.0.1.127.0.0." /* 128 bytes "address" */,
     false, false},
    {"127.0.0.1",
     "localhost,127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1."
     "127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127."
     "0.0.1.127.0.0.1.127.0.0" /* 127 bytes "address" */,
     false, false},
    {"localhost", "localhost,127.0.0.1", true, false},
    {"localhost", "127.0.0.1,localhost", true, false},
    {"foobar", "barfoo", false, false},
    {"foobar", "foobar", true, false},
    {"192.168.0.1", "foobar", false, false},
    {"192.168.0.1", "192.168.0.0/16", true, false},
    {"192.168.0.1", "192.168.0.0/24", true, false},
    {"192.168.0.1", "192.168.0.0/32", false, false},
    {"192.168.0.1", "192.168.0.0", false, false},
    {"192.168.1.1", "192.168.0.0/24", false, false},
    {"192.168.1.1", "foo, bar, 192.168.0.0/24", false, false},
    {"192.168.1.1", "foo, bar, 192.168.0.0/16", true, false},
    {"[::1]", "foo, bar, 192.168.0.0/16", false, false},
    {"[::1]", "foo, bar, ::1/64", true, false},
    {"bar", "foo, bar, ::1/64", true, false},
    {"BAr", "foo, bar, ::1/64", true, false},
    {"BAr", "foo,,,,,              bar, ::1/64", true, false},
    {"www.example.com", "foo, .example.com", true, false},
    {"www.example.com", "www2.example.com, .example.net", false, false},
    {"example.com", ".example.com, .example.net", true, false},
    {"nonexample.com", ".example.com, .example.net", false, false},
};

// unit1614.c's list4 and list6 (Curl_cidr4_match, Curl_cidr6_match), as
// no_proxy entries "network/bits" (bits 0: no slash).
const NoProxyCase curl_unit1614_cidr[] = {
    {"192.160.0.1", "192.160.0.1/33", false, false},
    {"192.160.0.1", "192.160.0.1/32", true, false},
    {"192.160.0.1", "192.160.0.1", true, false},
    {"192.160.0.1", "192.160.0.1/24", true, false},
    {"192.160.0.1", "192.160.0.1/26", true, false},
    {"192.160.0.1", "192.160.0.1/20", true, false},
    {"192.160.0.1", "192.160.0.1/18", true, false},
    {"192.160.0.1", "192.160.0.1/12", true, false},
    {"192.160.0.1", "192.160.0.1/8", true, false},
    {"192.160.0.1", "10.0.0.1/8", false, false},
    {"192.160.0.1", "10.0.0.1/32", false, false},
    {"192.160.0.1", "10.0.0.1", false, false},
    {"[::1]", "::1", true, false},
    {"[::1]", "::1/128", true, false},
    {"[::1]", "0:0::1/128", true, false},
    {"[::1]", "0:0::1/129", false, false},
    {"[fe80::ab47:4396:55c9:8474]", "fe80::ab47:4396:55c9:8474/64", true, false},
    // Curl_cidr6_match()'s test of a partial last byte is upside down in
    // 7.88.1 (fixed in 8.17.0, commit 1a3a5cb720): ::1 is not in ::1/127,
    // ::3 is; 2001:db8::8000:0:0:1 is in 2001:db8::/65, 2001:db8::1 is not.
    {"[::1]", "::1/127", false, false},
    {"[::3]", "::1/127", true, false},
    {"[2001:db8:0:0:8000::1]", "2001:db8::/65", true, false},
    {"[2001:db8::1]", "2001:db8::/65", false, false},
    {"[2001:db8:8000::1]", "2001:db8::/65", false, false},  // whole bytes differ: right again
    // atoi() of a bad prefix: "a127" is 0 (the whole address), "-8" is huge.
    {"[::1]", "::1/a127", true, false},
    {"[::1]", "::1/-8", false, false},
};

// no_proxy against a URL's host, through lib/url.c: the brackets of an IPv6
// literal are cut off first (parseurlandfillconn), so Curl_check_noproxy
// compares it as a name.
const NoProxyCase url_cases[] = {
    // noproxy.c: strcmp("*", no_proxy): only a lone "*" is the wildcard.
    {"www.example.com", "*", true, false},
    {"127.0.0.1", "*", true, false},
    {"[::1]", "*", true, false},
    {"www.example.com", " *", false, false},
    {"www.example.com", "*,", false, false},
    {"www.example.com", "*,foo", false, false},
    {"www.example.com", "foo,*", false, false},
    {"www.example.com", "*.example.com", false, false},  // no globbing: "*" is a letter here
    {"*", "foo,*", true, false},                         // ...that matches the name "*" only
    // noproxy.c TYPE_HOST: leading dot ignored, tail match on a dot boundary.
    {"www.example.com", ".example.com", true, false},
    {"example.com", ".example.com", true, false},
    {"badexample.com", ".example.com", false, false},
    {"www.example.com", "example.com", true, false},
    {"example.com", "example.com", true, false},
    {"badexample.com", "example.com", false, false},
    {"a.b.example.com", "example.com", true, false},
    {"example.com", "www.example.com", false, false},
    {"example.com", "com", true, false},  // a suffix is a suffix
    {"example.com", "..example.com", false, false},
    // strncasecompare: ASCII case does not matter.
    {"WWW.Example.COM", "example.com", true, false},
    {"www.example.com", "EXAMPLE.COM", true, false},
    // trailing dots on either side are ignored
    {"example.com.", "example.com", true, false},
    {"www.example.com.", ".example.com.", true, false},
    {"example.com..", "example.com", false, false},
    {"a..", ".", true, false},  // "." is empty once its dot is dropped, and "a.." ends in a dot
    // blanks (space, tab) and commas separate; any number of either
    {"example.com", " example.com ", true, false},
    {"example.com", "\texample.com\t,foo", true, false},
    {"example.com", "foo , example.com", true, false},
    {"example.com", "foo example.com", true, true},
    {"example.com", "foo\texample.com", true, true},
    {"example.com", ",,,example.com,,,", true, false},
    {"example.com", ",", false, false},
    {"example.com", ",,, ,", false, false},
    {"example.com", "   ", false, false},
    {"example.com", "foo\nexample.com", false, false},  // a newline is not a blank
    // the port is no part of it: "example.com:8080" is one (unmatching) name
    {"example.com", "example.com:8080", false, false},
    // IPv4: only addresses and CIDR (curl >= 7.86), never names or suffixes
    {"10.1.2.3", "10.0.0.0/8", true, false},
    {"10.1.2.3", "10.1.2.0/24", true, false},
    {"11.1.2.3", "10.0.0.0/8", false, false},
    {"10.1.2.3", "10.1.2.3", true, false},
    {"10.1.2.3", "10.1.2.3/32", true, false},
    {"10.1.2.3", "10.0.0.0/0", false, false},  // /0 is "the address itself", not "everything"
    {"10.0.0.0", "10.0.0.0/0", true, false},
    {"0.0.0.1", "0.0.0.0/0", false, false},
    {"10.1.2.3", "10.0.0.0/33", false, false},
    {"10.1.2.3", "10.0.0.0/-8", false, false},
    {"10.1.2.3", "10.0.0.0/8x", true, false},  // atoi stops at the x
    {"10.1.2.3", "10.0.0.0/x8", false, false},  // atoi gives 0
    {"10.0.0.0", "10.0.0.0/x8", true, false},
    {"10.1.2.3", "10.0.0.0/99999999999", false, false},
    {"10.1.2.3", "10.0.0.0/4294967304", true, false},  // atoi wraps to 8 (glibc, 64-bit long)
    {"10.1.2.3", "10.0.0.0/8/16", true, false},
    {"10.1.2.3", "10.0.0.0 /8", false, true},
    {"10.1.2.3", "10/8", false, false},          // inet_pton wants four parts
    {"10.1.2.3", "010.1.2.3", false, false},     // glibc inet_pton: no leading zero
    {"127.0.0.1", "localhost", false, false},
    {"127.0.0.1", ".0.0.1", false, false},
    {"127.0.0.1", "0.0.1", false, false},
    {"192.168.1.10", "192.168.1.1", false, false},
    {"127.0.0.1.", "127.0.0.1", true, false},   // not an address: a name, trailing dot dropped
    // IPv6 (7.88.1): compared as a name, with or without brackets in the URL
    {"[::1]", "::1", true, false},
    {"::1", "::1", true, false},
    {"[::1]", "[::1]", false, false},
    {"[::1]", "::1/128", false, false},
    {"[::1]", "::/0", false, false},
    {"[::1]", "0:0::1", false, false},
    {"[2001:DB8::1]", "2001:db8::1", true, false},
    {"[2001:db8::1]", "2001:db8::/32", false, false},
    {"[fe80::1]", "fe80::1%eth0", false, false},
    // nothing matches no host (a file:// URL)
    {"", "*", false, false},
    {"", "example.com", false, false},
    {"[]", "*", false, false},
};

struct ParseCase {
  const char* url;
  ProxyType type;
  const char* host;
  std::uint16_t port;
  bool port_given;
  bool credentials;
};

// lib/url.c parse_proxy() over lib/urlapi.c parseurl() (CURLU_GUESS_SCHEME
// | CURLU_NON_SUPPORT_SCHEME); default ports from lib/url.h.
const ParseCase proxy_urls[] = {
    {"proxy:3128", ProxyType::http, "proxy", 3128, true, false},  // no scheme: http:// (guessed)
    {"proxy", ProxyType::http, "proxy", 1080, false, false},      // CURL_DEFAULT_PROXY_PORT, not 80
    {"http://proxy", ProxyType::http, "proxy", 1080, false, false},
    {"http://proxy/", ProxyType::http, "proxy", 1080, false, false},
    {"http://proxy:", ProxyType::http, "proxy", 1080, false, false},  // Curl_parse_port: empty port
    {"http:/proxy:8080", ProxyType::http, "proxy", 8080, true, false},    // 1 to 3 slashes
    {"http:///proxy:8080", ProxyType::http, "proxy", 8080, true, false},
    {"https://proxy", ProxyType::https, "proxy", 443, false, false},  // CURL_DEFAULT_HTTPS_PROXY_PORT
    {"https://proxy:8443", ProxyType::https, "proxy", 8443, true, false},
    {"socks://proxy", ProxyType::socks4, "proxy", 1080, false, false},
    {"socks4://proxy", ProxyType::socks4, "proxy", 1080, false, false},
    {"socks4a://proxy", ProxyType::socks4a, "proxy", 1080, false, false},
    {"socks5://proxy", ProxyType::socks5, "proxy", 1080, false, false},
    {"SOCKS5H://proxy:9050", ProxyType::socks5h, "proxy", 9050, true, false},
    {"HTTP://Proxy.Corp", ProxyType::http, "Proxy.Corp", 1080, false, false},
    {"http://user:secret@proxy:8080/", ProxyType::http, "proxy", 8080, true, true},
    {"http://user@proxy", ProxyType::http, "proxy", 1080, false, true},
    {"http://@proxy", ProxyType::http, "proxy", 1080, false, true},
    {"http://[::1]:3128", ProxyType::http, "::1", 3128, true, false},
    {"http://[0:0::1]", ProxyType::http, "::1", 1080, false, false},  // hostname_check: inet_ntop if shorter
    {"http://127.1:3128", ProxyType::http, "127.0.0.1", 3128, true, false},  // ipv4_normalize
    {"http://0x7f000001", ProxyType::http, "127.0.0.1", 1080, false, false},
    {"http://%70roxy", ProxyType::http, "proxy", 1080, false, false},  // decode_host
    {"http://proxy:00080", ProxyType::http, "proxy", 80, true, false},
    {"http://proxy:0", ProxyType::http, "proxy", 0, true, false},  // no lower bound in 7.88.1
    {"http://proxy?x#y", ProxyType::http, "proxy", 1080, false, false},
    {"localhost:3128", ProxyType::http, "localhost", 3128, true, false},
    {"www.proxy:3128", ProxyType::http, "www.proxy", 3128, true, false},
};

struct BadCase {
  const char* url;
  int curl_exit;
};

const BadCase bad_proxy_urls[] = {
    {"ftp.corp.example:3128", 7},  // the scheme is guessed from "ftp.": "Unsupported proxy scheme"
    {"FTP.corp:3128", 7},
    {"imap.corp", 7},
    {"ftp://proxy", 7},
    {"gopher://proxy", 7},
    {"socks6://proxy", 7},
    {"file:///tmp/proxy", 7},
    {"", 5},  // no host: "Unsupported proxy syntax"
    {"http://", 5},
    {"http:////proxy", 5},  // four slashes
    {"proxy:", 5},          // an empty port without a scheme
    {"http://proxy:99999", 5},
    {"http://proxy:65536", 5},
    {"http://proxy:80a", 5},
    {"http://proxy:-1", 5},
    {"http://proxy: 80", 5},
    {"http://pro xy", 5},
    {"http://proxy/ x", 5},
    {"http://proxy/\x01", 5},
    {"http://pro\x7fxy", 5},
    {"http://[::1", 5},
    {"http://[::1]x", 5},
    {"http://[::g]", 5},
    {"http://[1.2]", 5},
    {"http://a@b@c", 5},
    {"http://us er@proxy", 5},
    {"http://pro%00xy", 5},
    {"http://pro,xy", 5},
    {"http://pro*xy", 5},
    {"http:proxy", 5},  // "http:" without a slash is no scheme: host "http", port "proxy"
    {"http://:3128", 5},
    {"file:/", 5},
    {"file://host/x", 5},
};

struct SuggestCase {
  const char* current;
  const char* host;
  const char* expected;  // nullptr: none
};

const SuggestCase suggestions[] = {
    {"", "localhost", "localhost,127.0.0.1,::1"},
    {"", "127.0.0.1", "localhost,127.0.0.1,::1"},
    {"", "[::1]", "localhost,127.0.0.1,::1"},
    {"", "127.0.0.2", "localhost,127.0.0.1,::1,127.0.0.2"},
    {"", "app.localhost", "localhost,127.0.0.1,::1"},  // "localhost" covers it
    {"localhost", "127.0.0.1", "localhost,127.0.0.1,::1"},
    {"example.org", "localhost", "example.org,localhost,127.0.0.1,::1"},
    {"", "10.0.0.5", "10.0.0.5"},
    {"example.org", "db.internal", "example.org,db.internal"},
    {"example.org,", "db.internal", "example.org,db.internal"},
    {"example.org , ", "db.internal", "example.org , db.internal"},
    {"example.org other.org", "db.internal", "example.org other.org,db.internal"},
    {"*,foo", "db.internal", "*,foo,db.internal"},
    {" *", "db.internal", " *,db.internal"},
    {"", "[2001:db8::1]", "2001:db8::1"},  // as 7.88.1 compares it: no brackets
    {"", "example.com.", "example.com"},
    {"", "WWW.Example.com", "WWW.Example.com"},
    // already direct: unchanged
    {"*", "anything", "*"},
    {".example.com", "www.example.com", ".example.com"},
    {"10.0.0.0/8", "10.0.0.5", "10.0.0.0/8"},
    // nothing to add
    {"", "", nullptr},
    {"", ".", nullptr},
    {"", "[]", nullptr},
};

Environment env(std::initializer_list<std::pair<const std::string, std::string>> values) { return Environment(values); }

}  // namespace

TEST_CASE("curl 7.88.1's own Curl_check_noproxy table (tests/unit/unit1614.c)") {
  for (const auto& c : curl_unit1614) {
    CAPTURE(std::string(c.host));
    CAPTURE(std::string(c.no_proxy));
    const auto r = netwhy::detail::curl_check_noproxy(c.host, c.no_proxy);
    CHECK(r.entry.has_value() == c.match);
    CHECK(r.space_separated == c.space);
  }
  for (const auto& c : curl_unit1614_cidr) {
    CAPTURE(std::string(c.host));
    CAPTURE(std::string(c.no_proxy));
    CHECK(netwhy::detail::curl_check_noproxy(c.host, c.no_proxy).entry.has_value() == c.match);
  }
}

TEST_CASE("no_proxy against a URL's host, as lib/url.c hands it to Curl_check_noproxy") {
  for (const auto& c : url_cases) {
    CAPTURE(std::string(c.host));
    CAPTURE(std::string(c.no_proxy));
    const auto r = check_no_proxy(c.no_proxy, c.host);
    CHECK(r.entry.has_value() == c.match);
    CHECK(no_proxy_matches(c.no_proxy, c.host) == c.match);
    if (!c.match) CHECK(r.space_separated == c.space);
  }
}

TEST_CASE("the matching entry is reported as written") {
  CHECK(check_no_proxy("foo, .Example.COM. ,bar", "www.example.com").entry == ".Example.COM.");
  CHECK(check_no_proxy("*", "x").entry == "*");
  CHECK(check_no_proxy("a, 10.0.0.0/8", "10.9.9.9").entry == "10.0.0.0/8");
  CHECK_FALSE(check_no_proxy("a,b", "c").entry.has_value());
  // curl stops at the first match: a later space separation is not seen
  CHECK_FALSE(check_no_proxy("c a b", "c").space_separated);
  CHECK(check_no_proxy("a b c", "c").space_separated);
}

TEST_CASE("proxy URLs as parse_proxy() reads them") {
  for (const auto& c : proxy_urls) {
    CAPTURE(std::string(c.url));
    const auto r = parse_proxy_url(c.url);
    REQUIRE(std::holds_alternative<ProxyEndpoint>(r));
    const auto& ep = std::get<ProxyEndpoint>(r);
    CHECK(ep.type == c.type);
    CHECK(ep.host == c.host);
    CHECK(ep.port == c.port);
    CHECK(ep.port_given == c.port_given);
    CHECK(ep.credentials == c.credentials);
    CHECK_FALSE(ep.unix_socket.has_value());
  }
}

TEST_CASE("proxy URLs curl refuses, with its exit status and words") {
  for (const auto& c : bad_proxy_urls) {
    CAPTURE(std::string(c.url));
    const auto r = parse_proxy_url(c.url);
    REQUIRE(std::holds_alternative<ProxyUrlError>(r));
    const auto& e = std::get<ProxyUrlError>(r);
    CHECK(e.curl_exit == c.curl_exit);
    CHECK(e.message == std::string(c.curl_exit == 5 ? "Unsupported proxy syntax in '" : "Unsupported proxy scheme for '") +
                           c.url + "'");
  }
}

TEST_CASE("proxy URL details: zone, Unix socket, NUL") {
  // hostname_check(): "%25" before a zone id is a URL-encoded '%'
  auto r = parse_proxy_url("http://[fe80::1%25eth0]:3128");
  REQUIRE(std::holds_alternative<ProxyEndpoint>(r));
  CHECK(std::get<ProxyEndpoint>(r).host == "fe80::1");
  CHECK(std::get<ProxyEndpoint>(r).zone == "eth0");
  // url.c UNIX_SOCKET_PREFIX: a SOCKS proxy at localhost with a path
  r = parse_proxy_url("socks5h://localhost/run/tor/socks");
  REQUIRE(std::holds_alternative<ProxyEndpoint>(r));
  CHECK(std::get<ProxyEndpoint>(r).unix_socket == "/run/tor/socks");
  r = parse_proxy_url("socks5h://localhost/");
  REQUIRE(std::holds_alternative<ProxyEndpoint>(r));
  CHECK_FALSE(std::get<ProxyEndpoint>(r).unix_socket.has_value());
  r = parse_proxy_url("http://localhost/run/x");  // only SOCKS
  REQUIRE(std::holds_alternative<ProxyEndpoint>(r));
  CHECK_FALSE(std::get<ProxyEndpoint>(r).unix_socket.has_value());
  // a C string ends at the NUL
  r = parse_proxy_url(std::string("http://proxy:8080\0junk junk", 27));
  REQUIRE(std::holds_alternative<ProxyEndpoint>(r));
  CHECK(std::get<ProxyEndpoint>(r).port == 8080);
  CHECK(netwhy::proxy_type_name(ProxyType::socks5h) == "socks5h");
}

TEST_CASE("which variable: detect_proxy() and create_conn_helper_init_proxy() in lib/url.c") {
  SUBCASE("http_proxy for http://") {
    const auto d = decide_proxy("http", "www.example.com", env({{"http_proxy", "http://proxy:3128"}}));
    CHECK(d.uses_proxy());
    CHECK(d.variable == "http_proxy");
    CHECK(d.proxy_url == "http://proxy:3128");
    REQUIRE(d.proxy.has_value());
    CHECK(d.proxy->host == "proxy");
    CHECK(d.proxy->port == 3128);
    CHECK_FALSE(d.tunnel);  // a plain "GET http://..." to the proxy
    CHECK(d.proxy_resolves_host);
    CHECK_FALSE(d.no_proxy_variable.has_value());
  }
  SUBCASE("HTTP_PROXY alone is never read (httpoxy), and is reported as ignored") {
    const auto d = decide_proxy("http", "www.example.com", env({{"HTTP_PROXY", "http://proxy:3128"}}));
    CHECK_FALSE(d.uses_proxy());
    CHECK(d.variable.empty());
    CHECK(d.ignored_variables == std::vector<std::string>{"HTTP_PROXY"});
  }
  SUBCASE("HTTP_PROXY with ALL_PROXY: ALL_PROXY") {
    const auto d = decide_proxy("http", "h", env({{"HTTP_PROXY", "a:1"}, {"ALL_PROXY", "b:2"}}));
    CHECK(d.variable == "ALL_PROXY");
    CHECK(d.proxy->host == "b");
    CHECK(d.ignored_variables == std::vector<std::string>{"HTTP_PROXY"});
  }
  SUBCASE("http_proxy wins over HTTP_PROXY") {
    const auto d = decide_proxy("http", "h", env({{"HTTP_PROXY", "a:1"}, {"http_proxy", "b:2"}}));
    CHECK(d.variable == "http_proxy");
    CHECK(d.ignored_variables == std::vector<std::string>{"HTTP_PROXY"});
  }
  SUBCASE("HTTPS_PROXY in upper case is honoured for https://, through a CONNECT tunnel") {
    const auto d = decide_proxy("https", "www.example.com", env({{"HTTPS_PROXY", "proxy:8080"}}));
    CHECK(d.variable == "HTTPS_PROXY");
    CHECK(d.tunnel);  // create_conn(): PROTOPT_SSL with an HTTP proxy
    CHECK(d.ignored_variables.empty());
  }
  SUBCASE("https_proxy before HTTPS_PROXY") {
    const auto d = decide_proxy("https", "h", env({{"HTTPS_PROXY", "a:1"}, {"https_proxy", "b:2"}}));
    CHECK(d.variable == "https_proxy");
    CHECK(d.ignored_variables == std::vector<std::string>{"HTTPS_PROXY"});
  }
  SUBCASE("each scheme has its own variable: http_proxy is not for https://, nor https_proxy for http://") {
    CHECK_FALSE(decide_proxy("https", "h", env({{"http_proxy", "a:1"}})).uses_proxy());
    CHECK_FALSE(decide_proxy("http", "h", env({{"https_proxy", "a:1"}})).uses_proxy());
  }
  SUBCASE("all_proxy, then ALL_PROXY, after the scheme's own") {
    CHECK(decide_proxy("https", "h", env({{"ALL_PROXY", "a:1"}})).variable == "ALL_PROXY");
    CHECK(decide_proxy("https", "h", env({{"ALL_PROXY", "a:1"}, {"all_proxy", "b:1"}})).variable == "all_proxy");
    CHECK(decide_proxy("https", "h", env({{"ALL_PROXY", "a:1"}, {"HTTPS_PROXY", "b:1"}})).variable ==
          "HTTPS_PROXY");
    CHECK(decide_proxy("gopher", "h", env({{"all_proxy", "a:1"}})).variable == "all_proxy");
  }
  SUBCASE("curl_getenv(): an empty value is unset") {
    CHECK(decide_proxy("http", "h", env({{"http_proxy", ""}, {"all_proxy", "a:1"}})).variable == "all_proxy");
    CHECK(decide_proxy("https", "h", env({{"https_proxy", ""}, {"HTTPS_PROXY", "a:1"}})).variable ==
          "HTTPS_PROXY");
    CHECK_FALSE(decide_proxy("http", "h", env({{"http_proxy", ""}})).uses_proxy());
    CHECK_FALSE(decide_proxy("http", "h", env({{"http_proxy", std::string("\0x", 2)}})).uses_proxy());
  }
  SUBCASE("the scheme in any case") {
    CHECK(decide_proxy("HTTPS", "h", env({{"https_proxy", "a:1"}})).variable == "https_proxy");
  }
  SUBCASE("ftp: ftp_proxy, FTP_PROXY; sent as HTTP, not tunnelled (PROTOPT_PROXY_AS_HTTP)") {
    auto d = decide_proxy("ftp", "h", env({{"FTP_PROXY", "a:1"}}));
    CHECK(d.variable == "FTP_PROXY");
    CHECK_FALSE(d.tunnel);
    d = decide_proxy("ftps", "h", env({{"all_proxy", "a:1"}}));
    CHECK(d.tunnel);
  }
  SUBCASE("file:// never goes to a proxy (PROTOPT_NONETWORK)") {
    const auto d = decide_proxy("file", "", env({{"file_proxy", "a:1"}}));
    CHECK_FALSE(d.uses_proxy());
    CHECK(d.ignored_variables == std::vector<std::string>{"file_proxy"});
  }
  SUBCASE("SOCKS: who resolves the host") {
    auto d = decide_proxy("https", "h", env({{"all_proxy", "socks5://127.0.0.1:1080"}}));
    CHECK_FALSE(d.proxy_resolves_host);
    CHECK_FALSE(d.tunnel);
    d = decide_proxy("https", "h", env({{"all_proxy", "socks5h://127.0.0.1:1080"}}));
    CHECK(d.proxy_resolves_host);
    d = decide_proxy("https", "h", env({{"all_proxy", "socks4://127.0.0.1"}}));
    CHECK_FALSE(d.proxy_resolves_host);
  }
  SUBCASE("a proxy URL curl refuses: the transfer fails") {
    auto d = decide_proxy("http", "h", env({{"http_proxy", "ftp.corp:3128"}}));
    CHECK(d.uses_proxy());
    CHECK_FALSE(d.proxy.has_value());
    REQUIRE(d.proxy_error.has_value());
    CHECK(d.proxy_error->curl_exit == 7);
    d = decide_proxy("http", "h", env({{"http_proxy", "http://pro xy:3128"}}));
    REQUIRE(d.proxy_error.has_value());
    CHECK(d.proxy_error->curl_exit == 5);
  }
}

TEST_CASE("no_proxy in decide_proxy: no_proxy before NO_PROXY, and a match reads no proxy variable") {
  SUBCASE("no_proxy=* sends everything direct") {
    const auto d = decide_proxy("http", "www.example.com", env({{"http_proxy", "a:1"}, {"no_proxy", "*"}}));
    CHECK_FALSE(d.uses_proxy());
    CHECK(d.no_proxy_variable == "no_proxy");
    CHECK(d.no_proxy_match == "*");
    CHECK(d.bypassed_variable == "http_proxy");
  }
  SUBCASE("NO_PROXY when no_proxy is unset or empty") {
    auto d = decide_proxy("http", "www.example.com", env({{"http_proxy", "a:1"}, {"NO_PROXY", "example.com"}}));
    CHECK(d.no_proxy_variable == "NO_PROXY");
    CHECK(d.no_proxy_match == "example.com");
    CHECK_FALSE(d.uses_proxy());
    d = decide_proxy("http", "www.example.com",
                     env({{"http_proxy", "a:1"}, {"no_proxy", ""}, {"NO_PROXY", "example.com"}}));
    CHECK(d.no_proxy_variable == "NO_PROXY");
    CHECK_FALSE(d.uses_proxy());
  }
  SUBCASE("no_proxy shadows NO_PROXY even when it does not match") {
    const auto d = decide_proxy("http", "www.example.com",
                                env({{"http_proxy", "a:1"}, {"no_proxy", "other.org"}, {"NO_PROXY", "example.com"}}));
    CHECK(d.no_proxy_variable == "no_proxy");
    CHECK_FALSE(d.no_proxy_match.has_value());
    CHECK(d.uses_proxy());
    CHECK(d.ignored_variables == std::vector<std::string>{"NO_PROXY"});
  }
  SUBCASE("a match with no proxy variable set") {
    const auto d = decide_proxy("http", "localhost", env({{"no_proxy", "localhost"}}));
    CHECK(d.no_proxy_match == "localhost");
    CHECK(d.bypassed_variable.empty());
  }
  SUBCASE("IPv6 literal: ::1 in no_proxy, not [::1]") {
    CHECK_FALSE(decide_proxy("http", "[::1]", env({{"http_proxy", "a:1"}, {"no_proxy", "::1"}})).uses_proxy());
    CHECK(decide_proxy("http", "[::1]", env({{"http_proxy", "a:1"}, {"no_proxy", "[::1]"}})).uses_proxy());
  }
  SUBCASE("space-separated lists still work, with curl's warning") {
    const auto d = decide_proxy("http", "b.org", env({{"http_proxy", "a:1"}, {"no_proxy", "a.org b.org"}}));
    CHECK_FALSE(d.uses_proxy());
    CHECK(d.no_proxy_space_separated);  // noticed on the way from a.org to b.org
    const auto f = decide_proxy("http", "a.org", env({{"http_proxy", "a:1"}, {"no_proxy", "a.org b.org"}}));
    CHECK_FALSE(f.no_proxy_space_separated);  // matched before the warning was due
    const auto e = decide_proxy("http", "c.org", env({{"http_proxy", "a:1"}, {"no_proxy", "a.org b.org"}}));
    CHECK(e.uses_proxy());
    CHECK(e.no_proxy_space_separated);
  }
  SUBCASE("the port of the URL does not matter (the host is all that is passed)") {
    CHECK_FALSE(decide_proxy("http", "example.com", env({{"http_proxy", "a:1"}, {"no_proxy", "example.com"}}))
                    .uses_proxy());
  }
}

TEST_CASE("local hosts, for the advice that no_proxy should list them") {
  for (const char* h : {"localhost", "LOCALHOST", "app.localhost", "127.0.0.1", "127.8.9.10", "[::1]", "::1",
                        "10.0.0.5", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.1.1", "[fd00::1]",
                        "[fe80::1]", "[::ffff:10.0.0.1]", "localhost."}) {
    CAPTURE(std::string(h));
    CHECK(netwhy::host_is_local(h));
  }
  for (const char* h : {"example.com", "8.8.8.8", "172.32.0.1", "172.15.0.1", "[2001:db8::1]", "localhost.example.com",
                        "notlocalhost", "", "[]"}) {
    CAPTURE(std::string(h));
    CHECK_FALSE(netwhy::host_is_local(h));
  }
  CHECK(decide_proxy("http", "127.0.0.1", env({{"http_proxy", "a:1"}})).host_is_local);
}

TEST_CASE("suggested no_proxy values, each one checked to send curl direct") {
  for (const auto& c : suggestions) {
    CAPTURE(std::string(c.current));
    CAPTURE(std::string(c.host));
    const auto s = suggest_no_proxy(c.current, c.host);
    if (c.expected == nullptr) {
      CHECK_FALSE(s.has_value());
      continue;
    }
    REQUIRE(s.has_value());
    CHECK(*s == c.expected);
    CHECK(no_proxy_matches(*s, c.host));
    // and decide_proxy agrees: with the suggestion, no proxy
    CHECK_FALSE(decide_proxy("https", c.host, env({{"https_proxy", "proxy:3128"}, {"no_proxy", *s}})).uses_proxy());
  }
  CHECK(netwhy::no_proxy_entry_for("[::1]") == "::1");
  CHECK(netwhy::no_proxy_entry_for("example.com.") == "example.com");
}

TEST_CASE("untrusted bytes: long values, garbage, NULs never crash, and answers stay consistent") {
  // a megabyte of entries before the one that matches
  std::string big;
  for (int i = 0; i < 100000; ++i) big += "host" + std::to_string(i) + ".example.org,";
  CHECK(no_proxy_matches(big + "example.com", "www.example.com"));
  CHECK_FALSE(no_proxy_matches(big, "www.example.com"));
  CHECK_FALSE(no_proxy_matches(std::string(1000000, ','), "a"));
  CHECK_FALSE(no_proxy_matches(std::string(1000000, ' '), "a"));
  CHECK_FALSE(no_proxy_matches(std::string(1000000, '.'), "a"));
  CHECK_FALSE(no_proxy_matches(std::string(1000000, '.'), "a.."));  // one long entry
  CHECK_FALSE(no_proxy_matches(std::string(300, '1') + "/8", "10.0.0.1"));
  CHECK_FALSE(no_proxy_matches("10.0.0.0/8", "[" + std::string(300, ':') + "]"));
  CHECK_FALSE(netwhy::detail::curl_check_noproxy("[" + std::string(200, '1') + "]", "::1").entry.has_value());
  CHECK_FALSE(netwhy::detail::curl_check_noproxy("[::1", "::1").entry.has_value());
  CHECK(std::holds_alternative<ProxyUrlError>(parse_proxy_url(std::string(8000001, 'a'))));
  CHECK(std::holds_alternative<ProxyEndpoint>(parse_proxy_url(std::string(100000, 'a'))));
  CHECK(std::holds_alternative<ProxyUrlError>(parse_proxy_url("http://[" + std::string(100000, ':') + "]")));
  CHECK(std::holds_alternative<ProxyUrlError>(parse_proxy_url("http://[::1%25" + std::string(100, 'z') + "]")));
  CHECK(std::holds_alternative<ProxyUrlError>(parse_proxy_url("http://[::1%]")));
  CHECK(std::holds_alternative<ProxyUrlError>(parse_proxy_url("http://proxy:" + std::string(100, '9'))));
  // too big for ipv4_normalize(), so a name made of digits
  CHECK(std::holds_alternative<ProxyEndpoint>(parse_proxy_url("http://" + std::string(50, '9'))));
  // Curl_is_absolute_url(): a scheme has at most 40 characters; a 41st
  // makes "hhh...h:" a host with an empty port, an error without a scheme
  const auto long_scheme = parse_proxy_url(std::string(40, 'h') + "://proxy");
  REQUIRE(std::holds_alternative<ProxyUrlError>(long_scheme));
  CHECK(std::get<ProxyUrlError>(long_scheme).curl_exit == 7);
  const auto too_long = parse_proxy_url(std::string(41, 'h') + "://proxy");
  REQUIRE(std::holds_alternative<ProxyUrlError>(too_long));
  CHECK(std::get<ProxyUrlError>(too_long).curl_exit == 5);
}

TEST_CASE("random bytes through every entry point") {
  std::mt19937 rng(20261207);
  const std::string alphabet = std::string("abcxyz019.,:/[]%@*- \t\n\x01\x7f\xff", 25) + std::string(1, '\0');
  for (int round = 0; round < 20000; ++round) {
    std::string a;
    std::string b;
    const auto la = rng() % 40;
    const auto lb = rng() % 40;
    for (unsigned i = 0; i < la; ++i) a += alphabet[rng() % alphabet.size()];
    for (unsigned i = 0; i < lb; ++i) b += alphabet[rng() % alphabet.size()];
    const auto r = check_no_proxy(a, b);
    if (r.entry && *r.entry != "*") CHECK(a.find(*r.entry) != std::string::npos);
    (void)netwhy::detail::curl_check_noproxy(b, a);
    (void)parse_proxy_url(a);
    (void)parse_proxy_url("http://" + a);
    (void)netwhy::host_is_local(b);
    const auto d = decide_proxy(b, a, env({{"http_proxy", a}, {"no_proxy", b}, {"all_proxy", b}}));
    CHECK((d.proxy.has_value() + d.proxy_error.has_value()) == static_cast<int>(d.uses_proxy()));
    if (const auto s = suggest_no_proxy(b, a)) CHECK(no_proxy_matches(*s, a));
  }
}
