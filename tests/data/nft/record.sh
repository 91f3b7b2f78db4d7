#!/usr/bin/env bash
# Records real nft listings for test_nft_text.cpp: for each src/NAME.nft
# (loaded with nft -f) or src/NAME.sh (a script that builds a ruleset), in a
# network namespace of its own, NAME.json (`nft -j list ruleset`) and
# NAME.txt (`nft -a list ruleset`) in this directory. (unit-*.json and
# unit-*.txt are tests/unit/test_firewall.cpp's recordings, copied.)
#   tests/data/nft/record.sh [NAME...]      (root; nftables 1.0.6 as on Debian 12)
# The namespace has lo, eth0, eth1 and docker0 (veths); scripts see NS, OUT,
# NAME and WORK, and the functions ns (run in NS) and ns_nft.
set -euo pipefail
cd "$(dirname "$0")"
OUT=$PWD
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in src/*.nft src/*.sh; do names+=("$(basename "${f%.*}")"); done
fi
ns() { ip netns exec "$NS" "$@"; }
ns_nft() { ip netns exec "$NS" nft "$@"; }
export -f ns ns_nft
for NAME in "${names[@]}"; do
  NS=nwrec$$$RANDOM
  WORK=$(mktemp -d)
  ip netns add "$NS"
  trap 'ip netns del "$NS" 2>/dev/null || true; rm -rf "$WORK"' EXIT
  ip -n "$NS" link set lo up
  ip -n "$NS" link add eth0 type veth peer name peer0
  ip -n "$NS" link add eth1 type veth peer name peer1
  ip -n "$NS" link add docker0 type veth peer name peer2
  export NS OUT NAME WORK
  if [ -f "src/$NAME.nft" ]; then
    ns_nft -f "src/$NAME.nft"
    ns_nft -j list ruleset >"$OUT/$NAME.json"
    ns_nft -a list ruleset >"$OUT/$NAME.txt"
  else
    bash -euo pipefail "src/$NAME.sh"
  fi
  ip netns del "$NS"
  rm -rf "$WORK"
  trap - EXIT
  echo "$NAME: $(grep -c '# handle' "$OUT/$NAME.txt") lines with handles"
done
