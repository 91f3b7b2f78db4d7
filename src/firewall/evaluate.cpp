// A packet's path through the nftables hooks, three-valued: each match is
// true, false or unknown, and an unknown match on a rule that could decide
// makes the whole answer unknown.
#include <algorithm>
#include <fnmatch.h>

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

class Eval {
 public:
  Eval(const Firewall& fw, const FwPacket& p) : fw_(fw), p_(p) {}

  // Does one value match the packet's field? An address prefix against a
  // source that is itself a prefix (a client anywhere on a network) may
  // only partly overlap: unknown.
  Tri value_matches(FwKey key, const FwValue& v, const std::string& table, const std::string& family) const {
    switch (key) {
      case FwKey::iifname:
        if (v.kind != FwValue::Kind::text) return Tri::unknown;
        return tri(fnmatch(v.text.c_str(), p_.iifname.c_str(), 0) == 0);
      case FwKey::iif:
        if (v.kind == FwValue::Kind::text) return tri(v.text == p_.iifname);
        if (v.kind == FwValue::Kind::number) return tri(static_cast<int>(v.number) == p_.iif);
        return Tri::unknown;
      case FwKey::oif:
      case FwKey::oifname:
        return Tri::unknown;  // input has no output interface
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
        if (v.kind == FwValue::Kind::number) return tri(v.number == p_.dport);
        if (v.kind == FwValue::Kind::range && v.text.empty()) return tri(v.number <= p_.dport && p_.dport <= v.number_hi);
        if (v.kind == FwValue::Kind::set_ref) return set_matches(key, v.text, table, family);
        return Tri::unknown;
      case FwKey::sport:
        return Tri::unknown;  // the client's port is its own choice
      case FwKey::daddr:
        return addr_matches(v, p_.daddr, p_.daddr.bits(), table, family, key);
      case FwKey::saddr:
        return addr_matches(v, p_.saddr, p_.saddr_len, table, family, key);
      case FwKey::ct_state:
        // The first packet of a connection: state new, nothing else.
        if (v.kind != FwValue::Kind::text) return Tri::unknown;
        return tri(v.text == "new");
      case FwKey::unknown:
        return Tri::unknown;
    }
    return Tri::unknown;
  }

