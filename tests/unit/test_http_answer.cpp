#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "netwhy/http_answer.hpp"
#include "netwhy/text.hpp"

using netwhy::AnswerKind;
using netwhy::AskedUrl;
using netwhy::build_request;
using netwhy::HttpAnswer;
using netwhy::parse_http_answer;
using netwhy::recognise_answer;
using netwhy::Speaks;
using netwhy::speaks;

namespace {

// The answers below are the bytes real servers sent on loopback to netwhy's
// request (GET / or /PATH, Host, User-Agent: netwhy/0.1.0, Accept: */*,
// Connection: close), captured with a socket and written as raw strings: a
// "\r" before a line end stands for the CR byte (wire() puts it back), so
// each string is the exact capture, Content-Length and all.
//   nginx 1.22.1, Apache 2.4.71, HAProxy 2.6.12, Caddy 2.6.2, Django 3.2.25
//   (all Debian 12 packages), Vite 8.4.1 (npm). Upstreams: a closed port
//   ("refused"), a listener that never answers ("silent", proxy timeout 1 s),
//   one that answers "\x00\x01garbage not http" ("garbage").
std::string wire(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == 'r') {
      out += '\r';
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

HttpAnswer parsed(std::string_view text, bool complete = true) {
  auto a = parse_http_answer(wire(text), complete);
  REQUIRE_MESSAGE(a.has_value(), a.error().message());
  return *a;
}

std::optional<netwhy::Recognition> recognised(std::string_view text, const AskedUrl& asked) {
  return recognise_answer(parsed(text), asked);
}

const AskedUrl remote{"http", "192.168.1.50", 8765};

// Nothing a recogniser writes may carry a control byte to the terminal.
bool printable(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

constexpr std::string_view nginx_497 = R"~(HTTP/1.1 400 Bad Request\r
Server: nginx/1.22.1\r
Date: Mon, 07 Dec 2026 07:34:20 GMT\r
Content-Type: text/html\r
Content-Length: 255\r
Connection: close\r
\r
<html>\r
<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r
<body>\r
<center><h1>400 Bad Request</h1></center>\r
<center>The plain HTTP request was sent to HTTPS port</center>\r
<hr><center>nginx/1.22.1</center>\r
</body>\r
</html>\r
)~";

constexpr std::string_view nginx_refused = R"~(HTTP/1.1 502 Bad Gateway\r
Server: nginx/1.22.1\r
Date: Mon, 07 Dec 2026 07:34:20 GMT\r
Content-Type: text/html\r
Content-Length: 157\r
Connection: close\r
\r
<html>\r
<head><title>502 Bad Gateway</title></head>\r
<body>\r
<center><h1>502 Bad Gateway</h1></center>\r
<hr><center>nginx/1.22.1</center>\r
</body>\r
</html>\r
)~";

constexpr std::string_view nginx_silent = R"~(HTTP/1.1 504 Gateway Time-out\r
Server: nginx/1.22.1\r
Date: Mon, 07 Dec 2026 07:34:21 GMT\r
Content-Type: text/html\r
Content-Length: 167\r
Connection: close\r
\r
<html>\r
<head><title>504 Gateway Time-out</title></head>\r
<body>\r
<center><h1>504 Gateway Time-out</h1></center>\r
<hr><center>nginx/1.22.1</center>\r
</body>\r
</html>\r
)~";

constexpr std::string_view nginx_down = R"~(HTTP/1.1 503 Service Temporarily Unavailable\r
Server: nginx/1.22.1\r
Date: Mon, 07 Dec 2026 07:34:22 GMT\r
Content-Type: text/html\r
Content-Length: 197\r
Connection: close\r
\r
<html>\r
<head><title>503 Service Temporarily Unavailable</title></head>\r
<body>\r
<center><h1>503 Service Temporarily Unavailable</h1></center>\r
<hr><center>nginx/1.22.1</center>\r
</body>\r
</html>\r
)~";

constexpr std::string_view nginx_redir = R"~(HTTP/1.1 302 Moved Temporarily\r
Server: nginx/1.22.1\r
Date: Mon, 07 Dec 2026 07:34:22 GMT\r
Content-Type: text/html\r
Content-Length: 145\r
Connection: close\r
Location: http://localhost:3000/app/\r
\r
<html>\r
<head><title>302 Found</title></head>\r
<body>\r
<center><h1>302 Found</h1></center>\r
<hr><center>nginx/1.22.1</center>\r
</body>\r
</html>\r
)~";

constexpr std::string_view nginx_rel = R"~(HTTP/1.1 301 Moved Permanently\r
Server: nginx/1.22.1\r
Date: Mon, 07 Dec 2026 07:34:23 GMT\r
Content-Type: text/html\r
Content-Length: 169\r
Location: http://127.0.0.1:18080/elsewhere/\r
Connection: close\r
\r
<html>\r
<head><title>301 Moved Permanently</title></head>\r
<body>\r
<center><h1>301 Moved Permanently</h1></center>\r
<hr><center>nginx/1.22.1</center>\r
</body>\r
</html>\r
)~";

constexpr std::string_view apache_refused = R"~(HTTP/1.1 503 Service Unavailable\r
Date: Mon, 07 Dec 2026 07:34:38 GMT\r
Server: Apache/2.4.71 (Debian)\r
Content-Length: 339\r
Connection: close\r
Content-Type: text/html; charset=iso-8859-1\r
\r
<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">
<html><head>
<title>503 Service Unavailable</title>
</head><body>
<h1>Service Unavailable</h1>
<p>The server is temporarily unable to service your
request due to maintenance downtime or capacity
problems. Please try again later.</p>
</body></html>
)~";

