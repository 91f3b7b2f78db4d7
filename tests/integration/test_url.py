#!/usr/bin/env python3
"""netwhy url against curl: real servers (nginx with six certificates, gunicorn, Flask,
Django), a real proxy (tinyproxy) and a client on another machine, each in a namespace
httplab.py makes. For every case curl runs in the same namespace with the same environment,
and is the truth: netwhy's verdict is `reachable` exactly when curl works (exit 0 and a
2xx/3xx; with -L for redirects), its exit status says the same, and its error finding names
curl's cause. Where netwhy prints a fix, the fix is applied (a URL, a no_proxy, an
ALLOWED_HOSTS, a --cacert, a server started) and both are asked again.

Needs root (skip 77; a failure under CI=true) and the packages httplab names."""

import json
import os
import re
import shlex
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nwtest  # noqa: E402
import httplab as h  # noqa: E402

h.require_lab()
nwtest.watchdog("test_url", 240)
checks = nwtest.Checks()
START = time.monotonic()
NETWHY = os.path.abspath(nwtest.NETWHY)


def netwhy_url(ns, url, env=None, extra=(), json_out=True, timeout=30):
    """netwhy url in namespace NS with the environment curl gets (PATH + ENV)."""
    cmd = ["ip", "netns", "exec", ns, NETWHY, "url", *(["-j"] if json_out else []), *extra, url]
    r = h.run_bounded(cmd, timeout, env=h.curl_env(env))
    if r.returncode is None:
        raise RuntimeError(f"netwhy ran past {timeout} s: {shlex.join(cmd)}")
    if not json_out:
        return r, None
    try:  # nwtest checks it against the schema too, as every netwhy -j it sees run
        return r, json.loads(r.stdout)
    except ValueError:
        return r, None


def codes(doc, severity="error"):
    return [f["code"] for f in doc["findings"] if f["severity"] == severity]


def find(doc, code):
    return next((f for f in doc["findings"] if f["code"] == code), None)


def agree(name, ns, url, cause=None, env=None, curl_extra=(), netwhy_extra=(), follow=False, says=None):
    """curl and netwhy in NS for URL: the verdict matches curl, the exit status the verdict,
    and when curl fails, CAUSE (a finding code) is an error netwhy names. Returns the doc."""
    truth = (h.curl_truth_follow if follow else h.curl_truth)(ns, url, env, curl_extra)
    r, doc = netwhy_url(ns, url, env, netwhy_extra)
    if doc is None:
        checks.check(False, f"{name}: netwhy url -j printed JSON", f"exit {r.returncode}: {r.stderr.strip()[:300]}")
        return None
    verdict = doc["verdict"]
    curl_said = f"curl exit {truth.exit}, status {truth.status:03d}" + (f", {truth.error}" if truth.error else "")
    print(f"     {name}: {curl_said} | netwhy {verdict} ({r.returncode}): {doc['headline'][:150]}")
    checks.check((verdict == "reachable") == truth.works,
                 f"{name}: netwhy says {verdict}, and curl {'works' if truth.works else 'fails'}",
                 f"{curl_said}; netwhy: {doc['headline']}; errors {codes(doc)}")
    want_exit = {"reachable": 0, "unknown": 3}.get(verdict, 1)
    checks.check(r.returncode == want_exit, f"{name}: exit {r.returncode} for {verdict}", r.stderr[-300:])
    if cause is not None:
        checks.check(cause in codes(doc), f"{name}: the error {cause} names curl's cause",
                     f"errors {codes(doc)}; {curl_said}")
    if says is not None:
        checks.check(says in doc["headline"], f"{name}: the headline says {says!r}", doc["headline"])
    return doc


def fix_of(doc, code):
    f = find(doc, code)
    return f["fix"] if f else None


def url_in(fix):
    m = re.search(r"(https?://\S+)", fix or "")
    return m.group(1).rstrip(").,") if m else None


