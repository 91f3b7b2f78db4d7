// libnftables' JSON into plain values. Expressions the evaluator does not
// understand are kept as FwKey::unknown with their JSON text, so the
// evaluation can say "unknown" instead of guessing.
#include <algorithm>
#include <concepts>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "netwhy/firewall.hpp"
#include "netwhy/text.hpp"
#include "../common/json_error.hpp"

namespace netwhy {

namespace {

using json = nlohmann::json;

// A field the ruleset cannot be read without (a rule's handle, a chain's
// priority) that is not what nft writes.
struct Bad {
  std::string what;
};

// A JSON number as T when it is an integer in T's range. nlohmann reads
// 2^64 or 1e300 as a double: that is nullopt, never cast.
template <std::integral T>
std::optional<T> integer_of(const json& v) {
  if (v.is_number_unsigned()) {
    const auto n = v.get<std::uint64_t>();
    if (!std::in_range<T>(n)) return std::nullopt;
    return static_cast<T>(n);
  }
  if (v.is_number_integer()) {
    const auto n = v.get<std::int64_t>();
    if (!std::in_range<T>(n)) return std::nullopt;
    return static_cast<T>(n);
  }
  return std::nullopt;
}

// o[key] as T; absent: fallback; anything else is an error naming the
// field and where it is (`where` is called only then).
template <std::integral T, class Where>
T integer_field(const json& o, const char* key, T fallback, Where&& where) {
  const auto it = o.find(key);
  if (it == o.end()) return fallback;
  if (const auto n = integer_of<T>(*it)) return *n;
  throw Bad{fmt::format("{}: \"{}\" is {}, not an integer from {} to {}", where(), key,
                        escape_arg(it->dump(-1, ' ', false, json::error_handler_t::replace), 40),
                        std::numeric_limits<T>::min(), std::numeric_limits<T>::max())};
}

bool parse_value(const json& v, FwValue& out) {
  if (const auto n = integer_of<std::uint64_t>(v)) {
    out.kind = FwValue::Kind::number;
    out.number = *n;
    return true;
  }
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (!s.empty() && s[0] == '@') {
      out.kind = FwValue::Kind::set_ref;
      out.text = s.substr(1);
      return true;
    }
    if (auto a = IpAddr::parse(s)) {
      out.kind = FwValue::Kind::address;
      out.addr = *a;
      return true;
    }
    out.kind = FwValue::Kind::text;
    out.text = s;
    return true;
  }
  if (v.is_object() && v.contains("prefix")) {
    const json& p = v["prefix"];
    if (!p.contains("addr") || !p["addr"].is_string() || !p.contains("len")) return false;
    const auto a = IpAddr::parse(p["addr"].get<std::string>());
    const auto len = integer_of<unsigned>(p["len"]);  // 2^32+8 is not /8
    if (!a || !len || *len > a->bits()) return false;
    out.kind = FwValue::Kind::prefix;
    out.addr = *a;
    out.prefix_len = *len;
    return true;
  }
  if (v.is_object() && v.contains("concat") && v["concat"].is_array()) {  // "10.0.0.1 . 22"
    out.kind = FwValue::Kind::concat;
    for (const json& part : v["concat"]) {
      FwValue pv;
      if (!parse_value(part, pv) || pv.kind == FwValue::Kind::concat) return false;
      out.parts.push_back(std::move(pv));
    }
    return !out.parts.empty();
  }
  if (v.is_object() && v.contains("range") && v["range"].is_array() && v["range"].size() == 2) {
    FwValue lo;
    FwValue hi;
    if (!parse_value(v["range"][0], lo) || !parse_value(v["range"][1], hi) || lo.kind != hi.kind) return false;
    out.kind = FwValue::Kind::range;
    if (lo.kind == FwValue::Kind::number) {
      out.number = lo.number;
      out.number_hi = hi.number;
      return true;
    }
    if (lo.kind == FwValue::Kind::address) {
      out.addr = lo.addr;
      out.addr_hi = hi.addr;
      out.text = "address";
      return true;
    }
    return false;
  }
  return false;
}

bool parse_values(const json& right, std::vector<FwValue>& out) {
  if (right.is_object() && right.contains("set") && right["set"].is_array()) {
    for (const json& e : right["set"]) {
      FwValue v;
      if (!parse_value(e, v)) return false;
      out.push_back(v);
    }
    return true;
  }
  if (right.is_array()) {  // flags: ["established", "related"]
    for (const json& e : right) {
      FwValue v;
      if (!parse_value(e, v)) return false;
      out.push_back(v);
    }
    return true;
  }
  FwValue v;
  if (!parse_value(right, v)) return false;
  out.push_back(v);
  return true;
}

// A mark's mask: "meta mark & 0xff" -> 0xff.
bool parse_mask(const json& n, std::uint32_t& mask) {
  const auto m = integer_of<std::uint32_t>(n);
  if (m) mask = *m;
  return m.has_value();
}

// What a match (or a verdict map, or a concatenation's part) looks at:
// sets key, proto and mask; false when netwhy does not evaluate it.
bool parse_key(const json& left, FwMatch& out) {
  if (!left.is_object()) return false;
  if (left.contains("meta") && left["meta"].is_object() && left["meta"].contains("key") &&
      left["meta"]["key"].is_string()) {
    static const std::map<std::string, FwKey, std::less<>> meta = {
        {"iif", FwKey::iif},         {"iifname", FwKey::iifname}, {"oif", FwKey::oif},
        {"oifname", FwKey::oifname}, {"l4proto", FwKey::l4proto}, {"nfproto", FwKey::nfproto},
        {"mark", FwKey::meta_mark}};
    const auto it = meta.find(left["meta"]["key"].get<std::string>());
    if (it == meta.end()) return false;
    out.key = it->second;
    return true;
  }
  if (left.contains("payload") && left["payload"].is_object()) {
    const json& p = left["payload"];
    if (!p.contains("protocol") || !p.contains("field") || !p["protocol"].is_string() || !p["field"].is_string()) {
      return false;
    }
    const std::string proto = p["protocol"].get<std::string>();
    const std::string field = p["field"].get<std::string>();
    out.proto = proto;  // implies the protocol even when the field is not evaluated
    if ((proto == "ip" || proto == "ip6") && (field == "saddr" || field == "daddr")) {
      out.key = field == "saddr" ? FwKey::saddr : FwKey::daddr;
    } else if ((proto == "tcp" || proto == "udp" || proto == "th") && (field == "sport" || field == "dport")) {
      out.key = field == "sport" ? FwKey::sport : FwKey::dport;
    } else if ((proto == "ip" && field == "protocol") || (proto == "ip6" && field == "nexthdr")) {
      out.key = FwKey::l4proto;
    } else {
      return false;
    }
    return true;
  }
  if (left.contains("ct") && left["ct"].is_object() && left["ct"].contains("key") && !left["ct"].contains("dir")) {
    const json& k = left["ct"]["key"];
    if (k == "state") out.key = FwKey::ct_state;
    else if (k == "status") out.key = FwKey::ct_status;
    else if (k == "mark") out.key = FwKey::ct_mark;
    else return false;
    return true;
  }
  if (left.contains("fib") && left["fib"].is_object() && left["fib"].value("result", "") == "type" &&
      left["fib"].contains("flags") && left["fib"]["flags"] == json::array({"daddr"})) {
    out.key = FwKey::fib_daddr_type;  // "fib daddr type local": Docker's way to its DOCKER chain
    return true;
  }
  if (left.contains("&") && left["&"].is_array() && left["&"].size() == 2) {  // "meta mark & 0xff"
    FwMatch inner;
    if (!parse_key(left["&"][0], inner) || (inner.key != FwKey::meta_mark && inner.key != FwKey::ct_mark) ||
        !parse_mask(left["&"][1], out.mask)) {
      return false;
    }
    out.key = inner.key;
    out.mask &= inner.mask;
    return true;
  }
  if (left.contains("concat") && left["concat"].is_array() && !left["concat"].empty()) {  // ip saddr . tcp dport
    for (const json& part : left["concat"]) {
      FwMatch pm;
      if (!parse_key(part, pm) || pm.key == FwKey::concat) {
        // an unknown part still implies its protocol
        out.parts.push_back(std::move(pm));
        return false;
      }
      out.parts.push_back(std::move(pm));
    }
    out.key = FwKey::concat;
    return true;
  }
  return false;
}

FwMatch parse_match(const json& m) {
  FwMatch out;
  FwMatch key;
  if (m.contains("left") && m.contains("right") && m.contains("op") && m["op"].is_string() &&
      parse_key(m["left"], key) && parse_values(m["right"], key.values)) {
    key.op = m["op"].get<std::string>();
    return key;
  }
  out.proto = key.proto;
  out.parts = std::move(key.parts);  // the parts' protocols still count
  for (FwMatch& p : out.parts) p.key = FwKey::unknown;
  out.raw = m.dump();  // only when not understood: dumping every match costs
  return out;
}

// A verdict as libnftables writes it: {"accept": null}, {"jump": {"target": "x"}}.
bool parse_verdict(const json& e, FwRule& rule) {
  if (!e.is_object() || e.size() != 1) return false;
  const std::string& kind = e.begin().key();
  const json& body = e.begin().value();
  if (kind == "accept") rule.verdict = FwVerdict::accept;
  else if (kind == "drop") rule.verdict = FwVerdict::drop;
  else if (kind == "return") rule.verdict = FwVerdict::ret;
  else if (kind == "continue") rule.verdict = FwVerdict::none;
  else if ((kind == "jump" || kind == "goto") && body.is_object() && body.contains("target") &&
           body["target"].is_string()) {
    rule.verdict = kind == "jump" ? FwVerdict::jump : FwVerdict::go_to;
    rule.target = body["target"].get<std::string>();
  } else {
    return false;
  }
  return true;
}

// A mark statement: "meta mark set 0x1", "meta mark set meta mark | 0x4000",
// "ct mark set meta mark", "meta mark set ct mark".
FwMarkSet parse_mark_set(const json& key, const json& value) {
  FwMarkSet m;
  m.ct = key.contains("ct");
  m.known = false;
  const auto source_of = [](const json& v, FwMarkSet::Source& src) {
    if (!v.is_object()) return false;
    if (v.contains("meta") && v["meta"].is_object() && v["meta"].value("key", "") == "mark") {
      src = FwMarkSet::Source::meta;
      return true;
    }
    if (v.contains("ct") && v["ct"].is_object() && v["ct"].value("key", "") == "mark" && !v["ct"].contains("dir")) {
      src = FwMarkSet::Source::ct;
      return true;
    }
    return false;
  };
  std::uint32_t n = 0;
  if (parse_mask(value, n)) {  // a constant
    m.source = FwMarkSet::Source::constant;
    m.flip = n;
    m.known = true;
  } else if (source_of(value, m.source)) {  // a copy of the other mark
    m.keep = 0xffffffffU;
    m.known = true;
  } else if (value.is_object() && value.size() == 1) {
    const std::string& op = value.begin().key();
    const json& args = value.begin().value();
    if ((op == "|" || op == "&" || op == "^") && args.is_array() && args.size() == 2 &&
        source_of(args[0], m.source) && parse_mask(args[1], n)) {
      m.keep = op == "|" ? ~n : op == "&" ? n : 0xffffffffU;
      m.flip = op == "&" ? 0 : n;
      m.known = true;
    }
  }
  return m;
}

using VerdictMaps = std::map<std::string, const json*>;  // "family table name" -> its elements

std::string map_key(std::string_view family, std::string_view table, std::string_view name) {
  return fmt::format("{} {} {}", family, table, name);
}

// The rule as plain values; a verdict map becomes one rule per element, in
// the listing's order, after a rule for the statements that run before the
// lookup. Exact elements are disjoint; intervals of a concatenated map may
// overlap, and the kernel then takes the first inserted, which is also the
// first listed.
void parse_rule(const json& r, const VerdictMaps& maps, std::vector<FwRule>& out, std::size_t& budget) {
  FwRule rule;
  rule.family = r.value("family", "");
  rule.table = r.value("table", "");
  rule.chain = r.value("chain", "");
  rule.handle = integer_field(r, "handle", std::uint64_t{0}, [&] {
    return fmt::format("a rule of table {} {}, chain {}", escape_arg(rule.family), escape_arg(rule.table),
                       escape_arg(rule.chain));
  });
  if (!r.contains("expr") || !r["expr"].is_array()) {
    out.push_back(std::move(rule));
    return;
  }
  const json* vmap = nullptr;
  bool statement_seen = false;
  for (const json& e : r["expr"]) {
    if (!e.is_object() || e.empty()) continue;
    const std::string kind = e.begin().key();
    const json& body = e.begin().value();
    if (kind == "match") {
      rule.matches.push_back(parse_match(body));
      // a match after a mark statement would see the new mark: not followed
      if (statement_seen && !rule.marks.empty()) rule.not_understood = "a match after a mark statement";
    } else if (kind == "accept") {
      rule.verdict = FwVerdict::accept;
    } else if (kind == "drop") {
      rule.verdict = FwVerdict::drop;
    } else if (kind == "reject") {
      rule.verdict = FwVerdict::reject;
      if (body.is_object()) {
        rule.reject_type = body.value("type", "");
        if (body.contains("expr") && body["expr"].is_string()) rule.reject_type += " " + body["expr"].get<std::string>();
      }
    } else if (kind == "jump" || kind == "goto" || kind == "return") {
      if (!parse_verdict(e, rule)) rule.not_understood = fmt::format("{} {}", kind, body.dump());
    } else if (kind == "dnat" || kind == "redirect") {
      rule.verdict = kind == "dnat" ? FwVerdict::dnat : FwVerdict::redirect;
      if (body.is_object()) {
        if (body.contains("addr") && body["addr"].is_string()) rule.nat_addr = IpAddr::parse(body["addr"].get<std::string>());
        if (body.contains("port")) rule.nat_port = integer_of<std::uint16_t>(body["port"]);  // 2^32+80 is not 80
        if ((body.contains("addr") && !rule.nat_addr) || (body.contains("port") && !rule.nat_port)) {
          rule.not_understood = "dnat " + body.dump();
        }
      }
    } else if (kind == "counter" || kind == "log" || kind == "comment" || kind == "masquerade" || kind == "snat") {
      if (kind == "masquerade" || kind == "snat") rule.verdict = FwVerdict::other;
    } else if (kind == "continue") {
      // no verdict
    } else if (kind == "limit") {
      // A rate: the rule matches some packets and not others. Without a
      // verdict it only gates a log or counter.
      FwMatch m;
      m.raw = "limit " + body.dump();
      rule.matches.push_back(std::move(m));
    } else if (kind == "mangle" && body.is_object() && body.contains("key") && body.contains("value") &&
               body["key"].is_object() &&
               ((body["key"].contains("meta") && body["key"]["meta"].is_object() &&
                 body["key"]["meta"].value("key", "") == "mark") ||
                (body["key"].contains("ct") && body["key"]["ct"].is_object() &&
                 body["key"]["ct"].value("key", "") == "mark" && !body["key"]["ct"].contains("dir")))) {
      rule.marks.push_back(parse_mark_set(body["key"], body["value"]));
      statement_seen = true;
    } else if (kind == "vmap" && body.is_object() && vmap == nullptr) {
      vmap = &body;
    } else {
      // queue, set updates, other mangling, ...: may change the fate
      rule.not_understood = fmt::format("{} {}", kind, body.dump());
      if (kind == "queue") rule.verdict = FwVerdict::other;
    }
  }
  if (vmap == nullptr) {
    out.push_back(std::move(rule));
    return;
  }
  // The verdict map's key and its elements: [[key, verdict], ...].
  FwMatch key;
  const json* elems = nullptr;
  if (vmap->contains("key") && parse_key((*vmap)["key"], key) && vmap->contains("data")) {
    const json& data = (*vmap)["data"];
    if (data.is_object() && data.contains("set") && data["set"].is_array()) {
      elems = &data["set"];
    } else if (data.is_string() && !data.get<std::string>().empty() && data.get<std::string>()[0] == '@') {
      const auto it = maps.find(map_key(rule.family, rule.table, data.get<std::string>().substr(1)));
      if (it != maps.end()) elems = it->second;
    }
  }
  const std::size_t cost = elems != nullptr ? elems->size() * (rule.matches.size() + 1) : 0;
  const bool marked = !rule.marks.empty() && reads_marks(rule);
  std::vector<FwRule> entries;
  bool readable = elems != nullptr;
  for (std::size_t i = 0; readable && cost <= budget && !marked && i < elems->size(); ++i) {
    const json& pair = (*elems)[i];
    FwRule one = rule;
    one.marks.clear();
    FwMatch m = key;
    FwValue v;
    const json& k = pair.is_array() && pair.size() == 2 && pair[0].is_object() && pair[0].contains("elem") &&
                            pair[0]["elem"].is_object() && pair[0]["elem"].contains("val")
                        ? pair[0]["elem"]["val"]
                        : (pair.is_array() && pair.size() == 2 ? pair[0] : pair);
    readable = pair.is_array() && pair.size() == 2 && parse_value(k, v) && parse_verdict(pair[1], one);
    m.values.push_back(std::move(v));
    one.matches.push_back(std::move(m));
    entries.push_back(std::move(one));
  }
  if (!readable || cost > budget || marked) {
    rule.verdict = FwVerdict::other;
    rule.not_understood = fmt::format("a verdict map netwhy cannot {}: {}",
                                      !readable     ? "read"
                                      : cost > budget ? "expand (too large)"
                                                      : "follow after a mark statement the rule's matches read",
                                      vmap->dump());
    out.push_back(std::move(rule));
    return;
  }
  budget -= cost;
  if (!rule.marks.empty()) {  // the statements before the lookup, whatever it finds
    FwRule before = rule;
    before.verdict = FwVerdict::none;
    out.push_back(std::move(before));
  }
  for (FwRule& one : entries) out.push_back(std::move(one));
}

// The length of the run of digits at s[i].
std::size_t digits_at(std::string_view s, std::size_t i) {
  std::size_t n = 0;
  while (i + n < s.size() && s[i + n] >= '0' && s[i + n] <= '9') ++n;
  return n;
}

}  // namespace

