// netwhy url's parsers and its diagnosis, the first input byte picking one,
// each with the promise its header makes: a URL parsed and printed parses
// back to itself; an answer's parse and recognition stay bounded and their
// evidence is safe on a terminal; nginx's configuration grammar and its
// upstreams never crash; the proxy decision from any environment is one
// curl could make; and diagnose_url on any answer bytes gives one answer
// (no error when reachable, one when not) that renders as valid JSON and
// terminal-safe text.
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "fuzz.hpp"
#include "netwhy/http_diagnosis.hpp"
#include "netwhy/nginx_conf.hpp"
#include "netwhy/render_url.hpp"
#include "netwhy/url.hpp"

namespace {

using namespace netwhy;

Snapshot host_with_listener() {
  Snapshot s;
  s.firewall.read = true;
  Link lo;
  lo.ifindex = 1;
  lo.name = "lo";
  lo.flags = 0x1 | 0x8 | 0x40 | 0x10000;  // UP, LOOPBACK, RUNNING, LOWER_UP
  Link eth;
  eth.ifindex = 2;
  eth.name = "eth0";
  eth.flags = 0x1 | 0x2 | 0x40 | 0x1000 | 0x10000;
  s.links = {lo, eth};
  for (const auto& [ifindex, text, len] : {std::tuple{1, "127.0.0.1", 8}, std::tuple{2, "10.0.2.15", 24}}) {
    Address a;
    a.ifindex = ifindex;
    a.local = fuzz::ip(text);
    a.address = a.local;
    a.family = Family::inet;
    a.prefixlen = static_cast<std::uint8_t>(len);
    s.addresses.push_back(a);
  }
  Listener l;
  l.socket.protocol = Protocol::tcp;
  l.socket.local = fuzz::ip("0.0.0.0");
  l.socket.family = Family::inet;
  l.socket.port = 8080;
  l.socket.state = tcp_listen;
  l.socket.queued = 0;
  l.socket.backlog = 128;
  Process p;
  p.pid = 60;
  p.ppid = 1;
  p.comm = "nginx";
  p.cmdline = "nginx: master process /usr/sbin/nginx";
  l.processes = {p};
  s.listeners.push_back(l);
  return s;
}

void one_answer(const UrlDiagnosis& u) {
  bool error = false;
  for (const Finding& f : u.diagnosis.findings) error = error || f.severity == Severity::error;
  if (u.diagnosis.verdict == Verdict::reachable) fuzz::check(!error, "reachable has no error finding");
  if (u.diagnosis.verdict == Verdict::unreachable) fuzz::check(error, "unreachable has an error finding");
  fuzz::check(!u.diagnosis.headline.empty(), "a headline");
  char* buf = nullptr;
  std::size_t len = 0;
  FILE* mem = open_memstream(&buf, &len);
  if (mem == nullptr) return;
  {
    JsonWriter out(JsonStyle::compact, mem);
    render_url_json(out, u);
    out.flush();
  }
  std::fclose(mem);
  const std::string json(buf, len);
  std::free(buf);  // NOLINT: open_memstream's
  fuzz::check(fuzz::valid_utf8(json), "url -j is valid UTF-8");
  fuzz::check(!nlohmann::json::parse(json, nullptr, false).is_discarded(), "url -j is JSON");
  fuzz::check(fuzz::terminal_safe(render_url_text(u, Palette{})), "url's text is safe for a terminal");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text = fuzz::text_of(data + 1, size - 1);
  switch (data[0] % 5U) {
    case 0: {
      auto u = parse_url(text);
      if (u) {
        auto again = parse_url(u->to_string());
        fuzz::check(again.has_value() && again->to_string() == u->to_string(), "a URL printed parses back to itself");
        fuzz::check(build_request(u->host_header(), u->target, "0").has_value(), "a parsed URL makes a request");
      } else {
        fuzz::check(fuzz::terminal_safe(u.error().message()), "a URL's error is safe for a terminal");
      }
      break;
    }
    case 1: {
      for (const bool complete : {false, true}) {
        auto a = parse_http_answer(text, complete);
        if (!a) continue;
        fuzz::check(a->body.size() <= http_max_body, "the body kept is bounded");
        fuzz::check(a->headers.size() <= http_max_headers, "the headers kept are bounded");
        for (const char* url_text : {"http://10.0.2.15:8080/", "https://localhost/"}) {
          AskedUrl asked;
          const auto u = parse_url(url_text);
          asked.scheme = u->scheme;
          asked.host = u->host;
          asked.port = u->port;
          if (auto r = recognise_answer(*a, asked)) {
            fuzz::check(fuzz::terminal_safe(r->evidence), "the evidence is safe for a terminal");
          }
        }
      }
      (void)speaks(text);
      break;
    }
    case 2: {
      auto parsed = parse_nginx_config(text, "fuzz.conf");
      if (!parsed) {
        fuzz::check(fuzz::terminal_safe(parsed.error().message()), "nginx's error is safe for a terminal");
        break;
      }
      NginxConfig config;
      config.directives = std::move(*parsed);
      for (const std::uint16_t port : {std::uint16_t{80}, std::uint16_t{8080}}) {
        (void)upstreams_for_port(config, port);
        (void)upstreams_for_port(config, port, "example.com");
      }
      (void)nginx_conf_from_cmdline(text);
      break;
    }
    case 3: {
      const auto [proxy, no_proxy] = fuzz::split_at_nul(text);
      for (const char* host : {"localhost", "10.0.2.15", "::1", "www.example.com"}) {
        for (const char* scheme : {"http", "https"}) {
          const Environment env{{"http_proxy", std::string(proxy)},
                                {"HTTPS_PROXY", std::string(proxy)},
                                {"no_proxy", std::string(no_proxy)}};
          const ProxyDecision d = decide_proxy(scheme, host, env);
          fuzz::check(!d.no_proxy_match || !d.uses_proxy(), "no_proxy's match means no proxy");
          if (d.uses_proxy()) fuzz::check(d.proxy.has_value() != d.proxy_error.has_value(), "a proxy or why not");
        }
      }
      break;
    }
    case 4: {
      static const Snapshot snap = host_with_listener();
      for (const char* url_text : {"http://10.0.2.15:8080/", "https://10.0.2.15:8080/a", "http://localhost:8080/"}) {
        HttpFacts f;
        f.url = *parse_url(url_text);
        f.typed = url_text;
        Query q = url_query(f.url);
        q.addresses = {fuzz::ip(f.url.host == "localhost" ? "127.0.0.1" : f.url.host.c_str())};
        ExchangeResult x;
        x.reached = ExchangeStage::done;
        x.answer = std::string(text.substr(0, http_max_head + http_max_body));
        x.first_bytes = x.answer.substr(0, exchange_max_first_bytes);
        x.complete = true;
        if (f.url.tls()) {
          x.tls = TlsFacts{};
          x.tls->protocol = "TLSv1.3";
          x.tls->names = {std::string(text.substr(0, 40))};
          if (!text.empty() && (static_cast<unsigned char>(text[0]) & 1U) != 0) x.tls->problems = {TlsProblem::expired};
        }
        f.exchange = std::move(x);
        f.connected_to = q.addresses.front();
        one_answer(diagnose_url(snap, q, f));
      }
      break;
    }
  }
  return 0;
}
