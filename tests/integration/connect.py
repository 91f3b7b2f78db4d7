#!/usr/bin/env python3
"""The truth for the port tests: try a real connection to each address.

    connect.py [--udp] [--detail] PORT ADDRESS...

TCP: a connect() with a timeout. UDP: a datagram, and its echo back (the
test's UDP server echoes). Prints {"ADDRESS": true|false, ...} as JSON, or
with --detail "ok", "refused", "timeout" or "error" for each.
"""

import json
import socket
import sys
import threading

TIMEOUT = 1.5


def try_one(addr, port, udp, out, detail):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        if udp:
            s.sendto(b"netwhy?", (addr, port))
            data, _ = s.recvfrom(64)
            out[addr] = data == b"netwhy?"
        else:
            s.connect((addr, port))
            out[addr] = True
        if detail:
            out[addr] = "ok" if out[addr] else "error"
    except ConnectionRefusedError:
        out[addr] = "refused" if detail else False
    except socket.timeout:
        out[addr] = "timeout" if detail else False
    except OSError:
        out[addr] = "error" if detail else False
    finally:
        s.close()


def main():
    args = sys.argv[1:]
    udp = "--udp" in args
    detail = "--detail" in args
    args = [a for a in args if a not in ("--udp", "--detail")]
    port, addrs = int(args[0]), args[1:]
    out = {}
    threads = [threading.Thread(target=try_one, args=(a, port, udp, out, detail)) for a in addrs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT + 1)
    print(json.dumps({a: out.get(a, False) for a in addrs}))


if __name__ == "__main__":
    main()
