#!/usr/bin/env python3
"""Holds a scale fixture of sockets for bench/ports.sh, in the caller's network
namespace: L listening sockets on 127.0.0.1 (one of them on port 8000), E
established loopback connections (2E sockets), spread over P processes.
Prints "ready" on stdout when every socket is in place, then sleeps until its
stdin closes (at most an hour).

    socket_fixture.py L E P
"""

import os
import resource
import select
import socket
import sys

BASE_PORT = 40000


def child(index, procs, listeners, conns, ready_w):
    keep = []
    mine = range(index, listeners, procs)
    socks = []
    for i in mine:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 8000 if i == 0 else BASE_PORT + i))
        s.listen(128)
        socks.append(s)
    keep += socks
    for j in range(index, conns, procs):
        lst = socks[j % len(socks)] if socks else None
        if lst is None:
            break
        c = socket.create_connection(lst.getsockname())
        a, _ = lst.accept()
        keep += [c, a]
    os.write(ready_w, b"x")
    os.close(ready_w)
    # wait for the parent to go away (stdin of the parent closed -> parent exits)
    while True:
        try:
            os.read(0, 1) or os._exit(0)
        except OSError:
            os._exit(0)


def main():
    listeners, conns, procs = (int(a) for a in sys.argv[1:4])
    need = 64 + 2 * (listeners + 2 * conns) // procs
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    r, w = os.pipe()
    pids = []
    for i in range(procs):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            child(i, procs, listeners, conns, w)
        pids.append(pid)
    os.close(w)
    got = 0
    while got < procs:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        got += len(chunk)
    print("ready" if got == procs else f"only {got} of {procs} processes came up", flush=True)
    select.select([0], [], [], 3600)
    for pid in pids:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    for pid in pids:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
