#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A client behind an SNAT box that reuses one source port while IPVS still
# holds the previous connection of that tuple (TIME_WAIT after a FIN close,
# CLOSE after the real server's RST).
#
#   client               snat box                  director               real servers
#  +--------+        +--------------+        +------------------+      +-------------+
#  | cl     |        | nat          |        | dir              |      | rs1 10.0.3.2|
#  |10.0.1.2|--eth0--|10.0.1.1      |        |VIP 10.0.2.2:80   |-eth1-| twtool :80  |
#  +--------+        |   10.0.2.1   |--eth1--|IPVS NAT rr,      |      +-------------+
#                    | MASQUERADE   |        |vs.conntrack=1,   |      | rs2 10.0.4.2|
#                    | --to-ports   |        |conn_reuse_mode=1,|-eth2-| twtool :80  |
#                    |  40000 only  |        |a nat rule (conn- |      +-------------+
#                    | ct TIME_WAIT,|        |track active, as  |
#                    | CLOSE = 1 s  |        |docker/kube-proxy)|
#                    +--------------+        +------------------+
#
# Every connection leaves the SNAT box as 10.0.2.1:40000. The box forgets
# a flow after 1 s; IPVS keeps it 120 s (TIME_WAIT) or 10 s (CLOSE), so each
# new connection meets the previous one's IPVS entry. Before each reuse the
# test waits until IPVS shows that entry in TIME_WAIT/CLOSE and the SNAT box
# has no entry left (so the box itself never delays a SYN).
#
# usage: snat_port_reuse.sh -c fin|rst -m yes|no -e slow|fast|any [-n N]
#                           [-t nft|legacy]
#   -c  how each connection ends: client FIN first, or real server RST
#   -m  ip_vs_tw_resched loaded or not
#   -e  slow: the bug must reproduce (at least N-1 of N reused connects
#             >= 900 ms); fast: none may (module); any: report only
#   -n  reused connections (default 8)
#   -t  iptables flavor for the SNAT box and the director's nat rule
#
# Every run also asserts: all connects succeed, every reuse met an IPVS
# entry in TIME_WAIT/CLOSE, the director's conntrack of each new flow has
# its reply direction from the real server that answered, and the SNAT box
# dropped nothing. With -e fast: no SYN retransmits, both real servers used,
# and the module's resched counter rose by exactly N.

source "$(dirname "$0")/lib.sh"

CLOSE=fin MODULE=no EXPECT=any N=8 IPT=nft
while getopts "c:m:e:n:t:" o; do
	case $o in
	c) CLOSE=$OPTARG ;;
	m) MODULE=$OPTARG ;;
	e) EXPECT=$OPTARG ;;
	n) N=$OPTARG ;;
	t) IPT=$OPTARG ;;
	*) fail "bad option" ;;
	esac
done

VIP=10.0.2.2
SNAT_IP=10.0.2.1
SNAT_PORT=40000
declare -A RS_IP=([rs1]=10.0.3.2 [rs2]=10.0.4.2)

require_root
require_cmd ip ipvsadm conntrack twtool modprobe "iptables-$IPT"
IPTABLES=iptables-$IPT

trap cleanup_ns EXIT
dmesg_mark
module_state "$MODULE"

new_ns cl
new_ns nat
new_ns dir
new_ns rs1
new_ns rs2

veth "$cl" eth0 "$nat" eth0
veth "$nat" eth1 "$dir" eth0
veth "$dir" eth1 "$rs1" eth0
veth "$dir" eth2 "$rs2" eth0
ip -n "$cl" addr add 10.0.1.2/24 dev eth0
ip -n "$cl" route add default via 10.0.1.1
ip -n "$nat" addr add 10.0.1.1/24 dev eth0
ip -n "$nat" addr add $SNAT_IP/24 dev eth1
ip -n "$dir" addr add $VIP/24 dev eth0
ip -n "$dir" addr add 10.0.3.1/24 dev eth1
ip -n "$dir" addr add 10.0.4.1/24 dev eth2
ip -n "$rs1" addr add ${RS_IP[rs1]}/24 dev eth0
ip -n "$rs1" route add default via 10.0.3.1
ip -n "$rs2" addr add ${RS_IP[rs2]}/24 dev eth0
ip -n "$rs2" route add default via 10.0.4.1
sysctl_w "$nat" net.ipv4.ip_forward 1
sysctl_w "$dir" net.ipv4.ip_forward 1

# SNAT box: one source port; short TIME_WAIT and CLOSE so it never runs
# out of its one port (its own port exhaustion would add 1-15 s delays).
n "$nat" $IPTABLES -t nat -A POSTROUTING -o eth1 -p tcp \
	-j MASQUERADE --to-ports $SNAT_PORT || fail "SNAT rule"
sysctl_w "$nat" net.netfilter.nf_conntrack_tcp_timeout_time_wait 1
sysctl_w "$nat" net.netfilter.nf_conntrack_tcp_timeout_close 1

# Director: IPVS NAT, conntrack on, and a nat rule that matches nothing
# here but makes conntrack track this namespace, as docker's and
# kube-proxy's rules do.
n "$dir" ipvsadm -A -t $VIP:80 -s rr || fail "ipvsadm -A"
n "$dir" ipvsadm -a -t $VIP:80 -r ${RS_IP[rs1]}:80 -m || fail "ipvsadm -a"
n "$dir" ipvsadm -a -t $VIP:80 -r ${RS_IP[rs2]}:80 -m || fail "ipvsadm -a"
sysctl_w "$dir" net.ipv4.vs.conntrack 1
sysctl_w "$dir" net.ipv4.vs.conn_reuse_mode 1
sysctl_w "$dir" net.ipv4.vs.expire_nodest_conn 0
n "$dir" $IPTABLES -t nat -A POSTROUTING -s 198.51.100.0/24 \
	-j MASQUERADE || fail "director nat rule"

