#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A SYN that never reaches IPVS must change nothing: not the conntrack of
# a live flow with its tuple, not the IPVS entry, not the flow.
#
#   client           snat box                 director                       real servers
#  +--------+      +-----------+      +-------------------------------+     +-------------+
#  | cl     |-eth0-| nat       |-eth1-| eth0  VIP 10.0.2.2:80          |-----| rs1, rs2    |
#  | twtool |      | 10.0.2.1: |      | IPVS NAT, expire_nodest_conn=1 |     | twtool echo |
#  | echo   |      | 40000     |      | the flow's server drained (w 0)|     +-------------+
#  +--------+      | (raw SYN  |      | MASQUERADE toward the servers  |
#                  |  sender)  |      | eth3 10.0.9.1, rp_filter=1     |
#                  +-----------+      +--------------+----------------+
#                                                    |
#                                            spoof 10.0.9.2: raw SYN "from 10.0.2.1:40000"
#
# A live echo flow runs through the director (10.0.2.1:40000 -> VIP:80);
# its real server is drained, so IPVS would reschedule a SYN with that
# tuple in any state (expire_nodest_conn=1). Then well-formed SYNs with
# the flow's tuple (valid checksums) arrive where they are dropped before
# IPVS: on eth3, which rp_filter rejects (the source routes via eth0), and
# on eth0 with a filter INPUT rule that drops them. Each subtest checks,
# without and with the module: the SYNs reached the director (counters of
# raw PREROUTING rules), rp_filter or the INPUT rule dropped them, the
# flow's conntrack is the same entry (same id) and ESTABLISHED, the IPVS
# entry is still ESTABLISHED, the module counted nothing, and the flow
# goes on. The director masquerades toward the real servers: had its
# entry lost the conntrack flag, its later packets would leave untracked,
# unmasqueraded, and the flow would break.
# Positive control, with the module: the same SYN delivered after the flow
# has ended (its entry in CLOSE) is rescheduled (resched or
# resched_no_drop +1).
#
# usage: syn_dropped_before_ipvs.sh          all subtests (KTAP)
#        syn_dropped_before_ipvs.sh -m yes|no one run

source "$(dirname "$0")/lib.sh"

twin_runs syn_dropped "$@"

module_opt "$@"
CLOSE=rst SRV=echo

require_root
require_cmd ip ipvsadm conntrack twtool twload nstat modprobe "$IPTABLES"
case_tmp
stage_case
new_ns spoof
veth "$spoof" eth0 "$dir" eth3
ip -n "$dir" addr add 10.0.9.1/24 dev eth3
ip -n "$spoof" addr add 10.0.9.2/24 dev eth0
sysctl_w "$dir" net.ipv4.vs.expire_nodest_conn 1
sysctl_w "$dir" net.netfilter.nf_conntrack_tcp_loose 0
for i in eth1 eth2; do
	n "$dir" $IPTABLES -t nat -A POSTROUTING -o $i -j MASQUERADE || fail "masquerade rule"
done
# Count what reaches the director, per interface, before anything drops it.
for i in eth0 eth3; do
	n "$dir" $IPTABLES -t raw -A PREROUTING -i $i -p tcp --syn -s $SNAT_IP --sport $SNAT_PORT -j ACCEPT ||
		fail "raw counter rule"
done
mac() { ip -n "$1" link show "$2" | awk '/link\/ether/ { print $2 }'; }
raw_count() {	# raw_count IFACE: SYNs from the flow's tuple seen on IFACE
	n "$dir" $IPTABLES -t raw -L PREROUTING -v -n -x | awk -v i="$1" '$6 == i { print $1 }'
}
[[ $MODULE == yes ]] && counters_mark "$dir"
log "module=$MODULE, IPVS drop check: $(ipvs_trait drop_check) conntrack"

# The live flow, and what it looks like before the SYNs. It lasts until
# the checks are done (SIGUSR1), at most 120 s.
ip netns exec "$cl" twtool echo $VIP 80 120 >"$TMP/echo" 2>&1 &
ECHO_PID=$!
ct_line() {
	n "$dir" conntrack -L -p tcp --orig-src $SNAT_IP --sport $SNAT_PORT -o id 2>/dev/null | head -n 1
}
ct_id() { sed -nE 's/.* id=([0-9]+).*/\1/p' <<<"$(ct_line)"; }
ct_state() { awk '{ print $4 }' <<<"$(ct_line)"; }
established() { [[ $(ipvs_state 0) == ESTABLISHED && $(ct_state) == ESTABLISHED ]]; }
wait_for 10 established || fail "no established flow: IPVS '$(ipvs_state 0)', conntrack '$(ct_line)'"
id0=$(ct_id)
srv=$(n "$dir" ipvsadm -Lnc | awk -v s="$SNAT_IP:$SNAT_PORT" '$4 == s { print $6; exit }')
[[ -n $id0 && -n $srv ]] || fail "flow: conntrack id '$id0', server '$srv'"
n "$dir" ipvsadm -e -t $VIP:80 -r "$srv" -m -w 0 || fail "drain $srv"
log "live flow: conntrack id $id0, server $srv drained"

