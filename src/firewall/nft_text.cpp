// nft's text listing with handles (`nft -a list ruleset`, or several `nft -a
// list table` outputs one after another) into the plain values that
// parse_nft_ruleset() builds from libnftables' JSON and the same listing:
// libnftables prints text in about 2.5 times less time than JSON.
//
// The same expressions are understood, the same ones are unknown
// (FwKey::unknown, the expression's words in FwMatch::raw), the same
// statements leave a rule not understood; words the parser cannot place
// leave the rest of their rule not understood. Never a guess.
//
// Tables written by iptables-nft hold xt expressions, which nft prints as
// their iptables-translate wording ("ct state related,established", "meta
// mark set mark or 0x4000", "reject") or as "xt match NAME". Their JSON says
// "xt", so in those tables only what iptables-nft writes natively (addresses,
// ports, interfaces, protocols, packet marks, tcp flags, limits, counters,
// verdicts) is read; every other statement is an xt expression.
#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "netwhy/firewall.hpp"
#include "netwhy/iptables.hpp"
#include "netwhy/text.hpp"
#include "numbers.hpp"

namespace netwhy {

namespace {

using Words = std::vector<std::string_view>;

constexpr std::string_view handle_comment = " # handle ";

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

bool one_of(std::string_view w, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), w) != set.end();
}

// ---- words ----

// Splits on white space. A quoted string belongs to its word, spaces and all
// ("\"a b\"", "\"17:00\"-\"19:00\""); braces are words of their own; a
// word's leading '(' and trailing ',' and ')' are split off ("22," -> "22"
// ","), so a flag list ("established,related") stays one word. nullopt when
// a quote is not closed.
std::optional<Words> split_words(std::string_view s) {
  Words out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (is_blank(s[i])) {
      ++i;
      continue;
    }
    if (s[i] == '{' || s[i] == '}' || s[i] == '(') {
      out.push_back(s.substr(i, 1));
      ++i;
      continue;
    }
    const std::size_t start = i;
    bool quoted = false;
    while (i < s.size() && (quoted || (!is_blank(s[i]) && s[i] != '{' && s[i] != '}'))) {
      if (s[i] == '"') quoted = !quoted;
      ++i;
    }
    if (quoted) return std::nullopt;
    const std::string_view word = s.substr(start, i - start);
    std::size_t body = word.size();
    while (body > 0 && (word[body - 1] == ',' || word[body - 1] == ')')) --body;
    if (body > 0) out.push_back(word.substr(0, body));
    for (std::size_t k = body; k < word.size(); ++k) out.push_back(word.substr(k, 1));
  }
  return out;
}

// nft separates a rule's statements with one space; an xt expression that
// iptables-translate prints as nothing leaves two spaces, or one at an end.
bool has_empty_statement(std::string_view body) {
  if (body.empty()) return false;
  if (body.front() == ' ' || body.back() == ' ') return true;
  bool quoted = false;
  for (std::size_t i = 0; i + 1 < body.size(); ++i) {
    if (body[i] == '"') quoted = !quoted;
    if (!quoted && body[i] == ' ' && body[i + 1] == ' ') return true;
  }
  return false;
}

std::optional<std::uint64_t> parse_number(std::string_view s) {
  return parse_integer<std::uint64_t>(s, Radix::decimal_or_hex);
}

std::optional<std::uint64_t> parse_decimal(std::string_view s) { return parse_integer<std::uint64_t>(s); }

// "0x000000ff": how nft prints a 32-bit mark (iptables-translate prints "0xff").
bool is_mark_hex(std::string_view w) {
  return w.size() == 10 && w.substr(0, 2) == "0x" && parse_number(w).has_value();
}

std::optional<std::string_view> unquote(std::string_view w) {
  if (w.size() < 2 || w.front() != '"' || w.back() != '"') return std::nullopt;
  const std::string_view inner = w.substr(1, w.size() - 2);
  if (inner.find('"') != std::string_view::npos) return std::nullopt;
  return inner;
}

// ---- values ----

// How libnftables writes a key's values in JSON: an interface index as a
// string ("lo", or "99" for an index without an interface), everything
// else as its type says.
enum class ValueStyle { plain, ifindex };

// A string in the JSON: "@name", an address, or a name.
void string_value(std::string_view s, FwValue& out) {
  if (!s.empty() && s.front() == '@') {
    out.kind = FwValue::Kind::set_ref;
    out.text = std::string(s.substr(1));
  } else if (const auto a = IpAddr::parse(s)) {
    out.kind = FwValue::Kind::address;
    out.addr = *a;
  } else {
    out.kind = FwValue::Kind::text;
    out.text = std::string(s);
  }
}

