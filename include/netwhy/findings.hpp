// The one list of finding codes, in the order of what explains most: the
// headline of a "no" names the first error in this order. Each code has its stable string (the JSON
// contract's name), the severity it has unless the grading step says
// otherwise, and a one-line meaning. The man page's FINDINGS section and
// docs/json.md list exactly these: a unit test compares them.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace netwhy {

enum class Severity { error, warning, info };
[[nodiscard]] std::string_view to_string(Severity s);

enum class Code {
  not_listening,
  other_protocol,
  port_mismatch,
  time_wait_only,
  privileged_port,
  other_netns,
  accept_queue_full,
  bound_to_loopback,
  bound_to_other_address,
  bound_to_device,
  address_not_local,
  family_mismatch,
  v6only,
  interface_down,
  no_carrier,
  no_route_back,
  rp_filter,
  process_unknown,
  firewall_drop,
  firewall_reject,
  firewall_unknown,
  container_loopback,
  published_loopback,
  not_published,
  container_exited,
  port_forward,
  macvlan_host,
  no_route,
  not_probed,
  connection_ok,
  connection_refused,
  connection_timeout,
  host_unreachable,
  connection_blocked,
  connection_failed,
  // netwhy url: the layers above TCP, in the order a request meets them
  proxy_invalid,
  proxy_unreachable,
  proxy_refused,
  proxy_unsupported,
  proxy_used,
  proxy_bypassed,
  https_to_plain_port,
  http_to_tls_port,
  tls_handshake,
  tls_expired,
  tls_not_yet_valid,
  tls_name_mismatch,
  tls_untrusted,
  tls_chain_incomplete,
  tls_ok,
  no_http_answer,
  host_not_allowed,
  upstream_error,
  redirect_to_loopback,
  redirect_elsewhere,
  http_error_status,
  http_ok,
};

struct CodeInfo {
  Code code;
  std::string_view name;
  Severity severity;  // the default; the grading step may lower or raise it
  std::string_view meaning;
};

