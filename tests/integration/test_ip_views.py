#!/usr/bin/env python3
"""netwhy link/addr/route against ip in namespaces this test builds: the JSON
must equal ip -j's, the text must equal ip's, for the same command and flags."""

import re
import subprocess
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
import nwtest  # noqa: E402

nwtest.require_root()
checks = nwtest.Checks()


def build(ns):
    A = lambda *a, **k: ns.ip("srv", *a, **k)  # noqa: E731
    B = lambda *a, **k: ns.ip("peer", *a, **k)  # noqa: E731
    # No duplicate address detection: addresses must not change state (tentative
    # -> valid) between ip's read and netwhy's.
    for role in ("srv", "peer"):
        for conf in ("all", "default"):
            nwtest.sh("ip", "netns", "exec", ns[role], "sysctl", "-qw", f"net.ipv6.conf.{conf}.accept_dad=0")
    A("link", "set", "lo", "up")
    # This kernel may lack the dummy module: ifb stands in, with a stated reason.
    if A("link", "add", "dum0", "type", "dummy", check=False).returncode == 0:
        A("link", "set", "dum0", "up")
        A("addr", "add", "10.77.0.1/24", "dev", "dum0")
    else:
        print("note: no dummy interfaces on this kernel; ifb interfaces stand in")
    A("link", "add", "ifb0", "type", "ifb")
    A("link", "set", "ifb0", "up")
    A("link", "add", "ifb1", "type", "ifb")          # stays down
    A("link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", ns["peer"])
    A("link", "add", "vA", "type", "veth", "peer", "name", "vB")
    A("link", "set", "veth0", "up")
    B("link", "set", "veth1", "up")
    B("link", "set", "lo", "up")
    A("link", "set", "vA", "up")                      # peer down: NO-CARRIER, M-DOWN
    A("link", "add", "br0", "type", "bridge")          # no ports
    A("link", "set", "br0", "up")
    A("link", "add", "br1", "type", "bridge")          # one port, down: NO-CARRIER
    A("link", "set", "vB", "master", "br1")
    A("link", "set", "br1", "up")
    A("link", "add", "mv0", "link", "veth0", "type", "macvlan", "mode", "bridge")
    A("link", "set", "mv0", "up")
    A("link", "add", "vx0", "type", "vxlan", "id", "42", "dstport", "4789", "local", "10.9.0.1", "dev", "veth0")
    A("link", "set", "vx0", "up")
    A("addr", "add", "10.9.0.1/24", "dev", "veth0")
    B("addr", "add", "10.9.0.2/24", "dev", "veth1")
    A("addr", "add", "10.9.0.11/24", "dev", "veth0", "label", "veth0:sec")   # secondary, labelled
    A("addr", "add", "192.168.77.1/24", "brd", "+", "dev", "br0", "label", "br0:web")
    A("addr", "add", "192.168.78.1/24", "dev", "br1")
    A("addr", "add", "2001:db8:77::1/64", "dev", "br0", "nodad")
    A("addr", "add", "2001:db8:9::1/64", "dev", "veth0", "nodad")
    A("addr", "add", "172.30.0.1/16", "dev", "ifb0", "valid_lft", "3600", "preferred_lft", "1800")
    A("addr", "add", "2001:db8:aa::1/64", "dev", "ifb0", "valid_lft", "3000", "preferred_lft", "0", "nodad")
    A("addr", "add", "10.50.0.1/24", "dev", "ifb1")
    A("addr", "add", "10.60.0.1", "peer", "10.60.0.2/32", "dev", "mv0")
    A("addr", "add", "10.70.0.1/24", "dev", "mv0", "metric", "77")
    A("route", "add", "default", "via", "10.9.0.2", "dev", "veth0", "metric", "100")
    A("route", "add", "10.100.0.0/16", "via", "10.9.0.2", "dev", "veth0", "proto", "static", "metric", "20")
    A("route", "add", "10.101.0.0/16", "via", "10.9.0.99", "dev", "veth0", "onlink")
    A("route", "add", "blackhole", "10.102.0.0/16")
    A("route", "add", "unreachable", "10.103.0.0/16", "metric", "5")
    A("route", "add", "prohibit", "10.104.0.0/16")
    A("route", "add", "10.105.0.0/16", "nexthop", "via", "10.9.0.2", "dev", "veth0", "weight", "1",
      "nexthop", "via", "10.9.0.3", "dev", "veth0", "weight", "3")
    A("route", "add", "10.106.0.5", "dev", "veth0", "src", "10.9.0.11", "scope", "link")
    A("route", "add", "10.108.0.0/16", "via", "10.9.0.2", "mtu", "1400")
    A("route", "add", "2001:db8:100::/48", "via", "2001:db8:9::2", "dev", "veth0", "metric", "64")
    A("route", "add", "unreachable", "2001:db8:200::/48")
    A("route", "add", "2001:db8:300::/48", "nexthop", "via", "2001:db8:9::2", "dev", "veth0",
      "nexthop", "via", "2001:db8:9::3", "dev", "veth0")
    A("route", "add", "10.107.0.0/16", "via", "10.9.0.2", "dev", "veth0", "table", "100")