  Tri addr_matches(const FwValue& v, const IpAddr& a, unsigned a_len, const std::string& table,
                   const std::string& family, FwKey key) const {
    if (v.kind == FwValue::Kind::set_ref) return set_matches(key, v.text, table, family);
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

  Tri set_matches(FwKey key, const std::string& name, const std::string& table, const std::string& family) const {
    for (const FwSet& s : fw_.sets) {
      if (s.name != name || s.table != table || s.family != family) continue;
      Tri any = Tri::no;
      for (const FwValue& e : s.elements) {
        const Tri t = value_matches(key, e, table, family);
        if (t == Tri::yes) return Tri::yes;
        if (t == Tri::unknown) any = Tri::unknown;
      }
      return any;
    }
    return Tri::unknown;  // a set the listing did not show (maps, verdict maps...)
  }

  Tri match(const FwMatch& m, const FwRule& r) const {
    if (m.key == FwKey::unknown) return Tri::unknown;
    // A payload match implies its protocol: "tcp dport 80" is false for UDP,
    // "ip saddr" false for IPv6.
    if ((m.proto == "tcp" && p_.protocol != Protocol::tcp) || (m.proto == "udp" && p_.protocol != Protocol::udp) ||
        (m.proto == "ip" && p_.family != Family::inet) || (m.proto == "ip6" && p_.family != Family::inet6)) {
      return Tri::no;
    }
    Tri any = Tri::no;
    for (const FwValue& v : m.values) {
      const Tri t = value_matches(m.key, v, r.table, r.family);
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

  enum class Flow { fall_through, returned, decided };

  struct ChainResult {
    Flow flow = Flow::fall_through;
    FwResult result;
  };

  ChainResult run(const FwChain& chain, int depth) const {
    ChainResult out;
    if (depth > 16) {
      out.flow = Flow::decided;
      out.result.decision = FwDecision::unknown;
      out.result.why = "jumps nest deeper than 16 chains";
      return out;
    }
    for (const FwRule& r : fw_.rules) {
      if (r.family != chain.family || r.table != chain.table || r.chain != chain.name) continue;
      const Tri m = rule_matches(r);
      if (m == Tri::no) continue;
      const bool deciding = r.verdict != FwVerdict::none || !r.not_understood.empty();
      if (!deciding) continue;  // counters, logs
      if (m == Tri::unknown || !r.not_understood.empty() || r.verdict == FwVerdict::other) {
        out.flow = Flow::decided;
        out.result.decision = FwDecision::unknown;
        out.result.rule = r;
        out.result.why = !r.not_understood.empty() ? "it uses " + r.not_understood
                                                    : "it matches on something netwhy does not evaluate";
        return out;
      }
      switch (r.verdict) {
        case FwVerdict::accept:
        case FwVerdict::drop:
        case FwVerdict::reject:
          out.flow = Flow::decided;
          out.result.decision = r.verdict == FwVerdict::accept ? FwDecision::accept
                                : r.verdict == FwVerdict::drop ? FwDecision::drop
                                                                : FwDecision::reject;
          out.result.rule = r;
          return out;
        case FwVerdict::jump:
        case FwVerdict::go_to: {
          const FwChain* target = find_chain(chain.family, chain.table, r.target);
          if (target == nullptr) {
            out.flow = Flow::decided;
            out.result.decision = FwDecision::unknown;
            out.result.rule = r;
            out.result.why = "it jumps to a chain the listing does not have";
            return out;
          }
          ChainResult sub = run(*target, depth + 1);
          if (sub.flow == Flow::decided) return sub;
          if (r.verdict == FwVerdict::go_to) {  // goto does not come back here
            out.flow = Flow::returned;
            return out;
          }
          continue;
        }
        case FwVerdict::ret:
          out.flow = Flow::returned;
          return out;
        case FwVerdict::dnat:
        case FwVerdict::redirect:
        case FwVerdict::none:
        case FwVerdict::other:
          continue;
      }
    }
    return out;
  }

  const FwChain* find_chain(const std::string& family, const std::string& table, const std::string& name) const {
    for (const FwChain& c : fw_.chains) {
      if (c.family == family && c.table == table && c.name == name) return &c;
    }
    return nullptr;
  }

  FwResult hook(std::string_view hook_name) const {
    std::vector<const FwChain*> bases;
    for (const FwChain& c : fw_.chains) {
      if (c.hook == hook_name && c.type == "filter" && family_applies(c.family, p_.family)) bases.push_back(&c);
    }
    std::stable_sort(bases.begin(), bases.end(),
                     [](const FwChain* a, const FwChain* b) { return a->priority < b->priority; });
    FwResult last;  // accepted by every base chain
    for (const FwChain* base : bases) {
      ChainResult r = run(*base, 0);
      if (r.flow != Flow::decided) {  // the policy decides
        r.result = FwResult{};
        r.result.chain = *base;
        r.result.decision = base->policy == "drop" ? FwDecision::drop : FwDecision::accept;
      } else if (!r.result.chain) {
        r.result.chain = *base;
      }
      if (r.result.decision != FwDecision::accept) return r.result;
      last = r.result;
    }
    return last;
  }

 private:
  const Firewall& fw_;
  const FwPacket& p_;
};

}  // namespace

FwResult evaluate_hook(const Firewall& fw, std::string_view hook, const FwPacket& p) {
  FwResult out;
  if (!fw.read) {
    out.decision = FwDecision::unknown;
    out.why = fw.unreadable.empty() ? "the ruleset was not read" : fw.unreadable;
    return out;
  }
  out = Eval(fw, p).hook(hook);
  if (out.decision == FwDecision::accept && !fw.legacy_tables.empty()) {
    out.decision = FwDecision::unknown;
    out.why = "iptables-legacy tables exist, which nftables cannot show";
  }
  return out;
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

std::optional<FwForward> find_port_forward(const Firewall& fw, std::string_view hook, const FwPacket& p) {
  if (!fw.read) return std::nullopt;
  std::vector<const FwChain*> bases;
  for (const FwChain& c : fw.chains) {
    if (c.hook == hook && c.type == "nat" && family_applies(c.family, p.family)) bases.push_back(&c);
  }
  std::stable_sort(bases.begin(), bases.end(), [](const FwChain* a, const FwChain* b) { return a->priority < b->priority; });
  const Eval e(fw, p);
  for (const FwChain* c : bases) {
    for (const FwRule& r : fw.rules) {
      if (r.family != c->family || r.table != c->table || r.chain != c->name) continue;
      if (r.verdict != FwVerdict::dnat && r.verdict != FwVerdict::redirect) continue;
      if (e.rule_matches(r) != Tri::yes) continue;
      FwForward f;
      f.rule = r;
      f.to = r.verdict == FwVerdict::redirect || !r.nat_addr ? p.daddr : *r.nat_addr;
      f.port = r.nat_port.value_or(p.dport);
      return f;
    }
  }
  return std::nullopt;
}

}  // namespace netwhy
