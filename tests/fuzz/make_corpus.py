#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora, tests/fuzz/corpus/TARGET/, from
the recordings in tests/data and literal /proc text; with --record, also
the inputs that need a live kernel (root): rtnetlink and sock_diag messages
from a throwaway network namespace with a few kinds of links, addresses,
routes and listeners, and iptables-save output of the rulesets in
tests/data/nft/src, loaded in such a namespace.

  tests/fuzz/make_corpus.py [--record]

Each seed is named after what it is; targets that group parsers take the
selector byte first (see each fuzz_TARGET.cpp). Without --record, the
netlink seeds and the recorded iptables-save seeds already in the tree are
kept as they are.
"""

import argparse
import glob
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(SOURCE, "tests", "data")
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def fresh(target):
    shutil.rmtree(os.path.join(CORPUS, target), ignore_errors=True)


# ---- from tests/data ----

def snapshots():
    fresh("snapshot")
    fresh("engine")
    for path in sorted(glob.glob(os.path.join(DATA, "golden", "*.snapshot.json"))):
        name = os.path.basename(path)[: -len(".snapshot.json")]
        put("snapshot", name + ".json", read(path))
        put("engine", name + ".json", read(path))
    # the JSON from before the text listing (firewall.nftables), and no firewall at all
    doc = json.loads(read(os.path.join(DATA, "golden", "firewall-drop.snapshot.json")))
    doc["firewall"]["nftables"] = json.loads(read(os.path.join(DATA, "nft", "unit-ruleset.json")))
    doc["firewall"]["listing"] = ""
    put("snapshot", "firewall-nftables-json.json", json.dumps(doc))
    put("engine", "firewall-nftables-json.json", json.dumps(doc))
    put("snapshot", "minimal.json", '{"version": 1}')


def nft():
    fresh("nft_json")
    fresh("nft_text")
    for path in sorted(glob.glob(os.path.join(DATA, "nft", "*.json"))):
        name = os.path.basename(path)[: -len(".json")]
        listing = os.path.join(DATA, "nft", name + ".txt")
        if not os.path.exists(listing) or name == "tables":
            put("nft_json", name + ".json", read(path))
        if os.path.exists(listing):
            put("nft_json", name + ".json+txt", read(path) + b"\0" + read(listing))
            put("nft_text", name + ".txt", read(listing))


def iptables_from_snapshots():
    """The iptables-save texts the golden snapshots hold (Docker's rules)."""
    seen = set()
    for path in sorted(glob.glob(os.path.join(DATA, "golden", "*.snapshot.json"))):
        fw = json.loads(read(path)).get("firewall", {})
        for save in fw.get("iptables", []):
            text = save["save"]
            if text not in seen:
                seen.add(text)
                name = os.path.basename(path)[: -len(".snapshot.json")]
                put("iptables", f"{name}.{save['family']}.{save['backend']}.save", text)


def containers():
    fresh("containers")
    root = os.path.join(DATA, "containers")
    kinds = [  # selector byte (fuzz_containers.cpp), file suffix
        (0, ".cgroup"), (1, ".shim.cmdline"), (1, ".conmon.cmdline"), (2, ".conmon.cmdline"),
        (6, ".config.v2.json"), (7, ".hostconfig.json"),
    ]
    for engine in sorted(os.listdir(root)):
        d = os.path.join(root, engine)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            path = os.path.join(d, f)
            for sel, suffix in kinds:
                if f.endswith(suffix):
                    put("containers", f"{sel}-{engine}-{f}", bytes([sel]) + read(path))
            if f.startswith("docker-proxy") and f.endswith(".cmdline"):
                put("containers", f"3-{engine}-{f}", b"\3" + read(path))
            if f.endswith(".mountinfo"):
                # the docker container's id is in its config file's name... and in the mountinfo itself
                cid = ""
                for line in read(path).decode().splitlines():
                    if "/containers/" in line and "/hosts " in line:
                        cid = line.split("/containers/")[1].split("/")[0]
                        break
                put("containers", f"5-{engine}-{f}", b"\5" + read(path) + b"\0" + cid.encode())
    put("containers", "8-podman-containers.json", b"\x08" + read(os.path.join(root, "podman", "containers.json")))
    put("containers", "4-dockerd.cmdline", b"\4" + b"/usr/bin/dockerd\0-H\0fd://\0--data-root\0/srv/docker\0")
    put("containers", "4-dockerd-g.cmdline", b"\4" + b"dockerd\0-g\0/var/lib/docker2\0")


# ---- literal /proc text, as the kernel writes it ----

TCP = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 0100007F:1F40 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 48122 1 "
    "0000000000000000 100 0 0 10 0\n"
    "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20011 1 "
    "0000000000000000 100 0 0 10 0\n"
    "   2: 0F02000A:0016 0202000A:C350 01 00000000:00000000 02:0009A7F3 00000000     0        0 20514 4 "
    "0000000000000000 20 4 29 10 -1\n")
