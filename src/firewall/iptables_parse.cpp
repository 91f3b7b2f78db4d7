// `iptables-save` text into plain values (see include/netwhy/iptables.hpp
// for the mapping). Pure: text in, values or an error out.
#include <algorithm>
#include <array>
#include <initializer_list>
#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "netwhy/iptables.hpp"
#include "netwhy/text.hpp"
#include "numbers.hpp"

namespace netwhy {

std::string_view to_string(IptBackend b) {
  switch (b) {
    case IptBackend::nft:
      return "iptables-nft";
    case IptBackend::legacy:
      return "iptables-legacy";
  }
  return "iptables";
}

namespace {

struct Builtin {
  std::string_view table, chain, type, hook;
  std::int64_t priority;
};

// As iptables registers them: x_tables' NF_IP_PRI_* for iptables-legacy,
// and iptables-nft's own table (nft.c), which differs only for security.
constexpr std::int64_t security_legacy = 50;
constexpr std::int64_t security_nft = 150;
constexpr std::array builtins{
    Builtin{"raw", "PREROUTING", "filter", "prerouting", -300},
    Builtin{"raw", "OUTPUT", "filter", "output", -300},
    Builtin{"mangle", "PREROUTING", "filter", "prerouting", -150},
    Builtin{"mangle", "INPUT", "filter", "input", -150},
    Builtin{"mangle", "FORWARD", "filter", "forward", -150},
    Builtin{"mangle", "OUTPUT", "route", "output", -150},
    Builtin{"mangle", "POSTROUTING", "filter", "postrouting", -150},
    Builtin{"nat", "PREROUTING", "nat", "prerouting", -100},
    Builtin{"nat", "INPUT", "nat", "input", 100},
    Builtin{"nat", "OUTPUT", "nat", "output", -100},
    Builtin{"nat", "POSTROUTING", "nat", "postrouting", 100},
    Builtin{"filter", "INPUT", "filter", "input", 0},
    Builtin{"filter", "FORWARD", "filter", "forward", 0},
    Builtin{"filter", "OUTPUT", "filter", "output", 0},
    Builtin{"security", "INPUT", "filter", "input", security_legacy},
    Builtin{"security", "FORWARD", "filter", "forward", security_legacy},
    Builtin{"security", "OUTPUT", "filter", "output", security_legacy},
};

constexpr std::array<std::string_view, 5> table_names{"filter", "nat", "mangle", "raw", "security"};

bool known_table(std::string_view t) {
  return std::find(table_names.begin(), table_names.end(), t) != table_names.end();
}

}  // namespace

std::optional<IptBuiltinChain> iptables_builtin_chain(std::string_view table, std::string_view chain,
                                                      IptBackend backend) {
  for (const Builtin& b : builtins) {
    if (b.table != table || b.chain != chain) continue;
    IptBuiltinChain out{b.type, b.hook, b.priority};
    if (table == "security" && backend == IptBackend::nft) out.priority = security_nft;
    return out;
  }
  return std::nullopt;
}

std::string iptables_table_name(std::string_view table, IptBackend backend) {
  return backend == IptBackend::legacy ? std::string(iptables_legacy_prefix) + std::string(table) : std::string(table);
}

std::optional<IptTableRef> iptables_table_ref(std::string_view family, std::string_view table) {
  if (family != "ip" && family != "ip6") return std::nullopt;
  IptTableRef out;
  if (table.substr(0, iptables_legacy_prefix.size()) == iptables_legacy_prefix) {
    out.backend = IptBackend::legacy;
    table.remove_prefix(iptables_legacy_prefix.size());
  }
  if (!known_table(table)) return std::nullopt;
  out.table = std::string(table);
  return out;
}

namespace {

// One word of a rule, unquoted, with where it stood in the line.
struct Token {
  std::string value;
  std::size_t begin = 0;
  std::size_t end = 0;
};

// iptables-restore's splitting (xshared.c add_param_to_argv): blanks
// separate words; a double quote opens and closes a quoted part, inside
// which a backslash takes the next character as it is.
std::vector<Token> tokenize(std::string_view line, std::string& error) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ' || line[i] == '\t') {
      ++i;
      continue;
    }
    Token t;
    t.begin = i;
    bool quoted = false;
    while (i < line.size()) {
      const char c = line[i];
      if (quoted) {
        if (c == '\\' && i + 1 < line.size()) {
          t.value += line[i + 1];
          i += 2;
          continue;
        }
        if (c == '"') quoted = false;
        else t.value += c;
        ++i;
        continue;
      }
      if (c == ' ' || c == '\t') break;
      if (c == '"') quoted = true;
      else t.value += c;
      ++i;
    }
    if (quoted) {
      error = "an unterminated quoted string";
      return out;
    }
    t.end = i;
    out.push_back(std::move(t));
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t from = 0;
  for (;;) {
    const std::size_t at = s.find(sep, from);
    out.push_back(s.substr(from, at == std::string_view::npos ? std::string_view::npos : at - from));
    if (at == std::string_view::npos) return out;
    from = at + 1;
  }
}

