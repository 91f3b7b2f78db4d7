// netwhy snapshot: the facts behind the diagnosis, as a file another host
// can diagnose (netwhy port PORT --snapshot FILE).
#include "netwhy/snapshot.hpp"
#include "options.hpp"
#include "report.hpp"

namespace netwhy::cli {

int run_snapshot(const GlobalOptions& g) {
  if (auto entered = enter_requested_netns(g); !entered) return fail(entered.error());
  SnapshotRequest req;
  req.all_protocols = true;
  req.with_routes = true;
  auto snap = read_snapshot(req);
  if (!snap) return fail(snap.error());
  write_stdout(snapshot_to_json(*snap, g.pretty));
  return exit_ok;
}

}  // namespace netwhy::cli