constexpr std::string_view apache_garbage = R"~(HTTP/1.1 502 Proxy Error\r
Date: Mon, 07 Dec 2026 07:34:40 GMT\r
Server: Apache/2.4.71 (Debian)\r
Content-Length: 381\r
Connection: close\r
Content-Type: text/html; charset=iso-8859-1\r
\r
<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">
<html><head>
<title>502 Proxy Error</title>
</head><body>
<h1>Proxy Error</h1>
<p>The proxy server received an invalid\r
response from an upstream server.<br />\r
The proxy server could not handle the request<p>Reason: <strong>Error reading from remote server</strong></p></p>
</body></html>
)~";

constexpr std::string_view apache_redir = R"~(HTTP/1.1 302 Found\r
Date: Mon, 07 Dec 2026 07:34:40 GMT\r
Server: Apache/2.4.71 (Debian)\r
Location: http://127.0.0.1:9000/login\r
Content-Length: 251\r
Connection: close\r
Content-Type: text/html; charset=iso-8859-1\r
\r
<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">
<html><head>
<title>302 Found</title>
</head><body>
<h1>Found</h1>
<p>The document has moved <a href="http://127.0.0.1:9000/login">here</a>.</p>
</body></html>
)~";

constexpr std::string_view apache_ssl_plain = R"~(HTTP/1.1 400 Bad Request\r
Date: Mon, 07 Dec 2026 07:39:23 GMT\r
Server: Apache/2.4.71 (Debian) OpenSSL/3.0.19\r
Content-Length: 402\r
Connection: close\r
Content-Type: text/html; charset=iso-8859-1\r
\r
<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">
<html><head>
<title>400 Bad Request</title>
</head><body>
<h1>Bad Request</h1>
<p>Your browser sent a request that this server could not understand.<br />
Reason: You're speaking plain HTTP to an SSL-enabled server port.<br />
 Instead use the HTTPS scheme to access this URL, please.<br />
</p>
</body></html>
)~";

constexpr std::string_view haproxy_refused = R"~(HTTP/1.1 503 Service Unavailable\r
content-length: 107\r
cache-control: no-cache\r
content-type: text/html\r
connection: close\r
\r
<html><body><h1>503 Service Unavailable</h1>
No server is available to handle this request.
</body></html>
)~";

constexpr std::string_view haproxy_silent = R"~(HTTP/1.1 504 Gateway Time-out\r
content-length: 92\r
cache-control: no-cache\r
content-type: text/html\r
connection: close\r
\r
<html><body><h1>504 Gateway Time-out</h1>
The server didn't respond in time.
</body></html>
)~";

constexpr std::string_view haproxy_garbage = R"~(HTTP/1.1 502 Bad Gateway\r
content-length: 107\r
cache-control: no-cache\r
content-type: text/html\r
connection: close\r
\r
<html><body><h1>502 Bad Gateway</h1>
The server returned an invalid or incomplete response.
</body></html>
)~";

constexpr std::string_view caddy_refused = R"~(HTTP/1.1 502 Bad Gateway\r
Server: Caddy\r
Date: Mon, 07 Dec 2026 07:35:20 GMT\r
Content-Length: 0\r
Connection: close\r
\r
)~";

constexpr std::string_view caddy_silent = R"~(HTTP/1.1 504 Gateway Timeout\r
Server: Caddy\r
Date: Mon, 07 Dec 2026 07:35:22 GMT\r
Content-Length: 0\r
Connection: close\r
\r
)~";

constexpr std::string_view caddy_redir = R"~(HTTP/1.1 302 Found\r
Location: http://0.0.0.0:8000/\r
Server: Caddy\r
Date: Mon, 07 Dec 2026 07:35:22 GMT\r
Content-Length: 0\r
Connection: close\r
\r
)~";

constexpr std::string_view go_tls_plain = R"~(HTTP/1.0 400 Bad Request\r
\r
Client sent an HTTP request to an HTTPS server.
)~";

constexpr std::string_view vite_blocked = R"~(HTTP/1.1 403 Forbidden\r
Vary: Origin\r
Content-Type: text/plain\r
Date: Mon, 07 Dec 2026 07:33:47 GMT\r
Connection: close\r
Transfer-Encoding: chunked\r
\r
8a\r
Blocked request. This host ("myapp.test") is not allowed.
To allow this host, add "myapp.test" to `server.allowedHosts` in vite.config.js.\r
0\r
\r
)~";

constexpr std::string_view django_debug0 = R"~(HTTP/1.1 400 Bad Request\r
Date: Mon, 07 Dec 2026 07:34:01 GMT\r
Server: WSGIServer/0.2 CPython/3.11.2\r
Content-Type: text/html\r
Connection: close\r
\r

<!doctype html>
<html lang="en">
<head>
  <title>Bad Request (400)</title>
</head>
<body>
  <h1>Bad Request (400)</h1><p></p>
</body>
</html>
)~";