// One printed value as parse_value() reads its JSON; false where the JSON
// holds what parse_value() refuses (a boolean, a range of names...).
bool word_value(std::string_view w, ValueStyle style, FwValue& out) {
  if (w.empty()) return false;
  if (w.front() == '"') {
    const auto s = unquote(w);
    if (!s) return false;  // "17:00"-"19:00": a range of strings
    string_value(*s, out);
    return true;
  }
  if (style == ValueStyle::ifindex) {
    string_value(w, out);
    return true;
  }
  if (w == "exists" || w == "missing") return false;  // true and false in the JSON
  if (w.front() == '@') {
    string_value(w, out);
    return true;
  }
  if (const auto n = parse_number(w)) {
    out.kind = FwValue::Kind::number;
    out.number = *n;
    return true;
  }
  if (std::all_of(w.begin(), w.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    return false;  // over 64 bits: a floating-point number in the JSON
  }
  if (const std::size_t slash = w.find('/'); slash != std::string_view::npos) {
    const auto a = IpAddr::parse(w.substr(0, slash));
    const auto len = parse_decimal(w.substr(slash + 1));
    if (!a || !len || *len > a->bits()) return false;
    out.kind = FwValue::Kind::prefix;
    out.addr = *a;
    out.prefix_len = static_cast<unsigned>(*len);
    return true;
  }
  // A range of numbers or addresses (the longest, of IPv6 addresses, is
  // under 100 characters; a longer word is a name, and is not scanned once
  // per '-').
  const std::size_t first_dash = w.size() <= 100 ? w.find('-') : std::string_view::npos;
  for (std::size_t dash = first_dash; dash != std::string_view::npos; dash = w.find('-', dash + 1)) {
    const std::string_view lo = w.substr(0, dash);
    const std::string_view hi = w.substr(dash + 1);
    const auto nlo = parse_number(lo);
    const auto nhi = parse_number(hi);
    if (nlo && nhi) {
      out.kind = FwValue::Kind::range;
      out.number = *nlo;
      out.number_hi = *nhi;
      return true;
    }
    const auto alo = IpAddr::parse(lo);
    const auto ahi = IpAddr::parse(hi);
    if (alo && ahi) {
      out.kind = FwValue::Kind::range;
      out.addr = *alo;
      out.addr_hi = *ahi;
      out.text = "address";
      return true;
    }
  }
  string_value(w, out);
  return true;
}

// ---- a cursor over a rule's words ----

class Cursor {
 public:
  explicit Cursor(std::span<const std::string_view> words) : words_(words) {}
  [[nodiscard]] bool done() const { return at_ >= words_.size(); }
  [[nodiscard]] std::string_view peek(std::size_t ahead = 0) const {
    return at_ + ahead < words_.size() ? words_[at_ + ahead] : std::string_view();
  }
  std::string_view next() { return done() ? std::string_view() : words_[at_++]; }
  bool take(std::string_view w) {
    if (done() || words_[at_] != w) return false;
    ++at_;
    return true;
  }
  [[nodiscard]] std::size_t pos() const { return at_; }
  void seek(std::size_t p) { at_ = std::min(p, words_.size()); }
  // The words from `from` to here, as printed (they are views of one line).
  [[nodiscard]] std::string_view since(std::size_t from) const {
    if (from >= at_) return {};
    const char* begin = words_[from].data();
    const std::string_view last = words_[at_ - 1];
    return {begin, static_cast<std::size_t>(last.data() + last.size() - begin)};
  }
  // From "{" or "(" past its closing word; false when it is not closed.
  bool skip_group() {
    int depth = 0;
    do {
      const std::string_view w = next();
      if (w.empty()) return false;
      if (w == "{" || w == "(") ++depth;
      if (w == "}" || w == ")") --depth;
    } while (depth > 0);
    return true;
  }

 private:
  std::span<const std::string_view> words_;
  std::size_t at_ = 0;
};

bool is_word(std::string_view w) {  // a name, not a value or punctuation
  return !w.empty() && ((w.front() >= 'a' && w.front() <= 'z') || (w.front() >= 'A' && w.front() <= 'Z'));
}

// ---- selectors: what a match, a verdict map or a statement looks at ----

// A selector as parse_key() reads its JSON: key, proto, mask and parts as it
// sets them, and whether it understands it.
struct Selector {
  FwMatch key;
  bool known = false;
  bool mark = false;    // "meta mark" or "ct mark" alone: what a mark statement sets or copies
  bool native = false;  // as iptables-nft writes it natively
  std::string_view spelling;  // "tcp dport", "meta mark"
  std::vector<ValueStyle> styles;  // how its values (each field's, for a concatenation) are written
};

constexpr std::array<std::string_view, 17> payload_protocols = {
    "ether", "vlan", "arp", "ip",  "icmp",    "igmp", "ip6", "icmpv6", "ah",
    "esp",   "comp", "udp", "udplite", "tcp", "dccp", "sctp", "th"};
constexpr std::array<std::string_view, 8> ipv6_extension_headers = {"hbh", "rt", "rt0", "rt2",
                                                                    "srh", "frag", "dst", "mh"};
constexpr std::array<std::string_view, 6> unqualified_meta = {"iif", "iifname", "oif", "oifname", "iifgroup", "oifgroup"};
// What iptables-nft writes as nftables expressions (everything else is xt).
constexpr std::array<std::string_view, 16> iptables_native = {
    "ip saddr",  "ip daddr",  "ip6 saddr", "ip6 daddr", "meta l4proto", "ip protocol", "ip6 nexthdr", "tcp sport",
    "tcp dport", "udp sport", "udp dport", "iifname",   "oifname",      "meta mark",   "tcp flags",   "ip frag-off"};

template <std::size_t N>
bool in(const std::array<std::string_view, N>& set, std::string_view w) {
  return std::find(set.begin(), set.end(), w) != set.end();
}

class SelectorReader {
 public:
  explicit SelectorReader(Cursor& c) : c_(c) {}

  // One field, its bitwise operations, and the fields concatenated to it
  // ("ip saddr . tcp dport"); nullopt (nothing consumed) when the words do
  // not start a selector.
  std::optional<Selector> read() {
    const std::size_t from = c_.pos();
    auto first = operand();
    if (!first) return std::nullopt;
    if (c_.peek() != ".") return first;
    std::vector<Selector> parts{std::move(*first)};
    while (c_.take(".")) {
      auto part = operand();
      if (!part) {
        c_.seek(from);
        return std::nullopt;
      }
      parts.push_back(std::move(*part));
    }
    Selector out;
    out.spelling = c_.since(from);
    out.known = true;
    for (Selector& p : parts) {  // parse_key: the parts up to the first it does not understand
      out.styles.push_back(p.styles.empty() ? ValueStyle::plain : p.styles.front());
      out.key.parts.push_back(p.key);
      if (!p.known) {
        out.known = false;
        break;
      }
    }
    if (out.known) out.key.key = FwKey::concat;
    return out;
  }

  // A field and the bitwise operations on it ("meta mark & 0x000000ff").
  std::optional<Selector> operand() {
    const std::size_t from = c_.pos();
    auto sel = field();
    if (!sel) return std::nullopt;
    while (one_of(c_.peek(), {"&", "|", "^", "<<", ">>"})) {
      const std::string_view op = c_.next();
      std::optional<std::uint64_t> n;
      if (c_.peek() == "(") {
        if (!c_.skip_group()) {
          c_.seek(from);
          return std::nullopt;
        }
      } else {
        const std::string_view w = c_.next();
        if (w.empty()) {
          c_.seek(from);
          return std::nullopt;
        }
        n = parse_number(w);
      }
      // parse_key reads "meta mark & 0xff" (and "ct mark & ..."); any other
      // operation, and whatever it is applied to, is unknown.
      const bool mask = op == "&" && sel->known &&
                        (sel->key.key == FwKey::meta_mark || sel->key.key == FwKey::ct_mark) && n &&
                        *n <= 0xffffffffULL;
      if (mask) {
        sel->key.mask &= static_cast<std::uint32_t>(*n);
      } else {
        sel->known = false;
        sel->key = FwMatch{};
      }
      sel->mark = false;
      sel->native = sel->native && op == "&" && n.has_value();
    }
    sel->spelling = c_.since(from);
    return sel;
  }

  // One field ("meta mark", "tcp dport", "fib daddr type").
  std::optional<Selector> field() {
    const std::size_t from = c_.pos();
    Selector s;
    s.styles = {ValueStyle::plain};
    const std::string_view head = c_.peek();
    bool ok = false;
    if (head == "meta") {
      c_.next();
      ok = meta(c_.next(), s);
    } else if (in(unqualified_meta, head)) {
      ok = meta(c_.next(), s);
    } else if (in(payload_protocols, head)) {
      ok = payload(s);
    } else if (head.size() > 1 && head.front() == '@' && head.find(',') != std::string_view::npos) {
      c_.next();  // a raw payload, "@th,16,16": no protocol in the JSON
      ok = true;
    } else if (in(ipv6_extension_headers, head)) {
      c_.next();
      if (head == "rt" && one_of(c_.peek(), {"ip", "ip6"})) c_.next();  // rt ip nexthop
      ok = is_word(c_.next());
    } else if (head == "exthdr") {
      c_.next();
      ok = is_word(c_.next());
    } else if (head == "ct") {
      ok = ct(s);
    } else if (head == "fib") {
      ok = fib(s);
    } else if (head == "socket") {
      c_.next();
      ok = c_.take("cgroupv2") ? c_.take("level") && parse_number(c_.next()) : is_word(c_.next());
    } else if (head == "osf") {
      c_.next();
      if (c_.take("ttl")) c_.next();
      ok = is_word(c_.next());
    } else if (head == "numgen") {
      c_.next();
      ok = is_word(c_.next()) && modulus();
    } else if (head == "jhash") {  // jhash EXPR mod N: EXPR nests no deeper than this
      c_.next();
      ++depth_;
      ok = depth_ <= 4 && read().has_value() && modulus();
      --depth_;
    } else if (head == "symhash") {
      c_.next();
      ok = modulus();
    } else if (head == "ipsec") {
      c_.next();
      ok = one_of(c_.next(), {"in", "out"});
      if (ok && c_.take("spnum")) ok = parse_number(c_.next()).has_value();
      if (ok && one_of(c_.peek(), {"ip", "ip6"})) c_.next();
      ok = ok && is_word(c_.next());
    }
    if (!ok) {
      c_.seek(from);
      return std::nullopt;
    }
    s.spelling = c_.since(from);
    s.native = in(iptables_native, s.spelling);
    return s;
  }

 private:
  bool meta(std::string_view key, Selector& s) {
    if (!is_word(key)) return false;
    static const std::map<std::string_view, FwKey> keys = {
        {"iif", FwKey::iif},         {"iifname", FwKey::iifname}, {"oif", FwKey::oif},
        {"oifname", FwKey::oifname}, {"l4proto", FwKey::l4proto}, {"nfproto", FwKey::nfproto},
        {"mark", FwKey::meta_mark}};
    if (const auto it = keys.find(key); it != keys.end()) {
      s.key.key = it->second;
      s.known = true;
      s.mark = it->second == FwKey::meta_mark;
      if (key == "iif" || key == "oif") s.styles = {ValueStyle::ifindex};
    }
    return true;
  }

  bool payload(Selector& s) {
    const std::string_view proto = c_.next();
    if ((proto == "tcp" || proto == "ip" || proto == "dccp") && c_.take("option")) return exthdr_option();
    if (proto == "sctp" && c_.take("chunk")) return exthdr_option();
    const std::string_view field_name = c_.next();
    if (!is_word(field_name)) return false;
    s.key.proto = std::string(proto);  // a payload implies its protocol, understood or not
    if ((proto == "ip" || proto == "ip6") && (field_name == "saddr" || field_name == "daddr")) {
      s.key.key = field_name == "saddr" ? FwKey::saddr : FwKey::daddr;
    } else if ((proto == "tcp" || proto == "udp" || proto == "th") && (field_name == "sport" || field_name == "dport")) {
      s.key.key = field_name == "sport" ? FwKey::sport : FwKey::dport;
    } else if ((proto == "ip" && field_name == "protocol") || (proto == "ip6" && field_name == "nexthdr")) {
      s.key.key = FwKey::l4proto;
    } else {
      return true;
    }
    s.known = true;
    return true;
  }

  // "tcp option maxseg size", "tcp option sack-perm" (then "exists"): not a
  // payload in the JSON, so no protocol.
  bool exthdr_option() {
    const std::string_view name = c_.next();
    if (name.empty() || name == "{") return false;
    if (is_word(c_.peek()) && !one_of(c_.peek(), {"exists", "missing", "set"})) c_.next();
    return true;
  }

  // ct [original|reply] [ip|ip6] KEY: state, status and mark, without a
  // direction, are understood.
  bool ct(Selector& s) {
    c_.next();
    std::string_view dir;
    if (one_of(c_.peek(), {"original", "reply"})) dir = c_.next();
    if (!dir.empty() && one_of(c_.peek(), {"ip", "ip6"})) c_.next();
    const std::string_view key = c_.next();
    if (!is_word(key) || key == "count") return false;
    if (!dir.empty()) return true;
    if (key == "state") s.key.key = FwKey::ct_state;
    else if (key == "status") s.key.key = FwKey::ct_status;
    else if (key == "mark") s.key.key = FwKey::ct_mark;
    else return true;
    s.known = true;
    s.mark = key == "mark";
    return true;
  }

  // fib FLAG [. FLAG]... RESULT: "fib daddr type" is understood.
  bool fib(Selector& s) {
    c_.next();
    std::vector<std::string_view> flags{c_.next()};
    while (c_.take(".")) flags.push_back(c_.next());
    const std::string_view result = c_.next();
    if (!one_of(result, {"oif", "oifname", "type"})) return false;
    if (result == "type" && flags.size() == 1 && flags.front() == "daddr") {
      s.key.key = FwKey::fib_daddr_type;
      s.known = true;
    }
    return std::all_of(flags.begin(), flags.end(), is_word);
  }

  bool modulus() {  // mod N [seed N] [offset N]
    if (!c_.take("mod") || !parse_number(c_.next())) return false;
    if (c_.take("seed") && !parse_number(c_.next())) return false;
    if (c_.take("offset") && !parse_number(c_.next())) return false;
    return true;
  }

  Cursor& c_;
  int depth_ = 0;
};

// ---- the right of a match, and expressions ----

struct Rhs {
  std::vector<FwValue> values;
  bool readable = true;  // parse_values() would read them
  bool braces = false;   // an anonymous set, "{ 22, 80 }"
};

// One value as printed: a word, or a concatenation ("10.0.0.1 . 22").
bool read_value(Cursor& c, const std::vector<ValueStyle>& styles, FwValue& out, bool& readable) {
  std::vector<std::string_view> parts{c.next()};
  if (parts.front().empty() || one_of(parts.front(), {"{", "}", ",", "(", ")", ":"})) return false;
  while (c.take(".")) {
    parts.push_back(c.next());
    if (parts.back().empty()) return false;
  }
  const auto style = [&](std::size_t i) { return i < styles.size() ? styles[i] : ValueStyle::plain; };
  if (parts.size() == 1) {
    readable = readable && word_value(parts.front(), style(0), out);
    return true;
  }
  out.kind = FwValue::Kind::concat;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    FwValue part;
    readable = readable && word_value(parts[i], style(i), part);
    out.parts.push_back(std::move(part));
  }
  return true;
}