std::string strip_counter_values(std::string_view rule) {
  // "counter packets 8 bytes 480": the numbers change with every packet; a
  // rule's text names the rule, so " packets N bytes N" goes.
  static constexpr std::string_view counter = "counter";
  static constexpr std::string_view packets = " packets ";
  static constexpr std::string_view bytes = " bytes ";
  std::string out;
  std::size_t from = 0;
  for (std::size_t at = rule.find(counter); at != std::string_view::npos; at = rule.find(counter, at + 1)) {
    const bool word_start = at == 0 || rule[at - 1] == ' ' || rule[at - 1] == '\t';
    std::size_t i = at + counter.size();
    if (!word_start || rule.substr(i, packets.size()) != packets) continue;
    i += packets.size();
    const std::size_t n_packets = digits_at(rule, i);
    i += n_packets;
    if (n_packets == 0 || rule.substr(i, bytes.size()) != bytes) continue;
    i += bytes.size();
    const std::size_t n_bytes = digits_at(rule, i);
    i += n_bytes;
    if (n_bytes == 0 || (i < rule.size() && rule[i] != ' ')) continue;
    out.append(rule.substr(from, at + counter.size() - from));
    from = i;
  }
  out.append(rule.substr(from));
  return out;
}

namespace {

// Walks nft's text listing, telling each line's table and chain.
template <class Fn>
void for_each_listing_line(std::string_view listing, Fn&& fn) {
  std::string family;
  std::string table;
  std::string chain;
  for (const std::string_view line : split_lines(listing)) {
    const auto f = split_fields(line);
    if (f.size() >= 3 && f[0] == "table") {
      family = std::string(f[1]);
      table = std::string(f[2]);
      continue;
    }
    if (f.size() >= 2 && f[0] == "chain") {
      chain = std::string(f[1]);
      continue;
    }
    if (!chain.empty()) fn(fmt::format("{} {} {}", family, table, chain), line);
  }
}

// The devices of ingress chains, from their header in the listing
// ("type filter hook ingress device "eth0" priority filter; ..." or
// "devices = { "eth0", "eth1" }"): libnftables' JSON leaves them out.
std::map<std::string, std::vector<std::string>> chain_devices(std::string_view listing) {
  std::map<std::string, std::vector<std::string>> out;
  for_each_listing_line(listing, [&](const std::string& chain, std::string_view line) {
    const std::size_t at = line.find(" device");
    if (line.find("hook ingress") == std::string_view::npos || at == std::string_view::npos) return;
    std::string_view rest = line.substr(at);
    rest = rest.substr(0, rest.find(" priority"));
    std::vector<std::string>& devices = out[chain];
    for (std::size_t q = rest.find('"'); q != std::string_view::npos; q = rest.find('"', q + 1)) {
      const std::size_t end = rest.find('"', q + 1);
      if (end == std::string_view::npos) break;
      devices.emplace_back(rest.substr(q + 1, end - q - 1));
      q = end;
    }
  });
  return out;
}

// "\t\ttcp dport 9000 reject with tcp reset # handle 9" per (family, table, chain, handle)
std::map<std::string, std::string> rule_texts(std::string_view listing) {
  std::map<std::string, std::string> out;
  for_each_listing_line(listing, [&](const std::string& chain, std::string_view line) {
    const std::size_t h = line.rfind(" # handle ");
    if (h == std::string_view::npos) return;
    std::string_view text = line.substr(0, h);
    while (!text.empty() && (text.front() == '\t' || text.front() == ' ')) text.remove_prefix(1);
    out[fmt::format("{} {}", chain, line.substr(h + 10))] = strip_counter_values(text);
  });
  return out;
}

}  // namespace

