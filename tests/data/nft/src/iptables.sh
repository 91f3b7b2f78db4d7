# iptables-nft rules of many kinds: native expressions, xt matches and targets
# (printed as their iptables-translate wording, as nothing, or as "xt match NAME").
x() { ns "$@"; }
x iptables-nft -P INPUT DROP
x iptables-nft -N user-input
x iptables-nft -A INPUT -i lo -j ACCEPT
x iptables-nft -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
x iptables-nft -A INPUT -m conntrack --ctstate NEW -j ACCEPT
x iptables-nft -A INPUT -m state --state INVALID -j DROP
x iptables-nft -A INPUT -p tcp --dport 22 -j ACCEPT
x iptables-nft -A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT
x iptables-nft -A INPUT -p udp --sport 53 -s 10.0.0.0/8 -j ACCEPT
x iptables-nft -A INPUT -m mark --mark 0x1 -j ACCEPT
x iptables-nft -A INPUT -m mark --mark 0x1/0xff -j ACCEPT
x iptables-nft -A INPUT -m connmark --mark 0x1 -j ACCEPT
x iptables-nft -A INPUT -m addrtype --dst-type LOCAL -j user-input
x iptables-nft -A INPUT -m limit --limit 3/min --limit-burst 10 -j LOG --log-prefix "[UFW BLOCK] "
x iptables-nft -A INPUT -p tcp --dport 23 -j REJECT --reject-with tcp-reset
x iptables-nft -A INPUT -p tcp --dport 24 -j REJECT
x iptables-nft -A INPUT -p tcp --dport 25 -m comment --comment "hello there" -j DROP
x iptables-nft -A INPUT -p icmp --icmp-type echo-request -j ACCEPT
x iptables-nft -A INPUT -m pkttype --pkt-type broadcast -j DROP
x iptables-nft -A INPUT -m recent --name x --set
x iptables-nft -A INPUT -j user-input
x iptables-nft -A user-input -p tcp --dport 8080 -j ACCEPT
x iptables-nft -A user-input -j RETURN
x iptables-nft -t mangle -A PREROUTING -j MARK --set-mark 0x1
x iptables-nft -t mangle -A PREROUTING -j MARK --set-xmark 0x4000/0x4000
x iptables-nft -t mangle -A PREROUTING -j MARK --or-mark 0x4000
x iptables-nft -t mangle -A PREROUTING -j MARK --and-mark 0xffff
x iptables-nft -t mangle -A PREROUTING -j CONNMARK --save-mark
x iptables-nft -t mangle -A PREROUTING -j CONNMARK --restore-mark
x iptables-nft -t mangle -A PREROUTING -j CONNMARK --set-xmark 0x5/0xf
x iptables-nft -t mangle -A PREROUTING -j CONNMARK --set-mark 0x7
x iptables-nft -t raw -A PREROUTING -p tcp --dport 5 -j NOTRACK
x iptables-nft -t raw -A PREROUTING -p tcp --dport 6 -j CT --notrack
x iptables-nft -t nat -N DOCKER
x iptables-nft -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
x iptables-nft -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
x iptables-nft -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
x iptables-nft -t nat -A DOCKER -i docker0 -j RETURN
x iptables-nft -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
x iptables-nft -t nat -A DOCKER -p tcp --dport 8081 -j REDIRECT --to-ports 8000
x ip6tables-nft -A INPUT -p tcp --dport 22 -j ACCEPT
x ip6tables-nft -A INPUT -p tcp --dport 23 -j REJECT
x ip6tables-nft -A INPUT -p ipv6-icmp -j ACCEPT
for t in "-m multiport --dports 22" "-m multiport --sports 22,23" "-m tcp --tcp-flags SYN,ACK SYN" "--syn" "! --dport 22" "--dport 1:100" "! --sport 1:10"; do
  x iptables-nft -A INPUT -p tcp $t -j ACCEPT
done
x iptables-nft -A INPUT -p udp -m udp --dport 53:60 -j ACCEPT
x iptables-nft -A INPUT -m iprange --src-range 10.0.0.1-10.0.0.5 -j DROP
x iptables-nft -A OUTPUT -m owner --uid-owner 0 -j DROP
x iptables-nft -A INPUT -p tcp --syn -m connlimit --connlimit-above 10 -j REJECT --reject-with tcp-reset
x iptables-nft -A INPUT -p tcp -m hashlimit --hashlimit-above 10/sec --hashlimit-name x -j DROP
x iptables-nft -A INPUT -m mac --mac-source 00:11:22:33:44:55 -j DROP
x iptables-nft -A INPUT -m state --state NEW -j ACCEPT
x iptables-nft -A INPUT -m conntrack --ctstate NEW,UNTRACKED -j ACCEPT
x iptables-nft -A INPUT -m addrtype --src-type LOCAL -j ACCEPT
x iptables-nft -A INPUT -p all -j ACCEPT
x iptables-nft -A INPUT -f -j DROP
x iptables-nft -A INPUT -m length --length 1000:1500 -j DROP
x iptables-nft -A INPUT -m ttl --ttl-eq 1 -j DROP
x iptables-nft -A INPUT -m dscp --dscp 1 -j DROP
x iptables-nft -A INPUT -i eth+ -j ACCEPT
x iptables-nft -A INPUT ! -i lo -d 10.0.0.1/32 -j ACCEPT
x iptables-nft -A INPUT -s 10.0.0.1 -d 10.0.0.2 -j ACCEPT
x iptables-nft -A INPUT -p tcp --dport 1 -j REJECT --reject-with icmp-host-prohibited
x iptables-nft -A INPUT -p tcp --dport 2 -j REJECT --reject-with icmp-port-unreachable
x iptables-nft -A INPUT -p tcp --dport 3 -j NFQUEUE --queue-num 1
x iptables-nft -A INPUT -p tcp --dport 4 -j LOG
x iptables-nft -A INPUT -m mark ! --mark 0x2 -j DROP
x iptables-nft -A INPUT -m comment --comment "x y" -j ACCEPT
x iptables-nft -A INPUT -p tcp --dport 5 -g user-input
x iptables-nft -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
x iptables-nft -t mangle -A PREROUTING -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff
x iptables-nft -t mangle -A PREROUTING -m connmark --mark 0x1/0x1 -j ACCEPT
x iptables-nft -t mangle -A PREROUTING -j MARK --set-xmark 0x1/0xffffffff
x iptables-nft -t mangle -A PREROUTING -j DSCP --set-dscp 1
x iptables-nft -t raw -A OUTPUT -j CT --zone 1
x iptables-nft -t security -A INPUT -j ACCEPT
x ip6tables-nft -A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT
x ip6tables-nft -A INPUT -p tcp --dport 23 -j REJECT --reject-with tcp-reset
x ip6tables-nft -A INPUT -p tcp --dport 24 -j REJECT --reject-with icmp6-adm-prohibited
x ip6tables-nft -A INPUT -s fd00::/8 -j ACCEPT
x ip6tables-nft -t nat -A PREROUTING -p tcp --dport 9000 -j DNAT --to-destination [fd00::2]:80
ns_nft -j list ruleset > "$OUT/$NAME.json"
ns_nft -a list ruleset > "$OUT/$NAME.txt"