// Skips a set element's attributes ("timeout 1h expires 59m comment "x"",
// "counter packets 0 bytes 0"): true when it had some.
bool skip_element_attributes(Cursor& c) {
  bool any = false;
  while (!c.done() && !one_of(c.peek(), {",", "}", ":"})) {
    if (c.peek() == "{" || c.peek() == "(") {
      if (!c.skip_group()) return any;
    } else {
      c.next();
    }
    any = true;
  }
  return any;
}

// What a match compares with: "22", "{ 22, 80-90 }", "@allowed",
// "established,related", "10.0.0.1 . 22". false when the words are not a value.
bool read_rhs(Cursor& c, const std::vector<ValueStyle>& styles, Rhs& out) {
  if (c.peek() == "{") {
    out.braces = true;
    c.next();
    while (!c.take("}")) {
      FwValue v;
      if (!read_value(c, styles, v, out.readable)) return false;
      // parse_values() reads elements, not {"elem": {"val": ..., "comment": ...}}
      if (skip_element_attributes(c)) out.readable = false;
      out.values.push_back(std::move(v));
      if (!c.take(",") && c.peek() != "}") return false;
    }
  } else if (c.peek() == "(") {
    if (!c.skip_group()) return false;
    out.readable = false;
  } else {
    const std::string_view w = c.peek();
    if (!w.empty() && w.front() != '"' && w.find(',') != std::string_view::npos && c.peek(1) != ".") {
      c.next();  // flags: "established,related"
      for (std::size_t at = 0; at <= w.size();) {
        const std::size_t comma = std::min(w.find(',', at), w.size());
        FwValue v;
        out.readable = out.readable && word_value(w.substr(at, comma - at), ValueStyle::plain, v);
        out.values.push_back(std::move(v));
        at = comma + 1;
      }
    } else {
      FwValue v;
      if (!read_value(c, styles, v, out.readable)) return false;
      out.values.push_back(std::move(v));
    }
    while (c.take("|")) {  // "established | related": an operation in the JSON
      if (c.next().empty()) return false;
      out.readable = false;
    }
  }
  return true;
}

// The right of "set" or "to", as far as a mark statement or a NAT needs it:
// one word, a mark ("meta mark"), or a mark and one bitwise operation.
struct Expr {
  std::string_view word;                    // a single word
  std::optional<FwMarkSet::Source> source;  // a mark
  std::vector<std::pair<std::string_view, std::string_view>> ops;
  bool other = false;                       // anything else
};

bool read_term(Cursor& c, Expr& out, bool first) {
  if (c.peek() == "{" || c.peek() == "(") {
    out.other = true;
    return c.skip_group();
  }
  SelectorReader r(c);
  if (auto sel = r.field()) {
    if (sel->mark && first) {
      out.source = sel->key.key == FwKey::meta_mark ? FwMarkSet::Source::meta : FwMarkSet::Source::ct;
    } else {
      out.other = true;
    }
    return true;
  }
  const std::string_view w = c.next();
  if (w.empty() || one_of(w, {"}", ")", ",", ":"})) return false;
  if (first) out.word = w;
  else out.other = true;
  return true;
}

bool read_expression(Cursor& c, Expr& out) {
  if (!read_term(c, out, true)) return false;
  for (;;) {
    if (one_of(c.peek(), {"&", "|", "^", "<<", ">>"})) {
      const std::string_view op = c.next();
      const std::string_view arg = c.peek();
      if (arg == "(") {
        if (!c.skip_group()) return false;
        out.other = true;
      } else if (c.next().empty()) {
        return false;
      }
      out.ops.emplace_back(op, arg);
    } else if (c.take(".")) {
      out.other = true;
      if (!read_term(c, out, false)) return false;
    } else if (c.take("map")) {
      out.other = true;
      if (c.peek() == "{") {
        if (!c.skip_group()) return false;
      } else if (c.next().empty()) {
        return false;
      }
    } else {
      return true;
    }
  }
}