Expected<Firewall> parse_nft_ruleset(std::string_view json_text, std::string_view text_listing) {
  json doc;
  try {
    doc = json::parse(json_text.begin(), json_text.end());
  } catch (const json::parse_error& e) {
    return Error{ErrorKind::parse, 0, "nftables ruleset: not JSON: " + describe_json_parse_error(e, json_text)};
  } catch (const json::exception& e) {  // out_of_range: a number too large for a double (1e999)
    return Error{ErrorKind::parse, 0, "nftables ruleset: not JSON: " + escape_text(describe_json_error(e))};
  }
  if (!doc.is_object() || !doc.contains("nftables") || !doc["nftables"].is_array()) {
    return Error{ErrorKind::parse, 0, "nftables ruleset: no \"nftables\" array"};
  }
  Firewall fw;
  fw.read = true;
  const auto texts = rule_texts(text_listing);
  const auto devices = chain_devices(text_listing);
  try {
    VerdictMaps maps;  // listed before the rules that use them, but not necessarily
    // How many matches verdict maps may be expanded into: linear in the input
    // (a named map used by every rule would otherwise cost rules x elements).
    std::size_t budget = json_text.size() + (std::size_t{1} << 16);
    for (const json& item : doc["nftables"]) {
      if (!item.is_object() || !item.contains("map")) continue;
      const json& m = item["map"];
      if (m.is_object() && m.value("map", "") == "verdict" && m.contains("elem") && m["elem"].is_array()) {
        maps.emplace(map_key(m.value("family", ""), m.value("table", ""), m.value("name", "")), &m["elem"]);
      }
    }
    // Dormant tables see no packet: their chains, rules and sets are left out
    // (libnftables 1.0 writes the flag as "d", later ones as "dormant").
    std::set<std::string> dormant;
    for (const json& item : doc["nftables"]) {
      if (!item.is_object() || !item.contains("table") || !item["table"].is_object()) continue;
      const json& t = item["table"];
      if (!t.contains("flags")) continue;
      const json& f = t["flags"];
      const auto is_dormant = [](const json& v) { return v == "d" || v == "dormant"; };
      if (is_dormant(f) || (f.is_array() && std::any_of(f.begin(), f.end(), is_dormant))) {
        dormant.insert(map_key(t.value("family", ""), t.value("name", ""), ""));
      }
    }
    for (const json& item : doc["nftables"]) {
      if (!item.is_object() || item.empty()) continue;
      if (!dormant.empty() && item.begin().value().is_object() && item.begin().key() != "table" &&
          dormant.contains(map_key(item.begin().value().value("family", ""), item.begin().value().value("table", ""),
                                   ""))) {
        continue;
      }
      const std::string kind = item.begin().key();
      const json& o = item.begin().value();
      if (!o.is_object()) continue;
      if (kind == "chain") {
        FwChain c;
        c.family = o.value("family", "");
        c.table = o.value("table", "");
        c.name = o.value("name", "");
        c.type = o.value("type", "");
        c.hook = o.value("hook", "");
        // The kernel keeps a priority in 32 signed bits.
        c.priority = integer_field(o, "prio", std::int32_t{0}, [&] {
          return fmt::format("chain {} {} {}", escape_arg(c.family), escape_arg(c.table), escape_arg(c.name));
        });
        c.policy = o.value("policy", "accept");
        if (o.contains("dev") && o["dev"].is_string()) c.devices.push_back(o["dev"].get<std::string>());
        if (o.contains("dev") && o["dev"].is_array()) {
          for (const json& d : o["dev"]) {
            if (d.is_string()) c.devices.push_back(d.get<std::string>());
          }
        }
        if (c.devices.empty()) {
          const auto it = devices.find(fmt::format("{} {} {}", c.family, c.table, c.name));
          if (it != devices.end()) c.devices = it->second;
        }
        fw.chains.push_back(std::move(c));
      } else if (kind == "rule") {
        const std::size_t first = fw.rules.size();
        parse_rule(o, maps, fw.rules, budget);
        if (!texts.empty() && first < fw.rules.size()) {
          const FwRule& r = fw.rules[first];
          const auto it = texts.find(fmt::format("{} {} {} {}", r.family, r.table, r.chain, r.handle));
          if (it != texts.end()) {
            for (std::size_t i = first; i < fw.rules.size(); ++i) fw.rules[i].text = it->second;
          }
        }
      } else if (kind == "set") {
        FwSet s;
        s.family = o.value("family", "");
        s.table = o.value("table", "");
        s.name = o.value("name", "");
        if (o.contains("elem") && o["elem"].is_array()) {
          for (const json& e : o["elem"]) {
            FwValue v;
            const json& value = e.is_object() && e.contains("elem") && e["elem"].is_object() && e["elem"].contains("val")
                                    ? e["elem"]["val"]
                                    : e;
            if (parse_value(value, v)) s.elements.push_back(v);
            else s.complete = false;
          }
        }
        fw.sets.push_back(std::move(s));
      }
    }
  } catch (const json::exception& e) {
    return Error{ErrorKind::parse, 0, "nftables ruleset: " + describe_json_error(e)};
  } catch (const Bad& e) {
    return Error{ErrorKind::parse, 0, "nftables ruleset: " + e.what};
  }
  return fw;
}

}  // namespace netwhy
