// A packet's path through the nftables hooks, three-valued: each match is
// true, false or unknown, and an unknown match on a rule that could decide
// makes the whole answer unknown.
#include <fnmatch.h>

#include <algorithm>
#include <array>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "netwhy/firewall.hpp"

namespace netwhy {

namespace {

enum class Tri { no, yes, unknown };

Tri tri(bool b) { return b ? Tri::yes : Tri::no; }

bool family_applies(const std::string& chain_family, Family f) {
  if (chain_family == "inet") return true;
  if (chain_family == "ip") return f == Family::inet;
  if (chain_family == "ip6") return f == Family::inet6;
  return false;  // arp, bridge, netdev: not on the IP input path
}

// An interface index in a rule (any 64-bit number) against the packet's:
// 2^32+1 is not index 1.
bool same_index(std::uint64_t rule_value, int ifindex) {
  return ifindex >= 0 && rule_value == static_cast<std::uint64_t>(ifindex);
}

// Compare the first `bits` bits.
bool same_prefix(const IpAddr& a, const IpAddr& b, unsigned bits) {
  if (a.family != b.family) return false;
  for (unsigned i = 0; i < bits; ++i) {
    const unsigned mask = 0x80U >> (i % 8);
    if ((a.bytes[i / 8] & mask) != (b.bytes[i / 8] & mask)) return false;
  }
  return true;
}

bool addr_le(const IpAddr& a, const IpAddr& b) {
  return std::lexicographical_compare(a.bytes.begin(), a.bytes.begin() + static_cast<long>(a.size()), b.bytes.begin(),
                                      b.bytes.begin() + static_cast<long>(b.size())) ||
         a == b;
}

// Rules by chain, base chains by hook: built once per ruleset.
struct ChainKey {
  static std::string of(const std::string& family, const std::string& table, const std::string& name) {
    std::string k;
    k.reserve(family.size() + table.size() + name.size() + 2);
    k.append(family).push_back('\0');
    k.append(table).push_back('\0');
    k.append(name);
    return k;
  }
};

// Filter chains decide accept/drop/reject; nat chains also stop at the
// first dnat or redirect.
enum class Mode { filter, nat };
enum class Flow { fall_through, returned, decided };

// A result inside the evaluation: pointers into the ruleset, copied into
// an FwResult once, when the hook's answer leaves the evaluator (a chain's
// result is kept per marks, and passed up through every jump).
struct Outcome {
  FwDecision decision = FwDecision::accept;
  const FwRule* rule = nullptr;
  const FwChain* chain = nullptr;
  std::string why;
};

FwResult to_result(const Outcome& o, std::string_view hook_name) {
  FwResult r;
  r.decision = o.decision;
  if (o.rule != nullptr) r.rule = *o.rule;
  if (o.chain != nullptr) r.chain = *o.chain;
  r.why = o.why;
  r.hook = std::string(hook_name);
  return r;
}

struct ChainResult {
  Flow flow = Flow::fall_through;
  Outcome result;
  const FwRule* nat = nullptr;  // the dnat/redirect that decided (nat mode)
  std::optional<std::uint32_t> mark, ct_mark;  // as the chain leaves them
};

// A chain's memo key: the chain and the marks it is entered with.
struct MemoKey {
  const FwChain* chain;
  std::optional<std::uint32_t> mark, ct_mark;
  bool operator==(const MemoKey&) const = default;
};
struct MemoHash {
  std::size_t operator()(const MemoKey& k) const {
    const auto code = [](const std::optional<std::uint32_t>& m) { return m ? std::uint64_t{*m} : 1ULL << 32; };
    return std::hash<const void*>()(k.chain) ^ std::hash<std::uint64_t>()(code(k.mark) * 0x9e3779b97f4a7c15ULL) ^
           (std::hash<std::uint64_t>()(code(k.ct_mark)) << 1);
  }
};

using ChainMemo = std::unordered_map<MemoKey, ChainResult, MemoHash>;

// What a hook's base chains decided, in pointers: for a filter hook, the
// decision; for a nat hook, the rule that rewrote the destination, or a stop.
struct HookOutcome {
  Outcome result;
  const FwRule* nat = nullptr;
  bool stop = false;
  std::optional<std::uint32_t> mark, ct_mark;  // as the hook leaves them
};

}  // namespace

struct FwEvaluator::Index {
  std::unordered_map<std::string, std::vector<const FwRule*>> rules;  // by chain, in order
  std::unordered_map<std::string, const FwChain*> chains;
  std::vector<const FwChain*> bases;  // every base chain, by priority
  std::unordered_map<std::string, std::vector<const FwChain*>> bases_by_hook;  // the same, per hook
  // The same, by pointer: no key built per chain run or per jump.
  std::unordered_map<const FwChain*, const std::vector<const FwRule*>*> rules_of;
  std::unordered_map<const FwRule*, const FwChain*> target_of;  // jump/goto: the chain, when listed
  // Chains whose result may depend on the packet's addresses: a rule of
  // theirs, or of a chain they jump or go to, matches an address.
  std::unordered_set<const FwChain*> reads_addresses;
  std::unordered_set<std::string> hooks_reading_addresses;  // with a base chain that does
};

// Results of chains that read no address, shared by every packet that
// differs from another only in its addresses (one per address of the host):
// by the rest of the packet and the mode, then by chain and marks. A
// ruleset of R rules then costs R per kind of packet, not R per address.
struct FwEvaluator::Memo {
  std::unordered_map<std::string, ChainMemo> chains;
  std::unordered_map<std::string, HookOutcome> hooks;  // and the hook name and marks, for whole hooks
};

namespace {

class Eval {
 public:
  Eval(const Firewall& fw, const FwEvaluator::Index& ix, FwEvaluator::Memo& shared, const FwPacket& p)
      : fw_(fw),
        ix_(ix),
        shared_(shared),
        p_(p),
        mark_(p.mark),
        ct_mark_(p.ct_mark),
        chain_budget_(64 * ix.chains.size() + 4096) {}

