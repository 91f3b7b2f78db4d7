#!/usr/bin/env python3
"""Rootless podman (rootless_lab.py): an ordinary user's containers, their ports published by
rootlessport, against real connects (the truth).

The user's podman runs confined to a namespace of its own (NS) with a client namespace on
a veth; HA (10.78.0.1) is NS's address on that veth:

    client eth0 10.78.0.2 ---- eth0 10.78.0.1 NS: podman's pause process, slirp4netns, conmon;
                                                  rootlessport's sockets (its main thread is in
                                                  the container's namespace); containers behind
                                                  slirp4netns, each in a namespace of its own

netwhy runs as root INSIDE NS (nsenter --net=/run/netns/NS -- $NETWHY port P -j, with
--host HA and --host 127.0.0.1 too). The truth is an HTTP GET with curl (-m 3): from the
client namespace to HA:PORT (another host), and from NS itself to 127.0.0.1:PORT and
HA:PORT (this host). Every answer keeps nwtest.check_answer's contract, and its verdict
agrees with the truth: reachable iff the client's GET works (for --host 127.0.0.1: iff this
host's GET to 127.0.0.1 works); local-only only where a GET from this host works.

Scenarios (nwtest:1, httpd -f -p 80 -h /www unless said):
  web    -p 8080:80                         reachable; ports -j: the 8080 listener's process is
                                            rootlessport, with container {engine podman, name web,
                                            holder true} (and podman's id for web)
  webin  -p 8082:80, httpd on 127.0.0.1:80  unreachable (every GET is reset); container-loopback
                                            names webin
  webl   -p 127.0.0.1:8081:80               local-only; published-loopback names webl, its fix has
                                            -p 8081:80; applied (recreated with it): the client
                                            connects and the verdict is reachable
  unpub  no -p, httpd -f -p 8083            not-listening

Lines tagged [truth] check the harness (and what the recipe says rootless podman does);
[netwhy] check the answer. Then the lab is gone: the user, its /etc lines (backups too),
processes of its uid, namespaces, mounts, the directory. Missing programs skip the test
with the reason (under CI=true: a failure). The whole test runs in under 60 s.
"""

import os
import re
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nwtest  # noqa: E402
import containers_lab as cl  # noqa: E402
import rootless_lab as rl  # noqa: E402

nwtest.require_root("network namespaces and users")
checks = nwtest.Checks()
STARTED = time.monotonic()
LIMIT = 60          # the whole test, teardown included
BUDGET = 50         # the watchdog: what is left of LIMIT is for the teardown
Overtime = nwtest.Overtime

HTTPD = cl.HTTPD
HTTPD_LO = ["httpd", "-f", "-p", "127.0.0.1:80", "-h", "/www"]
TIMINGS = []        # (scenario, seconds)

miss = rl.missing_programs()
if miss:
    reason = f"not installed: {', '.join(miss)} (scripts/bootstrap installs them)"
    if nwtest.IN_CI:
        print(f"FAIL: {reason} (CI=true: a missing program is a failure)")
        sys.exit(1)
    print(f"SKIP: {reason}")
    sys.exit(nwtest.SKIP)

nwtest.watchdog("test_rootless_live", BUDGET)


def elapsed():
    return f"{time.monotonic() - STARTED:5.1f}s"


# ---------------------------------------------------------------- the truth

def measure(lab, what, port):
    """The client's GET to HA:PORT (another host), and this host's GETs to 127.0.0.1:PORT and HA:PORT."""
    m = {"client": lab.connect_from_client(lab.ha, port), "host": lab.connect_from_host("127.0.0.1", port),
         "host_ha": lab.connect_from_host(lab.ha, port)}
    print(f"# {what} [{elapsed()}]: client -> {lab.ha}:{port} {m['client']}; this host -> 127.0.0.1:{port} "
          f"{m['host']}, -> {lab.ha}:{port} {m['host_ha']}")
    return m


def truth_is(what, probe, want):
    checks.check(bool(probe) == want, f"[truth] {what}: {'connects' if want else 'does not connect'}",
                 f"measured {probe}")


def settle(lab, port, want, timeout=5):
    """Waits (bounded) until the client's GET to HA:PORT gives WANT (rootlessport may take a moment)."""
    cl.wait_until(lambda: bool(lab.connect_from_client(lab.ha, port)) == want, timeout, step=0.1)


