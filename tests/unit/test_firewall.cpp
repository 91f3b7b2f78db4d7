#include <doctest/doctest.h>

#include <algorithm>

#include <fmt/format.h>

#include "netwhy/firewall.hpp"
#include "netwhy/text.hpp"

using namespace netwhy;

namespace {

// Recorded from a namespace with `nft -j list ruleset` and `nft -a list
// ruleset` (rule 14 edited by hand from "meta mark 0x1", which netwhy now
// evaluates, to "meta skuid 1000", which it does not): table inet filter (policy drop, a named set, a jump) and table ip
// early (priority -10).
const char* const ruleset_json = R"NFT({"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "filter", "handle": 1}}, {"set": {"family": "inet", "name": "allowed", "table": "filter", "type": "ipv4_addr", "handle": 3, "flags": ["interval"], "elem": [{"prefix": {"addr": "10.0.0.0", "len": 8}}, "192.168.1.5"]}}, {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}, {"chain": {"family": "inet", "table": "filter", "name": "extra", "handle": 2}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 4, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 5, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iif"}}, "right": "lo"}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 7, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth0"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [22, {"range": [80, 90]}]}}}, {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 8, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@allowed"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8000}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 9, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 9000}}, {"reject": {"type": "tcp reset"}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 10, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 53}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 11, "expr": [{"jump": {"target": "extra"}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 12, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "icmp"}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 13, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "10.1.0.0", "len": 16}}}}, {"match": {"op": "!=", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 443}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 14, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "skuid"}}, "right": 1000}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 6000}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "extra", "handle": 15, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 7000}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "extra", "handle": 16, "expr": [{"return": null}]}}, {"table": {"family": "ip", "name": "early", "handle": 2}}, {"chain": {"family": "ip", "table": "early", "name": "in", "handle": 1, "type": "filter", "hook": "input", "prio": -10, "policy": "accept"}}, {"rule": {"family": "ip", "table": "early", "chain": "in", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 1234}}, {"drop": null}]}}, {"rule": {"family": "ip", "table": "early", "chain": "in", "handle": 3, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"accept": null}]}}]})NFT";
const char* const ruleset_text = R"NFT(table inet filter { # handle 1
	set allowed { # handle 3
		type ipv4_addr
		flags interval
		elements = { 10.0.0.0/8, 192.168.1.5 }
	}

	chain input { # handle 1
		type filter hook input priority filter; policy drop;
		ct state established,related accept # handle 4
		iif "lo" accept # handle 5
		iifname "eth0" tcp dport { 22, 80-90 } counter packets 0 bytes 0 accept # handle 7
		ip saddr @allowed tcp dport 8000 accept # handle 8
		tcp dport 9000 reject with tcp reset # handle 9
		udp dport 53 drop # handle 10
		jump extra # handle 11
		meta l4proto icmp accept # handle 12
		ip daddr 10.1.0.0/16 tcp dport != 443 drop # handle 13
		meta skuid 1000 tcp dport 6000 accept # handle 14
	}

	chain extra { # handle 2
		tcp dport 7000 accept # handle 15
		return # handle 16
	}
}
table ip early { # handle 2
	chain in { # handle 1
		type filter hook input priority filter - 10; policy accept;
		tcp dport 1234 drop # handle 2
		tcp dport 22 accept # handle 3
	}
}
)NFT";

Firewall ruleset() {
  auto fw = parse_nft_ruleset(ruleset_json, ruleset_text);
  REQUIRE(fw);
  return *fw;
}

FwPacket packet(std::uint16_t dport, const char* client_net = "172.16.5.0", unsigned len = 24,
                const char* iif = "eth1", Protocol proto = Protocol::tcp) {
  FwPacket p;
  p.daddr = *IpAddr::parse("10.0.0.5");
  p.family = Family::inet;
  p.protocol = proto;
  p.dport = dport;
  p.saddr = *IpAddr::parse(client_net);
  p.saddr_len = len;
  p.iifname = iif;
  p.iif = 3;
  return p;
}

}  // namespace

TEST_CASE("the ruleset is read into chains, rules with their text, and sets") {
  const Firewall fw = ruleset();
  CHECK(fw.read);
  CHECK(fw.chains.size() == 3);
  const auto set = std::find_if(fw.sets.begin(), fw.sets.end(), [](const FwSet& s) { return s.name == "allowed"; });
  REQUIRE(set != fw.sets.end());
  CHECK(set->elements.size() == 2);
  const auto reject = std::find_if(fw.rules.begin(), fw.rules.end(), [](const FwRule& r) { return r.verdict == FwVerdict::reject; });
  REQUIRE(reject != fw.rules.end());
  CHECK(reject->text == "tcp dport 9000 reject with tcp reset");
  CHECK(reject->reject_type == "tcp reset");
}

TEST_CASE("iifname with a set of ports and a range") {
  const Firewall fw = ruleset();
  CHECK(evaluate_hook(fw, "input", packet(85, "172.16.5.0", 24, "eth0")).decision == FwDecision::accept);
  CHECK(evaluate_hook(fw, "input", packet(22, "172.16.5.0", 24, "eth0")).decision == FwDecision::accept);
  const auto miss = evaluate_hook(fw, "input", packet(91, "172.16.5.0", 24, "eth0"));
  CHECK(miss.decision == FwDecision::drop);
  CHECK_FALSE(miss.rule.has_value());  // the policy decided
  REQUIRE(miss.chain);
  CHECK(miss.chain->policy == "drop");
}

TEST_CASE("iif lo: this host's own connections") {
  const Firewall fw = ruleset();
  const auto r = evaluate_hook(fw, "input", packet(5555, "10.0.0.5", 32, "lo"));
  CHECK(r.decision == FwDecision::accept);
  REQUIRE(r.rule);
  CHECK(r.rule->text == "iif \"lo\" accept");
}

TEST_CASE("ip saddr in a named set: prefixes and single addresses against a client's network") {
  const Firewall fw = ruleset();
  CHECK(evaluate_hook(fw, "input", packet(8000, "10.3.0.0", 16)).decision == FwDecision::accept);
  CHECK(evaluate_hook(fw, "input", packet(8000, "172.16.5.0", 24)).decision == FwDecision::drop);
  // 192.168.1.5 is one host of the client's network: it depends on the client.
  CHECK(evaluate_hook(fw, "input", packet(8000, "192.168.1.0", 24)).decision == FwDecision::unknown);
  CHECK(evaluate_hook(fw, "input", packet(8000, "192.168.1.5", 32)).decision == FwDecision::accept);
}

