"""Small servers the integration tests start inside their namespaces.

    servers.py v6only PORT            TCP on [::]:PORT with IPV6_V6ONLY
    servers.py device PORT DEV        TCP on 0.0.0.0:PORT bound to DEV (SO_BINDTODEVICE)
    servers.py tcp ADDR PORT [BACKLOG] TCP on ADDR:PORT; nothing ever calls accept()
    servers.py udp ADDR PORT          UDP on ADDR:PORT, echoing what it receives
    servers.py hostile PORT ARG       TCP on 0.0.0.0:PORT, comm set to an escape sequence
    servers.py flask ADDR PORT        the Flask app below, app.run(host=ADDR)
    servers.py mapped ADDR PORT       TCP on an AF_INET6 socket bound to ::ffff:ADDR (as Java binds IPv4)
    servers.py reuseport ADDR PORT    TCP on ADDR:PORT with SO_REUSEPORT (start two: they share the port)

Each sleeps until killed (at most 10 minutes). `app` is also the WSGI app that
gunicorn serves (gunicorn servers:app).
"""

import ctypes
import socket
import sys
import time

try:
    from flask import Flask

    app = Flask(__name__)

    @app.route("/")
    def hello():
        return "hello from netwhy's test server\n"
except ImportError:  # gunicorn/flask tests check for flask themselves
    app = None


def listen(family, addr, port, backlog=16, v6only=None, device=None, kind=socket.SOCK_STREAM, reuseport=False):
    s = socket.socket(family, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
    if device:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
    s.bind((addr, port))
    if kind == socket.SOCK_STREAM:
        s.listen(backlog)
    return s


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def main(argv):
    kind = argv[1]
    keep = []
    if kind == "v6only":
        keep.append(listen(socket.AF_INET6, "::", int(argv[2]), v6only=True))
    elif kind == "device":
        keep.append(listen(socket.AF_INET, "0.0.0.0", int(argv[2]), device=argv[3]))
    elif kind == "tcp":
        backlog = int(argv[4]) if len(argv) > 4 else 16
        keep.append(listen(family_of(argv[2]), argv[2], int(argv[3]), backlog=backlog))
    elif kind == "mapped":
        keep.append(listen(socket.AF_INET6, "::ffff:" + argv[2], int(argv[3]), v6only=False))
    elif kind == "reuseport":
        keep.append(listen(family_of(argv[2]), argv[2], int(argv[3]), reuseport=True))
    elif kind == "udp":  # echoes each datagram back, so a test can see it was taken
        s = listen(family_of(argv[2]), argv[2], int(argv[3]), kind=socket.SOCK_DGRAM)
        deadline = time.monotonic() + 600
        s.settimeout(1.0)
        while time.monotonic() < deadline:
            try:
                data, peer = s.recvfrom(2048)
                s.sendto(data, peer)
            except socket.timeout:
                pass
        return
    elif kind == "hostile":
        libc = ctypes.CDLL(None)
        libc.prctl(15, b"\x1b[5mevil\xff", 0, 0, 0)  # PR_SET_NAME
        keep.append(listen(socket.AF_INET, "0.0.0.0", int(argv[2])))
    elif kind == "flask":
        app.run(host=argv[2], port=int(argv[3]))
        return
    else:
        sys.exit(f"unknown server kind {kind}")
    time.sleep(600)


if __name__ == "__main__":
    main(sys.argv)
