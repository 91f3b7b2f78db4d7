#!/usr/bin/env python3
"""netwhy port's answers against real connects, one question at a time.

A server namespace and a client namespace joined by veth pairs: eth0 (up,
IPv4 and IPv6), eth1 (the server's end down), br0 on the server (a bridge
whose only port is down: no carrier) and eth3 (up, a second path). The
client routes to the down and carrier-less addresses through eth0, as a
client elsewhere on the network would reach them through the server's up
interface (the weak host model). Real servers (socket scripts, Flask,
Tomcat), real nftables rules, and for every answer the truth measured by
real connects (connect.py) from the namespace the question is about.

Every netwhy run also passes the contract's invariants (answer()): one JSON
document, a non-empty headline, the exit status of the verdict, no
`reachable` beside an error finding, and only finding codes from
include/netwhy/findings.hpp.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import nwtest  # noqa: E402

nwtest.require_root()
checks = nwtest.Checks()
PY = "/usr/bin/python3"
SERVERS = os.path.join(HERE, "servers.py")
CONNECT = os.path.join(HERE, "connect.py")
STARTED = time.monotonic()

EXIT_OF = nwtest.EXIT_OF
CODES = nwtest.CODES
if len(CODES) < 20:
    print(f"FAIL: read only {len(CODES)} finding codes from include/netwhy/findings.hpp")
    sys.exit(1)

SRV_V4 = "10.70.0.1"      # eth0, up
SRV_V6 = "fd70::1"        # eth0, up
DOWN_V4 = "10.71.0.1"     # eth1, administratively down
NOCARRIER_V4 = "10.90.0.1"  # br0, up without carrier
SIDE_V4 = "10.72.0.1"     # eth3, up: another way in
CLI_V4 = "10.70.0.2"
NOBODY_V4 = "10.70.0.99"  # on the client's link, owned by nobody: ARP fails
NOROUTE_V4 = "10.99.0.1"  # the client has no route to it


# ---------------------------------------------------------------- helpers

def truth(ns_name, port, addrs, udp=False, timeout=1.5):
    """What real connects from ns_name to each address do: "ok", "refused", "timeout", ..."""
    args = ["ip", "netns", "exec", ns_name, PY, CONNECT, "--detail", "--timeout", str(timeout)]
    r = subprocess.run(args + (["--udp"] if udp else []) + [str(port)] + list(addrs),
                       capture_output=True, text=True, timeout=30)
    return json.loads(r.stdout)


def listening(ns_name, port, udp=False):
    out = nwtest.sh("ip", "netns", "exec", ns_name, "ss", "-Hlunp" if udp else "-Hltnp", f"sport = :{port}").stdout
    return [line for line in out.splitlines() if line.strip()]


def pids_on(ns_name, port, udp=False):
    return sorted({int(p) for line in listening(ns_name, port, udp) for p in re.findall(r"pid=(\d+)", line)})


def wait_until(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


def start(what, ns_name, cmd, port, udp=False, sockets=1, timeout=20.0, **popen):
    """Starts a server in the namespace; waits (bounded) for its listening sockets and their pids."""
    p = subprocess.Popen(["ip", "netns", "exec", ns_name, *cmd], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, **popen)
    ns.procs.append(p)
    up = wait_until(lambda: len([line for line in listening(ns_name, port, udp) if "pid=" in line]) >= sockets,
                    timeout)
    checks.check(up, f"{what}: the server listens on {'udp' if udp else 'tcp'} {port}",
                 f"ss shows {listening(ns_name, port, udp)}")
    return p


def stop(ns_name, port=None, udp=False, procs=()):
    ns.kill_all(ns_name)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    if port is not None:
        wait_until(lambda: not listening(ns_name, port, udp), 10)


def answer(what, args, where=None, exec_in=None, user=None, timeout=60):
    """Runs netwhy ARGS -j (with -n WHERE, or inside EXEC_IN by ip netns exec so /etc/netns applies,
    as USER when given) and checks the invariants every answer keeps. Returns (process, document)."""
    cmd = [nwtest.NETWHY] + (["-n", where] if where else []) + ["-j"] + list(args)
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--"] + cmd
    if exec_in:
        cmd = ["ip", "netns", "exec", exec_in] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, errors="surrogateescape", timeout=timeout)
    doc, _ = nwtest.load_json(r.stdout)
    nwtest.check_answer(checks, what, r, doc)
    if not isinstance(doc, dict):
        return r, None
    return r, doc


def findings(doc, code):
    return [f for f in (doc or {}).get("findings", []) if f["code"] == code]


def codes(doc):
    return sorted({f["code"] for f in (doc or {}).get("findings", [])})


def endpoint(doc, addr):
    return next((e for e in (doc or {}).get("endpoints", []) if e["address"] == addr), None)


def verdict_is(what, doc, r, want, why):
    got = doc["verdict"] if doc else None
    checks.check(got == want, f"{what}: verdict {want} ({why})", f"got {got}, exit {r.returncode}, "
                 f"headline {doc and doc.get('headline')!r}")


def has(what, doc, code, severity=None, mentions=None):
    fs = findings(doc, code)
    checks.check(bool(fs), f"{what}: finding {code}", f"got {codes(doc)}")
    if fs and severity:
        sev = {f["severity"] for f in fs}
        ok = sev <= set(severity) if isinstance(severity, (tuple, list, set)) else sev == {severity}
        checks.check(ok, f"{what}: {code} has severity {severity}", f"got {sorted(sev)}")
    if fs and mentions:
        text = " ".join(f["message"] + " " + (f["fix"] or "") for f in fs)
        checks.check(mentions.lower() in text.lower(), f"{what}: {code} mentions {mentions!r}", text)
    return fs


def lacks(what, doc, *bad):
    there = [c for c in bad if findings(doc, c)]
    checks.check(not there, f"{what}: no finding {' / '.join(bad)}", f"got {codes(doc)}")


def probe_headline(what, doc, host):
    """A question about another host: the headline tells what connecting there did, not what listens here."""
    head = (doc or {}).get("headline", "")
    checks.check(host in head and "nothing listens" not in head.lower(),
                 f"{what}: the headline is about {host}, not about what listens here", head)


def nft(ns_name, *rules):
    """Replaces the namespace's ruleset: table inet t, chain `in` on the input hook, these rules."""
    nwtest.sh("ip", "netns", "exec", ns_name, "nft", "flush", "ruleset")
    if rules:
        text = ("table inet t {\n  chain in {\n    type filter hook input priority 0; policy accept;\n" +
                "".join(f"    {r}\n" for r in rules) + "  }\n}\n")
        nwtest.sh("ip", "netns", "exec", ns_name, "nft", "-f", "-", input=text)


