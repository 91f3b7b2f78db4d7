#!/usr/bin/env bash
# Times the diagnosis against the number of addresses: snapshot files made
# from golden cases (tests/data/golden) with N more addresses on the case's
# interface (10,000, 40,000 and 100,000 by default), diagnosed with
# build/bench/diagnose-time, which times loading the file, the diagnosis and
# the two renderers apart (medians). Then the same for jump-heavy rulesets
# and for many base chains. No root, no namespace: snapshot files only.
#   bench/addresses.sh [--sizes "10000 40000 100000"] [--runs R] [--cases "reachable ..."]
#                      [--netwhy PATH --timer PATH]   (another build's, to compare)
# Not a test: it prints figures and asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes="10000 40000 100000" runs=3
timer=$PWD/build/bench/diagnose-time
netwhy=$PWD/build/netwhy
cases="reachable:8000 firewall-drop:8080 port-forward:9000 docker-published:8080"
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --cases) cases=$2; shift 2 ;;
    --netwhy) netwhy=$2; shift 2 ;;
    --timer) timer=$2; shift 2 ;;
    *) echo "usage: bench/addresses.sh [--sizes \"N ...\"] [--runs R] [--cases \"CASE:PORT ...\"]" \
            "[--netwhy PATH --timer PATH]" >&2; exit 2 ;;
  esac
done
[ -x "$timer" ] && [ -x "$netwhy" ] || { echo "build first: meson compile -C build" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# N addresses 10.0.0.1, 10.0.0.2, ... (a /8 each) on the interface of the
# case's first IPv4 address that is not on lo.
grow() {
  python3 - "$1" "$2" "$3" <<'PY'
import ipaddress, json, sys
template, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
d = json.load(open(template))
lo = {l["ifindex"] for l in d["links"] if l["flags"] & 8}
model = next(a for a in d["addresses"] if a["ifindex"] not in lo and a["family"] == "inet")
base = int(ipaddress.IPv4Address("10.0.0.1"))
for i in range(n):
    a = dict(model)
    a["address"] = str(ipaddress.IPv4Address(base + i))
    a["local"] = a["address"]
    a["prefixlen"] = 8
    d["addresses"].append(a)
json.dump(d, open(out, "w"))
PY
}

# A ruleset in a snapshot: `chains` chains of `jumps` rules that each jump to
# the next (jumps^(chains-1) paths), hooked at input; or `bases` base chains
# at input of `rules` rules each (every rule evaluated for every packet).
ruleset() {
  python3 - "$@" <<'PY'
import json, sys
template, kind, a, b, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
d = json.load(open(template))
items = [{"table": {"family": "inet", "name": "t", "handle": 1}}]
handle = 2
def add(kind, **o):
    global handle
    o.update({"family": "inet", "table": "t", "handle": handle})
    handle += 1
    items.append({kind: o})
def port(p, verdict):
    return [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": p}}, verdict]
if kind == "jumps":
    chains, jumps = a, b
    add("chain", name="in", type="filter", hook="input", prio=0, policy="accept")
    add("rule", chain="in", expr=[{"jump": {"target": "c0"}}])
    for i in range(chains):
        add("chain", name=f"c{i}")
        for _ in range(jumps if i + 1 < chains else 0):
            add("rule", chain=f"c{i}", expr=[{"jump": {"target": f"c{i + 1}"}}])
    add("rule", chain=f"c{chains - 1}", expr=port(9999, {"drop": None}))
else:
    bases, rules = a, b
    for i in range(bases):
        add("chain", name=f"b{i}", type="filter", hook="input", prio=i % 100, policy="accept")
        for r in range(rules):
            add("rule", chain=f"b{i}", expr=port(10000 + r, {"drop": None}))
d["firewall"]["nftables"] = {"nftables": items}
json.dump(d, open(out, "w"))
PY
}

# The whole command (load, diagnose, render), wall clock and peak memory.
whole() {
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%e s, %M KiB" "$netwhy" port "$1" --snapshot "$2" 2>&1 >/dev/null | tail -n1
  else
    local t0=$SECONDS
    "$netwhy" port "$1" --snapshot "$2" >/dev/null || true
    echo "$((SECONDS - t0)) s"
  fi
}

golden=tests/data/golden
echo "addresses on one interface (median of $runs runs; cpu: the diagnosis's own CPU time)"
for c in $cases; do
  name=${c%%:*} port=${c##*:}
  for n in $sizes; do
    grow "$golden/$name.snapshot.json" "$n" "$work/s.json"
    printf '%-18s %7s  %s  | netwhy port %s: %s\n' "$name" "$n" "$("$timer" "$work/s.json" "$port" "$runs")" "$port" \
      "$(whole "$port" "$work/s.json")"
  done
done

echo
echo "jump-heavy rulesets (reachable's snapshot, port 8000 and 9999)"
for cj in 17:3 16:4 200:3; do
  ruleset "$golden/reachable.snapshot.json" jumps "${cj%%:*}" "${cj##*:}" "$work/j.json"
  for p in 8000 9999; do
    printf '%4s chains of %s jumps, port %s: %s\n' "${cj%%:*}" "${cj##*:}" "$p" "$("$timer" "$work/j.json" "$p" "$runs")"
  done
done

echo
echo "base chains x rules at input (reachable's snapshot plus 10,000 addresses)"
grow "$golden/reachable.snapshot.json" 10000 "$work/a.json"
for br in 100:100 1000:10 4000:10; do
  ruleset "$work/a.json" bases "${br%%:*}" "${br##*:}" "$work/b.json"
  printf '%5s base chains of %3s rules: %s\n' "${br%%:*}" "${br##*:}" "$("$timer" "$work/b.json" 8000 "$runs")"
done