// A mark as iptables prints it: "0x1", "1"; with a mask: "0x1/0xff".
std::optional<std::uint32_t> mark_number(std::string_view s) {
  return parse_integer<std::uint32_t>(s, Radix::decimal_or_hex);
}

struct MarkMask {
  std::uint32_t value = 0;
  std::uint32_t mask = 0xffffffffU;
};

std::optional<MarkMask> mark_and_mask(std::string_view s) {
  MarkMask out;
  const std::size_t slash = s.find('/');
  const auto v = mark_number(s.substr(0, slash));
  if (!v) return std::nullopt;
  out.value = *v;
  if (slash != std::string_view::npos) {
    const auto m = mark_number(s.substr(slash + 1));
    if (!m) return std::nullopt;
    out.mask = *m;
  }
  return out;
}

// "80", "1024:65535", ":1023", "1024:" (iptables' port and port range).
std::optional<FwValue> port_value(std::string_view s) {
  FwValue v;
  const std::size_t colon = s.find(':');
  if (colon == std::string_view::npos) {
    const auto p = parse_integer<std::uint16_t>(s);
    if (!p) return std::nullopt;
    v.kind = FwValue::Kind::number;
    v.number = *p;
    return v;
  }
  const std::string_view lo_text = s.substr(0, colon);
  const std::string_view hi_text = s.substr(colon + 1);
  const auto lo = lo_text.empty() ? std::optional<std::uint16_t>(0) : parse_integer<std::uint16_t>(lo_text);
  const auto hi = hi_text.empty() ? std::optional<std::uint16_t>(65535) : parse_integer<std::uint16_t>(hi_text);
  if (!lo || !hi || *lo > *hi) return std::nullopt;
  if (*lo == *hi) {
    v.number = *lo;
    return v;
  }
  v.kind = FwValue::Kind::range;
  v.number = *lo;
  v.number_hi = *hi;
  return v;
}

// Prefix length of a contiguous netmask ("255.255.0.0" -> 16).
std::optional<unsigned> mask_length(const IpAddr& mask) {
  unsigned len = 0;
  bool ended = false;
  for (std::size_t i = 0; i < mask.size(); ++i) {
    for (int bit = 7; bit >= 0; --bit) {
      const bool set = ((mask.bytes[i] >> bit) & 1U) != 0;
      if (set && ended) return std::nullopt;
      if (set) ++len;
      else ended = true;
    }
  }
  return len;
}

// "10.0.0.0/8", "10.0.0.1/32", "2001:db8::/32", "10.0.0.0/255.0.0.0".
std::optional<FwValue> address_value(std::string_view s, Family family) {
  const std::size_t slash = s.find('/');
  const auto addr = IpAddr::parse(s.substr(0, slash));
  if (!addr || addr->family != family) return std::nullopt;
  FwValue v;
  v.addr = *addr;
  unsigned len = addr->bits();
  if (slash != std::string_view::npos) {
    const std::string_view m = s.substr(slash + 1);
    if (const auto n = parse_integer<unsigned>(m)) {
      len = *n;
    } else {
      const auto mask = IpAddr::parse(m);
      if (!mask || mask->family != family) return std::nullopt;
      const auto l = mask_length(*mask);
      if (!l) return std::nullopt;
      len = *l;
    }
  }
  if (len > addr->bits()) return std::nullopt;
  if (len == addr->bits()) {
    v.kind = FwValue::Kind::address;
  } else {
    v.kind = FwValue::Kind::prefix;
    v.prefix_len = len;
  }
  return v;
}

// "eth0" stays itself (fnmatch specials escaped); "eth+" becomes "eth*".
std::string interface_pattern(std::string_view name) {
  const bool wildcard = !name.empty() && name.back() == '+';
  if (wildcard) name.remove_suffix(1);
  std::string out;
  for (const char c : name) {
    if (c == '*' || c == '?' || c == '[' || c == '\\') out += '\\';
    out += c;
  }
  if (wildcard) out += '*';
  return out;
}

std::string_view family_name(Family f) { return f == Family::inet6 ? "ip6" : "ip"; }

FwMatch unknown_match(std::string raw) {
  FwMatch m;
  m.raw = std::move(raw);
  return m;
}

// One option of a match module: "[!] --name args...".
struct Option {
  bool negated = false;
  std::string name;
  std::vector<std::string> args;
  std::string raw;  // "! --dport 80", as printed
};