// parse_mark_set(): new = (source & keep) ^ flip.
FwMarkSet mark_set(bool ct, const Expr& e) {
  FwMarkSet m;
  m.ct = ct;
  m.known = false;
  if (e.other) return m;
  const auto mask = [](std::string_view w) -> std::optional<std::uint32_t> {
    const auto n = parse_number(w);
    if (!n || *n > 0xffffffffULL) return std::nullopt;
    return static_cast<std::uint32_t>(*n);
  };
  if (!e.source && e.ops.empty()) {
    if (const auto n = mask(e.word)) {
      m.source = FwMarkSet::Source::constant;
      m.flip = *n;
      m.known = true;
    }
  } else if (e.source && e.ops.empty()) {
    m.source = *e.source;
    m.keep = 0xffffffffU;
    m.known = true;
  } else if (e.source && e.ops.size() == 1 && one_of(e.ops[0].first, {"|", "&", "^"})) {
    if (const auto n = mask(e.ops[0].second)) {
      const std::string_view op = e.ops[0].first;
      m.source = *e.source;
      m.keep = op == "|" ? ~*n : op == "&" ? *n : 0xffffffffU;
      m.flip = op == "&" ? 0 : *n;
      m.known = true;
    }
  }
  return m;
}

// ---- verdicts and verdict maps ----

struct Verdict {
  FwVerdict verdict = FwVerdict::none;
  std::string target;
};

// parse_verdict(): accept, drop, return, continue, jump X, goto X.
std::optional<Verdict> read_verdict(Cursor& c) {
  const std::string_view w = c.peek();
  Verdict v;
  if (one_of(w, {"accept", "drop", "return", "continue"})) {
    c.next();
    v.verdict = w == "accept" ? FwVerdict::accept
                : w == "drop" ? FwVerdict::drop
                : w == "return" ? FwVerdict::ret
                                : FwVerdict::none;
    return v;
  }
  if ((w == "jump" || w == "goto") && !c.peek(1).empty() && !one_of(c.peek(1), {",", "}"})) {
    c.next();
    const std::string_view target = c.next();
    v.verdict = w == "jump" ? FwVerdict::jump : FwVerdict::go_to;
    v.target = std::string(unquote(target).value_or(target));
    return v;
  }
  return std::nullopt;
}

// A verdict map's elements, each as parse_rule() turns it into a rule;
// nullopt when one of them cannot be read (the whole map is then unknown).
using VmapElements = std::vector<std::pair<FwValue, Verdict>>;

// "{ 22 : accept, 80 : jump web }" (named maps' elements may carry comments
// and timeouts); false when the words are not such a map.
bool read_vmap_elements(Cursor& c, const std::vector<ValueStyle>& styles, std::optional<VmapElements>& out) {
  if (!c.take("{")) return false;
  out.emplace();
  bool readable = true;
  while (!c.take("}")) {
    FwValue key;
    if (!read_value(c, styles, key, readable)) return false;
    skip_element_attributes(c);  // the JSON's {"elem": {"val": ...}} is unwrapped
    if (!c.take(":")) return false;
    auto v = read_verdict(c);
    if (!v) {
      readable = false;
      while (!c.done() && !one_of(c.peek(), {",", "}"})) c.next();
    }
    if (out) out->emplace_back(std::move(key), v.value_or(Verdict{}));
    if (!c.take(",") && c.peek() != "}") return false;
  }
  if (!readable) out.reset();
  return true;
}

std::string map_key(std::string_view family, std::string_view table, std::string_view name) {
  return fmt::format("{} {} {}", family, table, name);
}

// Named verdict maps with elements, by "family table name" (a map without
// elements has none in the JSON either, and stays unreadable).
using VerdictMaps = std::map<std::string, std::optional<VmapElements>, std::less<>>;

// ---- one rule ----

struct RuleContext {
  std::string_view family;
  std::string_view table;
  const VerdictMaps* maps = nullptr;
  bool iptables = false;  // a table iptables-nft manages
};

// What parse_rule() does with each JSON expression, done for each statement
// read from the text.
class RuleBuilder {
 public:
  explicit RuleBuilder(FwRule rule) : rule_(std::move(rule)) {}

  void match(FwMatch m) {
    rule_.matches.push_back(std::move(m));
    // a match after a mark statement would see the new mark: not followed
    if (statement_seen_ && !rule_.marks.empty()) rule_.not_understood = "a match after a mark statement";
  }
  void unknown_match(std::string_view raw) {
    FwMatch m;
    m.raw = std::string(raw);
    rule_.matches.push_back(std::move(m));
  }
  void verdict(const Verdict& v) {
    rule_.verdict = v.verdict;
    if (v.verdict == FwVerdict::jump || v.verdict == FwVerdict::go_to) rule_.target = v.target;
  }
  void verdict(FwVerdict v) { rule_.verdict = v; }
  void reject(std::string type) {
    rule_.verdict = FwVerdict::reject;
    rule_.reject_type = std::move(type);
  }
  void nat(FwVerdict v, std::optional<IpAddr> addr, std::optional<std::uint16_t> port, bool readable,
           std::string_view text) {
    rule_.verdict = v;
    if (addr) rule_.nat_addr = addr;
    if (port) rule_.nat_port = port;
    if (!readable) rule_.not_understood = std::string(text);
  }
  void mark(FwMarkSet m) {
    rule_.marks.push_back(m);
    statement_seen_ = true;
  }
  void not_understood(std::string what) { rule_.not_understood = std::move(what); }
  void vmap(FwMatch key, bool key_known, std::optional<VmapElements> elements, std::string_view text) {
    if (vmap_) {
      not_understood(std::string(text));
      return;
    }
    vmap_ = Vmap{std::move(key), key_known, std::move(elements), std::string(text)};
  }

  // The rule, or one rule per element of its verdict map (after a rule for
  // the marks set before the lookup), as parse_rule() makes them. budget:
  // how many more matches the expansions may copy (a named map used by
  // every rule would otherwise cost rules x elements).
  void finish(std::vector<FwRule>& out, std::size_t& budget) && {
    if (!vmap_) {
      out.push_back(std::move(rule_));
      return;
    }
    const std::size_t cost = vmap_->elements ? vmap_->elements->size() * (rule_.matches.size() + 1) : 0;
    const bool marked = !rule_.marks.empty() && reads_marks(rule_);
    if (!vmap_->key_known || !vmap_->elements || cost > budget || marked) {
      rule_.verdict = FwVerdict::other;
      rule_.not_understood = fmt::format("a verdict map netwhy cannot {}: {}",
                                         cost > budget ? "expand (too large)"
                                         : marked      ? "follow after a mark statement the rule's matches read"
                                                       : "read",
                                         vmap_->text);
      out.push_back(std::move(rule_));
      return;
    }
    budget -= cost;
    if (!rule_.marks.empty()) {
      FwRule before = rule_;
      before.verdict = FwVerdict::none;
      out.push_back(std::move(before));
    }
    for (const auto& [value, v] : *vmap_->elements) {
      FwRule one = rule_;
      one.marks.clear();
      FwMatch m = vmap_->key;
      m.values.push_back(value);
      one.matches.push_back(std::move(m));
      one.verdict = v.verdict;
      if (v.verdict == FwVerdict::jump || v.verdict == FwVerdict::go_to) one.target = v.target;
      out.push_back(std::move(one));
    }
  }

 private:
  struct Vmap {
    FwMatch key;
    bool key_known = false;
    std::optional<VmapElements> elements;
    std::string text;
  };
  FwRule rule_;
  bool statement_seen_ = false;
  std::optional<Vmap> vmap_;
};

// Reads one rule's words, statement by statement.
class RuleReader {
 public:
  RuleReader(const RuleContext& ctx, std::span<const std::string_view> words, RuleBuilder& b)
      : ctx_(ctx), c_(words), b_(b) {}

  void read() {
    while (!c_.done()) {
      const std::size_t from = c_.pos();
      if (statement()) continue;
      c_.seek(from);
      if (ctx_.iptables) {
        // iptables-translate's wording of an xt match: iptables-nft puts a
        // counter after the matches, so reading goes on there.
        c_.next();
        while (!c_.done() && c_.peek() != "counter") c_.next();
        b_.not_understood(fmt::format("xt expression ({})", c_.since(from)));
        continue;
      }
      while (!c_.done()) c_.next();  // the rest of the rule is not understood
      b_.not_understood(fmt::format("words netwhy cannot read ({})", c_.since(from)));
    }
  }

 private:
  // In a table of iptables-nft, a statement it does not write natively is an
  // xt expression; true when it was one.
  bool xt(std::size_t from) {
    if (!ctx_.iptables) return false;
    b_.not_understood(fmt::format("xt expression ({})", c_.since(from)));
    return true;
  }

