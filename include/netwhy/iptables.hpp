// iptables rules read as iptables reads them: the text of `iptables-save` /
// `ip6tables-save` (the same format from iptables-nft-save and
// iptables-legacy-save, decoded by libxtables) into netwhy's firewall model.
//
// iptables-nft stores its matches and targets as `xt` extensions, which
// libnftables' JSON leaves opaque, and iptables-legacy tables (x_tables) are
// invisible to nftables: iptables' own save format is the faithful view of
// both.
//
// How iptables words become the model (FwKey, FwVerdict):
//   -p P                        l4proto (text "tcp", or a number)
//   -s/-d A[/N]                 saddr/daddr, proto "ip"/"ip6"; an address, or a prefix
//   -i/-o NAME                  iifname/oifname; "eth+" becomes the fnmatch pattern "eth*"
//   -m tcp/udp --dport/--sport  dport/sport, proto "tcp"/"udp"; "a:b" is a range
//   -m multiport --dports/--sports   dport/sport with several values
//   -m conntrack --ctstate, -m state --state   ct_state, values "new", "established", ...
//   -m iprange --src-range/--dst-range  saddr/daddr with one address range (text "address")
//   --syn (printed as --tcp-flags FIN,SYN,RST,ACK SYN)   ct_state == "new", raw "--syn":
//       a new connection's first packet is a SYN, so for the packet netwhy
//       evaluates both are true (and "! --syn" is false); other flag tests
//       are FwKey::unknown
//   -m comment                  no match at all
//   -m addrtype --dst-type T    FwKey::unknown (evaluation stays unknown), with proto
//       "fib daddr type" and the types as lowercase text values ("local"), the
//       words nft uses for the same test, so an evaluator can learn it
//       (--src-type: "fib saddr type")
//   -m mark, -m set, -m limit, and every other match   FwKey::unknown with the
//       iptables text in raw ("-m set --match-set trusted src")
//   -j ACCEPT/DROP/RETURN       accept/drop/ret
//   -j REJECT [--reject-with X] reject, reject_type X in iptables' words
//       ("tcp-reset"; by default "icmp-port-unreachable" or
//       "icmp6-port-unreachable")
//   -j DNAT --to-destination A[:P] / [A6]:P   dnat, nat_addr and nat_port
//   -j REDIRECT [--to-ports P]  redirect, nat_port (none: the same port)
//   -j MASQUERADE/SNAT/LOG/NFLOG/MARK/CONNMARK/... statements that do not decide: none
//       (a mark set here only matters to mark matches, which are unknown anyway)
//   -j CT --notrack, -j NOTRACK none, with not_understood (later conntrack state
//       matches see an untracked packet)
//   -j CHAIN / -g CHAIN         jump / go_to a chain declared in the same table
//   any other target            other, with not_understood naming it
// A line that cannot be decoded (an unknown option, a missing value, an
// unterminated quote) still becomes a rule: verdict other, not_understood
// saying why. A file whose structure is broken (a rule outside a table, a
// rule for an undeclared chain, a table without COMMIT) is an error naming
// the line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netwhy/error.hpp"
#include "netwhy/firewall.hpp"
#include "netwhy/inet.hpp"

