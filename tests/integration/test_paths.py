#!/usr/bin/env python3
"""The packet's whole path (issue 9): nftables rules at every hook a new
connection meets, and the way back, against real connects (the truth).

Topology (every namespace removed on exit, each scenario's rules in a table
of their own, deleted after it, the ruleset checked empty again):

    cli eth0 10.70.0.2 ---- eth0 10.70.0.1  srv
                                            srv  vctr 10.80.0.1 ---- eth0 10.80.0.2  ctr        (6, 7)
                                            srv  eth1 10.71.0.1 ---- r0 10.71.0.254  rtr  r1 10.72.0.254 ---- eth0 10.72.0.2  far
                                                                                                            (8, 9)

srv forwards (ip_forward=1, as a Docker host does), its default route goes
via cli (10.70.0.2, eth0), rp_filter is 0 unless a scenario says otherwise.
A Python HTTP server listens on 0.0.0.0:8080 in srv, except in 6 and 7
where a DNAT sends 8080 to ctr's port 80. eth1, rtr and far come only for 8
and 9, so that in 1 to 7 eth0 is the only way in.

10 (issue 9, item 8) has a network of its own:

    hst eth0 10.90.0.1 ---- p-hst [br0 in lan] p-oth ---- eth0 10.90.0.3  oth
        mv0 10.90.0.2 (a macvlan of hst's eth0, mode bridge, moved to mctr)

with a server on 0.0.0.0:8080 in mctr. hst can't reach mctr through eth0,
oth can; netwhy in hst names the macvlan (macvlan-host), netwhy in oth says
reachable, and hst's printed fix (a macvlan of its own, one && chain, so run
with sh -c) lets hst connect.

Scenarios: 1 netdev ingress drop on eth0; 2 prerouting drop at priority raw;
3 output policy drop, then with `ct state established,related accept`; 4
input `ct state established,related accept` before a drop policy; 5 a
jump-heavy ruleset (bounded time: 5a measured, 5b the time only); 6 a DNAT
reached through `fib daddr type local jump DOCKER`; 7 a forward-hook drop
after that DNAT; 8 no default route (far's replies have no way back); 9
strict rp_filter with asymmetric routes (far's SYN comes in on eth1, the
route back is the default via eth0); 10 a container on a macvlan of the
host's eth0, asked from the host and from another machine. Every printed
nft fix for a drop is applied (run as argv, no shell) and the connect
measured again.

Each scenario prints what the connects measured, then checks netwhy's
`local` and `remote` against them, the verdict, the finding and its fix.
Lines tagged [truth] check the harness (the connects measure what the
scenario is about); lines tagged [netwhy] check the answer.
"""

import json
import os
import re
import shlex
import signal
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
STARTED = time.monotonic()
BUDGET = 85          # seconds for the whole file; a watchdog aborts (cleanly) past it
NETWHY_TIMEOUT = 15  # any one netwhy run
JUMPS_TIMEOUT = 10   # scenario 5: the answer must come within this

PORT = 8080
SRV = "10.70.0.1"       # srv eth0
CLI = "10.70.0.2"       # cli eth0, srv's default gateway
SRV1 = "10.71.0.1"      # srv eth1
RTR0 = "10.71.0.254"    # rtr on srv's eth1 network
RTR1 = "10.72.0.254"
FAR = "10.72.0.2"       # a client on another subnet, via rtr
CTR_GW = "10.80.0.1"    # srv vctr
CTR = "10.80.0.2"       # the container
MV_HOST = "10.90.0.1"   # 10: hst eth0, a port of lan's bridge
MV_CTR = "10.90.0.2"    # 10: mctr mv0, a macvlan of hst's eth0
MV_OTHER = "10.90.0.3"  # 10: oth eth0, another machine on lan's bridge


Overtime = nwtest.Overtime
nwtest.watchdog("test_paths", BUDGET)


# ---------------------------------------------------------------- helpers

def elapsed():
    return f"{time.monotonic() - STARTED:5.1f}s"


def sh_in(ns_name, *cmd, check=True, input=None, timeout=30):
    return nwtest.sh("ip", "netns", "exec", ns_name, *cmd, check=check, input=input, timeout=timeout)


def truth(ns_name, addrs, port=PORT, timeout=1.0):
    """Real connects from ns_name to each address: "ok", "refused", "timeout", "blocked", ..."""
    r = subprocess.run(["ip", "netns", "exec", ns_name, PY, CONNECT, "--detail", "--timeout", str(timeout),
                        str(port), *addrs], capture_output=True, text=True, timeout=30)
    return json.loads(r.stdout)


