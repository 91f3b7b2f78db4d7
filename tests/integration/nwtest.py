"""Helpers for netwhy's integration tests: privileges, namespaces that the
test creates and always removes, running the binary, comparing with ip -j.

Every JSON output of `netwhy port`, `ports` and `snapshot` that a test sees is
checked against docs/netwhy.schema.json (nwschema.py): whether the test runs
netwhy through run(), subprocess.run or Popen(...).communicate() (with ip netns
exec, nsenter or setpriv as prefixes too). A violation is recorded, and
Checks.done() fails the test naming it (an exit without done() does too)."""

import atexit
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwschema  # noqa: E402

SKIP = 77
NETWHY = os.environ.get("NETWHY", "netwhy")
IN_CI = os.environ.get("CI") == "true"


def require_root(what="network namespaces"):
    """Skip (exit 77) when unprivileged; under CI=true that is a failure."""
    if os.geteuid() == 0:
        probe = subprocess.run(["ip", "netns", "add", f"nwprobe{os.getpid()}"],
                               capture_output=True, text=True)
        if probe.returncode == 0:
            subprocess.run(["ip", "netns", "del", f"nwprobe{os.getpid()}"], capture_output=True)
            return
        reason = f"cannot create {what}: {probe.stderr.strip()}"
    else:
        reason = f"needs root to create {what}"
    if IN_CI:
        print(f"FAIL: {reason} (CI=true: a missing capability is a failure)")
        sys.exit(1)
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def sh(*cmd, check=True, timeout=30, **kw):
    r = subprocess.run(list(cmd), capture_output=True, text=True, errors="replace", timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def run(*args, timeout=30, env=None):
    """Run netwhy; returns CompletedProcess (bytes decoded leniently). JSON output is
    checked against the schema (_ObservedPopen below)."""
    return subprocess.run([NETWHY, *args], capture_output=True, timeout=timeout, env=env,
                          text=True, errors="surrogateescape")


SCHEMA_VIOLATIONS = []  # what observe() found; Checks.done() fails on them
schema_checked = 0      # outputs observe() validated
_reported = False
_schema_note = False


def observe(r):
    """Checks a finished command (a CompletedProcess) against the schema when it ran
    netwhy port, ports or snapshot with -j and exited 0, 1 or 3. Returns r."""
    global _schema_note, schema_checked
    if nwschema.json_command(r.args) is None:
        return r
    why = nwschema.available()
    if why and not IN_CI:
        if not _schema_note:
            print(f"note: JSON output not checked against the schema: {why}")
            _schema_note = True
        return r
    if r.returncode in nwschema.JSON_EXITS and r.stdout is not None:
        schema_checked += 1
        SCHEMA_VIOLATIONS.extend(nwschema.check_output(r.args, r.returncode, r.stdout))
    return r


class _ObservedPopen(subprocess.Popen):
    """subprocess.Popen whose communicate() hands what the command printed to observe():
    subprocess.run goes through it too, so every netwhy a test runs and reads the output
    of is checked, whatever the prefix (ip netns exec, nsenter, setpriv) or helper, and no
    test can forget to."""

    def communicate(self, *args, **kwargs):
        out, err = super().communicate(*args, **kwargs)
        observe(subprocess.CompletedProcess(self.args, self.returncode, out, err))
        return out, err


subprocess.Popen = _ObservedPopen


def report_schema_violations():
    """Prints each violation as a FAIL line; returns how many."""
    global _reported
    _reported = True
    for v in SCHEMA_VIOLATIONS:
        print(f"FAIL [schema] {v}")
    return len(SCHEMA_VIOLATIONS)


@atexit.register
def _unreported():
    # A test that ends without Checks.done() (an early exit) still fails on a violation.
    if SCHEMA_VIOLATIONS and not _reported:
        report_schema_violations()
        sys.stdout.flush()
        os._exit(1)


class Namespaces:
    """Creates uniquely named namespaces; removes them (and their processes) on exit."""

    def __init__(self, *roles):
        tag = f"{os.getpid() % 100000}"
        self.names = {role: f"nw{role[:4]}{tag}" for role in roles}
        self.procs = []

    def __enter__(self):
        for name in self.names.values():
            sh("ip", "netns", "add", name)
        return self

    def kill_all(self, role):
        """Every process in the namespace (a master's orphaned workers too)."""
        pids = subprocess.run(["ip", "netns", "pids", self.names.get(role, role)], capture_output=True,
                              text=True).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError):
                pass

    def __exit__(self, *exc):
        for name in self.names.values():
            self.kill_all(name)
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        for name in self.names.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        return False

    def add(self, role):
        """One more namespace, removed with the others; returns its name."""
        name = f"nw{role[:4]}{os.getpid() % 100000}"
        sh("ip", "netns", "add", name)
        self.names[role] = name
        return name

    def __getitem__(self, role):
        return self.names[role]

    def ip(self, role, *args, check=True):
        return sh("ip", "-n", self.names.get(role, role), *args, check=check)

    def wire(self, a, b, dev, a_addrs=(), b_addrs=()):
        """A veth named `dev` at both ends, between roles a and b, with the given
        addresses ("10.70.0.1/24"; IPv6 ones without DAD, usable at once), both up."""
        self.ip(a, "link", "add", dev, "type", "veth", "peer", "name", dev, "netns", self.names[b])
        for role, addrs in ((a, a_addrs), (b, b_addrs)):
            for addr in addrs:
                self.ip(role, "addr", "add", addr, "dev", dev, *(("nodad",) if ":" in addr else ()))
            self.ip(role, "link", "set", dev, "up")

    def spawn(self, role, *cmd):
        name = self.names.get(role, role)  # a role, or a namespace name
        if len(cmd) == 1 and isinstance(cmd[0], (list, tuple)):
            cmd = tuple(cmd[0])
        p = subprocess.Popen(["ip", "netns", "exec", name, *cmd],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        return p


LIFETIME_KEYS = {"valid_life_time", "preferred_life_time", "expires"}


def same_json(a, b, key=None, slack=2):
    """Deep equality; lifetimes that count down may differ by a second or two."""
    if key in LIFETIME_KEYS and isinstance(a, int) and isinstance(b, int):
        return abs(a - b) <= slack
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k], k) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    return a == b and type(a) is type(b)