TCP6 = (
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
    "tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000     0        0 20013 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D0F2 01 00000000:00000000 "
    "00:00000000 00000000     0        0 778 1 0000000000000000 20 4 30 10 -1\n"
    "   2: B80D0120000000000000000001000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000     0        0 779 1 0000000000000000 100 0 0 10 0\n")
UDP = (
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref "
    "pointer drops\n"
    "  123: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 15000 2 "
    "0000000000000000 0\n"
    "  200: 0100007F:0035 0100007F:A000 01 00000000:00000000 00:00000000 00000000   101        0 15001 2 "
    "0000000000000000 0\n")
UDP6 = (
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
    "tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
    "  500: 00000000000000000000000000000000:0223 00000000000000000000000000000000:0000 07 00000000:00000000 "
    "00:00000000 00000000     0        0 31337 2 0000000000000000 0\n")
NETSTAT = (
    "TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed ListenOverflows ListenDrops TCPBacklogDrop\n"
    "TcpExt: 0 0 0 17 19 0\n"
    "IpExt: InNoRoutes InTruncatedPkts InMcastPkts\n"
    "IpExt: 5 0 12\n")
MOUNTINFO_PROC = (
    "22 1 0:5 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw,hidepid=invisible\n"
    "23 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n")


def proc():
    fresh("proc")
    put("proc", "0-tcp", b"\0" + TCP.encode())
    put("proc", "1-tcp6", b"\1" + TCP6.encode())
    put("proc", "2-udp", b"\2" + UDP.encode())
    put("proc", "3-udp6", b"\3" + UDP6.encode())
    put("proc", "4-stat", b"\4" + b"256 (gunicorn) S 1 256 256 0 -1 4194560 3096 0 0 0 10 2 0 0 20 0 1 0 123 0\n")
    put("proc", "4-stat-odd-comm", b"\4" + b"7 (a) b (c)) \x1b[2J) R 42 7 7 0 -1\n")
    put("proc", "5-cmdline", b"\5" + b"gunicorn\0-w\0" b"3\0-b\0" b"127.0.0.1:8000\0app:app\0")
    put("proc", "6-socket-link", b"\6socket:[48122]")
    put("proc", "6-netns-link", b"\6net:[4026531840]")
    put("proc", "7-netstat", b"\7" + NETSTAT.encode())
    put("proc", "8-mountinfo-hidepid", b"\x08" + MOUNTINFO_PROC.encode())
    put("proc", "8-mountinfo-docker", b"\x08" + read(os.path.join(DATA, "containers", "docker", "web.mountinfo")))


def text():
    fresh("text")
    seeds = {
        "0-escape": b"\0" + "caf\u00e9 \x1b]0;title\x07 \u0085 \\ tab\there".encode() + b"\xff\xfe",
        "1-escape-arg": b"\1" + "a very long argument, typed by someone, \u00e9\u00e9\u00e9 and \x1b[31m red".encode(),
        "2-shell-word": b"\2" + b"eth0 it's",
        "3-utf8": b"\3" + "ok \u20ac \U0001f600 ".encode() + b"\xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82",
        "4-lines": b"\4" + b"first line\n\tsecond  line \t\n\nlast",
        "5-ipv4": b"\5" + b"192.0.2.10",
        "5-ipv6": b"\5" + b"2001:db8::1",
        "5-ipv6-mapped": b"\5" + b"::ffff:10.0.0.1",
        "5-bytes16": b"\5" + bytes(range(16)),
        "6-port": b"\6" + b"8080",
        "6-service": b"\6" + b"http\0http 80/tcp www # WorldWideWeb HTTP\nhttp 80/udp\ndomain 53/udp\n",
        "7-netns-pid": b"\7" + b"pid:1234",
        "7-netns-docker": b"\7" + b"docker:web",
        "7-netns-name": b"\7" + b"blue",
    }
    for name, data in seeds.items():
        put("text", name, data)


# ---- recorded from a live kernel (--record, root) ----

def netns(name):
    subprocess.run(["ip", "netns", "add", name], check=True)


def ns_sh(name, script):
    subprocess.run(["ip", "netns", "exec", name, "sh", "-euc", script], check=True)