TEST_CASE("reject, drop, and the protocol a port match implies") {
  const Firewall fw = ruleset();
  const auto rej = evaluate_hook(fw, "input", packet(9000));
  CHECK(rej.decision == FwDecision::reject);
  REQUIRE(rej.rule);
  CHECK(rej.rule->handle > 0);
  CHECK(evaluate_hook(fw, "input", packet(53, "172.16.5.0", 24, "eth1", Protocol::udp)).decision == FwDecision::drop);
  // "udp dport 53 drop" does not touch TCP 53: the policy drops it instead.
  const auto tcp53 = evaluate_hook(fw, "input", packet(53));
  CHECK(tcp53.decision == FwDecision::drop);
  CHECK_FALSE(tcp53.rule.has_value());
}

TEST_CASE("jump into a chain, accept there; return comes back") {
  const Firewall fw = ruleset();
  const auto r = evaluate_hook(fw, "input", packet(7000));
  CHECK(r.decision == FwDecision::accept);
  REQUIRE(r.rule);
  CHECK(r.rule->chain == "extra");
  CHECK(evaluate_hook(fw, "input", packet(7001)).decision == FwDecision::drop);
}

TEST_CASE("ip daddr prefix with a != port") {
  const Firewall fw = ruleset();
  FwPacket p = packet(80, "172.16.5.0", 24, "eth1");
  p.daddr = *IpAddr::parse("10.1.2.3");
  const auto r = evaluate_hook(fw, "input", p);
  CHECK(r.decision == FwDecision::drop);
  REQUIRE(r.rule);
  CHECK(r.rule->text == "ip daddr 10.1.0.0/16 tcp dport != 443 drop");
}

TEST_CASE("an expression netwhy does not evaluate makes the answer unknown, never a guess") {
  const Firewall fw = ruleset();
  const auto r = evaluate_hook(fw, "input", packet(6000));
  CHECK(r.decision == FwDecision::unknown);
  REQUIRE(r.rule);
  CHECK(r.rule->text.find("meta skuid") != std::string::npos);
}

TEST_CASE("base chains in priority order: an earlier drop wins, an earlier accept does not end the path") {
  const Firewall fw = ruleset();
  const auto early = evaluate_hook(fw, "input", packet(1234, "172.16.5.0", 24, "eth0"));
  CHECK(early.decision == FwDecision::drop);
  REQUIRE(early.rule);
  CHECK(early.rule->table == "early");
  // table ip early accepts 22, but inet filter (priority 0) still runs: eth1 is not let in there.
  CHECK(evaluate_hook(fw, "input", packet(22, "172.16.5.0", 24, "eth1")).decision == FwDecision::drop);
  // IPv6 packets skip table ip early.
  FwPacket v6 = packet(1234, "172.16.5.0", 24, "eth0");
  v6.family = Family::inet6;
  v6.daddr = *IpAddr::parse("fd00::5");
  v6.saddr = *IpAddr::parse("fd00::");
  v6.saddr_len = 64;
  CHECK(evaluate_hook(fw, "input", v6).rule.value_or(FwRule{}).table != "early");
}

TEST_CASE("no ruleset read, or iptables-legacy tables: unknown") {
  Firewall none;
  none.unreadable = "reading the firewall needs root (CAP_NET_ADMIN)";
  const auto r = evaluate_hook(none, "input", packet(80));
  CHECK(r.decision == FwDecision::unknown);
  CHECK(r.why == none.unreadable);
  Firewall empty;
  empty.read = true;
  CHECK(evaluate_hook(empty, "input", packet(80)).decision == FwDecision::accept);
  empty.legacy_tables = {"ip filter"};
  CHECK(evaluate_hook(empty, "input", packet(80)).decision == FwDecision::unknown);
}

TEST_CASE("malformed ruleset JSON is an error, not a crash") {
  CHECK_FALSE(parse_nft_ruleset("not json").has_value());
  CHECK_FALSE(parse_nft_ruleset("{}").has_value());
  auto odd = parse_nft_ruleset(R"({"nftables": [{"rule": {"family": 3, "expr": "x"}}, {"chain": 7}, 5, {}]})");
  CHECK(odd.has_value() == false);
  auto ok = parse_nft_ruleset(R"({"nftables": [{"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 2,
      "expr": [{"match": {"op": "==", "left": {"frobnicate": 1}, "right": 3}}, {"drop": null}]}}]})");
  REQUIRE(ok);
  REQUIRE(ok->rules.size() == 1);
  CHECK(ok->rules[0].matches[0].key == FwKey::unknown);
}

// Found by fuzz_nft_json (tests/fuzz/regressions/nft_json): nlohmann throws
// out_of_range, not parse_error, for a number beyond a double's range.
TEST_CASE("a number beyond a double's range is an error, not an escaping exception") {
  for (const char* number : {"1e999", "81e3000", "-1e400"}) {
    CAPTURE(number);
    const std::string text = std::string(R"({"nftables": [{"rule": {"family": "inet", "table": "t", "chain": "c",
        "handle": 2, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": )") +
        number + "}}]}}]}";
    const auto fw = parse_nft_ruleset(text);
    REQUIRE_FALSE(fw.has_value());
    CHECK(fw.error().context.starts_with("nftables ruleset: not JSON: number overflow"));
  }
}

TEST_CASE("goto does not come back: the calling chain's later rules are skipped") {
  const char* rules = R"({"nftables": [
    {"chain": {"family": "inet", "table": "t", "name": "in", "handle": 1, "type": "filter", "hook": "input",
               "prio": 0, "policy": "accept"}},
    {"chain": {"family": "inet", "table": "t", "name": "web", "handle": 2}},
    {"rule": {"family": "inet", "table": "t", "chain": "in", "handle": 3,
              "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth1"}},
                       {"goto": {"target": "web"}}]}},
    {"rule": {"family": "inet", "table": "t", "chain": "in", "handle": 4,
              "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8000}},
                       {"drop": null}]}},
    {"rule": {"family": "inet", "table": "t", "chain": "web", "handle": 5,
              "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 9000}},
                       {"drop": null}]}}
  ]})";
  auto fw = parse_nft_ruleset(rules);
  REQUIRE(fw);
  // From eth1: goto web, where 8000 is not dropped; the end of web returns to
  // the base chain's caller, so rule 4 never runs and the policy accepts.
  CHECK(evaluate_hook(*fw, "input", packet(8000, "172.16.5.0", 24, "eth1")).decision == FwDecision::accept);
  CHECK(evaluate_hook(*fw, "input", packet(9000, "172.16.5.0", 24, "eth1")).decision == FwDecision::drop);
  // From eth0: no goto, rule 4 drops.
  const auto r = evaluate_hook(*fw, "input", packet(8000, "172.16.5.0", 24, "eth0"));
  CHECK(r.decision == FwDecision::drop);
  REQUIRE(r.rule);
  CHECK(r.rule->handle == 4);
}

