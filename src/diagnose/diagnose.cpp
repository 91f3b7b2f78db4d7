// The diagnosis engine. Pure: a snapshot and a question in, a verdict, the
// per-address evidence and findings out. The rules run in order, each adding
// evidence; grade() decides.
#include "netwhy/diagnose.hpp"

#include "engine.hpp"

namespace netwhy {

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::reachable: return "reachable";
    case Verdict::local_only: return "local-only";
    case Verdict::not_listening: return "not-listening";
    case Verdict::unreachable: return "unreachable";
    case Verdict::unknown: return "unknown";
  }
  return "unknown";
}

int exit_status(Verdict v) {
  switch (v) {
    case Verdict::reachable: return 0;
    case Verdict::unknown: return 3;
    case Verdict::local_only:
    case Verdict::not_listening:
    case Verdict::unreachable: return 1;
  }
  return 1;
}

Diagnosis diagnose(const Snapshot& snap, const Query& q) {
  engine::Context c(snap, q);
  engine::collect_listeners(c);
  engine::build_endpoints(c);
  engine::explain_listeners(c);
  engine::explain_firewall(c);
  engine::explain_interfaces(c);
  engine::explain_way_back(c);
  engine::explain_host(c);
  return engine::grade(c);
}

}  // namespace netwhy