LAB = """
opt() { "$@" 2>/dev/null || true; }  # a kind of link this kernel may lack
ip link set lo up
ip link add eth0 type veth peer name peer0
ip link set eth0 up mtu 9000 alias "uplink \\"one\\""; ip link set peer0 up
opt ip link property add dev eth0 altname wan0
ip addr add 192.0.2.10/24 brd + dev eth0
ip addr add 198.51.100.7/32 dev eth0 label eth0:1
ip addr add 2001:db8::10/64 dev eth0 valid_lft 3600 preferred_lft 1800
ip link add docker0 type veth peer name peer1
ip link set docker0 up; ip link set peer1 up
ip addr add 172.17.0.1/16 dev docker0
opt ip link add br0 type bridge; opt ip link set peer1 master br0
opt ip link add link eth0 name eth0.42 type vlan id 42
opt ip link add link eth0 name mv0 type macvlan mode bridge
opt ip link add link eth0 name ipv0 type ipvlan mode l3
ip route add default via 192.0.2.1 dev eth0 metric 100
ip route add 10.20.0.0/16 nexthop via 192.0.2.2 weight 1 nexthop via 192.0.2.3 weight 2
ip route add blackhole 10.99.0.0/16
ip route add 203.0.113.0/24 dev eth0 table 100 src 192.0.2.10 proto static
ip -6 route add default via 2001:db8::1 dev eth0
ip -6 route add unreachable 2001:db8:dead::/48
"""


def nl_dump(proto, msg_type, payload, flags=0x301):  # NLM_F_REQUEST | NLM_F_DUMP
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto)
    s.bind((0, 0))
    hdr = struct.pack("=IHHII", 16 + len(payload), msg_type, flags, 1, 0)
    s.send(hdr + payload)
    out = []
    done = False
    while not done:
        data = s.recv(1 << 20)
        off = 0
        while off + 16 <= len(data):
            length, mtype = struct.unpack_from("=IH", data, off)
            if mtype == 3 or mtype == 2:  # NLMSG_DONE, NLMSG_ERROR
                done = True
                break
            out.append(data[off + 16: off + length])
            off += (length + 3) & ~3
    s.close()
    return out


