// The one HTTP exchange of `netwhy url URL`: the request netwhy sends, and
// what it makes of the bytes that come back. Pure: no sockets, no TLS. The
// answer is anyone's bytes, so every parser here is bounded in time and
// memory whatever it is fed, and every string it returns is either raw (named
// so: escape_text() before a terminal, to_valid_utf8() before JSON) or
// already escaped (the recognisers' evidence and fix texts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netwhy/error.hpp"

namespace netwhy {

// Bounds on what parse_http_answer() looks at and keeps. The caller reads
// at most http_max_head + http_max_body bytes; more are not needed.
inline constexpr std::size_t http_max_head = 64 * 1024;         // status line and header fields
inline constexpr std::size_t http_max_body = 16 * 1024;         // body prefix kept (after de-chunking)
inline constexpr std::size_t http_max_headers = 100;            // header fields kept, in order
inline constexpr std::size_t http_max_header_name = 256;        // longer names: the field is dropped
inline constexpr std::size_t http_max_header_value = 4 * 1024;  // longer values are cut
inline constexpr std::size_t http_max_interim = 8;              // 1xx answers skipped before the final one

// The bytes of one request: "GET TARGET HTTP/1.1" with Host, a User-Agent
// naming netwhy VERSION, Accept: */* and Connection: close, nothing else
// (no body, no Expect). host_header is the Host value as the caller built it
// (an IPv6 literal in brackets, ":PORT" only when not the scheme's default);
// target is the origin-form path and query ("/", "/app?x=1"), "*", or the
// absolute form a request through an HTTP proxy takes ("http://host:8000/").
// A CR, LF, NUL, space, tab or other control byte in either (header
// injection), an empty one, or a target not starting with '/' or http:// is an input
// error; nothing is escaped for the caller.
[[nodiscard]] Expected<std::string> build_request(std::string_view host_header, std::string_view target,
                                                  std::string_view version);

// What a port answered in, from the first bytes it sent back to a plain
// HTTP request.
enum class Speaks {
  none,               // nothing came back (closed, reset, or silent)
  http,               // an HTTP/1.x status line
  tls,                // a TLS record: a handshake (16 03 0x) or an alert (15 03 0x)
  http_from_tls_port, // an HTTP answer that says the port expects TLS (nginx's
                      // "plain HTTP request was sent to HTTPS port", Go's
                      // "Client sent an HTTP request to an HTTPS server")
  other,              // something else (SSH banner, a database, garbage)
};

[[nodiscard]] std::string_view to_string(Speaks s);

// The JSON `speaks` value (docs/json-contract.md, "url URL"): "http", "tls",
// or nullopt (JSON null) for none and other. http_from_tls_port is "tls": the
// port speaks TLS, and its HTTP bytes were its complaint about ours.
[[nodiscard]] std::optional<std::string_view> speaks_json(Speaks s);

[[nodiscard]] Speaks speaks(std::string_view first_bytes);

struct HttpHeader {
  std::string name;   // lowercased, ASCII token characters only
  std::string value;  // raw bytes, outer whitespace trimmed, obs-fold joined by one space
  bool operator==(const HttpHeader&) const = default;
};

struct HttpAnswer {
  int version_minor = 1;               // HTTP/1.x
  int status = 0;                      // 100..599
  std::string reason;                  // raw; may be empty
  std::vector<HttpHeader> headers;     // in order received, at most http_max_headers
  std::size_t headers_dropped = 0;     // fields past the cap, too long a name, or no colon
  bool header_value_cut = false;       // some value was longer than http_max_header_value
  bool head_complete = false;          // the empty line ending the header section was seen
  std::string body;                    // raw prefix of the body (de-chunked), at most http_max_body
  bool body_complete = false;          // body holds the whole body
  // The peer closed before the body its framing announced: fewer bytes than
  // Content-Length, or a chunked body without its last chunk (curl: "transfer
  // closed with N bytes remaining", exit 18).
  bool body_short = false;
  std::size_t interim_skipped = 0;     // 1xx answers before this one

  // The first field named name (lowercase), raw.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
  // The first Server / Location / Content-Type, raw: the ones the JSON shows
  // (to_valid_utf8 them) and the recognisers read.
  [[nodiscard]] std::optional<std::string_view> server() const { return header("server"); }
  [[nodiscard]] std::optional<std::string_view> location() const { return header("location"); }
  [[nodiscard]] std::optional<std::string_view> content_type() const { return header("content-type"); }
};

// The answer in bytes (what was read: at most about http_max_head +
// http_max_body is needed). complete: the peer closed the connection after
// these bytes (so a body without Content-Length ends here); false when the
// read stopped early (cap or timeout). LF-only line ends, obs-fold, a missing
// reason phrase, 1xx interim answers and chunked bodies are understood.
// A parse error when the bytes don't start with an HTTP/1.x status line
// ("not HTTP"), or its status isn't three digits within 100..599. The error
// quotes the bytes escaped and cut.
[[nodiscard]] Expected<HttpAnswer> parse_http_answer(std::string_view bytes, bool complete);

// The URL netwhy was asked about, as far as the recognisers need it.
struct AskedUrl {
  std::string scheme = "http";  // "http" or "https"
  std::string host;             // as typed, an IPv6 literal without brackets
  std::uint16_t port = 80;
};

enum class AnswerKind {
  django_disallowed_host,  // Django's DEBUG page for DisallowedHost
  django_bad_request,      // Django's bare 400 page (DEBUG off): what a DisallowedHost looks like then
  vite_blocked_host,       // Vite's server.allowedHosts check
  webpack_invalid_host,    // webpack-dev-server's allowedHosts check
  rails_blocked_host,      // Rails' ActionDispatch::HostAuthorization
  plain_http_to_tls_port,  // the port wants TLS: use https://
  proxy_upstream_error,    // a reverse proxy's own 502/503/504: its upstream failed
  redirect_to_loopback,    // Location points at localhost / 127.x / ::1 / 0.0.0.0
  redirect_elsewhere,      // Location points at another host or port than asked
};

[[nodiscard]] std::string_view to_string(AnswerKind k);

struct Recognition {
  AnswerKind kind = AnswerKind::proxy_upstream_error;
  std::string evidence;  // escaped and cut: safe on a terminal
  std::string fix;       // escaped where it quotes the answer
  std::string proxy;     // proxy_upstream_error: "nginx", "Apache", "Caddy", "Traefik", "Envoy", "HAProxy"
  bool operator==(const Recognition&) const = default;
};

// What the answer is, when it is one of the known failure pages, from its
// status, headers and body prefix alone. At most one: the most specific.
[[nodiscard]] std::optional<Recognition> recognise_answer(const HttpAnswer& answer, const AskedUrl& asked);

}  // namespace netwhy