def columns(line):
    """Start offsets of the cells of a table row (cells are separated by two or more spaces)."""
    return [m.start() for m in re.finditer(r"\S+(?: \S+)*", line)]


def table_rows(text):
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("Address") and "Interface" in line:
            rows = []
            for row in lines[i + 1:]:
                if not row.strip() or row.lstrip().startswith("("):
                    break
                rows.append(row)
            return line, rows
    return None, []


# ---------------------------------------------------------------- topology

with nwtest.Namespaces("srv", "cli") as ns:
    S, C = ns["srv"], ns["cli"]
    for role in ("srv", "cli"):
        for conf in ("all", "default"):
            nwtest.sh("ip", "netns", "exec", ns[role], "sysctl", "-qw", f"net.ipv6.conf.{conf}.accept_dad=0")
        ns.ip(role, "link", "set", "lo", "up")
    ns.ip("srv", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", C)
    ns.ip("srv", "addr", "add", f"{SRV_V4}/24", "dev", "eth0")
    ns.ip("srv", "addr", "add", f"{SRV_V6}/64", "dev", "eth0", "nodad")
    ns.ip("cli", "addr", "add", f"{CLI_V4}/24", "dev", "eth0")
    ns.ip("cli", "addr", "add", "fd70::2/64", "dev", "eth0", "nodad")
    ns.ip("srv", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1", "netns", C)
    ns.ip("srv", "addr", "add", f"{DOWN_V4}/24", "dev", "eth1")
    ns.ip("cli", "addr", "add", "10.71.0.2/24", "dev", "eth1")
    ns.ip("srv", "link", "add", "br0", "type", "bridge")
    ns.ip("srv", "link", "add", "brp", "type", "veth", "peer", "name", "eth2", "netns", C)
    ns.ip("srv", "link", "set", "brp", "master", "br0")
    ns.ip("srv", "addr", "add", f"{NOCARRIER_V4}/24", "dev", "br0")
    ns.ip("cli", "addr", "add", "10.90.0.2/24", "dev", "eth2")
    ns.ip("srv", "link", "add", "eth3", "type", "veth", "peer", "name", "eth3", "netns", C)
    ns.ip("srv", "addr", "add", f"{SIDE_V4}/24", "dev", "eth3")
    ns.ip("cli", "addr", "add", "10.72.0.2/24", "dev", "eth3")
    for dev in ("eth0", "eth1", "br0", "eth3"):
        ns.ip("srv", "link", "set", dev, "up")
    for dev in ("eth0", "eth1", "eth2", "eth3"):
        ns.ip("cli", "link", "set", dev, "up")
    ns.ip("srv", "link", "set", "eth1", "down")   # interface down
    ns.ip("srv", "link", "set", "brp", "down")    # bridge without carrier
    # A client elsewhere reaches those two addresses through the server's up eth0.
    for addr in (DOWN_V4, NOCARRIER_V4):
        ns.ip("cli", "route", "add", f"{addr}/32", "via", SRV_V4)
    # ARP for an address nobody has fails after one solicitation (1 s), not three.
    nwtest.sh("ip", "netns", "exec", C, "sysctl", "-qw", "net.ipv4.neigh.eth0.mcast_solicit=1")
    nwtest.sh("ip", "netns", "exec", C, "sysctl", "-qw", "net.ipv4.neigh.eth0.ucast_solicit=1")
    wait_until(lambda: truth(C, 9, [SRV_V6], timeout=0.5)[SRV_V6] == "refused", 10)  # IPv6 on eth0 is usable

    tcp = lambda addr, port, *more: [PY, SERVERS, "tcp", addr, str(port), *map(str, more)]  # noqa: E731
    udp = lambda addr, port: [PY, SERVERS, "udp", addr, str(port)]  # noqa: E731

    # ------------------------------------------------ 5 and 1a: the weak host model, --host with the server's own IP
    w = "weak host model, 0.0.0.0:8080"
    srv8080 = start(w, S, tcp("0.0.0.0", 8080), 8080)
    remote = truth(C, 8080, [SRV_V4, DOWN_V4, NOCARRIER_V4])
    local = truth(S, 8080, ["127.0.0.1", SRV_V4, DOWN_V4, NOCARRIER_V4])
    print(f"# truth, {w}: from the client via eth0 {remote}; from the server itself {local}")
    # The same addresses reached over their own links (the client without its /32 routes): for the record.
    for addr in (DOWN_V4, NOCARRIER_V4):
        ns.ip("cli", "route", "del", f"{addr}/32")
    own_link = truth(C, 8080, [DOWN_V4, NOCARRIER_V4], timeout=1.5)
    for addr in (DOWN_V4, NOCARRIER_V4):
        ns.ip("cli", "route", "add", f"{addr}/32", "via", SRV_V4)
    print(f"# truth, {w}: from the client over the address's own (dead) link {own_link}")
    r, doc = answer(w, ["port", "8080"], where=S)
    for addr in (DOWN_V4, NOCARRIER_V4):
        e = endpoint(doc, addr)
        checks.check(e is not None and e["remote"] == (remote[addr] == "ok"),
                     f"{w}: remote for {addr} is what a client routed via eth0 finds ({remote[addr]})",
                     f"got {e and e['remote']}")
        checks.check(e is not None and e["local"] == (local[addr] == "ok"),
                     f"{w}: local for {addr} is what a connect from the server finds ({local[addr]})",
                     f"got {e and e['local']}")
    verdict_is(w, doc, r, "reachable" if "ok" in remote.values() else "unreachable", f"clients connect: {remote}")
    has(w, doc, "interface-down", severity="warning")
    has(w, doc, "no-carrier", severity="warning")
    w1 = f"--host {SRV_V4} (own address, eth0 up) on the server"
    r, doc = answer(w1, ["port", "8080", "--host", SRV_V4], where=S)
    verdict_is(w1, doc, r, "reachable" if remote[SRV_V4] == "ok" else "unreachable", f"the client: {remote[SRV_V4]}")
    for addr in (DOWN_V4, NOCARRIER_V4):
        w1 = f"--host {addr} (own address, interface {'down' if addr == DOWN_V4 else 'without carrier'}) on the server"
        r, doc = answer(w1, ["port", "8080", "--host", addr], where=S)
        verdict_is(w1, doc, r, "reachable" if remote[addr] == "ok" else "unreachable",
                   f"a client routed via eth0: {remote[addr]}")

    # ------------------------------------------------ 3a: an ordinary user can't see enough
    w = "unprivileged, 0.0.0.0:8080 that every client reaches"
    r, doc = answer(w, ["port", "8080"], exec_in=S, user=65534)
    print(f"# truth, {w}: {truth(C, 8080, [SRV_V4])}")
    verdict_is(w, doc, r, "unknown", "clients connect, but an ordinary user can't read the firewall")
    head = (doc or {}).get("headline", "")
    checks.check("root" in head, f"{w}: the headline says how to find out (as root)", head)

    # ------------------------------------------------ 2: client-side questions
    start("client side", S, tcp("0.0.0.0", 80), 80)
    w = f"from the client, --host {SRV_V4} port 80 (accepts)"
    t = truth(C, 80, [SRV_V4])[SRV_V4]
    r, doc = answer(w, ["port", "80", "--host", SRV_V4, "--timeout", "1"], where=C)
    verdict_is(w, doc, r, "reachable" if t == "ok" else "unreachable", f"a connect: {t}")
    has(w, doc, "connection-ok")
    lacks(w, doc, "not-listening", "privileged-port")
    errs = [f["code"] for f in (doc or {}).get("findings", []) if f["severity"] == "error"]
    checks.check(not errs, f"{w}: no error finding", f"errors {errs}")
    probe_headline(w, doc, SRV_V4)
    text = nwtest.run("-n", C, "--color=never", "port", "80", "--host", SRV_V4, "--timeout", "1")
    header, rows = table_rows(text.stdout)
    checks.check(header is not None and rows, f"{w}: the text output has the address table", text.stdout[:300])
    if header:
        bad = [row for row in rows if columns(row) != columns(header)]
        checks.check(not bad, f"{w}: every row's columns start where the header's do {columns(header)}",
                     "; ".join(f"{row!r} at {columns(row)}" for row in bad))
    for host, port, code in ((SRV_V4, 5999, "connection-refused"), (NOROUTE_V4, 8080, "no-route")):
        w = f"from the client, --host {host} port {port}"
        t = truth(C, port, [host])[host]
        r, doc = answer(w, ["port", str(port), "--host", host, "--timeout", "1"], where=C)
        verdict_is(w, doc, r, "reachable" if t == "ok" else "unreachable", f"a connect: {t}")
        has(w, doc, code)
        lacks(w, doc, "not-listening")
        probe_headline(w, doc, host)

    # ------------------------------------------------ 3c: UDP on another host is never probed
    srv5353 = start("udp on the other host", S, udp("0.0.0.0", 5353), 5353, udp=True)
    w = f"from the client, --udp --host {SRV_V4} port 5353 (the server echoes)"
    t = truth(C, 5353, [SRV_V4], udp=True)[SRV_V4]
    r, doc = answer(w, ["port", "5353", "--udp", "--host", SRV_V4, "--timeout", "1"], where=C)
    print(f"# truth, {w}: {t}")
    verdict_is(w, doc, r, "unknown", f"UDP has no handshake; the echo says {t}")
    has(w, doc, "not-probed")

    # ------------------------------------------------ 1b: a firewall drop on the server
    w = "nft input drop of tcp 8080 on the server"
    nft(S, "tcp dport 8080 drop")
    remote = truth(C, 8080, [SRV_V4], timeout=1)
    local = truth(S, 8080, ["127.0.0.1"], timeout=1)
    print(f"# truth, {w}: from the client {remote}; from the server {local}")
    r, doc = answer(f"{w}: --host {SRV_V4} on the server", ["port", "8080", "--host", SRV_V4], where=S)
    verdict_is(f"{w}: --host {SRV_V4} on the server", doc, r,
               "reachable" if remote[SRV_V4] == "ok" else "unreachable", f"the client's connect: {remote[SRV_V4]}")
    has(f"{w}: --host {SRV_V4} on the server", doc, "firewall-drop")
    r, doc = answer(f"{w}: --host 127.0.0.1 on the server", ["port", "8080", "--host", "127.0.0.1"], where=S)
    verdict_is(f"{w}: --host 127.0.0.1 on the server", doc, r,
               "reachable" if local["127.0.0.1"] == "ok" else "unreachable",
               f"a connect on this host: {local['127.0.0.1']}")
    w2 = f"from the client, --host {SRV_V4} port 8080 (dropped)"
    r, doc = answer(w2, ["port", "8080", "--host", SRV_V4, "--timeout", "1"], where=C)
    verdict_is(w2, doc, r, "reachable" if remote[SRV_V4] == "ok" else "unreachable", f"a connect: {remote[SRV_V4]}")
    has(w2, doc, "connection-timeout")
    lacks(w2, doc, "not-listening")
    probe_headline(w2, doc, SRV_V4)

    w = "nft input drop of tcp 8080 except on lo"
    nft(S, 'iifname != "lo" tcp dport 8080 drop')
    local = truth(S, 8080, ["127.0.0.1"], timeout=1)
    remote = truth(C, 8080, [SRV_V4], timeout=1)
    print(f"# truth, {w}: from the client {remote}; from the server {local}")
    r, doc = answer(f"{w}: --host 127.0.0.1 on the server", ["port", "8080", "--host", "127.0.0.1"], where=S)
    verdict_is(f"{w}: --host 127.0.0.1 on the server", doc, r,
               "reachable" if local["127.0.0.1"] == "ok" else "unreachable",
               f"a connect on this host: {local['127.0.0.1']} (other hosts: {remote[SRV_V4]})")

    # ------------------------------------------------ 3b: a rule whose outcome for a new SYN can't be known
    for rule in ("tcp dport 8080 limit rate over 1000/second drop", "tcp dport 8080 numgen inc mod 100000 99999 drop"):
        w = f"nft rule netwhy can't evaluate ({rule})"
        nft(S, rule)
        remote = truth(C, 8080, [SRV_V4])
        print(f"# truth, {w}: {remote}")
        r, doc = answer(w, ["port", "8080"], where=S)
        verdict_is(w, doc, r, "unknown", f"clients connect ({remote[SRV_V4]}) but the rule decides per packet")
        e = endpoint(doc, SRV_V4)
        checks.check(e is not None and e["remote"] is None, f"{w}: remote for {SRV_V4} is null",
                     f"got {e and e['remote']}")
        r, doc = answer(f"{w}: --host {SRV_V4} on the server", ["port", "8080", "--host", SRV_V4], where=S)
        verdict_is(f"{w}: --host {SRV_V4} on the server", doc, r, "unknown", "its endpoint's remote is null")
    nft(S)

    # ------------------------------------------------ 8: how a probe failed
    w = f"from the client, --host {NOBODY_V4} (on-link, nobody answers ARP)"
    t = truth(C, 8080, [NOBODY_V4], timeout=3)[NOBODY_V4]
    r, doc = answer(w, ["port", "8080", "--host", NOBODY_V4, "--timeout", "3"], where=C)
    print(f"# truth, {w}: {t}")
    verdict_is(w, doc, r, "unreachable", f"a connect: {t}")
    if t == "host-unreachable":
        has(w, doc, "host-unreachable")
        lacks(w, doc, "connection-refused", "no-route")
    else:
        checks.check(False, f"{w}: the truth is EHOSTUNREACH", f"the connect gave {t}")

    w = f"from the client, --host {SRV_V6} with the client's own nft output reject (admin-prohibited)"
    srv6 = start(w, S, tcp("::", 8081), 8081)
    nwtest.sh("ip", "netns", "exec", C, "nft", "-f", "-", input=(
        "table inet o {\n  chain out {\n    type filter hook output priority 0; policy accept;\n"
        f"    ip6 daddr {SRV_V6} tcp dport 8081 reject with icmpv6 type admin-prohibited\n  }}\n}}\n"))
    # The reject's ICMPv6 for the first SYN comes while connect() still holds the socket: only a soft error.
    # The SYN sent again after 1 s gets EACCES: both the truth and the probe wait 3 s.
    t = truth(C, 8081, [SRV_V6], timeout=3)[SRV_V6]
    print(f"# truth, {w}: {t}")
    r, doc = answer(w, ["port", "8081", "--host", SRV_V6, "--timeout", "3"], where=C)
    verdict_is(w, doc, r, "unreachable", f"a connect: {t}")
    if t == "blocked":
        has(w, doc, "connection-blocked")
        lacks(w, doc, "connection-refused", "connection-timeout")
    else:
        checks.check(False, f"{w}: the truth is EACCES/EPERM", f"the connect gave {t}")
    nft(C)

    w = "from the client, --host dualsrv (IPv6 connects, IPv4 has no route)"
    etc = f"/etc/netns/{C}"
    os.makedirs(etc, exist_ok=True)
    try:
        with open(f"{etc}/hosts", "w") as f:
            f.write(f"127.0.0.1 localhost\n{SRV_V6} dualsrv\n{NOROUTE_V4} dualsrv\n")
        t = truth(C, 8081, [SRV_V6, NOROUTE_V4])
        print(f"# truth, {w}: {t}")
        r, doc = answer(w, ["port", "8081", "--host", "dualsrv", "--timeout", "1"], exec_in=C)
        print(f"# dualsrv resolves to {doc and doc['query']['addresses']}")
        verdict_is(w, doc, r, "reachable" if "ok" in t.values() else "unreachable", f"the connects: {t}")
        for f in has(w, doc, "no-route"):
            checks.check(f["severity"] in ("info", "warning"),
                         f"{w}: no-route for the IPv4 address is not an error (IPv6 works)", f"{f['severity']}")
    finally:
        shutil.rmtree(etc, ignore_errors=True)
    stop(S, None, procs=[srv8080, srv5353, srv6])
    for port in (80, 8080, 8081):
        wait_until(lambda: not listening(S, port), 10)
    wait_until(lambda: not listening(S, 5353, True), 10)

    # ------------------------------------------------ 6: IPv4-mapped listeners (how Java binds IPv4)
    w = "python AF_INET6 bound to ::ffff:127.0.0.1:9091"
    m = start(w, S, [PY, SERVERS, "mapped", "127.0.0.1", "9091"], 9091)

    def mapped_checks(w, port, fix_has=None):
        r = nwtest.run("-n", S, "-j", "ports")
        lst, err = nwtest.load_json(r.stdout)
        checks.check(isinstance(lst, list) and r.returncode == 0, f"{w}: ports -j is one JSON array, exit 0",
                     err or r.stderr.strip())
        mine = [x for x in (lst or []) if x["port"] == port and x["protocol"] == "tcp"]
        checks.check(len(mine) == 1 and mine[0]["family"] == "inet" and mine[0]["local_address"] == "127.0.0.1",
                     f"{w}: ports -j shows family inet, local_address 127.0.0.1",
                     str([(x["family"], x["local_address"]) for x in mine]))
        t = truth(S, port, ["127.0.0.1", SRV_V4])
        print(f"# truth, {w}: from the server {t}")
        r, doc = answer(w, ["port", str(port)], where=S)
        has(w, doc, "bound-to-loopback")
        lacks(w, doc, "address-not-local")
        verdict_is(w, doc, r, "local-only" if t["127.0.0.1"] == "ok" else "unreachable", f"connects: {t}")
        e = endpoint(doc, "127.0.0.1")
        checks.check(e is not None and e["local"] == (t["127.0.0.1"] == "ok"),
                     f"{w}: local for 127.0.0.1 is what a connect finds ({t['127.0.0.1']})", f"got {e and e['local']}")
        if fix_has:
            fixes = " | ".join(f["fix"] or "" for f in (doc or {}).get("findings", []))
            checks.check(all(s in fixes for s in fix_has), f"{w}: the fix names {' and '.join(fix_has)}", fixes)

    mapped_checks(w, 9091)
    stop(S, 9091, procs=[m])

    w = "Tomcat with <Connector port=\"9090\" address=\"127.0.0.1\">"
    home = "/usr/share/tomcat10"
    if not os.path.exists(f"{home}/bin/catalina.sh") or not shutil.which("java"):
        checks.check(not nwtest.IN_CI, f"{w}: tomcat10 is installed (scripts/bootstrap installs it)")
        print(f"# SKIP {w}: {home}/bin/catalina.sh or java missing")
    else:
        base = tempfile.mkdtemp(prefix="netwhy-tomcat-")
        try:
            for d in ("conf", "logs", "temp", "webapps", "work"):
                os.makedirs(f"{base}/{d}")
            for name in ("web.xml", "logging.properties", "catalina.properties", "context.xml"):
                shutil.copy(f"/etc/tomcat10/{name}", f"{base}/conf/{name}")
            with open(f"{base}/conf/server.xml", "w") as f:
                f.write('<?xml version="1.0" encoding="UTF-8"?>\n<Server port="-1" shutdown="SHUTDOWN">\n'
                        '  <Service name="Catalina">\n'
                        '    <Connector port="9090" address="127.0.0.1" protocol="HTTP/1.1" connectionTimeout="20000"/>\n'
                        '    <Engine name="Catalina" defaultHost="localhost">\n'
                        '      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false"/>\n'
                        '    </Engine>\n  </Service>\n</Server>\n')
            env = dict(os.environ, CATALINA_HOME=home, CATALINA_BASE=base, CATALINA_PID=f"{base}/pid")
            tc = start(w, S, [f"{home}/bin/catalina.sh", "run"], 9090, timeout=60, env=env)
            ss_line = listening(S, 9090)
            print(f"# {w}: ss {ss_line}")
            if ss_line:
                mapped_checks(w, 9090, fix_has=("Connector", "address"))
            stop(S, 9090, procs=[tc])
        finally:
            shutil.rmtree(base, ignore_errors=True)

    # ------------------------------------------------ 7: SO_BINDTODEVICE
    w = "0.0.0.0:8090 bound to eth0 (SO_BINDTODEVICE)"
    d = start(w, S, [PY, SERVERS, "device", "8090", "eth0"], 8090)
    local = truth(S, 8090, [SRV_V4, SIDE_V4, "127.0.0.1"])
    remote = truth(C, 8090, [SRV_V4, SIDE_V4])
    print(f"# truth, {w}: from the server {local}; from the client (eth0 for {SRV_V4}, eth3 for {SIDE_V4}) "
          f"{remote}; {DOWN_V4} via eth0 from the client: {truth(C, 8090, [DOWN_V4])}")
    r, doc = answer(w, ["port", "8090"], where=S)
    for addr in (SRV_V4, SIDE_V4, "127.0.0.1"):
        e = endpoint(doc, addr)
        checks.check(e is not None and e["local"] == (local[addr] == "ok"),
                     f"{w}: local for {addr} is what a connect from the server finds ({local[addr]})",
                     f"got {e and e['local']}")
    for addr in (SRV_V4, SIDE_V4):
        e = endpoint(doc, addr)
        checks.check(e is not None and e["remote"] == (remote[addr] == "ok"),
                     f"{w}: remote for {addr} is what the client finds through that address's interface "
                     f"({remote[addr]})", f"got {e and e['remote']}")
    has(w, doc, "bound-to-device", mentions="eth0")
    stop(S, 8090, procs=[d])

    # ------------------------------------------------ 9: a fix for the program that runs
    work = tempfile.mkdtemp(prefix="netwhy-plain-")
    try:
        with open(f"{work}/server.py", "w") as f:
            f.write("import socket, time\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                    "s.bind(('127.0.0.1', 5005))\ns.listen(16)\ntime.sleep(600)\n")
        with open(f"{work}/udpserver.py", "w") as f:
            f.write("import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                    "s.bind(('127.0.0.1', 5007))\ntime.sleep(600)\n")
        cases = (("plain `python3 server.py` on 127.0.0.1:5005", ["python3", "server.py"], 5005, False, False),
                 ("plain `python3 udpserver.py` on UDP 127.0.0.1:5007", ["python3", "udpserver.py"], 5007, True, False),
                 ("servers.py (a file with a Flask app) serving UDP on 127.0.0.1:5006", udp("127.0.0.1", 5006), 5006,
                  True, False),
                 ("Flask on 127.0.0.1:5000", [PY, SERVERS, "flask", "127.0.0.1", "5000"], 5000, False, True))
        for w, cmd, port, is_udp, flask in cases:
            p = start(w, S, cmd, port, udp=is_udp, cwd=work)
            r, doc = answer(w, ["port", str(port)] + (["--udp"] if is_udp else []), where=S)
            fixes = " | ".join(f["fix"] or "" for f in (doc or {}).get("findings", []))
            if flask:
                checks.check('app.run(host="0.0.0.0"' in fixes, f"{w}: the fix is Flask's app.run", fixes)
            else:
                checks.check("app.run" not in fixes, f"{w}: no Flask app.run fix for a program that isn't Flask", fixes)
            stop(S, port, udp=is_udp, procs=[p])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # ------------------------------------------------ 10: shared ports and the other protocol
    w = "two processes share 0.0.0.0:8095 (SO_REUSEPORT)"
    a = start(w, S, [PY, SERVERS, "reuseport", "0.0.0.0", "8095"], 8095)
    b = start(w, S, [PY, SERVERS, "reuseport", "0.0.0.0", "8095"], 8095, sockets=2)
    pids = pids_on(S, 8095)
    r, doc = answer(w, ["port", "8095"], where=S)
    head = (doc or {}).get("headline", "")
    checks.check(len(pids) == 2 and all(str(p) in head for p in pids),
                 f"{w}: the headline names both processes (ss: pids {pids})", head)
    stop(S, 8095, procs=[a, b])

    for w, cmd, port, is_udp, args, other in (
            ("only UDP listens on 5400, a TCP question", udp("0.0.0.0", 5400), 5400, True, [], "UDP"),
            ("only TCP listens on 5401, a --udp question", tcp("0.0.0.0", 5401), 5401, False, ["--udp"], "TCP")):
        p = start(w, S, cmd, port, udp=is_udp)
        r, doc = answer(w, ["port", str(port)] + args, where=S)
        has(w, doc, "other-protocol", mentions=other)
        stop(S, port, udp=is_udp, procs=[p])

    # ------------------------------------------------ 4: a full accept queue (last: the server namespace's
    # overflow counter stays up, and every later listener there would be blamed for it)
    w = "accept queue full (backlog 1, nobody accepts)"
    q = start(w, S, tcp("0.0.0.0", 8085, 1), 8085)
    holder = subprocess.Popen(["ip", "netns", "exec", C, PY, CONNECT, "--hold", "8", "--timeout", "1", "8085", SRV_V4],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ns.procs.append(holder)
    held = json.loads(holder.stdout.readline() or "{}")  # at most 8 s: each connect has a 1 s timeout
    remote = truth(C, 8085, [SRV_V4], timeout=2)
    local = truth(S, 8085, ["127.0.0.1", SRV_V4], timeout=2)
    ss_line = listening(S, 8085)
    print(f"# truth, {w}: the client held {held}; then a new connect from the client {remote}, from the server "
          f"{local}; ss {ss_line}")
    checks.check(remote[SRV_V4] == "timeout", f"{w}: the harness filled the queue (a new connect times out)",
                 str(remote))
    r, doc = answer(w, ["port", "8085"], where=S)
    verdict_is(w, doc, r, "unreachable", f"new connects time out: {remote}, {local}")
    has(w, doc, "accept-queue-full", severity="error")
    for addr in ("127.0.0.1", SRV_V4):
        e = endpoint(doc, addr)
        want_local = local[addr] == "ok"
        checks.check(e is not None and e["local"] == want_local, f"{w}: local for {addr} is {want_local} "
                     f"(a connect from the server: {local[addr]})", f"got {e and e['local']}")
    e = endpoint(doc, SRV_V4)
    checks.check(e is not None and e["remote"] == (remote[SRV_V4] == "ok"),
                 f"{w}: remote for {SRV_V4} is what the client finds ({remote[SRV_V4]})", f"got {e and e['remote']}")
    head = (doc or {}).get("headline", "")
    checks.check("accept" in head.lower(), f"{w}: the headline says the server stopped accepting", head)
    holder.kill()
    holder.wait(timeout=10)
    stop(S, 8085, procs=[q])

    F = ns.add("fresh")
    ns.ip(F, "link", "set", "lo", "up")
    w = "a fresh namespace where no queue ever overflowed"
    fq = start(w, F, tcp("127.0.0.1", 8085, 1), 8085)
    r, doc = answer(w, ["port", "8085"], where=F)
    lacks(w, doc, "accept-queue-full")
    stop(F, 8085, procs=[fq])

print(f"# took {time.monotonic() - STARTED:.1f} s")
checks.done()
