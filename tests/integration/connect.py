#!/usr/bin/env python3
"""The truth for the port tests: try a real connection to each address.

    connect.py [--udp] PORT ADDRESS...

TCP: a connect() with a timeout. UDP: a datagram, and its echo back (the
test's UDP server echoes). Prints {"ADDRESS": true|false, ...} as JSON.
"""

import json
import socket
import sys
import threading

TIMEOUT = 1.5


def try_one(addr, port, udp, out):
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
    except OSError:
        out[addr] = False
    finally:
        s.close()


def main():
    args = sys.argv[1:]
    udp = args[:1] == ["--udp"]
    if udp:
        args = args[1:]
    port, addrs = int(args[0]), args[1:]
    out = {}
    threads = [threading.Thread(target=try_one, args=(a, port, udp, out)) for a in addrs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT + 1)
    print(json.dumps({a: out.get(a, False) for a in addrs}))


if __name__ == "__main__":
    main()
