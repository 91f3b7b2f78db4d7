// netwhy url: the layers above TCP. The rules read the facts in the order a
// request meets them (the proxy, the TLS handshake, the HTTP answer) and
// draft findings; grade_url() below is the one place that decides the
// verdict from them and the port's own verdict, and sets every severity and
// the headline.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "engine.hpp"
#include "netwhy/http_diagnosis.hpp"
#include "netwhy/text.hpp"

namespace netwhy {

namespace {

using engine::Effect;

struct HttpDraft {
  Finding finding;
  Effect effect = Effect::context;
  std::string reason;  // for a doubt: what is unknown, for the headline
};

// What the layers above TCP say about whether a client gets a working answer.
enum class Outcome {
  works,        // an answer a user would call working
  fails,        // a cause is drafted
  unknown,      // a doubt is drafted
  unconnected,  // no connection to the URL's host was made: the port's diagnosis answers
};

struct Rules {
  const Query& q;
  const HttpFacts& f;
  HttpReport& report;
  std::vector<HttpDraft> drafts;

  void add(Code code, Effect effect, std::string message, std::optional<std::string> fix = std::nullopt,
           std::string reason = {}) {
    HttpDraft d;
    d.finding.code = code;
    if (!message.empty() && message.back() != '.') message += '.';  // a sentence, as every finding's
    d.finding.message = std::move(message);
    d.finding.fix = std::move(fix);
    d.effect = effect;
    d.reason = std::move(reason);
    drafts.push_back(std::move(d));
  }
  [[nodiscard]] bool has(Effect e) const {
    return std::any_of(drafts.begin(), drafts.end(), [&](const HttpDraft& d) { return d.effect == e; });
  }
};

std::string errno_text(int e) {
  if (e == 0) return "failed";
  std::string s = std::strerror(e);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

// The proxy as a person reads it: scheme, host and port, never the credentials.
std::string proxy_shown(const ProxyDecision& p) { return p.proxy ? p.proxy->shown() : "the proxy"; }

// "export no_proxy=..." that sends curl straight to the URL's host, when one can.
std::optional<std::string> no_proxy_fix(const HttpFacts& f) {
  const std::string current = f.proxy.no_proxy_value.value_or("");
  const auto value = suggest_no_proxy(current, f.url.host);
  if (!value) return std::nullopt;
  const std::string var = f.proxy.no_proxy_variable.value_or("no_proxy");
  return fmt::format("export {}={}", var, shell_word(*value));
}

std::string join(const std::vector<std::string>& items, std::string_view sep, std::size_t max = 6) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < max; ++i) out += (i == 0 ? "" : std::string(sep)) + items[i];
  if (items.size() > max) out += fmt::format("{}... ({} in all)", sep, items.size());
  return out;
}

std::string target_text(const Url& u) { return engine::endpoint_text_host(u.host, u.port); }

// ---- the proxy ----

// The proxy curl would use; false when the request can't get past it.
void proxy_rules(Rules& r) {
  const HttpFacts& f = r.f;
  const ProxyDecision& p = f.proxy;
  if (p.no_proxy_match && !p.bypassed_variable.empty()) {
    r.add(Code::proxy_bypassed, Effect::context,
          fmt::format("{} lists {} (\"{}\"): curl goes straight to it, not through the proxy in {}",
                      p.no_proxy_variable.value_or("no_proxy"), f.url.host, *p.no_proxy_match, p.bypassed_variable));
  }
  if (!p.uses_proxy()) return;
  if (p.proxy_error) {
    r.add(Code::proxy_invalid, Effect::cause,
          // curl's own message quotes the URL, password and all: not repeated here
          fmt::format("curl refuses the proxy URL in {} and fails before it asks {} (curl: ({}) {})", p.variable,
                      target_text(f.url), p.proxy_error->curl_exit,
                      p.proxy_error->curl_exit == 7 ? "unsupported proxy scheme" : "unsupported proxy syntax"),
          fmt::format("set {} to a URL like http://proxy.example:3128, or unset it{}", p.variable,
                      no_proxy_fix(f) ? "; or go straight to the host: " + *no_proxy_fix(f) : ""));
    return;
  }
  const std::string shown = proxy_shown(p);
  // The no_proxy fix goes with the failure it cures (proxy-refused, proxy-unreachable), not here.
  r.add(Code::proxy_used, p.host_is_local ? Effect::hint : Effect::context,
        fmt::format("curl sends the request through the proxy {} (from {}), not straight to {}{}", shown, p.variable,
                    target_text(f.url),
                    p.host_is_local ? ": a proxy elsewhere can't reach this machine's own or private addresses" : ""));
}

// ---- the exchange ----

std::string tls_names(const TlsFacts& t) { return t.names.empty() ? "no name" : join(t.names, ", "); }

void tls_rules(Rules& r, const TlsFacts& t) {
  const HttpFacts& f = r.f;
  const std::string where = target_text(f.url);
  const Effect problem = f.insecure ? Effect::context : Effect::cause;
  const std::string ignored = f.insecure ? " (--insecure: curl -k goes on regardless)" : "";
  const std::string subject = t.subject.value_or("?");
  for (const TlsProblem pr : t.problems) {
    switch (pr) {
      case TlsProblem::handshake: break;  // reported with the exchange's stage
      case TlsProblem::expired:
        r.add(Code::tls_expired, problem,
              fmt::format("The certificate of {} ({}) expired on {}{}", where, subject, t.not_after.value_or("?"),
                          ignored),
              "renew it (certbot renew, or a new certificate from its CA) and reload the server");
        break;
      case TlsProblem::not_yet_valid:
        r.add(Code::tls_not_yet_valid, problem,
              fmt::format("The certificate of {} ({}) is valid only from {}{}", where, subject,
                          t.not_before.value_or("?"), ignored),
              "check the clocks (date, timedatectl) here and where the certificate was made; or reissue it");
        break;
      case TlsProblem::name_mismatch:
        r.add(Code::tls_name_mismatch, problem,
              fmt::format("The certificate of {} is for {}, not {}{}", where, tls_names(t), f.url.host, ignored),
              t.names.empty() || t.names.front().find('*') != std::string::npos
                  ? fmt::format("get a certificate whose subjectAltName lists {}", f.url.host)
                  : fmt::format("use a name it carries (https://{}:{}/), or get a certificate whose subjectAltName "
                                "lists {}",
                                t.names.front().find(':') != std::string::npos ? "[" + t.names.front() + "]"
                                                                               : t.names.front(),
                                f.url.port, f.url.host));
        break;
      case TlsProblem::untrusted:
        r.add(Code::tls_untrusted, problem,
              t.self_signed ? fmt::format("The certificate of {} is self-signed ({}): no trust store holds it{}", where,
                                          subject, ignored)
                            : fmt::format("The certificate of {} is issued by {}, which the trust store{} does not "
                                          "hold{}",
                                          where, t.issuer.value_or("?"), f.ca_file ? " (--cacert)" : "", ignored),
              "give clients its CA (curl --cacert CA.pem; for the whole host: copy it to "
              "/usr/local/share/ca-certificates/NAME.crt and run update-ca-certificates), or use a certificate "
              "from a public CA");
        break;
      case TlsProblem::chain_incomplete:
        r.add(Code::tls_chain_incomplete, problem,
              fmt::format("{} sends its certificate without the intermediate that links it to a trusted root "
                          "(issuer {}){}",
                          where, t.issuer.value_or("?"), ignored),
              "serve the full chain: the certificate followed by its intermediates (nginx: ssl_certificate "
              "fullchain.pem; Apache: SSLCertificateFile with the chain appended)");
        break;
    }
  }
  const bool verified = std::none_of(t.problems.begin(), t.problems.end(),
                                     [](TlsProblem p) { return p != TlsProblem::handshake; });
  if (verified && !t.protocol.empty()) {
    r.add(Code::tls_ok, Effect::context,
          fmt::format("{} with {}: the certificate for {} (issuer {}) verifies, valid until {}", t.protocol, where,
                      tls_names(t), t.issuer.value_or("?"), t.not_after.value_or("?")));
  }
}

// Bytes from the network quoted in a message, cut, raw: the renderers escape
// a finding's message for the terminal and make it valid UTF-8 for JSON.
std::string shorten_bytes(std::string_view bytes, std::size_t max = 60) {
  if (bytes.size() <= max) return std::string(bytes);
  return std::string(bytes.substr(0, max)) + "...";
}

// The answer came through an HTTP proxy, which wrote it itself (tinyproxy's
// "500 Unable to connect", squid's ERR_CONNECT_FAIL)? A 5xx through a proxy
// is taken as the proxy's, unless it carries the Via header a proxy adds to
// what it relays (tinyproxy and squid both do; tinyproxy's own error pages
// have none; squid marks its own with X-Squid-Error).
bool proxy_own_error(const HttpAnswer& a) {
  if (a.status < 500 || a.status > 504) return false;
  return !a.header("via") || a.header("x-squid-error");
}

// A development server's host check, in a sentence that names the setting.
std::string host_check_message(AnswerKind kind, const std::string& host, int status) {
  switch (kind) {
    case AnswerKind::django_disallowed_host:
      return fmt::format("Django rejects the Host {} that clients send: it is not in ALLOWED_HOSTS (DisallowedHost, {})",
                         host, status);
    case AnswerKind::django_bad_request:
      return fmt::format("Django answers the Host {} with its bare \"Bad Request (400)\" page: with DEBUG off, that is "
                         "what a host missing from ALLOWED_HOSTS gets",
                         host);
    case AnswerKind::vite_blocked_host:
      return fmt::format("Vite blocks the Host {} that clients send: it is not in server.allowedHosts ({})", host, status);
    case AnswerKind::webpack_invalid_host:
      return fmt::format("webpack-dev-server answers \"Invalid Host header\" to the Host {} that clients send: it is "
                         "not in allowedHosts ({})",
                         host, status);
    case AnswerKind::rails_blocked_host:
      return fmt::format("Rails blocks the Host {} that clients send: it is not in config.hosts ({})", host, status);
    default: break;
  }
  return fmt::format("The server rejects the Host {} that clients send ({})", host, status);
}

// The proxy asked for credentials (407). curl sends those of the proxy URL
// (user:password@), which netwhy does not: then what curl gets is unknown.
// Without any in the URL, curl gets the 407 too.
bool proxy_wants_credentials(Rules& r, int status) {
  const HttpFacts& f = r.f;
  if (status != 407) return false;
  if (f.proxy.proxy && f.proxy.proxy->credentials) {
    r.add(Code::proxy_unsupported, Effect::doubt,
          fmt::format("The proxy {} (from {}) asks for credentials (407); curl sends those in {}, netwhy does not",
                      proxy_shown(f.proxy), f.proxy.variable, f.proxy.variable),
          fmt::format("ask curl: curl -v {}", f.url.to_string()),
          fmt::format("the proxy in {} asks for the credentials curl would send", f.proxy.variable));
  } else {
    r.add(Code::proxy_refused, Effect::cause,
          fmt::format("The proxy {} (from {}) asks for credentials (407 Proxy Authentication Required)",
                      proxy_shown(f.proxy), f.proxy.variable),
          fmt::format("put them in the variable: {}=http://USER:PASSWORD@{}:{}", f.proxy.variable,
                      f.proxy.proxy ? f.proxy.proxy->host : "PROXY", f.proxy.proxy ? f.proxy.proxy->port : 3128));
  }
  return true;
}

// A 3xx whose target nothing answers for: why, in a few words; nullopt when
// the target accepts connections (or was not checked).
std::optional<std::string> dead_redirect(const HttpFacts& f, const HttpAnswer& a) {
  if (a.status < 300 || a.status > 399 || !f.redirect) return std::nullopt;
  const HttpFacts::RedirectCheck& c = *f.redirect;
  if (c.resolve_error) return "its host does not resolve here";
  if (!c.probe || c.probe->result == ProbeResult::ok) return std::nullopt;
  switch (c.probe->result) {
    case ProbeResult::refused: return "nothing accepts connections there (connection refused)";
    case ProbeResult::timeout: return "connections there time out";
    default: return fmt::format("connecting there fails ({})", errno_text(c.probe->error));
  }
}

void add_dead_redirect(Rules& r, const std::string& why) {
  const HttpFacts::RedirectCheck& c = *r.f.redirect;
  r.add(Code::redirect_elsewhere, Effect::cause,
        fmt::format("The answer redirects to {}, and {}", c.target.to_string(), why),
        fmt::format("start the server that should answer on {} (netwhy port {} --host {}), or make the redirect "
                    "point at an address that works",
                    c.target.authority(), c.target.port, c.target.host));
}

void answer_rules(Rules& r, const HttpAnswer& a) {
  const HttpFacts& f = r.f;
  const std::optional<std::string> dead = dead_redirect(f, a);
  const std::string status = fmt::format("{} {}", a.status, shorten_bytes(a.reason));
  const std::string server = a.server() ? fmt::format(" (Server: {})", shorten_bytes(*a.server())) : "";
  if (r.report.via_proxy && proxy_wants_credentials(r, a.status)) return;
  if (r.report.via_proxy && !f.url.tls() && proxy_own_error(a)) {  // inside a CONNECT tunnel the answer is the origin's
    r.add(Code::proxy_refused, Effect::cause,
          fmt::format("The answer came from the proxy {} (from {}): {}{}; a proxy answers so when it can't reach {} "
                      "from where it is",
                      proxy_shown(f.proxy), f.proxy.variable, status, server, target_text(f.url)),
          no_proxy_fix(f).value_or(fmt::format("check that the proxy can reach {}, or unset {}", target_text(f.url),
                                               f.proxy.variable)));
    return;
  }
  AskedUrl asked;
  asked.scheme = f.url.scheme;
  asked.host = f.url.host;
  asked.port = f.url.port;
  const auto rec = recognise_answer(a, asked);
  if (rec) {
    switch (rec->kind) {
      case AnswerKind::django_disallowed_host:
      case AnswerKind::django_bad_request:
      case AnswerKind::vite_blocked_host:
      case AnswerKind::webpack_invalid_host:
      case AnswerKind::rails_blocked_host:
        r.add(Code::host_not_allowed, Effect::cause, host_check_message(rec->kind, f.url.host_header(), a.status),
              rec->fix);
        return;
      case AnswerKind::plain_http_to_tls_port:
        r.add(Code::http_to_tls_port, Effect::cause,
              fmt::format("{} speaks TLS: the plain request got {}", target_text(f.url), rec->evidence),
              fmt::format("use {}", f.url.with_scheme("https").to_string()));
        return;
      case AnswerKind::proxy_upstream_error: {
        const std::string who = rec->proxy.empty() ? "A reverse proxy" : rec->proxy;
        std::string message = fmt::format("{} answered {} {} itself: the server it forwards to failed", who, a.status,
                                          shorten_bytes(a.reason, 40));
        std::optional<std::string> fix = rec->fix;
        for (const UpstreamCheck& u : f.upstreams) {
          std::string what;
          if (u.diagnosis) {
            what = engine::lower_first(engine::strip_period(u.diagnosis->headline));
            if (!fix || fix == rec->fix) {
              for (const Finding& uf : u.diagnosis->findings) {
                if (uf.severity == Severity::error && uf.fix) {
                  fix = *uf.fix;
                  break;
                }
              }
            }
          } else {
            what = u.note.value_or("not diagnosed");
          }
          message += fmt::format("; {} ({}): {}", u.directive, u.source, what);
        }
        r.add(Code::upstream_error, Effect::cause, std::move(message), fix);
        return;
      }
      case AnswerKind::redirect_to_loopback: {
        const std::string host = ascii_lower(f.url.host);
        const auto literal = IpAddr::parse(host);
        const bool from_here = (literal && (literal->is_loopback() || literal->is_unspecified())) ||
                               host == "localhost" || host.ends_with(".localhost");
        r.add(Code::redirect_to_loopback, from_here ? Effect::context : Effect::cause,
              fmt::format("The answer redirects to a loopback address ({}): a client on another machine follows it "
                          "to itself",
                          rec->evidence),
              rec->fix);
        if (from_here && dead) add_dead_redirect(r, *dead);
        return;
      }
      case AnswerKind::redirect_elsewhere:
        if (dead) {
          add_dead_redirect(r, *dead);
        } else {
          r.add(Code::redirect_elsewhere, Effect::context,
                fmt::format("The answer redirects elsewhere ({}); netwhy does not follow it, but a connect there "
                            "works",
                            rec->evidence),
                rec->fix);
        }
        return;
    }
  }
  if (dead) {  // the usual upgrade to https on the same host, to a port nothing listens on
    add_dead_redirect(r, *dead);
    return;
  }
  if (a.status >= 400) {
    r.add(Code::http_error_status, Effect::cause,
          fmt::format("GET {} answered {}{}", f.url.target.size() > 80 ? f.url.target.substr(0, 80) + "..." : f.url.target,
                      status, server),
          a.status == 404 ? std::optional<std::string>("check the path: the server has nothing at it")
                          : std::nullopt);
    return;
  }
  std::string where;
  if (a.status >= 300) {
    if (auto loc = a.location()) where = fmt::format(", Location: {}", shorten_bytes(*loc, 100));
  }
  r.add(Code::http_ok, Effect::context,
        fmt::format("GET {} answered {}{}{}", f.url.target.size() > 80 ? f.url.target.substr(0, 80) + "..." : f.url.target,
                    status, server, where));
}

void exchange_rules(Rules& r) {
  const HttpFacts& f = r.f;
  const ExchangeResult& x = *f.exchange;
  const std::string where = target_text(f.url);
  if (x.tls) tls_rules(r, *x.tls);
  switch (x.reached) {
    case ExchangeStage::connect:
      if (r.report.via_proxy) {
        r.add(Code::proxy_unreachable, Effect::cause,
              fmt::format("The proxy {} (from {}) {}: curl fails before it asks {}", proxy_shown(f.proxy),
                          f.proxy.variable,
                          x.timed_out                         ? std::string("does not answer (timed out)")
                          : x.error_number == ECONNREFUSED    ? std::string("refuses connections (nothing listens there)")
                                                              : "can't be reached: " + errno_text(x.error_number),
                          where),
              fmt::format("start the proxy, or fix or unset {}{}", f.proxy.variable,
                          no_proxy_fix(f) ? "; to go straight to the host: " + *no_proxy_fix(f) : ""));
      }
      return;
    case ExchangeStage::proxy_connect: {
      if (x.proxy_answer) {
        if (auto head = parse_http_answer(*x.proxy_answer, false); head && proxy_wants_credentials(r, head->status)) return;
      }
      const std::string answer = x.proxy_answer && !x.proxy_answer->empty()
                                     ? shorten_bytes(x.proxy_answer->substr(0, x.proxy_answer->find('\r')), 80)
                                     : "no answer";
      r.add(Code::proxy_refused, Effect::cause,
            fmt::format("The proxy {} (from {}) did not open a tunnel to {}: {}", proxy_shown(f.proxy),
                        f.proxy.variable, f.url.authority(), answer),
            no_proxy_fix(f).value_or(fmt::format("ask the proxy's admin to allow CONNECT to port {}, or unset {}",
                                                 f.url.port, f.proxy.variable)));
      return;
    }
    case ExchangeStage::tls_handshake: {
      const Speaks s = speaks(x.first_bytes);
      if (s == Speaks::http) {
        r.add(Code::https_to_plain_port, Effect::cause,
              fmt::format("{} answers in plain HTTP, not TLS: the https:// handshake fails (curl: (35) wrong version "
                          "number)",
                          where),
              fmt::format("use {} (or turn TLS on in the server)", f.url.with_scheme("http").to_string()));
        return;
      }
      if (x.timed_out) {
        r.add(Code::tls_handshake, Effect::cause,
              fmt::format("{} accepted the connection but did not finish the TLS handshake within {:g} s", where,
                          f.timeout_s));
        return;
      }
      std::string why = x.tls && x.tls->handshake_error ? shorten_bytes(*x.tls->handshake_error, 100) : "the connection closed";
      r.add(Code::tls_handshake, Effect::cause, fmt::format("The TLS handshake with {} failed: {}", where, why),
            s == Speaks::other && !x.first_bytes.empty()
                ? std::optional<std::string>(fmt::format("it answered something else than TLS ({}): is it the right port?",
                                                         shorten_bytes(x.first_bytes, 40)))
                : std::optional<std::string>(fmt::format("see what it offers: openssl s_client -connect {}{}", f.url.authority(),
                                                         IpAddr::parse(f.url.host) ? "" : " -servername " + f.url.host)));
      return;
    }
    case ExchangeStage::send:
    case ExchangeStage::receive:
    case ExchangeStage::done: break;
  }
  const Speaks s = speaks(x.first_bytes);
  if (!f.url.tls() && (s == Speaks::tls || s == Speaks::http_from_tls_port)) {
    if (s == Speaks::http_from_tls_port && !x.answer.empty()) {
      // the server's own words, handled with the answer
    } else {
      r.add(Code::http_to_tls_port, Effect::cause,
            fmt::format("{} speaks TLS: the plain http:// request got a TLS alert", where),
            fmt::format("use {}", f.url.with_scheme("https").to_string()));
      return;
    }
  }
  if (x.answer.empty() && x.tls && x.tls->session_error) {  // TLS 1.3 alerts come after the handshake
    r.add(Code::tls_handshake, Effect::cause,
          fmt::format("{} ended the TLS session before it answered: {}", where, shorten_bytes(*x.tls->session_error, 100)),
          x.tls->session_error->find("certificate required") != std::string::npos
              ? std::optional<std::string>("the server wants a client certificate (curl --cert)")
              : std::nullopt);
    return;
  }
  auto parsed = parse_http_answer(x.answer, x.complete);
  if (!parsed) {
    std::string what;
    if (x.answer.empty()) {
      what = x.timed_out ? fmt::format("sent nothing back within {:g} s", f.timeout_s)
                         : x.reached == ExchangeStage::send ? "closed the connection before the request was sent"
                                                            : "closed the connection without an answer";
    } else {
      what = fmt::format("answered something that is not HTTP: {}", shorten_bytes(x.answer, 40));
    }
    r.add(Code::no_http_answer, Effect::cause, fmt::format("{} accepted the connection but {}", where, what),
          x.answer.empty() ? std::optional<std::string>(fmt::format("see the server's log; netwhy port {} shows who listens", f.url.port))
                           : std::optional<std::string>("is it the right port? netwhy ports shows what listens where"));
    return;
  }
  r.report.answer = std::move(*parsed);
  const HttpAnswer& a = *r.report.answer;
  // What curl makes of an answer that never ends or never finishes.
  if (!a.head_complete || a.status < 200) {
    r.add(Code::no_http_answer, Effect::cause,
          fmt::format("{} {}", where,
                      a.status < 200 ? fmt::format("sent only an interim answer ({} {}), then {}", a.status,
                                                   shorten_bytes(a.reason, 40),
                                                   x.timed_out ? "nothing more" : "closed the connection")
                      : x.timed_out ? fmt::format("sent part of an answer's head, then nothing within {:g} s", f.timeout_s)
                                    : std::string("closed the connection in the middle of the answer's head")),
          fmt::format("see the server's log; curl -v {} shows the same", f.url.to_string()));
    return;
  }
  if (a.body_short || (x.timed_out && !a.body_complete && a.body.size() < http_max_body &&
                       !starts_with_ascii_ci(a.content_type().value_or(""), "text/event-stream"))) {
    r.add(Code::no_http_answer, Effect::cause,
          fmt::format("{} answered {} {} but {} before the whole body (curl: ({}) {})", where, a.status,
                      shorten_bytes(a.reason, 40), a.body_short ? "closed the connection" : "stopped sending",
                      a.body_short ? 18 : 28, a.body_short ? "transfer closed with bytes remaining" : "timed out"),
          "see the server's log: it failed while it was sending the answer");
    return;
  }
  answer_rules(r, a);
}

Outcome http_rules(Rules& r) {
  const HttpFacts& f = r.f;
  proxy_rules(r);
  if (r.has(Effect::cause)) return Outcome::fails;
  const ProxyDecision& p = f.proxy;
  const bool http_proxy = p.uses_proxy() && p.proxy &&
                          (p.proxy->type == ProxyType::http);
  if (p.uses_proxy() && p.proxy && !http_proxy) {
    r.add(Code::proxy_unsupported, Effect::doubt,
          fmt::format("The request goes through the {} proxy {} (from {}), which netwhy does not speak",
                      proxy_type_name(p.proxy->type), proxy_shown(p), p.variable),
          fmt::format("ask curl: curl -v {}", f.url.to_string()),
          fmt::format("it goes through the {} proxy in {}, which netwhy does not speak", proxy_type_name(p.proxy->type),
                      p.variable));
  }
  if (http_proxy && f.proxy_resolve_error) {
    r.add(Code::proxy_unreachable, Effect::cause,
          fmt::format("The proxy {} (from {}) does not resolve{}: curl fails before it asks {}", proxy_shown(p),
                      p.variable, f.proxy_resolve_error ? " (" + *f.proxy_resolve_error + ")" : "",
                      target_text(f.url)),
          fmt::format("fix or unset {}{}", p.variable, no_proxy_fix(f) ? "; to go straight to the host: " + *no_proxy_fix(f) : ""));
    return Outcome::fails;
  }
  if (!f.exchange) return r.has(Effect::doubt) ? Outcome::unknown : Outcome::unconnected;
  exchange_rules(r);
  if (r.has(Effect::cause)) return Outcome::fails;
  if (f.exchange->reached == ExchangeStage::connect) return Outcome::unconnected;
  if (r.has(Effect::doubt)) return Outcome::unknown;
  return r.report.answer ? Outcome::works : Outcome::unknown;
}

Severity severity_for(Effect e, Verdict v) {
  switch (e) {
    case Effect::cause: return v == Verdict::reachable ? Severity::warning : Severity::error;
    case Effect::partial: return Severity::warning;
    case Effect::doubt:
    case Effect::hint: return v == Verdict::reachable ? Severity::info : Severity::warning;
    case Effect::context: return Severity::info;
  }
  return Severity::info;
}

// The first cause in the code list's order: the layer a request meets first.
const HttpDraft* lead(const std::vector<HttpDraft>& drafts, Effect e) {
  const HttpDraft* best = nullptr;
  for (const HttpDraft& d : drafts) {
    if (d.effect != e) continue;
    if (best == nullptr || static_cast<int>(d.finding.code) < static_cast<int>(best->finding.code)) best = &d;
  }
  return best;
}

}  // namespace

