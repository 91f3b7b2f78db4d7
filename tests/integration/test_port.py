#!/usr/bin/env python3
"""netwhy port against real connects. A server namespace, a client namespace
joined to it by veth pairs (one of them with the server's end down, one
through a bridge without carrier), and a container namespace; real servers
(Flask, gunicorn, http.server, small socket scripts). For every scenario the
test connects from the server namespace to each local address and from the
client side to each address, and checks that netwhy's `local` and `remote`
claims and its verdict equal what the connects found.

`remote` is what a client on another host finds when it sends packets for
the address to this host, the weak host model included: the client routes
the addresses of the down interface and of the carrier-less bridge through
the server's up eth0 (as a client elsewhere on the network would), not
through their own dead links, where nothing can arrive."""

import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nwtest  # noqa: E402

nwtest.require_root()
checks = nwtest.Checks()
PY = "/usr/bin/python3"
SERVERS = os.path.join(HERE, "servers.py")
CONNECT = os.path.join(HERE, "connect.py")


def connects(ns, port, addrs, udp=False):
    if not addrs:
        return {}
    args = ["ip", "netns", "exec", ns, PY, CONNECT] + (["--udp"] if udp else []) + [str(port)] + list(addrs)
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    return json.loads(r.stdout)


def listening(ns, port, udp=False):
    flags = "-Hlunp" if udp else "-Hltnp"
    out = nwtest.sh("ip", "netns", "exec", ns, "ss", flags, f"sport = :{port}").stdout
    return [l for l in out.splitlines() if l.strip()]


