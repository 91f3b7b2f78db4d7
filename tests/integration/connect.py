#!/usr/bin/env python3
"""The truth for the port tests: try a real connection to each address.

    connect.py [--udp] [--detail] [--timeout S] PORT ADDRESS...
    connect.py --hold N [--timeout S] PORT ADDRESS

TCP: a connect() with a timeout (default 1.5 s). UDP: a datagram, and its
echo back (the test's UDP server echoes). Prints {"ADDRESS": true|false, ...}
as JSON, or with --detail what happened to each: "ok", "refused"
(ECONNREFUSED), "timeout", "host-unreachable" (EHOSTUNREACH),
"net-unreachable" (ENETUNREACH), "blocked" (EPERM or EACCES: this host's own
firewall said no) or "error:NAME" for any other errno.

--hold N opens N connections one after another (each with the timeout),
prints {"opened": K, "results": [...]} on one line once all were tried, and
keeps every opened one open until killed (at most 10 minutes): a server that
never calls accept() then has a full accept queue.
"""

import errno
import json
import socket
import sys
import threading
import time

TIMEOUT = 1.5


def classify(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    code = getattr(e, "errno", None)
    return {errno.ECONNREFUSED: "refused", errno.EHOSTUNREACH: "host-unreachable",
            errno.ENETUNREACH: "net-unreachable", errno.EPERM: "blocked",
            errno.EACCES: "blocked", errno.ETIMEDOUT: "timeout"}.get(code, f"error:{errno.errorcode.get(code, code)}")


def open_one(addr, port, udp, timeout):
    """Returns (socket or None, what happened)."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        if udp:
            s.sendto(b"netwhy?", (addr, port))
            data, _ = s.recvfrom(64)
            result = "ok" if data == b"netwhy?" else "error:bad-echo"
        else:
            s.connect((addr, port))
            result = "ok"
        return s, result
    except OSError as e:  # socket.timeout is an OSError
        s.close()
        return None, classify(e)


def try_one(addr, port, udp, out, timeout):
    s, out[addr] = open_one(addr, port, udp, timeout)
    if s:
        s.close()


def main():
    args = sys.argv[1:]
    udp = "--udp" in args
    detail = "--detail" in args
    timeout, hold = TIMEOUT, 0
    if "--timeout" in args:
        i = args.index("--timeout")
        timeout = float(args[i + 1])
        del args[i:i + 2]
    if "--hold" in args:
        i = args.index("--hold")
        hold = int(args[i + 1])
        del args[i:i + 2]
    args = [a for a in args if a not in ("--udp", "--detail")]
    port, addrs = int(args[0]), args[1:]
    if hold:
        kept, results = [], []
        for _ in range(hold):
            s, what = open_one(addrs[0], port, udp, timeout)
            results.append(what)
            if s:
                kept.append(s)
        print(json.dumps({"opened": len(kept), "results": results}), flush=True)
        time.sleep(600)
        return
    out = {}
    threads = [threading.Thread(target=try_one, args=(a, port, udp, out, timeout)) for a in addrs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 1)
    res = {a: out.get(a, "timeout") for a in addrs}
    print(json.dumps(res if detail else {a: v == "ok" for a, v in res.items()}))


if __name__ == "__main__":
    main()
