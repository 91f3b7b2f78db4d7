// netwhy url URL: the port's diagnosis for the URL's host and port, then
// the layers above it (proxy, TLS, one GET), decided together.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "netwhy/diagnose.hpp"
#include "netwhy/http_gather.hpp"
#include "netwhy/listener.hpp"
#include "netwhy/nginx_conf.hpp"
#include "netwhy/render_url.hpp"
#include "netwhy/resolve.hpp"
#include "netwhy/snapshot.hpp"
#include "netwhy/text.hpp"
#include "options.hpp"
#include "report.hpp"

#ifndef NETWHY_VERSION
#define NETWHY_VERSION "unknown"
#endif

namespace netwhy::cli {

namespace {

constexpr std::size_t max_upstreams = 4;  // diagnosed; a longer upstream block is named, not walked

// The nginx that listens on the URL's port here: the master's command line
// says where its configuration is.
const Process* nginx_master(const Snapshot& snap, std::uint16_t port) {
  for (const Listener& l : snap.listeners) {
    if (l.socket.port != port || l.socket.protocol != Protocol::tcp) continue;
    const Process* main = main_process(l);
    if (main != nullptr && main->comm == "nginx") return main;
  }
  return nullptr;
}

// nginx answered 502/503/504 on this host: the upstreams its configuration
// names for the server block on the port, each diagnosed as `port --host`.
std::vector<UpstreamCheck> nginx_upstreams(const Snapshot& snap, const Url& url, double timeout_s,
                                           std::vector<std::string>& notes) {
  std::vector<UpstreamCheck> out;
  const Process* master = nginx_master(snap, url.port);
  if (master == nullptr) return out;  // not this host's nginx, or not visible (not root)
  NginxLocation where = nginx_conf_from_cmdline(master->cmdline);
  if (!where.main_file.empty() && where.main_file.front() != '/') {
    char cwd[4096] = {};
    const std::string link = fmt::format("/proc/{}/cwd", master->pid);
    const ssize_t n = ::readlink(link.c_str(), cwd, sizeof cwd - 1);
    if (n <= 0) {
      notes.push_back(fmt::format("nginx's configuration {} is relative to its working directory, which can't be read",
                                  escape_arg(where.main_file)));
      return out;
    }
    where.main_file = std::string(cwd, static_cast<std::size_t>(n)) + "/" + where.main_file;
  }
  auto config = read_nginx_config(where.main_file);
  if (!config) {
    notes.push_back(fmt::format("nginx's configuration: {}", config.error().message()));
    return out;
  }
  for (const std::string& note : config->notes) notes.push_back("nginx's configuration: " + note);
  const std::vector<NginxUpstream> ups = upstreams_for_port(*config, url.port, url.host);
  for (const NginxUpstream& u : ups) {
    if (out.size() == max_upstreams) {
      notes.push_back(fmt::format("nginx names {} upstreams for port {}; the first {} are diagnosed", ups.size(),
                                  url.port, max_upstreams));
      break;
    }
    UpstreamCheck c;
    c.proxy = "nginx";
    c.directive = u.server_text.empty() ? u.directive_text : u.directive_text + " (" + u.server_text + ")";
    c.source = fmt::format("{}:{}", u.server_text.empty() ? u.file : u.server_file,
                           u.server_text.empty() ? u.line : u.server_line);
    c.host = u.host;
    c.port = u.port;
    c.unix_path = u.unix_path;
    if (u.unix_path) {
      c.note = "a Unix socket, which netwhy does not diagnose";
    } else if (u.has_variables || !u.port) {
      c.note = "the target is decided per request (variables), so netwhy can't follow it";
    } else if (auto addrs = resolve(u.host, Family::unspec)) {
      Query q;
      q.port = *u.port;
      q.host = u.host;
      q.addresses = *addrs;
      q.probed = true;
      SnapshotRequest req;
      req.port = q.port;
      req.route_to = q.addresses;
      req.probe = true;
      req.probe_timeout_s = timeout_s;
      req.with_routes = true;
      if (auto s = read_snapshot(req)) {
        c.diagnosis = diagnose(*s, q);
      } else {
        c.note = s.error().message();
      }
    } else {
      c.note = addrs.error().message();
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

int run_url(const GlobalOptions& g, const UrlOptions& o) {
  auto url = parse_url(o.url);
  if (!url) return fail(url.error());
  if (!(o.timeout > 0 && o.timeout <= 60)) return fail("bad --timeout: give seconds, more than 0 and at most 60");
  if (o.ca_file && ::access(o.ca_file->c_str(), R_OK) != 0) {
    return fail(fmt::format("--cacert {}: {}", escape_arg(*o.ca_file), std::strerror(errno)));
  }
  if (auto entered = enter_requested_netns(g); !entered) return fail(entered.error());

  const Environment env = process_environment();
  Query q = url_query(*url);
  q.url = o.url;
  q.probed = true;
  // Through an HTTP proxy the proxy resolves the host: a name unknown here
  // is not yet a failure.
  const ProxyDecision proxy = decide_proxy(url->scheme, url->host, env);
  const bool proxy_resolves = proxy.uses_proxy() && proxy.proxy && proxy.proxy_resolves_host;
  if (auto addrs = resolve(url->host, g.family)) {
    q.addresses = std::move(*addrs);
  } else if (!proxy_resolves) {
    return fail(addrs.error());
  }

  SnapshotRequest req;
  req.port = q.port;
  req.protocol = q.protocol;
  req.route_to = q.addresses;
  // Through an HTTP proxy curl never connects to the host itself: neither does netwhy.
  const bool via_http_proxy = proxy.uses_proxy() && proxy.proxy && proxy.proxy->type == ProxyType::http;
  req.probe = q.probed && !q.addresses.empty() && !via_http_proxy;
  req.probe_timeout_s = o.timeout;
  req.with_routes = true;
  auto snap = read_snapshot(req);
  if (!snap) return fail(snap.error());

  HttpGatherOptions ho;
  ho.insecure = o.insecure;
  ho.timeout_s = o.timeout;
  ho.ca_file = o.ca_file;
  ho.version = NETWHY_VERSION;
  HttpFacts facts = gather_http(*url, o.url, env, q.addresses, ho);
  if (facts.exchange && facts.exchange->local_error) return fail(*facts.exchange->local_error);
  // Only this host's nginx: the exchange went to one of its own addresses.
  const bool here = facts.connected_to &&
                    (facts.connected_to->is_loopback() ||
                     std::any_of(snap->addresses.begin(), snap->addresses.end(), [&](const Address& a) {
                       return a.local == facts.connected_to;
                     }));
  if (here && upstream_error_proxy(facts) == "nginx") {
    facts.upstreams = nginx_upstreams(*snap, *url, o.timeout, facts.notes);
  }
  const UrlDiagnosis d = diagnose_url(*snap, q, facts);

  for (const std::string& note : snap->gaps.notes) warn(escape_text(note));
  for (const std::string& note : facts.notes) warn(escape_text(note));
  if (g.json) {
    JsonWriter out(g.json_style(), stdout);
    render_url_json(out, d);
    out.flush();
  } else {
    write_stdout(render_url_text(d, g.palette()));
  }
  return exit_status(d.diagnosis.verdict);
}

}  // namespace netwhy::cli
