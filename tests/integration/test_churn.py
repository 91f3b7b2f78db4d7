#!/usr/bin/env python3
"""netwhy under churn (issue 11): in a namespace this test builds, listeners
open and close all the time (by one process and by short-lived children
that fork, listen and exit), and thousands of connections open and close,
over loopback and over a veth from a client namespace. Meanwhile `netwhy
ports` and `netwhy port` run many times. Every run must end normally with
one valid answer, and every listener that stays up must always be listed,
with the processes ss says hold it. Whether clients connect is the truth
for `port`: a client namespace connects before, during and after, and the
verdict for the stable port must stay the one those connects give."""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nwtest  # noqa: E402

nwtest.require_root()
nwtest.watchdog("test_churn", 270)
checks = nwtest.Checks()
PY = "/usr/bin/python3"
SERVERS = os.path.join(HERE, "servers.py")
CHURN = os.path.join(HERE, "churn.py")
SRV_ADDR, CLI_ADDR = "10.62.0.1", "10.62.0.2"
FLAP_FIRST, FLAP_LAST = 7100, 7163
# The churn phase: at least this many runs of each kind, and on until the clients are done, but
# never longer than CHURN_SECONDS (under ASan, fewer runs fit).
CHURN_SECONDS = 60
PORTS_RUNS, PORT_RUNS, FLAP_RUNS, TEXT_RUNS = 300, 150, 80, 40
CLIENT_PROCS, CONNECTIONS = 4, 2500  # per client process


class Tally:
    """Many runs, few lines: counts each problem, keeps its first example."""

    def __init__(self):
        self.problems = {}

    def check(self, ok, what, detail=""):
        if not ok:
            count, example = self.problems.get(what, (0, detail))
            self.problems[what] = (count + 1, example)

    def report(self, name, runs):
        checks.check(runs > 0, f"{name}: ran at least once", "no run before the deadline")
        checks.check(not self.problems, f"{name}: {runs} runs, every one right",
                     "; ".join(f"{what}: {n} times, first: {str(ex)[:300]}"
                               for what, (n, ex) in self.problems.items()))


def connect_from(ns, addr, port, timeout=2.0):
    code = ("import socket, sys\n"
            f"s = socket.create_connection(({addr!r}, {port}), timeout={timeout})\n"
            "s.close()\n")
    r = subprocess.run(["ip", "netns", "exec", ns, PY, "-c", code], capture_output=True, timeout=timeout + 10)
    return r.returncode == 0