  // Does one value match the packet's field? An address prefix against a
  // source that is itself a prefix (a client anywhere on a network) may
  // only partly overlap: unknown.
  Tri value_matches(const FwMatch& m, const FwValue& v, const std::string& table, const std::string& family) const {
    const FwKey key = m.key;
    switch (key) {
      case FwKey::iifname:
        if (v.kind != FwValue::Kind::text) return Tri::unknown;
        return tri(fnmatch(v.text.c_str(), p_.iifname.c_str(), 0) == 0);
      case FwKey::iif:
        if (v.kind == FwValue::Kind::text) return tri(v.text == p_.iifname);
        if (v.kind == FwValue::Kind::number) return tri(same_index(v.number, p_.iif));
        return Tri::unknown;
      case FwKey::oifname:
        if (v.kind != FwValue::Kind::text || p_.oifname.empty()) return Tri::unknown;
        return tri(fnmatch(v.text.c_str(), p_.oifname.c_str(), 0) == 0);
      case FwKey::oif:
        if (p_.oifname.empty()) return Tri::unknown;
        if (v.kind == FwValue::Kind::text) return tri(v.text == p_.oifname);
        if (v.kind == FwValue::Kind::number) return tri(same_index(v.number, p_.oif));
        return Tri::unknown;
      case FwKey::l4proto: {
        const unsigned proto = p_.protocol == Protocol::tcp ? 6 : 17;
        if (v.kind == FwValue::Kind::number) return tri(v.number == proto);
        if (v.kind == FwValue::Kind::text) return tri(v.text == (p_.protocol == Protocol::tcp ? "tcp" : "udp"));
        return Tri::unknown;
      }
      case FwKey::nfproto:
        if (v.kind != FwValue::Kind::text) return Tri::unknown;
        return tri(v.text == (p_.family == Family::inet ? "ipv4" : "ipv6"));
      case FwKey::dport:
        if (!p_.dport_known) return Tri::unknown;  // a reply's destination: the client's own port
        return port_matches(m, v, p_.dport, table, family);
      case FwKey::sport:
        if (!p_.sport) return Tri::unknown;  // the client's port is its own choice
        return port_matches(m, v, *p_.sport, table, family);
      case FwKey::daddr:
        return addr_matches(m, v, p_.daddr, p_.daddr_len.value_or(p_.daddr.bits()), table, family);
      case FwKey::saddr:
        return addr_matches(m, v, p_.saddr, p_.saddr_len, table, family);
      case FwKey::ct_state:
        // A new connection's first packet is "new"; its replies are "established".
        if (v.kind != FwValue::Kind::text) return Tri::unknown;
        return tri(v.text == (p_.reply ? "established" : "new"));
      case FwKey::ct_status:
        if (v.kind != FwValue::Kind::text) return Tri::unknown;
        if (v.text == "dnat") return tri(p_.dnat);
        if (v.text == "snat") return Tri::no;  // a client's packet: not source-translated here
        return Tri::unknown;
      case FwKey::fib_daddr_type:
        if (v.kind != FwValue::Kind::text) return Tri::unknown;
        if (v.text == "local") return tri(p_.daddr_local);
        if (v.text == "unicast") return tri(!p_.daddr_local);
        return Tri::no;  // broadcast, multicast, ...: not a connection to a server
      case FwKey::meta_mark:
      case FwKey::ct_mark: {
        if (v.kind == FwValue::Kind::set_ref) return set_matches(m, v.text, table, family);
        const std::optional<std::uint32_t>& mark = key == FwKey::meta_mark ? mark_ : ct_mark_;
        if (!mark) return Tri::unknown;  // set earlier by a statement netwhy could not follow
        const std::uint32_t have = *mark & m.mask;
        if (v.kind == FwValue::Kind::number) return tri(have == v.number);
        if (v.kind == FwValue::Kind::range && v.text.empty()) return tri(v.number <= have && have <= v.number_hi);
        return Tri::unknown;
      }
      case FwKey::concat: {
        if (v.kind == FwValue::Kind::set_ref) return set_matches(m, v.text, table, family);
        if (v.kind != FwValue::Kind::concat || v.parts.size() != m.parts.size()) return Tri::unknown;
        Tri all = Tri::yes;  // every field matches its part of the value
        for (std::size_t i = 0; i < m.parts.size(); ++i) {
          const Tri t = value_matches(m.parts[i], v.parts[i], table, family);
          if (t == Tri::no) return Tri::no;
          if (t == Tri::unknown) all = Tri::unknown;
        }
        return all;
      }
      case FwKey::unknown:
        return Tri::unknown;
    }
    return Tri::unknown;
  }

