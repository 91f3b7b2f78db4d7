# Two tables listed one by one (`nft -a list table`), beside the whole
# ruleset's JSON.
ns_nft -f - <<'NFT'
table inet a {
  chain in { type filter hook input priority 0; policy drop; tcp dport 22 accept; }
}
table ip b {
  chain in { type filter hook input priority -10; tcp dport 1234 drop; }
}
NFT
ns_nft -j list ruleset > "$OUT/$NAME.json"
{ ns_nft -a list table inet a; ns_nft -a list table ip b; } > "$OUT/$NAME.txt"