unchanged() {	# unchanged WHAT: the flow's state is as it was
	[[ $(ct_id) == "$id0" ]] || fail "$1: the flow's conntrack is now '$(ct_line)', was id $id0"
	[[ $(ct_state) == ESTABLISHED ]] || fail "$1: conntrack state '$(ct_state)'"
	[[ $(ipvs_state 0) == ESTABLISHED ]] || fail "$1: IPVS entry '$(ipvs_state 0)'"
	[[ $MODULE == no ]] || counters_expect "$dir" resched=0 ct_removed=0 skip_conntrack=0 probe=0
	kill -0 "$ECHO_PID" 2>/dev/null || fail "$1: the flow ended: $(cat "$TMP/echo")"
}

# 1. rp_filter: the SYN arrives on eth3, its source routes via eth0.
sysctl_w "$dir" net.ipv4.conf.all.rp_filter 1
sysctl_w "$dir" net.ipv4.conf.eth3.rp_filter 1
rpf0=$(n "$dir" nstat -az TcpExtIPReversePathFilter | awk '/IPReversePathFilter/ { print $2 }')
out=$(n "$spoof" twload odd eth0 "$(mac "$dir" eth3)" $SNAT_IP $SNAT_PORT $VIP 80 3 syn) ||
	fail "spoofed SYN: $out"
reached() { (($(raw_count eth3) >= 3)); }
wait_for 5 reached || fail "the SYNs did not reach eth3: $(raw_count eth3)"
rpf=$(($(n "$dir" nstat -az TcpExtIPReversePathFilter | awk '/IPReversePathFilter/ { print $2 }') - rpf0))
((rpf >= 3)) || fail "rp_filter dropped $rpf of 3"
unchanged "after 3 SYNs dropped by rp_filter"
log "rp_filter: 3 SYNs on eth3, $rpf dropped by rp_filter; conntrack id $id0 ESTABLISHED, IPVS entry ESTABLISHED"

# 2. filter INPUT drops the flow's SYNs.
n "$dir" $IPTABLES -A INPUT -i eth0 -p tcp --syn -s $SNAT_IP --sport $SNAT_PORT -j DROP ||
	fail "INPUT drop rule"
out=$(n "$nat" twload odd eth1 "$(mac "$dir" eth0)" $SNAT_IP $SNAT_PORT $VIP 80 3 syn) ||
	fail "SYN on eth0: $out"
input_drops() { n "$dir" $IPTABLES -L INPUT -v -n -x | awk '$3 == "DROP" { print $1 }'; }
dropped() { (($(input_drops) >= 3)); }
wait_for 5 dropped || fail "INPUT dropped $(input_drops) of 3"
unchanged "after 3 SYNs dropped in INPUT"
log "INPUT drop: $(input_drops) SYNs dropped on eth0; conntrack id $id0 ESTABLISHED, IPVS entry ESTABLISHED"

kill -USR1 "$ECHO_PID"
wait "$ECHO_PID" || fail "the flow broke: $(cat "$TMP/echo")"
log "the flow went on to its end: $(cat "$TMP/echo")"

# 3. Positive control: the flow has ended (client RST: IPVS CLOSE); the
# same SYN, let through, is one IPVS reschedules and the module sees.
if [[ $MODULE == yes ]]; then
	n "$dir" $IPTABLES -D INPUT -i eth0 -p tcp --syn -s $SNAT_IP --sport $SNAT_PORT -j DROP
	wait_for 10 entry_in CLOSE || fail "no CLOSE entry after the flow: '$(ipvs_state 0)'"
	counters_mark "$dir"
	out=$(n "$nat" twload odd eth1 "$(mac "$dir" eth0)" $SNAT_IP $SNAT_PORT $VIP 80 1 syn) ||
		fail "control SYN: $out"
	# (The client's RST let conntrack reopen the flow: on v5.9+ IPVS that
	# is resched_no_drop.)
	resched_one() {
		[[ $(($(twr_counter "$dir" resched) - TWR_MARK[resched] +
		      $(twr_counter "$dir" resched_no_drop) - TWR_MARK[resched_no_drop])) -eq 1 ]]
	}
	wait_for 5 resched_one || fail "control SYN not rescheduled: $(n "$dir" cat /proc/net/ip_vs_tw_resched | tr '\n' ' ')"
	log "control: the same SYN let through after the flow ended: rescheduled, counted"
fi
dmesg_check
echo "# PASS"
exit $ksft_pass