def first_difference(a, b, path="$"):
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a.keys() ^ b.keys())} differ"
        for k in a:
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if not same_json(a, b, path.rsplit(".", 1)[-1]):
        return f"{path}: {a!r} vs {b!r}"
    return None


class Checks:
    def __init__(self):
        self.failed = 0
        self.passed = 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {what}")
        else:
            self.failed += 1
            print(f"FAIL {what}" + (f": {detail}" if detail else ""))

    def done(self):
        """Ends the test: fails on a failed check or on JSON that the schema rejects."""
        if SCHEMA_VIOLATIONS:
            self.failed += report_schema_violations()
        elif schema_checked:
            self.check(True, f"[schema] {schema_checked} JSON outputs match docs/netwhy.schema.json")
        print(f"{self.passed} checks passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


def load_json(text):
    try:
        return json.loads(text), None
    except ValueError as e:
        return None, str(e)


EXIT_OF = {"reachable": 0, "local-only": 1, "not-listening": 1, "unreachable": 1, "unknown": 3}


def finding_codes():
    """The one list of finding codes, read from include/netwhy/findings.hpp."""
    import re
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "include", "netwhy", "findings.hpp")) as f:
        return set(re.findall(r"CodeInfo\{Code::\w+,\s*\"([a-z0-9-]+)\"", f.read()))


CODES = finding_codes()