TEST_CASE("rule text carries no live counter values") {
  using netwhy::strip_counter_values;
  CHECK(strip_counter_values("tcp dport 8080 counter packets 8 bytes 480 drop") == "tcp dport 8080 counter drop");
  CHECK(strip_counter_values("counter packets 0 bytes 0") == "counter");
  CHECK(strip_counter_values("ip saddr 10.0.0.1 counter packets 12 bytes 720 counter packets 3 bytes 9 accept") ==
        "ip saddr 10.0.0.1 counter counter accept");
  CHECK(strip_counter_values("tcp dport 22 accept") == "tcp dport 22 accept");
  CHECK(strip_counter_values("counter name \"web\" accept") == "counter name \"web\" accept");
  CHECK(strip_counter_values("comment \"mycounter packets 1 bytes 2x\" accept") ==
        "comment \"mycounter packets 1 bytes 2x\" accept");
  CHECK(strip_counter_values("") == "");

  // The same when read from nft's listing: rule 7 of the fixture counts.
  const Firewall fw = ruleset();
  const auto counted = std::find_if(fw.rules.begin(), fw.rules.end(), [](const FwRule& r) { return r.handle == 7; });
  REQUIRE(counted != fw.rules.end());
  CHECK(counted->text == "iifname \"eth0\" tcp dport { 22, 80-90 } counter accept");
}

namespace {

std::string jump_heavy(int chains, int jumps) {
  std::string out = R"({"nftables": [
    {"chain": {"family": "inet", "table": "t", "name": "in", "handle": 1, "type": "filter", "hook": "input", "prio": 0,
               "policy": "accept"}},
    {"rule": {"family": "inet", "table": "t", "chain": "in", "handle": 2, "expr": [{"jump": {"target": "c0"}}]}})";
  std::uint64_t handle = 10;
  for (int i = 0; i < chains; ++i) {
    out += fmt::format(R"(, {{"chain": {{"family": "inet", "table": "t", "name": "c{}", "handle": {}}}}})", i, handle++);
    for (int j = 0; j < jumps && i + 1 < chains; ++j) {
      out += fmt::format(R"(, {{"rule": {{"family": "inet", "table": "t", "chain": "c{}", "handle": {}, "expr": [{{"jump": {{"target": "c{}"}}}}]}}}})",
                         i, handle++, i + 1);
    }
  }
  out += fmt::format(R"(, {{"rule": {{"family": "inet", "table": "t", "chain": "c{}", "handle": {}, "expr": [{{"match": {{"op": "==", "left": {{"payload": {{"protocol": "tcp", "field": "dport"}}}}, "right": 9999}}}}, {{"drop": null}}]}}}})",
                     chains - 1, handle);
  return out + "]}";
}

}  // namespace

TEST_CASE("jumps are evaluated once per chain: 16 chains of four jumps each answer at once") {
  // 4^15 paths through the chains; each chain's result is the same for one
  // packet, so it is computed once.
  auto fw = parse_nft_ruleset(jump_heavy(16, 4));
  REQUIRE(fw);
  CHECK(evaluate_hook(*fw, "input", packet(8080)).decision == FwDecision::accept);
  const auto dropped = evaluate_hook(*fw, "input", packet(9999));
  CHECK(dropped.decision == FwDecision::drop);
  REQUIRE(dropped.rule);
  CHECK(dropped.rule->chain == "c15");
  auto deep = parse_nft_ruleset(jump_heavy(200, 3));  // deeper than any path limit, still linear
  REQUIRE(deep);
  CHECK(evaluate_hook(*deep, "input", packet(9999)).decision == FwDecision::drop);
}

TEST_CASE("a jump loop is unknown, not a hang") {
  const char* rules = R"({"nftables": [
    {"chain": {"family": "inet", "table": "t", "name": "in", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
    {"chain": {"family": "inet", "table": "t", "name": "a", "handle": 2}},
    {"rule": {"family": "inet", "table": "t", "chain": "in", "handle": 3, "expr": [{"jump": {"target": "a"}}]}},
    {"rule": {"family": "inet", "table": "t", "chain": "a", "handle": 4, "expr": [{"jump": {"target": "a"}}]}}
  ]})";
  auto fw = parse_nft_ruleset(rules);
  REQUIRE(fw);
  CHECK(evaluate_hook(*fw, "input", packet(80)).decision == FwDecision::unknown);
}

TEST_CASE("every hook on the path: netdev ingress of the arrival interface, prerouting at raw, output for replies") {
  const char* rules = R"({"nftables": [
    {"chain": {"family": "netdev", "table": "n", "name": "in", "handle": 1, "type": "filter", "hook": "ingress", "prio": 0, "dev": "eth1", "policy": "accept"}},
    {"rule": {"family": "netdev", "table": "n", "chain": "in", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 7000}}, {"drop": null}]}},
    {"chain": {"family": "inet", "table": "r", "name": "pre", "handle": 1, "type": "filter", "hook": "prerouting", "prio": -300, "policy": "accept"}},
    {"rule": {"family": "inet", "table": "r", "chain": "pre", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 7001}}, {"drop": null}]}},
    {"chain": {"family": "inet", "table": "o", "name": "out", "handle": 1, "type": "filter", "hook": "output", "prio": 0, "policy": "drop"}},
    {"rule": {"family": "inet", "table": "o", "chain": "out", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "sport"}}, "right": 7002}}, {"accept": null}]}}
  ]})";
  auto parsed = parse_nft_ruleset(rules);
  REQUIRE(parsed);
  const FwEvaluator ev(*parsed);
  CHECK(ev.hook("ingress", packet(7000, "172.16.5.0", 24, "eth1")).decision == FwDecision::drop);
  CHECK(ev.hook("ingress", packet(7000, "172.16.5.0", 24, "eth0")).decision == FwDecision::accept);  // not its device
  const auto raw = ev.hook("prerouting", packet(7001));
  CHECK(raw.decision == FwDecision::drop);
  CHECK(raw.hook == "prerouting");
  // The answer to a client: from the server's port, ct state established.
  FwPacket reply;
  reply.reply = true;
  reply.saddr = *IpAddr::parse("10.0.0.5");
  reply.saddr_len = 32;
  reply.daddr = *IpAddr::parse("172.16.5.0");
  reply.daddr_len = 24;
  reply.dport_known = false;
  reply.sport = 7002;
  reply.oifname = "eth1";
  CHECK(ev.hook("output", reply).decision == FwDecision::accept);  // the rule for the server's port
  reply.sport = 7003;
  const auto out = ev.hook("output", reply);
  CHECK(out.decision == FwDecision::drop);  // the policy: replies never leave
  CHECK_FALSE(out.rule.has_value());
  REQUIRE(out.chain);
  CHECK(out.chain->name == "out");
}

