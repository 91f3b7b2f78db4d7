// netwhy port PORT [--host HOST]: the diagnosis, of this host or of a
// snapshot file.
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "netwhy/diagnose.hpp"
#include "netwhy/file.hpp"
#include "netwhy/render_diagnosis.hpp"
#include "netwhy/snapshot.hpp"
#include "netwhy/text.hpp"
#include "options.hpp"
#include "report.hpp"

namespace netwhy::cli {

namespace {

constexpr std::size_t max_snapshot_bytes = 64U << 20;

// HOST's addresses in the order the resolver gives them, as a client sees them.
Expected<std::vector<IpAddr>> resolve(const std::string& host, Family family) {
  if (auto literal = IpAddr::parse(host)) {
    if (family != Family::unspec && literal->family != family) {
      return input_error(fmt::format("\"{}\" is not an {} address", escape_arg(host),
                                     family == Family::inet ? "IPv4" : "IPv6"));
    }
    return std::vector<IpAddr>{literal->unmapped()};  // ::ffff:a.b.c.d connects to a.b.c.d
  }
  if (host.empty() || host.size() > 253 || host.find('\0') != std::string::npos) {
    return input_error(fmt::format("bad host \"{}\"", escape_arg(host)));
  }
  addrinfo hints{};
  hints.ai_family = family == Family::inet ? AF_INET : family == Family::inet6 ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* got = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &got);
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> res(got, &freeaddrinfo);
  if (rc != 0) {
    return input_error(fmt::format("cannot resolve \"{}\": {}", escape_arg(host), gai_strerror(rc)));
  }
  std::vector<IpAddr> out;
  for (const addrinfo* ai = res.get(); ai != nullptr; ai = ai->ai_next) {
    std::optional<IpAddr> a;
    if (ai->ai_family == AF_INET) {
      a = IpAddr::from_bytes(Family::inet, &reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr, 4);
    } else if (ai->ai_family == AF_INET6) {
      a = IpAddr::from_bytes(Family::inet6, &reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr, 16);
    }
    if (a) a = a->unmapped();
    if (a && std::find(out.begin(), out.end(), *a) == out.end()) out.push_back(*a);
  }
  if (out.empty()) return input_error(fmt::format("\"{}\" has no IP address", escape_arg(host)));
  return out;
}

}  // namespace

int run_port(const GlobalOptions& g, const PortOptions& o) {
  const Protocol protocol = o.udp ? Protocol::udp : Protocol::tcp;
  auto port = parse_port_arg(o.port, protocol);
  if (!port) return fail(port.error());
  if (!(o.timeout > 0 && o.timeout <= 60)) return fail("bad --timeout: give seconds, more than 0 and at most 60");

  Query q;
  q.port = *port;
  q.protocol = protocol;
  q.host = o.host;
  Snapshot snap;
  if (o.snapshot) {
    if (g.netns) return fail("--snapshot diagnoses a file; -n does not apply to it");
    {  // the file's text is freed once the snapshot is read from it
      auto text = read_file(*o.snapshot, max_snapshot_bytes);
      if (!text) return fail(text.error());
      auto loaded = snapshot_from_json(*text);
      if (!loaded) return fail(fmt::format("{}: {}", escape_arg(*o.snapshot), loaded.error().message()));
      snap = std::move(*loaded);
    }
    if (o.host) {
      auto addrs = resolve(*o.host, g.family);
      if (!addrs) return fail(addrs.error());
      q.addresses = std::move(*addrs);
    }
  } else {
    if (auto entered = enter_requested_netns(g); !entered) return fail(entered.error());
    if (o.host) {
      auto addrs = resolve(*o.host, g.family);
      if (!addrs) return fail(addrs.error());
      q.addresses = std::move(*addrs);
    }
    SnapshotRequest req;
    req.port = q.port;
    req.protocol = protocol;
    req.route_to = q.addresses;
    req.probe = !o.no_probe && protocol == Protocol::tcp;
    req.probe_timeout_s = o.timeout;
    req.with_routes = true;  // the way back to clients: a default route, reverse-path filtering
    q.probed = req.probe;
    auto got = read_snapshot(req);
    if (!got) return fail(got.error());
    snap = std::move(*got);
  }
  for (const std::string& note : snap.gaps.notes) warn(escape_text(note));  // a snapshot file's notes are anyone's bytes

  const Diagnosis d = diagnose(snap, q);
  if (g.json) {
    JsonWriter out(g.json_style(), stdout);
    render_diagnosis_json(out, d);
    out.flush();
  } else {
    write_stdout(render_diagnosis_text(d, g.palette()));
  }
  return exit_status(d.verdict);
}

}  // namespace netwhy::cli