def record_netlink_here(outdir):
    """Runs inside the namespace: dumps, and writes selector byte + message body."""
    NETLINK_ROUTE, NETLINK_SOCK_DIAG = 0, 4
    RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, SOCK_DIAG_BY_FAMILY = 18, 22, 26, 20
    listeners = []
    for i, (fam, addr) in enumerate(((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::"),
                                     (socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::ffff:127.0.0.1"))):
        t = socket.socket(fam, socket.SOCK_STREAM)
        if addr == "::":
            t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        t.bind((addr, 8000 + i))
        t.listen(7)
        u = socket.socket(fam, socket.SOCK_DGRAM)
        u.bind((addr, 5353 + i))
        listeners += [t, u]
    b = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
    b.bind(("0.0.0.0", 8443))
    b.listen(3)
    listeners.append(b)

    def save(sel, kind, msgs):
        for i, m in enumerate(msgs):
            with open(os.path.join(outdir, f"{sel}-{kind}-{i:02d}"), "wb") as f:
                f.write(bytes([sel]) + m)

    save(0, "link", nl_dump(NETLINK_ROUTE, RTM_GETLINK, struct.pack("=BxHiII", 0, 0, 0, 0, 0)))
    save(1, "addr", nl_dump(NETLINK_ROUTE, RTM_GETADDR, struct.pack("=BBBBI", 0, 0, 0, 0, 0)))
    routes = nl_dump(NETLINK_ROUTE, RTM_GETROUTE, struct.pack("=BBBBBBBBI", 0, 0, 0, 0, 0, 0, 0, 0, 0))
    save(2, "route", routes[:24])
    for sel, proto, states in ((3, socket.IPPROTO_TCP, 1 << 10), (4, socket.IPPROTO_UDP, 1 << 7)):
        msgs = []
        for fam in (socket.AF_INET, socket.AF_INET6):
            # inet_diag_req_v2 (family, protocol, ext: meminfo, info, vegas, cong, tos; states) and a zero sockid;
            # IPv6 sockets come with INET_DIAG_SKV6ONLY whatever ext asks
            req = struct.pack("=BBBBI", fam, proto, 0x1f, 0, states) + bytes(48)
            msgs += nl_dump(NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, req)
        kind = "tcp" if sel == 3 else "udp"
        save(sel, kind, msgs)


def record_netlink():
    fresh("netlink")
    out = os.path.join(CORPUS, "netlink")
    os.makedirs(out)
    name = f"nwfuzz{os.getpid()}"
    netns(name)
    try:
        ns_sh(name, LAB)
        subprocess.run(["ip", "netns", "exec", name, sys.executable, os.path.abspath(__file__),
                        "--record-netlink-here", out], check=True)
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def record_iptables():
    """iptables-save of the rulesets tests/data/nft/src builds with iptables-nft."""
    for script in ("iptables", "docker", "ufw"):
        name = f"nwfuzz{os.getpid()}{script}"
        work = tempfile.mkdtemp()
        netns(name)
        try:
            env = dict(os.environ, NS=name, OUT=work, NAME=script, WORK=work)
            os.makedirs(os.path.join(work, "ufw-etc"))
            subprocess.run(["bash", "-euo", "pipefail", "-c",
                            'ns() { ip netns exec "$NS" "$@"; }; ns_nft() { ns nft "$@"; }; '
                            'export -f ns ns_nft; ns ip link set lo up; '
                            f'source {os.path.join(DATA, "nft", "src", script + ".sh")}'],
                           env=env, check=True, stdout=subprocess.DEVNULL)
            for prog, family in (("iptables-nft-save", "inet"), ("ip6tables-nft-save", "inet6")):
                got = subprocess.run(["ip", "netns", "exec", name, prog], capture_output=True, check=True).stdout
                if b"-A " in got:
                    put("iptables", f"recorded-{script}.{family}.nft.save", got)
        finally:
            subprocess.run(["ip", "netns", "del", name], check=False)
            shutil.rmtree(work, ignore_errors=True)


def http():
    """netwhy url's parsers (selector byte: 0 URL, 1 answer, 2 nginx, 3 proxy, 4 the diagnosis)."""
    fresh("http")
    for i, url in enumerate(["http://10.0.2.15:8080/", "https://[::1]:8443/a?b=1#c", "localhost:5000",
                             "http://127.1/", "HTTP://Example.COM:65535"]):
        put("http", f"0-url-{i}", b"\0" + url.encode())
    answers = {
        "ok": "HTTP/1.1 200 OK\r\nServer: gunicorn\r\nContent-Length: 2\r\n\r\nok",
        "chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        "nginx-502": "HTTP/1.1 502 Bad Gateway\r\nServer: nginx/1.22.1\r\n\r\n<hr><center>nginx/1.22.1</center>",
        "redirect": "HTTP/1.1 301 Moved Permanently\r\nLocation: http://localhost:8000/\r\n\r\n",
        "django": "HTTP/1.1 400 Bad Request\r\n\r\n<title>DisallowedHost at /</title>Invalid HTTP_HOST header: "
                  "&#x27;10.0.2.15:8080&#x27;. You may need to add &#x27;10.0.2.15&#x27; to ALLOWED_HOSTS.<\n",
        "vite": "HTTP/1.1 403 Forbidden\r\n\r\nBlocked request. This host (\"h\") is not allowed.\n",
        "tls-port": "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\nThe plain HTTP request was sent to HTTPS port",
        "continue": "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    }
    for name, a in answers.items():
        put("http", f"1-answer-{name}", b"\1" + a.encode())
        put("http", f"4-diagnose-{name}", b"\4" + a.encode())
    put("http", "2-nginx-site", b"\2" + b"http { upstream app { server 127.0.0.1:9000; server unix:/run/a.sock; }\n"
        b"server { listen 8080; server_name example.com; location / { proxy_pass http://app; }\n"
        b"location /api/ { proxy_pass http://[::1]:9001/; } } include conf.d/*.conf; }\n")
    put("http", "2-nginx-cmdline", b"\2" + b"nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf -g daemon on;")
    put("http", "3-proxy", b"\3" + b"http://user:pw@proxy:3128\0localhost,.example.com,10.0.0.0/8")
    put("http", "3-socks", b"\3" + b"socks5h://[::1]:1080\0*")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--record", action="store_true", help="also record from a live kernel (root)")
    ap.add_argument("--record-netlink-here", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.record_netlink_here:
        record_netlink_here(args.record_netlink_here)
        return
    snapshots()
    nft()
    if args.record:
        fresh("iptables")
        record_iptables()
    else:  # keep the recorded ones; those from the snapshots are written again below
        for f in glob.glob(os.path.join(CORPUS, "iptables", "*")):
            if not os.path.basename(f).startswith("recorded-"):
                os.remove(f)
    iptables_from_snapshots()
    containers()
    proc()
    text()
    http()
    if args.record:
        record_netlink()


if __name__ == "__main__":
    main()
