// The packet filter as plain values (nftables, read through libnftables as
// JSON), and a three-valued evaluation of a packet's path through a hook:
// accept, drop, reject, or unknown when a rule the evaluator does not
// understand could decide. Never a guess.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netwhy/error.hpp"
#include "netwhy/inet.hpp"
#include "netwhy/sockets.hpp"

namespace netwhy {

// One value on the right of a match: a number, a name, an address, a prefix,
// a range, or a reference to a named set ("@allowed").
struct FwValue {
  enum class Kind { number, text, address, prefix, range, set_ref } kind = Kind::number;
  std::uint64_t number = 0;
  std::uint64_t number_hi = 0;  // ranges of numbers
  std::string text;             // names; the set name for set_ref
  IpAddr addr;                  // address, prefix, range of addresses (low end)
  IpAddr addr_hi;
  unsigned prefix_len = 0;
  bool operator==(const FwValue&) const = default;
};

enum class FwKey {
  iif, iifname, oif, oifname, l4proto, nfproto,
  saddr, daddr,        // ip / ip6 (family in FwMatch::proto)
  sport, dport,        // tcp / udp / th
  ct_state,
  unknown,
};

struct FwMatch {
  FwKey key = FwKey::unknown;
  std::string proto;            // "ip", "ip6", "tcp", "udp", "th" for payload keys
  std::string op = "==";        // ==, !=, in, <, >, <=, >=
  std::vector<FwValue> values;  // any of them (a set literal, or flags)
  std::string raw;              // the expression, for messages, when not understood
  bool operator==(const FwMatch&) const = default;
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
  bool operator==(const FwRule&) const = default;
};

struct FwChain {
  std::string family, table, name;
  std::string type;             // filter, nat, route; empty for regular chains
  std::string hook;             // input, forward, prerouting, ...; empty for regular chains
  std::int64_t priority = 0;
  std::string policy = "accept";
  bool operator==(const FwChain&) const = default;
};

struct FwSet {
  std::string family, table, name;
  std::vector<FwValue> elements;
  bool operator==(const FwSet&) const = default;
};

struct Firewall {
  bool read = false;                       // the nftables ruleset was read
  std::string unreadable;                  // why not: "needs root", "built without libnftables"
  std::vector<std::string> legacy_tables;  // iptables-legacy tables (x_tables), invisible to nftables
  std::vector<FwChain> chains;
  std::vector<FwRule> rules;               // in chain order
  std::vector<FwSet> sets;
  std::string raw_json;                    // what libnftables said, for snapshot files
  std::string raw_text;
  bool operator==(const Firewall&) const = default;
};

// libnftables' JSON (`nft -j list ruleset`) and, optionally, the text
// listing with handles (`nft -a list ruleset`) for the rules' text.
[[nodiscard]] Expected<Firewall> parse_nft_ruleset(std::string_view json_text, std::string_view text_listing = {});
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
  std::string iifname;     // the interface the packet arrives on
  int iif = 0;
};

enum class FwDecision { accept, drop, reject, unknown };

struct FwResult {
  FwDecision decision = FwDecision::accept;
  std::optional<FwRule> rule;  // the rule that decided (or could not be evaluated)
  std::optional<FwChain> chain;  // the base chain whose policy decided, when no rule did
  std::string why;             // for unknown: what could not be evaluated
};

// The packet's fate in the given hook ("input", "forward", "prerouting"
// filter chains), base chains in priority order.
[[nodiscard]] FwResult evaluate_hook(const Firewall& fw, std::string_view hook, const FwPacket& p);

struct FwForward {
  FwRule rule;  // the dnat/redirect rule
  IpAddr to;    // where it sends the packet (daddr itself for redirect)
  std::uint16_t port = 0;
};
// NAT rules that rewrite the packet's destination: hook "prerouting" for
// packets from other hosts, "output" for this host's own.
[[nodiscard]] std::optional<FwForward> find_port_forward(const Firewall& fw, std::string_view hook, const FwPacket& p);
// Every destination a dnat rule in those hooks can send a packet to (for
// gathering what listens there).
[[nodiscard]] std::vector<FwForward> port_forward_targets(const Firewall& fw);

}  // namespace netwhy
