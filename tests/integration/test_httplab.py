#!/usr/bin/env python3
"""Self-check of httplab.py, the fixtures of `netwhy url`'s tests, with curl only (no
netwhy): every certificate case, nginx site (in both config layouts), Django, gunicorn,
Flask and tinyproxy case answers from the client namespace what the case is meant to show,
and the lab leaves nothing behind (namespaces, processes, files, the host's links and
nft tables, the daemons' default pid and log paths).

Each case prints one line with curl's measure: exit status, %{http_code}, the
`curl: (N) ...` line. Needs root (skip 77; a failure under CI=true) and Debian's curl,
openssl, nginx-light, tinyproxy, python3-django, python3-flask and gunicorn."""

import datetime
import glob
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nwtest  # noqa: E402
import httplab as h  # noqa: E402

h.require_lab()
nwtest.watchdog("test_httplab", 120)
checks = nwtest.Checks()
START = time.monotonic()

# what a run must not touch outside its temp dir: the daemons' default paths
DEFAULT_PATHS = ["/run/nginx.pid", "/var/log/nginx", "/var/lib/nginx", "/run/tinyproxy", "/var/log/tinyproxy",
                 *glob.glob("/var/log/nginx/*"), *glob.glob("/var/log/tinyproxy/*")]


def stat_of(paths):
    found = {}
    for p in paths:
        try:
            st = os.lstat(p)
            found[p] = (st.st_mtime_ns, st.st_size)
        except OSError:
            found[p] = None
    return found


def host_state():
    """What the lab could leave in the host's namespace and files, by the names it uses (other
    sessions on this machine may add their own links, tables and namespaces meanwhile)."""
    links = {line.split()[0].split("@")[0] for line in nwtest.sh("ip", "-br", "link").stdout.splitlines()}
    return {"links": links & {"br0", "eth0", "ser", "cli", "pro"},
            "nft": [t for t in nwtest.sh("nft", "list", "tables", check=False).stdout.splitlines() if "httplab" in t],
            "netns": {n for n in os.listdir("/run/netns") if n.startswith("nwh")} if os.path.isdir("/run/netns")
            else set(),
            "paths": stat_of(DEFAULT_PATHS),
            "tmp": {n for n in os.listdir("/tmp") if n.startswith("netwhy-httplab-")}}


def case(name, t, exit, status=None, error_has=None, works=None):
    """One curl measure against what the case is meant to show."""
    print(f"     {name}: exit {t.exit}, status {t.status:03d}" + (f", {t.error}" if t.error else ""))
    ok = t.exit == exit and (status is None or t.status == status) and \
        (error_has is None or error_has in t.error) and (works is None or t.works == works)
    want = f"exit {exit}" + (f", status {status}" if status is not None else "") + \
        (f", error with {error_has!r}" if error_has else "") + (f", works={works}" if works is not None else "")
    checks.check(ok, f"{name}: {want}", f"curl said exit {t.exit}, status {t.status}, {t.error!r}")
    return t


def served_certs(ns, port):
    """How many certificates the TLS server on SERVER4:PORT sends (openssl s_client -showcerts)."""
    r = h.run_bounded(["ip", "netns", "exec", ns, "openssl", "s_client", "-connect", f"{h.SERVER4}:{port}",
                       "-showcerts"], 15)
    return (r.stdout or "").count("-----BEGIN CERTIFICATE-----")


def check_certs(certs):
    now = datetime.datetime.now(datetime.timezone.utc)

    def when(text):
        return datetime.datetime.strptime(text, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=datetime.timezone.utc)

    for c in h.Certs.CASES:
        leaf = certs[c]
        valid = when(leaf.not_before) <= now <= when(leaf.not_after)
        checks.check(valid == (c not in ("expired", "notyet")),
                     f"certificate {c}: notBefore {leaf.not_before}, notAfter {leaf.not_after} "
                     f"({'valid' if valid else 'not valid'} now)")
    checks.check(when(certs["expired"].not_after) < now, "the expired leaf's notAfter is in the past")
    checks.check(when(certs["notyet"].not_before) > now, "the not-yet-valid leaf's notBefore is in the future")
    checks.check(certs["wrongname"].names == [h.OTHER_NAME], f"the wrongname leaf names only {h.OTHER_NAME}",
                 str(certs["wrongname"].names))
    checks.check(h.SERVER4 in certs["good"].names and h.NAME in certs["good"].names,
                 f"the good leaf names {h.NAME} and {h.SERVER4}", str(certs["good"].names))
    r = h.run_bounded(["openssl", "verify", "-CAfile", certs.root, "-untrusted", certs.intermediate,
                       certs["good"].cert], 15)
    checks.check(r.returncode == 0, "openssl verify: good leaf <- intermediate <- root", r.stderr.strip())


