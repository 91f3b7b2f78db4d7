#!/usr/bin/env bash
# Times `netwhy port 8000 --snapshot FILE` on snapshot files of 1 MB, 16 MB
# and 64 MiB (the size cap), written the way `netwhy snapshot -j` writes them
# (compact JSON), with records shaped like a golden snapshot's (docker-
# published: listeners held by docker-proxy with a container tag, addresses,
# listeners in containers' namespaces); plus the golden file itself (a small
# file costs only what it needs); 64 MiB of firewall ruleset as libnftables'
# JSON (maps over concatenations, tests/data/nft/deep's rules again and
# again); and two hostile shapes: an array of 200,000 small objects (600 KB)
# and an object of 100,000 keys (1.1 MB).
#   bench/snapshot_load.sh [--runs N] [--before OLD_NETWHY] [--keep DIR]
# --before times another binary on the same files (the one from main, say);
# --keep DIR keeps the generated files there. Prints the median time
# (hyperfine, else /usr/bin/time), the peak memory (max RSS, /usr/bin/time,
# median of 3), its ratio to the file's size, and what it is over the peak
# of `netwhy --version` (the binary and its libraries). No root needed. Not
# a test: it prints figures and asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5 before= keep=
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --before) before=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--before OLD_NETWHY] [--keep DIR]" >&2; exit 2 ;;
  esac
done
netwhy=$PWD/build/netwhy
if [ -n "$keep" ]; then
  work=$keep
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
template=tests/data/golden/docker-published.snapshot.json

python3 - "$template" "$work" <<'PY'
import copy, json, os, sys
template, work = sys.argv[1], sys.argv[2]
base = json.load(open(template))

def dump(doc):  # as netwhy snapshot -j writes: compact
    return json.dumps(doc, separators=(",", ":"))

listener0 = base["listeners"][0]
foreign0 = base["other_netns"][0]
address0 = next(a for a in base["addresses"] if a["family"] == "inet" and a["ifindex"] != 1)

def ip4(i):
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"

def records(i):
    """One listener, one address and one listener in another namespace."""
    port = 10000 + i % 50000  # never 8000: the question is about 8000
    l = copy.deepcopy(listener0)
    l["local_address"], l["port"], l["inode"] = ip4(i), port, 2000000 + i
    p = l["processes"][0]
    p["pid"] = 100000 + i
    p["cmdline"] = (f"/usr/sbin/docker-proxy -proto tcp -host-ip {ip4(i)} -host-port {port} "
                    f"-container-ip 172.17.{i >> 8 & 255}.{i & 255} -container-port 80")
    a = copy.deepcopy(address0)
    a["local"] = a["address"] = ip4(i)
    a["prefixlen"] = 32
    f = copy.deepcopy(foreign0)
    f["netns"], f["netns_inode"] = f"pid:{200000 + i}", 4026532313 + i
    f["listener"]["port"], f["listener"]["inode"] = port, 3000000 + i
    f["listener"]["processes"][0]["pid"] = 200000 + i
    return dump(l), dump(a), dump(f)

def write_sized(name, target):
    """Adds records until one more would pass target bytes."""
    head = dump(base)
    lists = {"listeners": [], "addresses": [], "other_netns": []}
    size, i = len(head), 0
    while True:
        r = records(i)
        if size + sum(len(x) + 1 for x in r) > target:
            break
        for key, x in zip(lists, r):
            lists[key].append(x)
        size += sum(len(x) + 1 for x in r)
        i += 1
    text = head
    for key, xs in lists.items():  # splice the records into the template's arrays
        mark = f'"{key}":['
        at = text.index(mark) + len(mark)
        rest = text[at:]
        text = text[:at] + ",".join(xs) + ("," if rest[0] != "]" else "") + rest
    assert len(text) <= target, (len(text), target)
    json.loads(text)
    with open(os.path.join(work, name), "w") as out:
        out.write(text)
    print(f"{name}: {len(text):,} bytes, {i:,} listeners, addresses and listeners in other namespaces")