TEST_CASE("ct state: a new connection's first packet is new; its replies are established") {
  const char* rules = R"({"nftables": [
    {"chain": {"family": "inet", "table": "t", "name": "in", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
    {"rule": {"family": "inet", "table": "t", "chain": "in", "handle": 2, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}},
    {"chain": {"family": "inet", "table": "t", "name": "out", "handle": 3, "type": "filter", "hook": "output", "prio": 0, "policy": "drop"}},
    {"rule": {"family": "inet", "table": "t", "chain": "out", "handle": 4, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}}
  ]})";
  auto fw = parse_nft_ruleset(rules);
  REQUIRE(fw);
  CHECK(evaluate_hook(*fw, "input", packet(80)).decision == FwDecision::drop);  // related/established can't match a SYN
  FwPacket reply;
  reply.reply = true;
  reply.sport = 80;
  reply.dport_known = false;
  CHECK(evaluate_hook(*fw, "output", reply).decision == FwDecision::accept);
}

TEST_CASE("Docker's DNAT: fib daddr type local jumps to a regular chain that rewrites the destination") {
  const char* rules = R"({"nftables": [
    {"chain": {"family": "ip", "table": "nat", "name": "PREROUTING", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}},
    {"chain": {"family": "ip", "table": "nat", "name": "DOCKER", "handle": 2}},
    {"rule": {"family": "ip", "table": "nat", "chain": "PREROUTING", "handle": 3, "expr": [{"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}}, "right": "local"}}, {"jump": {"target": "DOCKER"}}]}},
    {"rule": {"family": "ip", "table": "nat", "chain": "DOCKER", "handle": 4, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "docker0"}}, {"return": null}]}},
    {"rule": {"family": "ip", "table": "nat", "chain": "DOCKER", "handle": 5, "expr": [{"match": {"op": "!=", "left": {"meta": {"key": "iifname"}}, "right": "docker0"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}}, {"dnat": {"addr": "172.17.0.2", "port": 80}}]}}
  ]})";
  auto fw = parse_nft_ruleset(rules);
  REQUIRE(fw);
  const FwEvaluator ev(*fw);
  const auto n = ev.nat("prerouting", packet(8080, "172.16.5.0", 24, "eth0"));
  REQUIRE(n.forward);
  CHECK(n.forward->to == *IpAddr::parse("172.17.0.2"));
  CHECK(n.forward->port == 80);
  CHECK(n.forward->rule.handle == 5);
  CHECK_FALSE(ev.nat("prerouting", packet(8081, "172.16.5.0", 24, "eth0")).forward);
  CHECK_FALSE(ev.nat("prerouting", packet(8080, "172.17.0.0", 16, "docker0")).forward);  // returns first
  FwPacket elsewhere = packet(8080, "172.16.5.0", 24, "eth0");
  elsewhere.daddr_local = false;  // not to this host: fib daddr type local is false
  CHECK_FALSE(ev.nat("prerouting", elsewhere).forward);
}

TEST_CASE("firewalld's input chain: an icmpv6 match never takes TCP; ct status dnat only after a DNAT") {
  const char* rules = R"({"nftables": [
    {"chain": {"family": "inet", "table": "firewalld", "name": "filter_INPUT", "handle": 1, "type": "filter", "hook": "input", "prio": 10, "policy": "accept"}},
    {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_INPUT", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "icmpv6", "field": "type"}}, "right": {"set": ["nd-router-advert", "nd-neighbor-solicit"]}}}, {"accept": null}]}},
    {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_INPUT", "handle": 3, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}, {"accept": null}]}},
    {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_INPUT", "handle": 4, "expr": [{"reject": {"type": "icmpx", "expr": "admin-prohibited"}}]}}
  ]})";
  auto fw = parse_nft_ruleset(rules);
  REQUIRE(fw);
  const auto r = evaluate_hook(*fw, "input", packet(8080));
  CHECK(r.decision == FwDecision::reject);
  REQUIRE(r.rule);
  CHECK(r.rule->handle == 4);
  FwPacket translated = packet(80);
  translated.dnat = true;
  CHECK(evaluate_hook(*fw, "input", translated).decision == FwDecision::accept);
}

TEST_CASE("a rule that may or may not match decides nothing when the rest of the chain decides the same") {
  const char* rules = R"({"nftables": [
    {"chain": {"family": "inet", "table": "t", "name": "in", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
    {"rule": {"family": "inet", "table": "t", "chain": "in", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "172.16.5.7"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}}, {"accept": null}]}},
    {"rule": {"family": "inet", "table": "t", "chain": "in", "handle": 3, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}}, {"accept": null}]}},
    {"rule": {"family": "inet", "table": "t", "chain": "in", "handle": 4, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8081}}, {"drop": null}]}},
    {"rule": {"family": "inet", "table": "t", "chain": "in", "handle": 5, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "172.16.5.7"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8082}}, {"accept": null}]}},
    {"rule": {"family": "inet", "table": "t", "chain": "in", "handle": 6, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8082}}, {"drop": null}]}}
  ]})";
  auto fw = parse_nft_ruleset(rules);
  REQUIRE(fw);
  // A client on 172.16.5.0/24: rule 2 is one host of it; either way 8080 is accepted.
  CHECK(evaluate_hook(*fw, "input", packet(8080, "172.16.5.0", 24)).decision == FwDecision::accept);
  // 8082: accepted for one host, dropped for the others: unknown, never a guess.
  CHECK(evaluate_hook(*fw, "input", packet(8082, "172.16.5.0", 24)).decision == FwDecision::unknown);
}

