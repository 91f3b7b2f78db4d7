#include <algorithm>

#include <fmt/format.h>

#include "netwhy/render_diagnosis.hpp"
#include "netwhy/text.hpp"

namespace netwhy {


namespace {

bool link_local_v6(const IpAddr& a) {
  return a.family == Family::inet6 && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80;
}

Paint verdict_paint(Verdict v) {
  switch (v) {
    case Verdict::reachable: return Paint::good;
    case Verdict::local_only:
    case Verdict::unknown: return Paint::warn;
    case Verdict::not_listening:
    case Verdict::unreachable: return Paint::bad;
  }
  return Paint::bad;
}

Paint severity_paint(Severity s) {
  switch (s) {
    case Severity::error: return Paint::bad;
    case Severity::warning: return Paint::warn;
    case Severity::info: return Paint::dim;
  }
  return Paint::dim;
}

}  // namespace

void render_diagnosis_json(JsonWriter& out, const Diagnosis& d) {
  out.begin_object();
  render_diagnosis_fields(out, d);
  out.end_object();
}

void render_diagnosis_fields(JsonWriter& out, const Diagnosis& d) {
  out.key("query");
  out.begin_object();
  out.field("port", d.query.port);
  out.field("protocol", to_string(d.query.protocol));
  if (d.query.host) {
    out.field("host", *d.query.host);
  } else {
    out.null_field("host");
  }
  out.key("addresses");
  out.begin_array();
  for (const IpAddr& a : d.query.addresses) out.value(a.to_string());
  out.end_array();
  if (d.query.url) out.field("url", *d.query.url);
  out.end_object();
  out.field("verdict", to_string(d.verdict));
  out.field("headline", d.headline);
  out.key("listeners");
  render_listeners_json(out, d.listeners);
  out.key("endpoints");
  out.begin_array();
  for (const Endpoint& e : d.endpoints) {
    out.begin_object();
    out.field("address", e.address.to_string());
    out.field("family", to_string(e.address.family));
    if (e.interface) {
      out.field("interface", *e.interface);
    } else {
      out.null_field("interface");
    }
    out.field("local", e.local);
    if (e.remote) {
      out.field("remote", *e.remote);
    } else {
      out.null_field("remote");
    }
    if (e.listener) {
      out.field("listener", static_cast<std::uint64_t>(*e.listener));
    } else {
      out.null_field("listener");
    }
    out.field("from_host", e.from_host);
    out.end_object();
  }
  out.end_array();
  out.key("findings");
  out.begin_array();
  for (const Finding& f : d.findings) {
    out.begin_object();
    out.field("code", to_string(f.code));
    out.field("severity", to_string(f.severity));
    out.field("message", f.message);
    if (f.fix) {
      out.field("fix", *f.fix);
    } else {
      out.null_field("fix");
    }
    if (f.pid) out.field("pid", *f.pid);
    if (f.interface) out.field("interface", *f.interface);
    if (f.address) out.field("address", *f.address);
    if (f.netns) out.field("netns", *f.netns);
    if (f.port) out.field("port", *f.port);
    if (f.rule) out.field("rule", *f.rule);
    if (f.container) {
      out.key("container");
      out.begin_object();
      out.field("engine", f.container->engine);
      out.field("id", f.container->id);
      out.field("name", f.container->name);
      out.end_object();
    }
    out.end_object();
  }
  out.end_array();
}

std::string render_diagnosis_text(const Diagnosis& d, const Palette& palette, std::string_view section) {
  std::string out = palette.paint(verdict_paint(d.verdict), escape_text(d.headline)) + "\n";

  struct Row {
    std::string address, interface, here, there;
    bool host = false;
  };
  std::vector<Row> rows;
  std::size_t hidden = 0;
  // HOST is another machine: this host's own addresses are beside the point.
  const bool elsewhere = d.query.host && std::none_of(d.endpoints.begin(), d.endpoints.end(), [](const Endpoint& e) {
    return e.from_host && e.interface;
  });
  for (const Endpoint& e : d.endpoints) {
    if (elsewhere && !e.from_host) continue;
    if (link_local_v6(e.address) && !e.from_host) {
      ++hidden;
      continue;
    }
    Row r;
    r.address = e.address.to_string();
    if (e.from_host && d.query.host && *d.query.host != r.address) r.address += " (" + escape_text(*d.query.host) + ")";
    r.interface = e.interface ? escape_text(*e.interface) : "-";
    r.here = e.local ? "yes" : "no";
    r.there = !e.interface ? "-" : !e.remote ? "?" : *e.remote ? "yes" : "no";
    rows.push_back(std::move(r));
  }
  // Nothing listens and no HOST was named: a table of "no" says nothing.
  if (d.verdict == Verdict::not_listening && !d.query.host) rows.clear(), hidden = 0;
  if (!rows.empty()) {
    std::size_t w0 = 7;
    std::size_t w1 = 9;
    for (const Row& r : rows) {
      w0 = std::max(w0, r.address.size());
      w1 = std::max(w1, r.interface.size());
    }
    const std::size_t w2 = 9;
    out += "\n";
    out += palette.paint(Paint::bold, fmt::format("  {:<{}}  {:<{}}  {:<{}}  {}", "Address", w0, "Interface", w1,
                                                  "This host", w2, "Other hosts")) +
           "\n";
    for (const Row& r : rows) {
      const auto mark = [&](const std::string& v, std::size_t width) {
        const std::string padded = fmt::format("{:<{}}", v, width);
        if (v.rfind("yes", 0) == 0) return palette.paint(Paint::good, padded);
        if (v == "no") return palette.paint(Paint::bad, padded);
        return padded;
      };
      std::string line = fmt::format("  {:<{}}  {:<{}}  {}  {}", r.address, w0, r.interface, w1, mark(r.here, w2),
                                     mark(r.there, 0));
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
    if (hidden != 0) {
      out += palette.paint(Paint::dim, fmt::format("  ({} link-local IPv6 address{} not shown; -j lists every address)",
                                                   hidden, hidden == 1 ? "" : "es")) +
             "\n";
    }
  }
  if (!section.empty()) out += "\n" + std::string(section);
  if (!d.findings.empty()) out += "\n";
  for (const Finding& f : d.findings) {
    const std::string sev(to_string(f.severity));
    out += palette.paint(severity_paint(f.severity), fmt::format("{:<8}", sev)) + palette.paint(Paint::bold, std::string(to_string(f.code))) +
           ": " + escape_text(f.message) + "\n";
    if (f.fix) out += "        " + palette.paint(Paint::good, "fix:") + " " + escape_text(*f.fix) + "\n";
  }
  return out;
}

}  // namespace netwhy