// Decodes one rule line's words (after "-A CHAIN").
class RuleDecoder {
 public:
  RuleDecoder(std::string_view line, Family family, const std::set<std::string, std::less<>>& chains, FwRule& rule)
      : line_(line), family_(family), chains_(chains), rule_(rule) {}

  void decode() {
    std::string error;
    toks_ = tokenize(line_, error);
    if (!error.empty()) {
      give_up(error);
      return;
    }
    std::size_t i = 0;
    while (i < toks_.size()) {
      const std::size_t start = i;
      bool negated = false;
      if (toks_[i].value == "!") {
        negated = true;
        ++i;
        if (i == toks_.size()) {
          give_up("a \"!\" with nothing after it");
          return;
        }
      }
      const std::string& opt = toks_[i].value;
      ++i;
      if (opt == "-s" || opt == "--source" || opt == "-d" || opt == "--destination" || opt == "-i" ||
          opt == "--in-interface" || opt == "-o" || opt == "--out-interface" || opt == "-p" || opt == "--protocol") {
        if (i == toks_.size()) {
          give_up(fmt::format("{} without a value", opt));
          return;
        }
        generic(opt, toks_[i].value, negated, raw(start, i + 1));
        ++i;
      } else if (opt == "-f" || opt == "--fragment") {
        rule_.matches.push_back(unknown_match(raw(start, i)));
      } else if (opt == "-m" || opt == "--match") {
        if (negated || i == toks_.size()) {
          give_up(negated ? "a \"!\" before -m" : "-m without a module name");
          return;
        }
        const std::string module = toks_[i].value;
        const std::size_t end = group_end(i + 1);
        module_match(module, i + 1, end, raw(start, end));
        i = end;
      } else if (opt == "-j" || opt == "--jump" || opt == "-g" || opt == "--goto") {
        if (negated || i == toks_.size()) {
          give_up(negated ? fmt::format("a \"!\" before {}", opt) : fmt::format("{} without a target", opt));
          return;
        }
        const std::string target = toks_[i].value;
        const std::size_t end = group_end(i + 1);
        if (opt == "-g" || opt == "--goto") {
          go_to(target, i + 1, end);
        } else {
          jump(target, i + 1, end, raw(start, end));
        }
        i = end;
      } else if (opt.size() > 2 && opt.substr(0, 2) == "--" && (proto_ == "tcp" || proto_ == "udp")) {
        // An option of the protocol's implicit match: "-p tcp --dport 22".
        const std::size_t end = group_end(start);
        module_match(proto_, start, end, raw(start, end));
        i = end;
      } else {
        give_up(fmt::format("the option {}", opt));
        return;
      }
    }
  }

 private:
  // "the option --foo" -> verdict other; the rule is kept, marked.
  void give_up(std::string_view why) {
    rule_.verdict = FwVerdict::other;
    rule_.not_understood = fmt::format("iptables text netwhy cannot read ({})", why);
  }

  // Where a module's or target's options end: at the next -m, -j or -g.
  std::size_t group_end(std::size_t from) const {
    std::size_t i = from;
    while (i < toks_.size()) {
      const std::string& v = toks_[i].value;
      if (v == "-m" || v == "--match" || v == "-j" || v == "--jump" || v == "-g" || v == "--goto") break;
      ++i;
    }
    return i;
  }

  std::string raw(std::size_t from, std::size_t to) const {
    if (from >= to || to > toks_.size()) return {};
    return std::string(line_.substr(toks_[from].begin, toks_[to - 1].end - toks_[from].begin));
  }

  void generic(std::string_view opt, const std::string& value, bool negated, std::string raw_text) {
    FwMatch m;
    m.op = negated ? "!=" : "==";
    m.raw = raw_text;
    if (opt == "-s" || opt == "--source" || opt == "-d" || opt == "--destination") {
      const auto v = address_value(value, family_);
      if (!v) {
        rule_.matches.push_back(unknown_match(std::move(raw_text)));
        return;
      }
      m.key = opt == "-s" || opt == "--source" ? FwKey::saddr : FwKey::daddr;
      m.proto = std::string(family_name(family_));
      m.values.push_back(*v);
    } else if (opt == "-i" || opt == "--in-interface" || opt == "-o" || opt == "--out-interface") {
      m.key = opt == "-i" || opt == "--in-interface" ? FwKey::iifname : FwKey::oifname;
      FwValue v;
      v.kind = FwValue::Kind::text;
      v.text = interface_pattern(value);
      m.values.push_back(v);
    } else {  // -p
      const std::string p = lower(value);
      if (p == "all" || p == "0") {
        if (negated) rule_.matches.push_back(unknown_match(std::move(raw_text)));
        return;  // any protocol: no match at all
      }
      if (!negated) proto_ = p == "6" ? "tcp" : p == "17" ? "udp" : p;
      m.key = FwKey::l4proto;
      FwValue v;
      if (const auto n = parse_integer<std::uint8_t>(p)) {
        v.kind = FwValue::Kind::number;
        v.number = *n;
      } else {
        v.kind = FwValue::Kind::text;
        v.text = p;
      }
      m.values.push_back(v);
    }
    rule_.matches.push_back(std::move(m));
  }

