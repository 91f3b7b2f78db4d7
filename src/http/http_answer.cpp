#include "netwhy/http_answer.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "netwhy/inet.hpp"
#include "netwhy/text.hpp"

namespace netwhy {

namespace {

// How much of an answer's bytes an evidence string quotes.
constexpr std::size_t evidence_max = 160;


bool contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 9110 tchar.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view trim_space(std::string_view s) {
  while (!s.empty() && (is_ows(s.front()) || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (is_ows(s.back()) || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// The bytes quoted in an error message or evidence: escaped, cut.
std::string quote(std::string_view raw, std::size_t max = evidence_max) { return escape_arg(raw, max); }

// The next line of text[pos, limit): without its LF (and a CR before it).
// nullopt when no LF comes before limit.
std::optional<std::string_view> next_line(std::string_view text, std::size_t& pos, std::size_t limit) {
  const void* lf = std::memchr(text.data() + pos, '\n', limit - pos);
  if (lf == nullptr) return std::nullopt;
  auto end = static_cast<std::size_t>(static_cast<const char*>(lf) - text.data());
  std::string_view line = text.substr(pos, end - pos);
  pos = end + 1;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

Error parse_error(std::string what) { return Error{ErrorKind::parse, 0, std::move(what)}; }

// "HTTP/1.x SP 3DIGIT [SP reason]". Extra spaces between the parts and a
// missing reason are tolerated (servers send both).
Expected<HttpAnswer> parse_status_line(std::string_view line) {
  constexpr std::string_view prefix = "HTTP/1.";
  if (line.size() < prefix.size() + 1 || line.substr(0, prefix.size()) != prefix || !is_digit(line[prefix.size()])) {
    return parse_error("not HTTP/1.x: the answer begins \"" + quote(line.substr(0, 40), 40) + "\"");
  }
  HttpAnswer a;
  a.version_minor = line[prefix.size()] - '0';
  std::string_view rest = line.substr(prefix.size() + 1);
  if (rest.empty() || !is_ows(rest.front())) {
    return parse_error("not HTTP/1.x: the status line \"" + quote(line, 60) + "\" has no status");
  }
  rest = trim_ows(rest);
  std::size_t digits = 0;
  while (digits < rest.size() && is_digit(rest[digits])) ++digits;
  if (digits == 0 || (digits < rest.size() && !is_ows(rest[digits]))) {
    return parse_error("HTTP status line \"" + quote(line, 60) + "\" has no numeric status");
  }
  int status = 0;
  for (std::size_t i = 0; i < digits && i < 4; ++i) status = status * 10 + (rest[i] - '0');
  if (digits != 3 || status < 100 || status > 599) {
    return parse_error("HTTP status " + quote(rest.substr(0, digits), 12) + " is outside 100-599");
  }
  a.status = status;
  a.reason = std::string(trim_ows(rest.substr(digits)));
  return a;
}

// Head of one answer: status line and header fields. pos ends after the
// empty line when head_complete.
Expected<HttpAnswer> parse_head(std::string_view bytes, bool complete, std::size_t& pos) {
  const std::size_t limit = std::min(bytes.size(), pos + http_max_head);
  // The whole rest is the last line only when the peer closed and the head
  // cap wasn't what stopped us.
  const bool last_line_ok = complete && bytes.size() - pos <= http_max_head;
  auto take_line = [&]() -> std::optional<std::string_view> {
    if (pos >= limit) return std::nullopt;
    if (auto line = next_line(bytes, pos, limit)) return line;
    if (!last_line_ok) return std::nullopt;
    std::string_view line = bytes.substr(pos, limit - pos);
    pos = limit;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };

  std::optional<std::string_view> status_line = take_line();
  if (!status_line) status_line = bytes.substr(pos, std::min<std::size_t>(limit - pos, 80));  // cut: parse what came
  auto parsed = parse_status_line(*status_line);
  if (!parsed) return parsed;
  HttpAnswer a = std::move(*parsed);

  bool last_kept = false;
  while (auto line = take_line()) {
    if (line->empty()) {
      a.head_complete = true;
      break;
    }
    if (is_ows(line->front())) {  // obs-fold: continues the previous field
      if (!last_kept) continue;
      std::string& value = a.headers.back().value;
      std::string_view more = trim_ows(*line);
      if (more.empty()) continue;
      value.append(" ").append(more);
      if (value.size() > http_max_header_value) {
        value.resize(http_max_header_value);
        a.header_value_cut = true;
      }
      continue;
    }
    last_kept = false;
    std::size_t colon = line->find(':');
    std::string_view name = colon == std::string_view::npos ? std::string_view{} : line->substr(0, colon);
    while (!name.empty() && is_ows(name.back())) name.remove_suffix(1);
    if (name.empty() || name.size() > http_max_header_name || !std::all_of(name.begin(), name.end(), is_tchar) ||
        a.headers.size() >= http_max_headers) {
      ++a.headers_dropped;
      continue;
    }
    std::string_view value = trim_ows(line->substr(colon + 1));
    if (value.size() > http_max_header_value) {
      value = value.substr(0, http_max_header_value);
      a.header_value_cut = true;
    }
    a.headers.push_back(HttpHeader{ascii_lower(name), std::string(value)});
    last_kept = true;
  }
  return a;
}

// A chunked body (RFC 9112 7.1) into at most http_max_body bytes. Stops at
// the last chunk, at the cap, or at the first framing it can't read.
void dechunk(std::string_view raw, HttpAnswer& a) {
  std::size_t pos = 0;
  while (pos < raw.size()) {
    // A chunk-size line: hex digits, maybe ";ext". 1 KiB is plenty.
    std::size_t limit = std::min(raw.size(), pos + 1024);
    auto line = next_line(raw, pos, limit);
    if (!line) return;
    std::string_view size_text = trim_ows(line->substr(0, line->find(';')));
    if (size_text.empty() || size_text.size() > 15) return;
    std::size_t size = 0;
    for (char c : size_text) {
      int digit = is_digit(c) ? c - '0' : (ascii_lower(c) >= 'a' && ascii_lower(c) <= 'f') ? ascii_lower(c) - 'a' + 10 : -1;
      if (digit < 0) return;
      size = size * 16 + static_cast<std::size_t>(digit);
    }
    if (size == 0) {
      a.body_complete = true;  // trailers, if any, don't matter
      return;
    }
    std::size_t available = std::min(size, raw.size() - pos);
    std::size_t room = http_max_body - a.body.size();
    a.body.append(raw.substr(pos, std::min(available, room)));
    if (available > room || a.body.size() >= http_max_body || available < size) return;
    pos += size;
    if (pos < raw.size() && raw[pos] == '\r') ++pos;
    if (pos >= raw.size() || raw[pos] != '\n') return;
    ++pos;
  }
}

void read_body(std::string_view raw, bool complete, HttpAnswer& a) {
  if (a.status < 200 || a.status == 204 || a.status == 304) {
    a.body_complete = true;
    return;
  }
  if (auto te = a.header("transfer-encoding")) {
    std::string_view last = *te;
    if (auto comma = last.rfind(','); comma != std::string_view::npos) last = last.substr(comma + 1);
    if (ascii_lower(trim_ows(last)) == "chunked") {
      dechunk(raw, a);
      a.body_short = complete && !a.body_complete && a.body.size() < http_max_body;
      return;
    }
  }
  // Content-Length: only one value, all digits (else: read to close).
  std::optional<std::size_t> length;
  bool length_bad = false;
  for (const HttpHeader& h : a.headers) {
    if (h.name != "content-length") continue;
    std::string_view v = h.value;
    if (v.empty() || v.size() > 15 || !std::all_of(v.begin(), v.end(), is_digit)) {
      length_bad = true;
      break;
    }
    std::size_t n = 0;
    for (char c : v) n = n * 10 + static_cast<std::size_t>(c - '0');
    if (length && *length != n) length_bad = true;
    length = n;
  }
  if (length && !length_bad) {
    a.body = std::string(raw.substr(0, std::min({*length, raw.size(), http_max_body})));
    a.body_complete = a.body.size() == *length;
    a.body_short = complete && raw.size() < *length;
    return;
  }
  a.body = std::string(raw.substr(0, std::min(raw.size(), http_max_body)));
  a.body_complete = complete && raw.size() <= http_max_body;
}

// Minimal HTML entity decoding for text quoted from an error page (Django
// writes ' as &#x27; since 3.0, as &#39; before).
std::string html_text(std::string_view s) {
  static constexpr std::array<std::pair<std::string_view, char>, 7> entities{{
      {"&#x27;", '\''}, {"&#39;", '\''}, {"&quot;", '"'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&#x2F;", '/'}, {"&amp;", '&'},
  }};
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    bool done = false;
    if (s[i] == '&') {
      for (const auto& [entity, c] : entities) {
        if (s.substr(i, entity.size()) == entity) {
          out += c;
          i += entity.size();
          done = true;
          break;
        }
      }
    }
    if (!done) out += s[i++];
  }
  return out;
}

// The text between after `start` and the first of `ends`, from s (cut to max).
std::optional<std::string_view> between(std::string_view s, std::string_view start, std::string_view ends,
                                        std::size_t max = 512) {
  std::size_t at = s.find(start);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = s.substr(at + start.size());
  rest = rest.substr(0, std::min(rest.size(), max));
  return rest.substr(0, rest.find_first_of(ends));
}

// ---- recognisers -----------------------------------------------------------

// nginx (src/http/ngx_http_special_response.c, ngx_http_error_497_page; seen
// from nginx 1.22.1, Debian 12) and Go's net/http (server.go, (*conn).serve:
// "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS
// server.\n"; seen from Caddy 2.6.2, Debian 12); Apache's mod_ssl 400 page
// ("Reason: You're speaking plain HTTP to an SSL-enabled server port.";
// seen from Apache 2.4.71, Debian 12).
constexpr std::string_view nginx_497 = "The plain HTTP request was sent to HTTPS port";
constexpr std::string_view go_tls_400 = "Client sent an HTTP request to an HTTPS server";
constexpr std::string_view apache_ssl_400 = "speaking plain HTTP to an SSL-enabled server port";

std::optional<Recognition> plain_http_to_tls_port(const HttpAnswer& a, const AskedUrl& asked) {
  if (a.status != 400) return std::nullopt;
  std::string_view said;
  for (std::string_view s : {nginx_497, go_tls_400, apache_ssl_400}) {
    if (contains(a.body, s)) said = s;
  }
  if (said.empty()) return std::nullopt;
  std::string host = contains(asked.host, ":") ? "[" + asked.host + "]" : asked.host;
  return Recognition{AnswerKind::plain_http_to_tls_port, "400 \"" + std::string(said) + "\"",
                     "the port speaks TLS: use https://" + quote(host, 80) + ":" + std::to_string(asked.port) + "/",
                     {}};
}

// Django: django/http/request.py, HttpRequest.get_host() raises DisallowedHost
// ("Invalid HTTP_HOST header: %r. You may need to add %r to ALLOWED_HOSTS.");
// with DEBUG on, django/views/debug.py's technical 500 page shows it with
// status 400 (title "DisallowedHost at /"). Seen from Django 3.2.25 (Debian 12).
std::optional<Recognition> django_disallowed_host(const HttpAnswer& a) {
  if (a.status != 400) return std::nullopt;
  std::string_view body = a.body;
  const bool named = contains(body, "DisallowedHost");
  auto message = between(body, "Invalid HTTP_HOST header:", "<\n");
  if (!named && !message) return std::nullopt;
  std::string fix = "add the host to ALLOWED_HOSTS in settings.py";
  std::string evidence = "Django DisallowedHost (400)";
  if (message) {
    std::string text = html_text(*message);
    evidence = "Django DisallowedHost: Invalid HTTP_HOST header:" + quote(text, evidence_max);
    std::string decoded = html_text(body.substr(body.find("Invalid HTTP_HOST header:"), 600));
    if (auto domain = between(decoded, "You may need to add '", "'")) {
      fix = "add '" + quote(*domain, 80) + "' to ALLOWED_HOSTS in settings.py";
    }
  }
  return Recognition{AnswerKind::django_disallowed_host, std::move(evidence), std::move(fix), {}};
}

// Django with DEBUG off: django/views/defaults.py, bad_request() renders
// ERROR_PAGE_TEMPLATE with title "Bad Request (400)" (no 400.html template).
// Seen from Django 3.2.25 (Debian 12). A DisallowedHost is one cause of many.
std::optional<Recognition> django_bad_request(const HttpAnswer& a) {
  if (a.status != 400 || !contains(a.body, "<title>Bad Request (400)</title>") ||
      !contains(a.body, "<h1>Bad Request (400)</h1>")) {
    return std::nullopt;
  }
  return Recognition{AnswerKind::django_bad_request, "400 with Django's page \"Bad Request (400)\"",
                     "with DEBUG off Django answers a host missing from ALLOWED_HOSTS like this: add the host to "
                     "ALLOWED_HOSTS in settings.py (its log says \"Invalid HTTP_HOST header\")",
                     {}};
}

// Vite: packages/vite/src/node/server/middlewares/hostCheck.ts,
// hostValidationMiddleware's generateErrorMessage: 403, text/plain,
// "Blocked request. This host (\"H\") is not allowed.\nTo allow this host,
// add \"H\" to `server.allowedHosts` in vite.config.js." (preview:
// `preview.allowedHosts`). Seen from Vite 8.4.1.
std::optional<Recognition> vite_blocked_host(const HttpAnswer& a) {
  if (a.status != 403) return std::nullopt;
  auto host = between(a.body, "Blocked request. This host (", ")\n");
  if (!host || !contains(a.body, "is not allowed.")) return std::nullopt;
  std::string_view option = contains(a.body, "`preview.allowedHosts`") ? "preview.allowedHosts" : "server.allowedHosts";
  return Recognition{AnswerKind::vite_blocked_host,
                     "403 \"Blocked request. This host (" + quote(*host, 80) + ") is not allowed.\"",
                     "add " + quote(*host, 80) + " to " + std::string(option) +
                         " in vite.config.js (or true to allow any host), or start Vite with --host",
                     {}};
}

// webpack-dev-server, lib/Server.js, the host check: "Invalid Host header"
// sent with Express's res.send (status 200, text/html) up to v5.0.4
// (setupCheckHostRoute in v3.11, the "*" route in v4.15 and v5.0), with
// res.statusCode = 403 from v5.1.0 (the host-header-check middleware).
std::optional<Recognition> webpack_invalid_host(const HttpAnswer& a) {
  if ((a.status != 200 && a.status != 403) || trim_space(a.body) != "Invalid Host header") return std::nullopt;
  return Recognition{AnswerKind::webpack_invalid_host,
                     std::to_string(a.status) + " \"Invalid Host header\" (webpack-dev-server)",
                     "add the host to devServer.allowedHosts in webpack.config.js (\"all\" allows any; "
                     "webpack-dev-server 3: disableHostCheck: true; Create React App: "
                     "DANGEROUSLY_DISABLE_HOST_CHECK=true)",
                     {}};
}

// Rails: actionpack/lib/action_dispatch/middleware/host_authorization.rb,
// DefaultResponseApp: 403; with consider_all_requests_local the
// rescues/blocked_host template: "Blocked host: H" (Rails 6.0/6.1, Debian 12
// ships 6.1) or "Blocked hosts: H, ..." (7.0 on), and config.hosts << "H".
// Without it the body is empty: that 403 can't be told from others.
std::optional<Recognition> rails_blocked_host(const HttpAnswer& a) {
  if (a.status != 403) return std::nullopt;
  auto hosts = between(a.body, "Blocked hosts: ", "<\n");
  if (!hosts) hosts = between(a.body, "Blocked host: ", "<\n");
  if (!hosts) return std::nullopt;
  std::string first(trim_ows(hosts->substr(0, hosts->find(','))));
  return Recognition{AnswerKind::rails_blocked_host, "403 \"Blocked host: " + quote(*hosts, 100) + "\" (Rails)",
                     "add config.hosts << \"" + quote(first, 80) +
                         "\" to config/environments/development.rb (or the environment it runs in)",
                     {}};
}

struct ProxyName {
  std::string name;
  std::string where;  // where its upstream is configured
};

// The reverse proxy that wrote a 502/503/504 itself, from Server or its
// default error body:
// - nginx: Server "nginx[/V]"; body ends "<hr><center>nginx..." (ngx_http_special_response.c).
// - Apache: Server "Apache[/V]"; 502 "<title>502 Proxy Error</title>" (mod_proxy), 503 "The server is
//   temporarily unable to service your" (modules/http/http_protocol.c, canned 503, also what mod_proxy
//   answers when it can't connect). Seen from 2.4.71 (Debian 12).
// - Caddy: Server "Caddy", empty body (modules/caddyhttp/server.go; seen from 2.6.2).
// - Envoy: Server "envoy" / "istio-envoy"; text/plain "upstream connect error or disconnect/reset before
//   headers. ...", "no healthy upstream", "upstream request timeout" (source/common/router/router.cc).
// - HAProxy: no Server; include/haproxy/http.h's canned pages "The server returned an invalid or incomplete
//   response.", "No server is available to handle this request.", "The server didn't respond in time."
//   (seen from 2.6.12, Debian 12).
// - Traefik: no Server; pkg/proxy/httputil/proxy.go ErrorHandlerWithContext writes http.StatusText:
//   "Bad Gateway", "Gateway Timeout"; its load balancer "no available server" (503).
std::optional<ProxyName> proxy_name(const HttpAnswer& a) {
  const std::string server = ascii_lower(a.server().value_or(""));
  std::string_view body = a.body;
  const std::string_view text = trim_space(body);
  if (starts_with_ascii_ci(server, "nginx") || starts_with_ascii_ci(server, "openresty") || contains(body, "<hr><center>nginx")) {
    return ProxyName{"nginx", "its proxy_pass"};
  }
  if (starts_with_ascii_ci(server, "apache") || contains(body, "<title>502 Proxy Error</title>")) {
    return ProxyName{"Apache", "its ProxyPass"};
  }
  if (server == "caddy") return ProxyName{"Caddy", "its reverse_proxy"};
  if (server == "envoy" || server == "istio-envoy" ||
      starts_with_ascii_ci(text, "upstream connect error or disconnect/reset before headers") ||
      text == "no healthy upstream" || text == "upstream request timeout") {
    return ProxyName{"Envoy", "the cluster's endpoints"};
  }
  if (server.empty() && (contains(body, "The server returned an invalid or incomplete response.") ||
                         contains(body, "No server is available to handle this request.") ||
                         contains(body, "The server didn't respond in time."))) {
    return ProxyName{"HAProxy", "the backend's server lines"};
  }
  if (server.empty() && (text == "Bad Gateway" || text == "Gateway Timeout" || text == "no available server")) {
    return ProxyName{"Traefik", "the service's loadBalancer servers"};
  }
  return std::nullopt;
}

std::optional<Recognition> proxy_upstream_error(const HttpAnswer& a) {
  if (a.status != 502 && a.status != 503 && a.status != 504) return std::nullopt;
  auto proxy = proxy_name(a);
  // A 503 is also what applications say of themselves (maintenance): only a
  // named proxy's counts. 502 and 504 are gateways' words.
  if (!proxy && a.status == 503) return std::nullopt;
  ProxyName p = proxy.value_or(ProxyName{"", "its upstream configuration"});
  std::string who = p.name.empty() ? "a proxy" : p.name;
  std::string evidence = std::to_string(a.status) + " " + quote(a.reason, 60);
  if (auto server = a.server()) evidence += ", Server: " + quote(*server, 60);
  std::string fix;
  switch (a.status) {
    case 502:
      fix = who + " answered, but the upstream it forwards to refused the connection or sent no valid answer: "
                  "check that the address in " + p.where + " is listening (netwhy port PORT there)";
      break;
    case 503:
      fix = who + " has no upstream it can use (none up, or it couldn't connect): check that the address in " +
            p.where + " is listening (netwhy port PORT there)";
      break;
    default:
      fix = who + "'s upstream accepted the connection but didn't answer in time: the backend in " + p.where +
            " hangs or is overloaded";
      break;
  }
  return Recognition{AnswerKind::proxy_upstream_error, std::move(evidence), std::move(fix), p.name};
}

struct UrlAuthority {
  std::string scheme;  // lowercase, may be empty ("//host")
  std::string host;    // lowercase, without brackets
  std::uint16_t port = 0;
};

// scheme://[userinfo@]host[:port]... or //host...; nullopt when relative.
std::optional<UrlAuthority> absolute_authority(std::string_view location) {
  UrlAuthority u;
  std::size_t at = 0;
  if (auto sep = location.find("://"); sep != std::string_view::npos && sep > 0 &&
                                       std::all_of(location.begin(), location.begin() + static_cast<std::ptrdiff_t>(sep),
                                                   [](char c) { return is_tchar(c); })) {
    u.scheme = ascii_lower(location.substr(0, sep));
    at = sep + 3;
  } else if (location.substr(0, 2) == "//") {
    at = 2;
  } else {
    return std::nullopt;
  }
  std::string_view authority = location.substr(at);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (auto userinfo = authority.rfind('@'); userinfo != std::string_view::npos) authority.remove_prefix(userinfo + 1);
  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() == ':') port = after.substr(1);
  } else {
    std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;
  u.host = ascii_lower(host);
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit)) return std::nullopt;
    unsigned long n = std::stoul(std::string(port));
    if (n == 0 || n > 65535) return std::nullopt;
    u.port = static_cast<std::uint16_t>(n);
  } else if (u.scheme == "https" || u.scheme == "wss") {
    u.port = 443;
  } else if (u.scheme == "http" || u.scheme == "ws") {
    u.port = 80;
  }
  return u;
}

bool names_loopback(std::string_view host) {
  std::string h = ascii_lower(host);
  if (h == "localhost" || (h.size() > 10 && h.substr(h.size() - 10) == ".localhost")) return true;
  auto ip = IpAddr::parse(h);
  return ip && (ip->unmapped().is_loopback() || ip->unmapped().is_unspecified());
}

bool names_unspecified(std::string_view host) {
  auto ip = IpAddr::parse(host);
  return ip && ip->unmapped().is_unspecified();
}

std::optional<Recognition> redirect(const HttpAnswer& a, const AskedUrl& asked) {
  if (a.status < 300 || a.status > 399) return std::nullopt;
  auto location = a.location();
  if (!location) return std::nullopt;
  auto target = absolute_authority(*location);
  if (!target) return std::nullopt;  // relative: same host and port
  std::string evidence = std::to_string(a.status) + " Location: " + quote(*location, evidence_max);
  std::string shown = contains(target->host, ":") ? "[" + target->host + "]" : target->host;
  shown = quote(shown, 80) + (target->port != 0 ? ":" + std::to_string(target->port) : "");
  const bool asked_loopback = names_loopback(asked.host);
  if (names_unspecified(target->host) || (names_loopback(target->host) && !asked_loopback)) {
    return Recognition{AnswerKind::redirect_to_loopback, std::move(evidence),
                       "the server redirects to " + shown +
                           ", an address that means \"this machine\" to each client: it builds absolute URLs from the "
                           "address it listens on or from a proxy's Host. Pass the client's Host through (nginx: "
                           "proxy_set_header Host $host; Apache: ProxyPreserveHost On) or set the app's public URL",
                       {}};
  }
  std::string asked_host = ascii_lower(asked.host);
  const bool same_host = target->host == asked_host || (asked_loopback && names_loopback(target->host));
  if (same_host && target->port == asked.port) return std::nullopt;
  // http://h/ -> https://h/: the usual upgrade, not a wrong address.
  if (same_host && target->scheme == "https" && asked.scheme == "http" && target->port == 443) return std::nullopt;
  return Recognition{AnswerKind::redirect_elsewhere, std::move(evidence),
                     "the server redirects to " + shown + ", not the host and port asked: check that clients reach "
                     "that address too (netwhy url with it), or set the app's public host and port",
                     {}};
}

}  // namespace

std::optional<std::string_view> HttpAnswer::header(std::string_view name) const {
  for (const HttpHeader& h : headers) {
    if (h.name == name) return std::string_view{h.value};
  }
  return std::nullopt;
}

Expected<std::string> build_request(std::string_view host_header, std::string_view target, std::string_view version) {
  auto bad = [](std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
      auto u = static_cast<unsigned char>(c);
      return u <= 0x20 || u == 0x7f;
    });
  };
  if (host_header.empty() || bad(host_header)) {
    return input_error("the Host value \"" + escape_arg(host_header) + "\" is empty or holds a space or control character");
  }
  const bool absolute = target.substr(0, 7) == "http://";  // the absolute form, to an HTTP proxy
  if (target.empty() || (target.front() != '/' && target != "*" && !absolute) || bad(target)) {
    return input_error("the request target \"" + escape_arg(target) +
                       "\" must start with / (or http:// to a proxy) and hold no space or control character "
                       "(percent-encode them)");
  }
  if (version.empty() || bad(version)) return input_error("the version \"" + escape_arg(version) + "\" is not one word");
  std::string out;
  out.reserve(96 + host_header.size() + target.size());
  out.append("GET ").append(target).append(" HTTP/1.1\r\n");
  out.append("Host: ").append(host_header).append("\r\n");
  out.append("User-Agent: netwhy/").append(version).append("\r\n");
  out.append("Accept: */*\r\n");
  out.append("Connection: close\r\n\r\n");
  return out;
}

