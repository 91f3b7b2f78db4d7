// diagnose_url on synthetic snapshots and exchanges: the verdict, the
// severities and the headline of `netwhy url`, decided in one place.
#include <doctest/doctest.h>

#include <cerrno>

#include <nlohmann/json.hpp>

#include "netwhy/http_diagnosis.hpp"
#include "netwhy/render_url.hpp"
#include "snapshot_builder.hpp"
#include "source_tree.hpp"

using namespace snaptest;

namespace {

const std::vector<Process> flask = {proc(40, 1, "python3", "python3 app.py")};

struct Case {
  Host h;
  HttpFacts f;
  Query q;

  explicit Case(const char* url_text, Environment env = {}) {
    auto u = parse_url(url_text);
    REQUIRE(u.has_value());
    f.url = *u;
    f.typed = url_text;
    f.proxy = decide_proxy(u->scheme, u->host, env);
    q = url_query(*u);
    q.url = url_text;
    if (auto a = IpAddr::parse(u->host)) {
      q.addresses.push_back(*a);
    } else if (u->host == "localhost") {
      q.addresses.push_back(*IpAddr::parse("127.0.0.1"));
    }
    f.request = "GET / HTTP/1.1\r\n\r\n";
  }
  // The exchange went through and this came back.
  Case& answered(std::string bytes) {
    ExchangeResult x;
    x.reached = ExchangeStage::done;
    x.first_bytes = bytes.substr(0, 512);
    x.answer = std::move(bytes);
    x.complete = true;
    if (f.url.tls()) x.tls = TlsFacts{};
    if (f.url.tls()) x.tls->protocol = "TLSv1.3";
    f.exchange = std::move(x);
    f.connected_to = q.addresses.empty() ? IpAddr{} : q.addresses.front();
    return *this;
  }
  Case& refused(int err = ECONNREFUSED) {
    ExchangeResult x;
    x.reached = ExchangeStage::connect;
    x.error_number = err;
    f.exchange = x;
    f.failed_connects.push_back(HttpFacts::Attempt{q.addresses.empty() ? IpAddr{} : q.addresses.front(), err, false});
    return *this;
  }
  UrlDiagnosis run() const { return diagnose_url(h.s, q, f); }
};

std::string ok_answer(const char* server = "Werkzeug/2.2.2 Python/3.11.2") {
  return std::string("HTTP/1.1 200 OK\r\nServer: ") + server + "\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok";
}

std::optional<Finding> finding(const UrlDiagnosis& u, std::string_view code) { return snaptest::finding(u.diagnosis, code); }

bool has_error(const UrlDiagnosis& u) {
  return std::any_of(u.diagnosis.findings.begin(), u.diagnosis.findings.end(),
                     [](const Finding& x) { return x.severity == Severity::error; });
}

// One answer: reachable has no error, a "no" has one, and the JSON says the same.
void one_answer(const UrlDiagnosis& u) {
  CAPTURE(u.diagnosis.headline);
  if (u.diagnosis.verdict == Verdict::reachable) CHECK_FALSE(has_error(u));
  if (u.diagnosis.verdict == Verdict::unreachable || u.diagnosis.verdict == Verdict::not_listening) CHECK(has_error(u));
  CHECK_FALSE(u.diagnosis.headline.empty());
  std::string text;
  {
    char* buf = nullptr;
    std::size_t len = 0;
    FILE* mem = open_memstream(&buf, &len);
    REQUIRE(mem != nullptr);
    JsonWriter out(JsonStyle::compact, mem);
    render_url_json(out, u);
    out.flush();
    std::fclose(mem);
    text.assign(buf, len);
    std::free(buf);  // NOLINT: open_memstream's buffer
  }
  const auto j = nlohmann::json::parse(text, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  CHECK(j["verdict"] == std::string(to_string(u.diagnosis.verdict)));
  CHECK(j["query"]["url"].is_string());
  CHECK(j["http"]["request"]["method"] == "GET");
  const std::string plain = render_url_text(u, Palette{});
  CHECK(plain.find('\x1b') == std::string::npos);
  CHECK(plain.rfind(u.diagnosis.headline.substr(0, 20), 0) == 0);
}

}  // namespace

TEST_CASE("a working answer from a server every address takes: reachable, the answer named") {
  Case c("http://10.0.2.15:5000/");
  c.h.listen("0.0.0.0", 5000, flask);
  c.answered(ok_answer());
  const auto u = c.run();
  CHECK(u.diagnosis.verdict == Verdict::reachable);
  CHECK(finding(u, "http-ok")->severity == Severity::info);
  CHECK(u.diagnosis.headline.rfind("http://10.0.2.15:5000/ answers 200 OK from Werkzeug", 0) == 0);
  CHECK(u.http.answer->status == 200);
  CHECK(u.http.speaks == "http");
  one_answer(u);
}

TEST_CASE("the port's no stands: a firewall that drops other machines, whatever this host's request got") {
  Case c("http://10.0.2.15:5000/");
  c.h.listen("127.0.0.1", 5000, flask);
  c.refused();
  const auto u = c.run();
  CHECK(u.diagnosis.verdict == Verdict::local_only);
  CHECK(finding(u, "bound-to-loopback")->severity == Severity::error);
  CHECK(finding(u, "no-http-answer") == std::nullopt);  // the port's diagnosis says why
  one_answer(u);
}

TEST_CASE("nothing connected where the port's model said yes: unreachable, and the connect's error") {
  Case c("http://localhost:5000/");
  c.h.listen("127.0.0.1", 5000, flask);
  c.refused();
  const auto u = c.run();
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  CHECK(finding(u, "connection-refused")->message.find("connection refused") != std::string::npos);
  one_answer(u);
}

TEST_CASE("host-not-allowed: Django's DisallowedHost page, with its fix") {
  Case c("http://10.0.2.15:8000/");
  c.h.listen("0.0.0.0", 8000, {proc(50, 1, "python3", "python3 manage.py runserver 0.0.0.0:8000")});
  c.answered(
      "HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n\r\n<title>DisallowedHost at /</title>"
      "<pre class=\"exception_value\">Invalid HTTP_HOST header: &#x27;10.0.2.15:8000&#x27;. You may need to add "
      "&#x27;10.0.2.15&#x27; to ALLOWED_HOSTS.</pre>\n");
  const auto u = c.run();
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  const auto f = finding(u, "host-not-allowed");
  REQUIRE(f);
  CHECK(f->severity == Severity::error);
  CHECK(f->fix->find("ALLOWED_HOSTS") != std::string::npos);
  CHECK(f->fix->find("10.0.2.15") != std::string::npos);
  CHECK(u.diagnosis.headline == "Django rejects the Host 10.0.2.15:8000 that clients send: it is not in ALLOWED_HOSTS (DisallowedHost, 400)");
  CHECK(exit_status(u.diagnosis.verdict) == 1);
  one_answer(u);
}

TEST_CASE("certificates: each problem fails the verdict, unless --insecure") {
  Case c("https://10.0.2.15/");
  c.h.listen("0.0.0.0", 443, {proc(60, 1, "nginx", "nginx: master process /usr/sbin/nginx")});
  c.answered(ok_answer("nginx/1.22.1"));
  c.f.exchange->tls->problems = {TlsProblem::expired};
  c.f.exchange->tls->not_after = "2020-01-01T00:00:00Z";
  auto u = c.run();
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  CHECK(finding(u, "tls-expired")->message.find("2020-01-01") != std::string::npos);
  CHECK(finding(u, "tls-expired")->severity == Severity::error);
  CHECK(finding(u, "tls-ok") == std::nullopt);
  one_answer(u);
  c.f.insecure = true;
  u = c.run();
  CHECK(u.diagnosis.verdict == Verdict::reachable);
  CHECK(finding(u, "tls-expired")->severity == Severity::info);
  one_answer(u);

  c.f.insecure = false;
  c.f.exchange->tls->problems = {TlsProblem::name_mismatch};
  c.f.exchange->tls->names = {"www.example.invalid"};
  u = c.run();
  CHECK(finding(u, "tls-name-mismatch")->message.find("www.example.invalid") != std::string::npos);
  CHECK(finding(u, "tls-name-mismatch")->fix->find("https://www.example.invalid:443/") != std::string::npos);
  c.f.exchange->tls->problems = {TlsProblem::untrusted};
  c.f.exchange->tls->self_signed = true;
  u = c.run();
  CHECK(finding(u, "tls-untrusted")->message.find("self-signed") != std::string::npos);
  c.f.exchange->tls->problems = {TlsProblem::chain_incomplete};
  u = c.run();
  CHECK(finding(u, "tls-chain-incomplete")->fix->find("full chain") != std::string::npos);
  c.f.exchange->tls->problems = {};
  u = c.run();
  CHECK(u.diagnosis.verdict == Verdict::reachable);
  CHECK(finding(u, "tls-ok")->severity == Severity::info);
  one_answer(u);
}

TEST_CASE("the wrong scheme either way names the URL that works") {
  Case plain("https://10.0.2.15:8000/x");
  plain.h.listen("0.0.0.0", 8000, flask);
  ExchangeResult x;
  x.reached = ExchangeStage::tls_handshake;
  x.first_bytes = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n\r\n";
  x.tls = TlsFacts{};
  x.tls->problems = {TlsProblem::handshake};
  x.tls->handshake_error = "wrong version number";
  plain.f.exchange = x;
  auto u = plain.run();
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  CHECK(finding(u, "https-to-plain-port")->fix == "use http://10.0.2.15:8000/x (or turn TLS on in the server)");
  CHECK(u.http.speaks == "http");
  one_answer(u);

  Case tls("http://10.0.2.15:8443/");
  tls.h.listen("0.0.0.0", 8443, flask);
  tls.answered(std::string("\x15\x03\x03\x00\x02\x02\x46", 7));
  u = tls.run();
  CHECK(finding(u, "http-to-tls-port")->fix == "use https://10.0.2.15:8443/");
  CHECK(u.http.speaks == "tls");
  one_answer(u);

  Case nginx("http://10.0.2.15/");
  nginx.h.listen("0.0.0.0", 80, flask);
  nginx.answered(
      "HTTP/1.1 400 Bad Request\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n\r\n<html>\r\n<head><title>400 "
      "The plain HTTP request was sent to HTTPS port</title></head>\r\n<body>\r\n<center><h1>400 Bad "
      "Request</h1></center>\r\n<center>The plain HTTP request was sent to HTTPS port</center>\r\n<hr><center>nginx/"
      "1.22.1</center>\r\n</body>\r\n</html>\r\n");
  u = nginx.run();
  CHECK(finding(u, "http-to-tls-port")->fix == "use https://10.0.2.15/");
  one_answer(u);
}

TEST_CASE("a redirect to localhost fails other machines, not this host's own client") {
  const std::string redirect = "HTTP/1.1 301 Moved Permanently\r\nServer: nginx\r\nLocation: http://localhost:8000/\r\n\r\n";
  Case remote("http://10.0.2.15:8080/");
  remote.h.listen("0.0.0.0", 8080, flask);
  remote.answered(redirect);
  auto u = remote.run();
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  CHECK(finding(u, "redirect-to-loopback")->severity == Severity::error);
  one_answer(u);
  Case local("http://localhost:8080/");
  local.h.listen("0.0.0.0", 8080, flask);
  local.answered(redirect);
  u = local.run();
  CHECK(u.diagnosis.verdict == Verdict::reachable);
  CHECK(finding(u, "redirect-to-loopback") == std::nullopt);  // same host: the recogniser lets it be
  one_answer(u);
}

TEST_CASE("a proxy elsewhere can't reach this machine's localhost: no_proxy is the fix") {
  Case c("http://localhost:8000/", {{"http_proxy", "http://10.9.9.9:8888"}});
  c.h.listen("127.0.0.1", 8000, flask);
  c.answered("HTTP/1.1 500 Unable to connect\r\nServer: tinyproxy/1.11.1\r\nContent-Type: text/html\r\n\r\n<html>");
  c.f.connected_to = *IpAddr::parse("10.9.9.9");
  const auto u = c.run();
  CHECK(u.http.via_proxy);
  CHECK(u.http.target == "http://localhost:8000/");
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  const auto f = finding(u, "proxy-refused");
  REQUIRE(f);
  CHECK(f->severity == Severity::error);
  CHECK(f->fix->rfind("export no_proxy=", 0) == 0);
  CHECK(f->fix->find("localhost") != std::string::npos);
  CHECK(finding(u, "proxy-used")->severity == Severity::warning);
  // what the port says of localhost from here is beside the point now
  for (const Finding& pf : u.diagnosis.findings) {
    if (pf.code < Code::proxy_invalid) CHECK(pf.severity == Severity::info);
  }
  CHECK(u.diagnosis.headline.rfind("The answer came from the proxy http://10.9.9.9:8888", 0) == 0);
  one_answer(u);
}

TEST_CASE("a proxy that refuses connections, one curl refuses, one netwhy does not speak") {
  Case dead("http://10.0.2.15:8000/", {{"http_proxy", "http://127.0.0.1:9"}});
  dead.h.listen("0.0.0.0", 8000, flask);
  dead.f.proxy_addresses = {*IpAddr::parse("127.0.0.1")};
  dead.refused();
  auto u = dead.run();
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  CHECK(finding(u, "proxy-unreachable")->message.find("refuses connections (nothing listens there)") != std::string::npos);
  CHECK(u.http.proxy_reachable == false);
  one_answer(u);

  Case bad("http://10.0.2.15:8000/", {{"http_proxy", "ftp.corp:21"}});
  bad.h.listen("0.0.0.0", 8000, flask);
  u = bad.run();
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  CHECK(finding(u, "proxy-invalid") != std::nullopt);
  one_answer(u);

  Case socks("http://10.0.2.15:8000/", {{"ALL_PROXY", "socks5h://10.9.9.9:1080"}});
  socks.h.listen("0.0.0.0", 8000, flask);
  u = socks.run();
  CHECK(u.diagnosis.verdict == Verdict::unknown);
  CHECK(exit_status(u.diagnosis.verdict) == 3);
  CHECK(finding(u, "proxy-unsupported")->severity == Severity::warning);
  CHECK(u.diagnosis.headline.find("is unknown: it goes through the socks5h proxy in ALL_PROXY") != std::string::npos);
  one_answer(u);
}

TEST_CASE("no_proxy lists the host: straight to it, and said so") {
  Case c("http://localhost:8000/", {{"http_proxy", "http://10.9.9.9:8888"}, {"no_proxy", "localhost"}});
  c.h.listen("127.0.0.1", 8000, flask);
  c.answered(ok_answer());
  const auto u = c.run();
  CHECK_FALSE(u.http.via_proxy);
  CHECK(u.diagnosis.verdict == Verdict::reachable);
  CHECK(finding(u, "proxy-bypassed")->message.find("\"localhost\"") != std::string::npos);
  one_answer(u);
}

TEST_CASE("upstream-error: nginx's 502, with its upstream's own diagnosis and fix") {
  Case c("http://10.0.2.15:8080/");
  c.h.listen("0.0.0.0", 8080, {proc(60, 1, "nginx", "nginx: master process /usr/sbin/nginx")});
  c.answered(
      "HTTP/1.1 502 Bad Gateway\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n\r\n<html>\r\n<head><title>502 "
      "Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.22.1"
      "</center>\r\n</body>\r\n</html>\r\n");
  Host upstream_host;
  upstream_host.listen("127.0.0.1", 9001, flask);  // the app moved to 9001
  UpstreamCheck up;
  up.proxy = "nginx";
  up.directive = "proxy_pass http://127.0.0.1:9000";
  up.source = "/etc/nginx/sites-enabled/app:7";
  up.host = "127.0.0.1";
  up.port = 9000;
  up.diagnosis = diagnose(upstream_host.s, query(9000, "127.0.0.1", {"127.0.0.1"}));
  c.f.upstreams.push_back(up);
  const auto u = c.run();
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  const auto f = finding(u, "upstream-error");
  REQUIRE(f);
  CAPTURE(f->message);
  CHECK(f->message.find("proxy_pass http://127.0.0.1:9000 (/etc/nginx/sites-enabled/app:7): nothing listens") !=
        std::string::npos);
  CHECK(u.diagnosis.headline.rfind("nginx answered 502", 0) == 0);
  one_answer(u);
}

TEST_CASE("no HTTP answer: silence, a closed connection, another protocol") {
  Case c("http://10.0.2.15:2222/");
  c.h.listen("0.0.0.0", 2222, {proc(70, 1, "sshd", "sshd: /usr/sbin/sshd")});
  c.answered("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
  auto u = c.run();
  CHECK(finding(u, "no-http-answer")->message.find("not HTTP: SSH-2.0") != std::string::npos);
  one_answer(u);
  c.answered("");
  c.f.exchange->reached = ExchangeStage::receive;
  u = c.run();
  CHECK(finding(u, "no-http-answer")->message.find("closed the connection without an answer") != std::string::npos);
  c.f.exchange->timed_out = true;
  c.f.exchange->complete = false;
  u = c.run();
  CHECK(finding(u, "no-http-answer")->message.find("sent nothing back within") != std::string::npos);
  one_answer(u);
}

TEST_CASE("4xx and 5xx that nothing else explains, and raw bytes in the answer") {
  Case c("http://10.0.2.15:5000/missing");
  c.h.listen("0.0.0.0", 5000, flask);
  c.answered("HTTP/1.1 404 NOT FOUND\x1b[2J\r\nServer: \x1b]0;evil\x07\xff\r\n\r\n");
  const auto u = c.run();
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  CHECK(finding(u, "http-error-status")->message.rfind("GET /missing answered 404", 0) == 0);
  one_answer(u);
}

TEST_CASE("a 5xx through a proxy: the proxy's own, or the origin's relayed with Via") {
  Case own("http://10.0.2.15:8080/", {{"http_proxy", "http://10.9.9.9:8888"}});
  own.h.listen("0.0.0.0", 8080, flask);
  own.answered("HTTP/1.1 502 Bad Gateway\r\nServer: squid\r\nX-Squid-Error: ERR_CONNECT_FAIL 111\r\nVia: 1.1 p (squid)\r\n\r\n");
  auto u = own.run();
  CHECK(finding(u, "proxy-refused") != std::nullopt);
  one_answer(u);
  Case relayed("http://10.0.2.15:8080/", {{"http_proxy", "http://10.9.9.9:8888"}});
  relayed.h.listen("0.0.0.0", 8080, flask);
  relayed.answered(
      "HTTP/1.1 502 Bad Gateway\r\nServer: nginx/1.22.1\r\nVia: 1.1 tinyproxy (tinyproxy/1.11.1)\r\n\r\n<html><hr><center>"
      "nginx/1.22.1</center></html>");
  u = relayed.run();
  CHECK(finding(u, "proxy-refused") == std::nullopt);
  CHECK(finding(u, "upstream-error")->severity == Severity::error);
  one_answer(u);
}

TEST_CASE("nothing asked while the port says yes: unknown, never reachable") {
  Case c("http://10.0.2.15:8080/");
  c.h.listen("0.0.0.0", 8080, flask);
  const auto u = c.run();  // no exchange in the facts
  CHECK(u.diagnosis.verdict == Verdict::unknown);
  CHECK(u.diagnosis.headline.find("did not send the request") != std::string::npos);
  one_answer(u);
}

TEST_CASE("a proxy that wants credentials: curl's own, unknown; none given, curl fails too") {
  Case with("http://10.0.2.15:8080/", {{"http_proxy", "http://user:pw@10.9.9.9:8888"}});
  with.h.listen("0.0.0.0", 8080, flask);
  with.answered("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\n\r\n");
  auto u = with.run();
  CHECK(u.diagnosis.verdict == Verdict::unknown);
  CHECK(finding(u, "proxy-unsupported") != std::nullopt);
  for (const Finding& x : u.diagnosis.findings) CHECK(x.message.find("pw") == std::string::npos);
  one_answer(u);
  Case without("https://10.0.2.15:8443/", {{"https_proxy", "http://10.9.9.9:8888"}});
  without.h.listen("0.0.0.0", 8443, flask);
  ExchangeResult x;
  x.reached = ExchangeStage::proxy_connect;
  x.proxy_answer = "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\n\r\n";
  without.f.exchange = x;
  u = without.run();
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  CHECK(finding(u, "proxy-refused")->fix->find("https_proxy=http://USER:PASSWORD@10.9.9.9:8888") != std::string::npos);
  one_answer(u);
}

TEST_CASE("answers curl does not call working: an interim answer alone, a body cut short, a stall") {
  Case interim("http://10.0.2.15:8080/");
  interim.h.listen("0.0.0.0", 8080, flask);
  interim.answered("HTTP/1.1 100 Continue\r\n\r\n");
  auto u = interim.run();
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  CHECK(finding(u, "no-http-answer")->message.find("interim answer (100 Continue)") != std::string::npos);
  one_answer(u);

  Case cut("http://10.0.2.15:8080/");
  cut.h.listen("0.0.0.0", 8080, flask);
  cut.answered("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab");
  u = cut.run();
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  CHECK(finding(u, "no-http-answer")->message.find("(curl: (18)") != std::string::npos);
  cut.answered("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab");
  CHECK(cut.run().diagnosis.verdict == Verdict::unreachable);

  Case stall("http://10.0.2.15:8080/");
  stall.h.listen("0.0.0.0", 8080, flask);
  stall.answered("HTTP/1.1 200 OK\r\nContent-Type: x\r\n");
  stall.f.exchange->complete = false;
  stall.f.exchange->timed_out = true;
  u = stall.run();
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  CHECK(finding(u, "no-http-answer")->message.find("part of an answer's head") != std::string::npos);
  stall.answered("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab");
  stall.f.exchange->complete = false;
  stall.f.exchange->timed_out = true;
  CHECK(stall.run().diagnosis.verdict == Verdict::unreachable);
  // a stream of server-sent events never ends, and that is how it works
  stall.answered("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n");
  stall.f.exchange->complete = false;
  stall.f.exchange->timed_out = true;
  CHECK(stall.run().diagnosis.verdict == Verdict::reachable);
}

TEST_CASE("a proxy URL curl refuses: its password stays off the screen") {
  Case c("http://10.0.2.15:8080/", {{"http_proxy", "ftp://bob:s3cret@proxy:3128"}});
  c.h.listen("0.0.0.0", 8080, flask);
  const auto u = c.run();
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  CHECK(u.diagnosis.headline.find("s3cret") == std::string::npos);
  for (const Finding& x : u.diagnosis.findings) {
    CHECK(x.message.find("s3cret") == std::string::npos);
    CHECK(x.fix.value_or("").find("s3cret") == std::string::npos);
  }
  one_answer(u);
}

TEST_CASE("inside a CONNECT tunnel a 5xx is the origin's; LOCALHOST is localhost") {
  Case tunnel("https://10.0.2.15:8443/", {{"https_proxy", "http://10.9.9.9:8888"}});
  tunnel.h.listen("0.0.0.0", 8443, flask);
  tunnel.answered("HTTP/1.1 502 Bad Gateway\r\nServer: nginx/1.22.1\r\n\r\n<hr><center>nginx/1.22.1</center>");
  auto u = tunnel.run();
  CHECK(finding(u, "proxy-refused") == std::nullopt);
  CHECK(finding(u, "upstream-error") != std::nullopt);
  one_answer(u);
  Case upper("http://LOCALHOST:8080/");
  upper.q.addresses = {*IpAddr::parse("127.0.0.1")};
  upper.h.listen("0.0.0.0", 8080, flask);
  upper.answered("HTTP/1.1 302 Found\r\nLocation: http://0.0.0.0:8080/x\r\n\r\n");
  u = upper.run();
  CHECK(u.diagnosis.verdict == Verdict::reachable);
  one_answer(u);
}

TEST_CASE("the port's no for other machines, while this host's own request works: both said") {
  Case c("http://10.0.2.15:5000/");
  c.h.listen("0.0.0.0", 5000, flask);
  c.h.link_named("eth0").flags = IFF_BROADCAST;  // down: no other machine gets here
  c.answered(ok_answer());
  const auto u = c.run();
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  CHECK(u.diagnosis.headline.find("; from this host, http://10.0.2.15:5000/ answers 200 OK") != std::string::npos);
  one_answer(u);
}

TEST_CASE("a redirect to https on the same host: fine where something listens, a failure where nothing does") {
  Case c("http://10.0.2.15:8080/");
  c.h.listen("0.0.0.0", 8080, flask);
  c.answered("HTTP/1.1 301 Moved Permanently\r\nLocation: https://10.0.2.15/\r\n\r\n");
  HttpFacts::RedirectCheck check;
  check.target = *parse_url("https://10.0.2.15/");
  check.addresses = {*IpAddr::parse("10.0.2.15")};
  Probe p;
  p.address = check.addresses.front();
  p.port = 443;
  p.result = ProbeResult::ok;
  check.probe = p;
  c.f.redirect = check;
  auto u = c.run();
  CHECK(u.diagnosis.verdict == Verdict::reachable);
  one_answer(u);
  c.f.redirect->probe->result = ProbeResult::refused;
  u = c.run();
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  const auto f = finding(u, "redirect-elsewhere");
  REQUIRE(f);
  CHECK(f->severity == Severity::error);
  CHECK(f->message.find("https://10.0.2.15/, and nothing accepts connections there") != std::string::npos);
  one_answer(u);
  c.f.redirect->probe.reset();
  c.f.redirect->resolve_error = "cannot resolve";
  CHECK(c.run().diagnosis.verdict == Verdict::unreachable);
}

TEST_CASE("a certificate not valid yet, and a handshake that fails") {
  Case c("https://10.0.2.15/");
  c.h.listen("0.0.0.0", 443, flask);
  c.answered(ok_answer());
  c.f.exchange->tls->problems = {TlsProblem::not_yet_valid};
  c.f.exchange->tls->not_before = "2030-01-01T00:00:00Z";
  auto u = c.run();
  CHECK(finding(u, "tls-not-yet-valid")->message.find("2030-01-01") != std::string::npos);
  one_answer(u);
  ExchangeResult x;
  x.reached = ExchangeStage::tls_handshake;
  x.first_bytes = std::string("\x15\x03\x03\x00\x02\x02\x46", 7);
  x.tls = TlsFacts{};
  x.tls->problems = {TlsProblem::handshake};
  x.tls->handshake_error = "tlsv1 alert protocol version";
  c.f.exchange = x;
  u = c.run();
  CHECK(u.diagnosis.verdict == Verdict::unreachable);
  CHECK(finding(u, "tls-handshake")->message.find("tlsv1 alert protocol version") != std::string::npos);
  one_answer(u);
}

// The golden cases (port --snapshot) can't show netwhy url's codes: this
// file must, each in a finding(u, "code") check (run_golden.py's coverage
// stops at them).
TEST_CASE("every code only netwhy url reports is checked here") {
  const std::string self = unittest::read_text(unittest::source_dir() + "/tests/unit/test_http_diagnosis.cpp");
  for (std::size_t i = static_cast<std::size_t>(first_url_code); i < code_table.size(); ++i) {
    const std::string code(code_table[i].name);
    CAPTURE(code);
    CHECK(self.find("finding(u, \"" + code + "\")") != std::string::npos);
  }
}