  // The options of a module, split by what each takes; nullopt at an option
  // whose arity is not known (the rest is then one unknown match).
  static std::size_t arity(std::string_view module, std::string_view option) {
    if (option == "--syn" || option == "--limit-iface-in" || option == "--limit-iface-out") return 0;
    if (option == "--tcp-flags" || (module == "set" && option == "--match-set")) return 2;
    return 1;
  }

  std::vector<Option> options(std::string_view module, std::size_t from, std::size_t to) const {
    std::vector<Option> out;
    std::size_t i = from;
    while (i < to) {
      Option o;
      const std::size_t start = i;
      if (toks_[i].value == "!") {
        o.negated = true;
        ++i;
      }
      if (i >= to) break;
      o.name = toks_[i].value;
      ++i;
      const std::size_t n = arity(module, o.name);
      for (std::size_t k = 0; k < n && i < to; ++k, ++i) o.args.push_back(toks_[i].value);
      o.raw = raw(start, i);
      if (o.args.size() != n) o.name.clear();  // a missing value: not understood
      out.push_back(std::move(o));
    }
    return out;
  }

  FwMatch ports(FwKey key, std::string_view proto, const Option& o, std::string_view module) const {
    FwMatch m;
    m.raw = fmt::format("-m {} {}", module, o.raw);
    FwMatch out = m;
    out.key = key;
    out.proto = std::string(proto);
    out.op = o.negated ? "!=" : "==";
    for (const std::string_view part : split(o.args.at(0), ',')) {
      const auto v = port_value(part);
      if (!v) return m;
      out.values.push_back(*v);
    }
    return out;
  }

  FwMatch states(const Option& o, std::string_view module) const {
    FwMatch m;
    m.raw = fmt::format("-m {} {}", module, o.raw);
    FwMatch out = m;
    out.key = FwKey::ct_state;
    out.op = o.negated ? "!=" : "==";
    for (const std::string_view part : split(o.args.at(0), ',')) {
      const std::string s = lower(part);
      // SNAT and DNAT are conntrack's virtual states (the connection's NAT):
      // not a state in nft's sense.
      if (s != "new" && s != "established" && s != "related" && s != "invalid" && s != "untracked") return m;
      FwValue v;
      v.kind = FwValue::Kind::text;
      v.text = s;
      out.values.push_back(v);
    }
    return out;
  }