def nginx_cases(topo, certs, nginx):
    C, S = topo.client, topo.server
    L = nginx.layout
    ok, said = nginx.test_config()
    checks.check(ok, f"[{L}] nginx -t accepts {nginx.conf}", said)
    checks.check(nginx.netwhy_env() == {"NETWHY_NGINX_CONF": nginx.conf} and os.path.isfile(nginx.conf),
                 f"[{L}] NETWHY_NGINX_CONF names the config nginx -c loads")
    if nginx.sites_enabled:
        sites = sorted(os.listdir(nginx.sites_enabled))
        with open(nginx.conf) as f:
            main = f.read()
        links = all(os.path.islink(os.path.join(nginx.sites_enabled, s)) for s in sites)
        checks.check(f"include {nginx.sites_enabled}/*;" in main and links and "app" in sites,
                     f"[{L}] nginx.conf includes {nginx.sites_enabled}/*, symlinks to sites-available", str(sites))
        with open(os.path.join(nginx.sites_enabled, "badgateway")) as f:
            checks.check(f"proxy_pass http://{nginx.dead_upstream};" in f.read(),
                         f"[{L}] sites-enabled/badgateway holds its proxy_pass")
    # the chain each port sends
    checks.check(served_certs(C, nginx.https_ports["good"]) == 2, f"[{L}] good: nginx sends leaf + intermediate")
    checks.check(served_certs(C, nginx.https_ports["nochain"]) == 1, f"[{L}] nochain: nginx sends the leaf alone")

    root = ("--cacert", certs.root)
    good = nginx.url("good")
    case(f"[{L}] good, by IPv4 (--cacert root)", h.curl_truth(C, good, extra=root), 0, 200, works=True)
    case(f"[{L}] good, by IPv6 (--cacert root)", h.curl_truth(C, nginx.url("good", host=h.SERVER6), extra=root),
         0, 200, works=True)
    port = nginx.https_ports["good"]
    by_name = f"https://{h.NAME}:{port}/"
    case(f"[{L}] good, by name with --resolve", h.curl_truth(C, by_name, extra=root + h.resolve(h.NAME, port)),
         0, 200, works=True)
    case(f"[{L}] good, without --cacert (the system's CAs)", h.curl_truth(C, good), 60, 0,
         "unable to get local issuer certificate", works=False)
    bad = {"nochain": "SSL certificate problem: unable to get local issuer certificate",
           "expired": "SSL certificate problem: certificate has expired",
           "notyet": "SSL certificate problem: certificate is not yet valid",
           "wrongname": f"SSL: no alternative certificate subject name matches target host name '{h.SERVER4}'"}
    for c, error in bad.items():
        case(f"[{L}] {c} (--cacert root)", h.curl_truth(C, nginx.url(c), extra=root), 60, 0, error, works=False)
        case(f"[{L}] {c} with -k: the certificate is the only problem", h.curl_truth(C, nginx.url(c), extra=("-k",)),
             0, 200, works=True)
    port = nginx.https_ports["wrongname"]
    case(f"[{L}] wrongname, by name {h.NAME} with --resolve",
         h.curl_truth(C, f"https://{h.NAME}:{port}/", extra=root + h.resolve(h.NAME, port)), 60, 0,
         f"no alternative certificate subject name matches target host name '{h.NAME}'", works=False)
    case(f"[{L}] wrongname, by its own name {h.OTHER_NAME} with --resolve",
         h.curl_truth(C, f"https://{h.OTHER_NAME}:{port}/", extra=root + h.resolve(h.OTHER_NAME, port)),
         0, 200, works=True)
    self_url = nginx.url("selfsigned")
    case(f"[{L}] selfsigned, no --cacert", h.curl_truth(C, self_url), 60, 0,
         "SSL certificate problem: self-signed certificate", works=False)
    case(f"[{L}] selfsigned, --cacert root", h.curl_truth(C, self_url, extra=root), 60, 0,
         "SSL certificate problem: self-signed certificate", works=False)
    itself = ("--cacert", certs["selfsigned"].cacert)
    case(f"[{L}] selfsigned, --cacert itself", h.curl_truth(C, self_url, extra=itself), 0, 200, works=True)

    # plain HTTP and TLS mixed up
    case(f"[{L}] https:// to the plain HTTP port {nginx.http_ports['app']}",
         h.curl_truth(C, nginx.url("app", scheme="https"), extra=root), 35, 0, "wrong version number", works=False)
    t = case(f"[{L}] http:// to the TLS port {nginx.https_ports['good']}",
             h.curl_answer(topo, C, nginx.url("good", scheme="http")), 0, 400, works=False)
    checks.check("The plain HTTP request was sent to HTTPS port" in t.body
                 and (t.header("Server") or "").startswith("nginx"),
                 f"[{L}]   nginx answers 400 The plain HTTP request was sent to HTTPS port",
                 f"{t.status_line} {t.body[:120]!r}")

    # proxy_pass, live and dead upstream; the redirect to localhost
    t = case(f"[{L}] app: nginx -> gunicorn on {nginx.upstream}", h.curl_answer(topo, C, nginx.url("app")), 0, 200,
             works=True)
    checks.check("hello from netwhy's test server" in t.body and (t.header("Server") or "").startswith("nginx"),
                 f"[{L}]   the Flask app's body, nginx's Server header", f"{t.header('Server')} {t.body!r}")
    t = case(f"[{L}] badgateway: proxy_pass to {nginx.dead_upstream} where nothing listens",
             h.curl_answer(topo, C, nginx.url("badgateway")), 0, 502, works=False)
    checks.check(t.status_line == "HTTP/1.1 502 Bad Gateway" and (t.header("Server") or "").startswith("nginx"),
                 f"[{L}]   {t.status_line!r}, Server: {t.header('Server')}")
    with open(nginx.error_log, errors="replace") as f:
        log = f.read()
    checks.check(f"upstream: \"http://{nginx.dead_upstream}/\"" in log and "Connection refused" in log,
                 f"[{L}]   nginx's error log names the refused upstream", log[-300:])
    t = case(f"[{L}] redirect", h.curl_answer(topo, C, nginx.url("redirect")), 0, 301, works=True)
    location = f"http://localhost:{nginx.http_ports['app']}/"
    checks.check(t.header("Location") == location, f"[{L}]   Location: {t.header('Location')}", location)
    case(f"[{L}] redirect with -L, from the client (its own localhost)", h.curl_truth_follow(C, nginx.url("redirect")),
         7, 301, f"Failed to connect to localhost port {nginx.http_ports['app']}", works=False)
    case(f"[{L}] redirect with -L, on the server", h.curl_truth_follow(S, nginx.url("redirect")), 0, 200, works=True)


