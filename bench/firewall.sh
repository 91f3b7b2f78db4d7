#!/usr/bin/env bash
# Times `netwhy port 8000` against `nft list ruleset` on the same large
# ruleset, side by side in one run: N rules spread over several tables and
# hooks (netdev ingress, prerouting at raw and mangle, nat through a jump,
# input, forward, output), plus a jump-heavy table (chains that each jump
# four times to the next: 4^(D-1) paths, which netwhy evaluates once per
# chain). Everything lives in a namespace of its own; no packet is sent
# through the ruleset (the kernel walks jumps path by path).
#   bench/firewall.sh [N] [--depth D] [--runs R]     (default N=10000, D=12)
# Needs root. Not a test: it prints figures and ratios and asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
N=10000 depth=12 runs=10
while [ $# -gt 0 ]; do
  case "$1" in
    --depth) depth=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) N=$1; shift ;;
  esac
done
scripts/bootstrap --bench
netwhy=$PWD/build/netwhy
ns=nwfwbench$$
work=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  wait 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add eth0 type veth peer name peer0
ip -n "$ns" addr add 10.99.0.1/24 dev eth0
ip -n "$ns" link set eth0 up
ip -n "$ns" link set peer0 up
ip netns exec "$ns" python3 -m http.server 8000 --bind 0.0.0.0 --directory "$work" >/dev/null 2>&1 &
server=$!

python3 - "$N" "$depth" >"$work/rules.nft" <<'PY'
import sys
n, depth = int(sys.argv[1]), int(sys.argv[2])
hooks = [("netdev", "ing", "type filter hook ingress device eth0 priority 0;"),
         ("inet", "raw", "type filter hook prerouting priority raw;"),
         ("inet", "mangle", "type filter hook prerouting priority mangle;"),
         ("inet", "filter_in", "type filter hook input priority 0;"),
         ("inet", "filter_fwd", "type filter hook forward priority 0;"),
         ("inet", "filter_out", "type filter hook output priority 0;")]
per = n // (len(hooks) + 1)
for fam, name, spec in hooks:
    print(f"table {fam} {name} {{\n  chain c {{ {spec} policy accept;")
    for i in range(per):
        # rules that never match port 8000: each is evaluated in full
        print(f"    tcp dport {10000 + i} ip saddr 192.0.2.{i % 250 + 1} counter drop")
    print("  }\n}")
print("table ip nat {\n  chain pre {\n    type nat hook prerouting priority dstnat;\n    fib daddr type local jump svc\n  }\n  chain svc {")
for i in range(per):
    print(f"    tcp dport {20000 + i} dnat to 10.99.1.{i % 250 + 1}:80")
print("  }\n}")
# the jump-heavy table: j0 jumps four times to j1, ... (4^(depth-1) paths)
print("table inet jumps {")
for d in range(depth - 1, -1, -1):
    body = "tcp dport 9999 drop" if d == depth - 1 else "\n".join(f"    jump j{d + 1}" for _ in range(4))
    print(f"  chain j{d} {{\n{body}\n  }}")
print("  chain in {\n    type filter hook input priority 10; policy accept;\n    jump j0\n  }\n}")
PY
ip netns exec "$ns" nft -f "$work/rules.nft"
for _ in $(seq 100); do ip netns exec "$ns" ss -Hltn 'sport = :8000' | grep -q . && break; sleep 0.1; done
rules=$(ip netns exec "$ns" nft -a list ruleset | grep -c '# handle' || true)
echo "ruleset: $rules rules and chains; jump-heavy table of depth $depth (4^$((depth - 1)) paths)"
ip netns exec "$ns" "$netwhy" --color=never port 8000 | head -1 | sed 's/^/  netwhy says: /'

ip netns exec "$ns" hyperfine -N -i --warmup 2 --runs "$runs" --export-json "$work/times.json" --style basic \
  "nft list ruleset" "nft -j list ruleset" "$netwhy port 8000" "$netwhy -j port 8000" >/dev/null