  Tri port_matches(const FwMatch& m, const FwValue& v, std::uint16_t port, const std::string& table,
                   const std::string& family) const {
    if (v.kind == FwValue::Kind::number) return tri(v.number == port);
    if (v.kind == FwValue::Kind::range && v.text.empty()) return tri(v.number <= port && port <= v.number_hi);
    if (v.kind == FwValue::Kind::set_ref) return set_matches(m, v.text, table, family);
    return Tri::unknown;
  }

  Tri addr_matches(const FwMatch& m, const FwValue& v, const IpAddr& a, unsigned a_len, const std::string& table,
                   const std::string& family) const {
    if (v.kind == FwValue::Kind::set_ref) return set_matches(m, v.text, table, family);
    if (a_len == 0 && a.is_unspecified()) return Tri::unknown;  // the source could be anything
    switch (v.kind) {
      case FwValue::Kind::address:
        if (v.addr.family != a.family) return Tri::no;
        if (a_len == a.bits()) return tri(v.addr == a);
        return same_prefix(v.addr, a, a_len) ? Tri::unknown : Tri::no;  // one host of the client's network
      case FwValue::Kind::prefix: {
        if (v.addr.family != a.family) return Tri::no;
        const unsigned common = std::min(v.prefix_len, a_len);
        if (!same_prefix(v.addr, a, common)) return Tri::no;
        return v.prefix_len <= a_len ? Tri::yes : Tri::unknown;
      }
      case FwValue::Kind::range:
        if (v.text != "address" || v.addr.family != a.family) return Tri::unknown;
        if (a_len != a.bits()) return Tri::unknown;
        return tri(addr_le(v.addr, a) && addr_le(a, v.addr_hi));
      default:
        return Tri::unknown;
    }
  }

