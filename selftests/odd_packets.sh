#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Malformed and odd packets aimed at a reusable IPVS entry: none of them
# may make the module act, and nothing may crash.
#
#   client            snat box                       director          real servers
#  +--------+       +------------------------+      +---------------+   +----------+
#  | cl     |-eth0--| nat  10.0.2.1 (eth1)   |-eth1-| dir VIP:80 rr |---| rs1, rs2 |
#  | one    |       | twload odd: raw frames |      | module loaded |   | RST close|
#  | connect|       | 10.0.2.1:40000->VIP:80 |      | entry CLOSE   |   +----------+
#  +--------+       +------------------------+      +---------------+
#   (IPv6 with -6: fd00:2::1 -> fd00:2::2)
#
# For each kind (twload odd lists them: SYN+ACK, SYN+RST, SYN+FIN, bad
# checksum, data offset below 5 or beyond the segment, TCP header cut at
# 12 or 14 bytes, IP header only, first and later fragment of a SYN, IPv4
# options / IPv6 extension headers on a SYN with a bad checksum), on a
# tuple of its own (client slot j, SNAT port 40000 + j): a real connection
# ended by the server's RST leaves an IPVS entry in CLOSE (timeout_close
# raised so it stays); then COUNT frames of that kind with that very tuple
# go out of the SNAT box's interface. A rule in the director's filter
# INPUT, the last stop before the module's hook, counts how many of them
# got that far (fragments wait in defragmentation, which never completes;
# the rest arrive). IPVS itself may end the entry or schedule a new one on
# some of them (it treats any segment with SYN set as new, and conntrack
# gives a SYN with a bad checksum no conntrack at all, so IPVS reschedules
# it without a drop: resched_no_drop may rise); the module must not act on
# any: resched, ct_removed, probe and skip_conntrack stay as they were.
# Then a real reuse on the last slot must still be rescheduled (+1).
#
# usage: odd_packets.sh                   IPv4 and IPv6 (KTAP)
#        odd_packets.sh [-6] [-c COUNT]   one family (default 2000 of each
#                                         kind, 200 on a slow machine)

source "$(dirname "$0")/lib.sh"

if (($# == 0)); then
	require_root
	ipvs_traits
	ktap_header 2
	sub odd_packets_ipv4 bash "$0" -c $((TWR_SLOW ? 200 : 2000))
	sub odd_packets_ipv6 bash "$0" -6 -c $((TWR_SLOW ? 200 : 2000))
	ktap_finish
fi

COUNT=2000
while getopts "6c:" o; do
	case $o in
	6) FAMILY=6 ;;
	c) COUNT=$OPTARG ;;
	*) fail "bad option" ;;
	esac
done
topology_addrs
CLOSE=rst SLOTS=13

require_root
require_cmd ip ipvsadm twtool twload modprobe "$IPTABLES"
trap cleanup_ns EXIT
dmesg_mark
module_state yes
topology
sysctl_w "$dir" net.ipv4.vs.tw_resched.timeout_close 600
MAC=$(ip -n "$dir" link show eth0 | awk '/link\/ether/ { print $2 }')
[[ -n $MAC ]] || fail "no MAC address on the director"

all_counters() {
	n "$dir" cat /proc/net/ip_vs_tw_resched | grep -E '^(resched|ct_removed|probe|skip_conntrack) '
}
# What reached filter INPUT (the module's hook comes right after it): an
# IP-level match only, a TCP one would drop a cut TCP header itself.
n "$dir" $IPTABLES -A INPUT -s $SNAT_IP -d $VIP -p tcp -j ACCEPT || fail "INPUT counter rule"
input_count() { n "$dir" $IPTABLES -L INPUT -v -n -x | awk '$3 == "ACCEPT" { print $1 }'; }
arrived() { (($(input_count) >= $1)); }
# The SNAT box's own stack answers what IPVS sends back with RSTs: keep
# them off that count.
n "$nat" $IPTABLES -A OUTPUT -p tcp --tcp-flags RST RST -j DROP || fail "nat RST rule"
# Some odd SYNs make IPVS act by itself (expire the entry, or schedule a
# new one), and what the director answers them reaches the SNAT box,
# whose own stack never sent them. So every kind gets a tuple of its own:
# client slot j, SNAT port 40000 + j; the last slot is for the real reuse.
entry_close() { ipvs_entry "$1" | awk '$1 == "CLOSE" { f = 1 } END { exit !f }'; }
slot_entry() {	# slot_entry J LABEL: a real connection of slot J, ended by RST
	local out

	out=$($(client_cmd "$1")) || fail "connect $2: $out"
	parse_conn "$out" || fail "connect $2: '$out'"
	wait_for 15 entry_close "$1" || fail "no CLOSE entry for slot $1: '$(ipvs_state "$1")'"
}

