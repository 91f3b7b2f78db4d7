// Gathering a snapshot of this host for the diagnosis: the only place where
// the port command touches the kernel, /proc and the network.
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "netwhy/containers.hpp"
#include "netwhy/fd.hpp"
#include "netwhy/file.hpp"
#include "netwhy/netlink.hpp"
#include "netwhy/netns.hpp"
#include "netwhy/ports.hpp"
#include "netwhy/snapshot.hpp"
#include "netwhy/text.hpp"
#include "netwhy/probe.hpp"

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

std::optional<std::int64_t> read_sysctl_path(const std::string& path) {
  const std::string text = read_text(path, 64);
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{}) return std::nullopt;
  return v;
}

std::optional<std::int64_t> read_sysctl(const std::string& name) {
  std::string path = "/proc/sys/" + name;
  std::replace(path.begin() + 10, path.end(), '.', '/');
  return read_sysctl_path(path);
}

// A python process running a script that imports Flask: its fix is
// app.run(host=...). Reads the script through /proc/PID/cwd (root only).
std::string detect_framework(const Process& p) {
  if (p.comm.rfind("python", 0) != 0) return {};
  std::string lower = p.cmdline;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  // Named by its command line: "flask run", "python3 -m flask run".
  if (lower.find("flask run") != std::string::npos || lower.find("-m flask") != std::string::npos ||
      lower.find("/flask ") != std::string::npos) {
    return "flask";
  }
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

// A macvlan or ipvlan child: stacked on its parent, which may live in
// another namespace (the host's interface under a container's macvlan).
bool stacked_kind(const std::optional<std::string>& kind) {
  return kind && (macvlan_kind(*kind) || ipvlan_kind(*kind));
}

// The addresses of another namespace (with their interfaces, and what the
// interfaces are stacked on), read from a thread that enters it. Empty when
// it can't be entered (not root). own_netns: this namespace, open, so that a
// child whose parent is one of this namespace's interfaces is recognised.
struct NamespaceAddresses {
  std::vector<ForeignAddress> addresses;  // netns and routes left to the caller
  std::vector<std::pair<IpAddr, unsigned>> routes;
};

NamespaceAddresses addresses_in(pid_t pid, int own_netns) {
  NamespaceAddresses out;
  (void)run_in_netns_of(pid, [&] {
    auto rtnl = Rtnl::open();
    if (!rtnl) return;
    auto links = read_links(*rtnl, AF_UNSPEC);
    auto addrs = read_addresses(*rtnl, Family::unspec);
    if (!links || !addrs) return;
    const LinkIndex index(*links);
    // The id that namespace has for this one (IFLA_LINK_NETNSID names the
    // parent's namespace by it); asked only when a child is stacked elsewhere.
    std::optional<std::optional<int>> own_id;
    for (const Address& a : *addrs) {
      const auto ip = a.local ? a.local : a.address;
      if (!ip) continue;
      ForeignAddress fa;
      fa.address = *ip;
      fa.interface = index.name(a.ifindex);
      if (const Link* l = index.find(a.ifindex)) {
        fa.kind = l->kind.value_or("");
        fa.macvlan_mode = l->macvlan_mode;
        fa.ipvlan_mode = l->ipvlan_mode;
        const bool veth = l->kind && *l->kind == "veth";  // its peer: on a bridge here, for a container
        if ((stacked_kind(l->kind) || veth) && l->link && l->link_netnsid && own_netns >= 0) {
          if (!own_id) own_id = read_netns_id(*rtnl, own_netns);
          if (*own_id == l->link_netnsid) fa.parent = *l->link;
        }
      }
      out.addresses.push_back(std::move(fa));
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
  return out;
}

// The listeners of another namespace on one port (0: every port): sock_diag
// from a thread inside it when netwhy may enter it, else /proc/PID/net.
// Without processes: they are looked up once, with the others.
Expected<ListenerRead> read_listeners_in(pid_t pid, const ListenerQuery& here, std::uint16_t port) {
  ListenerQuery q = here;
  if (port != 0) q.sockets.port = port;
  q.source = SocketSource::netlink;
  q.links.reset();  // inside, its own links name its devices
  Expected<ListenerRead> got = Error{ErrorKind::system, EPERM, "enter namespace"};
  if (run_in_netns_of(pid, [&] { got = read_listeners(q); }) && got) return got;
  q.source = SocketSource::proc;
  q.proc = ProcSource{"/proc", pid};
  q.links = std::vector<Link>{};  // from outside, devices are only numbers
  return read_listeners(q);
}

// The network namespace of a process, by its inode; nullopt when unreadable.
std::optional<std::uint64_t> netns_inode(pid_t pid) {
  char target[64] = {};
  const std::string path = fmt::format("/proc/{}/ns/net", pid);
  const ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
  if (n <= 0) return std::nullopt;
  return parse_netns_link(std::string_view(target, static_cast<std::size_t>(n)));
}

bool publishes(const ContainerNetworking& net, std::uint16_t port, Protocol protocol) {
  const auto on_port = [&](const PortBinding& b) {
    return b.host_port == port && b.proto == (protocol == Protocol::tcp ? "tcp" : "udp");
  };
  return std::any_of(net.published.begin(), net.published.end(), on_port) ||
         std::any_of(net.requested.begin(), net.requested.end(), on_port);
}

// The containers met (their processes hold sockets here or in the
// namespaces looked into), and, when nothing listens on the port here, the
// docker containers that publish it: one that exited leaves its port
// behind. netwhy snapshot (no port) keeps every docker container.
void add_containers(Snapshot& s, ContainerTags& tags, const std::map<std::uint64_t, std::string>& labels,
                    const SnapshotRequest& req, bool nothing_here) {
  const auto label_of = [&](std::optional<pid_t> pid) -> std::string {
    if (!pid || *pid <= 0) return {};
    const auto inode = netns_inode(*pid);
    if (!inode) return {};
    const auto it = labels.find(*inode);
    return it != labels.end() ? it->second : std::string();
  };
  const auto own = netns_inode(::getpid());
  // Is a process (the container's shim or conmon, or dockerd) in this namespace?
  const auto here = [&](pid_t pid) { return pid > 0 && own && netns_inode(pid) == own; };
  for (Identity& id : tags.seen) {
    ContainerState c;
    c.id = *id.container;
    if (id.networking) {
      c.networking = *id.networking;
    } else {
      c.networking.running = true;  // a process of it (or its conmon) is alive
    }
    c.netns = label_of(c.networking.pid);
    if (id.netns_inode) {
      const auto it = labels.find(*id.netns_inode);
      if (it != labels.end()) c.netns = it->second;
    }
    c.engine_here = id.engine_pid == 0 || here(id.engine_pid);
    s.containers.push_back(std::move(c));
  }
  if (nothing_here || !req.port) {
    std::vector<std::string> notes;
    for (DockerContainer& d : read_docker_containers(notes)) {
      const bool known = std::any_of(s.containers.begin(), s.containers.end(),
                                     [&](const ContainerState& c) { return c.id.id == d.config.container.id; });
      if (known || (req.port && !publishes(d.config.net, *req.port, req.protocol))) continue;
      ContainerState c;
      c.id = std::move(d.config.container);
      c.networking = std::move(d.config.net);
      c.netns = c.networking.running ? label_of(c.networking.pid) : std::string();
      c.engine_here = d.dockerd == 0 || here(d.dockerd);
      s.containers.push_back(std::move(c));
    }
    for (std::string& n : notes) tags.notes.push_back(std::move(n));
  }
  for (std::string& n : tags.notes) s.gaps.notes.push_back(std::move(n));
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
  // port mismatch), and TIME_WAIT leftovers on the port. Their processes are
  // looked up below, once, with those of other namespaces.
  ListenerQuery lq;
  lq.sockets.tcp = req.all_protocols || req.protocol == Protocol::tcp;
  lq.sockets.udp = req.all_protocols || req.protocol == Protocol::udp;
  lq.with_processes = false;
  lq.links = s.links;
  auto here = read_listeners(lq);
  if (!here) return here.error();
  s.listeners = std::move(here->listeners);
  if (here->used == SocketSource::proc) {
    s.gaps.notes.push_back("sock_diag is unavailable: sockets were read from /proc/net (no v6only, backlog or "
                           "bound device)");
  }
  s.firewall = read_firewall();

  // When something listens on the port here, the leftovers of a stopped
  // server and the other namespaces do not change the answer: skip them
  // (walking TIME_WAIT sockets costs a pass over every connection).
  const bool any_on_port = req.port && std::any_of(s.listeners.begin(), s.listeners.end(),
                                                   [&](const Listener& l) { return l.socket.port == *req.port; });
  // Nothing of the protocol asked on the port: does the other protocol
  // listen there (a UDP service asked about with TCP, or the reverse)?
  if (!any_on_port && !req.all_protocols) {
    ListenerQuery other = lq;
    other.source = here->used;
    other.sockets.tcp = !lq.sockets.tcp;
    other.sockets.udp = !lq.sockets.udp;
    other.sockets.port = req.port;
    if (auto got = read_listeners(other)) {
      for (Listener& l : got->listeners) s.listeners.push_back(std::move(l));
    }
  }
  if (!any_on_port && lq.sockets.tcp) {
    ListenerQuery tw = lq;
    tw.source = here->used;
    tw.sockets.udp = false;
    tw.sockets.time_wait_only = true;
    tw.sockets.port = req.port;
    if (auto waits = read_listeners(tw)) {
      std::map<std::uint16_t, std::size_t> per_port;
      for (const Listener& w : waits->listeners) ++per_port[w.socket.port];
      for (const auto& [port, count] : per_port) s.time_wait.push_back({Protocol::tcp, port, count});
    }
  }

  // Processes are looked up for the listeners the answer names: those on the
  // port, or, when nothing is there, every listener (a port mismatch names
  // the nearby ones and the programs that usually serve the port); then the
  // containers they run in, or hold a port for (docker-proxy, conmon).
  std::vector<std::uint64_t> inodes;
  for (const Listener& l : s.listeners) {
    if (!any_on_port || l.socket.port == *req.port) inodes.push_back(l.socket.inode);
  }
  const ProcessMap map = map_socket_owners(inodes);
  attach_processes(s.listeners, map);
  ContainerTags tags;
  tag_containers(s.listeners, tags);

  // Listeners in other namespaces (containers): through sock_diag inside the
  // namespace when netwhy may enter it, else through /proc/PID/net. Looked
  // at when nothing listens on the port here, and for the destinations of
  // DNAT rules and of docker-proxy (a published container port).
  std::vector<FwForward> targets = port_forward_targets(s.firewall);
  for (const Listener& l : s.listeners) {
    if (req.port && l.socket.port != *req.port) continue;
    for (const Process& p : l.processes) {
      std::string raw = p.cmdline;
      std::replace(raw.begin(), raw.end(), ' ', '\0');
      if (const auto f = parse_docker_proxy_cmdline(raw)) {
        FwForward t;
        t.to = f->container_ip;
        t.port = f->container_port;
        targets.push_back(std::move(t));
      }
    }
  }
  // rootless podman's containers, behind rootlessport: every listener there.
  std::set<std::uint64_t> look_all;
  for (const Identity& id : tags.seen) {
    if (id.netns_inode) look_all.insert(*id.netns_inode);
  }
  // This namespace, open: other namespaces name it by an id of their own.
  const UniqueFd own_netns(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  std::map<std::uint64_t, std::string> labels;  // namespace inode -> label
  if (!any_on_port || !targets.empty() || !look_all.empty()) {
    const auto names = named_network_namespaces();
    for (const NetnsMember& m : other_network_namespaces()) {
      const auto name = names.find(m.inode);
      const std::string label = name != names.end() ? name->second : fmt::format("pid:{}", m.pid);
      labels[m.inode] = label;
      std::vector<std::uint16_t> ports;
      if (!any_on_port) ports.push_back(req.port.value_or(0));
      if (look_all.count(m.inode) != 0) ports.push_back(0);
      if (!targets.empty()) {
        const NamespaceAddresses inside = addresses_in(m.pid, own_netns.get());
        for (const ForeignAddress& a : inside.addresses) {
          for (const FwForward& t : targets) {
            if (t.to != a.address) continue;
            const bool known = std::any_of(s.other_netns_addresses.begin(), s.other_netns_addresses.end(),
                                           [&](const ForeignAddress& k) { return k.netns == label && k.address == a.address; });
            if (!known) {
              ForeignAddress fa = a;
              fa.netns = label;
              fa.routes = inside.routes;
              s.other_netns_addresses.push_back(std::move(fa));
            }
            ports.push_back(t.port != 0 ? t.port : req.port.value_or(0));
          }
        }
      }
      std::sort(ports.begin(), ports.end());
      ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
      if (!ports.empty() && ports.front() == 0) ports.resize(1);  // every port already
      for (const std::uint16_t port : ports) {
        auto got = read_listeners_in(m.pid, lq, port);
        if (!got) {
          s.gaps.other_netns_unreadable = true;
          continue;
        }
        for (Listener& l : got->listeners) s.other_netns.push_back({label, m.inode, std::move(l)});
      }
    }
  }
  if (!s.other_netns.empty()) {
    std::vector<std::uint64_t> foreign;
    for (const ForeignListener& f : s.other_netns) foreign.push_back(f.listener.socket.inode);
    const ProcessMap there = map_socket_owners(foreign);
    std::vector<Listener> found;
    for (ForeignListener& f : s.other_netns) found.push_back(std::move(f.listener));
    attach_processes(found, there);
    tag_containers(found, tags);
    for (std::size_t i = 0; i < found.size(); ++i) s.other_netns[i].listener = std::move(found[i]);
  }
  for (Listener& l : s.listeners) {
    if (req.port && l.socket.port != *req.port) continue;
    for (Process& p : l.processes) p.framework = detect_framework(p);
  }
  add_containers(s, tags, labels, req, !any_on_port);

  s.gaps.root = geteuid() == 0;
  s.gaps.unreadable_processes = map.unreadable;  // those of this namespace's listeners
  s.gaps.hidepid = parse_hidepid(read_text("/proc/self/mountinfo"));
  for (const char* name : {"net.ipv4.ip_unprivileged_port_start", "net.ipv6.bindv6only", "net.core.somaxconn",
                           "net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"}) {
    if (auto v = read_sysctl(name)) s.sysctls[name] = *v;
  }
  // Reverse-path filtering: the larger of all's and the interface's value
  // applies (an interface name may hold dots: read its own directory).
  if (auto v = read_sysctl("net.ipv4.conf.all.rp_filter")) s.sysctls["net.ipv4.conf.all.rp_filter"] = *v;
  for (const Link& l : s.links) {
    if (!l.name || l.name->find('/') != std::string::npos) continue;
    if (auto v = read_sysctl_path(fmt::format("/proc/sys/net/ipv4/conf/{}/rp_filter", *l.name))) {
      s.sysctls[fmt::format("net.ipv4.conf.{}.rp_filter", *l.name)] = *v;
    }
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
  // A connect that got no answer (a timeout, or no ARP/ND reply): is the
  // address a container's, on a macvlan or ipvlan child of one of this
  // host's interfaces? This host can't reach those through the parent.
  // Looked for only then: the namespaces are walked after a failure only.
  std::vector<IpAddr> silent;
  for (const Probe& p : s.probes) {
    if (unanswered(p)) silent.push_back(p.address);
  }
  if (!silent.empty() && own_netns.valid()) {
    const auto names = named_network_namespaces();
    for (const NetnsMember& m : other_network_namespaces()) {
      const auto name = names.find(m.inode);
      const std::string label = name != names.end() ? name->second : fmt::format("pid:{}", m.pid);
      NamespaceAddresses inside = addresses_in(m.pid, own_netns.get());
      for (ForeignAddress& a : inside.addresses) {
        if (std::find(silent.begin(), silent.end(), a.address) == silent.end()) continue;
        const bool known = std::any_of(s.other_netns_addresses.begin(), s.other_netns_addresses.end(),
                                       [&](const ForeignAddress& k) { return k.netns == label && k.address == a.address; });
        if (known) continue;  // a DNAT target, gathered above
        a.netns = label;
        a.routes = inside.routes;
        s.other_netns_addresses.push_back(std::move(a));
      }
    }
  }
  return s;
}

}  // namespace netwhy