with nwtest.Namespaces("srv", "cli") as ns:
    S, C = ns["srv"], ns["cli"]
    for role in ("srv", "cli"):
        ns.ip(role, "link", "set", "lo", "up")
    ns.wire("srv", "cli", "vchurn", (f"{SRV_ADDR}/24",), (f"{CLI_ADDR}/24",))

    # The listeners that stay up: the one clients hammer, gunicorn's master and
    # three workers, UDP, IPv6-only, one address.
    ns.spawn("srv", PY, CHURN, "accepter", "0.0.0.0", "7001")
    ns.spawn("srv", "gunicorn", "-w", "3", "-b", "127.0.0.1:7002", "--chdir", HERE, "servers:app")
    ns.spawn("srv", PY, SERVERS, "udp", "0.0.0.0", "7003")
    ns.spawn("srv", PY, SERVERS, "v6only", "7004")
    ns.spawn("srv", PY, SERVERS, "tcp", SRV_ADDR, "7005")
    stable = {("tcp", "0.0.0.0", 7001): 1, ("tcp", "127.0.0.1", 7002): 4, ("udp", "0.0.0.0", 7003): 1,
              ("tcp", "::", 7004): 1, ("tcp", SRV_ADDR, 7005): 1}
    before = nwtest.wait_listening(S, stable)
    checks.check(before is not None, "the stable servers listen (ss)")
    if before is None:
        checks.done()
    truth = {k: before[k]["pids"] for k in stable}

    # The verdict for 7001 before the churn, and what a client gets.
    first = nwtest.run("-n", S, "-j", "port", "7001")
    first_doc, err = nwtest.load_json(first.stdout)
    baseline = (first_doc or {}).get("verdict")
    connects = connect_from(C, SRV_ADDR, 7001)
    checks.check(connects, f"a client in {C} connects to {SRV_ADDR}:7001 before the churn")
    checks.check(baseline == ("reachable" if connects else "unreachable"),
                 "before the churn, port 7001's verdict is what the client got", f"{baseline} {first.stderr}")

    # The churn.
    flapper = ns.spawn("srv", PY, CHURN, "flapper", str(FLAP_FIRST), str(FLAP_LAST), str(CHURN_SECONDS + 30))
    hammer = []
    for i in range(CLIENT_PROCS):
        # Half over loopback inside the server's namespace, half from the client's over the veth.
        where, addr = (S, "127.0.0.1") if i % 2 == 0 else (C, SRV_ADDR)
        hammer.append(subprocess.Popen(["ip", "netns", "exec", where, PY, CHURN, "clients", addr, "7001",
                                        str(CONNECTIONS)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                       text=True))
    ns.procs.extend(hammer)

    ports_tally, port_tally, flap_tally, text_tally = Tally(), Tally(), Tally(), Tally()
    runs = {"ports": 0, "port": 0, "flap": 0, "text": 0}
    flap_listed = set()
    mid_connects = []
    deadline = time.monotonic() + CHURN_SECONDS
    step = 0
    while time.monotonic() < deadline and (runs["ports"] < PORTS_RUNS or runs["port"] < PORT_RUNS
                                           or runs["flap"] < FLAP_RUNS or runs["text"] < TEXT_RUNS
                                           or any(h.poll() is None for h in hammer)):
        step += 1
        runs["ports"] += 1
        r = nwtest.run("-n", S, "-j", "ports")
        doc, err = nwtest.load_json(r.stdout)
        ports_tally.check(r.returncode == 0 and isinstance(doc, list), "ports -j exits 0 with a JSON list",
                          f"exit {r.returncode}: {err} {r.stderr.strip()}")
        if isinstance(doc, list):
            listed = {(l["protocol"], l["local_address"], l["port"]): sorted(p["pid"] for p in l["processes"])
                      for l in doc}
            for key, pids in truth.items():
                ports_tally.check(key in listed, f"{key} is listed", f"run {runs['ports']}")
                ports_tally.check(key not in listed or listed[key] == pids,
                                  f"{key} is held by the processes ss named", f"{listed.get(key)} vs {pids}")
            flap_listed |= {k for k in listed if FLAP_FIRST <= k[2] <= FLAP_LAST}
        ports_tally.check(r.stderr.strip() == "", "ports -j prints nothing on stderr", r.stderr.strip())
        if step % 2 == 0:
            runs["port"] += 1
            r = nwtest.run("-n", S, "-j", "port", "7001")
            doc, _ = nwtest.load_json(r.stdout)
            nwtest.check_answer(port_tally, "port 7001", r, doc)
            port_tally.check(isinstance(doc, dict) and doc.get("verdict") == baseline,
                             "port 7001 keeps its verdict", (doc or {}).get("headline") if isinstance(doc, dict)
                             else r.stderr.strip())
        if step % 4 == 1:
            runs["flap"] += 1
            port = FLAP_FIRST + (runs["flap"] * 7) % (FLAP_LAST - FLAP_FIRST + 1)
            r = nwtest.run("-n", S, "-j", "port", str(port))
            doc, _ = nwtest.load_json(r.stdout)
            nwtest.check_answer(flap_tally, f"port {port} (flapping)", r, doc)
        if step % 6 == 3:
            runs["text"] += 1
            r = subprocess.run([nwtest.NETWHY, "-n", S, "--color=never", "ports"], capture_output=True, timeout=30)
            out = r.stdout.decode("utf-8", "replace")
            text_tally.check(r.returncode == 0 and b"\x1b" not in r.stdout, "ports (text) exits 0, no escape",
                             r.stderr)
            for want in ("0.0.0.0:7001", "127.0.0.1:7002", "0.0.0.0:7003", "[::]:7004", f"{SRV_ADDR}:7005"):
                text_tally.check(want in out, f"text lists {want}", out[-300:])
        if step % 10 == 5:
            mid_connects.append(connect_from(C, SRV_ADDR, 7001))

    ports_tally.report("ports -j during the churn", runs["ports"])
    port_tally.report("port 7001 during the churn", runs["port"])
    flap_tally.report("port on a flapping port", runs["flap"])
    text_tally.report("ports (text) during the churn", runs["text"])
    checks.check(all(mid_connects) and len(mid_connects) > 0,
                 f"the client connected every time it tried during the churn ({len(mid_connects)} tries)",
                 str(mid_connects))
    # The churn was real: flapping listeners were seen, and the clients made thousands of connections.
    checks.check(len(flap_listed) > 0, f"netwhy saw flapping listeners come and go ({len(flap_listed)} of them)")
    made = 0
    for h in hammer:
        try:
            out, _ = h.communicate(timeout=120)
            made += int(out.strip() or 0)
        except (subprocess.TimeoutExpired, ValueError):
            h.kill()
    checks.check(made >= CLIENT_PROCS * CONNECTIONS * 0.9,
                 f"the clients opened and closed {made} connections (of {CLIENT_PROCS * CONNECTIONS})")
    flapper.kill()
    flapper.wait(timeout=10)

    # After: the stable listeners are still up (ss), netwhy lists them, 7001 answers as before.
    after = nwtest.ss_sockets(S, "-Hltunp")
    checks.check(all(k in after and after[k]["pids"] == truth[k] for k in truth),
                 "after the churn, ss shows the stable listeners with the same processes")
    r = nwtest.run("-n", S, "-j", "ports")
    doc, _ = nwtest.load_json(r.stdout)
    listed = {(l["protocol"], l["local_address"], l["port"]) for l in doc or []}
    checks.check(set(truth) <= listed, "after the churn, netwhy lists them")
    last = nwtest.run("-n", S, "-j", "port", "7001")
    last_doc, _ = nwtest.load_json(last.stdout)
    connects = connect_from(C, SRV_ADDR, 7001)
    checks.check(connects and (last_doc or {}).get("verdict") == "reachable",
                 "after the churn, the client connects and port 7001 is reachable",
                 f"{connects} {(last_doc or {}).get('verdict')}")

checks.done()