  Tri set_matches(const FwMatch& m, const std::string& name, const std::string& table,
                  const std::string& family) const {
    for (const FwSet& s : fw_.sets) {
      if (s.name != name || s.table != table || s.family != family) continue;
      if (!s.complete) return Tri::unknown;  // elements netwhy could not read
      Tri any = Tri::no;
      for (const FwValue& e : s.elements) {
        const Tri t = value_matches(m, e, table, family);
        if (t == Tri::yes) return Tri::yes;
        if (t == Tri::unknown) any = Tri::unknown;
      }
      return any;
    }
    return Tri::unknown;  // a set the listing did not show (maps, verdict maps...)
  }

  // A payload match implies its protocol: "tcp dport 80" is false for UDP,
  // "ip saddr" false for IPv6, "icmpv6 type ..." false for TCP, whatever
  // the rest of the match says.
  bool other_protocol(const std::string& proto) const {
    static constexpr std::array<std::string_view, 9> other_l4{"icmp", "icmpv6", "sctp", "dccp", "udplite",
                                                              "esp",  "ah",     "igmp", "gre"};
    return (proto == "tcp" && p_.protocol != Protocol::tcp) || (proto == "udp" && p_.protocol != Protocol::udp) ||
           (proto == "ip" && p_.family != Family::inet) || (proto == "ip6" && p_.family != Family::inet6) ||
           std::find(other_l4.begin(), other_l4.end(), proto) != other_l4.end();
  }

  Tri match(const FwMatch& m, const FwRule& r) const {
    if (other_protocol(m.proto)) return Tri::no;
    for (const FwMatch& part : m.parts) {
      if (other_protocol(part.proto)) return Tri::no;
    }
    if (m.key == FwKey::unknown) return Tri::unknown;
    Tri any = Tri::no;
    for (const FwValue& v : m.values) {
      const Tri t = value_matches(m, v, r.table, r.family);
      if (t == Tri::yes) {
        any = Tri::yes;
        break;
      }
      if (t == Tri::unknown) any = Tri::unknown;
    }
    if (m.op == "==" || m.op == "in") return any;
    if (m.op == "!=") return any == Tri::unknown ? Tri::unknown : tri(any == Tri::no);
    return Tri::unknown;  // <, >, bitwise: not evaluated
  }

  Tri rule_matches(const FwRule& r) const {
    Tri all = Tri::yes;
    for (const FwMatch& m : r.matches) {
      const Tri t = match(m, r);
      if (t == Tri::no) return Tri::no;
      if (t == Tri::unknown) all = Tri::unknown;
    }
    return all;
  }

  // The marks after a rule that matched (yes) or may have (unknown: then
  // every mark it sets is unknown).
  void set_marks(const FwRule& r, Tri m) {
    for (const FwMarkSet& s : r.marks) {
      std::optional<std::uint32_t>& target = s.ct ? ct_mark_ : mark_;
      if (m != Tri::yes || !s.known) {
        target.reset();
        continue;
      }
      const std::optional<std::uint32_t> source = s.source == FwMarkSet::Source::constant ? std::optional<std::uint32_t>(0)
                                                  : s.source == FwMarkSet::Source::meta   ? mark_
                                                                                          : ct_mark_;
      target = source ? std::optional<std::uint32_t>((*source & s.keep) ^ s.flip) : std::nullopt;
    }
  }

  MemoKey memo_key(const FwChain* chain) const { return {chain, mark_, ct_mark_}; }

  ChainResult unknown(const FwRule* r, std::string why) const {
    ChainResult out;
    out.flow = Flow::decided;
    out.result.decision = FwDecision::unknown;
    out.result.rule = r;
    out.result.why = std::move(why);
    return out;
  }

  // One chain's result for this packet and these marks, computed once: a
  // chain reached by a hundred jumps answers the same each time.
  // A chain that reads no address answers the same for every address of
  // the host: that result is shared with the other packets' evaluations,
  // unless it came from a jump loop or the budget (they depend on the path).
  ChainResult run(const FwChain& chain, Mode mode) {
    const MemoKey key = memo_key(&chain);
    if (const auto it = memo_.find(key); it != memo_.end()) {
      mark_ = it->second.mark;
      ct_mark_ = it->second.ct_mark;
      return it->second;
    }
    ChainMemo* shared = ix_.reads_addresses.contains(&chain) ? nullptr : &shared_for(mode);
    if (shared != nullptr) {
      if (const auto it = shared->find(key); it != shared->end()) {
        mark_ = it->second.mark;
        ct_mark_ = it->second.ct_mark;
        memo_.emplace(key, it->second);
        return it->second;
      }
    }
    if (!active_.insert(&chain).second) {
      ++path_dependent_;
      return unknown(nullptr, "its chains jump in a loop");
    }
    const std::size_t path_dependent_before = path_dependent_;
    ChainResult out = run_rules(chain, mode);
    active_.erase(&chain);
    out.mark = mark_;
    out.ct_mark = ct_mark_;
    memo_.emplace(key, out);
    if (shared != nullptr && path_dependent_ == path_dependent_before) shared->emplace(key, out);
    return out;
  }