KINDS=$(n "$nat" twload odd eth1 "$MAC" "$SNAT_IP" $SNAT_PORT $VIP 80 0 | sed -E 's/kind=([a-z_0-9]+).*/\1/')
[[ $(wc -w <<<"$KINDS") -eq $((SLOTS - 1)) ]] || fail "twload odd lists '$KINDS', want $((SLOTS - 1)) kinds"
before=$(all_counters)
total=0 ended=0 j=0
for k in $KINDS; do
	slot_entry $j "before $k"
	n "$dir" $IPTABLES -Z INPUT || fail "zero INPUT counters"
	out=$(n "$nat" twload odd eth1 "$MAC" "$SNAT_IP" $((SNAT_PORT + j)) $VIP 80 "$COUNT" "$k") ||
		fail "twload odd $k: $out"
	sent=$(sed -nE 's/.*sent=([0-9]+).*/\1/p' <<<"$out")
	total=$((total + sent))
	case $k in
	*fragment) ;;
	*) wait_for 10 arrived "$sent" ;;
	esac
	states=$(ipvs_entry $j | awk '{ printf "%s%s", n++ ? " " : "", $1 }')
	if [[ $states == CLOSE ]]; then
		state="entry still CLOSE"
	else
		state="IPVS changed the entries: '$states'"
		ended=$((ended + 1))
	fi
	got=$(input_count)
	log "$k: $sent sent to port $((SNAT_PORT + j)), $got reached INPUT, $state"
	case $k in
	*fragment) ((got == 0)) || fail "$k: $got fragments reached INPUT, they never complete" ;;
	*) ((got == sent)) || fail "$k: only $got of $sent reached INPUT (the module's hook)" ;;
	esac
	after=$(all_counters)
	[[ $after == "$before" ]] ||
		fail "module counted after $k: $(printf '%s\n' "$before" "$after" | awk '
			{ if ($1 in v && v[$1] != $2) printf "%s %s -> %s ", $1, v[$1], $2; v[$1] = $2 }')"
	j=$((j + 1))
done

# Still doing its job: a real reuse on the last slot.
slot_entry $j "first of the real reuse"
slot_idle() {
	[[ -z $(n "$nat" conntrack -L -f $CT_FAMILY -p tcp --orig-src "$(client_ip "$1")" 2>/dev/null) ]]
}
wait_for 15 slot_idle $j || fail "SNAT box still holds slot $j's flow"
r0=$(twr_counter "$dir" resched)
out=$($(client_cmd $j)) || fail "reuse: $out"
parse_conn "$out" || fail "reuse: '$out'"
r1=$(twr_counter "$dir" resched)
log "RESULT ipv$FAMILY: $total odd frames in $(wc -w <<<"$KINDS") kinds," \
	"the module acted on none (IPVS itself changed the entries after $ended kinds);" \
	"then a real reuse: $MS ms, resched +$((r1 - r0))"
((r1 - r0 == 1)) || fail "a real reuse after the odd packets: resched +$((r1 - r0)), want +1"
awk -v m="$MS" -v t=$SLOW_MS 'BEGIN { exit !(m < t) }' || fail "real reuse took $MS ms"
dmesg_check
echo "# PASS"
exit $ksft_pass
