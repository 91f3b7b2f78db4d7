// The packet filter as plain values (nftables, read through libnftables as
// JSON), and a three-valued evaluation of a packet's path through a hook:
// accept, drop, reject, or unknown when a rule the evaluator does not
// understand could decide. Never a guess.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netwhy/error.hpp"
#include "netwhy/inet.hpp"
#include "netwhy/sockets.hpp"

namespace netwhy {

// One value on the right of a match: a number, a name, an address, a prefix,
// a range, a reference to a named set ("@allowed"), or a concatenation of
// values ("10.0.0.1 . 22"), one per field of the match's concatenation.
struct FwValue {
  enum class Kind { number, text, address, prefix, range, set_ref, concat } kind = Kind::number;
  std::uint64_t number = 0;
  std::uint64_t number_hi = 0;  // ranges of numbers
  std::string text;             // names; the set name for set_ref
  IpAddr addr;                  // address, prefix, range of addresses (low end)
  IpAddr addr_hi;
  unsigned prefix_len = 0;
  std::vector<FwValue> parts;   // concat
  bool operator==(const FwValue&) const = default;
};

enum class FwKey {
  iif, iifname, oif, oifname, l4proto, nfproto,
  saddr, daddr,        // ip / ip6 (family in FwMatch::proto)
  sport, dport,        // tcp / udp / th
  ct_state,
  unknown,
  fib_daddr_type,      // fib daddr type local / unicast / ...
  ct_status,           // ct status dnat: the connection was destination-translated
  meta_mark,           // the packet's mark (meta mark; iptables -m mark)
  ct_mark,             // the connection's mark (ct mark; iptables -m connmark)
  concat,              // ip saddr . tcp dport: FwMatch::parts, one per field
};

struct FwMatch {
  FwKey key = FwKey::unknown;
  std::string proto;            // "ip", "ip6", "tcp", "udp", "th" for payload keys
  std::string op = "==";        // ==, !=, in, <, >, <=, >=
  std::vector<FwValue> values;  // any of them (a set literal, or flags)
  std::string raw;              // the expression, for messages, when not understood
  std::uint32_t mask = 0xffffffffU;  // marks: "meta mark & 0xff == 0x1" compares mark & mask
  std::vector<FwMatch> parts;   // concat: the fields (key and proto of each), in order
  bool operator==(const FwMatch&) const = default;
};

// A statement that sets a mark: new = (source & keep) ^ flip, where the
// source is a constant 0, the packet's mark or the connection's. "meta mark
// set 0x1" is {constant, keep 0, flip 1}; "meta mark set meta mark | 0x4000"
// is {meta, keep ~0x4000, flip 0x4000}; "meta mark set ct mark" is {ct, keep
// ~0, flip 0}. A mark statement netwhy cannot read is !known: the mark is
// unknown after it.
struct FwMarkSet {
  enum class Source { constant, meta, ct };
  bool ct = false;  // sets the connection's mark (else the packet's)
  Source source = Source::constant;
  std::uint32_t keep = 0;
  std::uint32_t flip = 0;
  bool known = true;
  bool operator==(const FwMarkSet&) const = default;
};

enum class FwVerdict { none, accept, drop, reject, jump, go_to, ret, dnat, redirect, other };

struct FwRule {
  std::string family, table, chain;
  std::uint64_t handle = 0;
  std::string text;             // as nft prints it
  std::vector<FwMatch> matches;
  FwVerdict verdict = FwVerdict::none;
  std::string target;           // jump/goto chain
  std::string reject_type;      // "tcp reset", "icmpx port-unreachable", ...
  std::optional<IpAddr> nat_addr;
  std::optional<std::uint16_t> nat_port;
  std::string not_understood;   // a statement that may change the packet's fate
  std::vector<FwMarkSet> marks; // marks set when the rule matches, before its verdict
  bool operator==(const FwRule&) const = default;
};

struct FwChain {
  std::string family, table, name;
  std::string type;             // filter, nat, route; empty for regular chains
  std::string hook;             // input, forward, prerouting, ...; empty for regular chains
  std::int64_t priority = 0;
  std::string policy = "accept";
  std::vector<std::string> devices;  // netdev ingress: the interfaces it hooks
  bool operator==(const FwChain&) const = default;
};

struct FwSet {
  std::string family, table, name;
  std::vector<FwValue> elements;
  bool complete = true;  // every element was read (else a lookup is unknown)
  bool operator==(const FwSet&) const = default;
};

// What iptables-save printed for one family and backend: decoded into the
// chains and rules below, and kept for snapshot files.
struct FwIptablesSave {
  Family family = Family::inet;
  bool legacy = false;
  std::string text;
  bool operator==(const FwIptablesSave&) const = default;
};

struct Firewall {
  bool read = false;                       // the nftables ruleset was read
  std::string unreadable;                  // why not: "needs root", "built without libnftables"
  std::vector<std::string> legacy_tables;  // iptables-legacy tables (x_tables), invisible to nftables
  std::vector<FwChain> chains;
  std::vector<FwRule> rules;               // in chain order
  std::vector<FwSet> sets;
  std::vector<FwIptablesSave> iptables;    // iptables-save output, decoded into chains and rules
  std::string raw_json;                    // what libnftables said, for snapshot files
  std::string raw_text;
  bool operator==(const Firewall&) const = default;
};

// Does any of the rule's matches read a mark (meta mark, ct mark, in a
// concatenation too)? A verdict map's elements repeat the rule's matches
// after its mark statements ran: then they would see the new marks.
[[nodiscard]] inline bool reads_marks(const FwRule& r) {
  const auto mark = [](const FwMatch& m) { return m.key == FwKey::meta_mark || m.key == FwKey::ct_mark; };
  return std::any_of(r.matches.begin(), r.matches.end(), [&](const FwMatch& m) {
    return mark(m) || std::any_of(m.parts.begin(), m.parts.end(), mark);
  });
}

// libnftables' JSON (`nft -j list ruleset`) and, optionally, the text
// listing with handles (`nft -a list ruleset`) for the rules' text.
[[nodiscard]] Expected<Firewall> parse_nft_ruleset(std::string_view json_text, std::string_view text_listing = {});
// The same values from the text listing alone (`nft -a list ruleset`, or
// `nft -a list table` outputs one after another), without the JSON.
[[nodiscard]] Expected<Firewall> parse_nft_text(std::string_view listing);
// A rule's text without its live counter values: "tcp dport 8080 counter
// packets 8 bytes 480 drop" -> "tcp dport 8080 counter drop".
[[nodiscard]] std::string strip_counter_values(std::string_view rule);
// Reads this namespace's ruleset (needs CAP_NET_ADMIN) and iptables-legacy tables.
[[nodiscard]] Firewall read_firewall();
[[nodiscard]] bool firewall_support_built();

// ---- evaluation ----

struct FwPacket {
  Family family = Family::inet;
  Protocol protocol = Protocol::tcp;
  IpAddr daddr;
  std::uint16_t dport = 0;
  // The source: one address (this host), or any address in a prefix (a
  // client on the interface's network).
  IpAddr saddr;
  unsigned saddr_len = 0;  // 0 with saddr unspecified: anywhere
  std::string iifname;     // the interface the packet arrives on ("" when it leaves this host)
  int iif = 0;
  std::string oifname;     // the interface it leaves through (output, forward, postrouting)
  int oif = 0;
  // The server's answer going back (ct state established): its source is
  // the server (sport known), its destination the client, whose port is the
  // client's own choice.
  bool reply = false;
  std::optional<std::uint16_t> sport;
  std::optional<unsigned> daddr_len;  // nullopt: daddr is one address; else a client's network
  bool dport_known = true;
  bool daddr_local = true;            // fib daddr type local
  bool dnat = false;                  // a DNAT rewrote it (ct status dnat)
  // Marks, as rules earlier on the path left them (nullopt: unknown). A
  // client's packet arrives with none; a connection starts with none.
  std::optional<std::uint32_t> mark = 0;
  std::optional<std::uint32_t> ct_mark = 0;
};

enum class FwDecision { accept, drop, reject, unknown };

struct FwResult {
  FwDecision decision = FwDecision::accept;
  std::optional<FwRule> rule;  // the rule that decided (or could not be evaluated)
  std::optional<FwChain> chain;  // the base chain whose policy decided, when no rule did
  std::string why;             // for unknown: what could not be evaluated
  std::string hook;            // where it was decided: ingress, prerouting, input, forward, output, postrouting
  // The marks as the packet leaves the hook (for the next hook on its path).
  std::optional<std::uint32_t> mark = 0;
  std::optional<std::uint32_t> ct_mark = 0;
};

struct FwForward {
  FwRule rule;  // the dnat/redirect rule
  IpAddr to;    // where it sends the packet (daddr itself for redirect)
  std::uint16_t port = 0;
};

// A ruleset prepared for evaluation: rules indexed by chain, base chains by
// hook. Each evaluation memoises chain results for its packet, so a ruleset
// that jumps from every rule costs one pass over the rules, not one per path.
class FwEvaluator {
 public:
  explicit FwEvaluator(const Firewall& fw);
  // The packet's fate in one hook: the filter (and route) base chains of
  // every table hooked there, in priority order; for "ingress", the netdev
  // chains of the arrival interface.
  [[nodiscard]] FwResult hook(std::string_view hook, const FwPacket& p) const;
  // The nat chains of the hook ("prerouting" for packets from other hosts,
  // "output" for this host's own), jumps followed: the dnat/redirect that
  // rewrites the packet's destination; a result when a rule that could
  // decide can't be evaluated (decision unknown) or a nat chain drops it.
  struct Nat {
    std::optional<FwForward> forward;
    std::optional<FwResult> stop;  // unknown, or a drop in a nat chain
    std::optional<std::uint32_t> mark = 0;  // the marks after the hook's nat chains
    std::optional<std::uint32_t> ct_mark = 0;
  };
  [[nodiscard]] Nat nat(std::string_view hook, const FwPacket& p) const;
  [[nodiscard]] const Firewall& firewall() const { return fw_; }

  struct Index;
  struct Memo;

 private:
  const Firewall& fw_;
  std::shared_ptr<const Index> index_;
  // Chain results that hold for every address: a packet per address of the
  // host costs a lookup where the ruleset reads no address. Filled by
  // hook() and nat(): one evaluator is for one thread.
  std::shared_ptr<Memo> memo_;
};

// One-shot forms of the above (they prepare the ruleset each time).
[[nodiscard]] FwResult evaluate_hook(const Firewall& fw, std::string_view hook, const FwPacket& p);
[[nodiscard]] std::optional<FwForward> find_port_forward(const Firewall& fw, std::string_view hook, const FwPacket& p);
// Every destination a dnat rule in those hooks can send a packet to (for
// gathering what listens there).
[[nodiscard]] std::vector<FwForward> port_forward_targets(const Firewall& fw);

}  // namespace netwhy