  static std::optional<std::uint32_t> agree(const std::optional<std::uint32_t>& a,
                                            const std::optional<std::uint32_t>& b) {
    return a == b ? a : std::nullopt;
  }

  static FwDecision decision_of(FwVerdict v) {
    return v == FwVerdict::accept ? FwDecision::accept : v == FwVerdict::drop ? FwDecision::drop : FwDecision::reject;
  }

  // One pass over the chain's rules. A rule that may or may not match (one
  // client of the network, say) and would decide is kept aside: if what
  // follows decides the same either way (in a base chain, its policy too),
  // so does the chain, with the marks both ways agree on; else unknown.
  ChainResult run_rules(const FwChain& chain, Mode mode) {
    ChainResult out;
    const auto rules = ix_.rules_of.find(&chain);
    if (rules == ix_.rules_of.end()) return out;
    if (++chain_runs_ > chain_budget_) {
      ++path_dependent_;
      return unknown(nullptr, "its chains set marks on so many paths that netwhy stops following them");
    }
    struct Maybe {
      const FwRule* rule = nullptr;
      FwDecision decision = FwDecision::accept;
      std::optional<std::uint32_t> mark, ct_mark;  // had it matched
    };
    std::optional<Maybe> maybe;
    const auto fail = [&](const FwRule* r, std::string why) {
      return maybe ? unknown(maybe->rule, "it matches on something netwhy does not evaluate")
                   : unknown(r, std::move(why));
    };
    const auto settle = [&](ChainResult result) {
      if (!maybe) return result;
      std::optional<FwDecision> d;
      if (result.flow == Flow::decided) {
        if (result.nat == nullptr) d = result.result.decision;
      } else if (!chain.hook.empty() && mode == Mode::filter) {  // what falls through meets the policy
        d = chain.policy == "drop" ? FwDecision::drop : FwDecision::accept;
      }
      if (d != maybe->decision) return unknown(maybe->rule, "it matches on something netwhy does not evaluate");
      mark_ = agree(mark_, maybe->mark);
      ct_mark_ = agree(ct_mark_, maybe->ct_mark);
      return result;
    };
    for (const FwRule* rp : *rules->second) {
      const FwRule& r = *rp;
      const Tri m = rule_matches(r);
      if (m == Tri::no) continue;
      set_marks(r, m);
      const bool nat_verdict = r.verdict == FwVerdict::dnat || r.verdict == FwVerdict::redirect;
      const bool deciding = (r.verdict != FwVerdict::none && (mode == Mode::nat || !nat_verdict)) ||
                            !r.not_understood.empty();
      if (!deciding) continue;  // counters, logs; a dnat outside nat chains
      const bool terminal =
          r.verdict == FwVerdict::accept || r.verdict == FwVerdict::drop || r.verdict == FwVerdict::reject;
      if (m == Tri::unknown && terminal && r.not_understood.empty()) {
        const FwDecision mine = decision_of(r.verdict);
        if (!maybe) {
          maybe = Maybe{&r, mine, mark_, ct_mark_};
        } else if (maybe->decision != mine) {
          return unknown(maybe->rule, "it matches on something netwhy does not evaluate");
        } else {
          maybe->mark = agree(maybe->mark, mark_);
          maybe->ct_mark = agree(maybe->ct_mark, ct_mark_);
        }
        continue;
      }
      if (m == Tri::unknown || !r.not_understood.empty() || r.verdict == FwVerdict::other) {
        return fail(&r, !r.not_understood.empty() ? "it uses " + r.not_understood
                                                  : "it matches on something netwhy does not evaluate");
      }
      switch (r.verdict) {
        case FwVerdict::accept:
        case FwVerdict::drop:
        case FwVerdict::reject:
          out.flow = Flow::decided;
          out.result.decision = decision_of(r.verdict);
          out.result.rule = &r;
          return settle(std::move(out));
        case FwVerdict::dnat:
        case FwVerdict::redirect:
          out.flow = Flow::decided;
          out.result.decision = FwDecision::accept;
          out.result.rule = &r;
          out.nat = &r;
          return settle(std::move(out));
        case FwVerdict::jump:
        case FwVerdict::go_to: {
          const auto target = ix_.target_of.find(&r);
          if (target == ix_.target_of.end()) return fail(&r, "it jumps to a chain the listing does not have");
          ChainResult sub = run(*target->second, mode);
          if (sub.flow == Flow::decided) return settle(std::move(sub));
          if (r.verdict == FwVerdict::go_to) {  // goto does not come back here
            out.flow = Flow::returned;
            return settle(std::move(out));
          }
          continue;
        }
        case FwVerdict::ret:
          out.flow = Flow::returned;
          return settle(std::move(out));
        case FwVerdict::none:
        case FwVerdict::other:
          continue;
      }
    }
    return settle(std::move(out));
  }

