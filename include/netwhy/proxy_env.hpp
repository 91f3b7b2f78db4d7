// The proxy curl would use for a URL, from the environment, read exactly as
// curl 7.88.1 (Debian 12's curl) reads it. Pure: the environment is passed
// in, nothing here calls getenv, opens a file or resolves a name.
//
// What curl 7.88.1 does, and where (curl-7_88_1 tag of github.com/curl/curl):
//
//  * lib/getenv.c, curl_getenv(): a variable set to "" counts as unset.
//  * lib/url.c, create_conn_helper_init_proxy(): no_proxy is read first,
//    "no_proxy" and, only when that is unset, "NO_PROXY". If it matches the
//    URL's host (Curl_check_noproxy), no proxy is used and no *_proxy
//    variable is read at all. Otherwise detect_proxy() runs.
//  * lib/url.c, detect_proxy(): "<scheme>_proxy" in lower case ("http_proxy",
//    "https_proxy", "ftp_proxy"...), then the same in upper case, EXCEPT
//    "HTTP_PROXY", which is never read (a CGI program gets the request's
//    "Proxy:" header as HTTP_PROXY: "httpoxy"); then "all_proxy", then
//    "ALL_PROXY". HTTPS_PROXY, FTP_PROXY and ALL_PROXY in upper case count.
//  * lib/url.c, create_conn_helper_init_proxy(): a file:// URL never uses a
//    proxy (PROTOPT_NONETWORK).
//  * lib/url.c, parseurlandfillconn(): an IPv6 literal's brackets are cut
//    off before the host reaches Curl_check_noproxy.
//  * lib/noproxy.c, Curl_check_noproxy(): see no_proxy_match() below.
//  * lib/url.c, parse_proxy() with lib/urlapi.c (CURLU_GUESS_SCHEME |
//    CURLU_NON_SUPPORT_SCHEME): see parse_proxy_url() below.
//
// Not modelled (the caller must know): curl's own options (-x/--proxy,
// --noproxy, --proxy1.0, --socks5...), a ~/.curlrc that sets them, HSTS
// turning http:// into https:// (only with --hsts), and libcurl built
// without HTTPS-proxy support (Debian's has it).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace netwhy {

// How curl talks to the proxy (lib/url.c, parse_proxy()).
enum class ProxyType {
  http,     // http:// or no scheme: the default
  https,    // https://: TLS to the proxy itself
  socks4,   // socks4:// or socks://: curl resolves the host itself
  socks4a,  // socks4a://: the proxy resolves the host
  socks5,   // socks5://: curl resolves the host itself
  socks5h,  // socks5h://: the proxy resolves the host
};

[[nodiscard]] std::string_view proxy_type_name(ProxyType type);

// A proxy URL as curl 7.88.1 understands it.
struct ProxyEndpoint {
  ProxyType type = ProxyType::http;
  std::string host;       // IPv6 without brackets; IPv4 as curl normalises it ("127.1" -> "127.0.0.1")
  std::uint16_t port = 0;  // as given, else 1080 (443 for https://): lib/url.h CURL_DEFAULT_PROXY_PORT
  bool port_given = false;
  bool credentials = false;  // "user:password@" in the URL (neither is kept here)
  std::optional<std::string> zone;         // "[fe80::1%25eth0]" -> "eth0"
  std::optional<std::string> unix_socket;  // socks*://localhost/PATH: a Unix socket at PATH

  // "http://10.0.0.3:8888", "socks5h://[::1]:1080": what to show of the proxy,
  // never the credentials of the URL it came from.
  [[nodiscard]] std::string shown() const;
};

// curl refuses the proxy URL: the transfer fails with this exit status and
// message ("curl: (5) Unsupported proxy syntax in 'x y'"). The message
// quotes the URL as curl does, password included, and any bytes: escape it
// (escape_text) and think twice before printing it whole.
struct ProxyUrlError {
  int curl_exit = 5;  // 5 CURLE_COULDNT_RESOLVE_PROXY (syntax), 7 CURLE_COULDNT_CONNECT (scheme)
  std::string message;
};

// lib/url.c parse_proxy(): the URL is parsed with curl's URL parser, a
// scheme guessed when there is none ("proxy:3128" is http://proxy:3128, but
// "ftp.corp:21" guesses ftp:// and is refused), and only http, https,
// socks, socks4, socks4a, socks5 and socks5h are accepted, in any case.
[[nodiscard]] std::variant<ProxyEndpoint, ProxyUrlError> parse_proxy_url(std::string_view url);

// Curl_check_noproxy's answer for one host.
struct NoProxyCheck {
  std::optional<std::string> entry;  // the entry that matched, as written in the list ("*" for the wildcard)
  bool space_separated = false;      // curl 7.88 says "space-separated NOPROXY patterns are deprecated"
};

