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

}  // namespace

struct FwEvaluator::Index {
  std::unordered_map<std::string, std::vector<const FwRule*>> rules;  // by chain, in order
  std::unordered_map<std::string, const FwChain*> chains;
  std::vector<const FwChain*> bases;  // every base chain, by priority
};

namespace {

class Eval {
 public:
  Eval(const Firewall& fw, const FwEvaluator::Index& ix, const FwPacket& p)
      : fw_(fw), ix_(ix), p_(p), mark_(p.mark), ct_mark_(p.ct_mark), chain_budget_(64 * ix.chains.size() + 4096) {}

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

  // Filter chains decide accept/drop/reject; nat chains also stop at the
  // first dnat or redirect.
  enum class Mode { filter, nat };
  enum class Flow { fall_through, returned, decided };

  struct ChainResult {
    Flow flow = Flow::fall_through;
    FwResult result;
    const FwRule* nat = nullptr;  // the dnat/redirect that decided (nat mode)
    std::optional<std::uint32_t> mark, ct_mark;  // as the chain leaves them
  };

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
  MemoKey memo_key(const FwChain* chain) const { return {chain, mark_, ct_mark_}; }

  ChainResult unknown(const FwRule* r, std::string why) const {
    ChainResult out;
    out.flow = Flow::decided;
    out.result.decision = FwDecision::unknown;
    if (r != nullptr) out.result.rule = *r;
    out.result.why = std::move(why);
    return out;
  }

  // One chain's result for this packet and these marks, computed once: a
  // chain reached by a hundred jumps answers the same each time.
  ChainResult run(const FwChain& chain, Mode mode) {
    const MemoKey key = memo_key(&chain);
    if (const auto it = memo_.find(key); it != memo_.end()) {
      mark_ = it->second.mark;
      ct_mark_ = it->second.ct_mark;
      return it->second;
    }
    if (!active_.insert(&chain).second) return unknown(nullptr, "its chains jump in a loop");
    ChainResult out = run_rules(chain, mode);
    active_.erase(&chain);
    out.mark = mark_;
    out.ct_mark = ct_mark_;
    memo_.emplace(key, out);
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
    const auto rules = ix_.rules.find(ChainKey::of(chain.family, chain.table, chain.name));
    if (rules == ix_.rules.end()) return out;
    if (++chain_runs_ > chain_budget_) {
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
    for (const FwRule* rp : rules->second) {
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
          out.result.rule = r;
          return settle(std::move(out));
        case FwVerdict::dnat:
        case FwVerdict::redirect:
          out.flow = Flow::decided;
          out.result.decision = FwDecision::accept;
          out.result.rule = r;
          out.nat = &r;
          return settle(std::move(out));
        case FwVerdict::jump:
        case FwVerdict::go_to: {
          const auto target = ix_.chains.find(ChainKey::of(chain.family, chain.table, r.target));
          if (target == ix_.chains.end()) return fail(&r, "it jumps to a chain the listing does not have");
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
    FwResult out = hook_chains(hook_name);
    out.mark = mark_;
    out.ct_mark = ct_mark_;
    return out;
  }

  FwResult hook_chains(std::string_view hook_name) {
    FwResult last;  // accepted by every base chain
    last.hook = std::string(hook_name);
    for (const FwChain* base : ix_.bases) {
      if (!hooked_here(*base, hook_name) || (base->type != "filter" && base->type != "route")) continue;
      if (hook_name == "ingress" && base->devices.empty()) {
        FwResult r;  // an ingress chain whose device the listing did not say
        r.decision = FwDecision::unknown;
        r.chain = *base;
        r.hook = "ingress";
        r.why = "the interface its ingress chain hooks is not known";
        return r;
      }
      ChainResult r = run(*base, Mode::filter);
      if (r.flow != Flow::decided) {  // the policy decides
        r.result = FwResult{};
        r.result.chain = *base;
        r.result.decision = base->policy == "drop" ? FwDecision::drop : FwDecision::accept;
      } else if (!r.result.chain) {
        r.result.chain = *base;
      }
      r.result.hook = std::string(hook_name);
      if (r.result.decision != FwDecision::accept) return r.result;
      last = r.result;
    }
    return last;
  }

  FwEvaluator::Nat nat(std::string_view hook_name) {
    FwEvaluator::Nat out = nat_chains(hook_name);
    out.mark = mark_;
    out.ct_mark = ct_mark_;
    return out;
  }

  FwEvaluator::Nat nat_chains(std::string_view hook_name) {
    FwEvaluator::Nat out;
    for (const FwChain* base : ix_.bases) {
      if (!hooked_here(*base, hook_name) || base->type != "nat") continue;
      memo_.clear();  // nat mode: other results than the filter pass
      ChainResult r = run(*base, Mode::nat);
      if (r.flow != Flow::decided) continue;  // no NAT in this chain (its policy is accept)
      r.result.hook = std::string(hook_name);
      if (!r.result.chain) r.result.chain = *base;
      if (r.nat != nullptr) {
        FwForward f;
        f.rule = *r.nat;
        f.to = r.nat->verdict == FwVerdict::redirect || !r.nat->nat_addr ? p_.daddr : *r.nat->nat_addr;
        f.port = r.nat->nat_port.value_or(p_.dport);
        out.forward = std::move(f);
        return out;
      }
      if (r.result.decision != FwDecision::accept) {
        out.stop = std::move(r.result);
        return out;
      }
      // accept in a nat chain: no NAT from this chain; later ones still run
    }
    return out;
  }

 private:
  const Firewall& fw_;
  const FwEvaluator::Index& ix_;
  const FwPacket& p_;
  std::optional<std::uint32_t> mark_, ct_mark_;  // as the rules so far left them
  std::unordered_map<MemoKey, ChainResult, MemoHash> memo_;
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
  for (const FwRule& r : fw.rules) ix->rules[ChainKey::of(r.family, r.table, r.chain)].push_back(&r);
  index_ = std::move(ix);
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
  out = Eval(fw_, *index_, p).hook(hook);
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
  return Eval(fw_, *index_, p).nat(hook);
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