def check_answer(checks, what, r, doc):
    """The invariants every `netwhy port -j` answer keeps: the exit status follows the verdict;
    reachable never stands beside an error; the headline answers the question asked (for a
    HOST on another machine: names it, and is not about what listens here); known codes."""
    if not isinstance(doc, dict):
        checks.check(False, f"{what}: stdout is one JSON document", r.stderr.strip())
        return
    verdict = doc.get("verdict")
    checks.check(verdict in EXIT_OF and r.returncode == EXIT_OF[verdict],
                 f"{what}: exit status {r.returncode} is the one of verdict {verdict}", r.stderr.strip())
    errors = [f["code"] for f in doc.get("findings", []) if f.get("severity") == "error"]
    checks.check(not (verdict == "reachable" and errors), f"{what}: no reachable verdict beside an error finding",
                 f"errors {errors}")
    head = doc.get("headline")
    checks.check(isinstance(head, str) and head.strip() != "", f"{what}: the headline is a non-empty string",
                 repr(head))
    q = doc.get("query", {})
    elsewhere = q.get("host") and not any(e.get("from_host") and e.get("interface") for e in doc.get("endpoints", []))
    if elsewhere and isinstance(head, str):
        named = q["host"] in head or any(a in head for a in q.get("addresses", []))
        checks.check(named and not head.lower().startswith("nothing listens"),
                     f"{what}: the headline is about {q['host']}, not about this host", head)
    unknown = [f.get("code") for f in doc.get("findings", []) if f.get("code") not in CODES]
    checks.check(not unknown, f"{what}: every finding code is in findings.hpp", f"unknown codes {unknown}")


def ss_sockets(ns, flags="-Hltunpe"):
    """{(proto, address, port): {"pids", "inode", "v6only", "dev", "recvq", "sendq"}} from ss."""
    out = sh("ip", "netns", "exec", ns, "ss", flags).stdout
    found = {}
    for line in out.splitlines():
        f = line.split()
        if f and f[0] not in ("tcp", "udp"):  # one protocol asked: ss leaves out Netid
            f.insert(0, "tcp" if "t" in flags else "udp")
        if len(f) < 5:
            continue
        proto, recvq, sendq, local = f[0], int(f[2]), int(f[3]), f[4]
        host, port = local.rsplit(":", 1)
        dev = None
        if "%" in host:
            host, dev = host.split("%", 1)
        host = host.strip("[]")
        if host == "*":
            host = "::"
        mapped = host.startswith("::ffff:") and "." in host
        if mapped:
            host = host[len("::ffff:"):]
        ino = re.search(r"\bino:(\d+)", line)
        v6 = re.search(r"\bv6only:(\d)", line)
        found[(proto, host, int(port))] = {
            "pids": sorted({int(p) for p in re.findall(r"pid=(\d+)", line)}),  # ss lists each fd
            "inode": int(ino.group(1)) if ino else None,
            "v6only": (v6.group(1) == "1") if v6 else None,
            "dev": dev, "recvq": recvq, "sendq": sendq, "mapped": mapped,
        }
    return found


def wait_listening(ns, want, timeout=20.0):
    """Bounded wait until ss shows every (proto, addr, port) in want with at least that many
    processes; returns what ss showed, or None when the time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        have = ss_sockets(ns, "-Hltunp")
        if all(k in have and len(have[k]["pids"]) >= n for k, n in want.items()):
            return have
        time.sleep(0.1)
    return None


class Overtime(Exception):
    """Raised in the test when its time budget runs out or meson stops it: the
    `with Namespaces(...)` blocks still run their cleanup."""


def watchdog(name, budget):
    """Bounds the whole test: SIGALRM after `budget` seconds, and SIGTERM
    (meson's timeout), become Overtime in the main thread."""
    import signal

    def overtime(signum, frame):
        raise Overtime(f"{name} ran past its {budget} s budget")

    def terminated(signum, frame):
        raise Overtime(f"{name} was sent signal {signum}")

    signal.signal(signal.SIGALRM, overtime)
    signal.signal(signal.SIGTERM, terminated)
    signal.alarm(budget)