// Django 3.2.25, DEBUG on, ALLOWED_HOSTS empty, Host 192.168.1.50:8765: the
// technical 500 page with status 400; an excerpt (the whole page is 60 kB:
// its style and scripts are left out, and all after the message).
constexpr std::string_view django_debug1 = R"~(HTTP/1.1 400 Bad Request\r
Date: Mon, 07 Dec 2026 07:34:00 GMT\r
Server: WSGIServer/0.2 CPython/3.11.2\r
Content-Type: text/html\r
Connection: close\r
\r
<!DOCTYPE html>
<html lang="en">
<head>
  <meta http-equiv="content-type" content="text/html; charset=utf-8">
  <meta name="robots" content="NONE,NOARCHIVE">
  <title>DisallowedHost
          at /</title>
  [... the page's style and scripts, 4.4 kB ...]
</head>
<body>
<div id="summary">
  <h1>DisallowedHost
       at /</h1>
  <pre class="exception_value">Invalid HTTP_HOST header: &#x27;192.168.1.50:8765&#x27;. You may need to add &#x27;192.168.1.50&#x27; to ALLOWED_HOSTS.</pre>
  )~";

// Not run here, written from the servers' sources (see http_answer.cpp):
// webpack-dev-server 4.15.2 (Express res.send: 200, text/html) and 5.2.2
// (res.statusCode = 403; res.end()).
constexpr std::string_view webpack4 = R"~(HTTP/1.1 200 OK\r
X-Powered-By: Express\r
Content-Type: text/html; charset=utf-8\r
Content-Length: 19\r
ETag: W/"13-YbGEMJOAkzqCnNNbwNbR9OXYbzE"\r
Date: Mon, 07 Dec 2026 07:40:00 GMT\r
Connection: close\r
\r
Invalid Host header)~";

constexpr std::string_view webpack5 = R"~(HTTP/1.1 403 Forbidden\r
Date: Mon, 07 Dec 2026 07:40:00 GMT\r
Connection: close\r
Content-Length: 19\r
\r
Invalid Host header)~";

// Rails 6.1 (rescues/blocked_host.html.erb in the rescues layout, excerpt)
// and 7.x (blocked_host.text.erb, for a request that isn't for HTML).
constexpr std::string_view rails61 = R"~(HTTP/1.1 403 Forbidden\r
Content-Type: text/html; charset=UTF-8\r
Content-Length: 366\r
\r
<!DOCTYPE html>
<html lang="en">
<head>
  <title>Action Controller: Exception caught</title>
</head>
<body>
<header>
  <h1>Blocked host: myapp.test</h1>
</header>
<main role="main" id="container">
  <h2>To allow requests to myapp.test, add the following to your environment configuration:</h2>
  <pre>config.hosts &lt;&lt; "myapp.test"</pre>
</main>
</body>
</html>
)~";

constexpr std::string_view rails7_text = R"~(HTTP/1.1 403 Forbidden\r
Content-Type: text/plain; charset=utf-8\r
Content-Length: 376\r
\r
Blocked hosts: myapp.test:3000

To allow requests to these hosts, make sure they are valid hostnames (containing only numbers, letters, dashes and dots), then add the following to your environment configuration:

  config.hosts << "myapp.test:3000"

For more details on host authorization view: https://guides.rubyonrails.org/configuring.html#actiondispatch-hostauthorization
)~";

// Envoy's router (local reply, text/plain) and Traefik's proxy error handler
// (http.StatusText, Go's sniffed text/plain, no Server).
constexpr std::string_view envoy_refused = R"~(HTTP/1.1 503 Service Unavailable\r
content-length: 91\r
content-type: text/plain\r
date: Mon, 07 Dec 2026 07:40:00 GMT\r
server: envoy\r
connection: close\r
\r
upstream connect error or disconnect/reset before headers. reset reason: connection failure)~";

constexpr std::string_view traefik_refused = R"~(HTTP/1.1 502 Bad Gateway\r
Content-Length: 11\r
Content-Type: text/plain; charset=utf-8\r
Date: Mon, 07 Dec 2026 07:40:00 GMT\r
Connection: close\r
\r
Bad Gateway)~";

// nginx passes an upstream's non-HTTP answer through as HTTP/0.9 (captured:
// /garbage behind nginx 1.22.1).
constexpr std::string_view nginx_garbage{"\x00\x01garbage not http\r\n\r\n", 22};

}  // namespace

TEST_CASE("the request is one GET with Host, User-Agent, Accept and Connection: close") {
  auto r = build_request("example.com:8080", "/app?x=1", "0.1.0");
  REQUIRE(r.has_value());
  CHECK(*r ==
        "GET /app?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: netwhy/0.1.0\r\nAccept: */*\r\n"
        "Connection: close\r\n\r\n");
  auto v6 = build_request("[::1]", "/", "0.1.0");
  REQUIRE(v6.has_value());
  CHECK(v6->substr(0, 30) == "GET / HTTP/1.1\r\nHost: [::1]\r\nU");
  CHECK(build_request("h", "*", "0.1.0").has_value());
}

TEST_CASE("bytes that would inject a header or split the request are input errors") {
  for (std::string_view host : std::initializer_list<std::string_view>{"a\r\nX-Evil: 1", "a\nb", std::string_view("a\0b", 3), "a b", "a\tb", "", "a\x7f"}) {
    auto r = build_request(host, "/", "0.1.0");
    CHECK_FALSE(r.has_value());
    if (!r) {
      CHECK(r.error().kind == netwhy::ErrorKind::input);
      CHECK(printable(r.error().message()));
    }
  }
  for (std::string_view target : std::initializer_list<std::string_view>{"/a b", "/a\r\nHost: x", std::string_view("/\0", 2), "", "app", "https://x/", "http://x/ y"}) {
    CHECK_FALSE(build_request("h", target, "0.1.0").has_value());
  }
  // The absolute form goes to an HTTP proxy, whole.
  auto proxied = build_request("h:8000", "http://h:8000/a?b=1", "0.1.0");
  REQUIRE(proxied.has_value());
  CHECK(proxied->rfind("GET http://h:8000/a?b=1 HTTP/1.1\r\nHost: h:8000\r\n", 0) == 0);
  CHECK_FALSE(build_request("h", "/", "0.1 0").has_value());
}