  bool hooked_here(const FwChain& c, std::string_view hook_name) const {
    if (c.hook != hook_name) return false;
    if (hook_name == "ingress") {  // netdev (or inet) ingress: the arrival interface's chains
      if (c.family != "netdev" && c.family != "inet") return false;
      if (c.family == "inet" && !family_applies(c.family, p_.family)) return false;
      return c.devices.empty() ||
             std::find(c.devices.begin(), c.devices.end(), p_.iifname) != c.devices.end();
    }
    return family_applies(c.family, p_.family);
  }

  FwResult hook(std::string_view hook_name) {
    const HookOutcome o = hook_outcome(hook_name, Mode::filter);
    FwResult out = to_result(o.result, hook_name);
    out.mark = mark_;
    out.ct_mark = ct_mark_;
    return out;
  }

  FwEvaluator::Nat nat(std::string_view hook_name) {
    const HookOutcome o = hook_outcome(hook_name, Mode::nat);
    FwEvaluator::Nat out;
    if (o.nat != nullptr) {
      FwForward f;
      f.rule = *o.nat;
      f.to = o.nat->verdict == FwVerdict::redirect || !o.nat->nat_addr ? p_.daddr : *o.nat->nat_addr;
      f.port = o.nat->nat_port.value_or(p_.dport);
      out.forward = std::move(f);
    } else if (o.stop) {
      out.stop = to_result(o.result, hook_name);
    }
    out.mark = mark_;
    out.ct_mark = ct_mark_;
    return out;
  }

 private:
  const std::vector<const FwChain*>& bases_of(std::string_view hook_name) const {
    static const std::vector<const FwChain*> none;
    const auto it = ix_.bases_by_hook.find(std::string(hook_name));
    return it == ix_.bases_by_hook.end() ? none : it->second;
  }

  // The packet but for its addresses (and its marks): what a chain that
  // reads no address sees.
  std::string packet_key(Mode mode) const {
    std::string k;
    k.reserve(48 + p_.iifname.size() + p_.oifname.size());
    const auto put = [&](auto v) { k.append(reinterpret_cast<const char*>(&v), sizeof v); };
    put(static_cast<int>(mode));
    put(static_cast<int>(p_.family));
    put(static_cast<int>(p_.protocol));
    put(p_.dport);
    put(p_.sport ? int{*p_.sport} : -1);
    put(static_cast<unsigned>(p_.dport_known) | static_cast<unsigned>(p_.reply) << 1 |
        static_cast<unsigned>(p_.daddr_local) << 2 | static_cast<unsigned>(p_.dnat) << 3);
    put(p_.iif);
    put(p_.oif);
    put(p_.iifname.size());
    k += p_.iifname;
    k += p_.oifname;
    return k;
  }

  // The shared chain results for packets like this one but for their addresses.
  ChainMemo& shared_for(Mode mode) {
    ChainMemo*& here = mode == Mode::filter ? shared_filter_ : shared_nat_;
    if (here == nullptr) here = &shared_.chains[packet_key(mode)];
    return *here;
  }