def python_cases(topo):
    C, S = topo.client, topo.server
    case("gunicorn on 0.0.0.0, from the client", h.curl_truth(C, h.url("http", h.SERVER4, h.GUNICORN_PUBLIC_PORT)),
         0, 200, works=True)
    case("gunicorn on 127.0.0.1, from the client", h.curl_truth(C, h.url("http", h.SERVER4, h.UPSTREAM_PORT)),
         7, 0, "Couldn't connect to server", works=False)
    case("gunicorn on 127.0.0.1, on the server", h.curl_truth(S, h.url("http", "127.0.0.1", h.UPSTREAM_PORT)),
         0, 200, works=True)
    case("Flask dev server on the client's 127.0.0.1, from the client",
         h.curl_truth(C, h.url("http", "localhost", h.CLIENT_LOCAL_PORT)), 0, 200, works=True)


def django_cases(topo):
    C, S = topo.client, topo.server
    with h.Django(topo, debug=True) as dj, h.Django(topo, debug=False) as dn:
        for d, what in ((dj, "DEBUG = True, runserver"), (dn, "DEBUG = False, gunicorn")):
            with open(d.settings) as f:
                text = f.read()
            checks.check(f"DEBUG = {d.debug}\n" in text and "ALLOWED_HOSTS = []\n" in text,
                         f"django {d.port}: settings.py says DEBUG = {d.debug}, ALLOWED_HOSTS = []")
        t = case(f"django {dj.port} ({dj.server}, DEBUG) by {h.SERVER4}",
                 h.curl_answer(topo, C, h.url("http", h.SERVER4, dj.port)), 0, 400, works=False)
        msg = (f"Invalid HTTP_HOST header: &#x27;{h.SERVER4}:{dj.port}&#x27;. "
               f"You may need to add &#x27;{h.SERVER4}&#x27; to ALLOWED_HOSTS.")
        checks.check(re.search(r"<title>DisallowedHost\s+at /</title>", t.body) is not None and msg in t.body,
                     "  the DisallowedHost debug page", t.body[:200])
        print(f"     Server: {t.header('Server')}; {len(t.body)} bytes")
        case(f"django {dj.port} (DEBUG) on the server by localhost (ALLOWED_HOSTS [] allows it with DEBUG)",
             h.curl_truth(S, h.url("http", "localhost", dj.port)), 0, 200, works=True)
        t = case(f"django {dn.port} ({dn.server}, no DEBUG) by {h.SERVER4}",
                 h.curl_answer(topo, C, h.url("http", h.SERVER4, dn.port)), 0, 400, works=False)
        checks.check("<title>Bad Request (400)</title>" in t.body and "<h1>Bad Request (400)</h1>" in t.body
                     and "DisallowedHost" not in t.body, "  the bare Bad Request (400) page", repr(t.body))
        print(f"     Server: {t.header('Server')}; body {t.body!r}")
        case(f"django {dn.port} (no DEBUG) on the server by localhost",
             h.curl_truth(S, h.url("http", "localhost", dn.port)), 0, 400, works=False)
        # the fix, applied as a user would: ALLOWED_HOSTS in settings.py, the server restarted
        for d in (dj, dn):
            d.allow_hosts([h.SERVER4])
            with open(d.settings) as f:
                checks.check(f"ALLOWED_HOSTS = ['{h.SERVER4}']\n" in f.read(),
                             f"django {d.port}: the fix in settings.py")
            t = case(f"django {d.port} ({d.server}) by {h.SERVER4} after ALLOWED_HOSTS = ['{h.SERVER4}']",
                     h.curl_answer(topo, C, h.url("http", h.SERVER4, d.port)), 0, 200, works=True)
            checks.check(t.body == "hello from netwhy's django\n", "  the project's own view", repr(t.body))