TEST_CASE("captured answers: status, reason, the selected headers and the body") {
  SUBCASE("nginx's 497 page") {
    HttpAnswer a = parsed(nginx_497);
    CHECK(a.version_minor == 1);
    CHECK(a.status == 400);
    CHECK(a.reason == "Bad Request");
    CHECK(a.server() == "nginx/1.22.1");
    CHECK(a.content_type() == "text/html");
    CHECK_FALSE(a.location().has_value());
    CHECK(a.head_complete);
    CHECK(a.body.size() == 255);
    CHECK(a.body_complete);
    CHECK(a.headers.size() == 5);
    CHECK(a.headers[0] == netwhy::HttpHeader{"server", "nginx/1.22.1"});
  }
  SUBCASE("a redirect keeps its Location") {
    HttpAnswer a = parsed(nginx_redir);
    CHECK(a.status == 302);
    CHECK(a.reason == "Moved Temporarily");
    CHECK(a.location() == "http://localhost:3000/app/");
  }
  SUBCASE("HAProxy's lowercase header names") {
    HttpAnswer a = parsed(haproxy_silent);
    CHECK(a.status == 504);
    CHECK(a.reason == "Gateway Time-out");
    CHECK(a.content_type() == "text/html");
    CHECK_FALSE(a.server().has_value());
    CHECK(a.body == "<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n</body></html>\n");
  }
  SUBCASE("Caddy's empty 502") {
    HttpAnswer a = parsed(caddy_refused);
    CHECK(a.status == 502);
    CHECK(a.server() == "Caddy");
    CHECK(a.body.empty());
    CHECK(a.body_complete);
  }
  SUBCASE("Go's headerless HTTP/1.0 answer, read to the close") {
    HttpAnswer a = parsed(go_tls_plain);
    CHECK(a.version_minor == 0);
    CHECK(a.status == 400);
    CHECK(a.headers.empty());
    CHECK(a.body == "Client sent an HTTP request to an HTTPS server.\n");
    CHECK(a.body_complete);
    CHECK_FALSE(parsed(go_tls_plain, false).body_complete);  // the read stopped: more may have come
  }
  SUBCASE("Vite's chunked body is de-chunked") {
    HttpAnswer a = parsed(vite_blocked);
    CHECK(a.status == 403);
    CHECK(a.body ==
          "Blocked request. This host (\"myapp.test\") is not allowed.\n"
          "To allow this host, add \"myapp.test\" to `server.allowedHosts` in vite.config.js.");
    CHECK(a.body_complete);
  }
  SUBCASE("Django's close-delimited page") {
    HttpAnswer a = parsed(django_debug0);
    CHECK(a.status == 400);
    CHECK(a.server() == "WSGIServer/0.2 CPython/3.11.2");
    CHECK(a.body.find("<h1>Bad Request (400)</h1>") != std::string::npos);
  }
}