def wait_until(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


def listening(ns_name, port=PORT):
    out = sh_in(ns_name, "ss", "-Hltnp", f"sport = :{port}").stdout
    return [line for line in out.splitlines() if "pid=" in line]


def nft_apply(ns_name, text):
    sh_in(ns_name, "nft", "-f", "-", input=text, timeout=60)


def ruleset(ns_name):
    return sh_in(ns_name, "nft", "list", "ruleset").stdout.strip()


def netwhy(what, timeout=NETWHY_TIMEOUT, ns_name=None, args=()):
    """netwhy -n srv -j port 8080 [ARGS] (or in NS_NAME), killed (its whole process group) past TIMEOUT.
    Returns (document or None, seconds it took, CompletedProcess-like or None on timeout)."""
    cmd = [nwtest.NETWHY, "-n", ns_name or S, "-j", "port", str(PORT), *args]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         errors="surrogateescape", start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        took = time.monotonic() - t0
        print(f"# {what}: netwhy did not answer within {timeout} s (killed after {took:.1f} s)")
        return None, took, None
    except BaseException:  # the watchdog or SIGTERM: netwhy goes too
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        raise
    took = time.monotonic() - t0
    r = subprocess.CompletedProcess(cmd, p.returncode, out, err)
    doc, _ = nwtest.load_json(out)
    nwtest.check_answer(checks, f"[netwhy] {what}", r, doc)
    if isinstance(doc, dict):
        eps = {e["address"]: (e.get("local"), e.get("remote")) for e in doc.get("endpoints", [])
               if not e["address"].startswith("fe80")}
        fs = [(f["code"], f["severity"]) for f in doc.get("findings", [])]
        print(f"# {what}: netwhy ({took:.2f} s, exit {p.returncode}) verdict {doc.get('verdict')}, "
              f"endpoints (local, remote) {eps}, findings {fs}")
        print(f"#   headline: {doc.get('headline')}")
        for f in doc.get("findings", []):
            print(f"#   {f['code']}: {f['message']} | fix: {f.get('fix')}"
                  + (f" | rule: {f['rule']}" if f.get("rule") else ""))
        return doc, took, r
    print(f"# {what}: netwhy exit {p.returncode}, no JSON; stderr {err.strip()[:300]!r}")
    return None, took, r


def endpoint(doc, addr):
    return next((e for e in (doc or {}).get("endpoints", []) if e["address"] == addr), None)


def text_of(f):
    """Everything a finding says: message, fix and evidence fields."""
    return " ".join(str(v) for k, v in f.items() if k not in ("code", "severity") and v is not None)


def expect(what, doc, measured, remote_addr=SRV, verdict=None, code=None, names=(), fix=None,
           mentions=None):
    """Checks one netwhy answer against the measured truth and the contract.
    measured: {"local": {addr: result}, "remote": {addr: result}} (results of connect.py --detail).
    verdict: a verdict or a set of them. code: a finding code that must be present; names: words its
    text (message, fix, rule, ...) must all contain. fix: a predicate on that finding's fix.
    mentions: words, any of which some finding's text must contain (for codes not yet named)."""
    if doc is None:
        checks.check(False, f"[netwhy] {what}: an answer", "no JSON document (or timed out)")
        return None
    for addr, res in measured.get("local", {}).items():
        e = endpoint(doc, addr)
        want = res == "ok"
        checks.check(e is not None and e["local"] == want,
                     f"[netwhy] {what}: {addr} local is {want} (a connect from srv itself: {res})",
                     f"got {e and e['local']}")
    for addr, res in measured.get("remote", {}).items():
        if addr != remote_addr:
            continue
        e = endpoint(doc, addr)
        want = res == "ok"
        checks.check(e is not None and e["remote"] is want,
                     f"[netwhy] {what}: {addr} remote is {want} (a connect from another host: {res})",
                     f"got {e and e['remote']}")
    if verdict is not None:
        want = {verdict} if isinstance(verdict, str) else set(verdict)
        checks.check(doc["verdict"] in want, f"[netwhy] {what}: verdict {' or '.join(sorted(want))}",
                     f"got {doc['verdict']}: {doc.get('headline')!r}")
    found = None
    if code is not None:
        fs = [f for f in doc["findings"] if f["code"] == code]
        named = [f for f in fs if all(re.search(r"(?<![\w-])" + re.escape(n) + r"(?![\w-])", text_of(f), re.I)
                                      for n in names)]
        checks.check(bool(named), f"[netwhy] {what}: finding {code}" + (f" naming {', '.join(names)}" if names
                                                                          else ""),
                     f"got {[(f['code'], f['message']) for f in doc['findings']]}")
        found = (named or fs or [None])[0]
        if fix is not None:
            ok = found is not None and fix(found.get("fix"))
            checks.check(ok, f"[netwhy] {what}: {code}'s fix", f"fix {found and found.get('fix')!r}")
    if mentions:
        hits = [f for f in doc["findings"] if any(m.lower() in text_of(f).lower() for m in mentions)]
        checks.check(bool(hits), f"[netwhy] {what}: a finding mentions {' or '.join(repr(m) for m in mentions)}",
                     f"got {[(f['code'], f['message']) for f in doc['findings']]}")
        found = found or (hits or [None])[0]
    return found


def measure(what, local=(SRV, "127.0.0.1")):
    """Connects from srv itself to LOCAL (in parallel), and from cli to srv's eth0 address."""
    m = {"local": truth(S, list(local)), "remote": truth(C, [SRV])}
    print(f"# {what} [{elapsed()}]: from srv itself {m['local']}; from cli {m['remote']}")
    return m


def truth_is(what, got, want):
    checks.check(got == want if isinstance(want, str) else got in want,
                 f"[truth] {what}: {want if isinstance(want, str) else ' or '.join(want)}", f"measured {got}")


def verdict_of(m, addr=SRV):
    """The verdict the truth calls for (no --host): reachable iff another host connects."""
    if m["remote"].get(addr) == "ok":
        return "reachable"
    return {"local-only", "unreachable"} if any(v == "ok" for v in m["local"].values()) else "unreachable"


def nft_argv(fix):
    """The printed fix as an argv when it is one nft command (a leading sudo dropped), else None.
    It is run without a shell: `a; b` or `&&` reach nft as arguments and fail there."""
    if not isinstance(fix, str):
        return None
    try:
        argv = shlex.split(fix)
    except ValueError:
        return None
    if argv[:1] == ["sudo"]:
        argv = argv[1:]
    return argv if argv[:1] == ["nft"] and len(argv) > 1 else None


def apply_fix(what, f):
    """Runs the finding's printed fix in srv and measures again: clients must now connect.
    Returns the new measurement, or None when there was no nft fix to apply."""
    fix = f.get("fix") if f else None
    argv = nft_argv(fix)
    checks.check(argv is not None, f"[netwhy] {what}: the finding's fix is an nft command", f"fix {fix!r}")
    if argv is None:
        return None
    applied = sh_in(S, *argv, check=False, timeout=20)
    print(f"# {what}: applied the printed fix {fix!r}: exit {applied.returncode} {applied.stderr.strip()[:200]}")
    checks.check(applied.returncode == 0, f"[netwhy] {what}: the printed fix runs", applied.stderr.strip())
    m = measure(f"{what}, after the printed fix")
    checks.check(m["remote"][SRV] == "ok", f"[netwhy] {what}: after the printed fix cli connects",
                 f"measured {m['remote'][SRV]}; ruleset:\n{ruleset(S)}")
    return m


def scenario(title):
    print(f"\n## {title} [{elapsed()}]")


def clean(ns_name, *tables):
    """Deletes this scenario's tables; the ruleset is then empty again (checked)."""
    for t in tables:
        sh_in(ns_name, "nft", "delete", "table", *t.split(), check=False)
    left = ruleset(ns_name)
    checks.check(left == "", f"[truth] cleanup: {ns_name}'s ruleset is empty again", left[:200])
    if left:
        sh_in(ns_name, "nft", "flush", "ruleset", check=False)


def counter(ns_name, name):
    """A TcpExt counter from the namespace's /proc/net/netstat (e.g. IPReversePathFilter)."""
    lines = sh_in(ns_name, "cat", "/proc/net/netstat").stdout.splitlines()
    for head, vals in zip(lines[::2], lines[1::2]):
        keys, values = head.split()[1:], vals.split()[1:]
        if name in keys:
            return int(values[keys.index(name)])
    return None


# ---------------------------------------------------------------- topology

try:
    with nwtest.Namespaces("srv", "cli", "rtr", "far") as ns:
        S, C, R, F = ns["srv"], ns["cli"], ns["rtr"], ns["far"]
        for name in (S, C, R, F):
            ns.ip(name, "link", "set", "lo", "up")
            for conf in ("all", "default"):
                sh_in(name, "sysctl", "-qw", f"net.ipv4.conf.{conf}.rp_filter=0")
        ns.ip("srv", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", C)

        def link(pairs):
            for name, dev, addr in pairs:
                ns.ip(name, "addr", "add", f"{addr}/24", "dev", dev)
                ns.ip(name, "link", "set", dev, "up")
                sh_in(name, "sysctl", "-qw", f"net.ipv4.conf.{dev}.rp_filter=0")

        link(((S, "eth0", SRV), (C, "eth0", CLI)))
        ns.ip("srv", "route", "add", "default", "via", CLI)
        sh_in(S, "sysctl", "-qw", "net.ipv4.ip_forward=1")

        def start_server():
            p = ns.spawn("srv", PY, "-m", "http.server", str(PORT), "--bind", "0.0.0.0", "--directory", HERE)
            up = wait_until(lambda: listening(S) and truth(C, [SRV], timeout=0.5)[SRV] == "ok", 20)
            checks.check(up, f"[truth] the server listens on 0.0.0.0:{PORT} in srv and cli connects",
                         f"ss {listening(S)}")
            return p

        server = start_server()
        base = measure("baseline, no rules")
        truth_is("baseline: cli connects to srv", base["remote"][SRV], "ok")
        truth_is("baseline: srv connects to itself", base["local"][SRV], "ok")
        doc, _, _ = netwhy("baseline")
        expect("baseline", doc, base, verdict="reachable")

        # ------------------------------------------------ 1: netdev ingress drop on eth0
        scenario("1: netdev ingress drop on srv's eth0")
        try:
            nft_apply(S, """table netdev nwingress {
  chain nwedge {
    type filter hook ingress device eth0 priority 0; policy accept;
    tcp dport 8080 drop
  }
}
""")
            m = measure("1 netdev ingress drop")
            truth_is("1: cli's connect to srv through eth0 times out", m["remote"][SRV], "timeout")
            truth_is("1: srv's own connects (over lo) are not affected", m["local"][SRV], "ok")
            doc, _, _ = netwhy("1 netdev ingress drop")
            f = expect("1 netdev ingress drop", doc, m, verdict=verdict_of(m), code="firewall-drop",
                       names=("netdev", "nwingress", "nwedge"))
            apply_fix("1 netdev ingress drop", f)
        finally:
            clean(S, "netdev nwingress")

        # ------------------------------------------------ 2: prerouting drop at priority raw
        scenario("2: prerouting drop at priority raw")
        try:
            nft_apply(S, """table inet nwraw {
  chain nwpre {
    type filter hook prerouting priority raw; policy accept;
    tcp dport 8080 drop
  }
}
""")
            m = measure("2 prerouting raw drop")
            truth_is("2: cli's connect times out", m["remote"][SRV], "timeout")
            truth_is("2: srv's own connect to its eth0 address times out (lo passes prerouting)",
                     m["local"][SRV], "timeout")
            truth_is("2: srv's own connect to 127.0.0.1 times out", m["local"]["127.0.0.1"], "timeout")
            doc, _, _ = netwhy("2 prerouting raw drop")
            f = expect("2 prerouting raw drop", doc, m, verdict=verdict_of(m), code="firewall-drop",
                       names=("nwraw", "nwpre"))
            apply_fix("2 prerouting raw drop", f)
        finally:
            clean(S, "inet nwraw")

        # ------------------------------------------------ 3: output policy drop
        scenario("3: output policy drop (the SYN-ACK never leaves)")
        try:
            reply = """table inet nwreply {
  chain nwoutput {
    type filter hook output priority 0; policy drop;
  }
}
"""
            nft_apply(S, reply)
            m = measure("3 output policy drop")
            truth_is("3: cli's connect times out", m["remote"][SRV], "timeout")
            truth_is("3: srv's own connect fails too (its SYN meets the output policy)", m["local"][SRV],
                     ("timeout", "blocked"))
            doc, _, _ = netwhy("3 output policy drop")
            f = expect("3 output policy drop", doc, m, verdict=verdict_of(m), code="firewall-drop",
                       names=("nwreply", "nwoutput", "policy"))
            apply_fix("3 output policy drop", f)
            sh_in(S, "nft", "delete", "table", "inet", "nwreply")  # whatever the fix changed goes with it
            nft_apply(S, reply)

            sh_in(S, "nft", "add", "rule", "inet", "nwreply", "nwoutput", "ct", "state", "established,related",
                  "accept")
            m = measure("3b output policy drop after ct state established,related accept")
            truth_is("3b: cli connects (the SYN-ACK is established)", m["remote"][SRV], "ok")
            truth_is("3b: srv's own connect still fails (its SYN is new)", m["local"][SRV],
                     ("timeout", "blocked"))
            doc, _, _ = netwhy("3b output established accept")
            expect("3b output established accept", doc, m, verdict="reachable")
        finally:
            clean(S, "inet nwreply")

        # ------------------------------------------------ 4: input established,related accept, then policy drop
        scenario("4: input accepts only ct state established,related; policy drop")
        try:
            nft_apply(S, """table inet nwin4 {
  chain nwinput {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
  }
}
""")
            m = measure("4 input established-only")
            truth_is("4: cli's connect times out", m["remote"][SRV], "timeout")
            doc, _, _ = netwhy("4 input established-only")
            f = expect("4 input established-only", doc, m, verdict=verdict_of(m), code="firewall-drop",
                       names=("nwin4", "nwinput", "policy"))
            apply_fix("4 input established-only", f)
        finally:
            clean(S, "inet nwin4")

        # ------------------------------------------------ 5: a jump-heavy ruleset
        # The kernel's jump stack holds 16 levels with the base chain as level 0: c0..c15 below a
        # base chain is refused (EMLINK, "Too many links"). So the base chain is the first of the
        # jumping levels: it jumps four times to c0, each chain four times to the next, and the
        # last drops port 9999: 4^(LEVELS-1) paths, one rule that drops, nothing for 8080.
        # The kernel runs jumps as they come, path by path, for every packet: 4^9 paths cost a few
        # ms a packet; 4^15 froze this 2-core machine for minutes. So 5a (10 levels) is measured
        # with real connects; 5b (16 levels, the issue's ruleset as far as the kernel takes it) has
        # the same structure and so the same truth, and no packet may meet it: it is loaded only
        # while srv is idle, for one netwhy run, then deleted.
        def jumps(levels):
            lines = ["table ip nwjumps {"]
            for i in range(levels - 1):
                lines.append(f"  chain c{i} {{")
                lines += [f"    jump c{i + 1}"] * 4 if i < levels - 2 else ["    tcp dport 9999 drop"]
                lines.append("  }")
            lines += ["  chain input {", "    type filter hook input priority 0; policy accept;"]
            return "\n".join(lines + ["    jump c0"] * 4 + ["  }", "}"]) + "\n"

        scenario("5a: 10 levels (input, c0..c8), each jumping four times to the next: real connects")
        try:
            nft_apply(S, jumps(10))
            m = measure("5a jumps, 4^9 paths")
            truth_is("5a: cli connects (nothing drops 8080)", m["remote"][SRV], "ok")
            truth_is("5a: srv connects to itself", m["local"][SRV], "ok")
            doc, took, _ = netwhy("5a jumps, 4^9 paths", timeout=JUMPS_TIMEOUT)
            checks.check(doc is not None and took < JUMPS_TIMEOUT,
                         f"[netwhy] 5a: answers within {JUMPS_TIMEOUT} s", f"took {took:.1f} s")
            expect("5a jumps, 4^9 paths", doc, m, verdict="reachable")
        finally:
            clean(S, "ip nwjumps")

        scenario("5b: 16 levels (input, c0..c14), each jumping four times: the time netwhy takes")
        # LISTEN and TIME-WAIT sockets send nothing unless a packet comes; anything else might.
        busy = lambda: [ln for ln in sh_in(S, "ss", "-Htan").stdout.splitlines()  # noqa: E731
                        if ln.split()[0] not in ("LISTEN", "TIME-WAIT")]
        wait_until(lambda: not busy(), 5)
        checks.check(not busy(), "[truth] 5b: srv has no connection left that could send a packet", str(busy()))
        try:
            t0 = time.monotonic()
            loaded = sh_in(S, "nft", "-f", "-", input=jumps(16), check=False, timeout=30)
            print(f"# 5b: nft -f took {time.monotonic() - t0:.2f} s, exit {loaded.returncode} "
                  f"{loaded.stderr.strip()[:200]}")
            truth_is("5b: the kernel accepts 16 levels", "yes" if loaded.returncode == 0 else "no", "yes")
            doc, took, _ = netwhy("5b jumps, 4^15 paths", timeout=JUMPS_TIMEOUT)
            print(f"# 5b: netwhy took {took:.2f} s (limit {JUMPS_TIMEOUT} s)")
            checks.check(doc is not None and took < JUMPS_TIMEOUT,
                         f"[netwhy] 5b: answers within {JUMPS_TIMEOUT} s", f"took {took:.1f} s")
            expect("5b jumps, 4^15 paths (truth: 5a's)", doc, m, verdict="reachable")
        finally:
            clean(S, "ip nwjumps")

        # ------------------------------------------------ 6: DNAT reached through a jump (Docker-style)
        scenario("6: DNAT through fib daddr type local jump DOCKER, to a container")
        ns.kill_all("srv")
        server.wait(timeout=10)
        wait_until(lambda: not listening(S), 10)
        K = ns.add("ctr")
        ns.ip("srv", "link", "add", "vctr", "type", "veth", "peer", "name", "eth0", "netns", K)
        ns.ip("srv", "addr", "add", f"{CTR_GW}/24", "dev", "vctr")
        ns.ip(K, "addr", "add", f"{CTR}/24", "dev", "eth0")
        ns.ip("srv", "link", "set", "vctr", "up")
        ns.ip(K, "link", "set", "eth0", "up")
        ns.ip(K, "link", "set", "lo", "up")
        ns.ip(K, "route", "add", "default", "via", CTR_GW)
        nat = f"""table ip nwnat {{
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local jump DOCKER
  }}
  chain DOCKER {{
    iifname != "docker0" tcp dport 8080 dnat to {CTR}:80
  }}
}}
"""
        try:
            nft_apply(S, nat)
            for bind, works in (("0.0.0.0", True), ("127.0.0.1", False)):
                what = f"6 DNAT to a container on {bind}:80"
                ctr = ns.spawn(K, PY, "-m", "http.server", "80", "--bind", bind, "--directory", HERE)
                up = wait_until(lambda: listening(K, 80), 20)
                pid = [int(p) for line in listening(K, 80) for p in re.findall(r"pid=(\d+)", line)]
                checks.check(up, f"[truth] {what}: the container listens", f"ss {listening(K, 80)}")
                if works:
                    wait_until(lambda: truth(C, [SRV], timeout=0.5)[SRV] == "ok", 5)
                m = measure(what)
                truth_is(f"{what}: cli's connect to srv:8080", m["remote"][SRV], "ok" if works else "refused")
                doc, _, _ = netwhy(what)
                f = expect(what, doc, m, verdict="reachable" if works else "unreachable", code="port-forward",
                           names=(K,))
                if not works:
                    checks.check(f is not None and f["severity"] == "error",
                                 f"[netwhy] {what}: port-forward is an error", str(f and f["severity"]))
                if f is not None and pid:
                    checks.check(f"pid {pid[0]}" in f["message"] or f.get("pid") == pid[0],
                                 f"[netwhy] {what}: port-forward names the container's process {pid[0]}",
                                 f["message"])
                ns.kill_all(K)
                ctr.wait(timeout=10)
                wait_until(lambda: not listening(K, 80), 10)

            # ------------------------------------------------ 7: forward-hook drop after the DNAT
            scenario("7: forward-hook drop after the DNAT (the forward hook sees dport 80)")
            ctr = ns.spawn(K, PY, "-m", "http.server", "80", "--bind", "0.0.0.0", "--directory", HERE)
            checks.check(wait_until(lambda: listening(K, 80), 20), "[truth] 7: the container listens on 80")
            wait_until(lambda: truth(C, [SRV], timeout=0.5)[SRV] == "ok", 5)
            try:
                nft_apply(S, """table inet nwfwd {
  chain nwforward {
    type filter hook forward priority 0; policy accept;
    tcp dport 80 drop
  }
}
""")
                m = measure("7 forward drop after DNAT")
                truth_is("7: cli's connect to srv:8080 times out", m["remote"][SRV], "timeout")
                doc, _, _ = netwhy("7 forward drop after DNAT")
                f = expect("7 forward drop after DNAT", doc, m, verdict="unreachable", code="firewall-drop",
                           names=("nwfwd", "nwforward"))
                after = apply_fix("7 forward drop after DNAT", f)
                if after is not None:
                    doc, _, _ = netwhy("7 after the printed fix")
                    expect("7 after the printed fix", doc, after, verdict=verdict_of(after))
                if after is None or after["remote"][SRV] != "ok":
                    # For the record, the fix that works: the forward hook sees the rewritten packet.
                    sh_in(S, "nft", "insert", "rule", "inet", "nwfwd", "nwforward", "ip", "daddr", CTR, "tcp",
                          "dport", "80", "accept")
                    m = measure("7 with a hand-written fix (ip daddr CTR tcp dport 80 accept, inserted)")
                    truth_is("7: a rule matching the rewritten packet lets cli connect", m["remote"][SRV], "ok")
            finally:
                ns.kill_all(K)
                clean(S, "inet nwfwd", "ip nwnat")
        except BaseException:
            sh_in(S, "nft", "flush", "ruleset", check=False)
            raise
        ns.ip("srv", "link", "del", "vctr")

        # eth1 and a router to another subnet, for the way back (8 and 9); the server on 8080 again.
        ns.ip("srv", "link", "add", "eth1", "type", "veth", "peer", "name", "r0", "netns", R)
        ns.ip("rtr", "link", "add", "r1", "type", "veth", "peer", "name", "eth0", "netns", F)
        link(((S, "eth1", SRV1), (R, "r0", RTR0), (R, "r1", RTR1), (F, "eth0", FAR)))
        ns.ip("far", "route", "add", "default", "via", RTR1)
        sh_in(R, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        server = start_server()
        checks.check(wait_until(lambda: truth(R, [SRV1], timeout=0.5)[SRV1] == "ok", 10),
                     "[truth] rtr connects to srv's eth1 address")

        # ------------------------------------------------ 8: no default route
        scenario("8: no default route on srv; a client on another subnet via rtr")
        try:
            ns.ip("srv", "route", "del", "default")
            m = measure("8 no default route")
            far, on_link = truth(F, [SRV1])[SRV1], truth(R, [SRV1])[SRV1]
            print(f"# 8: far (10.72.0.0/24, via rtr) to {SRV1}: {far}; rtr (on eth1's network) to {SRV1}: {on_link}")
            truth_is("8: far (another subnet, via rtr) times out: no route back", far, "timeout")
            truth_is("8: cli on srv's eth0 network connects", m["remote"][SRV], "ok")
            truth_is("8: rtr on srv's eth1 network connects", on_link, "ok")
            doc, _, _ = netwhy("8 no default route")
            e = endpoint(doc, SRV1)
            found = expect("8 no default route", doc, {"local": m["local"]},
                           mentions=("route back", "default route"))
            checks.check(e is not None and (e["remote"] is not True or found is not None),
                         "[netwhy] 8: remote is not simply true for the eth1 address",
                         f"remote {e and e['remote']}, no finding about the route back")
            # The printed fix, with the router netwhy can't know filled in (rtr, on eth1's network).
            fix = (found or {}).get("fix") or ""
            argv = shlex.split(fix.split(" (")[0].replace("ROUTER-ADDRESS", RTR0)) if "ROUTER-ADDRESS" in fix else []
            checks.check(argv[:4] == ["ip", "route", "add", "default"], "[netwhy] 8: the fix adds a default route",
                         repr(fix))
            if argv[:4] == ["ip", "route", "add", "default"]:
                applied = sh_in(S, *argv, check=False)
                checks.check(applied.returncode == 0, "[netwhy] 8: the printed fix runs", applied.stderr.strip())
                truth_is("8: after the printed fix, far connects", truth(F, [SRV1])[SRV1], "ok")
                doc, _, _ = netwhy("8 after the fix")
                checks.check(doc is not None and not any(f["code"] == "no-route-back" for f in doc["findings"]),
                             "[netwhy] 8: after the fix, no-route-back is gone", str(doc and doc["findings"]))
        finally:
            ns.ip("srv", "route", "replace", "default", "via", CLI, check=False)

        # ------------------------------------------------ 9: strict rp_filter, asymmetric routes
        scenario("9: strict rp_filter; far's SYN comes in on eth1, the route back is the default via eth0")
        try:
            route = sh_in(S, "ip", "route", "get", FAR).stdout.strip()
            print(f"# 9: srv's route back to far: {route}")
            truth_is("9: srv's route back to far leaves through eth0", "dev eth0" in route and "yes" or "no",
                     "yes")
            before = counter(S, "IPReversePathFilter")
            sh_in(S, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1")
            m = measure("9 strict rp_filter")
            far, on_link = truth(F, [SRV1])[SRV1], truth(R, [SRV1])[SRV1]
            after = counter(S, "IPReversePathFilter")
            print(f"# 9: far to {SRV1}: {far}; rtr to {SRV1}: {on_link}; IPReversePathFilter {before} -> {after}")
            truth_is("9: far's connect to srv's eth1 address times out", far, "timeout")
            truth_is("9: the kernel counted far's SYN as a reverse-path drop",
                     "yes" if (before is not None and after is not None and after > before) else "no", "yes")
            truth_is("9: rtr (on eth1's network, route back through eth1) connects", on_link, "ok")
            truth_is("9: cli (route back on-link through eth0) connects", m["remote"][SRV], "ok")
            doc, _, _ = netwhy("9 strict rp_filter")
            found = expect("9 strict rp_filter", doc, {"local": m["local"]}, mentions=("rp_filter",))
            # The printed fix: far's SYN is no longer dropped on arrival (its answer then goes by the
            # default route through cli, which forwards nothing here: the counter is the measure).
            fix = (found or {}).get("fix") or ""
            argv = shlex.split(fix)
            checks.check(argv[:2] == ["sysctl", "-w"], "[netwhy] 9: the fix is one sysctl command", repr(fix))
            if argv[:2] == ["sysctl", "-w"]:
                applied = sh_in(S, *argv, check=False)
                checks.check(applied.returncode == 0, "[netwhy] 9: the printed fix runs", applied.stderr.strip())
                before = counter(S, "IPReversePathFilter")
                truth(F, [SRV1])
                after = counter(S, "IPReversePathFilter")
                truth_is("9: after the printed fix, no reverse-path drop for far's SYN",
                         "yes" if before is not None and before == after else "no", "yes")
                doc, _, _ = netwhy("9 after the fix")
                checks.check(doc is not None and not any(f["code"] == "rp-filter" for f in doc["findings"]),
                             "[netwhy] 9: after the fix, rp-filter is gone", str(doc and doc["findings"]))
        finally:
            sh_in(S, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.eth1.rp_filter=0", check=False)

        # ------------------------------------------------ 10: a container on a macvlan of the host's eth0
        scenario("10: a container on a macvlan of hst's eth0, asked from hst and from another machine (oth)")
        L, H, M, O = ns.add("lan"), ns.add("hst"), ns.add("mctr"), ns.add("oth")
        for name in (L, H, M, O):
            ns.ip(name, "link", "set", "lo", "up")
        ns.ip(L, "link", "add", "br0", "type", "bridge")
        ns.ip(L, "link", "set", "br0", "up")
        for name, port, addr in ((H, "p-hst", MV_HOST), (O, "p-oth", MV_OTHER)):
            ns.ip(name, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", L)
            ns.ip(L, "link", "set", port, "master", "br0")
            ns.ip(L, "link", "set", port, "up")
            ns.ip(name, "addr", "add", f"{addr}/24", "dev", "eth0")
            ns.ip(name, "link", "set", "eth0", "up")
        made = ns.ip(H, "link", "add", "mv0", "link", "eth0", "type", "macvlan", "mode", "bridge", check=False)
        if made.returncode != 0:  # the kernel has no macvlan: say so; under CI=true that fails
            what = f"[truth] 10: this kernel makes a macvlan ({made.stderr.strip()})"
            if nwtest.IN_CI:
                checks.check(False, what)
            else:
                print(f"# SKIP 10: {what}")
        else:
            ns.ip(H, "link", "set", "mv0", "netns", M)
            ns.ip(M, "addr", "add", f"{MV_CTR}/24", "dev", "mv0")
            ns.ip(M, "link", "set", "mv0", "up")
            shown = [w.strip() for w in sh_in(M, "ip", "-d", "-o", "link", "show", "mv0").stdout.split("\\")]
            print("# 10: mctr's " + " | ".join(w if not w.startswith("macvlan") else " ".join(w.split()[:3])
                                               for w in shown if "mv0" in w or "link-netns" in w
                                               or w.startswith("macvlan")))
            ns.spawn(M, PY, "-m", "http.server", str(PORT), "--bind", "0.0.0.0", "--directory", HERE)
            up = wait_until(lambda: listening(M) and truth(O, [MV_CTR], timeout=0.5)[MV_CTR] == "ok", 20)
            checks.check(up, f"[truth] 10: the server listens on 0.0.0.0:{PORT} in mctr and oth connects",
                         f"ss {listening(M)}")
            from_host, from_other = truth(H, [MV_CTR])[MV_CTR], truth(O, [MV_CTR])[MV_CTR]
            print(f"# 10 [{elapsed()}]: to {MV_CTR}:{PORT} from hst {from_host}; from oth {from_other}")
            truth_is("10: hst's connect to its own macvlan's container gets no answer", from_host,
                     ("timeout", "host-unreachable"))
            truth_is("10: oth (another machine on the bridge) connects", from_other, "ok")

            ask = ("--host", MV_CTR, "--timeout", "1")
            doc, _, _ = netwhy("10 from hst", ns_name=H, args=ask)
            f = expect("10 from hst", doc, {"local": {MV_CTR: from_host}}, verdict="unreachable",
                       code="macvlan-host", names=("mv0", "eth0", M))
            if doc is not None and f is not None:
                checks.check(doc["headline"] == f["message"].rstrip("."),
                             "[netwhy] 10 from hst: the macvlan leads the headline", doc["headline"])
                checks.check(f["severity"] == "error" and f.get("interface") == "mv0" and f.get("netns") == M,
                             "[netwhy] 10 from hst: macvlan-host is an error with the macvlan and its namespace",
                             str(f))
                probe = [g for g in doc["findings"] if g["code"] in ("connection-timeout", "host-unreachable")]
                checks.check(len(probe) == 1 and "a firewall" not in probe[0]["message"],
                             "[netwhy] 10 from hst: the probe's finding does not blame a firewall", str(probe))
            doc, _, _ = netwhy("10 from oth", ns_name=O, args=ask)
            expect("10 from oth", doc, {"local": {MV_CTR: from_other}}, verdict="reachable")
            checks.check(doc is not None and not any(g["code"] == "macvlan-host" for g in doc["findings"]),
                         "[netwhy] 10 from oth: no macvlan-host", str(doc and doc["findings"]))

            # The printed fix, as printed: one && chain, so through sh -c, in hst.
            fix = (f or {}).get("fix") or ""
            checks.check(fix.startswith("ip link add ") and "FREE-ADDRESS" not in fix,
                         "[netwhy] 10: the fix is commands to run as they are", repr(fix))
            if fix.startswith("ip link add "):
                applied = sh_in(H, "sh", "-c", fix, check=False)
                print(f"# 10: applied the printed fix {fix!r}: exit {applied.returncode} "
                      f"{applied.stderr.strip()[:200]}")
                checks.check(applied.returncode == 0, "[netwhy] 10: the printed fix runs", applied.stderr.strip())
                wait_until(lambda: truth(H, [MV_CTR], timeout=0.5)[MV_CTR] == "ok", 5)
                after, other_after = truth(H, [MV_CTR])[MV_CTR], truth(O, [MV_CTR])[MV_CTR]
                print(f"# 10 after the fix [{elapsed()}]: to {MV_CTR}:{PORT} from hst {after}; from oth {other_after}")
                truth_is("10: after the printed fix, hst connects to the container", after, "ok")
                truth_is("10: after the printed fix, oth still connects", other_after, "ok")
                # The host's own address is still answered for by eth0 alone (arp_filter on the new macvlan).
                eth0_mac = json.loads(sh_in(H, "ip", "-j", "link", "show", "eth0").stdout)[0]["address"]
                sh_in(O, "ip", "neigh", "flush", "all")
                truth_is("10: after the fix, oth still reaches hst (nothing listens there: refused)",
                         truth(O, [MV_HOST])[MV_HOST], "refused")
                neigh = sh_in(O, "ip", "-j", "neigh", "show", MV_HOST).stdout
                learned = [n.get("lladdr") for n in json.loads(neigh or "[]")]
                truth_is(f"10: after the fix, oth still finds {MV_HOST} at hst's eth0 ({eth0_mac})",
                         "yes" if learned == [eth0_mac] else f"no: {learned}", "yes")
                doc, _, _ = netwhy("10 from hst after the fix", ns_name=H, args=ask)
                expect("10 from hst after the fix", doc, {"local": {MV_CTR: after}}, verdict="reachable")
                checks.check(doc is not None and not any(g["code"] == "macvlan-host" for g in doc["findings"]),
                             "[netwhy] 10 after the fix: macvlan-host is gone", str(doc and doc["findings"]))
        ns.kill_all(M)

except Overtime as e:
    checks.check(False, str(e))

took = time.monotonic() - STARTED
print(f"# test_paths took {took:.1f} s")
checks.check(took < 90, f"[truth] the whole file runs in under 90 s ({took:.1f} s)")
signal.alarm(0)
checks.done()
