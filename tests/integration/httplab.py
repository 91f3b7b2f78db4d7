"""A lab of real HTTP(S) servers, proxies and certificates in network namespaces,
with curl as the truth: the fixtures of `netwhy url`'s integration tests.

    with Topology() as topo:                     # namespaces, addresses, a temp dir
        certs = Certs(topo)                      # root CA, intermediate, six leaves
        with Gunicorn(topo, "server", "127.0.0.1", UPSTREAM_PORT), Nginx(topo, certs) as nginx:
            t = curl_truth(topo.client, nginx.url("expired"), extra=("--cacert", certs.root))
            assert t.exit == 60 and not t.works

Topology: four namespaces on one LAN (a bridge in the "lan" namespace, one
`eth0` in each host), as three machines are:

    server  10.88.0.1/24  fd6e:7768:7900::1/64   nginx, Django, gunicorn, Flask
    client  10.88.0.2/24  fd6e:7768:7900::2/64   where curl (and netwhy url) run
    proxy   10.88.0.3/24  fd6e:7768:7900::3/64   tinyproxy on 10.88.0.3:8888
            10.88.0.4/24  BLACKHOLE4: an nft rule in the proxy namespace drops
                          everything sent to it, so a connect there times out

Every server is started with `ip netns exec` in a session of its own, its
output in a log file in the temp dir, and waited for (bounded) until `ss`
shows its listeners; stop() sends SIGTERM to the group, SIGKILL after a
bounded wait. Topology's exit stops what is still running, kills whatever is
left in its namespaces, removes them and the temp dir; that teardown is not
cut short by the watchdog's SIGALRM or meson's SIGTERM (they are handled once
it is done). Nothing is written outside the temp dir and nothing changes in
the host's namespace. Python 3.11 stdlib; the servers are Debian's (nginx,
tinyproxy, python3-django, python3-flask, gunicorn), the certificates
openssl's CLI.

curl_truth() is the truth netwhy url is compared with: curl run in a namespace
with an environment of PATH plus what the test passes (no inherited proxy
variable, no ~/.curlrc: -q). "Works" is curl exit 0 and a 2xx or 3xx status.
"""

import datetime
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nwtest  # noqa: E402

PY = "/usr/bin/python3"          # Debian's: the one with django, flask and gunicorn
SERVERS = os.path.join(HERE, "servers.py")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# -- addresses ---------------------------------------------------------------
SERVER4, CLIENT4, PROXY4, BLACKHOLE4 = "10.88.0.1", "10.88.0.2", "10.88.0.3", "10.88.0.4"
SUBNET4 = "10.88.0.0/24"
SERVER6, CLIENT6, PROXY6 = "fd6e:7768:7900::1", "fd6e:7768:7900::2", "fd6e:7768:7900::3"
SUBNET6 = "fd6e:7768:7900::/64"
NAME = "app.netwhy.test"           # the good leaf's DNS name: reach it with resolve(NAME, port)
OTHER_NAME = "www.example.invalid"  # the only name in the "wrongname" leaf

# -- ports -------------------------------------------------------------------
# nginx in the server namespace (0.0.0.0 and [::]): one HTTPS port per certificate case
HTTPS_PORTS = {"good": 8443, "nochain": 8444, "expired": 8445, "notyet": 8446, "wrongname": 8447,
               "selfsigned": 8448}
# nginx plain HTTP: app proxies to the live Flask app (gunicorn on 127.0.0.1:UPSTREAM_PORT),
# badgateway to DEAD_UPSTREAM_PORT where nothing listens (502), redirect answers
# 301 Location: http://localhost:8080/ (works on the server, not from the client)
HTTP_PORTS = {"app": 8080, "badgateway": 8081, "redirect": 8082}
UPSTREAM_PORT = 5000       # gunicorn + Flask, 127.0.0.1 only, in the server namespace
DEAD_UPSTREAM_PORT = 5001  # nothing listens there
GUNICORN_PUBLIC_PORT = 8200  # gunicorn + Flask on 0.0.0.0 (reachable from the client)
DJANGO_PORTS = {"debug": 8100, "nodebug": 8101}
CLIENT_LOCAL_PORT = 8090   # Flask on 127.0.0.1 in the client namespace (its own localhost)
PROXY_PORT = 8888          # tinyproxy on PROXY4
DEAD_PROXY_PORT = 3129     # nothing listens on PROXY4 there: a proxy variable to it gives curl exit 7
BLACKHOLE_PROXY_PORT = 3128  # on BLACKHOLE4: connects time out (curl exit 28)

START_TIMEOUT = 20.0  # seconds a server gets to listen
STOP_TIMEOUT = 5.0    # seconds between SIGTERM and SIGKILL