  bool statement() {
    const std::size_t from = c_.pos();
    const std::string_view w = c_.peek();
    if (auto v = read_verdict(c_)) {
      b_.verdict(*v);
      return true;
    }
    if (w == "reject") return reject(from);
    if (w == "counter") return counter();
    if (w == "log") return log(from);
    if (w == "limit") return limit(from);
    if (w == "comment") {  // the rule's comment, printed last
      c_.next();
      // words after it: a string holding quotes (nft prints it as it is),
      // which leaves the words ambiguous
      return unquote(c_.next()).has_value() && c_.done();
    }
    if (one_of(w, {"dnat", "snat", "masquerade", "redirect"})) return nat(from);
    if (w == "xt") {
      c_.next();
      if (!one_of(c_.next(), {"match", "target", "watcher"}) || c_.next().empty()) return false;
      b_.not_understood(fmt::format("xt {}", c_.since(from).substr(3)));
      return true;
    }
    if (w == "queue") return queue(from);
    if (w == "ct" && c_.peek(1) == "count") {  // ct count [over] N
      c_.next();
      c_.next();
      c_.take("over");
      if (!parse_number(c_.next())) return false;
      return opaque(from);
    }
    if (one_of(w, {"notrack", "quota", "fwd", "dup", "tproxy", "synproxy", "flow", "meter", "last", "add",
                   "update", "delete"})) {
      return other_statement(from);
    }
    return expression(from);
  }

  bool opaque(std::size_t from) {
    if (!xt(from)) b_.not_understood(std::string(c_.since(from)));
    return true;
  }

  bool reject(std::size_t from) {
    c_.next();
    std::string type;
    if (c_.take("with")) {
      const std::string_view kind = c_.next();
      if (kind == "tcp") {
        if (!c_.take("reset")) return false;
        type = "tcp reset";
      } else if (one_of(kind, {"icmp", "icmpv6", "icmpx"})) {
        const std::string_view code = c_.next();
        if (!is_word(code) || code == "type") return false;  // "with icmp type X": iptables-translate's
        type = fmt::format("{} {}", kind, code);
      } else {
        return false;
      }
    } else {  // the family's port-unreachable, which nft does not print
      type = ctx_.family == "ip"    ? "icmp port-unreachable"
             : ctx_.family == "ip6" ? "icmpv6 port-unreachable"
                                    : "icmpx port-unreachable";
    }
    if (!xt(from)) b_.reject(std::move(type));
    return true;
  }

  bool counter() {  // counter [packets N bytes N] | counter name X
    c_.next();
    if (c_.take("packets")) return parse_number(c_.next()) && c_.take("bytes") && parse_number(c_.next());
    if (c_.take("name")) {
      Expr e;
      return read_expression(c_, e);
    }
    return true;
  }

  bool log(std::size_t from) {
    c_.next();
    for (;;) {
      if (one_of(c_.peek(), {"prefix", "level", "group", "snaplen", "queue-threshold"})) {
        c_.next();
        if (c_.next().empty()) return false;
      } else if (c_.take("flags")) {
        if (one_of(c_.peek(), {"tcp", "ip"})) c_.next();
        if (c_.next().empty()) return false;
      } else {
        break;
      }
    }
    xt(from);
    return true;
  }

  // limit rate [over] N/UNIT [burst N UNIT], limit rate [over] N BYTES/UNIT
  // ..., limit name X: the rule matches some packets and not others.
  bool limit(std::size_t from) {
    c_.next();
    if (c_.take("name")) {
      Expr e;
      if (!read_expression(c_, e)) return false;
    } else {
      if (!c_.take("rate")) return false;
      c_.take("over");
      const std::string_view rate = c_.next();
      if (rate.find('/') == std::string_view::npos && c_.next().find('/') == std::string_view::npos) return false;
      if (c_.take("burst") && (!parse_number(c_.next()) || c_.next().empty())) return false;
    }
    b_.unknown_match(c_.since(from));
    return true;
  }

  // dnat|snat [ip|ip6] [prefix] to ADDR[:PORT] [FLAGS], masquerade|redirect [to :PORT] [FLAGS]
  bool nat(std::size_t from) {
    const std::string_view kind = c_.next();
    const bool dnat_or_snat = kind == "dnat" || kind == "snat";
    bool readable = true;
    Expr target;
    bool has_target = false;
    if (dnat_or_snat) {
      if (one_of(c_.peek(), {"ip", "ip6"})) c_.next();
      if (c_.take("prefix")) readable = false;
      if (!c_.take("to")) return false;
      has_target = true;
    } else {
      has_target = c_.take("to");
    }
    if (has_target && !read_expression(c_, target)) return false;
    while (nat_flags(c_.peek())) c_.next();
    if (xt(from)) return true;
    if (kind == "snat" || kind == "masquerade") {
      b_.verdict(FwVerdict::other);
      return true;
    }
    std::optional<IpAddr> addr;
    std::optional<std::uint16_t> port;
    if (has_target) {
      if (target.other || target.source || !target.ops.empty()) {
        readable = false;
      } else if (!nat_target(target.word, addr, port)) {
        readable = false;
      }
    }
    b_.nat(kind == "dnat" ? FwVerdict::dnat : FwVerdict::redirect, addr, port, readable, c_.since(from));
    return true;
  }

  static bool nat_flags(std::string_view w) {
    if (w.empty()) return false;
    for (std::size_t at = 0; at <= w.size();) {
      const std::size_t comma = std::min(w.find(',', at), w.size());
      if (!one_of(w.substr(at, comma - at), {"random", "fully-random", "persistent", "netmap"})) return false;
      at = comma + 1;
    }
    return true;
  }

  // "10.0.0.2:80", "[fd00::2]:80", "fd00::2", "10.0.0.2", ":8000": the
  // address and port the JSON holds as such; false when either part is
  // something else (a range, a prefix), which the JSON parser does not read.
  static bool nat_target(std::string_view w, std::optional<IpAddr>& addr, std::optional<std::uint16_t>& port) {
    std::string_view a = w;
    std::string_view p;
    bool has_port = false;
    if (!w.empty() && w.front() == '[') {
      const std::size_t close = w.find(']');
      if (close == std::string_view::npos) return false;
      a = w.substr(1, close - 1);
      const std::string_view rest = w.substr(close + 1);
      if (!rest.empty()) {
        if (rest.front() != ':') return false;
        p = rest.substr(1);
        has_port = true;
      }
    } else if (!IpAddr::parse(w)) {
      const std::size_t colon = w.rfind(':');
      if (colon != std::string_view::npos && w.substr(0, colon).find(':') == std::string_view::npos) {
        a = w.substr(0, colon);
        p = w.substr(colon + 1);
        has_port = true;
      }
    }
    bool ok = true;
    if (!a.empty()) {
      addr = IpAddr::parse(a);
      ok = addr.has_value();
    }
    if (has_port) {
      const auto n = parse_decimal(p);
      if (n && *n <= 65535) {
        port = static_cast<std::uint16_t>(*n);
      } else {
        ok = false;
      }
    }
    return ok && (!a.empty() || has_port);
  }

  // queue [flags F] [num N | to N-M] [bypass] [fanout]: may change the fate.
  bool queue(std::size_t from) {
    c_.next();
    for (;;) {
      if (c_.take("flags") || c_.take("num") || c_.take("to")) {
        if (c_.next().empty()) return false;
      } else if (!c_.take("bypass") && !c_.take("fanout")) {
        break;
      }
    }
    if (xt(from)) return true;
    b_.not_understood(std::string(c_.since(from)));
    b_.verdict(FwVerdict::other);
    return true;
  }