std::string_view to_string(Speaks s) {
  switch (s) {
    case Speaks::none: return "none";
    case Speaks::http: return "http";
    case Speaks::tls: return "tls";
    case Speaks::http_from_tls_port: return "http-from-tls-port";
    case Speaks::other: return "other";
  }
  return "unknown";
}

std::optional<std::string_view> speaks_json(Speaks s) {
  switch (s) {
    case Speaks::http: return "http";
    case Speaks::tls:
    case Speaks::http_from_tls_port: return "tls";
    case Speaks::none:
    case Speaks::other: return std::nullopt;
  }
  return std::nullopt;
}

Speaks speaks(std::string_view bytes) {
  if (bytes.empty()) return Speaks::none;
  if (bytes.size() >= 3 && (bytes[0] == '\x16' || bytes[0] == '\x15') && bytes[1] == '\x03' &&
      static_cast<unsigned char>(bytes[2]) <= 0x04) {
    return Speaks::tls;
  }
  if (bytes.substr(0, 5) != "HTTP/") return Speaks::other;
  auto answer = parse_http_answer(bytes, true);
  if (answer && answer->status == 400) {
    for (std::string_view s : {nginx_497, go_tls_400, apache_ssl_400}) {
      if (contains(answer->body, s)) return Speaks::http_from_tls_port;
    }
  }
  return Speaks::http;
}

