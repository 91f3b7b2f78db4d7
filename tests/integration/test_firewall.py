#!/usr/bin/env python3
"""netwhy port with real nftables rules in the server's namespace, against
real connects from a client namespace (the truth): a drop, a reject, an
accept before a drop policy, a rule for another port, and an expression
netwhy does not evaluate (remote must then be null, never a wrong guess)."""

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
    ns.ip("srv", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", C)
    ns.ip("srv", "addr", "add", f"{ADDR}/24", "dev", "eth0")
    ns.ip("cli", "addr", "add", "10.70.0.2/24", "dev", "eth0")
    ns.ip("srv", "link", "set", "eth0", "up")
    ns.ip("cli", "link", "set", "eth0", "up")
    for port in (8000, 8001):
        ns.spawn("srv", PY, "-m", "http.server", str(port), "--bind", "0.0.0.0", "--directory", HERE)
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

checks.done()
