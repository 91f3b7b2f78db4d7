#!/usr/bin/env python3
"""Bad input gets one line on stderr naming the problem, exit status 2 and
nothing on stdout; hostile interface names never reach the terminal raw and
never break JSON."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import nwtest  # noqa: E402

nwtest.require_root()
checks = nwtest.Checks()


def expect_usage_error(args, mentions, env=None, prefix=()):
    cmd = [*prefix, nwtest.NETWHY, *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)
    lines = r.stderr.splitlines()
    ok = (r.returncode == 2 and r.stdout == "" and len(lines) == 1
          and lines[0].startswith("netwhy: ") and mentions in lines[0])
    checks.check(ok, f"error for {' '.join(args)}",
                 f"rc={r.returncode} stdout={r.stdout[:80]!r} stderr={r.stderr!r}")


OUR_SGR = [b"\x1b[0m", b"\x1b[1m", b"\x1b[2m"] + [f"\x1b[{n}m".encode() for n in range(31, 37)]
UNPRIVILEGED = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]

with nwtest.Namespaces("srv") as ns:
    ns.ip("srv", "link", "set", "lo", "up")
    expect_usage_error(["-n", ns["srv"], "link", "show", "dev", "eth9"], '"eth9"')
    expect_usage_error(["-n", ns["srv"], "addr", "show", "nosuch0"], '"nosuch0"')
    expect_usage_error(["-n", ns["srv"], "route", "get", "10.0.0.300"], '"10.0.0.300"')
    expect_usage_error(["-n", ns["srv"], "route", "get", "not-an-address"], '"not-an-address"')
    expect_usage_error(["-n", ns["srv"], "-4", "route", "get", "::1"], '"::1"')
    expect_usage_error(["-n", ns["srv"], "route", "get", "192.0.2.1"], "192.0.2.1")   # no route at all
    expect_usage_error(["-n", ns["srv"], "route", "show", "table", "nosuchtable"], '"nosuchtable"')
    expect_usage_error(["-n", "nwnosuch-ns", "link"], '"nwnosuch-ns"')
    expect_usage_error(["-n", "../etc", "link"], '"../etc"')
    expect_usage_error(["-n", "pid:999999999", "link"], "pid")
    expect_usage_error(["-n", "pid:4194000", "link"], "4194000")
    expect_usage_error(["-n", ns["srv"], "addr", "add", "10.1.1.1/24", "dev", "lo"], "only reads")
    expect_usage_error(["-n", ns["srv"], "route", "del", "default"], "only reads")
    expect_usage_error(["-4", "-6", "link"], "-4")
    expect_usage_error(["--no-such-option", "link"], "--no-such-option")
    expect_usage_error(["frobnicate"], "frobnicate")
    expect_usage_error([], "command")
    expect_usage_error(["--color=sometimes", "link"], "sometimes")
    # Entering a namespace needs privileges: said plainly, not a stack trace.
    expect_usage_error(["-n", ns["srv"], "link"], "root", prefix=UNPRIVILEGED)
    expect_usage_error(["-n", "pid:1", "link"], "root", prefix=UNPRIVILEGED)

    # Unprivileged, netwhy still reads its own namespace's links.
    r = subprocess.run([*UNPRIVILEGED, nwtest.NETWHY, "-j", "link"], capture_output=True, text=True)
    ip_r = subprocess.run(["ip", "-j", "link"], capture_output=True, text=True)
    a, _ = nwtest.load_json(ip_r.stdout)
    b, _ = nwtest.load_json(r.stdout)
    checks.check(r.returncode == 0 and a is not None and nwtest.first_difference(a, b) is None,
                 "unprivileged link listing equals ip's", r.stderr.strip())

    # Hostile names: an interface named with a terminal escape, a label with a
    # clear-screen sequence, and a name that is not UTF-8.
    evil = "\x1b[5mevil"  # blink: a sequence netwhy never emits
    ns.ip("srv", "link", "add", evil, "type", "ifb")
    ns.ip("srv", "addr", "add", "10.44.0.1/24", "dev", evil, "label", evil + ":\x1b[2J")
    raw_name = b"\xff\xfebad"
    subprocess.run([b"ip", b"-n", ns["srv"].encode(), b"link", b"add", raw_name, b"type", b"ifb"],
                   check=True, capture_output=True)
    for view in ("link", "addr"):
        for brief in ([], ["-br"]):
            for color in ("never", "always"):
                t = subprocess.run([nwtest.NETWHY, "-n", ns["srv"], f"--color={color}", *brief, view],
                                   capture_output=True)
                # Take away the colours netwhy itself paints; no ESC may remain.
                visible = t.stdout
                for ours in OUR_SGR:
                    visible = visible.replace(ours, b"")
                ok = (t.returncode == 0 and b"\\x1b[5mevil" in t.stdout and b"\x1b" not in visible
                      and b"\\xff\\xfebad" in t.stdout)
                checks.check(ok, f"text {view} {' '.join(brief)} --color={color} escapes hostile names",
                             repr(t.stdout[-300:]))
        j = subprocess.run([nwtest.NETWHY, "-n", ns["srv"], "-j", view], capture_output=True)
        try:
            doc = json.loads(j.stdout.decode("utf-8"))  # strict: invalid UTF-8 raises
            names = [l["ifname"] for l in doc]
            ok = evil in names and "\ufffd\ufffdbad" in names
        except (UnicodeDecodeError, ValueError, KeyError) as e:
            ok, names = False, str(e)
        checks.check(ok, f"json {view} is valid UTF-8 and keeps the names", str(names))
    j = subprocess.run([nwtest.NETWHY, "-n", ns["srv"], "-j", "addr", "show", evil], capture_output=True)
    doc = json.loads(j.stdout.decode("utf-8"))
    checks.check(doc[0]["addr_info"][0]["label"] == evil + ":\x1b[2J", "json keeps a hostile label exactly")

checks.done()
