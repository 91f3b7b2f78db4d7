#!/usr/bin/env bash
# Times netwhy url against curl, side by side in one run, on loopback servers in a namespace
# of its own: a plain HTTP server (python3 -m http.server) and a TLS one (openssl s_server
# -WWW with a self-signed certificate made here), each asked through the same URL.
#   bench/url.sh [--runs N]
# Needs root. Not a test: it prints figures and ratios and asserts nothing. netwhy does more
# than curl (its whole port diagnosis: sockets, processes, routes, the firewall, then the
# request), so the ratio says what that costs on top of the request itself.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=20
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    *) echo "url.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
scripts/bootstrap --bench
netwhy=$PWD/build/netwhy
ns=nwurlbench$$
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1 -days 2 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
echo hello >"$work/index.html"
(cd "$work" && exec ip netns exec "$ns" python3 -m http.server --bind 127.0.0.1 8000 >/dev/null 2>&1) &
pids+=($!)
(cd "$work" && exec ip netns exec "$ns" openssl s_server -quiet -WWW -accept 127.0.0.1:8443 \
  -cert cert.pem -key key.pem >/dev/null 2>&1) &
pids+=($!)
for _ in $(seq 100); do
  ip netns exec "$ns" ss -Hltn | grep -q ':8000 ' && ip netns exec "$ns" ss -Hltn | grep -q ':8443 ' && break
  sleep 0.1
done

# Agreement before timing: both say the two URLs work.
plain=http://127.0.0.1:8000/index.html
tls=https://127.0.0.1:8443/index.html
for u in "$plain" "$tls"; do
  c=$(ip netns exec "$ns" env -i PATH="$PATH" curl -sS -o /dev/null -w '%{http_code}' --cacert "$work/cert.pem" "$u")
  v=$(ip netns exec "$ns" env -i PATH="$PATH" "$netwhy" url -j --cacert "$work/cert.pem" "$u" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["verdict"])')
  echo "  agreement: $u: curl $c, netwhy $v"
done

ip netns exec "$ns" env -i PATH="$PATH" hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/times.json" \
  --style basic \
  "curl -sS -o /dev/null $plain" "$netwhy url $plain" \
  "curl -sS -o /dev/null --cacert $work/cert.pem $tls" "$netwhy url --cacert $work/cert.pem $tls" >/dev/null

peak() { for _ in 1 2 3; do { ip netns exec "$ns" env -i PATH="$PATH" /usr/bin/time -f %M "$@" 2>&1 >/dev/null || true; } | tail -n1; done | sort -n | sed -n 2p; }
{
  peak curl -sS -o /dev/null "$plain"; peak "$netwhy" url "$plain"
  peak curl -sS -o /dev/null --cacert "$work/cert.pem" "$tls"; peak "$netwhy" url --cacert "$work/cert.pem" "$tls"
} >"$work/mem.txt"

python3 - "$work/times.json" "$work/mem.txt" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
mem = [int(x) for x in open(sys.argv[2]).read().split()]
names = ["curl http", "netwhy url http", "curl https", "netwhy url https"]
print(f"{'command':<20}{'median ms':>10}{'peak KiB':>10}")
for n, r, m in zip(names, res, mem):
    print(f"{n:<20}{r['median'] * 1000:>10.1f}{m:>10}")
t = [r["median"] for r in res]
print(f"netwhy url / curl, http  = {t[1] / t[0]:.2f}x time, {mem[1] / mem[0]:.2f}x memory")
print(f"netwhy url / curl, https = {t[3] / t[2]:.2f}x time, {mem[3] / mem[2]:.2f}x memory")
PY
