// netwhy port PORT [--host HOST]: the diagnosis, of this host or of a
// snapshot file.
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <ctime>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "netwhy/diagnose.hpp"
#include "netwhy/file.hpp"
#include "netwhy/render_diagnosis.hpp"
#include "netwhy/resolve.hpp"
#include "netwhy/snapshot.hpp"
#include "netwhy/text.hpp"
#include "netwhy/wait.hpp"
#include "options.hpp"
#include "report.hpp"

namespace netwhy::cli {

namespace {

constexpr std::size_t max_snapshot_bytes = 64U << 20;
constexpr double max_wait_s = 86400;  // a day: longer is a mistake, not a wait

// Prints a diagnosis (and the notes of the snapshot it came from) the way -j asks.
void print_diagnosis(const GlobalOptions& g, const Snapshot& snap, const Diagnosis& d) {
  for (const std::string& note : snap.gaps.notes) warn(escape_text(note));  // a snapshot file's notes are anyone's bytes
  if (g.json) {
    JsonWriter out(g.json_style(), stdout);
    render_diagnosis_json(out, d);
    out.flush();
  } else {
    write_stdout(render_diagnosis_text(d, g.palette()));
  }
}

// This host (or -n's namespace, already entered), read for the query.
Expected<Snapshot> read_for(const Query& q, double probe_timeout_s) {
  SnapshotRequest req;
  req.port = q.port;
  req.protocol = q.protocol;
  req.route_to = q.addresses;
  req.probe = q.probed;
  req.probe_timeout_s = probe_timeout_s;
  req.with_routes = true;  // the way back to clients: a default route, reverse-path filtering
  return read_snapshot(req);
}

volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_interrupt(int /*signal*/) { interrupted = 1; }

// The terminal's width, for the status line (80 when it can't be told).
std::size_t terminal_width() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

// --wait: the diagnosis again and again, with pauses that grow (Backoff),
// until it says reachable or the time is up. On a terminal, stderr shows
// the elapsed time and the current headline on one line that updates.
// Ctrl-C erases that line and ends netwhy as SIGINT would.
int wait_for_reachable(const GlobalOptions& g, const PortOptions& o, Query q) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(*o.wait));
  const bool on_terminal = ::isatty(STDERR_FILENO) == 1;
  struct sigaction ours {};
  struct sigaction before {};
  ours.sa_handler = on_interrupt;  // no SA_RESTART: the pause ends at once
  ::sigemptyset(&ours.sa_mask);
  ::sigaction(SIGINT, &ours, &before);

  Backoff backoff;
  std::optional<Snapshot> snap;
  std::optional<Diagnosis> last;
  std::optional<Error> unresolved;  // HOST has no address yet
  bool status_shown = false;
  const auto end_screen = [&] {  // before anything else is printed: the status line goes, Ctrl-C is Ctrl-C again
    if (status_shown) clear_status();
    ::sigaction(SIGINT, &before, nullptr);
  };
  const auto ms_since_start = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  };
  for (;;) {
    std::string headline;
    if (o.host) {
      bool not_yet = false;
      auto addrs = resolve(*o.host, g.family, &not_yet);
      if (!addrs && !not_yet) {
        end_screen();
        return fail(addrs.error());
      }
      if (addrs) {
        q.addresses = std::move(*addrs);
        unresolved.reset();
      } else {
        unresolved = addrs.error();
        headline = addrs.error().message();
      }
    }
    if (!unresolved) {
      const double remaining_s = std::chrono::duration<double>(deadline - Clock::now()).count();
      auto got = read_for(q, std::min(o.timeout, std::max(remaining_s, 0.1)));
      if (interrupted != 0) break;
      if (!got) {
        end_screen();
        return fail(got.error());
      }
      snap = std::move(*got);
      last = diagnose(*snap, q);
      if (last->verdict == Verdict::reachable) break;
      headline = last->headline;
    }
    const auto now = Clock::now();
    if (now >= deadline || interrupted != 0) break;
    if (on_terminal) {
      show_status(wait_status_line(ms_since_start(), headline, terminal_width() - 1));
      status_shown = true;
    }
    const auto pause = backoff.next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    timespec ts{static_cast<time_t>(pause.count() / 1000), static_cast<long>(pause.count() % 1000) * 1000000L};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR && interrupted == 0) {
    }
    if (interrupted != 0) break;
  }
  end_screen();
  if (interrupted != 0) {
    ::raise(SIGINT);  // the caller (a shell, a script) sees the interrupt it sent
    return 130;
  }
  const double waited = static_cast<double>(ms_since_start().count()) / 1000.0;
  if (!last) {  // HOST never resolved
    return fail(fmt::format("{} (waited {:.1f} s)", unresolved.value_or(input_error("no address")).message(), waited));
  }
  if (last->verdict == Verdict::reachable) {
    inform(fmt::format("reachable after {:.1f} s", waited));
    print_diagnosis(g, *snap, *last);
    return exit_ok;
  }
  inform(fmt::format("still not reachable after {:.1f} s; the last diagnosis:", waited));
  print_diagnosis(g, *snap, *last);
  return exit_negative;
}

}  // namespace

int run_port(const GlobalOptions& g, const PortOptions& o) {
  const Protocol protocol = o.udp ? Protocol::udp : Protocol::tcp;
  auto port = parse_port_arg(o.port, protocol);
  if (!port) return fail(port.error());
  if (!(o.timeout > 0 && o.timeout <= 60)) return fail("bad --timeout: give seconds, more than 0 and at most 60");
  if (o.wait) {
    if (!(*o.wait > 0 && *o.wait <= max_wait_s)) {
      return fail(fmt::format("bad --wait: give seconds, more than 0 and at most {}", max_wait_s));
    }
    if (o.snapshot) return fail("--wait watches this host; a --snapshot file does not change");
  }

  Query q;
  q.port = *port;
  q.protocol = protocol;
  q.host = o.host;
  if (o.snapshot) {
    if (g.netns) return fail("--snapshot diagnoses a file; -n does not apply to it");
    Snapshot snap;
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
    const Diagnosis d = diagnose(snap, q);
    print_diagnosis(g, snap, d);
    return exit_status(d.verdict);
  }

  if (auto entered = enter_requested_netns(g); !entered) return fail(entered.error());
  q.probed = !o.no_probe && protocol == Protocol::tcp;
  if (o.wait) return wait_for_reachable(g, o, q);
  if (o.host) {
    auto addrs = resolve(*o.host, g.family);
    if (!addrs) return fail(addrs.error());
    q.addresses = std::move(*addrs);
  }
  auto snap = read_for(q, o.timeout);
  if (!snap) return fail(snap.error());
  const Diagnosis d = diagnose(*snap, q);
  print_diagnosis(g, *snap, d);
  return exit_status(d.verdict);
}

}  // namespace netwhy::cli