def wait_listening(ns, port, udp=False, count=1, pids=1, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = listening(ns, port, udp)
        if len(lines) >= count and all(l.count("pid=") >= pids for l in lines[:1]):
            return True
        time.sleep(0.1)
    return False


def wait_free(ns, port, udp=False, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and listening(ns, port, udp):
        time.sleep(0.1)


def link_local(a):
    return a.lower().startswith("fe80")


with nwtest.Namespaces("srv", "cli", "ctr") as ns:
    S, C, K = ns["srv"], ns["cli"], ns["ctr"]
    for role in ("srv", "cli", "ctr"):
        for conf in ("all", "default"):
            nwtest.sh("ip", "netns", "exec", ns[role], "sysctl", "-qw", f"net.ipv6.conf.{conf}.accept_dad=0")
        ns.ip(role, "link", "set", "lo", "up")
    # srv eth0 <-> cli eth0
    ns.ip("srv", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", C)
    ns.ip("srv", "addr", "add", "10.70.0.1/24", "dev", "eth0")
    ns.ip("srv", "addr", "add", "fd70::1/64", "dev", "eth0")
    ns.ip("cli", "addr", "add", "10.70.0.2/24", "dev", "eth0")
    ns.ip("cli", "addr", "add", "fd70::2/64", "dev", "eth0")
    # srv eth1 <-> cli eth1; the server's end goes down below
    ns.ip("srv", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1", "netns", C)
    ns.ip("srv", "addr", "add", "10.71.0.1/24", "dev", "eth1")
    ns.ip("cli", "addr", "add", "10.71.0.2/24", "dev", "eth1")
    # srv br0 (its only port down: NO-CARRIER) <-> cli eth2
    ns.ip("srv", "link", "add", "br0", "type", "bridge")
    ns.ip("srv", "link", "add", "brp", "type", "veth", "peer", "name", "eth2", "netns", C)
    ns.ip("srv", "link", "set", "brp", "master", "br0")
    ns.ip("srv", "addr", "add", "10.90.0.1/24", "dev", "br0")
    ns.ip("cli", "addr", "add", "10.90.0.2/24", "dev", "eth2")
    # srv vctr <-> ctr eth0 (a container)
    ns.ip("srv", "link", "add", "vctr", "type", "veth", "peer", "name", "eth0", "netns", K)
    ns.ip("srv", "addr", "add", "10.80.0.1/24", "dev", "vctr")
    ns.ip("ctr", "addr", "add", "10.80.0.2/24", "dev", "eth0")
    for dev in ("eth0", "eth1", "br0", "vctr"):
        ns.ip("srv", "link", "set", dev, "up")
    for dev in ("eth0", "eth1", "eth2"):
        ns.ip("cli", "link", "set", dev, "up")
    ns.ip("ctr", "link", "set", "eth0", "up")
    ns.ip("srv", "link", "set", "eth1", "down")   # interface down
    ns.ip("srv", "link", "set", "brp", "down")    # bridge without carrier
    # The client reaches those two addresses through the server's up eth0 (the weak host model).
    for addr in ("10.71.0.1", "10.90.0.1"):
        ns.ip("cli", "route", "add", f"{addr}/32", "via", "10.70.0.1")

    def client_ns(addr):
        return K if addr.startswith("10.80.") else C

    def diagnose(port, *extra, udp=False, where=S):
        args = ["-n", where, "-j", "port", str(port)] + (["--udp"] if udp else []) + list(extra)
        r = nwtest.run(*args, timeout=60)
        doc, err = nwtest.load_json(r.stdout)
        nwtest.check_answer(checks, "port " + " ".join(args[3:]), r, doc)
        return r, doc, err

    def scenario(name, servers, port, codes, udp=False, pids=1, fix_has=None, absent=(), server_port=None):
        procs = [ns.spawn(where, *cmd) for where, cmd in servers]
        up = all(wait_listening(where, server_port or port, udp, pids=pids) for where, _ in servers)
        checks.check(up, f"{name}: servers listen")
        r, doc, err = diagnose(port, udp=udp)
        checks.check(err is None, f"{name}: netwhy port -j is one JSON document", err or r.stderr)
        if doc is None:
            return None
        eps = [e for e in doc["endpoints"] if not link_local(e["address"])]
        local_truth = connects(S, port, [e["address"] for e in eps], udp)
        remote_truth = {}
        for cns in (C, K):
            addrs = [e["address"] for e in eps if not e["address"].startswith("127.") and e["address"] != "::1"
                     and client_ns(e["address"]) == cns]
            remote_truth.update(connects(cns, port, addrs, udp))
        for e in eps:
            a = e["address"]
            checks.check(e["local"] == local_truth[a], f"{name}: local {a} is {e['local']}; a connect from here "
                         f"says {local_truth[a]}")
            if a in remote_truth:
                checks.check(e["remote"] == remote_truth[a], f"{name}: remote {a} is {e['remote']}; a connect "
                             f"from the other host says {remote_truth[a]}")
            else:
                checks.check(e["remote"] is False, f"{name}: remote {a} (loopback) is false")
        listens = bool(listening(S, port, udp))
        if not listens:
            truth = "not-listening"
        elif any(remote_truth.values()):
            truth = "reachable"
        elif any(local_truth.values()):
            truth = "local-only"
        else:
            truth = "unreachable"
        checks.check(doc["verdict"] == truth, f"{name}: verdict {doc['verdict']}, the connects say {truth}")
        checks.check(r.returncode == (0 if truth == "reachable" else 1), f"{name}: exit status {r.returncode}")
        got = {f["code"] for f in doc["findings"]}
        for code in codes:
            checks.check(code in got, f"{name}: finding {code}", f"got {sorted(got)}")
        for code in absent:
            checks.check(code not in got, f"{name}: no finding {code}", f"got {sorted(got)}")
        if fix_has:
            fixes = " | ".join(f["fix"] or "" for f in doc["findings"])
            checks.check(fix_has in fixes, f"{name}: the fix says {fix_has!r}", fixes)
        for where, _ in servers:
            ns.kill_all(where)
            wait_free(where, server_port or port, udp)
        for p in procs:
            p.wait(timeout=10)
        return doc

    flask = lambda host, port: (S, [PY, SERVERS, "flask", host, str(port)])  # noqa: E731

    # The seed case: Flask on 127.0.0.1:5000, then its text.
    procs = [ns.spawn(*flask("127.0.0.1", 5000))]
    wait_listening(S, 5000)
    text = nwtest.run("-n", S, "--color=never", "port", "5000")
    first = text.stdout.splitlines()[0] if text.stdout else ""
    checks.check("listens on 127.0.0.1:5000 only: other machines can't connect" in first and text.returncode == 1,
                 "seed case: the first line is the verdict in words", first)
    checks.check("app.run(host=\"0.0.0.0\"" in text.stdout, "seed case: the fix is Flask's", text.stdout[-400:])
    for p in procs:
        p.kill()
        p.wait()
    wait_free(S, 5000)

    scenario("flask on 127.0.0.1:5000", [flask("127.0.0.1", 5000)], 5000, ["bound-to-loopback"],
             fix_has='app.run(host="0.0.0.0"')
    scenario("flask on 0.0.0.0:8080", [flask("0.0.0.0", 8080)], 8080, ["interface-down", "no-carrier"],
             absent=["bound-to-loopback"])
    scenario("flask on the veth address only", [flask("10.70.0.1", 5001)], 5001, ["bound-to-other-address"])
    scenario("gunicorn default bind, 3 workers", [(S, ["gunicorn", "-w", "3", "--chdir", HERE, "servers:app"])],
             8000, ["bound-to-loopback"], pids=4, fix_has="gunicorn -w 3 -b 0.0.0.0:8000 servers:app")
    doc = scenario("gunicorn -b 0.0.0.0:8000", [(S, ["gunicorn", "-w", "3", "-b", "0.0.0.0:8000", "--chdir", HERE,
                                                     "servers:app"])], 8000, [], pids=4, absent=["bound-to-loopback"])
    if doc:
        procs_seen = doc["listeners"][0]["processes"] if doc["listeners"] else []
        checks.check(len(procs_seen) == 4, "gunicorn: the master and its 3 workers are the listener's processes")
        checks.check("gunicorn" in doc["headline"] and "3 workers" in doc["headline"], "gunicorn: the headline names "
                     "the master and its workers", doc["headline"])
    scenario("nothing on 5002, flask nearby", [flask("0.0.0.0", 5001)], 5002, ["not-listening", "port-mismatch"],
             server_port=5001)
    scenario("an IPv6 v6only listener", [(S, [PY, SERVERS, "v6only", "9090"])], 9090, ["v6only"])
    # The container namespace's server: netwhy names its process, found by ss there.
    ctr_server = ns.spawn("ctr", PY, "-m", "http.server", "8000", "--bind", "0.0.0.0", "--directory", HERE)
    wait_listening(K, 8000)
    ctr_line = listening(K, 8000)
    import re
    ctr_pid = int(re.search(r"pid=(\d+)", ctr_line[0]).group(1)) if ctr_line else None
    r, doc, _ = diagnose(8000)
    other = [f for f in (doc or {}).get("findings", []) if f["code"] == "other-netns"]
    checks.check(doc is not None and doc["verdict"] == "not-listening" and not listening(S, 8000),
                 "container: nothing listens on 8000 in the server namespace", str(doc and doc["verdict"]))
    checks.check(any(f.get("netns") == K and f.get("pid") == ctr_pid for f in other),
                 "container: other-netns names the namespace and the process ss sees there",
                 f"ss pid {ctr_pid}, findings {other}")
    ctr_server.kill()
    ctr_server.wait()
    wait_free(K, 8000)
    scenario("a UDP listener", [(S, [PY, SERVERS, "udp", "0.0.0.0", "5353"])], 5353, [], udp=True)

    # From the client namespace, --host at the server: reachable, refused, no route.
    server = ns.spawn(*flask("0.0.0.0", 8080))
    wait_listening(S, 8080)
    for host, port, code in (("10.70.0.1", 8080, "connection-ok"), ("10.70.0.1", 5999, "connection-refused"),
                             ("10.99.0.1", 8080, "no-route")):
        truth = connects(C, port, [host])[host]
        r, doc, err = diagnose(port, "--host", host, "--timeout", "1", where=C)
        verdict = doc["verdict"] if doc else None
        checks.check(verdict == ("reachable" if truth else "unreachable"),
                     f"--host {host}:{port} from the client: verdict {verdict}, a connect says {truth}", r.stderr)
        checks.check(doc is not None and code in {f["code"] for f in doc["findings"]}, f"--host {host}:{port}: {code}")
        checks.check(r.returncode == (0 if truth else 1), f"--host {host}:{port}: exit status")
    r, doc, _ = diagnose(8080, "--host", "10.70.0.1", "--no-probe", where=C)
    checks.check(doc is not None and doc["verdict"] == "unknown" and r.returncode == 3
                 and "not-probed" in {f["code"] for f in doc["findings"]}
                 and not any(f["code"].startswith("connection-") for f in doc["findings"]),
                 "--no-probe: no connection is tried, and the answer is unknown (exit 3), not a guess")
    server.kill()
    server.wait()
    wait_free(S, 8080)

    # localhost-style names that resolve to ::1 first, via the namespace's own /etc/hosts.
    etc = f"/etc/netns/{S}"
    os.makedirs(etc, exist_ok=True)
    try:
        with open(f"{etc}/hosts", "w") as f:
            f.write("::1 dualname\n127.0.0.1 dualname\n")
        server = ns.spawn(*flask("127.0.0.1", 5000))
        wait_listening(S, 5000)
        r = subprocess.run(["ip", "netns", "exec", S, nwtest.NETWHY, "-j", "port", "5000", "--host", "dualname"],
                           capture_output=True, text=True, timeout=60)
        doc, _ = nwtest.load_json(r.stdout)
        truth = connects(S, 5000, ["::1", "127.0.0.1"])
        addrs = doc["query"]["addresses"] if doc else []
        checks.check(addrs[:1] == ["::1"], "dualname resolves to ::1 first", str(addrs))
        checks.check(doc is not None and doc["verdict"] == ("reachable" if any(truth.values()) else "unreachable"),
                     f"dualname: verdict as the connects say ({truth})")
        checks.check(doc is not None and any(f["code"] == "family-mismatch" for f in doc["findings"])
                     and not truth["::1"], "dualname: family-mismatch, and ::1 really refuses")
        server.kill()
        server.wait()
    finally:
        shutil.rmtree(etc, ignore_errors=True)

    # Unprivileged inside the namespace: the listener is seen, its owner is not, and netwhy says why.
    server = ns.spawn(*flask("0.0.0.0", 8080))
    wait_listening(S, 8080)
    un = subprocess.run(["ip", "netns", "exec", S, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                         "--", nwtest.NETWHY, "-j", "port", "8080"], capture_output=True, text=True, timeout=60)
    ud, _ = nwtest.load_json(un.stdout)
    pu = [f for f in (ud or {}).get("findings", []) if f["code"] == "process-unknown"]
    fu = [f for f in (ud or {}).get("findings", []) if f["code"] == "firewall-unknown"]
    checks.check(ud is not None and ud["listeners"] and ud["listeners"][0]["processes"] == [],
                 "unprivileged: the listener without its process", un.stderr)
    checks.check(len(pu) == 1 and "root" in pu[0]["message"], "unprivileged: process-unknown says why", str(pu))
    # The firewall can't be read without root: remote is unknown (null), never a guess.
    remote = [e["remote"] for e in (ud or {}).get("endpoints", [])
              if e["interface"] and not e["address"].startswith("127.") and e["address"] != "::1"
              and e["local"]]
    checks.check(remote and any(r is None for r in remote) and not any(r is True for r in remote)
                 and fu and ud["verdict"] != "reachable",
                 "unprivileged: remote is null with firewall-unknown, and the verdict is not reachable",
                 f"{remote} {ud and ud['verdict']}")
    checks.check(un.stderr.strip() == "", "unprivileged: nothing on stderr (no library noise)", un.stderr)
    server.kill()
    server.wait()
    wait_free(S, 8080)

    # A snapshot written here diagnoses the same offline.
    server = ns.spawn(*flask("127.0.0.1", 5000))
    wait_listening(S, 5000)
    snap = nwtest.run("-n", S, "snapshot", "-j")
    path = f"/tmp/netwhy-snapshot-{os.getpid()}.json"
    with open(path, "w") as f:
        f.write(snap.stdout)
    live = diagnose(5000)[1]
    offline = nwtest.run("-j", "port", "5000", "--snapshot", path)
    off, _ = nwtest.load_json(offline.stdout)
    os.unlink(path)
    checks.check(off is not None and live is not None and off["verdict"] == live["verdict"]
                 and off["endpoints"] == live["endpoints"]
                 and [f["code"] for f in off["findings"]] == [f["code"] for f in live["findings"]],
                 "--snapshot gives the live diagnosis", offline.stderr)
    server.kill()
    server.wait()

    # Bad input
    for args, mention in ((["port", "0"], '"0"'), (["port", "http-nonsense"], "http-nonsense"),
                          (["port", "80", "--host", "no.such.host.invalid"], "no.such.host.invalid"),
                          (["port", "80", "--timeout", "0"], "--timeout"),
                          (["port", "80", "--snapshot", "/nonexistent/snap.json"], "/nonexistent/snap.json")):
        b = nwtest.run(*(["-n", S] if "--snapshot" not in args else []), *args)
        checks.check(b.returncode == 2 and b.stdout == "" and len(b.stderr.splitlines()) == 1 and mention in b.stderr,
                     f"error for {' '.join(args)}", b.stderr)

checks.done()
