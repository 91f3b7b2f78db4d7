#!/usr/bin/env python3
"""netwhy port against rulesets as real hosts write them, beyond one chain of
plain matches: marks set in prerouting and matched in input (nft, and
iptables-nft's MARK and -m mark next to an xt conntrack match), verdict maps
(anonymous and named, with jumps), sets and verdict maps over
concatenations, and limits that gate a log or a drop. The truth is a real
connect from a client namespace; every printed fix is applied and measured
again."""

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nwtest  # noqa: E402

nwtest.require_root()
nwtest.watchdog("test_rulesets", 240)
checks = nwtest.Checks()
PY = "/usr/bin/python3"
CONNECT = os.path.join(HERE, "connect.py")
ADDR = "10.71.0.1"
CLIENT = "10.71.0.2"
OPEN, SHUT = 8000, 8001  # what each ruleset lets in, and what it keeps out


def connect(ns, port, addr=ADDR):
    r = subprocess.run(["ip", "netns", "exec", ns, PY, CONNECT, "--detail", str(port), addr],
                       capture_output=True, text=True, timeout=30)
    return json.loads(r.stdout)[addr]


def load(ns, ruleset="", commands=()):
    subprocess.run(["ip", "netns", "exec", ns, "nft", "flush", "ruleset"], check=True)
    if ruleset:
        subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=ruleset, text=True, check=True)
    for cmd in commands:
        nwtest.sh("ip", "netns", "exec", ns, *cmd)


def diagnose(S, name, port):
    r = nwtest.run("-n", S, "-j", "port", str(port), timeout=60)
    doc, err = nwtest.load_json(r.stdout)
    checks.check(err is None, f"{name}: one JSON document", err or r.stderr)
    nwtest.check_answer(checks, name, r, doc)
    return doc


def text_is_json(S, name, port):
    """netwhy reads the ruleset from nft's text listing; the same snapshot
    with nft's JSON listing added (which the loader then reads instead) must
    give the same answer."""
    snap = nwtest.run("-n", S, "-j", "snapshot", timeout=60)
    doc, err = nwtest.load_json(snap.stdout)
    if doc is None:
        checks.check(False, f"{name}: a snapshot", err)
        return
    fw = doc.get("firewall") or {}
    checks.check(fw.get("read") is True and fw.get("nftables") is None and isinstance(fw.get("listing"), str),
                 f"{name}: the snapshot holds the text listing (no JSON)", str(fw.get("unreadable")))
    nft_json = nwtest.sh("ip", "netns", "exec", S, "nft", "-j", "list", "ruleset").stdout
    with_json = json.loads(json.dumps(doc))
    with_json["firewall"]["nftables"] = json.loads(nft_json)
    answers = []
    for variant, d in (("text", doc), ("json", with_json)):
        path = f"/tmp/nwrulesets-{os.getpid()}-{variant}.json"
        with open(path, "w") as f:
            json.dump(d, f)
        try:
            r = nwtest.run("-j", "port", str(port), "--snapshot", path, timeout=60)
        finally:
            os.unlink(path)
        answers.append((r.returncode, r.stdout))
    checks.check(answers[0] == answers[1],
                 f"{name}: port {port} from the text listing answers as from nft's JSON",
                 nwtest.first_difference(json.loads(answers[0][1] or "null"), json.loads(answers[1][1] or "null")))


def endpoint(doc, addr=ADDR):
    return next((e for e in (doc or {}).get("endpoints", []) if e["address"] == addr), None)


def agrees(S, C, name, port, remote=None):
    """netwhy's endpoint against the real connects; remote=None: netwhy must
    answer from the truth; "unknown": it must say null whatever the truth."""
    doc = diagnose(S, name, port)
    text_is_json(S, name, port)
    ep = endpoint(doc)
    if ep is None:
        checks.check(False, f"{name}: an endpoint for {ADDR}")
        return doc, None
    here, there = connect(S, port), connect(C, port)
    print(f"# {name}: port {port}: srv's own connect {here}, cli's connect {there}")
    checks.check(ep["local"] == (here == "ok"), f"{name}: local {ep['local']}, srv's own connect: {here}")
    if remote == "unknown":
        checks.check(ep["remote"] is None, f"{name}: remote is null (unknown), never a guess; cli's connect: {there}",
                     f"got {ep['remote']}")
    else:
        checks.check(ep["remote"] == (there == "ok"), f"{name}: remote {ep['remote']}, cli's connect: {there}")
    return doc, there


def finding(doc, codes):
    return next((f for f in (doc or {}).get("findings", []) if f["code"] in codes), None)


def fix_applied(S, C, name, doc, port):
    """The firewall finding's fix, typed as printed in srv; then cli connects and netwhy agrees."""
    f = finding(doc, ("firewall-drop", "firewall-reject"))
    checks.check(f is not None, f"{name}: a firewall finding for port {port}",
                 str([x["code"] for x in (doc or {}).get("findings", [])]))
    if f is None:
        return
    fix = f.get("fix") or ""
    checks.check(fix.startswith(("nft ", "iptables")), f"{name}: the fix is a command", repr(fix))
    if not fix.startswith(("nft ", "iptables")):
        return
    print(f"# {name}: applying the printed fix: {fix}")
    nwtest.sh("ip", "netns", "exec", S, "sh", "-c", fix)
    after, there = agrees(S, C, f"{name}, after the fix", port)
    checks.check(there == "ok", f"{name}: after the fix cli connects", there)
    checks.check(finding(after, ("firewall-drop", "firewall-reject")) is None,
                 f"{name}: after the fix no firewall finding is left")