def status_of(pid):
    """(ppid, real uid) of PID, or (None, None)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            s = f.read()
        return (int(re.search(r"^PPid:\s+(\d+)", s, re.M).group(1)),
                int(re.search(r"^Uid:\s+(\d+)", s, re.M).group(1)))
    except (OSError, AttributeError):
        return None, None


# ---------------------------------------------------------------- netwhy

def ask(lab, what, port, m, host=None, text=False):
    """netwhy port PORT -j [--host HOST] in NS: the contract (check_answer) and the verdict against
    the measurement M. TEXT: the text form runs too, with the same exit status. Returns the
    document or None."""
    args = ["port", str(port), "-j"] + (["--host", host] if host else [])
    t0 = time.monotonic()
    r = lab.netwhy(*args)
    took = time.monotonic() - t0
    if r.returncode is None:
        checks.check(False, f"[netwhy] {what}: answers within {cl.NETWHY_TIMEOUT} s")
        return None
    doc, _ = nwtest.load_json(r.stdout)
    nwtest.check_answer(checks, f"[netwhy] {what}", r, doc)
    if not isinstance(doc, dict):
        print(f"# {what}: netwhy exit {r.returncode}, no JSON; stderr {r.stderr.strip()[:300]!r}")
        return None
    print(f"# {what}: netwhy {' '.join(args)} ({took:.2f} s, exit {r.returncode}) verdict {doc.get('verdict')}")
    print(f"#   headline: {doc.get('headline')}")
    for f in doc.get("findings", []):
        c = f.get("container")
        print(f"#   {f.get('severity')} {f.get('code')}: {f.get('message')} | fix: {f.get('fix')}"
              + (f" | container: {c.get('engine')}:{c.get('name')}" if isinstance(c, dict) else ""))
    truth = m["host"] if host in ("127.0.0.1", "localhost") else m["client"]
    verdict = doc.get("verdict")
    checks.check((verdict == "reachable") == bool(truth),
                 f"[netwhy] {what}: verdict {verdict} agrees with the measured GET ({truth})", doc.get("headline", ""))
    if verdict == "local-only":
        checks.check(bool(m["host"]) or bool(m["host_ha"]),
                     f"[netwhy] {what}: local-only, and this host's GET does work",
                     f"measured 127.0.0.1 {m['host']}, {lab.ha} {m['host_ha']}")
    if text:
        t = lab.netwhy(*[a for a in args if a != "-j"])
        checks.check(t.returncode == r.returncode and (t.stdout or "").strip() != "",
                     f"[netwhy] {what}: the text form prints and exits {r.returncode} too",
                     f"exit {t.returncode}, stderr {(t.stderr or '').strip()[:200]!r}")
    return doc


def ask_all(lab, name, port, m):
    """The three questions of a scenario: PORT, --host HA, --host 127.0.0.1. Returns the first answer."""
    doc = ask(lab, f"{name} port {port}", port, m, text=True)
    ask(lab, f"{name} --host {lab.ha}", port, m, host=lab.ha)
    ask(lab, f"{name} --host 127.0.0.1", port, m, host="127.0.0.1")
    return doc


def verdict_is(what, doc, verdict):
    if doc is not None:
        checks.check(doc.get("verdict") == verdict, f"[netwhy] {what}: verdict {verdict}",
                     f"got {doc.get('verdict')}: {doc.get('headline')!r}")


def names_container(obj, name):
    return isinstance(obj, dict) and obj.get("engine") == "podman" and obj.get("name") == name


def same_id(lab, what, obj, name):
    """The container object's id is podman's own full id of NAME (the rootful labs' contract)."""
    want = lab.containers.get(name, {}).get("id") or lab.id_of(name)
    got = obj.get("id") if isinstance(obj, dict) else None
    checks.check(got == want, f"[netwhy] {what}: the container's id is podman's id of {name}",
                 f"got {got!r}, podman says {want!r}")


def expect_finding(lab, what, doc, code, name, fix=None, fix_says=""):
    """A finding CODE whose container names NAME (engine podman); FIX a predicate on its fix.
    Returns the finding (or one of that code, or None)."""
    if doc is None:
        return None
    fs = [f for f in doc.get("findings", []) if f.get("code") == code]
    named = [f for f in fs if names_container(f.get("container"), name)]
    checks.check(bool(named), f"[netwhy] {what}: finding {code} with container {{engine podman, name {name}}}",
                 f"got {[(f.get('code'), f.get('container')) for f in doc.get('findings', [])]}")
    f = (named or fs or [None])[0]
    if named:
        same_id(lab, f"{what}: {code}", f.get("container"), name)
    if fix is not None:
        checks.check(f is not None and isinstance(f.get("fix"), str) and fix(f["fix"]),
                     f"[netwhy] {what}: {code}'s fix {fix_says}", f"fix {f and f.get('fix')!r}")
    return f


P_TOKEN = re.compile(r"(?:^|\s)(?:-p|--publish)[ =]([0-9.:\[\]]+:\d+)(?=[\s;)'\"]|$)")


def publish_of(fix):
    """The X:Y of the `-p X:Y` (or --publish) in a printed fix, or None."""
    m = P_TOKEN.search(fix) if isinstance(fix, str) else None
    return m.group(1) if m else None


# ---------------------------------------------------------------- scenarios

class Scenario:
    """Times one scenario; a harness error in it is a failure, and the others still run."""

    def __init__(self, lab, title):
        self.lab, self.title = lab, title

    def __enter__(self):
        print(f"\n## rootless podman {self.lab.ns_name}: {self.title} [{elapsed()}]")
        self.t0 = time.monotonic()
        return self

    def __exit__(self, kind, exc, tb):
        took = time.monotonic() - self.t0
        TIMINGS.append((self.title, took))
        print(f"# {self.title}: {took:.1f} s")
        if kind is None or issubclass(kind, (Overtime, KeyboardInterrupt)):
            return False
        checks.check(False, f"rootless: {self.title}: the scenario ran", f"{kind.__name__}: {exc}")
        return True


def web(lab):
    with Scenario(lab, "web -p 8080:80") as sc:
        lab.run("web", ports=["8080:80"])
        settle(lab, 8080, True)
        m = measure(lab, sc.title, 8080)
        truth_is("web: the client's GET to HA:8080", m["client"], True)
        truth_is("web: this host's GET to 127.0.0.1:8080", m["host"], True)
        truth_is(f"web: this host's GET to {lab.ha}:8080", m["host_ha"], True)
        holders = lab.holders(8080)
        pid = next(iter(holders), None)
        ppid, uid = status_of(pid) if pid else (None, None)
        web_netns = lab.containers.get("web", {}).get("netns")
        print(f"# web: ss says {holders} hold 8080 in {lab.ns_name}; ppid {ppid}, uid {uid}, main thread's "
              f"netns {cl.netns_inode(pid) if pid else None} (web's {web_netns})")
        checks.check(sorted(holders.values()) == ["rootlessport"] and uid == lab.uid
                     and cl.netns_inode(pid) == web_netns,
                     "[truth] web: rootlessport (the user's, its main thread in web's namespace) holds 8080 in NS",
                     f"{holders}, uid {uid} (the user's {lab.uid}), netns {cl.netns_inode(pid) if pid else None}")
        doc = ask_all(lab, "web", 8080, m)
        verdict_is("web port 8080", doc, "reachable")
        r = lab.netwhy("ports", "-j")
        listeners, err = nwtest.load_json(r.stdout)
        checks.check(r.returncode == 0 and isinstance(listeners, list), "[netwhy] web ports -j: a JSON array",
                     f"exit {r.returncode}, {err or ''} {r.stderr.strip()[:200]}")
        ls = [lst for lst in (listeners if isinstance(listeners, list) else [])
              if lst.get("port") == 8080 and lst.get("protocol") == "tcp"]
        procs = [p for lst in ls for p in lst.get("processes", [])]
        print(f"# web ports -j: 8080's processes {[(p.get('comm'), p.get('pid'), p.get('container')) for p in procs]}")
        good = ls and all(any(p.get("comm") == "rootlessport" and names_container(p.get("container"), "web")
                              and p["container"].get("holder") is True for p in lst.get("processes", []))
                          for lst in ls)
        checks.check(bool(good), "[netwhy] web ports -j: the 8080 listener's process rootlessport has container "
                     "{engine podman, name web, holder true}",
                     f"{len(ls)} listeners, processes {[(p.get('comm'), p.get('container')) for p in procs]}")
        rp = next((p for p in procs if p.get("comm") == "rootlessport" and names_container(p.get("container"), "web")),
                  None)
        if rp:
            same_id(lab, "web ports -j: rootlessport", rp["container"], "web")


def webin(lab):
    with Scenario(lab, "webin -p 8082:80, httpd on 127.0.0.1:80 in the container") as sc:
        lab.run("webin", ports=["8082:80"], cmd=HTTPD_LO)
        # measured once rootlessport listens: the container's refusal, not a port not yet open
        up = cl.wait_until(lambda: bool(lab.holders(8082)), 5, step=0.1)
        checks.check(up, "[truth] webin: rootlessport listens on 8082 in NS", str(lab.holders(8082)))
        m = measure(lab, sc.title, 8082)
        truth_is("webin: the client's GET to HA:8082", m["client"], False)
        truth_is("webin: this host's GET to 127.0.0.1:8082", m["host"], False)
        checks.check(m["client"].rc == 56 and m["host"].rc == 56,
                     "[truth] webin: the GETs are reset (56: rootlessport accepted, the container refused)",
                     f"client {m['client']}, this host {m['host']}")
        doc = ask_all(lab, "webin", 8082, m)
        verdict_is("webin port 8082", doc, "unreachable")
        expect_finding(lab, "webin port 8082", doc, "container-loopback", "webin")


def webl(lab):
    with Scenario(lab, "webl -p 127.0.0.1:8081:80") as sc:
        lab.run("webl", ports=["127.0.0.1:8081:80"])
        cl.wait_until(lambda: bool(lab.connect_from_host("127.0.0.1", 8081)), 5, step=0.1)
        m = measure(lab, sc.title, 8081)
        truth_is("webl: the client's GET to HA:8081", m["client"], False)
        truth_is("webl: this host's GET to 127.0.0.1:8081", m["host"], True)
        truth_is(f"webl: this host's GET to {lab.ha}:8081", m["host_ha"], False)
        doc = ask_all(lab, "webl", 8081, m)
        verdict_is("webl port 8081", doc, "local-only")
        f = expect_finding(lab, "webl port 8081", doc, "published-loopback", "webl",
                           fix=lambda fx: "-p 8081:80" in fx, fix_says="contains -p 8081:80")
        token = publish_of(f.get("fix") if f else None)
        checks.check(token is not None, "[netwhy] webl: the fix has a -p HOST:CONTAINER to apply",
                     f"fix {f and f.get('fix')!r}")
        if token is None:
            print("# webl: no -p in the fix; the reference fix -p 8081:80 is applied instead, for the record")
        lab.recreate("webl", ports=[token or "8081:80"], cmd=HTTPD)
        settle(lab, 8081, True)
        m = measure(lab, f"webl after -p {token or '8081:80'}", 8081)
        truth_is(f"webl after -p {token or '8081:80'}: the client's GET", m["client"], True)
        doc = ask(lab, "webl after the fix", 8081, m)
        verdict_is("webl after the fix", doc, "reachable")


def unpub(lab):
    with Scenario(lab, "unpub: no -p, httpd -f -p 8083") as sc:
        lab.run("unpub", cmd=["httpd", "-f", "-p", "8083", "-h", "/www"])
        m = measure(lab, sc.title, 8083)
        truth_is("unpub: the client's GET to HA:8083", m["client"], False)
        truth_is("unpub: this host's GET to 127.0.0.1:8083", m["host"], False)
        inside = lab.listening(8083, lab.containers["unpub"]["pid"])
        checks.check(bool(inside) and not lab.listening(8083),
                     "[truth] unpub: httpd listens on 8083 in the container's namespace, nothing in NS", str(inside))
        doc = ask_all(lab, "unpub", 8083, m)
        verdict_is("unpub port 8083", doc, "not-listening")


# ---------------------------------------------------------------- the lab

rl.reap_stale_users()     # an earlier run's, killed before its teardown: before the "as before" snapshot
etc_before = rl.read_files(rl.ETC_FILES)
netns_before = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
lab = rl.RootlessLab()
try:
    t0 = time.monotonic()
    try:
        with lab:
            print(f"# rootless lab {lab.ns_name} up in {time.monotonic() - t0:.1f} s: user {lab.user} "
                  f"(uid {lab.uid}, subuids {lab.subuids}), HA {lab.ha}, client {lab.ca}; "
                  + ", ".join(f"{k} {v:.1f} s" for k, v in lab.timings.items()))
            for s in (web, webin, webl, unpub):
                s(lab)
    except Overtime:
        raise
    except Exception as e:   # the lab itself did not come up (or go down)
        checks.check(False, "RootlessLab: the lab came up and went down", f"{type(e).__name__}: {e}")
    TIMINGS.insert(0, ("setup (user, namespaces, image import)", lab.timings.get("setup", 0.0)))
    TIMINGS.append(("teardown", lab.timings.get("teardown", 0.0)))
    TIMINGS.append(("whole lab", time.monotonic() - t0))
except Overtime as e:
    checks.check(False, str(e))
finally:
    signal.alarm(0)

checks.check(not lab.leftovers, "[truth] cleanup: the lab's teardown removed everything it meant to",
             str(lab.leftovers))
residue = lab.residue()
checks.check(not residue, f"[truth] cleanup: nothing of the lab is left (user {lab.user}, its /etc lines and "
             "backups, processes of its uid, namespaces, mounts, directory, podman's lock file)", str(residue))
changed = [p for p, text in rl.read_files(rl.ETC_FILES).items() if text != etc_before.get(p)]
checks.check(not changed, "[truth] cleanup: the account files and their backups are as before", str(changed))
new_netns = (set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()) - netns_before
checks.check(not new_netns, "[truth] cleanup: no new entry in /run/netns", str(sorted(new_netns)))
print("\n# timings:")
for title, secs in TIMINGS:
    print(f"#   {title:55} {secs:5.1f} s")
took = time.monotonic() - STARTED
print(f"# test_rootless_live took {took:.1f} s")
checks.check(took < LIMIT, f"[truth] the whole test runs in under {LIMIT} s ({took:.1f} s)")
checks.done()
