#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Malformed and odd packets aimed at a reusable IPVS entry: none of them
# may make the module act (or count anything), and nothing may crash.
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
# options / IPv6 extension headers on a SYN with a bad checksum): make sure
# the tuple 40000 -> VIP:80 has an IPVS entry in CLOSE (a real connection
# ended by the server's RST; timeout_close raised so it stays), then send
# COUNT frames of that kind with that very tuple from the SNAT box's
# interface. IPVS itself may end the entry on some of them (it treats any
# SYN as new); the module sees at least the first frame of every kind
# while the entry is there, and must leave it: all of its counters stay
# as they were. Then a real reuse must still be rescheduled (+1).
#
# usage: odd_packets.sh [-6] [-c COUNT]   (default 2000 of each kind)

source "$(dirname "$0")/lib.sh"

COUNT=2000
while getopts "6c:" o; do
	case $o in
	6) FAMILY=6 ;;
	c) COUNT=$OPTARG ;;
	*) fail "bad option" ;;
	esac
done
topology_addrs
CLOSE=rst

require_root
require_cmd ip ipvsadm twtool twload modprobe "$IPTABLES"
trap cleanup_ns EXIT
dmesg_mark
module_state yes
topology
sysctl_w "$dir" net.ipv4.vs.tw_resched.timeout_close 600
MAC=$(ip -n "$dir" link show eth0 | awk '/link\/ether/ { print $2 }')
[[ -n $MAC ]] || fail "no MAC address on the director"

all_counters() { n "$dir" cat /proc/net/ip_vs_tw_resched | grep -vE '^(active|namespaces) '; }
entry_close() { [[ $(ipvs_state 0) == CLOSE ]]; }
ensure_entry() {
	entry_close && return 0
	wait_for 15 snat_idle || fail "SNAT box still holds a flow"
	connect_once "$1"
	wait_for 15 entry_close || fail "no CLOSE entry: '$(ipvs_state 0)'"
}

KINDS=$(n "$nat" twload odd eth1 "$MAC" "$SNAT_IP" $SNAT_PORT $VIP 80 0 | sed -E 's/kind=([a-z_0-9]+).*/\1/')
[[ -n $KINDS ]] || fail "twload odd lists no kinds"
before=$(all_counters)
total=0 ended=0
for k in $KINDS; do
	ensure_entry "before $k"
	out=$(n "$nat" twload odd eth1 "$MAC" "$SNAT_IP" $SNAT_PORT $VIP 80 "$COUNT" "$k") ||
		fail "twload odd $k: $out"
	sent=$(sed -nE 's/.*sent=([0-9]+).*/\1/p' <<<"$out")
	total=$((total + sent))
	if entry_close; then
		state="entry still CLOSE"
	else
		state="IPVS ended the entry"
		ended=$((ended + 1))
	fi
	log "$k: $sent sent, $state"
	after=$(all_counters)
	[[ $after == "$before" ]] ||
		fail "module counted after $k: $(printf '%s\n' "$before" "$after" | awk '
			{ if ($1 in v && v[$1] != $2) printf "%s %s -> %s ", $1, v[$1], $2; v[$1] = $2 }')"
done

# Still doing its job.
ensure_entry "after the odd packets"
r0=$(twr_counter "$dir" resched)
wait_for 15 snat_idle || fail "SNAT box still holds a flow"
connect_once "reuse"
r1=$(twr_counter "$dir" resched)
log "RESULT ipv$FAMILY: $total odd frames in $(wc -w <<<"$KINDS") kinds," \
	"counters unchanged (IPVS itself ended the entry after $ended kinds);" \
	"then a real reuse: $MS ms, resched +$((r1 - r0))"
((r1 - r0 == 1)) || fail "a real reuse after the odd packets: resched +$((r1 - r0)), want +1"
awk -v m="$MS" -v t=$SLOW_MS 'BEGIN { exit !(m < t) }' || fail "real reuse took $MS ms"
dmesg_check
echo "PASS"
exit $ksft_pass