  // Statements netwhy does not follow, whose words are consumed to find the
  // next statement.
  bool other_statement(std::size_t from) {
    const std::string_view w = c_.next();
    if (w == "quota") {  // quota [over|until] N UNIT [used N UNIT] | quota name X
      if (c_.take("name")) {
        Expr e;
        if (!read_expression(c_, e)) return false;
      } else {
        if (!c_.take("over")) c_.take("until");
        if (!parse_number(c_.next()) || c_.next().empty()) return false;
        if (c_.take("used") && (!parse_number(c_.next()) || c_.next().empty())) return false;
      }
    } else if (w == "fwd" || w == "dup" || w == "tproxy") {  // [ip|ip6] to X [device Y]
      if (one_of(c_.peek(), {"ip", "ip6"})) c_.next();
      Expr e;
      if (!c_.take("to") || !read_expression(c_, e)) return false;
      if (c_.take("device") && !read_expression(c_, e)) return false;
    } else if (w == "synproxy") {
      if (c_.take("name")) {
        Expr e;
        if (!read_expression(c_, e)) return false;
      }
      for (;;) {
        if (c_.take("mss") || c_.take("wscale")) {
          if (!parse_number(c_.next())) return false;
        } else if (!c_.take("timestamp") && !c_.take("sack-perm")) {
          break;
        }
      }
    } else if (w == "flow") {  // flow add|offload @ft
      if (!one_of(c_.next(), {"add", "offload"}) || c_.next().empty()) return false;
    } else if (w == "meter") {  // meter NAME [size N] { ... }
      if (c_.next().empty()) return false;
      if (c_.take("size") && !parse_number(c_.next())) return false;
      if (c_.peek() != "{" || !c_.skip_group()) return false;
    } else if (w == "last") {  // last used never|TIME
      if (c_.take("used") && c_.next().empty()) return false;
    } else if (w == "add" || w == "update" || w == "delete") {  // add @set { ... }
      if (c_.next().empty() || c_.peek() != "{" || !c_.skip_group()) return false;
    }
    return opaque(from);
  }

  // A match ("tcp dport 22"), a verdict map ("tcp dport vmap { ... }") or a
  // statement that sets something ("meta mark set 0x1").
  bool expression(std::size_t from) {
    SelectorReader r(c_);
    auto sel = r.read();
    if (!sel) return false;
    if (c_.take("set")) {
      Expr e;
      if (!read_expression(c_, e)) return false;
      if (xt(from)) return true;
      if (sel->mark) {
        b_.mark(mark_set(sel->key.key == FwKey::ct_mark, e));
      } else {
        b_.not_understood(std::string(c_.since(from)));  // other mangling: may change the fate
      }
      return true;
    }
    if (c_.take("vmap")) {
      std::optional<VmapElements> elements;
      if (c_.peek() == "{") {
        if (!read_vmap_elements(c_, sel->styles, elements)) return false;
      } else {
        const std::string_view ref = c_.next();
        if (ref.size() < 2 || ref.front() != '@') return false;
        const auto it = ctx_.maps->find(map_key(ctx_.family, ctx_.table, ref.substr(1)));
        if (it != ctx_.maps->end()) elements = it->second;
      }
      if (xt(from)) return true;
      b_.vmap(sel->key, sel->known, std::move(elements), c_.since(from));
      return true;
    }
    std::string op = "==";
    const bool explicit_op = one_of(c_.peek(), {"==", "!=", "<", ">", "<=", ">="});
    if (explicit_op) op = std::string(c_.next());
    Rhs rhs;
    if (!read_rhs(c_, sel->styles, rhs)) return false;
    if (c_.take("/")) {  // "tcp flags syn / fin,syn,rst,ack": (tcp flags & mask) in the JSON
      if (c_.next().empty()) return false;
      sel->known = false;
      sel->key = FwMatch{};
    }
    const std::string_view text = c_.since(from);
    if (ctx_.iptables && !iptables_native(*sel, rhs, op, text)) return xt(from);
    if (sel->spelling == "meta l4proto") l4proto_seen_ = true;
    if (sel->known && rhs.readable) {
      FwMatch m = std::move(sel->key);
      m.values = std::move(rhs.values);
      const bool flags = m.key == FwKey::ct_state || m.key == FwKey::ct_status;
      const bool lookup = rhs.braces || (m.values.size() == 1 && m.values.front().kind == FwValue::Kind::set_ref);
      m.op = explicit_op ? op : flags && !lookup ? "in" : "==";
      b_.match(std::move(m));
    } else {
      FwMatch m;  // parse_match: the protocol and the parts' protocols still count
      m.proto = std::move(sel->key.proto);
      m.parts = std::move(sel->key.parts);
      for (FwMatch& p : m.parts) p.key = FwKey::unknown;
      m.raw = std::string(text);
      b_.match(std::move(m));
    }
    return true;
  }

  // iptables-nft's own expressions: "-s 10.0.0.0/8", "-p tcp --dport 22",
  // "-i eth0", "-m mark --mark 0x1/0xff", "--tcp-flags", "-f". A port match
  // after a printed "meta l4proto tcp" is multiport's translation: nft hides
  // the protocol match that a native port match depends on.
  bool iptables_native(const Selector& sel, const Rhs& rhs, std::string_view op, std::string_view text) const {
    if (!sel.native || rhs.braces || !one_of(op, {"==", "!="})) return false;
    if (sel.spelling.substr(0, 9) == "tcp flags" || sel.spelling.substr(0, 11) == "ip frag-off") return true;
    if (!rhs.readable || rhs.values.size() != 1) return false;
    const FwValue& v = rhs.values.front();
    switch (sel.key.key) {
      case FwKey::saddr:
      case FwKey::daddr:
        return v.kind == FwValue::Kind::address || v.kind == FwValue::Kind::prefix;
      case FwKey::sport:
      case FwKey::dport:
        return !l4proto_seen_ && (v.kind == FwValue::Kind::number || v.kind == FwValue::Kind::range);
      case FwKey::l4proto:
        return v.kind == FwValue::Kind::text || v.kind == FwValue::Kind::number;
      case FwKey::iifname:
      case FwKey::oifname:
        return v.kind == FwValue::Kind::text;
      case FwKey::meta_mark: {  // nft's own spelling of the mark and the mask: 0x00000001
        const std::string_view value = text.substr(text.rfind(' ') + 1);
        const std::size_t amp = text.find(" & ");
        return v.kind == FwValue::Kind::number && is_mark_hex(value) &&
               (amp == std::string_view::npos || is_mark_hex(text.substr(amp + 3, 10)));
      }
      default:
        return false;
    }
  }

  const RuleContext& ctx_;
  Cursor c_;
  RuleBuilder& b_;
  bool l4proto_seen_ = false;
};

// ---- the listing's blocks ----

struct RuleLine {
  std::string_view body;   // the statements, as printed
  std::string text;        // the rule's text as parse_nft_ruleset() keeps it
  std::uint64_t handle = 0;
  std::optional<Words> words;  // nullopt: a quote is not closed
  bool empty_statement = false;
};

struct ChainBlock {
  FwChain chain;
  std::vector<RuleLine> rules;
};

struct TableBlock {
  std::string family, name;
  bool dormant = false;  // flags dormant: its chains see no packet
  std::vector<ChainBlock> chains;
  std::vector<FwSet> sets;
};

struct Listing {
  std::vector<TableBlock> tables;
  VerdictMaps maps;
  std::set<std::string> iptables_warned;  // "family name" of tables nft warned about
};

Error listing_error(std::size_t line, std::string_view what) {
  return Error{ErrorKind::parse, 0, fmt::format("nft listing line {}: {}", line, what)};
}

// A block's opening line without its "# handle N": "chain input {".
std::string_view without_handle(std::string_view line) {
  const std::size_t h = line.rfind(handle_comment);
  return trim(h == std::string_view::npos ? line : line.substr(0, h));
}

std::optional<std::int64_t> named_priority(std::string_view family, std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, std::int64_t>, 6> inet = {
      {{"raw", -300}, {"mangle", -150}, {"dstnat", -100}, {"filter", 0}, {"security", 50}, {"srcnat", 100}}};
  static constexpr std::array<std::pair<std::string_view, std::int64_t>, 4> bridge = {
      {{"dstnat", -300}, {"filter", -200}, {"out", 100}, {"srcnat", 300}}};
  const auto find = [&](const auto& table) -> std::optional<std::int64_t> {
    for (const auto& [n, v] : table) {
      if (n == name) return v;
    }
    return std::nullopt;
  };
  return family == "bridge" ? find(bridge) : find(inet);
}

