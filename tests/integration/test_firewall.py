#!/usr/bin/env python3
"""netwhy port with real nftables rules in the server's namespace, against
real connects from a client namespace (the truth): a drop, a reject, an
accept before a drop policy, a rule for another port, and an expression
netwhy does not evaluate (remote must then be null, never a wrong guess);
a DNAT to a container namespace (its server on 0.0.0.0, then 127.0.0.1);
an IPv4-only redirect (an ip table) asked over IPv6: IPv6 clients are
refused and port-forward says why, until the same redirect is in an ip6
table too."""

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nwtest  # noqa: E402

nwtest.require_root()
checks = nwtest.Checks()
PY = "/usr/bin/python3"
CONNECT = os.path.join(HERE, "connect.py")
ADDR = "10.70.0.1"


def connect(ns, port, addr):
    r = subprocess.run(["ip", "netns", "exec", ns, PY, CONNECT, "--detail", str(port), addr],
                       capture_output=True, text=True, timeout=30)
    return json.loads(r.stdout)[addr]


def nft(ns, ruleset):
    subprocess.run(["ip", "netns", "exec", ns, "nft", "flush", "ruleset"], check=True)
    if ruleset:
        subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=ruleset, text=True, check=True)


with nwtest.Namespaces("srv", "cli") as ns:
    S, C = ns["srv"], ns["cli"]
    for role in ("srv", "cli"):
        ns.ip(role, "link", "set", "lo", "up")
    ns.wire("srv", "cli", "eth0", [f"{ADDR}/24"], ["10.70.0.2/24"])
    servers = {port: ns.spawn("srv", PY, "-m", "http.server", str(port), "--bind", "0.0.0.0", "--directory", HERE)
               for port in (8000, 8001)}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (connect(S, 8000, ADDR) != "ok" or connect(S, 8001, ADDR) != "ok"):
        time.sleep(0.1)

    def scenario(name, ruleset, port, codes=(), absent=(), unknown=False, seen=None):
        nft(S, ruleset)
        r = nwtest.run("-n", S, "-j", "port", str(port), timeout=60)
        doc, err = nwtest.load_json(r.stdout)
        checks.check(err is None, f"{name}: one JSON document", err or r.stderr)
        nwtest.check_answer(checks, name, r, doc)
        if doc is None:
            return
        ep = next(e for e in doc["endpoints"] if e["address"] == ADDR)
        local = connect(S, port, ADDR)
        remote = connect(C, port, ADDR)
        checks.check(ep["local"] == (local == "ok"), f"{name}: local {ep['local']}, a connect from here: {local}")
        if unknown:
            checks.check(ep["remote"] is None, f"{name}: remote is null (unknown), not a guess; the connect said {remote}")
        else:
            checks.check(ep["remote"] == (remote == "ok"),
                         f"{name}: remote {ep['remote']}, a connect from the client: {remote}")
        got = {f["code"]: f for f in doc["findings"]}
        for code in codes:
            checks.check(code in got, f"{name}: finding {code}", f"got {sorted(got)}")
        for code in absent:
            checks.check(code not in got, f"{name}: no {code}", f"got {sorted(got)}")
        for f in doc["findings"]:
            if f["code"] in ("firewall-drop", "firewall-reject"):
                checks.check(f.get("rule") is not None or "policy" in f["message"],
                             f"{name}: {f['code']} names the rule or the policy", f["message"])
                checks.check(f["fix"] is not None and "nft " in f["fix"], f"{name}: the fix is an nft command",
                             str(f["fix"]))
        if seen:
            msgs = " ".join(f["message"] for f in doc["findings"])
            want = {"timeout": "time out", "refused": "connection refused"}[remote] if remote in ("timeout", "refused") else None
            checks.check(remote == seen and want is not None and want in msgs,
                         f"{name}: the message says what clients see ({remote})", msgs)
        return doc

    base = """table inet filter {
  chain input {
    type filter hook input priority 0; policy %s;
%s
  }
}
"""
    scenario("drop for the port from non-loopback interfaces",
             base % ("accept", '    iifname != "lo" tcp dport 8000 drop'), 8000,
             codes=["firewall-drop"], seen="timeout")
    scenario("reject for the port", base % ("accept", '    iifname != "lo" tcp dport 8000 reject with tcp reset'),
             8000, codes=["firewall-reject"], seen="refused")
    scenario("accept before a drop policy: the accepted port",
             base % ("drop", '    iif "lo" accept\n    ct state established,related accept\n    tcp dport 8000 accept'),
             8000, absent=["firewall-drop", "firewall-reject", "firewall-unknown"])
    scenario("accept before a drop policy: another port meets the policy",
             base % ("drop", '    iif "lo" accept\n    ct state established,related accept\n    tcp dport 8000 accept'),
             8001, codes=["firewall-drop"], seen="timeout")
    scenario("a rule for a different port", base % ("accept", "    tcp dport 9999 drop"), 8000,
             absent=["firewall-drop", "firewall-reject", "firewall-unknown"])
    scenario("an expression netwhy does not evaluate",
             base % ("accept", "    ip dscp cs1 tcp dport 8000 drop"), 8000,
             codes=["firewall-unknown"], unknown=True)
    scenario("no rules at all", "", 8000, absent=["firewall-drop", "firewall-reject", "firewall-unknown"])
    nft(S, "")

    # Port forwarding to a container namespace: nothing listens on 8080 on
    # the server, a DNAT sends it to the container's 8000.
    K = ns.add("ctr")
    ns.ip("srv", "link", "add", "vctr", "type", "veth", "peer", "name", "eth0", "netns", K)
    ns.ip("srv", "addr", "add", "10.80.0.1/24", "dev", "vctr")
    ns.ip(K, "addr", "add", "10.80.0.2/24", "dev", "eth0")
    ns.ip("srv", "link", "set", "vctr", "up")
    ns.ip(K, "link", "set", "eth0", "up")
    ns.ip(K, "link", "set", "lo", "up")
    ns.ip(K, "route", "add", "default", "via", "10.80.0.1")
    subprocess.run(["ip", "netns", "exec", S, "sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)
    dnat = """table ip nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    tcp dport 8080 dnat to 10.80.0.2:8000
  }
}
"""
    for bind, works in (("0.0.0.0", True), ("127.0.0.1", False)):
        server = ns.spawn(K, PY, "-m", "http.server", "8000", "--bind", bind, "--directory", HERE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ss = subprocess.run(["ip", "netns", "exec", K, "ss", "-Hltnp", "sport = :8000"], capture_output=True,
                                text=True).stdout
            if "pid=" in ss:
                break
            time.sleep(0.1)
        pid = int(ss.split("pid=")[1].split(",")[0]) if "pid=" in ss else None
        doc = scenario(f"DNAT 8080 to a container listening on {bind}:8000", dnat, 8080,
                       codes=["port-forward"], absent=["firewall-unknown"])
        truth = connect(C, 8080, ADDR)
        checks.check(truth == "ok" if works else truth != "ok",
                     f"DNAT to {bind}: the client's connect says {truth}")
        fwd = [f for f in (doc or {}).get("findings", []) if f["code"] == "port-forward"]
        checks.check(fwd and f"pid {pid}" in fwd[0]["message"] and K in fwd[0]["message"],
                     f"DNAT to {bind}: netwhy names the container's namespace and process (pid {pid})",
                     str(fwd))
        checks.check(doc is not None and doc["verdict"] == ("reachable" if truth == "ok" else "unreachable"),
                     f"DNAT to {bind}: verdict {doc and doc['verdict']}, the connect says {truth}")
        server.kill()
        server.wait()
        ns.kill_all(K)
    nft(S, "")

    # An IPv4-only redirect asked over IPv6: srv has an IPv4 and an IPv6 address on
    # eth0, a dual-stack server on [::]:8000 takes both families, and `redirect to :8000`
    # for port 8080 sits in an ip table, which sees IPv4 only. IPv4 clients to 8080 are
    # redirected; IPv6 clients reach srv's own (empty) port 8080 and are refused. Then
    # the fix netwhy describes, the same redirect in an ip6 table, by hand.
    V6, CLI6 = "fd00:70::1", "fd00:70::2"
    ns.ip("srv", "addr", "add", f"{V6}/64", "dev", "eth0", "nodad")
    ns.ip("cli", "addr", "add", f"{CLI6}/64", "dev", "eth0", "nodad")
    servers[8000].kill()
    servers[8000].wait()
    ns.spawn("srv", PY, "-m", "http.server", "8000", "--bind", "::", "--directory", HERE)  # IPV6_V6ONLY 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (connect(C, 8000, ADDR) != "ok" or connect(C, 8000, V6) != "ok"):
        time.sleep(0.1)
    direct = {a: connect(C, 8000, a) for a in (ADDR, V6)}
    print(f"# redirect: cli's connects straight to port 8000 (the dual-stack server): {direct}")
    checks.check(direct == {ADDR: "ok", V6: "ok"}, "[truth] redirect: the server on [::]:8000 takes IPv4 and IPv6",
                 str(direct))
    redirect = """table %s nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    tcp dport 8080 redirect to :8000
  }
}
"""

    def one_family(doc):
        """The port-forward finding that says the other family is not forwarded."""
        return [f for f in (doc or {}).get("findings", [])
                if f["code"] == "port-forward" and "not forwarded" in f["message"]]

    def redirected(what, want):
        """Connects to 8080 from cli (the truth) and from srv, then netwhy: each endpoint's local
        and remote against them, the verdict; WANT: what cli's connects must say (the truth)."""
        remote = {a: connect(C, 8080, a) for a in (ADDR, V6)}
        local = {a: connect(S, 8080, a) for a in (ADDR, V6)}
        print(f"# {what}: cli's connects to port 8080 {remote}; srv's own {local}")
        for a, res in want.items():
            checks.check(remote[a] == res, f"[truth] {what}: cli's connect to {a} port 8080: {res}",
                         f"measured {remote[a]}")
        r = nwtest.run("-n", S, "-j", "port", "8080", timeout=60)
        doc, err = nwtest.load_json(r.stdout)
        checks.check(err is None, f"{what}: one JSON document", err or r.stderr)
        nwtest.check_answer(checks, what, r, doc)
        if doc is None:
            return None
        print(f"# {what}: netwhy verdict {doc['verdict']}, endpoints (local, remote) "
              f"{ {e['address']: (e['local'], e['remote']) for e in doc['endpoints'] if e['address'] in remote} }")
        for f in doc["findings"]:
            print(f"#   {f['severity']} {f['code']}: {f['message']} | fix: {f['fix']}"
                  + (f" | address: {f['address']}" if f.get("address") else ""))
        for a in (ADDR, V6):
            ep = next((e for e in doc["endpoints"] if e["address"] == a), None)
            checks.check(ep is not None and ep["local"] == (local[a] == "ok"),
                         f"{what}: {a} local {ep and ep['local']}, a connect from here: {local[a]}")
            checks.check(ep is not None and ep["remote"] is (remote[a] == "ok"),
                         f"{what}: {a} remote {ep and ep['remote']}, a connect from the client: {remote[a]}")
        want_verdict = "reachable" if "ok" in remote.values() else "unreachable"
        checks.check(doc["verdict"] == want_verdict, f"{what}: verdict {doc['verdict']}, the connects say "
                     f"{want_verdict}", doc["headline"])
        codes = [f["code"] for f in doc["findings"]]
        checks.check("firewall-unknown" not in codes, f"{what}: no firewall-unknown", str(codes))
        return doc

    nft(S, redirect % "ip")
    doc = redirected("redirect in an ip table", {ADDR: "ok", V6: "refused"})
    fs = one_family(doc)
    checks.check(len(fs) == 1, "redirect in an ip table: one port-forward finding says IPv6 is not forwarded",
                 str([(f["code"], f["message"]) for f in (doc or {}).get("findings", [])]))
    if fs:
        f = fs[0]
        covers = V6 in (f.get("address") or "") or f"[{V6}]:8080" in f["message"]
        checks.check(covers, f"redirect in an ip table: the finding names [{V6}]:8080",
                     f"address {f.get('address')!r}, message {f['message']!r}")
        checks.check("in an ip table" in f["message"] and "IPv4 only" in f["message"],
                     "redirect in an ip table: the finding says the rule is in an ip table, which sees IPv4 only",
                     f["message"])
        checks.check(ADDR not in (f.get("address") or "") and f"{ADDR}:8080" not in f["message"],
                     f"redirect in an ip table: the finding does not name {ADDR} (IPv4 is redirected)", f["message"])
        checks.check(f["severity"] != "info", "redirect in an ip table: the finding is a warning or an error "
                     "(IPv6 clients are refused)", f["severity"])
        checks.check(isinstance(f["fix"], str) and "ip6 table" in f["fix"],
                     "redirect in an ip table: the fix is the same rule in an ip6 table", str(f["fix"]))
    # The fix it describes, by hand: the same redirect in an ip6 nat table (added, the ip one stays).
    subprocess.run(["ip", "netns", "exec", S, "nft", "-f", "-"], input=redirect % "ip6", text=True, check=True)
    doc = redirected("the same redirect in an ip6 table too", {ADDR: "ok", V6: "ok"})
    checks.check(doc is not None and not one_family(doc),
                 "the same redirect in an ip6 table too: no finding says IPv6 is not forwarded",
                 str([(f["code"], f["message"]) for f in (doc or {}).get("findings", [])]))
    checks.check(any(f["code"] == "port-forward" and "table ip6 nat" in f["message"] and f"[{V6}]:8000" in f["message"]
                     for f in (doc or {}).get("findings", [])),
                 f"the same redirect in an ip6 table too: port-forward says [{V6}]:8080 goes to [{V6}]:8000 "
                 "through the ip6 table", str([f["message"] for f in (doc or {}).get("findings", [])]))
    nft(S, "")

checks.done()