def url(scheme, host, port, path="/"):
    """http://10.88.0.1:8080/, https://[fd6e:7768:7900::1]:8443/"""
    return f"{scheme}://{'[' + host + ']' if ':' in host else host}:{port}{path}"


def resolve(name, port, address=SERVER4):
    """curl's option that makes NAME:PORT mean ADDRESS (no /etc/hosts edit): extra=resolve(...)"""
    return ("--resolve", f"{name}:{port}:{address}")


# -- processes -----------------------------------------------------------------

def run_bounded(cmd, timeout, env=None, cwd=None):
    """Runs CMD in a session of its own, the whole group killed past TIMEOUT (or when the
    watchdog fires meanwhile). Returns a CompletedProcess; returncode None when killed."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                         start_new_session=True, env=env, cwd=cwd)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return subprocess.CompletedProcess(cmd, None, out, err + f"\n(killed after {timeout} s)")
    except BaseException:
        _killpg(p.pid, signal.SIGKILL)
        p.wait()
        raise
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def _killpg(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def listening(ns):
    """{(address, port)} of the TCP listeners in namespace NS (ss -Hltn)."""
    out = nwtest.sh("ip", "netns", "exec", ns, "ss", "-Hltn", check=False).stdout
    found = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 4:
            host, port = f[3].rsplit(":", 1)
            host = host.strip("[]").split("%", 1)[0]
            found.add(("::" if host == "*" else host, int(port)))
    return found


class Service:
    """One server process in a namespace of a Topology: started in a session of its own,
    its stdout and stderr in `log`, ready once ss shows all of `listens` [(address, port)].
    A context manager (start on enter, stop on exit); the Topology stops it too."""

    def __init__(self, topo, role, name, cmd, listens, cwd=None, env=None):
        self.topo = topo
        self.role = role
        self.ns = topo[role]
        self.name = name
        self.cmd = list(cmd)
        self.listens = list(listens)
        self.cwd = cwd
        self.env = env
        self.log = os.path.join(topo.dir, "logs", f"{name}.log")
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        env = dict(self.env) if self.env is not None else {"PATH": PATH, "LANG": "C.UTF-8"}
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, *self.cmd], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         cwd=self.cwd, env=env)
        self.topo.services.append(self)
        want = {(a, p) for a, p in self.listens}
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise RuntimeError(f"{self.name} exited ({code}) before listening:\n"
                                   f"{_tail(self.log)}")
            if want <= listening(self.ns):
                self.topo.pids |= self.group_pids()
                return self
            if time.monotonic() >= deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not listen on {sorted(want)} within {START_TIMEOUT} s:\n"
                                   f"{_tail(self.log)}")
            time.sleep(0.1)

    def group_pids(self):
        """The processes of the service's group (a master and its workers)."""
        return self.group_pids_of(self.proc.pid) if self.proc else set()

    @staticmethod
    def group_pids_of(pgid):
        found = set()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                if int(fields[2]) == pgid and fields[0] != "Z":  # state, pgrp
                    found.add(int(entry))
        return found

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM to the process group, SIGKILL after TIMEOUT; bounded."""
        if self.proc is None:
            return
        p, self.proc = self.proc, None
        self.topo.pids |= self.group_pids_of(p.pid)
        if p.poll() is None:
            _killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        _killpg(p.pid, signal.SIGKILL)  # workers the master left behind, if any
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        if self in self.topo.services:
            self.topo.services.remove(self)

    def restart(self):
        self.stop()
        return self.start()


# -- topology ------------------------------------------------------------------

class Topology:
    """The server, client and proxy namespaces on one LAN (a bridge in a fourth, "lan",
    namespace), loopback up in each, and a temp dir (`dir`) for every file of the lab.

    topo.server, topo.client, topo.proxy, topo.lan: namespace names (ip netns exec NAME);
    topo["server"] too. Addresses: SERVER4/6, CLIENT4/6, PROXY4/6, BLACKHOLE4 (module
    constants, also attributes). Interface "eth0" in server, client and proxy."""

    ROLES = ("server", "client", "proxy", "lan")
    server4, client4, proxy4, blackhole4 = SERVER4, CLIENT4, PROXY4, BLACKHOLE4
    server6, client6, proxy6 = SERVER6, CLIENT6, PROXY6

    def __init__(self):
        self.ns = nwtest.Namespaces(*(f"h{r}" for r in self.ROLES))  # nwhserv<pid>, nwhclie<pid>...
        self.dir = None
        self.services = []  # running
        self.pids = set()   # every process a service of the lab had (masters and workers)

    def __getitem__(self, role):
        return self.ns[f"h{role}"]

    server = property(lambda self: self["server"])
    client = property(lambda self: self["client"])
    proxy = property(lambda self: self["proxy"])
    lan = property(lambda self: self["lan"])

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="netwhy-httplab-")
        os.makedirs(os.path.join(self.dir, "logs"))
        try:
            self.ns.__enter__()
            self._wire()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def _wire(self):
        lan = self.lan
        nwtest.sh("ip", "-n", lan, "link", "add", "br0", "type", "bridge")
        nwtest.sh("ip", "-n", lan, "link", "set", "br0", "up")
        hosts = {"server": ((f"{SERVER4}/24", f"{SERVER6}/64")),
                 "client": ((f"{CLIENT4}/24", f"{CLIENT6}/64")),
                 "proxy": ((f"{PROXY4}/24", f"{BLACKHOLE4}/24", f"{PROXY6}/64"))}
        for role in ("lan", *hosts):
            nwtest.sh("ip", "-n", self[role], "link", "set", "lo", "up")
        for role, addrs in hosts.items():
            port = role[:3]
            nwtest.sh("ip", "-n", lan, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                      "netns", self[role])
            nwtest.sh("ip", "-n", lan, "link", "set", port, "master", "br0", "up")
            for a in addrs:
                nwtest.sh("ip", "-n", self[role], "addr", "add", a, "dev", "eth0", *(("nodad",) if ":" in a else ()))
            nwtest.sh("ip", "-n", self[role], "link", "set", "eth0", "up")
        # BLACKHOLE4 answers ARP (it is the proxy's) but every packet to it is dropped: a
        # connect there times out, as to a firewalled proxy
        nwtest.sh("ip", "netns", "exec", self.proxy, "nft", "-f", "-", input=(
            "table inet httplab {\n"
            "  chain input {\n"
            "    type filter hook input priority 0; policy accept;\n"
            f"    ip daddr {BLACKHOLE4} drop\n"
            "  }\n"
            "}\n"))

    def __exit__(self, *exc):
        """Bounded, and not cut short by SIGALRM (the watchdog) or SIGTERM (meson): those are
        handled once the teardown is done."""
        came = []
        old = {sig: signal.signal(sig, lambda signum, frame: came.append(signum))
               for sig in (signal.SIGALRM, signal.SIGTERM)}
        try:
            for s in reversed(list(self.services)):
                s.stop()
            self.ns.__exit__(*exc)  # kills what is left in the namespaces, deletes them
            if self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            if came and callable(old.get(came[0])):
                old[came[0]](came[0], None)
            elif came and old.get(came[0]) == signal.SIG_DFL:
                os.kill(os.getpid(), came[0])
        return False

    def residue(self):
        """What of the lab is still on the machine: namespaces, processes, the temp dir."""
        found = [f"/run/netns/{n}" for n in self.ns.names.values() if os.path.lexists(f"/run/netns/{n}")]
        found += [f"pid {s.pid} ({s.name})" for s in self.services if s.running()]
        found += [f"pid {p}" for p in sorted(self.pids) if os.path.exists(f"/proc/{p}")]
        if self.dir and os.path.lexists(self.dir):
            found.append(self.dir)
        return found

    def path(self, *parts):
        return os.path.join(self.dir, *parts)


# -- certificates ----------------------------------------------------------------

CA_CONF = """\
# the minimal `openssl ca` configuration of the lab: dates given on the command line
[ ca ]
default_ca = lab_ca