// "filter", "mangle - 5", "srcnat + 10", "-90" as nft prints them for the
// family; the kernel keeps a priority in 32 signed bits.
std::optional<std::int64_t> priority_value(std::string_view family, std::span<const std::string_view> words) {
  if (words.size() == 1) {
    if (const auto n = parse_integer<std::int32_t>(words[0])) return n;
    return named_priority(family, words[0]);
  }
  if (words.size() != 3 || (words[1] != "+" && words[1] != "-")) return std::nullopt;
  const auto base = named_priority(family, words[0]);
  const auto offset = parse_integer<std::int32_t>(words[2]);
  if (!base || !offset || *offset < 0) return std::nullopt;
  const std::int64_t sum = words[1] == "+" ? *base + *offset : *base - *offset;
  if (sum < std::numeric_limits<std::int32_t>::min() || sum > std::numeric_limits<std::int32_t>::max()) {
    return std::nullopt;
  }
  return sum;
}

// "type filter hook ingress device "eth0" priority filter; policy drop;"
bool read_chain_header(std::string_view line, FwChain& c) {
  const auto words = split_words(line);
  if (!words) return false;
  std::vector<std::vector<std::string_view>> clauses(1);  // split at ';'
  for (std::string_view w : *words) {
    while (!w.empty() && w.back() == ';') {
      w.remove_suffix(1);
      if (!w.empty()) clauses.back().push_back(w);
      clauses.emplace_back();
      w = {};
    }
    if (!w.empty()) clauses.back().push_back(w);
  }
  const auto& head = clauses.front();
  if (head.size() < 6 || head[0] != "type" || head[2] != "hook") return false;
  c.type = std::string(head[1]);
  c.hook = std::string(head[3]);
  std::size_t i = 4;
  std::vector<std::string> devices;
  if (head[i] == "device" && i + 1 < head.size()) {
    devices.emplace_back(unquote(head[i + 1]).value_or(head[i + 1]));
    i += 2;
  } else if (head[i] == "devices" && i + 2 < head.size() && head[i + 1] == "=" && head[i + 2] == "{") {
    for (i += 3; i < head.size() && head[i] != "}"; ++i) {
      if (head[i] != ",") devices.emplace_back(unquote(head[i]).value_or(head[i]));
    }
    if (i == head.size()) return false;
    ++i;
  }
  if (i >= head.size() || head[i] != "priority") return false;
  const auto prio = priority_value(c.family, std::span(head).subspan(i + 1));
  if (!prio) return false;
  c.priority = *prio;
  // The JSON has no devices; the JSON parser takes an ingress chain's from
  // this line. (It reads only quoted names: "devices = { eth0, eth1 }",
  // as nft prints several, leaves it none.)
  if (c.hook == "ingress") c.devices = std::move(devices);
  for (std::size_t k = 1; k < clauses.size(); ++k) {
    const auto& clause = clauses[k];
    if (clause.size() == 2 && clause[0] == "policy") c.policy = std::string(clause[1]);
  }
  return true;
}

// "elements = { ... }" of a set or a verdict map.
void read_set_elements(std::string_view text, FwSet& set, std::optional<VmapElements>* vmap) {
  const auto words = split_words(text);
  if (!words) {
    set.complete = false;
    if (vmap != nullptr) vmap->reset();
    return;
  }
  Cursor c(*words);
  if (vmap != nullptr) {
    if (!read_vmap_elements(c, {}, *vmap) || !c.done()) vmap->reset();
    return;
  }
  if (!c.take("{")) {
    set.complete = false;
    return;
  }
  while (!c.take("}")) {
    FwValue v;
    bool readable = true;
    if (!read_value(c, {}, v, readable)) {
      set.complete = false;
      return;
    }
    skip_element_attributes(c);  // timeouts, comments, counters: the JSON's "elem" is unwrapped
    if (readable) set.elements.push_back(std::move(v));
    else set.complete = false;
    if (!c.take(",") && c.peek() != "}") {
      set.complete = false;
      return;
    }
  }
}

// Counts braces outside quotes.
int brace_balance(std::string_view s) {
  int depth = 0;
  bool quoted = false;
  for (const char ch : s) {
    if (ch == '"') quoted = !quoted;
    if (quoted) continue;
    if (ch == '{') ++depth;
    if (ch == '}') --depth;
  }
  return depth;
}

class ListingReader {
 public:
  explicit ListingReader(std::string_view text) : text_(text) {}

  Expected<Listing> read() {
    const std::vector<std::string_view> lines = split_lines(text_);
    for (std::size_t n = 0; n < lines.size(); ++n) {
      line_no_ = n + 1;
      if (auto err = line(lines[n])) return *err;
    }
    if (state_ != State::top) return listing_error(line_no_, "the listing ends inside a block (truncated?)");
    return std::move(out_);
  }

 private:
  enum class State { top, table, chain, set, skip, elements };

  std::optional<Error> line(std::string_view raw) {
    const std::string_view t = trim(raw);
    if (state_ == State::elements) return elements_line(raw);
    if (t.empty()) return std::nullopt;
    if (t.front() == '#' && pending_.empty()) {
      warning(t);
      return std::nullopt;
    }
    switch (state_) {
      case State::top:
        return top(t);
      case State::table:
        return table_line(t);
      case State::chain:
        return chain_line(raw, t);
      case State::set:
        return set_line(raw, t);
      case State::skip:
        skip_depth_ += brace_balance(t);
        if (skip_depth_ <= 0) state_ = State::table;
        return std::nullopt;
      case State::elements:
        break;
    }
    return std::nullopt;
  }

  // "# Warning: table ip filter is managed by iptables-nft, do not touch!"
  // (nft prints it on stderr, which may be listed with the rest).
  void warning(std::string_view t) {
    const auto f = split_fields(t);
    if (f.size() >= 9 && f[0] == "#" && f[1] == "Warning:" && f[2] == "table" && f[6] == "managed" &&
        f[8] == "iptables-nft,") {
      out_.iptables_warned.insert(fmt::format("{} {}", f[3], f[4]));
    }
  }

  std::optional<Error> top(std::string_view t) {
    const auto w = split_words(without_handle(t));
    if (!w || w->size() != 4 || (*w)[0] != "table" || (*w)[3] != "{") return listing_error(line_no_, "not a table");
    TableBlock tb;
    tb.family = std::string((*w)[1]);
    tb.name = std::string(unquote((*w)[2]).value_or((*w)[2]));
    out_.tables.push_back(std::move(tb));
    state_ = State::table;
    return std::nullopt;
  }

  std::optional<Error> table_line(std::string_view t) {
    if (t == "}") {
      state_ = State::top;
      return std::nullopt;
    }
    const auto w = split_words(without_handle(t));
    if (!w || w->empty()) return listing_error(line_no_, "a quote is not closed");
    TableBlock& tb = out_.tables.back();
    if (w->size() >= 2 && (*w)[0] == "flags") {  // "flags dormant", "flags dormant,owner"
      std::string_view flags = (*w)[1];
      while (!flags.empty()) {
        const std::size_t comma = flags.find(',');
        tb.dormant = tb.dormant || flags.substr(0, comma) == "dormant";
        flags = comma == std::string_view::npos ? std::string_view() : flags.substr(comma + 1);
      }
    }
    if (w->back() != "{") return std::nullopt;  // flags, comment "..."
    if (w->size() == 3 && (*w)[0] == "chain") {
      ChainBlock cb;
      cb.chain.family = tb.family;
      cb.chain.table = tb.name;
      cb.chain.name = std::string(unquote((*w)[1]).value_or((*w)[1]));
      tb.chains.push_back(std::move(cb));
      header_seen_ = false;
      state_ = State::chain;
    } else if (w->size() == 3 && ((*w)[0] == "set" || (*w)[0] == "map")) {
      set_ = PendingSet{};
      set_.is_map = (*w)[0] == "map";
      set_.set.family = tb.family;
      set_.set.table = tb.name;
      set_.set.name = std::string(unquote((*w)[1]).value_or((*w)[1]));
      state_ = State::set;
    } else {  // flowtables, named counters, quotas, limits, ct helpers...
      skip_depth_ = brace_balance(t);
      state_ = skip_depth_ > 0 ? State::skip : State::table;
    }
    return std::nullopt;
  }

