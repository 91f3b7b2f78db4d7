// Gathering a snapshot of this host for the diagnosis: the only place where
// the port command touches the kernel, /proc and the network.
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/rtnetlink.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <thread>
#include <cstring>
#include <sstream>

#include <fmt/format.h>

#include "netwhy/fd.hpp"
#include "netwhy/file.hpp"
#include "netwhy/netlink.hpp"
#include "netwhy/ports.hpp"
#include "netwhy/snapshot.hpp"
#include "netwhy/text.hpp"

namespace netwhy {

std::map<std::string, std::uint64_t> parse_netstat(std::string_view text) {
  // Pairs of lines: "TcpExt: SyncookiesSent ..." then "TcpExt: 0 ...".
  std::map<std::string, std::uint64_t> out;
  const std::vector<std::string_view> lines = split_lines(text);
  for (std::size_t i = 0; i + 1 < lines.size(); i += 2) {
    const auto names = split_fields(lines[i]);
    const auto values = split_fields(lines[i + 1]);
    if (names.empty() || values.empty() || names[0] != values[0] || names[0].back() != ':' ||
        names.size() != values.size()) {
      continue;
    }
    const std::string_view prefix = names[0].substr(0, names[0].size() - 1);
    for (std::size_t k = 1; k < names.size(); ++k) {
      std::uint64_t v = 0;
      const auto [end, ec] = std::from_chars(values[k].data(), values[k].data() + values[k].size(), v);
      if (ec == std::errc{} && end == values[k].data() + values[k].size()) {
        out[fmt::format("{}.{}", prefix, names[k])] = v;
      }
    }
  }
  return out;
}

bool parse_hidepid(std::string_view mountinfo) {
  // "36 25 0:5 / /proc rw,nosuid shared:12 - proc proc rw,hidepid=invisible"
  for (const std::string_view line : split_lines(mountinfo)) {
    if (line.find(" /proc ") == std::string_view::npos || line.find(" - proc ") == std::string_view::npos) continue;
    const std::size_t at = line.find("hidepid=");
    if (at == std::string_view::npos) continue;
    const std::string_view v = line.substr(at + 8, line.find_first_of(", ", at) - at - 8);
    if (v != "0" && v != "off") return true;
  }
  return false;
}

namespace {

// A /proc or script file read for a few fields: empty when unreadable.
std::string read_text(const std::string& path, std::size_t limit = 1U << 20) {
  return read_file(path, limit, OverLimit::truncate).value_or(std::string());
}

std::optional<std::int64_t> read_sysctl(const std::string& name) {
  std::string path = "/proc/sys/" + name;
  std::replace(path.begin() + 10, path.end(), '.', '/');
  const std::string text = read_text(path, 64);
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{}) return std::nullopt;
  return v;
}

Probe connect_probe(const IpAddr& addr, std::uint16_t port, double timeout_s) {
  Probe p;
  p.address = addr;
  p.port = port;
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  };
  const int af = addr.family == Family::inet6 ? AF_INET6 : AF_INET;
  const UniqueFd sock(::socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  const int fd = sock.get();
  if (fd < 0) {
    p.error = errno;
    return p;
  }
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (af == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, addr.bytes.data(), 4);
    len = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, addr.bytes.data(), 16);
    len = sizeof *sin6;
  }
  int err = 0;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      pollfd pfd{fd, POLLOUT, 0};
      const int ms = static_cast<int>(timeout_s * 1000);
      int rc = 0;
      do {
        rc = ::poll(&pfd, 1, std::max(0, ms - static_cast<int>(elapsed())));
      } while (rc < 0 && errno == EINTR);
      if (rc == 0) {
        p.result = ProbeResult::timeout;
        p.millis = elapsed();
        return p;
      }
      socklen_t elen = sizeof err;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) err = errno;
    }
  }
  p.millis = elapsed();
  p.error = err;
  if (err == 0) {
    p.result = ProbeResult::ok;
  } else if (err == ECONNREFUSED) {
    p.result = ProbeResult::refused;
  } else if (err == EHOSTUNREACH || err == ENETUNREACH) {
    p.result = ProbeResult::unreachable;
  } else if (err == ETIMEDOUT) {
    p.result = ProbeResult::timeout;
  } else {
    p.result = ProbeResult::error;
  }
  return p;
}

// A python process running a script that imports Flask: its fix is
// app.run(host=...). Reads the script through /proc/PID/cwd (root only).
std::string detect_framework(const Process& p) {
  if (p.comm.rfind("python", 0) != 0) return {};
  std::string lower = p.cmdline;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.find("flask") != std::string::npos) return "flask";
  std::istringstream words(p.cmdline);
  std::string w;
  while (words >> w) {
    if (w.size() < 4 || w.substr(w.size() - 3) != ".py") continue;
    const std::string path = w[0] == '/' ? w : fmt::format("/proc/{}/cwd/{}", p.pid, w);
    const std::string code = read_text(path, 256 * 1024);
    if (code.find("from flask import") != std::string::npos || code.find("import flask") != std::string::npos) {
      return "flask";
    }
    break;
  }
  return {};
}