[ lab_ca ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none

[ policy_any ]
organizationName = optional
commonName = supplied

[ req ]
distinguished_name = req_dn
prompt = no

[ req_dn ]
CN = unused

[ root_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ intermediate_ca ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ self_signed ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = {san}
"""

# Leaves name where their issuer can be fetched (Authority Information Access),
# as every leaf of a public CA does: that is how a server that sends its leaf
# without the intermediate is told from a private CA nobody trusts (browsers
# fetch the intermediate from there; curl and netwhy don't). Nothing serves
# the URL: no test fetches it.
LEAF_EXT = """\
[ leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
authorityInfoAccess = caIssuers;URI:http://10.88.0.1/intermediate.pem
subjectAltName = {san}
"""


def _asn1_time(t):
    return t.strftime("%Y%m%d%H%M%SZ")  # GeneralizedTime, which openssl ca -startdate/-enddate take


@dataclass
class Leaf:
    """One certificate case: what nginx serves and what curl should trust."""
    case: str
    cert: str     # the leaf alone (PEM)
    key: str      # its private key
    served: str   # what nginx's ssl_certificate names: leaf + intermediate, or the leaf alone
    cacert: str   # what curl's --cacert takes so that the intended problem is the only one
    not_before: str = ""  # openssl x509 -noout -dates, as measured
    not_after: str = ""
    names: list = field(default_factory=list)  # subjectAltName entries


class Certs:
    """A test root CA, an intermediate CA signed by it, and leaves, made with the openssl CLI
    in TOPO.dir/pki. Leaves (certs.leaves[case], also certs[case]):

      good        signed by the intermediate, SAN DNS:app.netwhy.test IP:10.88.0.1
                  IP:fd6e:7768:7900::1, served with the full chain (leaf + intermediate)
      nochain     the same leaf served without the intermediate (chain incomplete)
      expired     like good, valid from 2 years ago to 1 year ago (openssl ca -startdate/-enddate)
      notyet      like good, valid from 1 year on to 2 years on
      wrongname   like good but for www.example.invalid only (name mismatch for the IP and NAME)
      selfsigned  a self-signed leaf with good's names; cacert is itself

    certs.root (root.pem): curl's --cacert for every case but selfsigned. certs.intermediate."""

    CASES = ("good", "nochain", "expired", "notyet", "wrongname", "selfsigned")

    def __init__(self, topo):
        self.dir = topo.path("pki")
        os.makedirs(os.path.join(self.dir, "newcerts"))
        with open(self.p("index.txt"), "w"):
            pass
        with open(self.p("serial"), "w") as f:
            f.write("1000\n")
        good_san = f"DNS:{NAME}, IP:{SERVER4}, IP:{SERVER6}"
        with open(self.p("ca.cnf"), "w") as f:
            f.write(CA_CONF.format(dir=self.dir, san=good_san))
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        day, year = datetime.timedelta(days=1), datetime.timedelta(days=365)

        self.root = self.p("root.pem")
        self.root_key = self._key("root")
        self._sign("root", "/O=netwhy tests/CN=netwhy test root CA", now - 3 * year, now + 10 * year,
                   None, self.root_key, ext=None, section="root_ca", key=self.root_key, out=self.root)
        self.intermediate = self.p("intermediate.pem")
        self.intermediate_key = self._key("intermediate")
        self._sign("intermediate", "/O=netwhy tests/CN=netwhy test intermediate CA", now - 2 * year - day,
                   now + 5 * year, self.root, self.root_key, ext=None, section="intermediate_ca",
                   key=self.intermediate_key, out=self.intermediate)

        self.leaves = {}
        good = self._leaf("good", NAME, good_san, now - day, now + 30 * day)
        self.leaves["nochain"] = Leaf("nochain", good.cert, good.key, good.cert, self.root, good.not_before,
                                      good.not_after, good.names)
        self._leaf("expired", NAME, good_san, now - 2 * year, now - year)
        self._leaf("notyet", NAME, good_san, now + year, now + 2 * year)
        self._leaf("wrongname", OTHER_NAME, f"DNS:{OTHER_NAME}", now - day, now + 30 * day)
        key = self._key("selfsigned")
        cert = self.p("selfsigned.pem")
        self._openssl("req", "-new", "-x509", "-config", self.p("ca.cnf"), "-extensions", "self_signed",
                      "-key", key, "-subj", f"/CN={NAME}", "-days", "30", "-out", cert)
        self.leaves["selfsigned"] = self._measured(Leaf("selfsigned", cert, key, cert, cert))

    def __getitem__(self, case):
        return self.leaves[case]

    def p(self, name):
        return os.path.join(self.dir, name)

    def _openssl(self, *args):
        r = run_bounded(["openssl", *args], 30, env={"PATH": PATH, "OPENSSL_CONF": self.p("ca.cnf")})
        if r.returncode != 0:
            raise RuntimeError(f"openssl {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
        return r.stdout

    def _key(self, name):
        path = self.p(f"{name}.key")
        self._openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
        return path

    def _sign(self, name, subject, start, end, ca_cert, ca_key, ext, section, key, out):
        csr = self.p(f"{name}.csr")
        self._openssl("req", "-new", "-config", self.p("ca.cnf"), "-key", key, "-subj", subject, "-out", csr)
        issuer = ("-cert", ca_cert) if ca_cert else ("-selfsign",)  # the root signs itself
        self._openssl("ca", "-batch", "-notext", "-config", self.p("ca.cnf"), *issuer, "-keyfile", ca_key,
                      "-startdate", _asn1_time(start), "-enddate", _asn1_time(end),
                      *(("-extfile", ext) if ext else ()), "-extensions", section, "-in", csr, "-out", out)

    def _leaf(self, case, cn, san, start, end):
        ext = self.p(f"{case}.ext")
        with open(ext, "w") as f:
            f.write(LEAF_EXT.format(san=san))
        key = self._key(case)
        cert = self.p(f"{case}.pem")
        self._sign(case, f"/CN={cn}", start, end, self.intermediate, self.intermediate_key, ext, "leaf", key, cert)
        chain = self.p(f"{case}-fullchain.pem")
        with open(chain, "w") as out:
            for part in (cert, self.intermediate):
                with open(part) as f:
                    out.write(f.read())
        leaf = self._measured(Leaf(case, cert, key, chain, self.root))
        self.leaves[case] = leaf
        return leaf

    def _measured(self, leaf):
        """Reads the dates and names back with openssl x509 (what the cert says, not what was asked)."""
        out = self._openssl("x509", "-in", leaf.cert, "-noout", "-dates", "-ext", "subjectAltName")
        leaf.not_before = re.search(r"notBefore=(.*)", out).group(1).strip()
        leaf.not_after = re.search(r"notAfter=(.*)", out).group(1).strip()
        leaf.names = re.findall(r"(?:DNS:|IP Address:)([^,\s]+)", out)
        return leaf


# -- nginx ---------------------------------------------------------------------------

NGINX_MAIN = """\
# nginx of netwhy's httplab ({layout} layout); every path in {prefix}
user root;
worker_processes 1;
pid {prefix}/nginx.pid;
lock_file {prefix}/nginx.lock;
error_log {prefix}/logs/nginx-error.log;

events {{
    worker_connections 64;
}}

http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix}/logs/nginx-access.log;
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    ssl_protocols TLSv1.2 TLSv1.3;

{servers}}}
"""


def _nginx_sites(certs):
    """{site name: server block}: the same blocks in both layouts."""
    sites = {}
    for case, port in HTTPS_PORTS.items():
        leaf = certs[case]
        sites[f"tls-{case}"] = f"""\
server {{
    listen {port} ssl;
    listen [::]:{port} ssl;
    server_name {NAME};
    ssl_certificate {leaf.served};
    ssl_certificate_key {leaf.key};
    location / {{
        default_type text/plain;
        return 200 "hello from netwhy's nginx over TLS ({case})\\n";
    }}
}}
"""
    sites["app"] = f"""\
server {{
    listen {HTTP_PORTS['app']};
    listen [::]:{HTTP_PORTS['app']};
    location / {{
        proxy_pass http://127.0.0.1:{UPSTREAM_PORT};
        proxy_set_header Host $host;
    }}
}}
"""
    sites["badgateway"] = f"""\
server {{
    listen {HTTP_PORTS['badgateway']};
    listen [::]:{HTTP_PORTS['badgateway']};
    location / {{
        proxy_pass http://127.0.0.1:{DEAD_UPSTREAM_PORT};
    }}
}}
"""
    sites["redirect"] = f"""\
server {{
    listen {HTTP_PORTS['redirect']};
    listen [::]:{HTTP_PORTS['redirect']};
    return 301 http://localhost:{HTTP_PORTS['app']}/;
}}
"""
    return sites


class Nginx(Service):
    """nginx (master + 1 worker, `daemon off;`) in the server namespace, every file in
    TOPO.dir/nginx-LAYOUT/ (the prefix): config, pid, logs, temp paths.

    layout "single": nginx.conf holds every server block.
    layout "sites": nginx.conf `include`s PREFIX/sites-enabled/* (symlinks to
    sites-available/, as Debian does), one file per server block.

    Exposes: conf (what -c names; NETWHY_NGINX_CONF), sites_enabled (None for "single"),
    prefix, pid_file, error_log, access_log, https_ports (HTTPS_PORTS), http_ports
    (HTTP_PORTS), upstream (127.0.0.1:UPSTREAM_PORT), dead_upstream, url(case_or_site),
    netwhy_env(). The `app` site needs a Gunicorn on 127.0.0.1:UPSTREAM_PORT for its 200."""

    LAYOUTS = ("single", "sites")

    def __init__(self, topo, certs, layout="single"):
        if layout not in self.LAYOUTS:
            raise ValueError(f"layout {layout!r}: one of {self.LAYOUTS}")
        self.layout = layout
        self.prefix = topo.path(f"nginx-{layout}")
        self.conf = os.path.join(self.prefix, "nginx.conf")
        self.pid_file = os.path.join(self.prefix, "nginx.pid")
        self.error_log = os.path.join(self.prefix, "logs", "nginx-error.log")
        self.access_log = os.path.join(self.prefix, "logs", "nginx-access.log")
        self.sites_enabled = os.path.join(self.prefix, "sites-enabled") if layout == "sites" else None
        self.https_ports = dict(HTTPS_PORTS)
        self.http_ports = dict(HTTP_PORTS)
        self.upstream = f"127.0.0.1:{UPSTREAM_PORT}"
        self.dead_upstream = f"127.0.0.1:{DEAD_UPSTREAM_PORT}"
        for d in ("logs", "temp"):
            os.makedirs(os.path.join(self.prefix, d), exist_ok=True)
        sites = _nginx_sites(certs)
        if layout == "single":
            servers = "".join("    # " + name + "\n" + _indent(block) + "\n" for name, block in sites.items())
        else:
            available = os.path.join(self.prefix, "sites-available")
            os.makedirs(available)
            os.makedirs(self.sites_enabled)
            for name, block in sites.items():
                with open(os.path.join(available, name), "w") as f:
                    f.write(block)
                os.symlink(os.path.join(available, name), os.path.join(self.sites_enabled, name))
            servers = f"    include {self.sites_enabled}/*;\n"
        with open(self.conf, "w") as f:
            f.write(NGINX_MAIN.format(layout=layout, prefix=self.prefix, servers=servers))
        ports = [*HTTPS_PORTS.values(), *HTTP_PORTS.values()]
        super().__init__(topo, "server", f"nginx-{layout}",
                         ["nginx", "-p", self.prefix, "-e", self.error_log, "-c", self.conf, "-g", "daemon off;"],
                         [(a, p) for p in ports for a in ("0.0.0.0", "::")])

    def test_config(self):
        """nginx -t on the config: (ok, what nginx said)."""
        r = run_bounded(["ip", "netns", "exec", self.ns, "nginx", "-t", "-p", self.prefix, "-e", self.error_log,
                         "-c", self.conf], 20, env={"PATH": PATH})
        return r.returncode == 0, (r.stderr or "").strip()

    def url(self, site, host=SERVER4, scheme=None, path="/"):
        """A URL of a site: a certificate case ("good"...) or "app", "badgateway", "redirect"."""
        if site in self.https_ports:
            return url(scheme or "https", host, self.https_ports[site], path)
        return url(scheme or "http", host, self.http_ports[site], path)

    def netwhy_env(self):
        return {"NETWHY_NGINX_CONF": self.conf}


def _indent(text, by="    "):
    return "".join(by + line if line.strip() else line for line in text.splitlines(True))


# -- Python servers -----------------------------------------------------------------

class Gunicorn(Service):
    """gunicorn serving servers.py's Flask app (200 "hello from netwhy's test server"),
    one worker, bound to ADDR:PORT in ROLE's namespace; its worker temp files in the lab's dir."""

    def __init__(self, topo, role, addr, port, workers=1):
        self.addr, self.port = addr, port
        bind = f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
        tmp = topo.path(f"gunicorn-{role}-{port}")
        os.makedirs(tmp, exist_ok=True)
        super().__init__(topo, role, f"gunicorn-{role}-{port}",
                         ["/usr/bin/gunicorn", "--chdir", HERE, "-b", bind, "-w", str(workers),
                          "--worker-tmp-dir", tmp, "--graceful-timeout", "2", "--access-logfile", "-",
                          "servers:app"],
                         [(addr, port)])


class FlaskDev(Service):
    """servers.py's Flask app under Flask's development server (app.run) on ADDR:PORT."""

    def __init__(self, topo, role, addr, port):
        self.addr, self.port = addr, port
        super().__init__(topo, role, f"flask-{role}-{port}", [PY, SERVERS, "flask", addr, str(port)], [(addr, port)])


DJANGO_URLS = """\

# netwhy's httplab: "/" answers 200 once the Host is allowed
from django.http import HttpResponse  # noqa: E402

urlpatterns.append(path("", lambda request: HttpResponse("hello from netwhy's django\\n",
                                                         content_type="text/plain")))
"""


class Django(Service):
    """A project made at runtime with `django-admin startproject labsite` (Django 3.2's
    defaults: DEBUG = True, ALLOWED_HOSTS = []) plus a "/" view answering 200, in the server
    namespace on 0.0.0.0:PORT. debug=False sets DEBUG = False in settings.py. So, from the
    client by SERVER4: 400, the DisallowedHost debug page with DEBUG, the bare
    "Bad Request (400)" page without.

    server "runserver": `manage.py runserver 0.0.0.0:PORT --noreload` (the default with
    DEBUG; runserver refuses to start with DEBUG = False and ALLOWED_HOSTS = []).
    server "gunicorn": `gunicorn labsite.wsgi -b 0.0.0.0:PORT` (the default without DEBUG).

    Exposes: project (the directory), manage, settings (settings.py's path), port, debug,
    server, allowed_hosts. allow_hosts([...]) edits ALLOWED_HOSTS in settings.py and
    restarts the server, as a user applies the fix."""

    SERVERS = ("runserver", "gunicorn")

    def __init__(self, topo, port=None, debug=True, server=None):
        self.debug = debug
        self.server = server or ("runserver" if debug else "gunicorn")
        if self.server not in self.SERVERS:
            raise ValueError(f"server {server!r}: one of {self.SERVERS}")
        self.port = port or DJANGO_PORTS["debug" if debug else "nodebug"]
        self.project = topo.path(f"django-{self.port}")
        os.makedirs(self.project)
        r = run_bounded([PY, "-m", "django", "startproject", "labsite", self.project], 60,
                        env={"PATH": PATH, "PYTHONDONTWRITEBYTECODE": "1"})
        if r.returncode != 0:
            raise RuntimeError(f"django-admin startproject failed: {r.stderr.strip()}")
        self.manage = os.path.join(self.project, "manage.py")
        self.settings = os.path.join(self.project, "labsite", "settings.py")
        with open(os.path.join(self.project, "labsite", "urls.py"), "a") as f:
            f.write(DJANGO_URLS)
        self.allowed_hosts = []
        self._edit(r"^DEBUG = True$", f"DEBUG = {debug}")
        if self.server == "runserver":
            cmd = [PY, self.manage, "runserver", f"0.0.0.0:{self.port}", "--noreload"]
        else:
            tmp = topo.path(f"gunicorn-django-{self.port}")
            os.makedirs(tmp)
            cmd = ["/usr/bin/gunicorn", "--chdir", self.project, "-b", f"0.0.0.0:{self.port}", "-w", "1",
                   "--worker-tmp-dir", tmp, "--graceful-timeout", "2", "--access-logfile", "-", "labsite.wsgi"]
        super().__init__(topo, "server", f"django-{self.port}", cmd, [("0.0.0.0", self.port)], cwd=self.project)

    def _edit(self, pattern, line):
        with open(self.settings) as f:
            text = f.read()
        text, n = re.subn(pattern, line, text, count=1, flags=re.M)
        if n != 1:
            raise RuntimeError(f"{self.settings}: no line matches {pattern}")
        with open(self.settings, "w") as f:
            f.write(text)

    def allow_hosts(self, hosts):
        """Sets ALLOWED_HOSTS = HOSTS in settings.py and restarts runserver (--noreload)."""
        self._edit(r"^ALLOWED_HOSTS = .*$", f"ALLOWED_HOSTS = {list(hosts)!r}")
        self.allowed_hosts = list(hosts)
        if self.running():
            self.restart()
        return self


# -- tinyproxy ------------------------------------------------------------------------

TINYPROXY_CONF = """\
# tinyproxy of netwhy's httplab: Debian's defaults, paths in the lab's dir, the LAN allowed
Port {port}
Listen {listen}
Timeout 30
DefaultErrorFile "/usr/share/tinyproxy/default.html"
StatFile "/usr/share/tinyproxy/stats.html"
LogFile "{dir}/tinyproxy.log"
LogLevel Info
PidFile "{dir}/tinyproxy.pid"
MaxClients 100
Allow 127.0.0.1
Allow ::1
Allow {subnet4}
Allow {subnet6}
ViaProxyName "tinyproxy"
"""


class Tinyproxy(Service):
    """tinyproxy -d -c CONF in the proxy namespace, listening on PROXY4:PROXY_PORT, allowing
    the LAN; no ConnectPort line, so CONNECT goes to any port. Runs as root (no User line:
    tinyproxy warns and stays root). Exposes: conf, log_file, pid_file, address, port,
    proxy_url ("http://10.88.0.3:8888"); and as constants the dead and blackhole proxies
    (dead_proxy_url: nothing listens, curl exit 7; blackhole_proxy_url: dropped, exit 28)."""

    def __init__(self, topo, port=PROXY_PORT):
        self.address, self.port = PROXY4, port
        self.dir = topo.path("tinyproxy")
        os.makedirs(self.dir)
        self.conf = os.path.join(self.dir, "tinyproxy.conf")
        self.log_file = os.path.join(self.dir, "tinyproxy.log")
        self.pid_file = os.path.join(self.dir, "tinyproxy.pid")
        with open(self.conf, "w") as f:
            f.write(TINYPROXY_CONF.format(port=port, listen=PROXY4, dir=self.dir, subnet4=SUBNET4, subnet6=SUBNET6))
        self.proxy_url = f"http://{PROXY4}:{port}"
        super().__init__(topo, "proxy", "tinyproxy", ["tinyproxy", "-d", "-c", self.conf], [(PROXY4, port)])


DEAD_PROXY_URL = f"http://{PROXY4}:{DEAD_PROXY_PORT}"
BLACKHOLE_PROXY_URL = f"http://{BLACKHOLE4}:{BLACKHOLE_PROXY_PORT}"
Tinyproxy.dead_proxy_url = DEAD_PROXY_URL
Tinyproxy.blackhole_proxy_url = BLACKHOLE_PROXY_URL


# -- curl: the truth --------------------------------------------------------------------

@dataclass
class Truth:
    """What curl said: exit status, %{http_code} (0 when no answer), its `curl: (N) ...` line."""
    exit: int
    status: int
    error: str
    cmd: list = field(default_factory=list, repr=False)
    env: dict = field(default_factory=dict, repr=False)
    # curl_answer() only:
    status_line: str = ""            # of the last answer: "HTTP/1.1 502 Bad Gateway"
    headers: list = field(default_factory=list)  # [(name, value)] of the last answer
    body: str = ""
    status_lines: list = field(default_factory=list)  # every answer's, in order (-L, CONNECT)

    @property
    def works(self):
        """curl exit 0 and a 2xx or 3xx status: what netwhy's `reachable` must match."""
        return works(self)

    def header(self, name):
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def __iter__(self):  # exit, status, error = curl_truth(...)
        return iter((self.exit, self.status, self.error))


def works(truth):
    return truth.exit == 0 and 200 <= truth.status < 400


def curl_env(env=None):
    """The exact environment curl runs with: PATH plus ENV."""
    return {"PATH": PATH, **(env or {})}


def _curl(ns, target, env, extra, max_time, out_args):
    cmd = ["ip", "netns", "exec", ns, "curl", "-q", "-sS", *out_args, "-w", "%{http_code}",
           "--max-time", str(max_time), *extra, target]
    e = curl_env(env)
    r = run_bounded(cmd, max_time + 15, env=e)
    if r.returncode is None:
        raise RuntimeError(f"curl ran past --max-time {max_time} + 15 s: {' '.join(cmd)}")
    err = next((line for line in r.stderr.splitlines() if line.startswith("curl: (")), "")
    code = r.stdout.strip()[-3:]
    return Truth(r.returncode, int(code) if code.isdigit() else 0, err, cmd, e)


def curl_truth(ns, target, env=None, extra=(), max_time=5):
    """curl -q -sS -o /dev/null -w '%{http_code}' --max-time MAX_TIME EXTRA TARGET in
    namespace NS with the environment PATH + ENV. Returns a Truth: (exit, status, error)."""
    return _curl(ns, target, env, extra, max_time, ["-o", "/dev/null"])


def curl_truth_follow(ns, target, env=None, extra=(), max_time=5):
    """curl_truth with -L: redirects followed."""
    return curl_truth(ns, target, env, ("-L", *extra), max_time)


_answers = 0


def curl_answer(topo, ns, target, env=None, extra=(), max_time=5):
    """curl_truth plus the answer: status line and headers (-D) and the body, through files in
    the lab's dir. The exit, status and error are those curl_truth would give."""
    global _answers
    _answers += 1
    d = topo.path("curl")
    os.makedirs(d, exist_ok=True)
    head, body = os.path.join(d, f"{_answers}.head"), os.path.join(d, f"{_answers}.body")
    t = _curl(ns, target, env, extra, max_time, ["-D", head, "-o", body])
    try:
        with open(head, errors="replace") as f:
            blocks = [b for b in re.split(r"\r?\n\r?\n", f.read()) if b.strip()]
    except OSError:
        blocks = []
    for block in blocks:
        t.status_lines.append(block.splitlines()[0].strip())
    if blocks:
        t.status_line = t.status_lines[-1]
        for line in blocks[-1].splitlines()[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                t.headers.append((k.strip(), v.strip()))
    try:
        with open(body, errors="replace") as f:
            t.body = f.read()
    except OSError:
        pass
    return t


def require_lab():
    """Root and the lab's programs, or skip (77; a failure under CI=true), as nwtest.require_root."""
    nwtest.require_root()
    missing = missing_programs()
    if missing:
        print(f"{'FAIL' if nwtest.IN_CI else 'SKIP'}: not installed: {', '.join(missing)}")
        sys.exit(1 if nwtest.IN_CI else nwtest.SKIP)


def missing_programs():
    need = ["curl", "openssl", "nginx", "tinyproxy", "nft", "ss", "/usr/bin/gunicorn", PY]
    miss = [p for p in need if not shutil.which(p)]
    r = subprocess.run([PY, "-c", "import django, flask"], capture_output=True, text=True)
    if r.returncode != 0:
        miss.append("python3-django/python3-flask")
    return miss
