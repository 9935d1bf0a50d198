#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The counters an operator graphs mean what the reference says, and the
# drained-server probe holds nothing and learns where it can.
#
#   cl --- nat (SNAT to 10.0.2.1:40000) --- dir (IPVS VIP:80, conntrack) --- rs1, rs2
#   (NAT; probe_dr: one bridged segment, direct routing; see snat_port_reuse.sh)
#
# reliable_events   A conntrack event listener that asks for reliable
#                   delivery (as conntrackd does) and whose buffer is
#                   full: nf_ct_delete() then unlinks the stale conntrack
#                   and returns false. The module deleted it all the
#                   same: ct_removed +1, and the reuse is fast.
# resend_lost       A filter rule lets two SYNs a second through (a
#                   hashlimit token bucket, burst 1): the module's copy,
#                   sent right after the SYN, is dropped, as a retransmit
#                   that fast would be. resched counts copies that reached
#                   IPVS: +0; resend_lost +1. The client's own retransmit
#                   then connects, after its second, as under stock IPVS
#                   with that rule.
# probe_no_server   conn_reuse_mode=0, expire_nodest_conn=1, both servers
#                   drained: a reuse meets a drained server's entry while
#                   the module does not know what this IPVS does with it.
#                   IPVS reschedules it and finds no server. No conntrack
#                   may stay pinned (allocated but in no table), and the
#                   module has learned the answer.
# probe_dr          The same question on a direct-routing service (FIN_WAIT
#                   entries): the module learns the answer from it too.
source "$(dirname "$0")/lib.sh"

# stage_reuse: the first connection, its entry in CLOSE (or FIN_WAIT with
# DR), the SNAT box idle. Sets FIRST. CLOSE lasts 10 s in IPVS and in
# conntrack; 30 s here, as a slow VM's staging can take most of ten.
stage_reuse() {
	long_close "$dir" yes
	connect_once first
	FIRST=$SERVER
	wait_for 15 entry_in "${1:-CLOSE}" || fail "IPVS entry not in ${1:-CLOSE}: '$(ipvs_state)'"
	wait_for 15 snat_idle || fail "SNAT box still holds a flow"
}

# netlink_drops: datagrams the director's netfilter netlink sockets
# dropped (/proc/net/netlink: protocol 12, the Drops column).
netlink_drops() {
	n "$dir" awk '$2 == 12 { d += $(NF - 1) } END { print d + 0 }' /proc/net/netlink
}

reliable_events() {
	local i

	CLOSE=rst
	topology
	module_state yes
	sysctl_w "$dir" net.netfilter.nf_conntrack_events 1
	ip netns exec "$dir" twtool ctstall >"$TMP/ctstall" &
	disown
	wait_for 10 grep -q ready "$TMP/ctstall" || fail "ctstall did not start"
	# Destroy events until the listener's buffer is full.
	for i in $(seq 40); do
		echo "-A -t 60 -p udp -s 192.0.2.1 -d 192.0.2.2 --sport $((1000 + i)) --dport 53"
	done >"$TMP/udp.ct"
	n "$dir" conntrack -R "$TMP/udp.ct" >/dev/null 2>&1 || fail "conntrack -R"
	n "$dir" conntrack -D -p udp >/dev/null 2>&1
	wait_for 10 test "$(netlink_drops)" -gt 0 ||
		fail "the listener's buffer did not fill (no netlink drops)"
	log "a reliable event listener, its buffer full ($(netlink_drops) events dropped)"
	stage_reuse
	counters_mark "$dir"
	connect_once reuse
	log "reuse: $MS ms, server $SERVER, SYN retransmits $RETRANS"
	((${MS%.*} < SLOW_MS && RETRANS == 0)) ||
		fail "the reuse was not rescheduled at once; counters: $(n "$dir" cat /proc/net/ip_vs_tw_resched | tr '\n' ' ')"
	counters_expect "$dir" resched=1 ct_removed=1 resend_lost=0
}