inline constexpr std::array code_table{
    CodeInfo{Code::not_listening, "not-listening", Severity::error,
             "nothing listens on PORT for the protocol in this network namespace"},
    CodeInfo{Code::other_protocol, "other-protocol", Severity::warning,
             "nothing listens on PORT for the protocol asked, but a socket of the other protocol (UDP for TCP, or the "
             "reverse) does"},
    CodeInfo{Code::port_mismatch, "port-mismatch", Severity::warning,
             "nothing on PORT, but servers listen on nearby ports, or a program that usually serves PORT listens on "
             "another"},
    CodeInfo{Code::time_wait_only, "time-wait-only", Severity::info,
             "only TIME_WAIT connections remain on PORT: a server was here and stopped recently"},
    CodeInfo{Code::privileged_port, "privileged-port", Severity::warning,
             "PORT is below net.ipv4.ip_unprivileged_port_start: binding it needs root or CAP_NET_BIND_SERVICE"},
    CodeInfo{Code::other_netns, "other-netns", Severity::warning,
             "a socket listens on PORT in another network namespace (a container): the namespace and process are "
             "named"},
    CodeInfo{Code::accept_queue_full, "accept-queue-full", Severity::error,
             "the listener's accept queue is full (queued > backlog) or the kernel counted listen overflows: new "
             "connections time out"},
    CodeInfo{Code::bound_to_loopback, "bound-to-loopback", Severity::error,
             "the listener accepts only on 127.0.0.0/8 or ::1 (an IPv4-mapped ::ffff:127.0.0.1 too): other hosts "
             "can't connect"},
    CodeInfo{Code::bound_to_other_address, "bound-to-other-address", Severity::warning,
             "the listener is bound to one specific address, not the one asked (or not the host's others)"},
    CodeInfo{Code::bound_to_device, "bound-to-device", Severity::warning,
             "the listener is bound to one interface (SO_BINDTODEVICE): connections arriving on other interfaces are "
             "refused"},
    CodeInfo{Code::address_not_local, "address-not-local", Severity::error,
             "HOST, or the address a listener is bound to, is not assigned to any interface here"},
    CodeInfo{Code::family_mismatch, "family-mismatch", Severity::error,
             "HOST or localhost resolves (first) to a family that no listener takes, such as ::1 when only 127.0.0.1 "
             "listens"},
    CodeInfo{Code::v6only, "v6only", Severity::warning,
             "an IPv6 wildcard listener has IPV6_V6ONLY: IPv4 clients are refused"},
    CodeInfo{Code::interface_down, "interface-down", Severity::error,
             "the address's interface (or the route's) is administratively down: clients on its own network can't "
             "reach it"},
    CodeInfo{Code::no_carrier, "no-carrier", Severity::error,
             "the interface is up but has no carrier (an empty bridge, a veth whose peer is down): clients on its own "
             "network can't reach it"},
    CodeInfo{Code::no_route_back, "no-route-back", Severity::warning,
             "this host has no default route: only clients on the networks it has routes to get its answers; others "
             "time out"},
    CodeInfo{Code::rp_filter, "rp-filter", Severity::warning,
             "strict reverse-path filtering (rp_filter=1) drops clients whose route back leaves through another "
             "interface than the one their packets arrive on"},
    CodeInfo{Code::process_unknown, "process-unknown", Severity::warning,
             "the socket's owner can't be seen (not root, hidepid): run as root to see it"},
    CodeInfo{Code::firewall_drop, "firewall-drop", Severity::error,
             "a firewall rule or chain policy drops the traffic: table, chain and rule are named"},
    CodeInfo{Code::firewall_reject, "firewall-reject", Severity::error,
             "a firewall rule rejects the traffic: table, chain and rule are named"},
    CodeInfo{Code::firewall_unknown, "firewall-unknown", Severity::warning,
             "rules exist that netwhy can't evaluate for this port (or can't read them): remote reachability is null"},
    CodeInfo{Code::container_loopback, "container-loopback", Severity::error,
             "a published port reaches its container, but the server inside listens on 127.0.0.1 or ::1 only: "
             "connections through the published port are refused"},
    CodeInfo{Code::published_loopback, "published-loopback", Severity::error,
             "a container's port is published on a loopback address only (-p 127.0.0.1:PORT:...): only this host "
             "can connect"},
    CodeInfo{Code::not_published, "not-published", Severity::error,
             "a container listens on PORT inside, but the port is not published to this host"},
    CodeInfo{Code::container_exited, "container-exited", Severity::error,
             "a container that publishes PORT is not running: nothing takes the port"},
    CodeInfo{Code::port_forward, "port-forward", Severity::info,
             "a DNAT or redirect rule sends PORT elsewhere (a container): where, and whether it is taken there"},
    CodeInfo{Code::macvlan_host, "macvlan-host", Severity::error,
             "HOST is a container's address on a macvlan (or ipvlan) of this host's interface: this host can't reach "
             "it through that interface, while other machines can"},
    CodeInfo{Code::no_route, "no-route", Severity::error, "there is no route from here to HOST (network unreachable)"},
    CodeInfo{Code::not_probed, "not-probed", Severity::info,
             "HOST is another machine and netwhy did not connect to it (--no-probe, or UDP, which has no handshake)"},
    CodeInfo{Code::connection_ok, "connection-ok", Severity::info, "the probe's TCP connect to HOST:PORT succeeded"},
    CodeInfo{Code::connection_refused, "connection-refused", Severity::error,
             "the probe's connect was refused: HOST is up, but nothing listens on PORT there, or a firewall rejects "
             "it"},
    CodeInfo{Code::connection_timeout, "connection-timeout", Severity::error,
             "the probe's connect timed out: a firewall drops it, the host is down, or its server stopped accepting"},
    CodeInfo{Code::host_unreachable, "host-unreachable", Severity::error,
             "the probe's connect failed with host unreachable: nothing answers for HOST on its network (ARP/ND), or "
             "a router or firewall said so"},
    CodeInfo{Code::connection_blocked, "connection-blocked", Severity::error,
             "the probe's connect was refused by this host itself (EPERM/EACCES): a local firewall output rule"},
    CodeInfo{Code::connection_failed, "connection-failed", Severity::error,
             "the probe's connect failed for another reason, named with the system's error"},
    // netwhy url only, from here on: the golden cases (port --snapshot) can't
    // show these; tests/unit/test_http_diagnosis.cpp shows each.
    CodeInfo{Code::proxy_invalid, "proxy-invalid", Severity::error,
             "curl refuses the proxy URL in the proxy variable it reads for this URL: every request fails"},
    CodeInfo{Code::proxy_unreachable, "proxy-unreachable", Severity::error,
             "the request goes to the proxy a variable names, and that proxy does not accept connections (or its "
             "name does not resolve)"},
    CodeInfo{Code::proxy_refused, "proxy-refused", Severity::error,
             "the proxy answered with its own error (a refused CONNECT, a 5xx): it could not or would not reach the "
             "URL's host from where it is"},
    CodeInfo{Code::proxy_unsupported, "proxy-unsupported", Severity::warning,
             "the request goes through a SOCKS or HTTPS proxy, which netwhy does not speak: what curl gets is "
             "unknown"},
    CodeInfo{Code::proxy_used, "proxy-used", Severity::info,
             "curl sends the request through the proxy a variable names (http_proxy, https_proxy, ALL_PROXY), not "
             "straight to the host"},
    CodeInfo{Code::proxy_bypassed, "proxy-bypassed", Severity::info,
             "a proxy variable is set, but no_proxy lists the host: curl goes straight to it"},
    CodeInfo{Code::https_to_plain_port, "https-to-plain-port", Severity::error,
             "an https:// URL for a port that answers in plain HTTP: the TLS handshake fails; the http:// URL works"},
    CodeInfo{Code::http_to_tls_port, "http-to-tls-port", Severity::error,
             "an http:// URL for a port that speaks TLS: the server answers with a TLS alert or an error page; the "
             "https:// URL works"},
    CodeInfo{Code::tls_handshake, "tls-handshake", Severity::error,
             "the TLS handshake failed (an alert, no protocol or cipher in common, the connection closed)"},
    CodeInfo{Code::tls_expired, "tls-expired", Severity::error,
             "the server's certificate has expired: clients refuse it"},
    CodeInfo{Code::tls_not_yet_valid, "tls-not-yet-valid", Severity::error,
             "the server's certificate is not valid yet (a clock is wrong, here or where it was made)"},
    CodeInfo{Code::tls_name_mismatch, "tls-name-mismatch", Severity::error,
             "the server's certificate is not for the URL's host: the names it carries are listed"},
    CodeInfo{Code::tls_untrusted, "tls-untrusted", Severity::error,
             "the server's certificate is self-signed or from an issuer the trust store does not hold"},
    CodeInfo{Code::tls_chain_incomplete, "tls-chain-incomplete", Severity::error,
             "the server sends its certificate without the intermediate certificate that links it to a trusted root"},
    CodeInfo{Code::tls_ok, "tls-ok", Severity::info,
             "the TLS handshake worked and the certificate verifies: protocol, names and expiry are named"},
    CodeInfo{Code::no_http_answer, "no-http-answer", Severity::error,
             "the connection was made, but no HTTP answer came back (closed, reset, silent until the timeout, or "
             "another protocol)"},
    CodeInfo{Code::host_not_allowed, "host-not-allowed", Severity::error,
             "a development server rejects the Host the client sends (Django ALLOWED_HOSTS, Vite allowedHosts, "
             "webpack-dev-server allowedHosts, Rails config.hosts)"},
    CodeInfo{Code::upstream_error, "upstream-error", Severity::error,
             "a reverse proxy (nginx, Apache, Caddy, HAProxy, ...) answered 502, 503 or 504 itself: the server "
             "behind it failed; where its configuration is readable here, the upstream is diagnosed"},
    CodeInfo{Code::redirect_to_loopback, "redirect-to-loopback", Severity::error,
             "the answer redirects to localhost (or 127.0.0.1, ::1, 0.0.0.0): a browser on another machine follows it "
             "to itself"},
    CodeInfo{Code::redirect_elsewhere, "redirect-elsewhere", Severity::info,
             "the answer redirects to another host, port or scheme: netwhy does not follow it (one request), but "
             "connects there; an error when nothing accepts the connection"},
    CodeInfo{Code::http_error_status, "http-error-status", Severity::error,
             "the server answered with a 4xx or 5xx status that no other finding explains"},
    CodeInfo{Code::http_ok, "http-ok", Severity::info,
             "the server answered with a 2xx or 3xx status: status, Server and Location are named"},
};

[[nodiscard]] constexpr const CodeInfo& info(Code c) { return code_table[static_cast<std::size_t>(c)]; }
[[nodiscard]] constexpr std::string_view to_string(Code c) { return info(c).name; }
[[nodiscard]] std::optional<Code> code_from_string(std::string_view name);
// The first code only netwhy url reports (the rest of the table after it).
inline constexpr Code first_url_code = Code::proxy_invalid;

// The table is in enum order: info(c) indexes it.
static_assert([] {
  for (std::size_t i = 0; i < code_table.size(); ++i) {
    if (static_cast<std::size_t>(code_table[i].code) != i) return false;
  }
  return true;
}());

}  // namespace netwhy
