// The whole engine offline, as `netwhy port --snapshot FILE` runs it: a
// snapshot file loads, several questions are diagnosed, and each diagnosis
// is rendered as text and as JSON. The JSON must parse; the text without
// colour must be safe for a terminal (valid UTF-8, no control characters).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

#include "fuzz.hpp"
#include "netwhy/diagnose.hpp"
#include "netwhy/render_diagnosis.hpp"
#include "netwhy/render_ports.hpp"
#include "netwhy/snapshot.hpp"

namespace {

using namespace netwhy;

void check_json(const std::string& text, const char* what) {
  const bool ok = nlohmann::json::accept(text);
  if (!ok) std::fprintf(stderr, "%s does not parse:\n%s\n", what, text.c_str());
  fuzz::check(ok, what);
}

void check_terminal(const std::string& text, const char* what) {
  const bool ok = fuzz::terminal_safe(text);
  if (!ok) std::fprintf(stderr, "%s is not safe for a terminal:\n%s\n", what, text.c_str());
  fuzz::check(ok, what);
}

// The questions: fixed ports, the snapshot's own listening ports, with no
// host, one of its addresses, an address elsewhere, and IPv6 loopback.
std::vector<Query> questions(const Snapshot& snap) {
  std::vector<std::uint16_t> ports{22, 8000};
  for (const Listener& l : snap.listeners) {
    if (ports.size() >= 4) break;
    if (std::find(ports.begin(), ports.end(), l.socket.port) == ports.end()) ports.push_back(l.socket.port);
  }
  std::vector<std::pair<std::string, IpAddr>> hosts{{"203.0.113.5", fuzz::ip("203.0.113.5")},
                                                    {"::1", fuzz::ip("::1")}};
  for (const Address& a : snap.addresses) {
    if (const auto& addr = a.local ? a.local : a.address) {
      hosts.emplace_back(addr->to_string(), *addr);
      break;
    }
  }
  std::vector<Query> out;
  for (std::size_t i = 0; i < ports.size(); ++i) {
    Query q;
    q.port = ports[i];
    q.protocol = i % 2 == 0 ? Protocol::tcp : Protocol::udp;
    out.push_back(q);
    if (i < hosts.size()) {
      q.protocol = Protocol::tcp;
      q.host = hosts[i].first;
      q.addresses = {hosts[i].second};
      q.probed = true;
      out.push_back(q);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto loaded = snapshot_from_json(fuzz::text_of(data, size));
  if (!loaded) return 0;
  const Snapshot& snap = *loaded;
  for (const Query& q : questions(snap)) {
    const Diagnosis d = diagnose(snap, q);
    (void)exit_status(d.verdict);
    for (const JsonStyle style : {JsonStyle::compact, JsonStyle::pretty}) {
      JsonWriter out(style);
      render_diagnosis_json(out, d);
      check_json(out.text(), "the diagnosis as JSON");
    }
    check_terminal(render_diagnosis_text(d, Palette(ColorMode::never)), "the diagnosis as text");
    (void)render_diagnosis_text(d, Palette(ColorMode::always));
  }
  JsonWriter out(JsonStyle::compact);
  render_listeners_json(out, snap.listeners);
  check_json(out.text(), "the listeners as JSON");
  check_terminal(render_listeners_text(snap.listeners, Palette(ColorMode::never)), "the listeners as text");
  return 0;
}