  FwMatch one_option(std::string_view module, const Option& o) const {
    FwMatch unknown = unknown_match(fmt::format("-m {} {}", module, o.raw));
    if (o.name.empty()) return unknown;
    if (module == "tcp" || module == "udp") {
      if (o.name == "--dport" || o.name == "--destination-port") return ports(FwKey::dport, module, o, module);
      if (o.name == "--sport" || o.name == "--source-port") return ports(FwKey::sport, module, o, module);
      const bool syn = o.name == "--syn" || (o.name == "--tcp-flags" && o.args.at(0) == "FIN,SYN,RST,ACK" &&
                                             o.args.at(1) == "SYN");
      if (module == "tcp" && syn) {
        // The first packet of a new connection is a SYN: for that packet,
        // --syn is as true as ct state new (and "! --syn" as false).
        FwMatch m;
        m.key = FwKey::ct_state;
        m.proto = "tcp";
        m.op = o.negated ? "!=" : "==";
        m.raw = o.negated ? "! --syn" : "--syn";
        FwValue v;
        v.kind = FwValue::Kind::text;
        v.text = "new";
        m.values.push_back(v);
        return m;
      }
      return unknown;
    }
    if (module == "multiport") {
      const std::string_view proto = proto_ == "tcp" || proto_ == "udp" ? std::string_view(proto_) : std::string_view();
      if (proto.empty()) return unknown;
      if (o.name == "--dports" || o.name == "--destination-ports") return ports(FwKey::dport, proto, o, module);
      if (o.name == "--sports" || o.name == "--source-ports") return ports(FwKey::sport, proto, o, module);
      return unknown;  // --ports: either port
    }
    if ((module == "conntrack" && o.name == "--ctstate") || (module == "state" && o.name == "--state")) {
      return states(o, module);
    }
    if (module == "iprange" && (o.name == "--src-range" || o.name == "--dst-range")) {
      const auto dash = o.args.at(0).find('-');
      if (dash == std::string::npos) return unknown;
      const auto lo = IpAddr::parse(std::string_view(o.args[0]).substr(0, dash));
      const auto hi = IpAddr::parse(std::string_view(o.args[0]).substr(dash + 1));
      if (!lo || !hi || lo->family != family_ || hi->family != family_) return unknown;
      FwMatch m;
      m.key = o.name == "--src-range" ? FwKey::saddr : FwKey::daddr;
      m.proto = std::string(family_name(family_));
      m.op = o.negated ? "!=" : "==";
      m.raw = unknown.raw;
      FwValue v;
      v.kind = FwValue::Kind::range;
      v.addr = *lo;
      v.addr_hi = *hi;
      v.text = "address";  // nft_parse's mark for a range of addresses
      m.values.push_back(v);
      return m;
    }
    if ((module == "mark" || module == "connmark") && o.name == "--mark") {
      const auto mm = mark_and_mask(o.args.at(0));
      if (!mm) return unknown;
      FwMatch m;
      m.key = module == "mark" ? FwKey::meta_mark : FwKey::ct_mark;
      m.op = o.negated ? "!=" : "==";
      m.raw = unknown.raw;
      m.mask = mm->mask;
      FwValue v;
      v.number = mm->value;  // xt_mark: (mark & mask) == value, the value unmasked
      m.values.push_back(v);
      return m;
    }
    if (module == "addrtype" && (o.name == "--dst-type" || o.name == "--src-type")) {
      // --dst-type is nft's `fib daddr type`; --src-type stays unknown.
      FwMatch m = unknown;
      m.proto = o.name == "--dst-type" ? "fib daddr type" : "fib saddr type";
      if (o.name == "--dst-type") m.key = FwKey::fib_daddr_type;
      m.op = o.negated ? "!=" : "==";
      for (const std::string_view part : split(o.args.at(0), ',')) {
        FwValue v;
        v.kind = FwValue::Kind::text;
        v.text = lower(part);
        m.values.push_back(v);
      }
      return m;
    }
    return unknown;
  }

  void module_match(const std::string& module, std::size_t from, std::size_t to, std::string raw_text) {
    if (module == "comment") return;  // a note for people, no match
    if (module != "tcp" && module != "udp" && module != "multiport" && module != "conntrack" && module != "state" &&
        module != "iprange" && module != "addrtype" && module != "mark" && module != "connmark") {
      rule_.matches.push_back(unknown_match(std::move(raw_text)));  // mark, set, limit, icmp, ...
      return;
    }
    const std::vector<Option> opts = options(module, from, to);
    if (opts.empty()) {
      rule_.matches.push_back(unknown_match(std::move(raw_text)));
      return;
    }
    for (const Option& o : opts) rule_.matches.push_back(one_option(module, o));
  }

  // The value of "--name VALUE" among a target's options; all options must
  // be among `allowed` (flags without a value listed in `flags`).
  struct TargetOptions {
    std::vector<std::pair<std::string, std::string>> values;
    std::string unknown;  // the first option not understood
  };
  TargetOptions target_options(std::size_t from, std::size_t to, std::initializer_list<std::string_view> with_value,
                               std::initializer_list<std::string_view> flags) const {
    TargetOptions out;
    for (std::size_t i = from; i < to; ++i) {
      const std::string& name = toks_[i].value;
      if (std::find(flags.begin(), flags.end(), name) != flags.end()) continue;
      if (std::find(with_value.begin(), with_value.end(), name) != with_value.end() && i + 1 < to) {
        out.values.emplace_back(name, toks_[i + 1].value);
        ++i;
        continue;
      }
      if (out.unknown.empty()) out.unknown = name;
    }
    return out;
  }

  void go_to(const std::string& target, std::size_t from, std::size_t to) {
    if (!chains_.contains(target)) {
      give_up(fmt::format("-g to {}, a chain the table does not declare", target));
      return;
    }
    rule_.verdict = FwVerdict::go_to;
    rule_.target = target;
    if (from != to) give_up("options after -g");
  }

  // "10.0.0.2", "10.0.0.2:80", ":80", "[2001:db8::2]:80", "2001:db8::2";
  // false for ranges and anything else.
  bool nat_destination(std::string_view s) {
    std::string_view addr = s;
    std::string_view port;
    if (family_ == Family::inet6) {
      if (!s.empty() && s.front() == '[') {
        const std::size_t close = s.find(']');
        if (close == std::string_view::npos) return false;
        addr = s.substr(1, close - 1);
        const std::string_view rest = s.substr(close + 1);
        if (!rest.empty()) {
          if (rest.front() != ':') return false;
          port = rest.substr(1);
        }
      }
    } else if (const std::size_t colon = s.find(':'); colon != std::string_view::npos) {
      addr = s.substr(0, colon);
      port = s.substr(colon + 1);
      if (port.empty()) return false;
    }
    if (!addr.empty()) {
      const auto a = IpAddr::parse(addr);
      if (!a || a->family != family_) return false;
      rule_.nat_addr = *a;
    }
    if (!port.empty()) {
      const auto p = parse_integer<std::uint16_t>(port);
      if (!p) return false;
      rule_.nat_port = *p;
    }
    return true;
  }