std::optional<std::string> upstream_error_proxy(const HttpFacts& f) {
  if (!f.exchange || f.exchange->reached != ExchangeStage::done) return std::nullopt;
  if (f.proxy.uses_proxy()) return std::nullopt;  // a forward proxy's answer is not a reverse proxy's
  auto a = parse_http_answer(f.exchange->answer, f.exchange->complete);
  if (!a) return std::nullopt;
  AskedUrl asked;
  asked.scheme = f.url.scheme;
  asked.host = f.url.host;
  asked.port = f.url.port;
  const auto rec = recognise_answer(*a, asked);
  if (!rec || rec->kind != AnswerKind::proxy_upstream_error || rec->proxy.empty()) return std::nullopt;
  return rec->proxy;
}

Query url_query(const Url& url) {
  Query q;
  q.port = url.port;
  q.protocol = Protocol::tcp;
  q.host = url.host;
  return q;
}

UrlDiagnosis diagnose_url(const Snapshot& snap, const Query& q, const HttpFacts& f) {
  UrlDiagnosis out;
  out.diagnosis = diagnose(snap, q);
  out.diagnosis.query.url = f.typed;
  HttpReport& report = out.http;
  report.via_proxy = f.proxy.uses_proxy() && f.proxy.proxy.has_value() && !f.proxy.proxy_error;
  if (f.proxy.uses_proxy() || f.proxy.no_proxy_variable) report.proxy = f.proxy;
  report.host_header = f.url.host_header();
  report.target = report.via_proxy && !f.url.tls() ? f.url.to_string() : f.url.target;
  report.connected_to = f.connected_to;
  if (f.exchange) {
    report.tls = f.exchange->tls;
    if (report.via_proxy) report.proxy_reachable = f.exchange->reached != ExchangeStage::connect;
    if (auto s = speaks_json(speaks(f.exchange->first_bytes))) report.speaks = std::string(*s);
  }

  Rules rules{q, f, report, {}};
  const Outcome outcome = http_rules(rules);
  Diagnosis& d = out.diagnosis;
  const Verdict port_verdict = d.verdict;

  // The one decision. Through a proxy, the proxy's answer is the client's:
  // the port's view from here is beside the point. Straight to the host,
  // the port's verdict stands when it says no, or when the exchange never
  // connected; an HTTP failure turns any other answer into unreachable.
  Verdict v = port_verdict;
  const bool elsewhere = std::none_of(d.endpoints.begin(), d.endpoints.end(),
                                      [](const Endpoint& e) { return e.from_host && e.interface; });
  const bool connected = f.exchange && f.exchange->reached != ExchangeStage::connect;
  // The port's verdict is a "yes" or a "don't know" that the HTTP layer may overrule.
  const bool port_open = port_verdict == Verdict::reachable || port_verdict == Verdict::unknown;
  const bool http_decides = report.via_proxy || port_open || (elsewhere && connected);
  bool unconnected_cause = false;
  switch (outcome) {
    case Outcome::fails:
      if (http_decides) v = Verdict::unreachable;
      break;
    case Outcome::unknown:
      if (http_decides) v = Verdict::unknown;
      break;
    case Outcome::works:
      // Straight to a host of this machine, the port's verdict stands: this
      // host's request went through its own loopback path, past the
      // firewall's input rules, and says nothing new about other machines.
      if (report.via_proxy || (elsewhere && connected)) v = Verdict::reachable;
      break;
    case Outcome::unconnected:
      if (port_verdict == Verdict::reachable && !f.exchange) {
        // Nothing was asked (no address to ask): the port's yes is not the URL's.
        rules.add(Code::no_http_answer, Effect::doubt,
                  fmt::format("netwhy did not send the request to {}", target_text(f.url)),
                  fmt::format("ask it: curl -v {}", f.url.to_string()), "netwhy did not send the request");
        v = Verdict::unknown;
      } else if (port_verdict == Verdict::reachable) {
        const HttpFacts::Attempt first = f.failed_connects.empty() ? HttpFacts::Attempt{} : f.failed_connects.front();
        const Code code = first.timed_out                          ? Code::connection_timeout
                          : first.error_number == ECONNREFUSED     ? Code::connection_refused
                          : first.error_number == EHOSTUNREACH     ? Code::host_unreachable
                          : first.error_number == EPERM || first.error_number == EACCES ? Code::connection_blocked
                                                                   : Code::connection_failed;
        rules.add(code, Effect::cause,
                  fmt::format("Connecting to {} failed: {}",
                              engine::endpoint_text_host(first.address.to_string(), f.url.port),
                              first.timed_out ? "timed out" : errno_text(first.error_number)));
        unconnected_cause = true;
        v = Verdict::unreachable;
      }
      break;
  }
  const bool port_aside = report.via_proxy || v != port_verdict;
  if (port_aside) {
    // The port's findings were graded for its own verdict: through a proxy
    // they are about a path the request does not take; otherwise an error
    // the url's verdict no longer rests on is a warning.
    for (Finding& pf : d.findings) {
      if (report.via_proxy) {
        pf.severity = Severity::info;
      } else if (v == Verdict::reachable && pf.severity == Severity::error) {
        pf.severity = Severity::warning;
      }
    }
  }
  for (HttpDraft& hd : rules.drafts) {
    hd.finding.severity = severity_for(hd.effect, v);
    d.findings.push_back(hd.finding);
  }
  std::stable_sort(d.findings.begin(), d.findings.end(),
                   [](const Finding& a, const Finding& b) { return a.severity < b.severity; });

  const std::string url_text = f.url.to_string();
  if (v == Verdict::reachable && report.answer) {  // reachable comes only with an answer (Outcome::works)
    const HttpAnswer& a = *report.answer;
    const std::string answered = fmt::format("{} answers {} {}{}", url_text, a.status, shorten_bytes(a.reason, 40),
                                             a.server() ? " from " + shorten_bytes(*a.server(), 40) : "");
    if (report.via_proxy) {
      d.headline = fmt::format("{} through the proxy {}", answered, proxy_shown(f.proxy));
    } else if (elsewhere && connected) {
      d.headline = answered;
    } else {
      d.headline = fmt::format("{}; {}", answered, engine::lower_first(d.headline));
    }
  } else if (v == Verdict::unknown && ((outcome == Outcome::unknown && http_decides) || port_verdict != v)) {
    const HttpDraft* doubt = lead(rules.drafts, Effect::doubt);
    d.headline = fmt::format("Whether {} answers is unknown{}", url_text,
                             doubt != nullptr && !doubt->reason.empty() ? ": " + doubt->reason : "");
  } else if ((outcome == Outcome::fails && http_decides) || unconnected_cause) {
    if (const HttpDraft* cause = lead(rules.drafts, Effect::cause)) d.headline = engine::strip_period(cause->finding.message);
  } else if (outcome == Outcome::works && v != Verdict::reachable && report.answer) {
    // The port's no (or don't know) is about other machines; this host's own
    // request went through, and curl here would say so.
    d.headline = fmt::format("{}; from this host, {} answers {} {}", d.headline, url_text, report.answer->status,
                             shorten_bytes(report.answer->reason, 40));
  }
  // else: the port's headline says it
  d.verdict = v;
  return out;
}

}  // namespace netwhy
