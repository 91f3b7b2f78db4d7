// netwhy url's active step: the proxy decision from the environment, and
// the one exchange (connect, TLS, one GET), each wait bounded. Gathering
// only: nothing here prints or decides.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "netwhy/http_diagnosis.hpp"

namespace netwhy {

struct HttpGatherOptions {
  bool insecure = false;
  double timeout_s = 5;
  std::optional<std::string> ca_file;
  std::string version;  // netwhy's, for the User-Agent
};

// The environment as curl sees it (environ), for decide_proxy().
[[nodiscard]] Environment process_environment();

// `addresses`: the URL host's, in resolver order (empty when it did not
// resolve here: through an HTTP proxy, the proxy resolves it). Connects go
// to each address in order until one is accepted, as curl falls back; the
// request goes to that one only.
[[nodiscard]] HttpFacts gather_http(const Url& url, std::string typed, const Environment& env,
                                    const std::vector<IpAddr>& addresses, const HttpGatherOptions& options);

}  // namespace netwhy