def proxy_cases(topo, certs, nginx):
    C = topo.client
    with h.Tinyproxy(topo) as tp:
        via = {"http_proxy": tp.proxy_url}
        public = h.url("http", h.SERVER4, h.GUNICORN_PUBLIC_PORT)
        t = case(f"http_proxy={tp.proxy_url}, {public}", h.curl_answer(topo, C, public, env=via), 0, 200, works=True)
        checks.check((t.header("Via") or "").endswith("tinyproxy (tinyproxy/1.11.1)"),
                     f"  through tinyproxy: Via: {t.header('Via')}")
        local = h.url("http", "localhost", h.CLIENT_LOCAL_PORT)
        t = case(f"http_proxy={tp.proxy_url}, {local} (the proxy's localhost)", h.curl_answer(topo, C, local, env=via),
                 0, 500, works=False)
        checks.check(t.status_line == "HTTP/1.1 500 Unable to connect" and t.header("Server") == "tinyproxy/1.11.1",
                     f"  tinyproxy answers {t.status_line!r}, Server: {t.header('Server')}",
                     f"{t.headers}")
        checks.check("Tinyproxy was unable to connect to the remote web server." in t.body,
                     "  tinyproxy's Unable to connect page", repr(t.body[:200]))
        print(f"     headers {t.headers}")
        case(f"http_proxy={tp.proxy_url} and no_proxy=localhost, {local}",
             h.curl_truth(C, local, env={**via, "no_proxy": "localhost"}), 0, 200, works=True)
        case(f"no proxy variable, {local}", h.curl_truth(C, local), 0, 200, works=True)
        good = nginx.url("good")
        t = case(f"https_proxy={tp.proxy_url} (CONNECT), {good}",
                 h.curl_answer(topo, C, good, env={"https_proxy": tp.proxy_url}, extra=("--cacert", certs.root)),
                 0, 200, works=True)
        checks.check(t.status_lines[:1] == ["HTTP/1.0 200 Connection established"],
                     f"  the tunnel, then the server's answer: {t.status_lines}")
        closed = h.url("https", h.SERVER4, 9443)
        t = case(f"https_proxy={tp.proxy_url} (CONNECT), {closed} where nothing listens",
                 h.curl_answer(topo, C, closed, env={"https_proxy": tp.proxy_url}, extra=("--cacert", certs.root)),
                 56, 0, "CONNECT tunnel failed, response 500", works=False)
        checks.check(t.status_lines == ["HTTP/1.1 500 Unable to connect"], f"  tinyproxy's answer: {t.status_lines}")
        with open(tp.log_file, errors="replace") as f:
            log = f.read()
        checks.check(f"Could not establish a connection to localhost:{h.CLIENT_LOCAL_PORT}" in log,
                     "  tinyproxy's log: Could not establish a connection to localhost", log[-400:])
    case(f"http_proxy={h.DEAD_PROXY_URL} (nothing listens)",
         h.curl_truth(C, public, env={"http_proxy": h.DEAD_PROXY_URL}), 7, 0,
         f"Failed to connect to {h.PROXY4} port {h.DEAD_PROXY_PORT}", works=False)
    t0 = time.monotonic()
    t = case(f"http_proxy={h.BLACKHOLE_PROXY_URL} (dropped), --max-time 2",
             h.curl_truth(C, public, env={"http_proxy": h.BLACKHOLE_PROXY_URL}, max_time=2), 28, 0,
             "Connection timed out after", works=False)
    took = time.monotonic() - t0
    checks.check(1.5 <= took <= 6, f"  the blackhole timed out in {took:.1f} s, bounded by --max-time")
    case("curl_truth gives no inherited proxy variable", h.curl_truth(C, public), 0, 200, works=True)