namespace {

// Recorded from a namespace (`nft -j list ruleset`, `nft -a list ruleset`):
// marks set in prerouting and matched in input, a limit that gates a log and
// one that gates a drop, sets and verdict maps over concatenations.
const char* const marks_json = R"NFT({"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "t", "handle": 2}}, {"set": {"family": "inet", "name": "allowed", "table": "t", "type": ["ipv4_addr", "inet_service"], "handle": 5, "elem": [{"concat": ["10.0.0.1", 22]}, {"concat": ["172.16.5.7", 8080]}]}}, {"map": {"family": "inet", "name": "pv", "table": "t", "type": "inet_service", "handle": 6, "map": "verdict", "elem": [[22, {"accept": null}], [9090, {"jump": {"target": "web"}}]]}}, {"chain": {"family": "inet", "table": "t", "name": "web", "handle": 1}}, {"chain": {"family": "inet", "table": "t", "name": "pre", "handle": 2, "type": "filter", "hook": "prerouting", "prio": -150, "policy": "accept"}}, {"chain": {"family": "inet", "table": "t", "name": "in", "handle": 3, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}, {"chain": {"family": "inet", "table": "t", "name": "late", "handle": 4, "type": "filter", "hook": "input", "prio": 10, "policy": "accept"}}, {"rule": {"family": "inet", "table": "t", "chain": "web", "handle": 7, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 8}}}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "t", "chain": "web", "handle": 8, "expr": [{"drop": null}]}}, {"rule": {"family": "inet", "table": "t", "chain": "pre", "handle": 9, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}}, {"mangle": {"key": {"meta": {"key": "mark"}}, "value": 1}}]}}, {"rule": {"family": "inet", "table": "t", "chain": "pre", "handle": 10, "expr": [{"mangle": {"key": {"meta": {"key": "mark"}}, "value": {"|": [{"meta": {"key": "mark"}}, 16384]}}}]}}, {"rule": {"family": "inet", "table": "t", "chain": "pre", "handle": 11, "expr": [{"mangle": {"key": {"ct": {"key": "mark"}}, "value": {"meta": {"key": "mark"}}}}]}}, {"rule": {"family": "inet", "table": "t", "chain": "pre", "handle": 12, "expr": [{"limit": {"rate": 5, "burst": 5, "per": "minute"}}, {"log": {"prefix": "x "}}]}}, {"rule": {"family": "inet", "table": "t", "chain": "in", "handle": 13, "expr": [{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, 255]}, "right": 1}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "t", "chain": "in", "handle": 14, "expr": [{"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip", "field": "saddr"}}, {"payload": {"protocol": "tcp", "field": "dport"}}]}, "right": "@allowed"}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "t", "chain": "in", "handle": 15, "expr": [{"vmap": {"key": {"payload": {"protocol": "tcp", "field": "dport"}}, "data": "@pv"}}]}}, {"rule": {"family": "inet", "table": "t", "chain": "in", "handle": 17, "expr": [{"vmap": {"key": {"payload": {"protocol": "tcp", "field": "dport"}}, "data": {"set": [[7000, {"drop": null}], [7001, {"goto": {"target": "web"}}]]}}}]}}, {"rule": {"family": "inet", "table": "t", "chain": "in", "handle": 19, "expr": [{"vmap": {"key": {"concat": [{"payload": {"protocol": "ip", "field": "saddr"}}, {"payload": {"protocol": "tcp", "field": "dport"}}]}, "data": {"set": [[{"concat": ["172.16.5.9", 7002]}, {"accept": null}]]}}}]}}, {"rule": {"family": "inet", "table": "t", "chain": "late", "handle": 20, "expr": [{"limit": {"rate": 10, "burst": 5, "per": "second", "inv": true}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 5555}}, {"drop": null}]}}]})NFT";
const char* const marks_text = R"NFT(table inet t { # handle 2
	set allowed { # handle 5
		type ipv4_addr . inet_service
		elements = { 10.0.0.1 . 22,
			     172.16.5.7 . 8080 }
	}

	map pv { # handle 6
		type inet_service : verdict
		elements = { 22 : accept, 9090 : jump web }
	}

	chain web { # handle 1
		ip saddr 10.0.0.0/8 accept # handle 7
		drop # handle 8
	}

	chain pre { # handle 2
		type filter hook prerouting priority mangle; policy accept;
		tcp dport 8080 meta mark set 0x00000001 # handle 9
		meta mark set meta mark | 0x00004000 # handle 10
		ct mark set meta mark # handle 11
		limit rate 5/minute log prefix "x " # handle 12
	}

	chain in { # handle 3
		type filter hook input priority filter; policy drop;
		meta mark & 0x000000ff == 0x00000001 tcp dport 8080 accept # handle 13
		ip saddr . tcp dport @allowed accept # handle 14
		tcp dport vmap @pv # handle 15
		tcp dport vmap { 7000 : drop, 7001 : goto web } # handle 17
		ip saddr . tcp dport vmap { 172.16.5.9 . 7002 : accept } # handle 19
	}

	chain late { # handle 4
		type filter hook input priority filter + 10; policy accept;
		limit rate over 10/second tcp dport 5555 drop # handle 20
	}
}
)NFT";

Firewall marks_ruleset() {
  auto fw = parse_nft_ruleset(marks_json, marks_text);
  REQUIRE(fw);
  return *fw;
}

}  // namespace

TEST_CASE("marks set earlier on the path are what later rules match") {
  const Firewall fw = marks_ruleset();
  const FwEvaluator ev(fw);
  FwPacket p = packet(8080, "192.0.2.1", 32);
  // prerouting: tcp dport 8080 sets 0x1, then | 0x4000, then ct mark copies it;
  // the limit only gates a log.
  const FwResult pre = ev.hook("prerouting", p);
  CHECK(pre.decision == FwDecision::accept);
  CHECK(pre.mark == 0x4001U);
  CHECK(pre.ct_mark == 0x4001U);
  // input matches "meta mark & 0xff == 0x1": accepted...
  p.mark = pre.mark;
  p.ct_mark = pre.ct_mark;
  const FwResult in = ev.hook("input", p);
  CHECK(in.decision == FwDecision::accept);
  // ... and a packet that was not marked meets the drop policy.
  CHECK(ev.hook("input", packet(8080, "192.0.2.1", 32)).decision == FwDecision::drop);
  // Another port gets only the | 0x4000, which input's "& 0xff == 0x1" ignores.
  FwPacket other = packet(8081, "192.0.2.1", 32);
  const FwResult pre_other = ev.hook("prerouting", other);
  CHECK(pre_other.mark == 0x4000U);
  other.mark = pre_other.mark;
  CHECK(ev.hook("input", other).decision == FwDecision::drop);
  // A mark netwhy could not follow makes a mark match unknown.
  FwPacket unknown_mark = packet(8080, "192.0.2.1", 32);
  unknown_mark.mark.reset();
  CHECK(ev.hook("input", unknown_mark).decision == FwDecision::unknown);
}