peak() { for _ in 1 2 3; do { ip netns exec "$ns" /usr/bin/time -f %M "$@" 2>&1 >/dev/null || true; } | tail -n1; done | sort -n | sed -n 2p; }
{ peak nft list ruleset; peak nft -j list ruleset; peak "$netwhy" port 8000; peak "$netwhy" -j port 8000; } >"$work/mem.txt"

python3 - "$work/times.json" "$work/mem.txt" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
mem = [int(x) for x in open(sys.argv[2]).read().split()]
print(f"{'command':<30}{'median ms':>10}{'peak KiB':>10}")
for r, m in zip(res, mem):
    exe, _, rest = r["command"].partition(" ")
    print(f"{exe.rsplit('/', 1)[-1] + ' ' + rest:<30}{r['median'] * 1000:>10.1f}{m:>10}")
t = [r["median"] for r in res]
print(f"netwhy port 8000 / nft list ruleset = {t[2] / t[0]:.2f}x time, {mem[2] / mem[0]:.2f}x memory")
PY

# Jump-heavy, as kube-proxy or a per-service firewall writes it: a dispatcher
# jumps to a chain per service, which jumps to a chain per backend, which
# jumps to shared checks (N rules in all). The same ruleset is then
# diagnosed from a snapshot file, so the evaluation is timed without the
# reading: against `netwhy port 8000 --snapshot` of an empty ruleset.
ip netns exec "$ns" nft flush ruleset
python3 - "$N" >"$work/jumps.nft" <<'PY'
import sys
n = int(sys.argv[1])
services = max(1, n // 5)  # dispatcher rule + 3 backend jumps + 1 backend rule, per service
print("table inet svc {\n  chain checks {\n    ip saddr 192.0.2.0/24 drop\n    return\n  }")
for s in range(services):
    print(f"  chain be{s} {{\n    jump checks\n  }}")
    print(f"  chain s{s} {{\n    ip saddr 10.0.0.0/8 jump be{s}\n    ip saddr 172.16.0.0/12 jump be{s}\n    jump be{s}\n  }}")
print("  chain in {\n    type filter hook input priority 0; policy accept;")
for s in range(services):
    print(f"    tcp dport {10000 + s} jump s{s}")
print("    tcp dport 8000 jump checks\n  }\n}")
PY
ip netns exec "$ns" nft -f "$work/jumps.nft"
rules=$(ip netns exec "$ns" nft -a list ruleset | grep -c '# handle' || true)
echo "jump-heavy ruleset: $rules rules and chains"
ip netns exec "$ns" "$netwhy" -j snapshot >"$work/jumps.json"
ip netns exec "$ns" nft flush ruleset
ip netns exec "$ns" "$netwhy" -j snapshot >"$work/empty.json"
ip netns exec "$ns" nft -f "$work/jumps.nft"
ip netns exec "$ns" hyperfine -N -i --warmup 2 --runs "$runs" --export-json "$work/jumps-times.json" --style basic \
  "nft list ruleset" "$netwhy port 8000" "$netwhy port 8000 --snapshot $work/jumps.json" \
  "$netwhy port 8000 --snapshot $work/empty.json" >/dev/null
python3 - "$work/jumps-times.json" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
names = ["nft list ruleset", "netwhy port 8000", "netwhy port 8000 --snapshot (jumps)",
         "netwhy port 8000 --snapshot (empty)"]
for name, r in zip(names, res):
    print(f"{name:<40}{r['median'] * 1000:>10.1f} ms")
t = [r["median"] for r in res]
print(f"netwhy port 8000 / nft list ruleset = {t[1] / t[0]:.2f}x time; "
      f"reading the snapshot and evaluating the jumps: {1000 * (t[2] - t[3]):.1f} ms over an empty ruleset")
PY
