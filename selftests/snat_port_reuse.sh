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
#             >= 900 ms); fast: none may (module); any: report only;
#   -n  reused connections (default 8)
#   -t  iptables flavor for the SNAT box and the director's nat rule
#   -p  the director's net.ipv4.vs.tw_resched.resched_mode (module policy)
#   -r  the director's net.ipv4.vs.conn_reuse_mode (default 1)
#   -e  same: IPVS must not reschedule: no slow connect, every reused
#       connection served by the first one's server
#
# Every run also asserts: all connects succeed, every reuse met an IPVS
# entry in TIME_WAIT/CLOSE, the director's conntrack of each new flow has
# its reply direction from the real server that answered, and the SNAT box
# dropped nothing. With -e fast: no SYN retransmits, both real servers used,
# and the module's resched counter rose by exactly N.

source "$(dirname "$0")/lib.sh"

CLOSE=fin MODULE=no EXPECT=any N=8 IPT=nft POLICY= REUSE=
while getopts "c:m:e:n:t:p:r:" o; do
	case $o in
	c) CLOSE=$OPTARG ;;
	m) MODULE=$OPTARG ;;
	e) EXPECT=$OPTARG ;;
	n) N=$OPTARG ;;
	t) IPT=$OPTARG ;;
	p) POLICY=$OPTARG ;;
	r) REUSE=$OPTARG ;;
	*) fail "bad option" ;;
	esac
done

require_root
require_cmd ip ipvsadm conntrack twtool modprobe "iptables-$IPT"

trap cleanup_ns EXIT
dmesg_mark
module_state "$MODULE"
snat_topology "$CLOSE" "$IPT"
[[ -n $POLICY ]] && { sysctl_w "$dir" net.ipv4.vs.tw_resched.resched_mode "$POLICY" ||
	fail "set resched_mode"; }
[[ -n $REUSE ]] && sysctl_w "$dir" net.ipv4.vs.conn_reuse_mode "$REUSE"

# connect LABEL: connect_once, then check the director's conntrack of the
# new flow answers from the server that served it.
connect() {
	local reply

	connect_once "$1"
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
first=$SERVER
log "first connect: ${MS} ms, $SERVER"
declare -A cnt0=()
if [[ $MODULE == yes ]]; then
	for c in resched skip_policy skip_reuse_off; do
		cnt0[$c]=$(twr_counter "$dir" $c)
	done
fi
# counter_delta NAME: how much a module counter rose during the reuses.
counter_delta() { echo $(($(twr_counter "$dir" "$1") - ${cnt0[$1]})); }

slow=0 retrans=0 max=0
declare -A served=()
for ((i = 1; i <= N; i++)); do
	wait_for 15 entry_in "TIME_WAIT|CLOSE" ||
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
	;;
same)
	((slow == 0)) || fail "$slow of $N reused connects took >= ${SLOW_MS} ms"
	[[ ${!served[*]} == "$first" ]] ||
		fail "rescheduled although IPVS should not: served by ${!served[*]}, first $first"
	;;
any) ;;
*) fail "bad -e $EXPECT" ;;
esac

# What the module counted must be exactly what happened: every reuse
# rescheduled, or every reuse skipped for the configured reason.
if [[ $MODULE == yes ]]; then
	log "module counters:" $(n "$dir" cat /proc/net/ip_vs_tw_resched)
	want_resched=$N want_policy=0 want_reuse=0
	if [[ -n $REUSE && $REUSE == 0 ]]; then
		want_resched=0 want_reuse=$N
	elif [[ -n $POLICY && $POLICY == 0 ]]; then
		want_resched=0 want_policy=$N
	fi
	for c in resched:$want_resched skip_policy:$want_policy skip_reuse_off:$want_reuse; do
		got=$(counter_delta "${c%%:*}")
		((got == ${c#*:})) || fail "counter ${c%%:*} rose by $got, expected ${c#*:}"
	done
fi
echo "PASS"
exit $ksft_pass
