#!/usr/bin/env python3
"""netwhy ports against ss, with real servers in a namespace this test builds:
gunicorn -w 3, Flask, python3 -m http.server, v6only, SO_BINDTODEVICE, UDP and
a process with a hostile name, and a Java-style listener on the IPv4-mapped
::ffff:127.0.0.1. The kernel's view (ss -e) is the truth, with one
difference on purpose: a mapped address is its IPv4 address (ss says
[::ffff:127.0.0.1], netwhy 127.0.0.1, family inet)."""

import json
import os
import re
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
# What Tomcat or Spring Boot with address 127.0.0.1 does: an AF_INET6 socket
# bound to the IPv4-mapped address.
MAPPED_SERVER = ("import socket, time\n"
                 "s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)\n"
                 "s.bind(('::ffff:127.0.0.1', 9191))\n"
                 "s.listen(5)\n"
                 "time.sleep(3600)\n")


def netwhy_sockets(doc):
    return {(l["protocol"], l["local_address"], l["port"]): l for l in doc}


with nwtest.Namespaces("srv") as ns:
    S = ns["srv"]
    ns.ip("srv", "link", "set", "lo", "up")
    ns.ip("srv", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
    ns.ip("srv", "link", "set", "veth0", "up")
    ns.ip("srv", "link", "set", "veth1", "up")
    ns.ip("srv", "addr", "add", "10.61.0.1/24", "dev", "veth0")

    env_dir = ["--chdir", HERE]
    ns.spawn("srv", "gunicorn", "-w", "3", "-b", "127.0.0.1:8000", *env_dir, "servers:app")
    ns.spawn("srv", PY, SERVERS, "flask", "0.0.0.0", "5000")
    ns.spawn("srv", PY, "-m", "http.server", "8080", "--bind", "::", "--directory", HERE)
    ns.spawn("srv", PY, SERVERS, "v6only", "9090")
    ns.spawn("srv", PY, SERVERS, "device", "7070", "veth0")
    ns.spawn("srv", PY, SERVERS, "tcp", "10.61.0.1", "7171", "3")
    ns.spawn("srv", PY, SERVERS, "udp", "0.0.0.0", "5353")
    ns.spawn("srv", PY, SERVERS, "udp", "::1", "5454")
    ns.spawn("srv", PY, "-c", MAPPED_SERVER)
    hostile = subprocess.Popen(["ip", "netns", "exec", S, PY, SERVERS, "hostile", "6666",
                                b"\x1b[2J\nrm -rf \xfe"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ns.procs.append(hostile)
    ready = nwtest.wait_listening(S, {("tcp", "127.0.0.1", 8000): 4, ("tcp", "0.0.0.0", 5000): 1, ("tcp", "::", 8080): 1,
                         ("tcp", "::", 9090): 1, ("tcp", "0.0.0.0", 7070): 1, ("tcp", "10.61.0.1", 7171): 1,
                         ("udp", "0.0.0.0", 5353): 1, ("udp", "::1", 5454): 1, ("tcp", "0.0.0.0", 6666): 1,
                         ("tcp", "127.0.0.1", 9191): 1})
    checks.check(ready, "servers are listening (gunicorn master and 3 workers, flask, http.server, scripts)")

    truth = nwtest.ss_sockets(S)
    r = nwtest.run("-n", S, "-j", "ports")
    doc, err = nwtest.load_json(r.stdout)
    checks.check(r.returncode == 0 and err is None, "ports -j is one JSON document", err or r.stderr)
    mine = netwhy_sockets(doc or [])
    checks.check(set(mine) == set(truth), "the same (protocol, address, port) set as ss -ltunp",
                 f"only ss: {sorted(set(truth) - set(mine))} only netwhy: {sorted(set(mine) - set(truth))}")
    for key, t in sorted(truth.items()):
        m = mine.get(key)
        if m is None:
            continue
        pids = sorted(p["pid"] for p in m["processes"])
        checks.check(pids == t["pids"], f"{key}: the same processes as ss", f"ss {t['pids']} netwhy {pids}")
        checks.check(m["inode"] == t["inode"], f"{key}: the same inode as ss -e")
        if m["family"] == "inet6":
            checks.check(m["v6only"] == t["v6only"], f"{key}: v6only {m['v6only']} as ss -e says {t['v6only']}")
        else:
            checks.check(m["v6only"] is None, f"{key}: v6only is null for inet")
        checks.check(m["interface"] == t["dev"], f"{key}: bound interface {m['interface']} as ss says {t['dev']}")
        if key[0] == "tcp":
            checks.check((m["queued"], m["backlog"]) == (t["recvq"], t["sendq"]),
                         f"{key}: queued/backlog {m['queued']}/{m['backlog']} as ss {t['recvq']}/{t['sendq']}")
        else:
            checks.check(m["queued"] is None and m["backlog"] is None, f"{key}: no backlog for UDP")

    gunicorn = mine.get(("tcp", "127.0.0.1", 8000), {"processes": []})["processes"]
    masters = [p for p in gunicorn if p["ppid"] not in {q["pid"] for q in gunicorn}]
    checks.check(len(gunicorn) == 4 and len(masters) == 1 and all("gunicorn" in p["cmdline"] for p in gunicorn),
                 "gunicorn: the master and all three workers hold the socket", str(gunicorn))
    text = nwtest.run("-n", S, "--color=never", "ports")
    gline = [l for l in text.stdout.splitlines() if "127.0.0.1:8000" in l]
    checks.check(len(gline) == 1 and re.search(r"\(\d+\) \+3 workers$", gline[0]) is not None,
                 "text groups the workers under the master", str(gline))
    mapped = mine.get(("tcp", "127.0.0.1", 9191), {})
    checks.check(mapped.get("family") == "inet" and mapped.get("v6only") is None,
                 "a listener on ::ffff:127.0.0.1 is IPv4 127.0.0.1 in JSON", str(mapped)[:200])
    checks.check(any(re.search(r"\b127\.0\.0\.1:9191\b", l) for l in text.stdout.splitlines())
                 and "ffff" not in text.stdout, "text shows the mapped listener as 127.0.0.1:9191")
    v6line = [l for l in text.stdout.splitlines() if "[::]:9090" in l]
    dualline = [l for l in text.stdout.splitlines() if "[::]:8080" in l]
    checks.check(v6line and "IPv6 only" in v6line[0] and dualline and "IPv4+IPv6" in dualline[0],
                 "text says IPv6 only and IPv4+IPv6 in words", str(v6line + dualline))

    # The port filter, the protocol and family flags, as ss filters them.
    one = nwtest.run("-n", S, "-j", "ports", "8000")
    one_doc, _ = nwtest.load_json(one.stdout)
    checks.check(one_doc is not None and [(l["protocol"], l["local_address"], l["port"]) for l in one_doc]
                 == [("tcp", "127.0.0.1", 8000)], "ports 8000 lists just that listener", one.stdout[:200])
    named = nwtest.run("-n", S, "-j", "ports", "http-alt")
    if os.path.exists("/etc/services"):
        named_doc, _ = nwtest.load_json(named.stdout)
        checks.check(named_doc is not None and {l["port"] for l in named_doc} == {8080},
                     "a service name works as PORT (http-alt is 8080)", named.stdout[:200] + named.stderr)
    else:  # a container image without netbase: a clean error, numbers still work
        checks.check(named.returncode == 2 and named.stdout == "" and "/etc/services" in named.stderr
                     and len(named.stderr.splitlines()) == 1, "without /etc/services a name fails cleanly",
                     named.stderr)
    for flags, ssflags in ((["-t"], "-Hltnpe"), (["-u"], "-Hlunpe"), (["-4"], "-Hltunpe4"), (["-6"], "-Hltunpe6"),
                           (["-t", "-6"], "-Hltnpe6")):
        g = nwtest.run("-n", S, "-j", "ports", *flags)
        gd, _ = nwtest.load_json(g.stdout)
        # ss counts a mapped socket as IPv6 (-6); netwhy as the IPv4 it is (-4).
        want = {k for k, v in nwtest.ss_sockets(S, ssflags).items() if not (v["mapped"] and "6" in ssflags)}
        if "4" in ssflags:
            want |= {k for k, v in nwtest.ss_sockets(S, ssflags.replace("4", "6")).items() if v["mapped"]}
        checks.check(gd is not None and set(netwhy_sockets(gd)) == want,
                     f"ports {' '.join(flags)} matches ss {ssflags}",
                     f"netwhy {sorted(set(netwhy_sockets(gd or [])))} want {sorted(want)}")

    # /proc/net and sock_diag agree on what listens.
    def ident(d):
        return sorted((l["protocol"], l["family"], l["local_address"], l["port"], l["inode"], l["uid"],
                       tuple(sorted(p["pid"] for p in l["processes"]))) for l in d)
    pr = nwtest.run("-n", S, "-j", "ports", "--source", "proc")
    prd, _ = nwtest.load_json(pr.stdout)
    checks.check(prd is not None and ident(prd) == ident(doc or []), "--source proc lists what sock_diag lists",
                 pr.stderr)
    nl = nwtest.run("-n", S, "-j", "ports", "--source", "netlink")
    nld, _ = nwtest.load_json(nl.stdout)
    checks.check(nld is not None and ident(nld) == ident(doc or []), "--source netlink is the default's answer")
    # Another namespace read through /proc/PID/net, without entering it.
    via = nwtest.run("-n", f"pid:{hostile.pid}", "-j", "ports", "--source", "proc")
    vd, _ = nwtest.load_json(via.stdout)
    checks.check(vd is not None and ident(vd) == ident(prd or []), "-n pid:PID --source proc reads /proc/PID/net",
                 via.stderr)

    # Unprivileged: every socket is still listed, owners unknown, one warning.
    un = subprocess.run(["ip", "netns", "exec", S, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                         "--", nwtest.NETWHY, "-j", "ports"], capture_output=True, text=True, timeout=30)
    und, _ = nwtest.load_json(un.stdout)
    warn_lines = [l for l in un.stderr.splitlines() if "could not be read" in l]
    checks.check(und is not None and set(netwhy_sockets(und)) == set(truth), "unprivileged: every socket listed")
    checks.check(und is not None and all(l["processes"] == [] for l in und),
                 "unprivileged: root's processes are not shown", str([l["processes"] for l in und or []][:2]))
    checks.check(len(warn_lines) == 1 and "root" in warn_lines[0], "unprivileged: one warning says why",
                 un.stderr)

    # The hostile name: escaped in text, valid in JSON.
    raw = subprocess.run([nwtest.NETWHY, "-n", S, "--color=never", "ports"], capture_output=True)
    checks.check(b"\x1b" not in raw.stdout and b"\\x1b[5mevil\\xff(" in raw.stdout,
                 "text shows the hostile comm escaped", repr(raw.stdout[-200:]))
    rawj = subprocess.run([nwtest.NETWHY, "-n", S, "-j", "ports", "6666"], capture_output=True)
    try:
        hd = json.loads(rawj.stdout.decode("utf-8"))
        p = hd[0]["processes"][0]
        ok = p["comm"] == "\x1b[5mevil\ufffd" and "\x1b[2J\nrm -rf \ufffd" in p["cmdline"]
    except (ValueError, UnicodeDecodeError, IndexError, KeyError) as e:
        ok, p = False, str(e)
    checks.check(ok, "JSON keeps the hostile comm and cmdline, as valid UTF-8", str(p))

    # Bad input
    for args, mention in ((["ports", "0"], '"0"'), (["ports", "65536"], '"65536"'),
                          (["ports", "no-such-service"], '"no-such-service"'),
                          (["ports", "--source", "carrier-pigeon"], "carrier-pigeon")):
        b = nwtest.run("-n", S, *args)
        checks.check(b.returncode == 2 and b.stdout == "" and len(b.stderr.splitlines()) == 1 and mention in b.stderr,
                     f"error for {' '.join(args)}", b.stderr)

checks.done()