namespace netwhy {

// Which x_tables front end wrote the rules: iptables-nft (tables in
// nftables, family ip/ip6) or iptables-legacy (the kernel's x_tables,
// invisible to nftables). Both run on one host, side by side.
enum class IptBackend { nft, legacy };

// "iptables-nft", "iptables-legacy"
[[nodiscard]] std::string_view to_string(IptBackend b);

// One `iptables-save` or `ip6tables-save` output, decoded. chains and rules
// carry family "ip"/"ip6" and the iptables table name ("filter", "nat", ...);
// rules are in chain order, handle = the rule's 1-based position in its
// chain (what `iptables -L --line-numbers` shows), text = the line after
// "-A CHAIN " without counters.
struct IptablesRuleset {
  Family family = Family::inet;
  IptBackend backend = IptBackend::nft;
  std::string text;  // the iptables-save output it was decoded from
  std::vector<FwChain> chains;
  std::vector<FwRule> rules;
  bool operator==(const IptablesRuleset&) const = default;
};

// Errors (ErrorKind::parse): "iptables-save line 7: rule for chain \"X\",
// which the table does not declare", ... family must be inet or inet6.
[[nodiscard]] Expected<IptablesRuleset> parse_iptables_save(std::string_view text, Family family, IptBackend backend);

// A built-in chain as iptables registers it: type, hook and priority
// (raw -300, mangle -150, nat -100 in prerouting/output and 100 in
// input/postrouting, filter 0, security 50 with iptables-legacy and 150
// with iptables-nft, which registers it there).
struct IptBuiltinChain {
  std::string_view type;  // "filter", "nat", "route" (mangle OUTPUT)
  std::string_view hook;  // "prerouting", "input", "forward", "output", "postrouting"
  std::int64_t priority = 0;
};
// nullopt for a chain that is not built into that table, or an unknown table.
[[nodiscard]] std::optional<IptBuiltinChain> iptables_builtin_chain(std::string_view table, std::string_view chain,
                                                                    IptBackend backend);

// ---- into the Firewall ----
//
// How iptables-legacy rules are told apart: their table name carries the
// prefix "iptables-legacy:" ("iptables-legacy:filter", family "ip"). The
// same name for a legacy and an nft-backed table would mix two rulesets
// (both have an INPUT chain; jumps are resolved by family, table and name),
// and ':' cannot appear in an nft table name, so the prefix never collides.
// iptables-nft rules keep the plain name: they are the very tables
// nftables lists ("table ip filter"), seen through libxtables.
inline constexpr std::string_view iptables_legacy_prefix = "iptables-legacy:";

// The Firewall table name for an iptables table: "filter", or
// "iptables-legacy:filter".
[[nodiscard]] std::string iptables_table_name(std::string_view table, IptBackend backend);
// The reverse, for messages and fixes ("iptables-legacy -t filter ..."):
// which front end and which iptables table a Firewall table name stands
// for. nullopt: not an iptables table name (no "iptables-legacy:" prefix
// and not one of filter, nat, mangle, raw, security).
struct IptTableRef {
  IptBackend backend = IptBackend::nft;
  std::string table;
  bool operator==(const IptTableRef&) const = default;
};
[[nodiscard]] std::optional<IptTableRef> iptables_table_ref(std::string_view family, std::string_view table);

// Appends r's chains and rules to fw. For iptables-nft, the chains and rules
// fw already holds for the same family and table (the nftables view, with
// opaque xt expressions) are replaced by the decoded ones; for
// iptables-legacy, tables are renamed with iptables_legacy_prefix and
// nothing is replaced. fw.read and fw.legacy_tables are left as they are
// (the caller decides what a decoded legacy table means for its caveats).
void merge_iptables(Firewall& fw, const IptablesRuleset& r);

// Decodes fw.iptables (iptables-save texts) into fw's chains and rules.
// Decoded legacy tables are evaluated, so their caveat (legacy_tables)
// goes; a text that does not parse is left out with a note in unreadable.
void apply_iptables(Firewall& fw);

// For a live read: runs iptables-nft-save when nftables shows iptables-nft's
// opaque xt expressions, and iptables-legacy-save when legacy tables exist;
// keeps their output in fw.iptables and applies it. Needs root.
void read_iptables_into(Firewall& fw);

// ---- reading ----

struct IptablesRead {
  IptBackend backend = IptBackend::nft;
  std::vector<IptablesRuleset> rulesets;  // IPv4, then IPv6: those that could be read
  // Why nothing (or not everything) could be read: "iptables-nft-save is not
  // installed (Debian package iptables)", "reading iptables rules needs root
  // (CAP_NET_ADMIN)", "ip6tables-nft-save: timed out after 5 s", ...
  std::string unreadable;
  // What the programs said on stderr while succeeding ("# Warning:
  // iptables-legacy tables present, use iptables-legacy-save to see them").
  std::vector<std::string> warnings;
};

// Runs iptables-{nft,legacy}-save and ip6tables-{nft,legacy}-save from
// /usr/sbin or /sbin (no shell, no -c, stdin /dev/null, output bounded to
// 16 MiB, 5 s each, killed when late) and parses what they print. These
// programs only read. For iptables-legacy, a family whose
// /proc/net/ip{,6}_tables_names lists no table is not run at all (nothing
// to read, and nothing loaded).
[[nodiscard]] IptablesRead read_iptables(IptBackend backend);

// The program's path, or empty when not installed; "iptables-nft-save",
// "ip6tables-legacy-save", ... (exposed for tests and messages).
[[nodiscard]] std::string iptables_save_program(Family family, IptBackend backend);

}  // namespace netwhy