  void jump(const std::string& target, std::size_t from, std::size_t to, const std::string& raw_text) {
    if (target == "ACCEPT" || target == "DROP" || target == "RETURN") {
      rule_.verdict = target == "ACCEPT" ? FwVerdict::accept : target == "DROP" ? FwVerdict::drop : FwVerdict::ret;
      if (from != to) give_up(fmt::format("options after -j {}", target));
      return;
    }
    if (target == "REJECT") {
      rule_.verdict = FwVerdict::reject;
      rule_.reject_type = family_ == Family::inet6 ? "icmp6-port-unreachable" : "icmp-port-unreachable";
      const TargetOptions o = target_options(from, to, {"--reject-with"}, {});
      for (const auto& [name, value] : o.values) rule_.reject_type = value;
      if (!o.unknown.empty()) rule_.not_understood = raw_text;
      return;
    }
    if (target == "DNAT") {
      rule_.verdict = FwVerdict::dnat;
      const TargetOptions o = target_options(from, to, {"--to-destination"}, {"--random", "--persistent"});
      const bool one = o.values.size() == 1;
      if (!o.unknown.empty() || !one || !nat_destination(o.values.front().second)) {
        rule_.nat_addr.reset();
        rule_.nat_port.reset();
        rule_.not_understood = fmt::format("a DNAT netwhy cannot follow ({})", raw_text);
      }
      return;
    }
    if (target == "REDIRECT") {
      rule_.verdict = FwVerdict::redirect;
      const TargetOptions o = target_options(from, to, {"--to-ports"}, {"--random"});
      for (const auto& [name, value] : o.values) {
        const auto p = parse_integer<std::uint16_t>(value);
        if (p) rule_.nat_port = *p;
        else rule_.not_understood = fmt::format("a REDIRECT to several ports ({})", raw_text);
      }
      if (!o.unknown.empty()) rule_.not_understood = fmt::format("a REDIRECT netwhy cannot follow ({})", raw_text);
      return;
    }
    if (target == "MARK" || target == "CONNMARK") {
      rule_.verdict = FwVerdict::none;  // marks do not decide, but later rules may match them
      rule_.marks.push_back(mark_target(target == "CONNMARK", from, to));
      return;
    }
    const bool notrack =
        std::any_of(toks_.begin() + static_cast<std::ptrdiff_t>(from), toks_.begin() + static_cast<std::ptrdiff_t>(to),
                    [](const Token& t) { return t.value == "--notrack"; });
    if (target == "NOTRACK" || (target == "CT" && notrack)) {
      // Not a verdict, but later conntrack matches see an untracked packet.
      rule_.verdict = FwVerdict::none;
      rule_.not_understood = fmt::format("{} (later conntrack state matches see an untracked packet)", raw_text);
      return;
    }
    static const std::set<std::string_view> statements = {
        "MASQUERADE", "SNAT",   "LOG",    "NFLOG",    "ULOG",  "TCPMSS",
        "DSCP",       "TOS",    "TTL",    "HL",       "CLASSIFY", "CHECKSUM", "SECMARK", "CONNSECMARK",
        "AUDIT",      "TRACE",  "SET",    "IDLETIMER", "LED",   "CT",     "TEE",
    };
    if (statements.contains(target)) {
      rule_.verdict = FwVerdict::none;  // logs, marks and source NAT do not decide
      return;
    }
    if (chains_.contains(target)) {
      rule_.verdict = FwVerdict::jump;
      rule_.target = target;
      if (from != to) give_up(fmt::format("options after -j {}", target));
      return;
    }
    rule_.verdict = FwVerdict::other;  // NFQUEUE, TPROXY, NETMAP, QUEUE, ...
    rule_.not_understood = raw_text;
  }

