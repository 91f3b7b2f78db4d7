#!/usr/bin/env bash
# Times netwhy's link/addr/route JSON against ip -j at scale, side by side in
# one run: a namespace with 1,000 interfaces (ifb; dummy where the kernel has
# it), each with an IPv4 and an IPv6 address, and 20,000 routes.
#   bench/ip_views.sh [--links N] [--routes N] [--runs N]
# Needs root. Not a test: it asserts nothing, it prints figures and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
links=1000 routes=20000 runs=30
while [ $# -gt 0 ]; do
  case "$1" in
    --links) links=$2; shift 2 ;;
    --routes) routes=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "usage: $0 [--links N] [--routes N] [--runs N]" >&2; exit 2 ;;
  esac
done
scripts/bootstrap --bench
netwhy=$PWD/build/netwhy
ns=nwbench$$
work=$(mktemp -d)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"

kind=dummy
ip -n "$ns" link add probe0 type dummy 2>/dev/null && ip -n "$ns" link del probe0 || kind=ifb
{
  echo "link set lo up"
  for ((i = 0; i < links; i++)); do
    echo "link add b$i type $kind"
    echo "link set b$i up"
    echo "addr add 10.$((i / 250)).$((i % 250)).1/24 dev b$i"
    echo "addr add fd00:$i::1/64 dev b$i nodad"
  done
  for ((r = 0; r < routes; r++)); do
    echo "route add 172.$((16 + r / 65536)).$(((r / 256) % 256)).$((r % 256))/32 dev b$((r % links))"
  done
} >"$work/batch"
ip -n "$ns" -batch "$work/batch"
echo "fixture: $links $kind interfaces, $(ip -n "$ns" -4 route | wc -l) IPv4 routes in main," \
     "$(ip -n "$ns" -o addr | wc -l) addresses"

# Sanity: the outputs agree before they are timed.
for view in link addr route; do
  ip netns exec "$ns" ip -j $view >"$work/ip.$view.json"
  ip netns exec "$ns" "$netwhy" -j $view >"$work/nw.$view.json"
  python3 - "$work/ip.$view.json" "$work/nw.$view.json" "$view" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
print(f"  {sys.argv[3]}: {len(a)} objects; netwhy {'equals' if a == b else 'DIFFERS FROM'} ip -j")
PY
done

# Both tools run inside the namespace (no per-run setns or sysfs remount).
ip netns exec "$ns" hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/times.json" --style basic \
  "ip -j link" "$netwhy -j link" \
  "ip -j addr" "$netwhy -j addr" \
  "ip -j route" "$netwhy -j route" >/dev/null

peak_kib() {  # median of 5 runs of max RSS
  for _ in 1 2 3 4 5; do
    ip netns exec "$ns" /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n1
  done | sort -n | sed -n 3p
}
for view in link addr route; do
  echo "$(peak_kib ip -j $view) $(peak_kib "$netwhy" -j $view)"
done >"$work/mem.txt"

python3 - "$work/times.json" "$work/mem.txt" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
mem = [line.split() for line in open(sys.argv[2])]
print(f"{'command':<14}{'ip ms':>10}{'netwhy ms':>12}{'time ratio':>12}{'ip KiB':>10}{'netwhy KiB':>12}{'mem ratio':>11}")
for i, view in enumerate(["link", "addr", "route"]):
    ip, nw = res[2 * i], res[2 * i + 1]
    ipm, nwm = ip["median"] * 1000, nw["median"] * 1000
    ipk, nwk = int(mem[i][0]), int(mem[i][1])
    print(f"{view + ' -j':<14}{ipm:>10.2f}{nwm:>12.2f}{nwm / ipm:>11.2f}x{ipk:>10}{nwk:>12}{nwk / ipk:>10.2f}x")
print("time ratio = netwhy median / ip median (below 1: netwhy is faster); mem ratio = peak RSS")
PY