Expected<HttpAnswer> parse_http_answer(std::string_view bytes, bool complete) {
  std::size_t pos = 0;
  for (std::size_t interim = 0;; ++interim) {
    auto head = parse_head(bytes, complete, pos);
    if (!head) return head;
    HttpAnswer& a = *head;
    a.interim_skipped = interim;
    if (!a.head_complete) return head;
    // 1xx (but 101, which ends HTTP on this connection) precede the answer.
    if (a.status < 200 && a.status != 101 && pos < bytes.size()) {
      if (interim + 1 > http_max_interim) {
        return parse_error("more than " + std::to_string(http_max_interim) + " interim (1xx) answers");
      }
      continue;
    }
    read_body(bytes.substr(pos), complete, a);
    return head;
  }
}

std::string_view to_string(AnswerKind k) {
  switch (k) {
    case AnswerKind::django_disallowed_host: return "django-disallowed-host";
    case AnswerKind::django_bad_request: return "django-bad-request";
    case AnswerKind::vite_blocked_host: return "vite-blocked-host";
    case AnswerKind::webpack_invalid_host: return "webpack-invalid-host";
    case AnswerKind::rails_blocked_host: return "rails-blocked-host";
    case AnswerKind::plain_http_to_tls_port: return "plain-http-to-tls-port";
    case AnswerKind::proxy_upstream_error: return "proxy-upstream-error";
    case AnswerKind::redirect_to_loopback: return "redirect-to-loopback";
    case AnswerKind::redirect_elsewhere: return "redirect-elsewhere";
  }
  return "unknown";
}

std::optional<Recognition> recognise_answer(const HttpAnswer& answer, const AskedUrl& asked) {
  if (auto r = plain_http_to_tls_port(answer, asked)) return r;
  if (auto r = django_disallowed_host(answer)) return r;
  if (auto r = vite_blocked_host(answer)) return r;
  if (auto r = webpack_invalid_host(answer)) return r;
  if (auto r = rails_blocked_host(answer)) return r;
  if (auto r = django_bad_request(answer)) return r;
  if (auto r = proxy_upstream_error(answer)) return r;
  return redirect(answer, asked);
}

}  // namespace netwhy