// lib/noproxy.c Curl_check_noproxy() of curl 7.88.1, for url_host as it
// appears in the URL (brackets around an IPv6 literal optional: curl cuts
// them off first). url_host must be what curl's URL parser makes of the
// URL: IPv4 in dotted quad ("http://127.1/" is 127.0.0.1), an IPv6 literal
// shortened ("[0:0::1]" is ::1), a non-ASCII name in punycode.
//  * A list that is "*" and nothing else matches every host. A "*" among
//    other entries, or with blanks around it, is just a name that matches
//    nothing.
//  * Entries are separated by commas and/or blanks (space, tab); any number
//    of either; empty entries are skipped.
//  * A host name matches an entry equal to it, or ending in "." + entry
//    (www.example.com matches example.com; badexample.com does not). A
//    leading dot on the entry and a trailing dot on either side are
//    ignored: .example.com also matches example.com itself. Case does not
//    matter (ASCII only).
//  * An IPv4 host matches only IPv4 entries: equal, or in a CIDR network
//    (10.0.0.0/8, since curl 7.86). /0, or a prefix that is not a number,
//    means "equal"; a prefix over 32 matches nothing. Names never match an
//    IPv4 host, nor domain suffixes.
//  * An IPv6 host is compared as a string, like a host name: "::1" matches
//    the entry ::1 but not [::1], ::1/128 or 0:0::1. (7.88.1's IPv6 CIDR
//    code only runs for a host still in brackets, which url.c never
//    passes; curl 8.18 fixed this, commit ff2aaed9ba.)
//  * The port is not part of any of this.
[[nodiscard]] NoProxyCheck check_no_proxy(std::string_view no_proxy, std::string_view url_host);
[[nodiscard]] bool no_proxy_matches(std::string_view no_proxy, std::string_view url_host);

// Where curl would send a request for a URL with this scheme and host.
struct ProxyDecision {
  // The proxy URL curl would use, verbatim from the variable (it may hold a
  // password: show `proxy`, not this); nullopt when curl goes direct.
  std::optional<std::string> proxy_url;
  std::string variable;  // which variable gave proxy_url ("https_proxy", "ALL_PROXY"); "" if none
  std::optional<ProxyEndpoint> proxy;  // proxy_url parsed, when curl accepts it
  std::optional<ProxyUrlError> proxy_error;  // when curl refuses it: the transfer fails

  std::optional<std::string> no_proxy_variable;  // "no_proxy" or "NO_PROXY", when one is set
  std::optional<std::string> no_proxy_value;
  std::optional<std::string> no_proxy_match;  // the entry that sent curl direct, if any
  bool no_proxy_space_separated = false;
  // When no_proxy matched: the variable that would have given a proxy
  // otherwise (curl does not read it then), "" if none would have.
  std::string bypassed_variable;

  // Set but never read for this URL: "HTTP_PROXY" for an http:// URL (no
  // http_proxy): curl ignores it, other programs may not; the upper-case
  // twin of the variable used; "NO_PROXY" when no_proxy is set too.
  std::vector<std::string> ignored_variables;

  // The request goes to an HTTP(S) proxy as a CONNECT tunnel: every scheme
  // but http:// and ftp:// (lib/url.c: PROTOPT_SSL and PROTOPT_PROXY_AS_HTTP).
  bool tunnel = false;
  // The proxy, not this machine, resolves the URL's host name: HTTP(S)
  // proxies, socks4a, socks5h.
  bool proxy_resolves_host = false;
  // The host is loopback, private or link-local (localhost, 127.0.0.0/8,
  // ::1, 10/8, 172.16/12, 192.168/16, 169.254/16, fc00::/7, fe80::/10): a
  // proxy elsewhere cannot usually reach it, so no_proxy should list it.
  bool host_is_local = false;

  [[nodiscard]] bool uses_proxy() const { return proxy_url.has_value(); }
};

using Environment = std::map<std::string, std::string>;

// url_scheme as in the URL (any case), url_host as for check_no_proxy().
// Values are read as C strings: bytes after a NUL are not seen, and a
// value that is empty (or starts with NUL) is unset.
[[nodiscard]] ProxyDecision decide_proxy(std::string_view url_scheme, std::string_view url_host,
                                         const Environment& env);

// The host as curl's no_proxy compares it, for the advice "add it to
// no_proxy": brackets cut off, a trailing dot dropped.
[[nodiscard]] std::string no_proxy_entry_for(std::string_view url_host);

// A no_proxy value that keeps `current` and makes curl go direct to
// url_host: current + "," + the host as no_proxy_entry_for() writes it; for
// a loopback host "localhost", "127.0.0.1" and "::1" first, those not yet
// listed (and the host only if they do not cover it). `current` itself
// when it already matches; nullopt when no entry can match the host (an
// empty host, or one with a blank or a comma, which no URL has). Every
// value returned is checked with no_proxy_matches() before it is returned.
[[nodiscard]] std::optional<std::string> suggest_no_proxy(std::string_view current, std::string_view url_host);

// Loopback, private or link-local, by name (localhost, *.localhost) or
// literal; see ProxyDecision::host_is_local.
[[nodiscard]] bool host_is_local(std::string_view url_host);

namespace detail {
// lib/noproxy.c Curl_check_noproxy() itself, for `name` as it is passed to
// it (an IPv6 literal in brackets takes the IPv6 CIDR path that lib/url.c
// never reaches). For the tests, which run curl's own table through it.
[[nodiscard]] NoProxyCheck curl_check_noproxy(std::string_view name, std::string_view no_proxy);
}  // namespace detail

}  // namespace netwhy