for rs in rs1 rs2; do
	n "${!rs}" twtool server 80 $rs "$CLOSE" &
	disown	# cleanup_ns kills it with its namespace
done
listening() { n "$1" ss -Hltn 'sport = :80' | grep -q LISTEN; }
wait_for 10 listening "$rs1" && wait_for 10 listening "$rs2" ||
	fail "servers did not start"

# The IPVS entry of the SNAT tuple, in a reusable state.
ipvs_state() {
	n "$dir" ipvsadm -Lnc | awk -v s="$SNAT_IP:$SNAT_PORT" \
		'$1 == "TCP" && $4 == s { print $3 }'
}
entry_reusable() { [[ $(ipvs_state) =~ ^(TIME_WAIT|CLOSE)$ ]]; }
snat_idle() {
	[[ -z $(n "$nat" conntrack -L -p tcp --dport 80 2>/dev/null) ]]
}
# Reply source of the director's conntrack for the SNAT tuple.
ct_reply_src() {
	n "$dir" conntrack -L -p tcp --orig-src $SNAT_IP \
		--sport $SNAT_PORT 2>/dev/null |
		awk '{ c = 0; for (i = 1; i <= NF; i++)
			if ($i ~ /^src=/ && ++c == 2) print substr($i, 5) }'
}
snat_drops() {
	n "$nat" conntrack -S 2>/dev/null | awk '{
		for (i = 1; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == "insert_failed" || kv[1] == "drop")
				s += kv[2]
		}
	} END { print s + 0 }'
}

# connect: one connection; sets MS SERVER RETRANS.
connect() {
	local out

	out=$(n "$cl" twtool connect $VIP 80 "$CLOSE") ||
		fail "connect $1 failed: $out"
	MS=$(sed -E 's/.*connect_ms=([0-9.]+).*/\1/' <<<"$out")
	SERVER=$(sed -E 's/.*server=([a-z0-9]+).*/\1/' <<<"$out")
	RETRANS=$(sed -E 's/.*syn_retrans=([0-9]+).*/\1/' <<<"$out")
	[[ -n ${RS_IP[$SERVER]} ]] || fail "connect $1: no server id in '$out'"

	local reply
	reply=$(ct_reply_src)
	if [[ $reply != "${RS_IP[$SERVER]}" ]]; then
		log "connect $1: served by $SERVER but conntrack reply from '${reply:-none}'"
		CT_BAD=$((CT_BAD + 1))
	fi
}

log "close=$CLOSE module=$MODULE expect=$EXPECT n=$N iptables=$IPTABLES" \
	"ip_vs=$(modinfo -F legacy_reuse_check ip_vs 2>/dev/null | grep -q . && echo legacy || echo stock)"

drops0=$(snat_drops)
CT_BAD=0
connect first
log "first connect: ${MS} ms, $SERVER"
resched0=0
[[ $MODULE == yes ]] && resched0=$(twr_counter "$dir" resched)

slow=0 retrans=0 max=0
declare -A served=()
for ((i = 1; i <= N; i++)); do
	wait_for 15 entry_reusable ||
		fail "reuse $i: IPVS entry not in TIME_WAIT/CLOSE: '$(ipvs_state)'"
	wait_for 15 snat_idle || fail "reuse $i: SNAT box still holds the flow"
	state=$(ipvs_state)
	connect "$i"
	log "reuse $i: met $state, ${MS} ms, server $SERVER, syn retransmits $RETRANS"
	served[$SERVER]=1
	retrans=$((retrans + RETRANS))
	awk -v m="$MS" -v t=$SLOW_MS 'BEGIN { exit !(m >= t) }' && slow=$((slow + 1))
	awk -v m="$MS" -v x="$max" 'BEGIN { exit !(m > x) }' && max=$MS
done

drops=$(($(snat_drops) - drops0))
log "RESULT close=$CLOSE module=$MODULE: $slow of $N reused connects >= ${SLOW_MS} ms" \
	"(max ${max} ms), client SYN retransmits $retrans, SNAT box drops $drops," \
	"servers ${!served[*]}, conntrack mismatches $CT_BAD"

dmesg_check
((drops == 0)) || fail "SNAT box dropped $drops packets: delays are not IPVS's"
((CT_BAD == 0)) || fail "$CT_BAD new flows have a conntrack reply from the wrong server"

case $EXPECT in
slow)
	((slow >= N - 1)) ||
		fail "bug did not reproduce: only $slow of $N reused connects were slow"
	;;
fast)
	((slow == 0)) || fail "$slow of $N reused connects took >= ${SLOW_MS} ms"
	((retrans == 0)) || fail "$retrans client SYN retransmits"
	((${#served[@]} == 2)) || fail "reused connections not rescheduled: only ${!served[*]} served"
	if [[ $MODULE == yes ]]; then
		resched=$(($(twr_counter "$dir" resched) - resched0))
		log "module counters:" $(n "$dir" cat /proc/net/ip_vs_tw_resched)
		((resched == N)) || fail "resched counter rose by $resched, expected $N"
	fi
	;;
any) ;;
*) fail "bad -e $EXPECT" ;;
esac
echo "PASS"
exit $ksft_pass