EXTRA = '    iif "lo" accept\n    ct state established,related accept\n'

with nwtest.Namespaces("srv", "cli") as ns:
    S, C = ns["srv"], ns["cli"]
    for role in ("srv", "cli"):
        ns.ip(role, "link", "set", "lo", "up")
    ns.wire("srv", "cli", "eth0", [f"{ADDR}/24"], [f"{CLIENT}/24"])
    for port in (OPEN, SHUT):
        ns.spawn("srv", PY, "-m", "http.server", str(port), "--bind", "0.0.0.0", "--directory", HERE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (connect(S, OPEN) != "ok" or connect(S, SHUT) != "ok"):
        time.sleep(0.1)

    try:
        # 1. A mark set in prerouting at mangle priority lets the packet through input.
        name = "1: meta mark set in prerouting, matched in input (policy drop)"
        load(S, f"""table inet m {{
  chain pre {{
    type filter hook prerouting priority mangle; policy accept;
    tcp dport {OPEN} meta mark set 0x10
    meta mark set meta mark | 0x100
  }}
  chain in {{
    type filter hook input priority 0; policy drop;
{EXTRA}    meta mark & 0xff == 0x10 accept
  }}
}}""")
        agrees(S, C, name, OPEN)
        doc, _ = agrees(S, C, name, SHUT)
        fix_applied(S, C, name, doc, SHUT)

        # 2. iptables-nft: MARK in mangle PREROUTING, -m mark in INPUT, beside
        #    the conntrack match iptables-nft keeps as an xt expression (so the
        #    tables are read through iptables-nft-save).
        name = "2: iptables MARK --set-mark, -m mark --mark, -P INPUT DROP"
        load(S, commands=[
            ("iptables-nft", "-t", "mangle", "-A", "PREROUTING", "-p", "tcp", "--dport", str(OPEN), "-j", "MARK",
             "--set-mark", "0x7"),
            ("iptables-nft", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"),
            ("iptables-nft", "-A", "INPUT", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"),
            ("iptables-nft", "-A", "INPUT", "-m", "mark", "--mark", "0x7", "-j", "ACCEPT"),
            ("iptables-nft", "-P", "INPUT", "DROP")])
        agrees(S, C, name, OPEN)
        doc, _ = agrees(S, C, name, SHUT)
        fix_applied(S, C, name, doc, SHUT)
        load(S, commands=[("iptables-nft", "-P", "INPUT", "ACCEPT")])

        # 3. Verdict maps: a named one that jumps, an anonymous one that drops.
        name = "3: tcp dport vmap @named (jump), tcp dport vmap { ... : drop }"
        load(S, f"""table inet v {{
  map ports {{ type inet_service : verdict; elements = {{ {OPEN} : jump web, 22 : accept }} }}
  chain web {{ ip saddr 10.71.0.0/24 accept; drop; }}
  chain in {{
    type filter hook input priority 0; policy accept;
    tcp dport vmap @ports
    tcp dport vmap {{ {SHUT} : drop, 9999 : drop }}
  }}
}}""")
        agrees(S, C, name, OPEN)
        doc, _ = agrees(S, C, name, SHUT)
        f = finding(doc, ("firewall-drop",))
        checks.check(f is not None and "vmap" in (f.get("rule") or ""), f"{name}: the drop names the vmap rule",
                     str(f and f.get("rule")))
        fix_applied(S, C, name, doc, SHUT)

        # 4. A set over a concatenation: cli's address and the open port only.
        name = "4: ip saddr . tcp dport @ok (cli . 8000), policy drop"
        load(S, f"""table inet c {{
  set ok {{ type ipv4_addr . inet_service; elements = {{ {CLIENT} . {OPEN} }} }}
  chain in {{
    type filter hook input priority 0; policy drop;
{EXTRA}    ip saddr . tcp dport @ok accept
  }}
}}""")
        # One host of the client's network is let in, the others are not: unknown.
        agrees(S, C, name, OPEN, remote="unknown")
        doc, _ = agrees(S, C, name, SHUT)
        fix_applied(S, C, name, doc, SHUT)

        # 5. A verdict map over a concatenation: every host of 10.71.0.0/24 . port.
        name = "5: ip saddr . tcp dport vmap { 10.71.0.0/24 . 8001 : drop }"
        load(S, f"""table inet c {{
  chain in {{
    type filter hook input priority 0; policy accept;
    ip saddr . tcp dport vmap {{ 10.71.0.0/24 . {SHUT} : drop }}
  }}
}}""")
        agrees(S, C, name, OPEN)
        doc, _ = agrees(S, C, name, SHUT)
        fix_applied(S, C, name, doc, SHUT)

        # 6. Limits: one that gates a log decides nothing; one that gates a drop
        #    decides some packets: unknown.
        name = "6: limit rate 5/minute log; limit rate over 1/second tcp dport 8001 drop"
        load(S, f"""table inet l {{
  chain in {{
    type filter hook input priority 0; policy accept;
    limit rate 5/minute log prefix "netwhy-test "
    limit rate over 1/second tcp dport {SHUT} drop
  }}
}}""")
        agrees(S, C, name, OPEN)
        agrees(S, C, name, SHUT, remote="unknown")

        # 7. A dormant table sees no packet, whatever its rules say.
        name = "7: a dormant table with a drop policy"
        load(S, """table inet d {
  flags dormant
  chain in {
    type filter hook input priority 0; policy drop;
  }
}""")
        agrees(S, C, name, OPEN)
    except nwtest.Overtime as e:
        checks.check(False, str(e))
    finally:
        load(S)

checks.done()