  std::optional<Error> chain_line(std::string_view raw, std::string_view t) {
    ChainBlock& cb = out_.tables.back().chains.back();
    if (pending_.empty()) {
      if (t == "}") {
        state_ = State::table;
        return std::nullopt;
      }
      if (!header_seen_ && t.substr(0, 5) == "type " && t.find(" hook ") != std::string_view::npos &&
          raw.rfind(handle_comment) == std::string_view::npos) {
        if (!read_chain_header(t, cb.chain)) return listing_error(line_no_, "a chain header netwhy cannot read");
        header_seen_ = true;
        return std::nullopt;
      }
      if (t.substr(0, 9) == "comment \"" && unquote(t.substr(8))) return std::nullopt;  // the chain's
    }
    // A rule ends with its handle. A quoted string may span lines (nft
    // prints a comment's newline as it is): the rule goes on to the line
    // that ends with the handle.
    const std::string_view rule =
        pending_.empty() ? raw
                         : std::string_view(pending_.data(),
                                            static_cast<std::size_t>(raw.data() + raw.size() - pending_.data()));
    pending_quotes_ += static_cast<std::size_t>(std::count(raw.begin(), raw.end(), '"'));
    const std::size_t in_line = raw.rfind(handle_comment);  // this line's, not the whole rule's: linear
    const std::size_t h = in_line == std::string_view::npos ? in_line : rule.size() - raw.size() + in_line;
    const std::string_view handle_text = h == std::string_view::npos ? std::string_view()
                                                                     : trim(rule.substr(h + handle_comment.size()));
    const auto handle = parse_decimal(handle_text);
    if (!handle && !handle_text.empty() &&
        std::all_of(handle_text.begin(), handle_text.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
      return listing_error(line_no_, fmt::format("rule handle {} is over 2^64-1", escape_arg(handle_text)));
    }
    if (!handle && pending_quotes_ % 2 != 0) {
      pending_ = rule;
      return std::nullopt;
    }
    pending_ = {};
    pending_quotes_ = 0;
    // without a handle: a listing without them
    add_rule(cb, handle ? rule.substr(0, h) : rule, handle.value_or(0));
    return std::nullopt;
  }

  static void add_rule(ChainBlock& cb, std::string_view before_handle, std::uint64_t handle) {
    RuleLine r;
    r.handle = handle;
    std::string_view body = before_handle;
    while (!body.empty() && body.front() == '\t') body.remove_prefix(1);
    r.body = body;
    std::string_view text = before_handle;  // as rule_texts() cuts it
    while (!text.empty() && (text.front() == '\t' || text.front() == ' ')) text.remove_prefix(1);
    r.text = strip_counter_values(text);
    r.empty_statement = has_empty_statement(body);
    r.words = split_words(body);
    cb.rules.push_back(std::move(r));
  }

  std::optional<Error> set_line(std::string_view raw, std::string_view t) {
    if (t == "}") {
      finish_set();
      state_ = State::table;
      return std::nullopt;
    }
    if (t.substr(0, 10) == "elements =") {
      const std::size_t open = raw.find("elements =") + 10;
      set_.elements_from = static_cast<std::size_t>(raw.data() - text_.data()) + open;
      set_.has_elements = true;
      elements_depth_ = 0;
      state_ = State::elements;
      return elements_line(raw.substr(open));
    }
    const auto f = split_fields(t);
    if (!f.empty() && (f[0] == "type" || f[0] == "typeof") && f.size() >= 3 && f[f.size() - 2] == ":" &&
        f.back() == "verdict") {
      set_.verdict = true;
    }
    return std::nullopt;
  }

  std::optional<Error> elements_line(std::string_view part) {
    elements_depth_ += brace_balance(part);
    if (elements_depth_ > 0) return std::nullopt;
    const std::size_t end = static_cast<std::size_t>(part.data() - text_.data()) + part.size();
    set_.elements_text = text_.substr(set_.elements_from, end - set_.elements_from);
    state_ = State::set;
    if (elements_depth_ < 0) return listing_error(line_no_, "unbalanced braces in a set's elements");
    return std::nullopt;
  }

  void finish_set() {
    TableBlock& tb = out_.tables.back();
    if (!set_.is_map) {
      if (set_.has_elements) read_set_elements(set_.elements_text, set_.set, nullptr);
      tb.sets.push_back(std::move(set_.set));
    } else if (set_.verdict && set_.has_elements) {
      std::optional<VmapElements> elements;
      read_set_elements(set_.elements_text, set_.set, &elements);
      out_.maps.emplace(map_key(tb.family, tb.name, set_.set.name), std::move(elements));
    }
  }

  struct PendingSet {
    FwSet set;
    bool is_map = false;
    bool verdict = false;
    bool has_elements = false;
    std::size_t elements_from = 0;
    std::string_view elements_text;
  };

  std::string_view text_;
  Listing out_;
  State state_ = State::top;
  std::size_t line_no_ = 0;
  int skip_depth_ = 0;
  int elements_depth_ = 0;
  bool header_seen_ = false;
  PendingSet set_;
  std::string_view pending_;  // a rule's lines while a quoted string is open
  std::size_t pending_quotes_ = 0;
};

// ---- iptables-nft's tables ----

// Does iptables-nft manage the table? nft said so; or it holds xt
// expressions; or it looks like nothing else: an ip/ip6 table of iptables'
// names whose base chains are all built-in ones, registered as iptables-nft
// registers them, and every rule has the counter iptables-nft gives each.
bool iptables_table(const TableBlock& t, const Listing& l) {
  if (l.iptables_warned.contains(fmt::format("{} {}", t.family, t.name))) return true;
  bool every_rule_counts = true;
  for (const ChainBlock& c : t.chains) {
    for (const RuleLine& r : c.rules) {
      if (r.empty_statement) return true;
      if (!r.words) continue;
      const Words& w = *r.words;
      for (std::size_t i = 0; i + 1 < w.size(); ++i) {
        if (w[i] == "xt" && one_of(w[i + 1], {"match", "target", "watcher"})) return true;
      }
      if (std::find(w.begin(), w.end(), "counter") == w.end()) every_rule_counts = false;
    }
  }
  if (t.family != "ip" && t.family != "ip6") return false;
  bool any_base = false;
  for (const ChainBlock& c : t.chains) {
    if (c.chain.hook.empty()) continue;
    const auto builtin = iptables_builtin_chain(t.name, c.chain.name, IptBackend::nft);
    if (!builtin || builtin->type != c.chain.type || builtin->hook != c.chain.hook ||
        builtin->priority != c.chain.priority) {
      return false;
    }
    any_base = true;
  }
  return any_base && every_rule_counts;
}

void add_rules(const RuleContext& ctx, const ChainBlock& c, std::vector<FwRule>& out, std::size_t& budget) {
  for (const RuleLine& line : c.rules) {
    FwRule rule;
    rule.family = c.chain.family;
    rule.table = c.chain.table;
    rule.chain = c.chain.name;
    rule.handle = line.handle;
    RuleBuilder b(std::move(rule));
    if (!line.words) {
      b.not_understood(fmt::format("a quote netwhy cannot find the end of ({})", line.body));
    } else {
      RuleReader(ctx, *line.words, b).read();
      if (line.empty_statement) b.not_understood("xt expression nft prints as nothing");
    }
    const std::size_t first = out.size();
    std::move(b).finish(out, budget);
    for (std::size_t i = first; i < out.size(); ++i) out[i].text = line.text;
  }
}

}  // namespace

Expected<Firewall> parse_nft_text(std::string_view listing) {
  auto read = ListingReader(listing).read();
  if (!read) return read.error();
  Listing& l = *read;
  Firewall fw;
  fw.read = true;
  std::size_t budget = listing.size() + (std::size_t{1} << 16);  // linear in the listing
  for (TableBlock& t : l.tables) {
    if (t.dormant) continue;  // as the kernel: no packet goes through it
    const RuleContext ctx{t.family, t.name, &l.maps, iptables_table(t, l)};
    for (const ChainBlock& c : t.chains) add_rules(ctx, c, fw.rules, budget);
    for (FwSet& s : t.sets) fw.sets.push_back(std::move(s));
    for (ChainBlock& c : t.chains) fw.chains.push_back(std::move(c.chain));
  }
  return fw;
}

}  // namespace netwhy