resend_lost() {
	CLOSE=rst
	topology
	module_state yes
	n "$dir" $IPTABLES -A INPUT -p tcp --syn -d $VIP -m hashlimit --hashlimit-upto 2/sec \
		--hashlimit-burst 1 --hashlimit-mode srcip --hashlimit-name twr -j ACCEPT &&
		n "$dir" $IPTABLES -A INPUT -p tcp --syn -d $VIP -j DROP ||
		fail "hashlimit rules"
	stage_reuse
	# The bucket takes a token every 500 ms: the reuse's own SYN must
	# find one, its copy right behind it none.
	t1=${EPOCHREALTIME/./}
	wait_for 5 eval '((${EPOCHREALTIME/./} - t1 > 700000))'
	counters_mark "$dir"
	connect_once reuse
	log "reuse: $MS ms, server $SERVER, SYN retransmits $RETRANS (the copy dropped by the rule)"
	((RETRANS == 1)) ||
		fail "want the client's one retransmit to make the connection, got $RETRANS; counters: $(n "$dir" cat /proc/net/ip_vs_tw_resched | tr '\n' ' '); rules: $(n "$dir" $IPTABLES -vnL INPUT | tr '\n' ';')"
	counters_expect "$dir" resched=0 resend_lost=1 ct_removed=1
}

# pinned: conntracks of the director allocated but in no table (confirmed
# ones are listed; nf_conntrack_count counts every one).
pinned() {
	local all listed

	all=$(n "$dir" cat /proc/sys/net/netfilter/nf_conntrack_count)
	listed=$(n "$dir" conntrack -L 2>/dev/null | grep -c .)
	echo $((all - listed))
}
no_pinned() { (($(pinned) == 0)); }

learned() { twr_counter "$dir" ipvs_drained_reuse0; }
known() { [[ $(learned) != unknown ]]; }

# fresh_module: the module loaded anew, knowing nothing it learns.
fresh_module() {
	module_state no
	module_state yes
	[[ $(learned) == unknown ]] ||
		skip "the module knows this IPVS's answer from its headers ($(learned)): nothing to probe"
}

probe_no_server() {
	local svc

	CLOSE=rst
	topology
	fresh_module
	sysctl_w "$dir" net.ipv4.vs.conn_reuse_mode 0
	sysctl_w "$dir" net.ipv4.vs.expire_nodest_conn 1
	stage_reuse
	svc=$(hp $VIP 80)
	n "$dir" ipvsadm -R <<<"-e -t $svc -r $(hp "${RS_IP[rs1]}" 80) -m -w 0
-e -t $svc -r $(hp "${RS_IP[rs2]}" 80) -m -w 0" || fail "drain both servers"
	counters_mark "$dir"
	# IPVS finds no server for it: the connect cannot succeed.
	ip netns exec "$cl" timeout 3 twtool connect $VIP 80 rst -b "$(client_ip 0):0" >/dev/null 2>&1
	counters_expect "$dir" probe=1
	wait_for 10 no_pinned || fail "$(pinned) conntracks stay allocated in no table (a probe's reference)"
	wait_for 10 known || fail "the module did not learn from the SYN it watched"
	log "no conntrack pinned; learned: IPVS $(learned)s a drained server's entries under conn_reuse_mode=0"
}

probe_dr() {
	CLOSE=fin METHOD=dr
	topology_addrs
	topology
	fresh_module
	sysctl_w "$dir" net.ipv4.vs.conn_reuse_mode 0
	sysctl_w "$dir" net.ipv4.vs.expire_nodest_conn 1
	stage_reuse FIN_WAIT
	n "$dir" ipvsadm -e -t "$(hp $VIP 80)" -r "$(hp "${RS_IP[$FIRST]}" 80)" -g -w 0 ||
		fail "drain $FIRST"
	counters_mark "$dir"
	connect_once reuse
	counters_expect "$dir" probe=1
	wait_for 10 known || fail "a direct-routing entry taught the module nothing"
	log "reuse: $MS ms, to $SERVER; learned from a DR entry: IPVS $(learned)s such entries"
}

require_root
require_cmd ip ipvsadm conntrack twtool modprobe "$IPTABLES"
case_tmp
ktap_header 4
sub reliable_events reliable_events
sub resend_lost resend_lost
sub probe_no_server probe_no_server
sub probe_dr probe_dr
ktap_finish