  // MARK and CONNMARK as iptables-save prints them (--set-xmark V/M; for
  // CONNMARK also --save-mark and --restore-mark with their masks); anything
  // else leaves the mark it sets unknown.
  FwMarkSet mark_target(bool connmark, std::size_t from, std::size_t to) const {
    FwMarkSet m;
    m.ct = connmark;
    m.known = false;
    std::vector<std::string_view> args;
    for (std::size_t i = from; i < to; ++i) args.emplace_back(toks_[i].value);
    const auto value_of = [&](std::string_view name) -> std::optional<std::string_view> {
      for (std::size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] == name) return args[i + 1];
      }
      return std::nullopt;
    };
    const auto full = [&](std::string_view name) {
      const auto v = value_of(name);
      return !v || mark_number(*v) == 0xffffffffU;  // absent: the default, all bits
    };
    const auto only = [&](std::initializer_list<std::string_view> allowed) {
      for (std::size_t i = 0; i < args.size(); i += 2) {  // an option, then its value
        if (std::find(allowed.begin(), allowed.end(), args[i]) == allowed.end()) return false;
      }
      return true;
    };
    const auto self = connmark ? FwMarkSet::Source::ct : FwMarkSet::Source::meta;
    if (const auto x = value_of("--set-xmark"); x && args.size() == 2) {  // (mark & ~M) ^ V
      if (const auto mm = mark_and_mask(*x)) {
        m = FwMarkSet{connmark, self, ~mm->mask, mm->value, true};
      }
    } else if (const auto sm = value_of("--set-mark"); sm && args.size() == 2) {  // (mark & ~M) | V
      if (const auto mm = mark_and_mask(*sm); mm && (mm->value & ~mm->mask) == 0) {
        m = FwMarkSet{connmark, self, ~mm->mask, mm->value, true};
      }
    } else if (connmark && args.size() >= 1 && (args[0] == "--save-mark" || args[0] == "--restore-mark")) {
      // With whole masks: the connection's mark becomes the packet's, or back.
      args.erase(args.begin());
      if (only({"--nfmask", "--ctmask", "--mask"}) && full("--nfmask") && full("--ctmask") && full("--mask")) {
        const bool save = toks_[from].value == "--save-mark";
        m = FwMarkSet{save, save ? FwMarkSet::Source::meta : FwMarkSet::Source::ct, 0xffffffffU, 0, true};
      } else {
        m.ct = toks_[from].value == "--save-mark";
      }
    } else if (!connmark && args.size() == 2) {  // --and-mark, --or-mark, --xor-mark
      if (const auto n = mark_number(args[1])) {
        if (args[0] == "--and-mark") m = FwMarkSet{false, self, *n, 0, true};
        if (args[0] == "--or-mark") m = FwMarkSet{false, self, ~*n, *n, true};
        if (args[0] == "--xor-mark") m = FwMarkSet{false, self, 0xffffffffU, *n, true};
      }
    }
    return m;
  }

  std::string_view line_;
  Family family_;
  const std::set<std::string, std::less<>>& chains_;
  FwRule& rule_;
  std::vector<Token> toks_;
  std::string proto_;  // from -p, for multiport and implicit port options
};

struct PendingRule {
  std::size_t line_no = 0;
  std::string chain;
  std::string text;
};

Error parse_error(std::size_t line_no, std::string_view what) {
  return Error{ErrorKind::parse, 0, fmt::format("iptables-save line {}: {}", line_no, what)};
}

// "[12:3456] -A INPUT ..." -> "-A INPUT ..."
std::string_view strip_counters(std::string_view line) {
  if (line.empty() || line.front() != '[') return line;
  const std::size_t close = line.find(']');
  if (close == std::string_view::npos) return line;
  line.remove_prefix(close + 1);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  return line;
}

}  // namespace