def tls_cases(topo, certs, nginx):
    C = topo.client
    root = ("--cacert", certs.root)
    good = nginx.url("good")
    doc = agree("good certificate (--cacert root)", C, good, curl_extra=root, netwhy_extra=root)
    if doc:
        tls = doc["http"]["tls"]
        checks.check(tls and tls["protocol"] and not tls["problems"] and h.SERVER4 in tls["names"],
                     "  tls: a protocol, no problem, the names", json.dumps(tls)[:300])
        checks.check(find(doc, "tls-ok") is not None, "  tls-ok says so")
    agree("good certificate by IPv6", C, nginx.url("good", host=h.SERVER6), curl_extra=root, netwhy_extra=root)
    agree("good certificate, the system's trust store", C, good, cause="tls-untrusted")
    for case, cause in (("nochain", "tls-chain-incomplete"), ("expired", "tls-expired"),
                        ("notyet", "tls-not-yet-valid"), ("wrongname", "tls-name-mismatch")):
        doc = agree(f"{case} certificate", C, nginx.url(case), cause=cause, curl_extra=root, netwhy_extra=root)
        agree(f"{case} certificate, -k", C, nginx.url(case), curl_extra=("-k",), netwhy_extra=("-k",))
        if doc and case == "wrongname":
            f = find(doc, cause)
            checks.check(h.OTHER_NAME in f["message"], f"  {cause} names the certificate's name", f["message"])
        if doc and case == "expired":
            checks.check(doc["http"]["tls"]["not_after"] < time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                         "  not_after is in the past", doc["http"]["tls"]["not_after"])
    selfsigned = nginx.url("selfsigned")
    doc = agree("self-signed certificate", C, selfsigned, cause="tls-untrusted")
    if doc:
        checks.check("self-signed" in find(doc, "tls-untrusted")["message"], "  the finding says self-signed")
        # the fix: give the client its CA
        itself = ("--cacert", certs["selfsigned"].cacert)
        agree("self-signed certificate, fix applied (--cacert itself)", C, selfsigned, curl_extra=itself,
              netwhy_extra=itself)

    # the wrong scheme, either way: the fix is a URL, and it works
    doc = agree("https:// to a plain HTTP port", C, nginx.url("app", scheme="https"), cause="https-to-plain-port",
                curl_extra=root, netwhy_extra=root)
    fixed = url_in(fix_of(doc, "https-to-plain-port")) if doc else None
    checks.check(fixed == nginx.url("app"), "  the fix names the http:// URL", str(fixed))
    if fixed:
        agree("  the fix applied", C, fixed)
    doc = agree("http:// to a TLS port", C, nginx.url("good", scheme="http"), cause="http-to-tls-port")
    fixed = url_in(fix_of(doc, "http-to-tls-port")) if doc else None
    checks.check(fixed == good, "  the fix names the https:// URL", str(fixed))
    if fixed:
        agree("  the fix applied", C, fixed, curl_extra=root, netwhy_extra=root)


def proxy_pass_cases(topo, nginx):
    C, S = topo.client, topo.server
    agree("nginx proxy_pass to gunicorn", C, nginx.url("app"))
    bad = nginx.url("badgateway")
    agree("nginx 502 from the client", C, bad, cause="upstream-error")
    doc = agree("nginx 502 on the server", S, bad, cause="upstream-error")
    if doc:
        f = find(doc, "upstream-error")
        want = f"proxy_pass http://{nginx.dead_upstream}"
        checks.check(want in f["message"] and "nothing listens" in f["message"].lower(),
                     f"  the upstream from nginx's configuration ({nginx.layout}), diagnosed: nothing listens",
                     f["message"])
    # the fix: start the upstream nginx names
    port = int(nginx.dead_upstream.rsplit(":", 1)[1])
    with h.Gunicorn(topo, "server", "127.0.0.1", port):
        agree("nginx 502, its upstream started", C, bad)
    # a redirect to localhost: fine on the server, not from another machine
    agree("redirect to localhost, from the client (-L)", C, nginx.url("redirect"), cause="redirect-to-loopback",
          follow=True)
    agree("redirect to localhost, on the server by localhost (-L)", S,
          nginx.url("redirect", host="localhost"), follow=True)