  // A hook whose base chains read no address decides the same for every
  // address: its outcome is shared like a chain's.
  HookOutcome hook_outcome(std::string_view hook_name, Mode mode) {
    if (bases_of(hook_name).empty()) {  // nothing hooked there: nothing to share
      HookOutcome none;
      none.mark = mark_;
      none.ct_mark = ct_mark_;
      return none;
    }
    const bool shareable = !ix_.hooks_reading_addresses.contains(std::string(hook_name));
    std::string key;
    if (shareable) {
      const auto code = [](const std::optional<std::uint32_t>& m) { return m ? std::int64_t{*m} : -1; };
      key = packet_key(mode);
      for (const std::int64_t m : {code(mark_), code(ct_mark_)}) key.append(reinterpret_cast<const char*>(&m), sizeof m);
      key += hook_name;
      if (const auto it = shared_.hooks.find(key); it != shared_.hooks.end()) {
        mark_ = it->second.mark;
        ct_mark_ = it->second.ct_mark;
        return it->second;
      }
    }
    const std::size_t path_dependent_before = path_dependent_;
    HookOutcome o = mode == Mode::filter ? filter_chains(hook_name) : nat_chains(hook_name);
    o.mark = mark_;
    o.ct_mark = ct_mark_;
    if (shareable && path_dependent_ == path_dependent_before) shared_.hooks.emplace(std::move(key), o);
    return o;
  }

  HookOutcome filter_chains(std::string_view hook_name) {
    HookOutcome last;  // accepted by every base chain
    for (const FwChain* base : bases_of(hook_name)) {
      if (!hooked_here(*base, hook_name) || (base->type != "filter" && base->type != "route")) continue;
      if (hook_name == "ingress" && base->devices.empty()) {
        HookOutcome r;  // an ingress chain whose device the listing did not say
        r.result.decision = FwDecision::unknown;
        r.result.chain = base;
        r.result.why = "the interface its ingress chain hooks is not known";
        return r;
      }
      ChainResult r = run(*base, Mode::filter);
      if (r.flow != Flow::decided) {  // the policy decides
        r.result = Outcome{};
        r.result.decision = base->policy == "drop" ? FwDecision::drop : FwDecision::accept;
      }
      r.result.chain = base;
      last.result = std::move(r.result);
      if (last.result.decision != FwDecision::accept) return last;
    }
    return last;
  }

  HookOutcome nat_chains(std::string_view hook_name) {
    HookOutcome out;
    for (const FwChain* base : bases_of(hook_name)) {
      if (!hooked_here(*base, hook_name) || base->type != "nat") continue;
      memo_.clear();  // nat mode: other results than the filter pass
      ChainResult r = run(*base, Mode::nat);
      if (r.flow != Flow::decided) continue;  // no NAT in this chain (its policy is accept)
      r.result.chain = base;
      if (r.nat != nullptr) {
        out.nat = r.nat;
        return out;
      }
      if (r.result.decision != FwDecision::accept) {
        out.result = std::move(r.result);
        out.stop = true;
        return out;
      }
      // accept in a nat chain: no NAT from this chain; later ones still run
    }
    return out;
  }

