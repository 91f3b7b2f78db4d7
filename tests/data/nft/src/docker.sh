# The chains Docker writes with iptables-nft for one container publishing
# 8080 -> 172.17.0.2:80. Listed with nft's stderr, whose "# Warning: table
# ... is managed by iptables-nft" lines come last.
x() { ns "$@"; }
for c in DOCKER DOCKER-USER DOCKER-ISOLATION-STAGE-1 DOCKER-ISOLATION-STAGE-2; do x iptables-nft -N "$c"; done
x iptables-nft -P FORWARD DROP
x iptables-nft -A FORWARD -j DOCKER-USER
x iptables-nft -A FORWARD -j DOCKER-ISOLATION-STAGE-1
x iptables-nft -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
x iptables-nft -A FORWARD -o docker0 -j DOCKER
x iptables-nft -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
x iptables-nft -A FORWARD -i docker0 -o docker0 -j ACCEPT
x iptables-nft -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
x iptables-nft -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
x iptables-nft -A DOCKER-ISOLATION-STAGE-1 -j RETURN
x iptables-nft -A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
x iptables-nft -A DOCKER-ISOLATION-STAGE-2 -j RETURN
x iptables-nft -A DOCKER-USER -j RETURN
x iptables-nft -t nat -N DOCKER
x iptables-nft -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
x iptables-nft -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
x iptables-nft -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
x iptables-nft -t nat -A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE
x iptables-nft -t nat -A DOCKER -i docker0 -j RETURN
x iptables-nft -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
ns_nft -j list ruleset > "$OUT/$NAME.json"
ns_nft -a list ruleset > "$OUT/$NAME.txt" 2>&1
