#!/usr/bin/env bash
# Times netwhy ports (and netwhy port) against ss, netstat and lsof, side by side in one run, on
# a fixture of L listening sockets, E established loopback connections (2E
# sockets) and P processes holding them, in a namespace of its own.
#   bench/ports.sh [L E P] [--runs N]     (default 5000 50000 1000)
# Needs root. Not a test: it prints figures and ratios and asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
L=5000 E=50000 P=1000 runs=10
pos=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    *) pos+=("$1"); shift ;;
  esac
done
if [ "${#pos[@]}" -eq 3 ]; then L=${pos[0]} E=${pos[1]} P=${pos[2]}; fi
scripts/bootstrap --bench
netwhy=$PWD/build/netwhy
ns=nwportsbench$$
work=$(mktemp -d)
fixture_pid=
cleanup() {
  [ -n "$fixture_pid" ] && kill "$fixture_pid" 2>/dev/null
  exec 3>&- 2>/dev/null || true
  wait 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="10000 39999"
ip netns exec "$ns" sysctl -qw net.core.somaxconn=4096

mkfifo "$work/hold"
ip netns exec "$ns" python3 bench/socket_fixture.py "$L" "$E" "$P" <"$work/hold" >"$work/ready" &
fixture_pid=$!
exec 3>"$work/hold"   # the fixture lives while this stays open
for _ in $(seq 600); do grep -q . "$work/ready" 2>/dev/null && break; sleep 0.5; done
echo "fixture: $(cat "$work/ready"); $(ip netns exec "$ns" ss -Htl | wc -l) listeners," \
     "$(ip netns exec "$ns" ss -Htn state established | wc -l) established sockets," \
     "$(find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l) fds in /proc/*/fd"

# Agreement before timing: the same listeners and pids as ss.
ip netns exec "$ns" "$netwhy" -j ports -t >"$work/nw.json"
ip netns exec "$ns" ss -Hltnp >"$work/ss.txt"
python3 - "$work/nw.json" "$work/ss.txt" <<'PY'
import json, re, sys
nw = {(l["local_address"], l["port"]): sorted(p["pid"] for p in l["processes"]) for l in json.load(open(sys.argv[1]))}
ss = {}
for line in open(sys.argv[2]):
    f = line.split()
    host, port = f[3].rsplit(":", 1)
    ss[(host.strip("[]").replace("*", "::"), int(port))] = sorted({int(p) for p in re.findall(r"pid=(\d+)", line)})
print(f"  agreement: {len(nw)} listeners; netwhy {'equals' if nw == ss else 'DIFFERS FROM'} ss -ltnp on sockets and pids")
PY

# -i: netwhy port exits 1 when the answer is "not reachable" (8000 is on loopback).
ip netns exec "$ns" hyperfine -N -i --warmup 2 --runs "$runs" --export-json "$work/times.json" --style basic \
  "$netwhy ports -t" "ss -ltnp" \
  "$netwhy ports 8000" "ss -ltnp 'sport = :8000'" \
  "netstat -tlnp" "lsof -nP -iTCP -sTCP:LISTEN" \
  "$netwhy port 8000" >/dev/null

peak() { for _ in 1 2 3; do { ip netns exec "$ns" /usr/bin/time -f %M "$@" 2>&1 >/dev/null || true; } | tail -n1; done | sort -n | sed -n 2p; }
{
  peak "$netwhy" ports -t; peak ss -ltnp; peak "$netwhy" ports 8000; peak ss -ltnp 'sport = :8000'
  peak netstat -tlnp; peak lsof -nP -iTCP -sTCP:LISTEN; peak "$netwhy" port 8000
} >"$work/mem.txt"

python3 - "$work/times.json" "$work/mem.txt" "$L" "$E" "$P" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
mem = [int(x) for x in open(sys.argv[2]).read().split()]
L, E, P = sys.argv[3:6]
print(f"L={L} E={E} P={P}")
print(f"{'command':<34}{'median ms':>10}{'peak KiB':>10}")
for r, m in zip(res, mem):
    exe, _, rest = r["command"].partition(" ")
    name = f"{exe.rsplit('/', 1)[-1]} {rest}"
    print(f"{name:<34}{r['median'] * 1000:>10.1f}{m:>10}")
t = [r["median"] for r in res]
print(f"netwhy ports -t   / ss -ltnp                 = {t[0] / t[1]:.2f}x time, {mem[0] / mem[1]:.2f}x memory")
print(f"netwhy ports 8000 / ss -ltnp 'sport = :8000' = {t[2] / t[3]:.2f}x time, {mem[2] / mem[3]:.2f}x memory")
print(f"netwhy ports -t   / netstat -tlnp            = {t[0] / t[4]:.2f}x time")
print(f"netwhy ports -t   / lsof -iTCP -sTCP:LISTEN  = {t[0] / t[5]:.2f}x time")
print(f"netwhy port 8000  / ss -ltnp 'sport = :8000' = {t[6] / t[3]:.2f}x time, {mem[6] / mem[3]:.2f}x memory")
PY
