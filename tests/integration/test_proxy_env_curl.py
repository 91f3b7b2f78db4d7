#!/usr/bin/env python3
"""The curl on this machine against a few cases of tests/unit/test_proxy_env.cpp
(src/http/proxy_env.cpp's model of curl 7.88.1): which of two loopback
listeners, the "direct" one (the URL's host) or the "proxy" one, a request
reaches, with which proxy variables set.

Hermetic by construction: the test re-runs itself under `unshare -n` (`-rn`
when not root), a network namespace whose only interface is loopback, so no
packet (nor a DNS query) can leave the machine whatever curl does; it checks
that before the first case. Names are given to curl with --resolve, curl runs with -q (no
~/.curlrc) and an environment holding only PATH, HOME (an empty directory) and
the variables of the case. Skips (77) without curl or unshare."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
MARK = "NETWHY_PROXY_ENV_IN_NETNS"
IN_CI = os.environ.get("CI") == "true"


def skip(reason):
    if IN_CI:
        print(f"FAIL: {reason} (CI=true: a missing tool is a failure)")
        sys.exit(1)
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


if os.environ.get(MARK) != "1":
    curl = shutil.which("curl")
    unshare = shutil.which("unshare")
    if not curl:
        skip("no curl")
    if not unshare:
        skip("no unshare")
    # root needs no user namespace (which a container may forbid); others do
    unshare_cmd = [unshare, "-n"] if os.geteuid() == 0 else [unshare, "-rn"]
    probe = subprocess.run(unshare_cmd + ["true"], capture_output=True, text=True)
    if probe.returncode != 0:
        skip(f"{' '.join(unshare_cmd[1:])}: no network namespace here: {probe.stderr.strip()}")
    env = dict(os.environ, **{MARK: "1"})
    sys.exit(subprocess.run(unshare_cmd + [sys.executable, os.path.abspath(__file__)], env=env).returncode)

# --- inside the namespace ---------------------------------------------------

subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
links = [name for _, name in socket.if_nameindex()]  # this namespace's (not /sys, the mounter's)
if links != ["lo"]:
    print(f"FAIL: not hermetic, interfaces {links} besides lo")
    sys.exit(1)

version = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
print(f"# {version}")


class Listener:
    """Accepts connections, keeps the first bytes of each, answers 200 and closes."""

    def __init__(self, family, address):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            conn, _ = self.sock.accept()
            conn.settimeout(2)
            try:
                data = conn.recv(4096)
            except OSError:
                data = b""
            with self.lock:
                self.seen.append(data)
            try:
                if data[:1] not in (b"\x04", b"\x05", b"\x16"):  # not SOCKS, not a TLS hello
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            conn.close()

    def take(self):
        with self.lock:
            seen, self.seen = self.seen, []
        return seen


direct4 = Listener(socket.AF_INET, "127.0.0.1")
direct6 = Listener(socket.AF_INET6, "::1")
proxy = Listener(socket.AF_INET, "127.0.0.1")
PROXY = f"http://127.0.0.1:{proxy.port}"
home = tempfile.mkdtemp(prefix="netwhy-proxy-home-")

failures = []


def curl(url, variables, resolve=None):
    args = ["curl", "-q", "-sS", "-v", "-o", "/dev/null", "--max-time", "5"]
    if resolve:
        args += ["--resolve", f"{resolve}:{direct4.port}:127.0.0.1"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, **variables}
    r = subprocess.run(args + [url], capture_output=True, text=True, errors="replace", env=env, timeout=20)
    return r


def case(name, url, variables, expect, resolve=None, stderr_has=()):
    """expect: "direct", "proxy", or an exit status (curl refused before any connection)."""
    for listener in (direct4, direct6, proxy):
        listener.take()
    r = curl(url, variables, resolve)
    deadline = time.time() + 1
    got_direct, got_proxy = [], []
    while time.time() < deadline:
        got_direct += direct4.take() + direct6.take()
        got_proxy += proxy.take()
        if got_direct or got_proxy or not isinstance(expect, str):
            break
        time.sleep(0.02)
    if isinstance(expect, str):
        seen = "direct" if got_direct and not got_proxy else "proxy" if got_proxy and not got_direct else \
            f"direct {len(got_direct)}, proxy {len(got_proxy)}"
        ok = seen == expect
    else:
        seen = f"exit {r.returncode}, direct {len(got_direct)}, proxy {len(got_proxy)}"
        ok = r.returncode == expect and not got_direct and not got_proxy
    for text in stderr_has:
        if text not in r.stderr:
            ok = False
            seen += f"; no {text!r} in curl -v"
    print(f"{'ok' if ok else 'FAIL'}: {name}: {seen}")
    if not ok:
        failures.append(name)
        print("  curl -v said:\n    " + "\n    ".join(r.stderr.splitlines()[:30]))
    return got_proxy


www = f"http://www.example.com:{direct4.port}/"
loop4 = f"http://127.0.0.1:{direct4.port}/"
loop6 = f"http://[::1]:{direct6.port}/"

# lib/url.c detect_proxy()
case("http_proxy for http://", www, {"http_proxy": PROXY}, "proxy", "www.example.com",
     stderr_has=(f"Uses proxy env variable http_proxy == '{PROXY}'",))
case("HTTP_PROXY alone is ignored (httpoxy)", www, {"HTTP_PROXY": PROXY}, "direct", "www.example.com")
case("HTTP_PROXY ignored, ALL_PROXY used", www, {"HTTP_PROXY": "http://127.0.0.1:9", "ALL_PROXY": PROXY},
     "proxy", "www.example.com", stderr_has=("Uses proxy env variable ALL_PROXY",))
got = case("HTTPS_PROXY for https://, as a CONNECT tunnel", f"https://www.example.com:{direct4.port}/",
           {"HTTPS_PROXY": PROXY}, "proxy", "www.example.com")
if got and not got[0].startswith(b"CONNECT www.example.com:"):
    failures.append("CONNECT")
    print(f"FAIL: the tunnel request was {got[0][:40]!r}")
case("https_proxy is not for http://", www, {"https_proxy": PROXY}, "direct", "www.example.com")
case("empty http_proxy is unset (curl_getenv)", www, {"http_proxy": "", "all_proxy": PROXY}, "proxy",
     "www.example.com", stderr_has=("Uses proxy env variable all_proxy",))
case("a proxy URL without a scheme is http://", www, {"http_proxy": f"127.0.0.1:{proxy.port}"}, "proxy",
     "www.example.com")
case("socks5h: a SOCKS5 greeting to the proxy", www, {"all_proxy": f"socks5h://127.0.0.1:{proxy.port}"},
     "proxy", "www.example.com")
# lib/url.c parse_proxy(): refused before any connection
case("a guessed ftp:// proxy is refused", www, {"http_proxy": "ftp.corp:3128"}, 7, "www.example.com",
     stderr_has=("Unsupported proxy scheme for 'ftp.corp:3128'",))
case("a space in the proxy URL", www, {"http_proxy": "http://pro xy:3128"}, 5, "www.example.com",
     stderr_has=("Unsupported proxy syntax in 'http://pro xy:3128'",))
case("default proxy port 1080", www, {"http_proxy": "http://127.0.0.1"}, 7, "www.example.com",
     stderr_has=("127.0.0.1 port 1080",))

# lib/noproxy.c Curl_check_noproxy(), no_proxy before NO_PROXY
case("no_proxy=*", www, {"http_proxy": PROXY, "no_proxy": "*"}, "direct", "www.example.com")
case("no_proxy=' *' is not the wildcard", www, {"http_proxy": PROXY, "no_proxy": " *"}, "proxy", "www.example.com")
case("no_proxy='*,foo' is not the wildcard", www, {"http_proxy": PROXY, "no_proxy": "*,foo"}, "proxy",
     "www.example.com")
case(".example.com matches example.com", f"http://example.com:{direct4.port}/",
     {"http_proxy": PROXY, "no_proxy": ".example.com"}, "direct", "example.com")
case("example.com matches www.example.com", www, {"http_proxy": PROXY, "no_proxy": "example.com"}, "direct",
     "www.example.com")
case("example.com does not match badexample.com", f"http://badexample.com:{direct4.port}/",
     {"http_proxy": PROXY, "no_proxy": "example.com"}, "proxy", "badexample.com")
case("case does not matter", www, {"http_proxy": PROXY, "no_proxy": "EXAMPLE.COM"}, "direct", "www.example.com")
case("a trailing dot on the host", f"http://www.example.com.:{direct4.port}/",
     {"http_proxy": PROXY, "no_proxy": "example.com"}, "direct", "www.example.com.")
case("the port is no part of an entry", www,
     {"http_proxy": PROXY, "no_proxy": f"www.example.com:{direct4.port}"}, "proxy", "www.example.com")
case("blanks and commas", www, {"http_proxy": PROXY, "no_proxy": " foo ,, www.example.com ,"}, "direct",
     "www.example.com")
case("space-separated, with curl's warning", www, {"http_proxy": PROXY, "no_proxy": "foo www.example.com"},
     "direct", "www.example.com", stderr_has=("space-separated NOPROXY patterns are deprecated",))
case("NO_PROXY when no_proxy is unset", www, {"http_proxy": PROXY, "NO_PROXY": "example.com"}, "direct",
     "www.example.com", stderr_has=("Uses proxy env variable NO_PROXY == 'example.com'",))
case("no_proxy shadows NO_PROXY", www, {"http_proxy": PROXY, "no_proxy": "other.org", "NO_PROXY": "example.com"},
     "proxy", "www.example.com")
case("CIDR 127.0.0.0/8", loop4, {"http_proxy": PROXY, "no_proxy": "127.0.0.0/8"}, "direct")
case("CIDR /0 is the address itself", loop4, {"http_proxy": PROXY, "no_proxy": "127.0.0.0/0"}, "proxy")
case("CIDR /33 matches nothing", loop4, {"http_proxy": PROXY, "no_proxy": "127.0.0.1/33"}, "proxy")
case("a name never matches an IPv4 host", loop4, {"http_proxy": PROXY, "no_proxy": "localhost"}, "proxy")
case("IPv6 ::1 in no_proxy", loop6, {"http_proxy": PROXY, "no_proxy": "::1"}, "direct")
case("IPv6 [::1] in no_proxy does not match", loop6, {"http_proxy": PROXY, "no_proxy": "[::1]"}, "proxy")
case("IPv6 CIDR does not match in 7.88.1", loop6, {"http_proxy": PROXY, "no_proxy": "::1/128"}, "proxy")

shutil.rmtree(home, ignore_errors=True)
if failures:
    print(f"FAIL: {len(failures)} case(s): {', '.join(failures)}")
    sys.exit(1)
print("PASS")
