# firewalld confined to the namespace: its configuration in a private copy,
# a private D-Bus; both stopped by pid (see docs/firewalls-lab.md in the
# shared docs and tests/integration/test_firewall_live.py).
cp -a /etc/firewalld/. "$WORK/fwd-etc/"
ns unshare -m sh -c "
  mount --bind '$WORK/fwd-etc' /etc/firewalld
  mount -t tmpfs tmpfs /run/dbus
  dbus-daemon --system --fork --print-pid > '$WORK/dbus.pid'
  firewalld --nofork --nopid > '$WORK/firewalld.log' 2>&1 & echo \$! > '$WORK/firewalld.pid'
  i=0; until firewall-cmd --state >/dev/null 2>&1; do sleep 0.25; i=\$((i+1)); [ \$i -gt 80 ] && exit 1; done
  firewall-cmd --add-port=8080/tcp >/dev/null
  firewall-cmd --add-port=6000-6010/udp >/dev/null
  firewall-cmd --add-forward-port=port=9000:proto=tcp:toport=80:toaddr=10.0.0.2 >/dev/null
  firewall-cmd --add-forward-port=port=9001:proto=tcp:toport=8000 >/dev/null
  firewall-cmd --add-rich-rule='rule family=ipv4 source address=10.1.0.0/16 port port=8081 protocol=tcp accept' >/dev/null
  firewall-cmd --add-rich-rule='rule family=ipv4 source address=10.2.0.5 reject' >/dev/null
  firewall-cmd --add-rich-rule='rule family=ipv6 source address=fd00::/8 port port=8082 protocol=tcp drop' >/dev/null
  firewall-cmd --add-rich-rule='rule service name=http log prefix=\"web \" limit value=5/m accept' >/dev/null
  firewall-cmd --add-rich-rule='rule family=ipv4 source address=10.3.0.0/16 mark set=0x7' >/dev/null
  firewall-cmd --add-masquerade >/dev/null
  firewall-cmd --zone=trusted --add-interface=eth0 >/dev/null
  firewall-cmd --add-icmp-block=echo-request >/dev/null
  nft -j list ruleset > '$OUT/$NAME.json'
  nft -a list ruleset > '$OUT/$NAME.txt'
  kill \$(cat '$WORK/firewalld.pid') \$(cat '$WORK/dbus.pid')
"