TEST_CASE("odd but real heads: LF only, obs-fold, no reason, interim answers") {
  SUBCASE("LF-only line ends") {
    auto a = parse_http_answer("HTTP/1.1 200 OK\nServer: tiny\nContent-Length: 2\n\nhi", true);
    REQUIRE(a.has_value());
    CHECK(a->server() == "tiny");
    CHECK(a->body == "hi");
    CHECK(a->body_complete);
  }
  SUBCASE("obs-fold joins with one space") {
    auto a = parse_http_answer("HTTP/1.1 200 OK\r\nServer: one\r\n  two\r\n\tthree\r\nX: y\r\n\r\n", true);
    REQUIRE(a.has_value());
    CHECK(a->server() == "one two three");
    CHECK(a->header("x") == "y");
  }
  SUBCASE("a fold before any field is dropped") {
    auto a = parse_http_answer("HTTP/1.1 200 OK\r\n folded\r\nServer: s\r\n\r\n", true);
    REQUIRE(a.has_value());
    CHECK(a->server() == "s");
  }
  SUBCASE("no reason phrase, with or without the space") {
    for (std::string_view text : {"HTTP/1.1 204\r\n\r\n", "HTTP/1.1 204 \r\n\r\n", "HTTP/1.1  204\r\n\r\n"}) {
      auto a = parse_http_answer(text, true);
      REQUIRE(a.has_value());
      CHECK(a->status == 204);
      CHECK(a->reason.empty());
      CHECK(a->body_complete);
    }
  }
  SUBCASE("100 Continue and 103 Early Hints come before the answer") {
    auto a = parse_http_answer(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
        "HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
        true);
    REQUIRE(a.has_value());
    CHECK(a->status == 301);
    CHECK(a->interim_skipped == 2);
    CHECK(a->location() == "/x");
    CHECK_FALSE(a->header("link").has_value());
  }
  SUBCASE("endless interim answers are an error, not a loop") {
    std::string text;
    for (int i = 0; i < 1000; ++i) text += "HTTP/1.1 100 Continue\r\n\r\n";
    auto a = parse_http_answer(text, true);
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().kind == netwhy::ErrorKind::parse);
  }
  SUBCASE("the first of repeated fields; names lowercased; broken lines dropped") {
    auto a = parse_http_answer(
        "HTTP/1.1 200 OK\r\nSERVER: first\r\nServer: second\r\nno colon here\r\nBad Name: x\r\n: empty\r\n"
        "LOCATION:   /spaced   \r\n\r\n",
        true);
    REQUIRE(a.has_value());
    CHECK(a->server() == "first");
    CHECK(a->location() == "/spaced");
    CHECK(a->headers.size() == 3);
    CHECK(a->headers_dropped == 3);
  }
  SUBCASE("a head without its empty line") {
    auto a = parse_http_answer("HTTP/1.1 200 OK\r\nServer: x\r\nContent-Le", false);
    REQUIRE(a.has_value());
    CHECK_FALSE(a->head_complete);
    CHECK(a->server() == "x");
    CHECK(a->headers.size() == 1);  // the cut line isn't a field yet
    auto closed = parse_http_answer("HTTP/1.1 200 OK\r\nServer: x", true);
    REQUIRE(closed.has_value());
    CHECK(closed->server() == "x");
    CHECK_FALSE(closed->head_complete);
  }
  SUBCASE("chunked: extensions, a cut chunk, bad framing") {
    auto a = parse_http_answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", true);
    REQUIRE(a.has_value());
    CHECK(a->body == "abcde");
    CHECK(a->body_complete);
    auto cut = parse_http_answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", false);
    REQUIRE(cut.has_value());
    CHECK(cut->body == "abc");
    CHECK_FALSE(cut->body_complete);
    for (std::string_view chunks : {"zz\r\nabc", "FFFFFFFFFFFFFFFFFFFF\r\nabc", "3\r\nabcX1\r\nd", "-1\r\nabc"}) {
      auto bad = parse_http_answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(chunks), true);
      REQUIRE(bad.has_value());
      CHECK(bad->body.size() <= 3);
      CHECK_FALSE(bad->body_complete);
    }
  }
  SUBCASE("Content-Length: short body, bad or conflicting values read to the close") {
    auto a = parse_http_answer("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false);
    REQUIRE(a.has_value());
    CHECK(a->body == "abc");
    CHECK_FALSE(a->body_complete);
    for (std::string_view cl : {"-1", "abc", "99999999999999999999999", "3, 4"}) {
      auto b = parse_http_answer("HTTP/1.1 200 OK\r\nContent-Length: " + std::string(cl) + "\r\n\r\nabcdef", true);
      REQUIRE(b.has_value());
      CHECK(b->body == "abcdef");
    }
    auto twice = parse_http_answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 4\r\n\r\nabcdef", true);
    REQUIRE(twice.has_value());
    CHECK(twice->body == "abcdef");
  }
}

TEST_CASE("a status line that isn't HTTP/1.x, or a status outside 100-599, is a parse error") {
  for (std::string_view text :
       {"", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", "HTTP/2 200\r\n\r\n", "HTTP/1.1\r\n\r\n",
        "HTTP/1.1 99999 Big\r\n\r\n", "HTTP/1.1 -200 Neg\r\n\r\n", "HTTP/1.1 099 Low\r\n\r\n", "HTTP/1.1 600 High\r\n\r\n",
        "HTTP/1.1 2000\r\n\r\n", "HTTP/1.1 20\r\n\r\n", "HTTP/1.1 20x OK\r\n\r\n", "http/1.1 200 OK\r\n\r\n",
        "HTTP/1.x 200 OK\r\n\r\n", "HTTP/1.1200 OK\r\n\r\n", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
        "\x1b[31mHTTP/1.1 200 OK\r\n\r\n", "-ERR unknown command 'GET'\r\n"}) {
    CAPTURE(text);
    auto a = parse_http_answer(text, true);
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().kind == netwhy::ErrorKind::parse);
    CHECK(printable(a.error().message()));
  }
  CHECK_FALSE(parse_http_answer(wire(nginx_garbage), true).has_value());
}