TEST_CASE("sets and verdict maps over concatenations; verdict maps that jump, goto and drop") {
  const Firewall fw = marks_ruleset();
  const FwEvaluator ev(fw);
  // ip saddr . tcp dport @allowed: 172.16.5.7 . 8080 is in it, 172.16.5.8 . 8080 is not.
  CHECK(ev.hook("input", packet(8080, "172.16.5.7", 32)).decision == FwDecision::accept);
  CHECK(ev.hook("input", packet(8080, "172.16.5.8", 32)).decision == FwDecision::drop);
  // A client anywhere on 172.16.5.0/24: one host of it is in the set: unknown.
  CHECK(ev.hook("input", packet(8080, "172.16.5.0", 24)).decision == FwDecision::unknown);
  // tcp dport vmap @pv: 22 accept, 9090 jump web (10.0.0.0/8 accepted, the rest dropped).
  CHECK(ev.hook("input", packet(22, "192.0.2.1", 32)).decision == FwDecision::accept);
  CHECK(ev.hook("input", packet(9090, "10.1.1.1", 32)).decision == FwDecision::accept);
  const FwResult web = ev.hook("input", packet(9090, "192.0.2.1", 32));
  CHECK(web.decision == FwDecision::drop);
  REQUIRE(web.rule);
  CHECK(web.rule->chain == "web");
  // An anonymous verdict map: 7000 drop, 7001 goto web.
  const FwResult d = ev.hook("input", packet(7000, "10.1.1.1", 32));
  CHECK(d.decision == FwDecision::drop);
  REQUIRE(d.rule);
  CHECK(d.rule->text == "tcp dport vmap { 7000 : drop, 7001 : goto web }");
  CHECK(ev.hook("input", packet(7001, "10.1.1.1", 32)).decision == FwDecision::accept);
  // A concatenated verdict map: 172.16.5.9 . 7002 accept; another host meets the policy.
  CHECK(ev.hook("input", packet(7002, "172.16.5.9", 32)).decision == FwDecision::accept);
  CHECK(ev.hook("input", packet(7002, "172.16.5.10", 32)).decision == FwDecision::drop);
  // A key no element has: the lookup finds nothing, the rule falls through.
  CHECK(ev.hook("input", packet(7003, "10.1.1.1", 32)).decision == FwDecision::drop);
  // UDP never matches tcp dport (nor the concatenation's tcp part).
  CHECK(ev.hook("input", packet(22, "10.0.0.1", 32, "eth1", Protocol::udp)).decision == FwDecision::drop);
}

TEST_CASE("a limit that gates a drop may or may not drop: unknown; one that gates a log decides nothing") {
  const Firewall fw = marks_ruleset();
  const FwEvaluator ev(fw);
  FwPacket p = packet(5555, "172.16.5.7", 32);
  p.mark = 0x1;  // accepted by nothing in chain "in": it meets the drop policy first
  CHECK(ev.hook("input", p).decision == FwDecision::drop);
  // In chain "late" alone (priority 10) the limit decides whether 5555 drops.
  Firewall late = fw;
  late.chains.erase(std::remove_if(late.chains.begin(), late.chains.end(),
                                   [](const FwChain& c) { return c.name == "in"; }),
                    late.chains.end());
  const FwResult r = evaluate_hook(late, "input", packet(5555));
  CHECK(r.decision == FwDecision::unknown);
  REQUIRE(r.rule);
  CHECK(r.rule->handle == 20);
  CHECK(evaluate_hook(late, "input", packet(5556)).decision == FwDecision::accept);
  CHECK(evaluate_hook(late, "prerouting", packet(5555)).decision == FwDecision::accept);  // the log's limit
}

namespace {

Firewall from_listing(const std::string& listing) {
  auto fw = parse_nft_text(listing);
  REQUIRE_MESSAGE(fw, (fw ? "" : fw.error().message()));
  return *fw;
}

}  // namespace

TEST_CASE("a chain entered with different marks is evaluated for each: no two mark states share a result") {
  // (mark 2, ct mark 1) and (mark 0, ct mark unknown) once coded alike.
  const Firewall fw = from_listing(R"(table inet t { # handle 1
	chain pre { # handle 1
		type filter hook prerouting priority mangle; policy accept;
		ip saddr 192.0.2.5 ct mark set 0x00000001 # handle 3
		jump sub # handle 4
		meta mark set 0x00000002 ct mark set 0x00000001 # handle 5
		jump sub # handle 6
	}
	chain sub { # handle 2
		meta mark 0x00000002 drop # handle 7
	}
}
)");
  // Every packet reaches the second jump with mark 2: dropped.
  const FwResult r = evaluate_hook(fw, "prerouting", packet(8082, "192.0.2.0", 24));
  CHECK(r.decision == FwDecision::drop);
}

TEST_CASE("an uncertain accept before a mark statement leaves that mark unknown, not set") {
  const Firewall fw = from_listing(R"(table inet t { # handle 1
	chain pre { # handle 1
		type filter hook prerouting priority mangle; policy accept;
		ip saddr 192.0.2.5 accept # handle 3
		meta mark set 0x00000001 # handle 4
	}
	chain input { # handle 2
		type filter hook input priority filter; policy accept;
		meta mark 0x00000001 tcp dport 8082 drop # handle 5
	}
}
)");
  const FwEvaluator ev(fw);
  FwPacket p = packet(8082, "192.0.2.0", 24);
  const FwResult pre = ev.hook("prerouting", p);
  CHECK(pre.decision == FwDecision::accept);  // either way
  CHECK_FALSE(pre.mark.has_value());          // 0 for 192.0.2.5, 1 for the others
  p.mark = pre.mark;
  CHECK(ev.hook("input", p).decision == FwDecision::unknown);  // 192.0.2.5 gets in, the others don't
  // One host that is not 192.0.2.5: marked, dropped.
  FwPacket other = packet(8082, "192.0.2.9", 32);
  other.mark = ev.hook("prerouting", other).mark;
  CHECK(other.mark == 1U);
  CHECK(ev.hook("input", other).decision == FwDecision::drop);
}

