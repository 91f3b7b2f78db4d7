#!/usr/bin/env python3
"""netwhy port --wait (issue 12) against a real server that starts late.

In a server namespace joined to a client namespace by a veth: netwhy waits
for a port nobody listens on; a server starts a while later; netwhy must
end with exit 0 and a reachable diagnosis soon after, and a client must
connect then (the truth). With nothing listening, it must wait the whole
time, then exit 1 with the last diagnosis. On a terminal (a pty) stderr
shows one line that updates; in a pipe, none. A name that only resolves
once /etc/hosts lists it (as a compose service name appears) is waited for
too. Bad input ends at once with exit 2."""

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nwtest  # noqa: E402

nwtest.require_root()
nwtest.watchdog("test_wait", 240)
checks = nwtest.Checks()
PY = "/usr/bin/python3"
SERVERS = os.path.join(HERE, "servers.py")
SRV_ADDR, CLI_ADDR = "10.63.0.1", "10.63.0.2"


def connect_from(ns, addr, port, timeout=2.0):
    code = ("import socket\n"
            f"socket.create_connection(({addr!r}, {port}), timeout={timeout}).close()\n")
    r = subprocess.run(["ip", "netns", "exec", ns, PY, "-c", code], capture_output=True, timeout=timeout + 10)
    return r.returncode == 0