  const Firewall& fw_;
  const FwEvaluator::Index& ix_;
  FwEvaluator::Memo& shared_;
  ChainMemo* shared_filter_ = nullptr;
  ChainMemo* shared_nat_ = nullptr;
  std::size_t path_dependent_ = 0;  // results from a loop or past the budget so far
  const FwPacket& p_;
  std::optional<std::uint32_t> mark_, ct_mark_;  // as the rules so far left them
  ChainMemo memo_;
  // Chains run (memo misses): each chain once per set of marks it is entered
  // with. Marks flipped on many paths could multiply those; past the budget
  // the answer is unknown instead of exponential work.
  std::size_t chain_runs_ = 0;
  std::size_t chain_budget_ = 0;
  std::unordered_set<const FwChain*> active_;
};

}  // namespace

FwEvaluator::FwEvaluator(const Firewall& fw) : fw_(fw) {
  auto ix = std::make_shared<Index>();
  for (const FwChain& c : fw.chains) {
    ix->chains.emplace(ChainKey::of(c.family, c.table, c.name), &c);
    if (!c.hook.empty()) ix->bases.push_back(&c);
  }
  std::stable_sort(ix->bases.begin(), ix->bases.end(),
                   [](const FwChain* a, const FwChain* b) { return a->priority < b->priority; });
  for (const FwChain* c : ix->bases) ix->bases_by_hook[c->hook].push_back(c);
  for (const FwRule& r : fw.rules) ix->rules[ChainKey::of(r.family, r.table, r.chain)].push_back(&r);
  for (const FwChain& c : fw.chains) {
    if (const auto it = ix->rules.find(ChainKey::of(c.family, c.table, c.name)); it != ix->rules.end()) {
      ix->rules_of.emplace(&c, &it->second);
    }
  }
  for (const FwRule& r : fw.rules) {
    if (r.verdict != FwVerdict::jump && r.verdict != FwVerdict::go_to) continue;
    // A rule runs in its own chain: the target is in the rule's table.
    if (const auto it = ix->chains.find(ChainKey::of(r.family, r.table, r.target)); it != ix->chains.end()) {
      ix->target_of.emplace(&r, it->second);
    }
  }
  // Which chains read addresses: those with a rule matching one, then every
  // chain that jumps or goes to such a chain (following the jumps backwards).
  const auto reads_address = [](const FwMatch& m) {
    const auto address = [](FwKey k) { return k == FwKey::saddr || k == FwKey::daddr; };
    return address(m.key) || std::any_of(m.parts.begin(), m.parts.end(), [&](const FwMatch& p) { return address(p.key); });
  };
  std::unordered_map<const FwChain*, std::vector<const FwChain*>> callers;
  std::vector<const FwChain*> todo;
  for (const auto& [chain, rules] : ix->rules_of) {
    bool direct = false;
    for (const FwRule* r : *rules) {
      direct = direct || std::any_of(r->matches.begin(), r->matches.end(), reads_address);
      if (const auto t = ix->target_of.find(r); t != ix->target_of.end()) callers[t->second].push_back(chain);
    }
    if (direct && ix->reads_addresses.insert(chain).second) todo.push_back(chain);
  }
  while (!todo.empty()) {
    const FwChain* c = todo.back();
    todo.pop_back();
    for (const FwChain* caller : callers[c]) {
      if (ix->reads_addresses.insert(caller).second) todo.push_back(caller);
    }
  }
  for (const FwChain* base : ix->bases) {
    if (ix->reads_addresses.contains(base)) ix->hooks_reading_addresses.insert(base->hook);
  }
  index_ = std::move(ix);
  memo_ = std::make_shared<Memo>();
}

FwResult FwEvaluator::hook(std::string_view hook, const FwPacket& p) const {
  FwResult out;
  out.hook = std::string(hook);
  out.mark = p.mark;
  out.ct_mark = p.ct_mark;
  if (!fw_.read) {
    out.decision = FwDecision::unknown;
    out.why = fw_.unreadable.empty() ? "the ruleset was not read" : fw_.unreadable;
    return out;
  }
  out = Eval(fw_, *index_, *memo_, p).hook(hook);
  if (out.decision == FwDecision::accept && !fw_.legacy_tables.empty()) {
    out.decision = FwDecision::unknown;
    out.why = "iptables-legacy tables exist, which nftables cannot show";
  }
  return out;
}

FwEvaluator::Nat FwEvaluator::nat(std::string_view hook, const FwPacket& p) const {
  if (!fw_.read) {
    Nat out;
    out.mark = p.mark;
    out.ct_mark = p.ct_mark;
    return out;
  }
  return Eval(fw_, *index_, *memo_, p).nat(hook);
}

FwResult evaluate_hook(const Firewall& fw, std::string_view hook, const FwPacket& p) {
  return FwEvaluator(fw).hook(hook, p);
}

std::optional<FwForward> find_port_forward(const Firewall& fw, std::string_view hook, const FwPacket& p) {
  return FwEvaluator(fw).nat(hook, p).forward;
}

std::vector<FwForward> port_forward_targets(const Firewall& fw) {
  std::vector<FwForward> out;
  for (const FwRule& r : fw.rules) {
    if (r.verdict != FwVerdict::dnat || !r.nat_addr) continue;
    FwForward f;
    f.rule = r;
    f.to = *r.nat_addr;
    f.port = r.nat_port.value_or(0);
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace netwhy