TEST_CASE("thousands of rules that may or may not match: one pass, no recursion") {
  std::string listing = "table inet t { # handle 1\n\tchain input { # handle 1\n"
                        "\t\ttype filter hook input priority filter; policy accept;\n";
  for (int i = 0; i < 20000; ++i) {
    listing += fmt::format("\t\tip saddr 10.{}.{}.{} accept # handle {}\n", (i >> 16) & 255, (i >> 8) & 255,
                           i & 255, i + 2);
  }
  listing += "\t}\n}\n";
  const Firewall fw = from_listing(listing);
  // A client anywhere on 10.0.0.0/8: each rule may match; all accept, and so does the policy.
  CHECK(evaluate_hook(fw, "input", packet(8080, "10.0.0.0", 8)).decision == FwDecision::accept);
}

TEST_CASE("marks flipped on every path: bounded work, then unknown") {
  // c_i: jump c_{i+1}; meta mark set meta mark ^ bit_i; jump c_{i+1}: 2^20 mark states.
  std::string listing = "table inet t { # handle 1\n";
  int handle = 2;
  for (int i = 0; i < 20; ++i) {
    listing += fmt::format("\tchain c{} {{ # handle {}\n", i, handle++);
    if (i == 0) listing += "\t\ttype filter hook input priority filter; policy accept;\n";
    listing += fmt::format("\t\tjump c{} # handle {}\n", i + 1, handle++);
    listing += fmt::format("\t\tmeta mark set meta mark ^ 0x{:08x} # handle {}\n", 1U << i, handle++);
    listing += fmt::format("\t\tjump c{} # handle {}\n", i + 1, handle++);
    listing += "\t}\n";
  }
  listing += fmt::format("\tchain c20 {{ # handle {}\n\t\tmeta mark 0x000fffff drop # handle {}\n\t}}\n}}\n", handle,
                         handle + 1);
  const Firewall fw = from_listing(listing);
  const FwResult r = evaluate_hook(fw, "input", packet(8080, "192.0.2.1", 32));
  CHECK(r.decision == FwDecision::unknown);
  CHECK(r.why.find("so many paths") != std::string::npos);
}

TEST_CASE("a verdict map in a rule whose matches read the mark it sets first: not followed, unknown") {
  // The kernel compares mark 0 before the statement; the map's elements
  // would repeat that match after it, with mark 1.
  const Firewall fw = from_listing(R"(table inet t { # handle 1
	chain input { # handle 1
		type filter hook input priority filter; policy drop;
		meta mark 0x00000000 meta mark set 0x00000001 tcp dport vmap { 8082 : accept } # handle 2
	}
}
)");
  const FwResult r = evaluate_hook(fw, "input", packet(8082, "192.0.2.1", 32));
  CHECK(r.decision == FwDecision::unknown);
  REQUIRE(r.rule);
  CHECK(r.rule->not_understood.find("mark statement") != std::string::npos);
}

namespace {

// One chain hooked at input with the given priority, and one rule with the
// given handle and expressions: the numbers as they stand in the text.
std::string one_rule(std::string_view prio, std::string_view handle, std::string_view expr) {
  return fmt::format(R"({{"nftables": [
    {{"chain": {{"family": "inet", "table": "t", "name": "in", "handle": 1, "type": "filter", "hook": "input",
                "prio": {}, "policy": "drop"}}}},
    {{"rule": {{"family": "inet", "table": "t", "chain": "in", "handle": {}, "expr": [{}]}}}}]}})",
                     prio, handle, expr);
}

}  // namespace