def read_all(fd, until, timeout):
    """What a pty's master side gives until `until` (a Popen) ends, bounded by timeout."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the slave side closed
                break
            if not chunk:
                break
            out += chunk
        elif until.poll() is not None:
            break
    return out


with nwtest.Namespaces("srv", "cli") as ns:
    S, C = ns["srv"], ns["cli"]
    for role in ("srv", "cli"):
        ns.ip(role, "link", "set", "lo", "up")
    ns.wire("srv", "cli", "vwait", (f"{SRV_ADDR}/24",), (f"{CLI_ADDR}/24",))

    # 1. A server that starts late: netwhy waits, then says reachable.
    start = time.monotonic()
    waiter = subprocess.Popen([nwtest.NETWHY, "-n", S, "-j", "port", "7300", "--wait", "30"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ns.procs.append(waiter)
    time.sleep(2.0)
    checks.check(waiter.poll() is None, "--wait 30: still waiting while nothing listens")
    server = ns.spawn("srv", PY, SERVERS, "tcp", "0.0.0.0", "7300")
    started = time.monotonic()
    out, err = waiter.communicate(timeout=40)
    ended = time.monotonic()
    doc, jerr = nwtest.load_json(out)
    checks.check(waiter.returncode == 0 and isinstance(doc, dict) and doc.get("verdict") == "reachable",
                 "--wait: exit 0 and a reachable diagnosis once the server listens",
                 f"exit {waiter.returncode} {jerr} {err.strip()}")
    # The pauses are at most 2 s; the server needs a moment to start.
    checks.check(ended - started < 10, f"--wait noticed the server within {ended - started:.1f} s of its start")
    checks.check(connect_from(C, SRV_ADDR, 7300), "a client connects to the port --wait called reachable")
    checks.check(re.fullmatch(r"netwhy: reachable after \d+\.\d s\n", err) is not None,
                 "--wait: stderr says after how long, in one line (no status line in a pipe)", repr(err))

    # 2. Nothing listens: the whole wait, then exit 1 with the last diagnosis.
    t0 = time.monotonic()
    r = nwtest.run("-n", S, "-j", "port", "7301", "--wait", "2", timeout=30)
    took = time.monotonic() - t0
    doc, jerr = nwtest.load_json(r.stdout)
    checks.check(r.returncode == 1 and isinstance(doc, dict) and doc.get("verdict") == "not-listening",
                 "--wait 2 with nothing listening: exit 1 and the last diagnosis (not-listening)",
                 f"exit {r.returncode} {jerr} {r.stderr.strip()}")
    checks.check(took >= 2.0, f"--wait 2 waited its 2 s ({took:.1f} s)")
    checks.check("still not reachable after" in r.stderr, "stderr says it gave up", r.stderr.strip())
    checks.check(not connect_from(C, SRV_ADDR, 7301), "and indeed a client can't connect to 7301")

    # 3. Already reachable: no wait at all, the same answer as without --wait.
    plain = nwtest.run("-n", S, "-j", "port", "7300")
    waited = nwtest.run("-n", S, "-j", "port", "7300", "--wait", "30")
    pd, _ = nwtest.load_json(plain.stdout)
    wd, _ = nwtest.load_json(waited.stdout)
    checks.check(waited.returncode == 0 and pd is not None and wd is not None
                 and pd.get("verdict") == wd.get("verdict") == "reachable"
                 and pd.get("findings") == wd.get("findings"),
                 "a reachable port: --wait answers at once what port answers", waited.stderr)

    # Ctrl-C while waiting: netwhy ends at once, as SIGINT ends a program, printing nothing more.
    intr = subprocess.Popen([nwtest.NETWHY, "-n", S, "port", "7301", "--wait", "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ns.procs.append(intr)
    time.sleep(1.0)
    intr.send_signal(signal.SIGINT)
    out, err = intr.communicate(timeout=10)
    checks.check(intr.returncode == -signal.SIGINT and out == b"" and err == b"",
                 "Ctrl-C ends the wait at once: killed by SIGINT, nothing printed", f"{intr.returncode} {err!r}")

    # 4. On a terminal: one line that updates (carriage returns, no newline), the elapsed time and the
    #    headline, then the final diagnosis; no escape sequence but the one that erases the line.
    master, slave = pty.openpty()
    tty = subprocess.Popen([nwtest.NETWHY, "-n", S, "--color=never", "port", "7302", "--wait", "3"],
                           stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    ns.procs.append(tty)
    os.close(slave)
    shown = read_all(master, tty, 30)
    text_out = tty.communicate(timeout=30)[0].decode("utf-8", "replace")
    os.close(master)
    statuses = re.findall(rb"\r\[(\d+\.\d)s\] ([^\r\x1b]*)\x1b\[K", shown)
    checks.check(len(statuses) >= 2, f"a terminal sees the status line updated ({len(statuses)} times)",
                 repr(shown[:300]))
    checks.check(all(b"7302" in line for _, line in statuses),
                 "the status line holds the current headline (about port 7302)", repr(statuses[:2]))
    times = [float(t) for t, _ in statuses]
    checks.check(times == sorted(times), "the elapsed time only grows", str(times))
    leftover = re.sub(rb"\r\[\d+\.\ds\] [^\r\x1b]*\x1b\[K", b"", shown).replace(b"\r\x1b[K", b"")
    checks.check(re.fullmatch(rb"netwhy: still not reachable after \d+\.\d s; the last diagnosis:\r?\n", leftover)
                 is not None, "the status line is erased before the last words; nothing else on stderr",
                 repr(leftover))
    checks.check(tty.returncode == 1 and "7302" in text_out, "the final diagnosis is printed (text), exit 1",
                 text_out[:200])

    # 5. A name that resolves only later (/etc/hosts through ip netns exec's /etc/netns/NAME), with a
    #    resolver on the namespace's loopback where nothing answers: no traffic leaves the test's namespaces.
    etc = f"/etc/netns/{S}"
    os.makedirs(etc, exist_ok=True)
    try:
        with open(f"{etc}/hosts", "w") as f:
            f.write("127.0.0.1 localhost\n")
        with open(f"{etc}/resolv.conf", "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        late = subprocess.Popen(["ip", "netns", "exec", S, nwtest.NETWHY, "-j", "port", "7300", "--host", "websrv",
                                 "--wait", "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ns.procs.append(late)
        time.sleep(2.0)
        checks.check(late.poll() is None, "--host websrv: waits while the name does not resolve")
        with open(f"{etc}/hosts", "a") as f:  # the same file: the bind mount shows the new line
            f.write(f"{SRV_ADDR} websrv\n")
        out, err = late.communicate(timeout=40)
        doc, jerr = nwtest.load_json(out)
        checks.check(late.returncode == 0 and isinstance(doc, dict) and doc.get("verdict") == "reachable"
                     and SRV_ADDR in doc.get("query", {}).get("addresses", []),
                     "--host websrv: reachable at its address once the name resolves",
                     f"exit {late.returncode} {jerr} {err.strip()}")
        gone = subprocess.run(["ip", "netns", "exec", S, nwtest.NETWHY, "port", "7300", "--host", "nowhere",
                               "--wait", "1"], capture_output=True, text=True, timeout=30)
        checks.check(gone.returncode == 2 and gone.stdout == "" and "nowhere" in gone.stderr
                     and len(gone.stderr.splitlines()) == 1,
                     "a name that never resolves: exit 2 after the wait, the resolver's error in one line", gone.stderr)
    finally:
        for name in ("hosts", "resolv.conf"):
            if os.path.exists(f"{etc}/{name}"):
                os.remove(f"{etc}/{name}")
        os.rmdir(etc)

    # 6. Bad input: at once, one line, exit 2, nothing on stdout.
    for args, mention in ((["--wait", "0"], "--wait"), (["--wait", "-1"], "--wait"), (["--wait", "soon"], "soon"),
                          (["--wait", "90000"], "--wait"), (["--wait", "5", "--snapshot", "/dev/null"], "--snapshot")):
        t0 = time.monotonic()
        b = nwtest.run("-n", S, "port", "7300", *args)
        checks.check(b.returncode == 2 and b.stdout == "" and len(b.stderr.splitlines()) == 1
                     and mention in b.stderr and time.monotonic() - t0 < 5,
                     f"bad input {' '.join(args)}: one line, exit 2, no wait", b.stderr)
    server.kill()

checks.done()
