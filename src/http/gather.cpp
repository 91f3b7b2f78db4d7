#include "netwhy/http_gather.hpp"

#include <unistd.h>

#include "netwhy/probe.hpp"
#include "netwhy/resolve.hpp"
#include "netwhy/text.hpp"

extern char** environ;  // NOLINT: POSIX

namespace netwhy {

Environment process_environment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

namespace {

// A redirect to another host, port or scheme: is anything there? One
// connect, as curl -L would start with.
std::optional<HttpFacts::RedirectCheck> check_redirect(const HttpFacts& f, double timeout_s) {
  if (!f.exchange || f.exchange->reached != ExchangeStage::done) return std::nullopt;
  auto a = parse_http_answer(f.exchange->answer, f.exchange->complete);
  if (!a || a->status < 300 || a->status > 399) return std::nullopt;
  const auto location = a->location();
  if (!location || !(starts_with_ascii_ci(*location, "http://") || starts_with_ascii_ci(*location, "https://"))) {
    return std::nullopt;  // relative: the same host and port
  }
  auto target = parse_url(*location);
  if (!target) return std::nullopt;
  if (ascii_lower(target->host) == ascii_lower(f.url.host) && target->port == f.url.port) return std::nullopt;
  HttpFacts::RedirectCheck c;
  c.target = *target;
  if (auto addrs = resolve(target->host, Family::unspec)) {
    c.addresses = *addrs;
    c.probe = connect_probe(c.addresses.front(), target->port, timeout_s);
  } else {
    c.resolve_error = addrs.error().message();
  }
  return c;
}

}  // namespace

HttpFacts gather_http(const Url& url, std::string typed, const Environment& env, const std::vector<IpAddr>& addresses,
                      const HttpGatherOptions& options) {
  HttpFacts f;
  f.url = url;
  f.typed = std::move(typed);
  f.insecure = options.insecure;
  f.timeout_s = options.timeout_s;
  f.ca_file = options.ca_file;
  f.proxy = decide_proxy(url.scheme, url.host, env);
  const bool via_http_proxy = f.proxy.uses_proxy() && f.proxy.proxy && f.proxy.proxy->type == ProxyType::http;
  // Through an HTTP proxy, an http:// URL is asked whole (the absolute form);
  // an https:// one goes through a CONNECT tunnel, as curl does.
  const std::string target = via_http_proxy && !url.tls() ? url.to_string() : url.target;
  auto request = build_request(url.host_header(), target, options.version);
  if (!request) return f;  // parse_url admits nothing build_request refuses
  f.request = *request;
  if (f.proxy.uses_proxy() && !via_http_proxy) return f;  // a proxy netwhy does not speak, or one curl refuses

  std::vector<IpAddr> to;
  std::uint16_t port = url.port;
  if (via_http_proxy) {
    auto resolved = resolve(f.proxy.proxy->host, Family::unspec);
    if (!resolved) {
      f.proxy_resolve_error = resolved.error().message();
      return f;
    }
    f.proxy_addresses = *resolved;
    to = *resolved;
    port = f.proxy.proxy->port;
  } else {
    to = addresses;
  }
  for (std::size_t i = 0; i < to.size(); ++i) {
    ExchangePlan plan;
    plan.address = to[i];
    plan.port = port;
    if (via_http_proxy && url.tls()) plan.connect_authority = url.authority();
    plan.tls = url.tls();
    plan.tls_name = url.host;
    plan.ca_file = options.ca_file;
    plan.request = f.request;
    plan.timeout_s = options.timeout_s;
    plan.user_agent = "netwhy/" + options.version;
    ExchangeResult r = run_exchange(plan);
    if (r.reached == ExchangeStage::connect && i + 1 < to.size()) {
      f.failed_connects.push_back(HttpFacts::Attempt{to[i], r.error_number, r.timed_out});
      continue;
    }
    if (r.reached == ExchangeStage::connect) {
      f.failed_connects.push_back(HttpFacts::Attempt{to[i], r.error_number, r.timed_out});
    } else {
      f.connected_to = to[i];
    }
    f.exchange = std::move(r);
    break;
  }
  if (!f.proxy.uses_proxy()) f.redirect = check_redirect(f, options.timeout_s);
  return f;
}

}  // namespace netwhy