def compare(ns, args, via=None, text=True):
    """netwhy ARGS (-n NAME, or -n pid:PID) vs ip -n NAME ARGS, JSON and text."""
    target = via or ns["srv"]
    label = " ".join(args) + (f" [-n {target}]" if via else "")
    ip_json = subprocess.run(["ip", "-n", ns["srv"], "-j", *args], capture_output=True, text=True)
    got = nwtest.run("-n", target, "-j", *args)
    want, err1 = nwtest.load_json(ip_json.stdout)
    have, err2 = nwtest.load_json(got.stdout)
    if err1 or err2:
        checks.check(False, f"json {label}", f"ip: {err1} netwhy: {err2} {got.stderr.strip()}")
        return
    diff = nwtest.first_difference(want, have)
    checks.check(diff is None and got.returncode == 0, f"json {label}", diff or got.stderr.strip())
    pretty = nwtest.run("-n", target, "-j", "-p", *args)
    have_p, err3 = nwtest.load_json(pretty.stdout)
    checks.check(err3 is None and nwtest.same_json(want, have_p), f"json -p {label}",
                 err3 or str(nwtest.first_difference(want, have_p)))
    if text:
        mask = lambda s: re.sub(r"\d+sec", "Nsec", s)  # noqa: E731  lifetimes count down
        ip_text = subprocess.run(["ip", "-n", ns["srv"], *args], capture_output=True, text=True).stdout
        nw_text = nwtest.run("-n", target, "--color=never", *args).stdout
        same = mask(ip_text) == mask(nw_text)
        detail = ""
        if not same:
            a, b = mask(ip_text).splitlines(), mask(nw_text).splitlines()
            for i, (x, y) in enumerate(zip(a, b)):
                if x != y:
                    detail = f"line {i + 1}: ip {x!r} netwhy {y!r}"
                    break
            else:
                detail = f"{len(a)} lines vs {len(b)}"
        checks.check(same, f"text {label}", detail)


with nwtest.Namespaces("srv", "peer") as ns:
    build(ns)
    for fam in ([], ["-4"], ["-6"]):
        for view in (["link"], ["addr"], ["route"]):
            compare(ns, fam + view)
            compare(ns, fam + ["-br"] + view if view != ["route"] else fam + view + ["show"])
    for args in (["addr", "show", "dev", "veth0"], ["link", "show", "mv0"], ["a", "show", "br1"],
                 ["l", "show", "dev", "vA"], ["route", "show", "table", "local"],
                 ["route", "show", "table", "all"], ["-6", "route", "show", "table", "local"],
                 ["route", "show", "table", "100"], ["route", "show", "dev", "veth0"],
                 ["-6", "route", "show", "table", "all"]):
        compare(ns, args)
    # route get: local, on-link, via a gateway, IPv6, loopback, broadcast
    for dst in ("10.9.0.1", "10.9.0.2", "10.100.1.1", "10.9.0.255", "127.0.0.1",
                "2001:db8:100::1", "::1", "2001:db8:9::2"):
        compare(ns, ["route", "get", dst])
    # unroutable: ip fails, netwhy fails with one line on stderr, nothing on stdout, exit 2
    for dst in ("10.103.0.1", "10.102.0.1", "10.104.0.1", "2001:db8:200::1"):
        ip_r = subprocess.run(["ip", "-n", ns["srv"], "route", "get", dst], capture_output=True, text=True)
        got = nwtest.run("-n", ns["srv"], "-j", "route", "get", dst)
        checks.check(ip_r.returncode != 0 and got.returncode == 2 and got.stdout == ""
                     and got.stderr.count("\n") == 1 and dst in got.stderr,
                     f"route get {dst} unroutable", f"rc={got.returncode} err={got.stderr!r}")
    # a namespace named by a process inside it
    sleeper = ns.spawn("srv", "sleep", "60")
    pid = None
    for _ in range(50):  # the child of ip netns exec: wait (bounded) for exec to finish
        r = subprocess.run(["pgrep", "-P", str(sleeper.pid)], capture_output=True, text=True)
        cand = r.stdout.split()[0] if r.stdout.split() else str(sleeper.pid)
        comm = open(f"/proc/{cand}/comm").read().strip() if __import__("os").path.exists(f"/proc/{cand}/comm") else ""
        if comm == "sleep":
            pid = cand
            break
        __import__("time").sleep(0.05)
    checks.check(pid is not None, "a process runs in the test namespace")
    if pid:
        compare(ns, ["addr"], via=f"pid:{pid}", text=False)
        compare(ns, ["route"], via=f"pid:{pid}", text=False)

# Without -n: the caller's own namespace, compared with ip there.
host_ip, _ = nwtest.load_json(subprocess.run(["ip", "-j", "link"], capture_output=True, text=True).stdout)
host_nw, _ = nwtest.load_json(nwtest.run("-j", "link").stdout)
checks.check(host_ip is not None and host_nw is not None and nwtest.first_difference(host_ip, host_nw) is None,
             "json link in the caller's namespace", str(nwtest.first_difference(host_ip, host_nw)))

checks.done()