with open(os.path.join(work, "small.json"), "w") as out:
    out.write(dump(base))
write_sized("1MB.json", 1000000)
write_sized("16MB.json", 16000000)
write_sized("64MiB.json", 64 << 20)
# A ruleset as libnftables' JSON (kept when nft's text listing can't be
# read): the rules of tests/data/nft/deep (maps over concatenations), again
# and again, until 64 MiB.
nft = json.load(open("tests/data/nft/deep.json"))["nftables"]
doc = copy.deepcopy(base)
doc["firewall"]["listing"] = ""
doc["firewall"]["nftables"] = {"nftables": [x for x in nft if "rule" not in x]}
text = dump(doc)
rules = [x for x in nft if "rule" in x]
mark = '"nftables":{"nftables":['
at = text.index(mark) + len(mark)
end = text.index("]}", at)
parts, size, handle = [], len(text), 100
while True:
    r = copy.deepcopy(rules[handle % len(rules)])
    r["rule"]["handle"] = handle
    x = dump(r)
    if size + len(x) + 1 > 64 << 20:
        break
    parts.append(x)
    size += len(x) + 1
    handle += 1
text = text[:end] + "," + ",".join(parts) + text[end:]
json.loads(text)
with open(os.path.join(work, "nftjson-64MiB.json"), "w") as out:
    out.write(text)
print(f"nftjson-64MiB.json: {len(text):,} bytes, {len(parts):,} rules as libnftables' JSON")
with open(os.path.join(work, "array-200k.json"), "w") as out:
    out.write('{"netwhy_snapshot":1,"x":[' + ",".join(["{}"] * 200000) + "]}")
with open(os.path.join(work, "keys-100k.json"), "w") as out:
    out.write('{"netwhy_snapshot":1,"counters":{' + ",".join(f'"k{i}":0' for i in range(100000)) + "}}")
PY

files=(small.json 1MB.json 16MB.json 64MiB.json nftjson-64MiB.json array-200k.json keys-100k.json)
bins=("$netwhy")
[ -n "$before" ] && bins+=("$before")
peak() {  # max RSS in KiB, median of 3
  for _ in 1 2 3; do { /usr/bin/time -f %M "$@" 2>&1 >/dev/null || true; } | tail -n1; done | sort -n | sed -n 2p
}
median_ms() {  # of `runs` runs of the command
  if command -v hyperfine >/dev/null; then
    hyperfine -N -i --warmup 1 --runs "$runs" --export-json "$work/t.json" --style none "$*" >/dev/null 2>&1
    python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1000))' "$work/t.json"
  else
    for _ in $(seq "$runs"); do { /usr/bin/time -f %e "$@" 2>&1 >/dev/null || true; } | tail -n1; done |
      sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]*1000}'
  fi
}
printf '%-7s %-16s %12s %10s %10s %9s %13s\n' binary file bytes "median ms" "peak KiB" "peak/size" "over baseline"
for b in "${bins[@]}"; do
  label=after
  [ "$b" = "$before" ] && label=before
  base=$(peak "$b" --version)  # what any run costs: the binary and its libraries
  printf '%-7s %-16s %12s %10s %10s %9s %13s\n' "$label" "(--version)" - - "$base" - -
  for f in "${files[@]}"; do
    path=$work/$f
    # netwhy exits 1 on these (nothing listens on 8000): not an error here
    ms=$(median_ms "$b" port 8000 --snapshot "$path")
    kib=$(peak "$b" port 8000 --snapshot "$path")
    bytes=$(stat -c %s "$path")
    printf '%-7s %-16s %12s %10s %10s %8.1fx %10s KiB\n' "$label" "$f" "$bytes" "$ms" "$kib" \
      "$(python3 -c "print($kib * 1024 / $bytes)")" "$((kib - base))"
  done
done
