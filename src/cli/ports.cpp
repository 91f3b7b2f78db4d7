// netwhy ports [PORT]: every listening socket and every process holding it.
#include <unistd.h>

#include <fmt/format.h>

#include "netwhy/containers.hpp"
#include "netwhy/netns.hpp"
#include "netwhy/ports.hpp"
#include "netwhy/text.hpp"
#include "options.hpp"
#include "report.hpp"

namespace netwhy::cli {

int run_ports(const GlobalOptions& g, const PortsOptions& o) {
  ListenerQuery q;
  q.sockets.tcp = o.tcp || !o.udp;
  q.sockets.udp = o.udp || !o.tcp;
  q.sockets.family = g.family;
  if (o.port) {
    auto port = parse_port_arg(*o.port, o.udp && !o.tcp ? Protocol::udp : Protocol::tcp);
    if (!port) return fail(port.error());
    q.sockets.port = *port;
  }
  if (o.source == "proc") {
    q.source = SocketSource::proc;
  } else if (o.source == "netlink") {
    q.source = SocketSource::netlink;
  }
  if (g.netns) {
    auto spec = parse_netns_spec(*g.netns);
    if (!spec) return fail(spec.error());
    const auto target = resolve_netns(*std::move(spec));  // docker:NAME: the pid of its init
    if (!target) return fail(target.error());
    if (q.source == SocketSource::proc && target->pid != 0) {
      // /proc/PID/net shows that process's namespace without entering it.
      q.proc.pid = target->pid;
      if (access(fmt::format("/proc/{}", target->pid).c_str(), F_OK) != 0) {
        return fail(fmt::format("no process with pid {}", target->pid));
      }
    } else if (auto entered = enter_netns(*target); !entered) {
      return fail(entered.error());
    }
  }
  auto got = read_listeners(q);
  if (!got) return fail(got.error());
  ContainerTags tags;
  tag_containers(got->listeners, tags);
  for (const std::string& n : tags.notes) got->warnings.push_back(n);
  for (const std::string& w : got->warnings) warn(w);
  if (got->unreadable_processes != 0) {
    warn(fmt::format("{} process{} could not be read (not root): sockets they hold show no process; "
                     "run as root to see them",
                     got->unreadable_processes, got->unreadable_processes == 1 ? "" : "es"));
  }
  if (g.json) {
    JsonWriter out(g.json_style(), stdout);
    render_listeners_json(out, got->listeners);
    out.flush();
  } else {
    write_stdout(render_listeners_text(got->listeners, g.palette()));
  }
  return exit_ok;
}

}  // namespace netwhy::cli
