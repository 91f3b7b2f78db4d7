// netwhy ports: a table a person reads at a glance, and the contract's
// listener objects.
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "netwhy/render_ports.hpp"
#include "netwhy/text.hpp"

namespace netwhy {

std::string describe_processes(const std::vector<Process>& procs) {
  if (procs.empty()) return "-";
  std::set<pid_t> holders;
  for (const Process& p : procs) holders.insert(p.pid);
  std::string out;
  for (const Process& p : procs) {
    if (holders.count(p.ppid) != 0) continue;  // a worker: counted under its parent
    std::size_t workers = 0;
    for (const Process& w : procs) {
      if (w.ppid == p.pid) ++workers;
    }
    if (!out.empty()) out += ", ";
    out += fmt::format("{}({})", escape_text(p.comm), p.pid);
    if (workers != 0) out += fmt::format(" +{} worker{}", workers, workers == 1 ? "" : "s");
    if (p.container) {
      // "docker-proxy(812) for docker:web", "httpd(901) in docker:web"
      const std::string who = p.container->name.empty() ? p.container->id.substr(0, 12) : p.container->name;
      out += fmt::format(" {} {}:{}", p.container->holder ? "for" : "in", escape_text(p.container->engine),
                         escape_text(who));
    }
  }
  return out;
}

namespace {

std::string endpoint(const Socket& s) {
  return s.family == Family::inet6 ? fmt::format("[{}]:{}", s.local.to_string(), s.port)
                                   : fmt::format("{}:{}", s.local.to_string(), s.port);
}

// Who the socket takes connections from, in words instead of ss's * and [::].
std::string stack(const Listener& l) {
  const Socket& s = l.socket;
  std::string out;
  if (s.family == Family::inet) {
    out = "IPv4";
  } else if (!s.local.is_unspecified()) {
    out = "IPv6";
  } else if (!s.v6only) {
    out = "IPv6 (v6only ?)";
  } else {
    out = *s.v6only ? "IPv6 only" : "IPv4+IPv6";
  }
  if (s.local.is_loopback()) out += ", loopback";
  if (l.interface) out += " on " + escape_text(*l.interface);
  return out;
}

std::string queue(const Socket& s) {
  if (s.protocol != Protocol::tcp) return "-";
  return fmt::format("{}/{}", s.queued ? std::to_string(*s.queued) : "?",
                     s.backlog ? std::to_string(*s.backlog) : "?");
}

}  // namespace

void render_listeners_json(JsonWriter& out, const std::vector<Listener>& listeners) {
  out.begin_array();
  for (const Listener& l : listeners) {
    const Socket& s = l.socket;
    out.begin_object();
    out.field("protocol", to_string(s.protocol));
    out.field("family", to_string(s.family));
    out.field("local_address", s.local.to_string());
    out.field("port", s.port);
    if (l.interface) {
      out.field("interface", *l.interface);
    } else {
      out.null_field("interface");
    }
    if (s.v6only && s.family == Family::inet6) {
      out.field("v6only", *s.v6only);
    } else {
      out.null_field("v6only");
    }
    const auto opt_num = [&](std::string_view key, const std::optional<std::uint32_t>& v) {
      if (v) {
        out.field(key, *v);
      } else {
        out.null_field(key);
      }
    };
    opt_num("backlog", s.backlog);
    opt_num("queued", s.queued);
    out.field("inode", s.inode);
    out.field("uid", s.uid);
    out.key("processes");
    out.begin_array();
    for (const Process& p : l.processes) {
      out.begin_object();
      out.field("pid", p.pid);
      out.field("comm", p.comm);
      out.field("cmdline", p.cmdline);
      out.field("user", p.user);
      out.field("ppid", p.ppid);
      if (p.container) {
        out.key("container");
        out.begin_object();
        out.field("engine", p.container->engine);
        out.field("id", p.container->id);
        out.field("name", p.container->name);
        out.field("holder", p.container->holder);
        out.end_object();
      } else {
        out.null_field("container");
      }
      out.end_object();
    }
    out.end_array();
    out.end_object();
  }
  out.end_array();
}

std::string render_listeners_text(const std::vector<Listener>& listeners, const Palette& palette) {
  struct Row {
    std::string proto, where, stack, queue, procs;
  };
  std::vector<Row> rows;
  rows.push_back({"Proto", "Local address:port", "Accepts", "Queue", "Processes"});
  for (const Listener& l : listeners) {
    rows.push_back({std::string(to_string(l.socket.protocol)), endpoint(l.socket), stack(l), queue(l.socket),
                    describe_processes(l.processes)});
  }
  std::size_t w[4] = {};
  for (const Row& r : rows) {
    w[0] = std::max(w[0], r.proto.size());
    w[1] = std::max(w[1], r.where.size());
    w[2] = std::max(w[2], r.stack.size());
    w[3] = std::max(w[3], r.queue.size());
  }
  // Padding by hand: thousands of rows, and fmt's width parsing per cell shows.
  std::string out;
  out.reserve(rows.size() * (w[0] + w[1] + w[2] + w[3] + 32));
  std::string line;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    line.clear();
    const std::string* cells[] = {&r.proto, &r.where, &r.stack, &r.queue};
    for (std::size_t c = 0; c < 4; ++c) {
      line += *cells[c];
      line.append(w[c] - cells[c]->size() + 2, ' ');
    }
    line += r.procs;
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += i == 0 ? palette.paint(Paint::bold, line) : line;
    out += '\n';
  }
  return out;
}

}  // namespace netwhy