Expected<IptablesRuleset> parse_iptables_save(std::string_view text, Family family, IptBackend backend) {
  if (family != Family::inet && family != Family::inet6) {
    return Error{ErrorKind::input, 0, "iptables-save: the family must be IPv4 or IPv6"};
  }
  IptablesRuleset out;
  out.family = family;
  out.backend = backend;
  const std::string fam(family_name(family));

  std::string table;  // the open "*table" section; empty outside one
  std::size_t table_line = 0;
  std::set<std::string, std::less<>> declared;
  std::vector<PendingRule> pending;

  std::size_t line_no = 0;
  for (std::string_view line : split_lines(text)) {
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '*') {
      if (!table.empty()) {
        return parse_error(line_no, fmt::format("table {} starts before table {} has its COMMIT",
                                                escape_arg(line.substr(1)), table));
      }
      if (!known_table(line.substr(1))) {
        return parse_error(line_no, fmt::format("unknown table \"{}\"", escape_arg(line.substr(1))));
      }
      table = std::string(line.substr(1));
      table_line = line_no;
      declared.clear();
      pending.clear();
      continue;
    }
    if (table.empty()) {
      return parse_error(line_no, fmt::format("\"{}\" outside a table (no *filter, *nat, ... before it)",
                                              escape_arg(line)));
    }
    if (line.front() == ':') {
      const auto f = split_fields(line.substr(1));
      if (f.size() < 2 || f.size() > 3 || (f.size() == 3 && f[2].front() != '[')) {
        return parse_error(line_no, fmt::format("not a chain declaration: \"{}\"", escape_arg(line)));
      }
      FwChain c;
      c.family = fam;
      c.table = table;
      c.name = std::string(f[0]);
      const auto builtin = iptables_builtin_chain(table, c.name, backend);
      if (f[1] == "-") {
        if (builtin) return parse_error(line_no, fmt::format("built-in chain {} without a policy", c.name));
      } else {
        if (!builtin) {
          return parse_error(line_no, fmt::format("chain {} has a policy but is not built into table {}",
                                                  escape_arg(c.name), table));
        }
        if (f[1] != "ACCEPT" && f[1] != "DROP") {
          return parse_error(line_no, fmt::format("policy \"{}\": not ACCEPT or DROP", escape_arg(f[1])));
        }
        c.type = std::string(builtin->type);
        c.hook = std::string(builtin->hook);
        c.priority = builtin->priority;
        c.policy = f[1] == "ACCEPT" ? "accept" : "drop";
      }
      if (!declared.insert(c.name).second) {
        return parse_error(line_no, fmt::format("chain {} declared twice", escape_arg(c.name)));
      }
      out.chains.push_back(std::move(c));
      continue;
    }
    if (line == "COMMIT") {
      // Rules are decoded when every chain of the table is known (a jump
      // may name a chain declared after it in hand-written files).
      std::map<std::string, std::uint64_t> position;
      for (const PendingRule& p : pending) {
        FwRule r;
        r.family = fam;
        r.table = table;
        r.chain = p.chain;
        r.handle = ++position[p.chain];
        r.text = p.text;
        RuleDecoder(p.text, family, declared, r).decode();
        out.rules.push_back(std::move(r));
      }
      table.clear();
      pending.clear();
      continue;
    }
    const std::string_view rule_line = strip_counters(line);
    const auto f = split_fields(rule_line);
    if (f.size() >= 2 && (f[0] == "-A" || f[0] == "--append")) {
      if (!declared.contains(f[1])) {
        return parse_error(line_no, fmt::format("rule for chain \"{}\", which table {} does not declare",
                                                escape_arg(f[1]), table));
      }
      // The text after "-A CHAIN ", as iptables-save printed it.
      std::string_view rest = rule_line.substr(static_cast<std::size_t>(f[1].data() + f[1].size() - rule_line.data()));
      while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
      pending.push_back(PendingRule{line_no, std::string(f[1]), std::string(rest)});
      continue;
    }
    return parse_error(line_no, fmt::format("not an iptables-save line: \"{}\"", escape_arg(line)));
  }
  if (!table.empty()) {
    return parse_error(table_line, fmt::format("table {} has no COMMIT", table));
  }
  return out;
}

void merge_iptables(Firewall& fw, const IptablesRuleset& r) {
  const std::string fam(family_name(r.family));
  if (r.backend == IptBackend::nft) {
    // The same kernel tables nftables listed, with opaque xt expressions:
    // the decoded view replaces them.
    std::set<std::string> tables;
    for (const FwChain& c : r.chains) tables.insert(c.table);
    const auto same = [&](const std::string& family, const std::string& table) {
      return family == fam && tables.contains(table);
    };
    std::erase_if(fw.chains, [&](const FwChain& c) { return same(c.family, c.table); });
    std::erase_if(fw.rules, [&](const FwRule& x) { return same(x.family, x.table); });
  }
  for (FwChain c : r.chains) {
    c.table = iptables_table_name(c.table, r.backend);
    fw.chains.push_back(std::move(c));
  }
  for (FwRule x : r.rules) {
    x.table = iptables_table_name(x.table, r.backend);
    fw.rules.push_back(std::move(x));
  }
}

void apply_iptables(Firewall& fw) {
  bool legacy_v4 = false;
  bool legacy_v6 = false;
  for (const FwIptablesSave& save : fw.iptables) {
    const IptBackend backend = save.legacy ? IptBackend::legacy : IptBackend::nft;
    auto parsed = parse_iptables_save(save.text, save.family, backend);
    if (!parsed) continue;  // the opaque view stays, and with it "unknown"
    merge_iptables(fw, *parsed);
    if (save.legacy) (save.family == Family::inet ? legacy_v4 : legacy_v6) = true;
  }
  // Legacy tables that were decoded are evaluated like the others.
  if (legacy_v4 || legacy_v6) {
    std::erase_if(fw.legacy_tables, [&](const std::string& t) {
      const bool v6 = t.rfind("ip6", 0) == 0;
      return v6 ? legacy_v6 : legacy_v4;
    });
  }
}

}  // namespace netwhy

