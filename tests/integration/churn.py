"""Load for test_churn: servers that come and go, connections that open and close.

    churn.py accepter ADDR PORT            TCP on ADDR:PORT; accepts and closes every connection
    churn.py clients ADDR PORT N           N connections to ADDR:PORT, one after another, each
                                           closed once the server has closed it; prints how many
                                           connected
    churn.py flapper FIRST LAST SECONDS    for SECONDS: listeners on ports FIRST..LAST opened and
                                           closed, by this process and by short-lived children
                                           (fork, listen, exit), up to 16 children at a time

Every loop is bounded by a count or by a deadline; the test also kills the
namespace's processes when it ends.
"""

import os
import random
import socket
import sys
import time


def accepter(addr, port):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(512)
    s.settimeout(1.0)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            c, _ = s.accept()
            c.close()
        except socket.timeout:
            pass
        except OSError:
            time.sleep(0.01)


def clients(addr, port, n):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    connected = 0
    deadline = time.monotonic() + 300
    for _ in range(n):
        if time.monotonic() > deadline:
            break
        c = socket.socket(family, socket.SOCK_STREAM)
        c.settimeout(2.0)
        try:
            c.connect((addr, port))
            connected += 1
            # Until the server has accepted and closed it: at most one connection of this client waits
            # in the accept queue, so the queue never fills however slowly the machine runs.
            c.recv(1)
        except OSError:
            pass
        finally:
            c.close()
    print(connected, flush=True)


def one_listener(port, hold):
    """A listener on 0.0.0.0:port (or [::]:port) for `hold` seconds; a port in use is skipped."""
    family = random.choice((socket.AF_INET, socket.AF_INET6))
    s = socket.socket(family, random.choice((socket.SOCK_STREAM, socket.SOCK_DGRAM)))
    try:
        s.bind(("0.0.0.0" if family == socket.AF_INET else "::", port))
        if s.type == socket.SOCK_STREAM:
            s.listen(8)
        time.sleep(hold)
    except OSError:
        pass
    finally:
        s.close()


def flapper(first, last, seconds):
    deadline = time.monotonic() + seconds
    children = set()
    while time.monotonic() < deadline:
        # Reap the children that ended; start new ones up to 16.
        for pid in list(children):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                children.discard(pid)
        while len(children) < 16:
            pid = os.fork()
            if pid == 0:
                try:
                    one_listener(random.randint(first, last), random.uniform(0.0, 0.05))
                finally:
                    os._exit(0)
            children.add(pid)
        one_listener(random.randint(first, last), random.uniform(0.0, 0.01))
    for pid in children:
        os.waitpid(pid, 0)


def main(argv):
    kind = argv[1]
    if kind == "accepter":
        accepter(argv[2], int(argv[3]))
    elif kind == "clients":
        clients(argv[2], int(argv[3]), int(argv[4]))
    elif kind == "flapper":
        flapper(int(argv[2]), int(argv[3]), float(argv[4]))
    else:
        sys.exit(f"unknown kind {kind}")


if __name__ == "__main__":
    main(sys.argv)
