// The URL `netwhy url` is asked about, read the way curl 7.88 reads it from
// its command line: http and https only, a missing scheme is http, an IPv6
// literal in brackets, an IPv4 address in any form inet_aton takes (curl
// normalises "127.1" to 127.0.0.1 before it resolves or checks no_proxy),
// the port defaulting to 80 or 443, the fragment never sent. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "netwhy/error.hpp"

namespace netwhy {

struct Url {
  std::string scheme = "http";  // "http" or "https", lower case
  std::string host;             // as curl uses it: an IPv6 literal without brackets, IPv4 dotted
  std::uint16_t port = 80;
  bool port_given = false;
  std::string target = "/";     // path and query, as sent in the request line

  [[nodiscard]] bool tls() const { return scheme == "https"; }
  [[nodiscard]] std::uint16_t default_port() const { return tls() ? 443 : 80; }
  // The host as a URL writes it: "[::1]" for an IPv6 literal.
  [[nodiscard]] std::string url_host() const;
  // The Host header curl sends: url_host(), then ":PORT" unless it is the default.
  [[nodiscard]] std::string host_header() const;
  // "host:port" always (a CONNECT request's authority).
  [[nodiscard]] std::string authority() const;
  // The URL again, normalised: scheme://host[:port]target.
  [[nodiscard]] std::string to_string() const;
  // The same URL with another scheme: its default port when the port was the
  // old scheme's default, else the same port ("http://h:8443/x" -> "https://h:8443/x").
  [[nodiscard]] Url with_scheme(std::string_view scheme) const;
};

// Errors name the problem: "unsupported scheme \"ftp\" (netwhy url takes http and https)",
// "bad port ...", "user:password@ in the URL: netwhy does not send credentials". The URL is
// quoted escaped and cut (escape_arg).
[[nodiscard]] Expected<Url> parse_url(std::string_view text);

}  // namespace netwhy