REDIRECTOR = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(301)
        self.send_header("Location", sys.argv[2])
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
"""


def redirect_cases(topo):
    """A 301 to https:// on the same host: curl -L fails where nothing listens there, and works
    once something does (the fix: start it)."""
    C = topo.client
    target = h.url("https", h.SERVER4, 9443)
    with h.Service(topo, "server", "redirector", [h.PY, "-c", REDIRECTOR, "8300", target], [("0.0.0.0", 8300)]):
        u = h.url("http", h.SERVER4, 8300)
        doc = agree("301 to https:// where nothing listens (-L)", C, u, cause="redirect-elsewhere", follow=True)
        fix = fix_of(doc, "redirect-elsewhere") if doc else None
        checks.check(fix is not None and "9443" in fix, "  the fix names the place the redirect points at", str(fix))


def python_cases(topo):
    C, S = topo.client, topo.server
    agree("gunicorn on 0.0.0.0", C, h.url("http", h.SERVER4, h.GUNICORN_PUBLIC_PORT))
    agree("gunicorn on 127.0.0.1, from the client", C, h.url("http", h.SERVER4, h.UPSTREAM_PORT),
          cause="connection-refused")
    agree("gunicorn on 127.0.0.1, on the server by its own address", S, h.url("http", h.SERVER4, h.UPSTREAM_PORT),
          cause="bound-to-loopback")
    with h.Django(topo, debug=True) as dj, h.Django(topo, debug=False) as dn:
        for d in (dj, dn):
            u = h.url("http", h.SERVER4, d.port)
            doc = agree(f"django ({d.server}, DEBUG {d.debug}) by IP", C, u, cause="host-not-allowed")
            fix = fix_of(doc, "host-not-allowed") if doc else None
            checks.check(fix is not None and "ALLOWED_HOSTS" in fix, "  the fix names ALLOWED_HOSTS", str(fix))
            d.allow_hosts([h.SERVER4])
            agree(f"django ({d.server}) after the fix", C, u)


def proxy_cases(topo, certs, nginx):
    C = topo.client
    root = ("--cacert", certs.root)
    with h.Tinyproxy(topo) as tp:
        via = {"http_proxy": tp.proxy_url}
        doc = agree("through tinyproxy", C, h.url("http", h.SERVER4, h.GUNICORN_PUBLIC_PORT), env=via)
        if doc:
            p = doc["http"]["proxy"]
            checks.check(p and p["variable"] == "http_proxy" and p["reachable"] is True and doc["http"]["request"]["via_proxy"],
                         "  the proxy named, reachable, the request through it", json.dumps(p))
        local = h.url("http", "localhost", h.CLIENT_LOCAL_PORT)
        doc = agree("localhost through tinyproxy", C, local, cause="proxy-refused", env=via)
        fix = fix_of(doc, "proxy-refused") if doc else None
        m = re.fullmatch(r"export (no_proxy)=(\S+)", fix or "")
        checks.check(m is not None, "  the fix is an export of no_proxy", str(fix))
        if m:
            value = shlex.split(m.group(2))[0]
            agree("  the fix applied (no_proxy)", C, local, env={**via, "no_proxy": value})
        agree("https through tinyproxy (CONNECT)", C, nginx.url("good"), env={"https_proxy": tp.proxy_url},
              curl_extra=root, netwhy_extra=root)
        agree("CONNECT to a closed port", C, h.url("https", h.SERVER4, 9443), cause="proxy-refused",
              env={"https_proxy": tp.proxy_url}, curl_extra=root, netwhy_extra=root)
    public = h.url("http", h.SERVER4, h.GUNICORN_PUBLIC_PORT)
    agree("a proxy where nothing listens", C, public, cause="proxy-unreachable", env={"http_proxy": h.DEAD_PROXY_URL})
    t0 = time.monotonic()
    doc = agree("a proxy that drops", C, public, cause="proxy-unreachable", env={"http_proxy": h.BLACKHOLE_PROXY_URL},
                netwhy_extra=("--timeout", "2"))
    print(f"     (netwhy with --timeout 2 took {time.monotonic() - t0:.1f} s with curl)")


def text_case(topo, nginx):
    r, _ = netwhy_url(topo.client, nginx.url("badgateway"), json_out=False)
    lines = r.stdout.splitlines()
    checks.check(r.returncode == 1 and lines and lines[0].startswith("nginx answered 502"),
                 "text: the headline first, exit 1", r.stdout[:300])
    checks.check("Answer" in r.stdout and "502 Bad Gateway" in r.stdout and "\x1b" not in r.stdout,
                 "text: the answer line, no escape sequence", r.stdout[:600])


def main():
    with h.Topology() as topo:
        certs = h.Certs(topo)
        with h.Gunicorn(topo, "server", "127.0.0.1", h.UPSTREAM_PORT), \
                h.Gunicorn(topo, "server", "0.0.0.0", h.GUNICORN_PUBLIC_PORT), \
                h.FlaskDev(topo, "client", "127.0.0.1", h.CLIENT_LOCAL_PORT):
            python_cases(topo)
            redirect_cases(topo)
            with h.Nginx(topo, certs, "sites") as nginx:
                tls_cases(topo, certs, nginx)
                proxy_pass_cases(topo, nginx)
                proxy_cases(topo, certs, nginx)
                text_case(topo, nginx)
            with h.Nginx(topo, certs, "single") as nginx:
                doc = agree("nginx 502 on the server (one config file)", topo.server, nginx.url("badgateway"),
                            cause="upstream-error")
                if doc:
                    checks.check(f"proxy_pass http://{nginx.dead_upstream}" in find(doc, "upstream-error")["message"],
                                 "  the upstream from the single config file")


try:
    main()
except nwtest.Overtime as e:
    checks.check(False, str(e))
print(f"# {time.monotonic() - START:.1f} s")
checks.done()