TEST_CASE("untrusted bytes: huge lines, many fields, NUL and invalid UTF-8 stay bounded") {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  SUBCASE("a header line of 1 MB") {
    std::string text = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\nServer: late\r\n\r\nbody";
    for (bool complete : {true, false}) {
      auto a = parse_http_answer(text, complete);
      REQUIRE(a.has_value());
      CHECK_FALSE(a->head_complete);
      CHECK(a->headers.empty());
      CHECK(a->body.empty());
    }
  }
  SUBCASE("a long value under the head cap is cut") {
    std::string text = "HTTP/1.1 200 OK\r\nServer: " + std::string(20000, 'b') + "\r\n\r\n";
    auto a = parse_http_answer(text, true);
    REQUIRE(a.has_value());
    CHECK(a->head_complete);
    CHECK(a->server()->size() == netwhy::http_max_header_value);
    CHECK(a->header_value_cut);
  }
  SUBCASE("10,000 short fields: the first 100 kept, the rest counted") {
    std::string text = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 10000; ++i) text += "a:b\n";
    text += "\r\nok";
    auto a = parse_http_answer(text, true);
    REQUIRE(a.has_value());
    CHECK(a->head_complete);
    CHECK(a->headers.size() == netwhy::http_max_headers);
    CHECK(a->headers_dropped == 10000 - netwhy::http_max_headers);
    CHECK(a->body == "ok");
  }
  SUBCASE("10,000 long fields run past the head cap") {
    std::string text = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 10000; ++i) text += "X-Field-" + std::to_string(i) + ": value\r\n";
    text += "\r\n";
    auto a = parse_http_answer(text, true);
    REQUIRE(a.has_value());
    CHECK_FALSE(a->head_complete);
    CHECK(a->headers.size() == netwhy::http_max_headers);
  }
  SUBCASE("a body past the cap is cut") {
    std::string text = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(100000, 'x');
    auto a = parse_http_answer(text, true);
    REQUIRE(a.has_value());
    CHECK(a->body.size() == netwhy::http_max_body);
    CHECK_FALSE(a->body_complete);
  }
  SUBCASE("NUL, escape sequences and invalid UTF-8 come back raw, and escape for display") {
    std::string text("HTTP/1.1 200 \x1b[2J\xff\xfe\0ok\r\nServer: a\0b\x9b\r\n\r\n", 40);
    auto a = parse_http_answer(text, true);
    REQUIRE(a.has_value());
    CHECK(a->reason == std::string("\x1b[2J\xff\xfe\0ok", 9));
    CHECK(a->server() == std::string_view("a\0b\x9b", 4));
    CHECK(printable(netwhy::escape_text(a->reason)));
    CHECK(netwhy::escape_text(*a->server()) == "a\\x00b\\x9b");
  }
  CHECK(clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("every prefix and a few thousand mutations of real answers parse without harm") {
  std::uint32_t seed = 12345;
  auto next = [&seed]() {
    seed = seed * 1103515245U + 12345U;
    return seed >> 8;
  };
  for (std::string_view capture : {nginx_497, apache_garbage, haproxy_refused, vite_blocked, go_tls_plain}) {
    const std::string bytes = wire(capture);
    for (std::size_t n = 0; n <= bytes.size(); ++n) {
      for (bool complete : {true, false}) {
        auto a = parse_http_answer(std::string_view(bytes).substr(0, n), complete);
        if (a) {
          CHECK(a->body.size() <= netwhy::http_max_body);
          (void)recognise_answer(*a, remote);
        }
        (void)speaks(std::string_view(bytes).substr(0, n));
      }
    }
    for (int round = 0; round < 600; ++round) {
      std::string m = bytes;
      for (int k = 0; k < 1 + static_cast<int>(next() % 8); ++k) {
        std::size_t at = next() % m.size();
        switch (next() % 4) {
          case 0: m[at] = static_cast<char>(next() & 0xff); break;
          case 1: m.insert(at, 1, "\r\n\0: \t;0x"[next() % 9]); break;
          case 2: m.erase(at, 1); break;
          default: m.insert(at, m.substr(0, next() % 64)); break;
        }
        if (m.empty()) m = "H";
      }
      auto a = parse_http_answer(m, (round & 1) != 0);
      if (a) {
        CHECK(a->headers.size() <= netwhy::http_max_headers);
        if (auto r = recognise_answer(*a, remote)) {
          CHECK(printable(r->evidence));
          CHECK(printable(r->fix));
        }
      } else {
        CHECK(printable(a.error().message()));
      }
    }
  }
}

TEST_CASE("what the port speaks, from its first bytes") {
  CHECK(speaks("") == Speaks::none);  // OpenSSL 3.0.19 (Python's ssl) closes without a byte
  CHECK(speaks(wire(nginx_refused)) == Speaks::http);
  CHECK(speaks("HTTP/1.1 200 OK\r\n") == Speaks::http);
  CHECK(speaks(std::string_view("\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03", 11)) == Speaks::tls);
  // A fatal alert (RFC 8446 6): level 2, unexpected_message (10) / protocol_version (70).
  CHECK(speaks(std::string_view("\x15\x03\x03\x00\x02\x02\x0a", 7)) == Speaks::tls);
  CHECK(speaks(std::string_view("\x15\x03\x01\x00\x02\x02\x46", 7)) == Speaks::tls);
  CHECK(speaks(std::string_view("\x15\x03\x09\x00", 4)) == Speaks::other);
  CHECK(speaks(std::string_view("\x16\x03", 2)) == Speaks::other);
  CHECK(speaks(wire(nginx_497)) == Speaks::http_from_tls_port);
  CHECK(speaks(wire(go_tls_plain)) == Speaks::http_from_tls_port);
  CHECK(speaks(wire(apache_ssl_plain)) == Speaks::http_from_tls_port);
  CHECK(speaks("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n") == Speaks::other);
  CHECK(speaks("HTT") == Speaks::other);
  CHECK(speaks(wire(nginx_garbage)) == Speaks::other);
  CHECK(netwhy::speaks_json(Speaks::http) == "http");
  CHECK(netwhy::speaks_json(Speaks::tls) == "tls");
  CHECK(netwhy::speaks_json(Speaks::http_from_tls_port) == "tls");
  CHECK_FALSE(netwhy::speaks_json(Speaks::none).has_value());
  CHECK_FALSE(netwhy::speaks_json(Speaks::other).has_value());
}

TEST_CASE("plain HTTP to a TLS port: nginx, Apache mod_ssl and Go say so") {
  const AskedUrl asked{"http", "myhost", 8443};
  for (std::string_view capture : {nginx_497, apache_ssl_plain, go_tls_plain}) {
    auto r = recognised(capture, asked);
    REQUIRE(r.has_value());
    CHECK(r->kind == AnswerKind::plain_http_to_tls_port);
    CHECK(r->fix == "the port speaks TLS: use https://myhost:8443/");
  }
  auto v6 = recognised(nginx_497, AskedUrl{"http", "fe80::1", 443});
  REQUIRE(v6.has_value());
  CHECK(v6->fix == "the port speaks TLS: use https://[fe80::1]:443/");
}

TEST_CASE("Django's DisallowedHost, with DEBUG on and off") {
  auto debug = recognised(django_debug1, remote);
  REQUIRE(debug.has_value());
  CHECK(debug->kind == AnswerKind::django_disallowed_host);
  CHECK(debug->evidence ==
        "Django DisallowedHost: Invalid HTTP_HOST header: '192.168.1.50:8765'. You may need to add '192.168.1.50' "
        "to ALLOWED_HOSTS.");
  CHECK(debug->fix == "add '192.168.1.50' to ALLOWED_HOSTS in settings.py");
  // Only the title came (the read stopped early): still DisallowedHost.
  std::string cut = wire(django_debug1).substr(0, 400);
  auto early = parse_http_answer(cut, false);
  REQUIRE(early.has_value());
  auto r = recognise_answer(*early, remote);
  REQUIRE(r.has_value());
  CHECK(r->kind == AnswerKind::django_disallowed_host);
  CHECK(r->fix == "add the host to ALLOWED_HOSTS in settings.py");
  auto off = recognised(django_debug0, remote);
  REQUIRE(off.has_value());
  CHECK(off->kind == AnswerKind::django_bad_request);
  CHECK(off->fix.find("ALLOWED_HOSTS") != std::string::npos);
}

TEST_CASE("Vite's blocked host names the host and the option") {
  auto r = recognised(vite_blocked, remote);
  REQUIRE(r.has_value());
  CHECK(r->kind == AnswerKind::vite_blocked_host);
  CHECK(r->evidence == "403 \"Blocked request. This host (\"myapp.test\") is not allowed.\"");
  CHECK(r->fix.find("add \"myapp.test\" to server.allowedHosts") == 0);
  std::string preview = "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 200\r\n\r\n"
                        "Blocked request. This host (\"x.test\") is not allowed.\nTo allow this host, add \"x.test\" "
                        "to `preview.allowedHosts` in vite.config.js.";
  auto p = recognise_answer(*parse_http_answer(preview, true), remote);
  REQUIRE(p.has_value());
  CHECK(p->fix.find("preview.allowedHosts") != std::string::npos);
  SUBCASE("a hostile Host comes back escaped") {
    std::string evil = "HTTP/1.1 403 Forbidden\r\n\r\nBlocked request. This host (\"\x1b]0;pwned\x07\xff\") is not allowed.\n";
    auto e = recognise_answer(*parse_http_answer(evil, true), remote);
    REQUIRE(e.has_value());
    CHECK(printable(e->evidence));
    CHECK(printable(e->fix));
    CHECK(e->evidence.find("\\x1b]0;pwned\\x07\\xff") != std::string::npos);
  }
}

TEST_CASE("webpack-dev-server's Invalid Host header, 200 before 5.1 and 403 since") {
  for (std::string_view capture : {webpack4, webpack5}) {
    auto r = recognised(capture, remote);
    REQUIRE(r.has_value());
    CHECK(r->kind == AnswerKind::webpack_invalid_host);
    CHECK(r->fix.find("devServer.allowedHosts") != std::string::npos);
  }
  CHECK(recognised(webpack4, remote)->evidence == "200 \"Invalid Host header\" (webpack-dev-server)");
  CHECK_FALSE(recognise_answer(*parse_http_answer("HTTP/1.1 200 OK\r\n\r\nInvalid Host header, see docs", true), remote).has_value());
}

TEST_CASE("Rails' HostAuthorization page, 6.1 and 7") {
  auto six = recognised(rails61, remote);
  REQUIRE(six.has_value());
  CHECK(six->kind == AnswerKind::rails_blocked_host);
  CHECK(six->fix.find("config.hosts << \"myapp.test\"") == 4);
  auto seven = recognised(rails7_text, remote);
  REQUIRE(seven.has_value());
  CHECK(seven->kind == AnswerKind::rails_blocked_host);
  CHECK(seven->evidence == "403 \"Blocked host: myapp.test:3000\" (Rails)");
  // Rails without consider_all_requests_local: an empty 403, like any other.
  CHECK_FALSE(recognise_answer(*parse_http_answer("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", true), remote).has_value());
}

TEST_CASE("a reverse proxy's own 502, 503 and 504 name the proxy") {
  struct Case {
    std::string_view capture;
    std::string_view proxy;
    int status;
  };
  for (const Case& c : {Case{nginx_refused, "nginx", 502}, Case{nginx_silent, "nginx", 504},
                        Case{nginx_down, "nginx", 503}, Case{apache_refused, "Apache", 503},
                        Case{apache_garbage, "Apache", 502}, Case{haproxy_refused, "HAProxy", 503},
                        Case{haproxy_silent, "HAProxy", 504}, Case{haproxy_garbage, "HAProxy", 502},
                        Case{caddy_refused, "Caddy", 502}, Case{caddy_silent, "Caddy", 504},
                        Case{envoy_refused, "Envoy", 503}, Case{traefik_refused, "Traefik", 502}}) {
    CAPTURE(c.capture);
    auto r = recognised(c.capture, remote);
    REQUIRE(r.has_value());
    CHECK(r->kind == AnswerKind::proxy_upstream_error);
    CHECK(r->proxy == c.proxy);
    CHECK(r->evidence.find(std::to_string(c.status)) == 0);
    CHECK(r->fix.find(std::string(c.proxy)) == 0);
  }
  CHECK(recognised(nginx_refused, remote)->evidence == "502 Bad Gateway, Server: nginx/1.22.1");
  CHECK(recognised(nginx_refused, remote)->fix.find("proxy_pass") != std::string::npos);
  // nginx with its Server header hidden is still nginx by its page.
  std::string hidden = wire(nginx_refused);
  hidden.erase(hidden.find("Server: nginx/1.22.1\r\n"), 22);
  auto h = recognise_answer(*parse_http_answer(hidden, true), remote);
  REQUIRE(h.has_value());
  CHECK(h->proxy == "nginx");
  // An unnamed gateway's 502 is still a gateway's; an application's own 503 is not.
  auto unnamed = recognise_answer(*parse_http_answer("HTTP/1.1 502 Bad Gateway\r\nServer: mystery\r\n\r\n", true), remote);
  REQUIRE(unnamed.has_value());
  CHECK(unnamed->proxy.empty());
  CHECK(unnamed->fix.find("a proxy answered") == 0);
  CHECK_FALSE(recognise_answer(*parse_http_answer("HTTP/1.1 503 Service Unavailable\r\nServer: gunicorn\r\n\r\nmaintenance", true), remote).has_value());
}

TEST_CASE("redirects to loopback or to another host or port") {
  SUBCASE("nginx to localhost:3000, asked from elsewhere") {
    auto r = recognised(nginx_redir, AskedUrl{"http", "example.com", 80});
    REQUIRE(r.has_value());
    CHECK(r->kind == AnswerKind::redirect_to_loopback);
    CHECK(r->evidence == "302 Location: http://localhost:3000/app/");
    CHECK(r->fix.find("redirects to localhost:3000") != std::string::npos);
  }
  SUBCASE("the same, asked on localhost: the port is what's wrong") {
    auto r = recognised(nginx_redir, AskedUrl{"http", "localhost", 80});
    REQUIRE(r.has_value());
    CHECK(r->kind == AnswerKind::redirect_elsewhere);
  }
  SUBCASE("Caddy to 0.0.0.0 is loopback-like from anywhere") {
    auto r = recognised(caddy_redir, AskedUrl{"http", "127.0.0.1", 18083});
    REQUIRE(r.has_value());
    CHECK(r->kind == AnswerKind::redirect_to_loopback);
  }
  SUBCASE("Apache to 127.0.0.1:9000, asked by name") {
    auto r = recognised(apache_redir, AskedUrl{"http", "intranet.example", 18081});
    REQUIRE(r.has_value());
    CHECK(r->kind == AnswerKind::redirect_to_loopback);
  }
  SUBCASE("nginx made its relative Location absolute with the Host asked: fine") {
    CHECK_FALSE(recognised(nginx_rel, AskedUrl{"http", "127.0.0.1", 18080}).has_value());
    auto other = recognised(nginx_rel, AskedUrl{"http", "127.0.0.1", 80});
    REQUIRE(other.has_value());
    CHECK(other->kind == AnswerKind::redirect_elsewhere);
  }
  auto loc = [](std::string_view location, const AskedUrl& asked) {
    std::string text = "HTTP/1.1 301 Moved Permanently\r\nLocation: " + std::string(location) + "\r\n\r\n";
    auto r = recognise_answer(*parse_http_answer(text, true), asked);
    return r ? std::optional<AnswerKind>(r->kind) : std::nullopt;
  };
  const AskedUrl site{"http", "Example.COM", 80};
  CHECK_FALSE(loc("/login", site).has_value());
  CHECK_FALSE(loc("https://example.com/", site).has_value());  // the usual upgrade
  CHECK_FALSE(loc("http://EXAMPLE.com:80/x", site).has_value());
  CHECK(loc("https://example.com:8443/", site) == AnswerKind::redirect_elsewhere);
  CHECK(loc("http://www.example.com/", site) == AnswerKind::redirect_elsewhere);
  CHECK(loc("//cdn.example.net/", site) == AnswerKind::redirect_elsewhere);
  CHECK(loc("http://[::1]:8080/", site) == AnswerKind::redirect_to_loopback);
  CHECK(loc("http://[::ffff:127.0.0.1]/", site) == AnswerKind::redirect_to_loopback);
  CHECK(loc("http://127.8.9.10/", site) == AnswerKind::redirect_to_loopback);
  CHECK(loc("http://app.localhost/", site) == AnswerKind::redirect_to_loopback);
  CHECK(loc("http://user@127.0.0.1@evil/", site) == AnswerKind::redirect_elsewhere);
  CHECK(loc("http://example.com@127.0.0.1/", site) == AnswerKind::redirect_to_loopback);
  CHECK(loc("http://0.0.0.0:8000/", AskedUrl{"http", "localhost", 8000}) == AnswerKind::redirect_to_loopback);
  CHECK_FALSE(loc("http://localhost:8000/", AskedUrl{"http", "127.0.0.1", 8000}).has_value());
  for (std::string_view odd : {"http://", "http://[::1", "http://h:99999/", "http://h:-1/", "mailto:x@y", "http://h:/"}) {
    CAPTURE(odd);
    (void)loc(odd, site);  // no throw, no crash
  }
}

TEST_CASE("ordinary answers are not recognised as failures") {
  for (std::string_view text : {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "HTTP/1.1 404 Not Found\r\n\r\n",
                                "HTTP/1.1 403 Forbidden\r\nServer: nginx\r\n\r\n<h1>403 Forbidden</h1>",
                                "HTTP/1.1 400 Bad Request\r\n\r\nbad", "HTTP/1.1 304 Not Modified\r\n\r\n"}) {
    CAPTURE(text);
    CHECK_FALSE(recognise_answer(*parse_http_answer(text, true), remote).has_value());
  }
}