// sock_diag inside another network namespace: a thread enters it (setns
// moves only the calling thread) and dumps there. Needs CAP_SYS_ADMIN.
Expected<SocketRead> read_sockets_diag_in(pid_t pid, const SocketQuery& q) {
  const UniqueFd fd(::open(fmt::format("/proc/{}/ns/net", pid).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return system_error(fmt::format("open /proc/{}/ns/net", pid));
  Expected<SocketRead> result = Error{ErrorKind::system, EPERM, "enter namespace"};
  std::thread worker([&] {
    if (setns(fd.get(), CLONE_NEWNET) != 0) {
      result = system_error(fmt::format("enter the network namespace of pid {}", pid));
      return;
    }
    result = read_sockets_diag(q);
  });
  worker.join();
  return result;
}

// The addresses of another namespace (with their interfaces), read from a
// thread that enters it. Empty when it can't be entered (not root).
struct NamespaceAddresses {
  std::vector<std::pair<IpAddr, std::string>> addresses;
  std::vector<std::pair<IpAddr, unsigned>> routes;
};

NamespaceAddresses addresses_in(pid_t pid) {
  NamespaceAddresses out;
  const UniqueFd fd(::open(fmt::format("/proc/{}/ns/net", pid).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return out;
  std::thread worker([&] {
    if (setns(fd.get(), CLONE_NEWNET) != 0) return;
    auto rtnl = Rtnl::open();
    if (!rtnl) return;
    auto links = read_links(*rtnl, AF_UNSPEC);
    auto addrs = read_addresses(*rtnl, Family::unspec);
    if (!links || !addrs) return;
    for (const Address& a : *addrs) {
      const auto ip = a.local ? a.local : a.address;
      if (!ip) continue;
      std::string ifname = fmt::format("if{}", a.ifindex);
      for (const Link& l : *links) {
        if (l.ifindex == a.ifindex && l.name) ifname = *l.name;
      }
      out.addresses.emplace_back(*ip, ifname);
    }
    if (auto routes = read_routes(*rtnl, RouteDump{Family::unspec, RT_TABLE_MAIN})) {
      for (const Route& r : *routes) {
        if (r.type != RTN_UNICAST) continue;
        IpAddr dst = r.dst.value_or(IpAddr{});
        dst.family = r.family;
        out.routes.emplace_back(dst, r.dst_len);
      }
    }
  });
  worker.join();
  return out;
}

}  // namespace

Expected<Snapshot> read_snapshot(const SnapshotRequest& req) {
  Snapshot s;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) s.hostname = host;

  auto rtnl = Rtnl::open();
  if (!rtnl) return rtnl.error();
  auto links = read_links(*rtnl, AF_UNSPEC);
  if (!links) return links.error();
  s.links = std::move(*links);
  auto addrs = read_addresses(*rtnl, Family::unspec);
  if (!addrs) return addrs.error();
  s.addresses = std::move(*addrs);
  if (req.with_routes) {
    auto routes = read_routes(*rtnl, RouteDump{Family::unspec, RT_TABLE_MAIN});
    if (routes) s.routes = std::move(*routes);
  }
  for (const IpAddr& a : req.route_to) {
    RouteLookup lookup;
    lookup.address = a;
    if (auto r = route_get(*rtnl, a)) {
      lookup.route = std::move(*r);
    } else {
      lookup.error = r.error().code;
    }
    s.route_lookups.push_back(std::move(lookup));
  }

  // Sockets here: every listener of the protocol (the nearby ones name a
  // port mismatch), and TIME_WAIT leftovers on the port.
  SocketQuery sq;
  sq.tcp = req.all_protocols || req.protocol == Protocol::tcp;
  sq.udp = req.all_protocols || req.protocol == Protocol::udp;
  auto sockets = read_sockets_diag(sq);
  bool from_proc = false;
  if (!sockets) {
    sockets = read_sockets_proc(sq, ProcSource{});
    if (!sockets) return sockets.error();
    from_proc = true;
    s.gaps.notes.push_back("sock_diag is unavailable: sockets were read from /proc/net (no v6only, backlog or "
                           "bound device)");
  }
  s.firewall = read_firewall();

  // When something listens on the port here, the leftovers of a stopped
  // server and the other namespaces do not change the answer: skip them
  // (walking TIME_WAIT sockets costs a pass over every connection).
  const bool any_on_port = req.port && std::any_of(sockets->sockets.begin(), sockets->sockets.end(),
                                                   [&](const Socket& k) { return k.port == *req.port; });
  if (!any_on_port && sq.tcp) {
    SocketQuery tw = sq;
    tw.udp = false;
    tw.time_wait_only = true;
    tw.port = req.port;
    auto waits = from_proc ? read_sockets_proc(tw, ProcSource{}) : read_sockets_diag(tw);
    if (waits) {
      std::map<std::uint16_t, std::size_t> per_port;
      for (const Socket& w : waits->sockets) ++per_port[w.port];
      for (const auto& [port, count] : per_port) s.time_wait.push_back({Protocol::tcp, port, count});
    }
  }

  // Listeners in other namespaces (containers): through sock_diag inside the
  // namespace when netwhy may enter it, else through /proc/PID/net. Looked
  // at when nothing listens on the port here, and for the destinations of
  // DNAT rules (a published container port).
  std::vector<std::pair<std::string, std::uint64_t>> foreign_ns;
  std::vector<Socket> foreign;
  const auto targets = port_forward_targets(s.firewall);
  if (!any_on_port || !targets.empty()) {
    const auto names = named_network_namespaces();
    for (const NetnsMember& m : other_network_namespaces()) {
      const auto name = names.find(m.inode);
      const std::string label = name != names.end() ? name->second : fmt::format("pid:{}", m.pid);
      std::vector<std::uint16_t> ports;
      if (!any_on_port) ports.push_back(req.port.value_or(0));
      if (!targets.empty()) {
        const NamespaceAddresses inside = addresses_in(m.pid);
        for (const auto& [addr, ifname] : inside.addresses) {
          for (const FwForward& t : targets) {
            if (t.to != addr) continue;
            s.other_netns_addresses.push_back({label, addr, ifname, inside.routes});
            ports.push_back(t.port != 0 ? t.port : req.port.value_or(0));
          }
        }
      }
      std::sort(ports.begin(), ports.end());
      ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
      for (const std::uint16_t port : ports) {
        SocketQuery fq = sq;
        if (port != 0) fq.port = port;
        auto got = read_sockets_diag_in(m.pid, fq);
        if (!got) got = read_sockets_proc(fq, ProcSource{"/proc", m.pid});
        if (!got) {
          s.gaps.other_netns_unreadable = true;
          continue;
        }
        for (const Socket& fs : got->sockets) {
          foreign.push_back(fs);
          foreign_ns.emplace_back(label, m.inode);
        }
      }
    }
  }

  // Processes are looked up for the listeners the answer names: those on the
  // port, or, when nothing is there, every listener (a port mismatch names
  // the nearby ones and the programs that usually serve the port).
  std::vector<std::uint64_t> inodes;
  for (const Socket& k : sockets->sockets) {
    if (!any_on_port || k.port == *req.port) inodes.push_back(k.inode);
  }
  for (const Socket& k : foreign) inodes.push_back(k.inode);
  const ProcessMap map = map_socket_owners(inodes);
  s.listeners = join_listeners(sockets->sockets, map);
  for (std::size_t i = 0; i < foreign.size(); ++i) {
    auto joined = join_listeners({foreign[i]}, map);
    s.other_netns.push_back({foreign_ns[i].first, foreign_ns[i].second, std::move(joined.front())});
  }
  for (Listener& l : s.listeners) {
    if (l.socket.bound_ifindex == 0) continue;
    for (const Link& link : s.links) {
      if (link.ifindex == l.socket.bound_ifindex) l.interface = link.name;
    }
  }
  for (Listener& l : s.listeners) {
    if (req.port && l.socket.port != *req.port) continue;
    for (Process& p : l.processes) p.framework = detect_framework(p);
  }

  s.gaps.root = geteuid() == 0;
  s.gaps.unreadable_processes = map.unreadable;
  s.gaps.hidepid = parse_hidepid(read_text("/proc/self/mountinfo"));
  for (const char* name : {"net.ipv4.ip_unprivileged_port_start", "net.ipv6.bindv6only", "net.core.somaxconn",
                           "net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"}) {
    if (auto v = read_sysctl(name)) s.sysctls[name] = *v;
  }
  const auto counters = parse_netstat(read_text("/proc/net/netstat"));
  for (const char* name : {"TcpExt.ListenOverflows", "TcpExt.ListenDrops"}) {
    if (auto it = counters.find(name); it != counters.end()) s.counters[name] = it->second;
  }

  // The one active step: connect to HOST's addresses that are not ours.
  if (req.probe && req.port) {
    for (const RouteLookup& r : s.route_lookups) {
      if (r.route && r.route->type == RTN_LOCAL) continue;
      s.probes.push_back(connect_probe(r.address, *req.port, req.probe_timeout_s));
    }
  }
  return s;
}

}  // namespace netwhy
