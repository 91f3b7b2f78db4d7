# ufw (iptables-nft) confined to the namespace, its configuration in a
# private copy (as tests/integration/test_firewall_live.py runs it).
cp -a /etc/ufw/. "$WORK/ufw-etc/"
ns unshare -m sh -c "
  mount --bind '$WORK/ufw-etc' /etc/ufw
  ufw --force enable >/dev/null
  ufw allow 8080/tcp >/dev/null
  ufw deny 9090/tcp >/dev/null
  ufw allow from 10.1.0.2 to any port 8081 proto tcp >/dev/null
  ufw limit 22/tcp >/dev/null
  ufw allow 6000:6007/tcp >/dev/null
  ufw allow 80,443/tcp >/dev/null
  ufw reject 7070/udp >/dev/null
  nft -j list ruleset > '$OUT/$NAME.json'
  nft -a list ruleset > '$OUT/$NAME.txt'
"