def main():
    before = host_state()
    with h.Topology() as topo:
        t0 = time.monotonic()
        certs = h.Certs(topo)
        print(f"# certificates made in {time.monotonic() - t0:.1f} s in {certs.dir}")
        check_certs(certs)
        with h.Gunicorn(topo, "server", "127.0.0.1", h.UPSTREAM_PORT), \
                h.Gunicorn(topo, "server", "0.0.0.0", h.GUNICORN_PUBLIC_PORT), \
                h.FlaskDev(topo, "client", "127.0.0.1", h.CLIENT_LOCAL_PORT):
            python_cases(topo)
            for layout in h.Nginx.LAYOUTS:
                with h.Nginx(topo, certs, layout) as nginx:
                    nginx_cases(topo, certs, nginx)
                    if layout == "sites":
                        proxy_cases(topo, certs, nginx)
            django_cases(topo)
        for role in ("server", "client", "proxy"):
            left = nwtest.sh("ip", "netns", "pids", topo[role]).stdout.split()
            checks.check(not left, f"every server stopped: no process left in the {role} namespace", str(left))
        lab_dir = topo.dir
    checks.check(not topo.residue(), "after the lab: no namespace, process or temp dir of it", str(topo.residue()))
    alive = [p for p in topo.pids if os.path.exists(f"/proc/{p}")]
    checks.check(len(topo.pids) >= 10 and not alive,
                 f"the {len(topo.pids)} processes the lab's servers had (masters and workers) are gone", str(alive))
    after = host_state()
    checks.check(not os.path.exists(lab_dir), f"{lab_dir} removed")
    for key in ("links", "nft", "netns", "paths", "tmp"):
        checks.check(before[key] == after[key], f"the host's {key} as before the lab",
                     f"before {before[key]!r}, after {after[key]!r}")


try:
    main()
except nwtest.Overtime as e:
    checks.check(False, str(e))
print(f"# {time.monotonic() - START:.1f} s")
checks.done()
