// netwhy url: the diagnosis one layer up. The facts gathered for a URL (the
// proxy curl would use, the one exchange with TLS, a reverse proxy's
// upstreams) and the pure function that reads them together with the port's
// diagnosis and decides, in one place, the verdict, severities and headline.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "netwhy/diagnose.hpp"
#include "netwhy/http_answer.hpp"
#include "netwhy/http_exchange.hpp"
#include "netwhy/proxy_env.hpp"
#include "netwhy/url.hpp"

namespace netwhy {

// One server a reverse proxy on this host sends the URL's requests to,
// found in its configuration, and the port diagnosis of it.
struct UpstreamCheck {
  std::string proxy;                 // "nginx"
  std::string directive;             // "proxy_pass http://127.0.0.1:9000" (raw, from the file)
  std::string source;                // "/etc/nginx/sites-enabled/app:12" (raw)
  std::string host;                  // as the directive names it
  std::optional<std::uint16_t> port;
  std::optional<std::string> unix_path;  // server unix:/run/app.sock
  std::optional<Diagnosis> diagnosis;    // port --host HOST for it, when it could be made
  std::optional<std::string> note;       // why there is none ("variables in the target", "cannot resolve")
};

// Everything gathered for `netwhy url`, beside the snapshot.
struct HttpFacts {
  Url url;
  std::string typed;                 // the URL as typed
  bool insecure = false;             // --insecure: certificate problems don't fail (curl -k)
  double timeout_s = 5;
  std::optional<std::string> ca_file;  // --cacert
  ProxyDecision proxy;               // from the environment, as curl decides
  std::vector<IpAddr> proxy_addresses;             // the proxy's host, resolved here
  std::optional<std::string> proxy_resolve_error;  // why it did not resolve
  // Connects that failed before the one that was used (curl falls back
  // along the resolver's order too): address and errno.
  struct Attempt {
    IpAddr address;
    int error_number = 0;
    bool timed_out = false;
  };
  std::vector<Attempt> failed_connects;
  std::string request;               // the bytes sent (or that would have been)
  std::optional<IpAddr> connected_to;          // the address the exchange connected to
  std::optional<ExchangeResult> exchange;      // nullopt: not tried
  std::vector<UpstreamCheck> upstreams;        // a reverse proxy's, for its 5xx
  // A 3xx whose Location is another host, port or scheme: where it sends
  // the client, and whether a connect there is accepted (a probe, not a
  // request: netwhy follows no redirect).
  struct RedirectCheck {
    Url target;
    std::vector<IpAddr> addresses;
    std::optional<std::string> resolve_error;
    std::optional<Probe> probe;  // to the first address
  };
  std::optional<RedirectCheck> redirect;
  std::vector<std::string> notes;              // what could not be read (a proxy's configuration)
};

// The contract's `http` object, decided from the facts.
struct HttpReport {
  std::optional<ProxyDecision> proxy;  // when a proxy or no_proxy variable took part
  std::optional<TlsFacts> tls;
  std::string method = "GET";
  std::string target;                // as sent: origin form, or absolute form to a proxy
  std::string host_header;
  std::optional<HttpAnswer> answer;  // parsed, when an HTTP answer came
  std::optional<std::string> speaks; // "http", "tls", or null
  std::optional<IpAddr> connected_to;
  bool via_proxy = false;
  std::optional<bool> proxy_reachable;
};

struct UrlDiagnosis {
  Diagnosis diagnosis;  // the port's diagnosis with the url's findings, verdict and headline
  HttpReport http;
};

// The reverse proxy ("nginx", "Apache", ...) that answered the exchange with
// its own 502/503/504, when one did: its upstreams are worth gathering.
[[nodiscard]] std::optional<std::string> upstream_error_proxy(const HttpFacts& facts);

// The port question for the URL: its port and host, over TCP.
[[nodiscard]] Query url_query(const Url& url);

// Pure: the snapshot (read for the URL's port), the port query (with the
// URL's host resolved) and the facts.
[[nodiscard]] UrlDiagnosis diagnose_url(const Snapshot& snap, const Query& q, const HttpFacts& facts);

}  // namespace netwhy