TEST_CASE("numbers out of range: an error naming the field, or the rule not understood; never cast, never cut") {
  const std::string accept = R"({"accept": null})";
  SUBCASE("a rule handle past 64 bits, negative, fractional or not a number: an error naming the handle") {
    // 2^64 and 1e30 are doubles to nlohmann; casting them to an integer is undefined.
    for (const std::string_view handle : {"18446744073709551616", "1e30", "-1", "2.5", "\"7\"", "null"}) {
      CAPTURE(handle);
      const auto fw = parse_nft_ruleset(one_rule("0", handle, accept));
      REQUIRE_FALSE(fw);
      const std::string m = fw.error().message();
      CHECK(m.find("a rule of table inet t, chain in: \"handle\" is ") != std::string::npos);
      CHECK(m.find("not an integer from 0 to 18446744073709551615") != std::string::npos);
    }
    const auto top = parse_nft_ruleset(one_rule("0", "18446744073709551615", accept));  // 2^64-1 still is one
    REQUIRE(top);
    CHECK(top->rules.at(0).handle == 18446744073709551615ULL);
  }
  SUBCASE("a chain priority of 1e300, or past the kernel's 32 bits: an error naming the priority") {
    for (const std::string_view prio : {"1e300", "-1e300", "2147483648", "-2147483649", "9223372036854775808"}) {
      CAPTURE(prio);
      const auto fw = parse_nft_ruleset(one_rule(prio, "2", accept));
      REQUIRE_FALSE(fw);
      CHECK(fw.error().message().find("chain inet t in: \"prio\" is ") != std::string::npos);
      CHECK(fw.error().message().find("not an integer from -2147483648 to 2147483647") != std::string::npos);
    }
    const auto low = parse_nft_ruleset(one_rule("-2147483648", "2", accept));
    REQUIRE(low);
    CHECK(low->chains.at(0).priority == -2147483648LL);
  }
  SUBCASE("a DNAT port of 2^32+80 is not port 80: the rule is not understood") {
    const auto fw = parse_nft_ruleset(one_rule("0", "2", R"({"dnat": {"addr": "10.0.0.9", "port": 4294967376}})"));
    REQUIRE(fw);
    const FwRule& r = fw->rules.at(0);
    CHECK_FALSE(r.nat_port.has_value());
    CHECK(r.not_understood.find("dnat") == 0);
    for (const std::string_view port : {"65536", "-80", "80.5", "1e300"}) {
      CAPTURE(port);
      const auto other = parse_nft_ruleset(one_rule("0", "2", fmt::format(R"({{"dnat": {{"port": {}}}}})", port)));
      REQUIRE(other);
      CHECK_FALSE(other->rules.at(0).nat_port.has_value());
      CHECK(other->rules.at(0).not_understood != "");
    }
  }
  SUBCASE("a prefix length of 2^32+8 is not /8; a mask past 32 bits is no mask; the match is unknown") {
    const auto fw = parse_nft_ruleset(one_rule("0", "2", R"({"match": {"op": "==", "left": {"payload": {"protocol": "ip",
        "field": "saddr"}}, "right": {"prefix": {"addr": "172.0.0.0", "len": 4294967304}}}}, {"accept": null})"));
    REQUIRE(fw);
    CHECK(fw->rules.at(0).matches.at(0).key == FwKey::unknown);
    CHECK(evaluate_hook(*fw, "input", packet(80)).decision == FwDecision::unknown);  // never "accept" for 172.16.5.0
    const auto mask = parse_nft_ruleset(one_rule("0", "2", R"({"match": {"op": "==", "left": {"&": [{"meta": {"key":
        "mark"}}, 4294967551]}, "right": 1}}, {"accept": null})"));
    REQUIRE(mask);
    CHECK(mask->rules.at(0).matches.at(0).key == FwKey::unknown);
    const auto set_mark = parse_nft_ruleset(one_rule("0", "2", R"({"mangle": {"key": {"meta": {"key": "mark"}},
        "value": 4294967297}})"));
    REQUIRE(set_mark);
    REQUIRE(set_mark->rules.at(0).marks.size() == 1);
    CHECK_FALSE(set_mark->rules.at(0).marks[0].known);
  }
  SUBCASE("values past 64 bits, fractions and negative numbers are no numbers: a set holding one is incomplete") {
    for (const std::string_view v : {"18446744073709551616", "1e300", "-1", "22.5"}) {
      CAPTURE(v);
      const auto fw = parse_nft_ruleset(one_rule("0", "2", fmt::format(R"({{"match": {{"op": "==", "left": {{"payload":
          {{"protocol": "tcp", "field": "dport"}}}}, "right": {}}}}}, {{"accept": null}})",
                                                                   v)));
      REQUIRE(fw);
      CHECK(fw->rules.at(0).matches.at(0).key == FwKey::unknown);
      const auto set = parse_nft_ruleset(fmt::format(R"({{"nftables": [{{"set": {{"family": "inet", "table": "t",
          "name": "s", "elem": [22, {}]}}}}]}})",
                                                     v));
      REQUIRE(set);
      REQUIRE(set->sets.size() == 1);
      CHECK_FALSE(set->sets[0].complete);
    }
  }
  SUBCASE("an interface index of 2^32+3 is not index 3") {
    const auto fw = parse_nft_ruleset(one_rule("0", "2", R"({"match": {"op": "==", "left": {"meta": {"key": "iif"}},
        "right": 4294967299}}, {"accept": null})"));
    REQUIRE(fw);
    REQUIRE(fw->rules.at(0).matches.at(0).key == FwKey::iif);
    const FwPacket p = packet(80);  // arrives on interface 3
    CHECK(evaluate_hook(*fw, "input", p).decision == FwDecision::drop);  // the policy: the rule does not match
    const auto three = parse_nft_ruleset(one_rule("0", "2", R"({"match": {"op": "==", "left": {"meta": {"key": "iif"}},
        "right": 3}}, {"accept": null})"));
    REQUIRE(three);
    CHECK(evaluate_hook(*three, "input", p).decision == FwDecision::accept);
  }
}

TEST_CASE("one evaluator for every address: results are shared only where no rule reads an address") {
  // sub matches one address, behind a jump; late reads none; the nat chain
  // redirects whatever the address.
  const char* rules = R"({"nftables": [
    {"chain": {"family": "inet", "table": "t", "name": "in", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
    {"chain": {"family": "inet", "table": "t", "name": "sub", "handle": 2}},
    {"chain": {"family": "inet", "table": "t", "name": "late", "handle": 3, "type": "filter", "hook": "input", "prio": 10, "policy": "accept"}},
    {"chain": {"family": "ip", "table": "n", "name": "pre", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}},
    {"rule": {"family": "inet", "table": "t", "chain": "in", "handle": 4, "expr": [{"jump": {"target": "sub"}}]}},
    {"rule": {"family": "inet", "table": "t", "chain": "sub", "handle": 5, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "10.0.0.5"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 80}}, {"drop": null}]}},
    {"rule": {"family": "inet", "table": "t", "chain": "late", "handle": 6, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 81}}, {"reject": null}]}},
    {"rule": {"family": "ip", "table": "n", "chain": "pre", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 82}}, {"redirect": {"port": 8082}}]}}
  ]})";
  auto fw = parse_nft_ruleset(rules);
  REQUIRE(fw);
  const FwEvaluator ev(*fw);
  const auto to = [](const char* daddr, std::uint16_t dport) {
    FwPacket p = packet(dport, "10.0.0.0", 8);
    p.daddr = *IpAddr::parse(daddr);
    return p;
  };
  for (int round = 0; round < 2; ++round) {  // the second time from what the first left
    CHECK(ev.hook("input", to("10.0.0.6", 80)).decision == FwDecision::accept);
    const FwResult five = ev.hook("input", to("10.0.0.5", 80));
    CHECK(five.decision == FwDecision::drop);
    REQUIRE(five.rule);
    CHECK(five.rule->handle == 5);
    CHECK(ev.hook("input", to("10.0.0.7", 80)).decision == FwDecision::accept);
    for (const char* addr : {"10.0.0.5", "10.0.0.6", "10.0.0.7"}) {
      const FwResult r = ev.hook("input", to(addr, 81));
      CHECK(r.decision == FwDecision::reject);
      REQUIRE(r.chain);
      CHECK(r.chain->name == "late");
      const auto redirected = ev.nat("prerouting", to(addr, 82)).forward;
      REQUIRE(redirected);
      CHECK(redirected->to == *IpAddr::parse(addr));  // each packet's own address, though the rule is shared
      CHECK(redirected->port == 8082);
    }
    // The same packet from another interface, or with a mark, is another packet.
    FwPacket other = to("10.0.0.6", 81);
    other.iifname = "lo";
    CHECK(ev.hook("input", other).decision == FwDecision::reject);
    other.mark = 7;
    CHECK(ev.hook("input", other).mark == 7);
  }
}
