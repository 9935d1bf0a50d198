#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# FTP through IPVS (ip_vs_ftp): connections controlled by another one are
# IPVS's business alone. A reused data connection must stay with the real
# server of its control connection, and a reused control connection that
# still has a data child must not be rescheduled; the module must leave
# both alone and count why.
#
#   client             snat box              director                 real servers
#  +----------+      +-----------+      +--------------------+     +------------------+
#  | cl       |      | nat       |      | dir, ip_vs_ftp     |     | rs1 10.0.3.2     |
#  | 10.0.1.2 |-eth0-| every flow|-eth1-| VIP 10.0.2.2:21 rr |-eth1| :21 "ftp": PASV  |
#  | ftpctl   |      | of cl ->  |      |  (NAT); PASV answer|     |  -> own addr:3021|
#  | data     |      | port 40000|      |  rewritten to VIP, |     | :3021 data, RST  |
#  | connects |      |           |      |  data entry made   |-eth2| rs2 10.0.4.2 same|
#  +----------+      +-----------+      +--------------------+     +------------------+
#
# Steps: a control connection from 10.0.2.1:40000 asks PASV; the data
# connection to VIP:3021 goes, as IPVS decided, to the control's server
# and ends with the server's RST (entry CLOSE, controlled by the control
# entry). Then N more data connections from the same tuple: each meets
# that controlled entry. Then the control connection ends (QUIT, the
# server resets it) and is made again from the same tuple while its data
# entry lives: it meets an entry with a child, and the SYN carries the
# old flow's conntrack, so IPVS keeps it on its server. (After a client
# RST conntrack would reopen the flow and IPVS itself would reschedule
# the controlling entry: v5.9's rule, with or without this module.)
#
# Asserts, with and without the module: every connection succeeds, every
# data connection and the new control connection are served by the first
# control connection's server, ip_vs_ftp rewrote the PASV address to the
# VIP. With the module: skip_ftp_data rose by N, skip_has_children by 1,
# resched by 0.
#
# usage: ftp_data.sh                    both runs, as a pair (KTAP)
#        ftp_data.sh -m yes|no [-n N]   one run (default n 3)

source "$(dirname "$0")/lib.sh"

twin_runs ftp_data "$@"

MODULE=no N=3
while getopts "m:n:" o; do
	case $o in
	m) MODULE=$OPTARG ;;
	n) N=$OPTARG ;;
	*) fail "bad option" ;;
	esac
done
DPORT=3021
CLOSE=rst

require_root
require_cmd ip ipvsadm twtool modprobe "$IPTABLES"
modprobe ip_vs_ftp 2>/dev/null || skip "no ip_vs_ftp module (CONFIG_IP_VS_FTP)"
case_tmp
stage_case

n "$dir" ipvsadm -A -t "$VIP:21" -s rr || fail "ipvsadm -A :21"
for rs in rs1 rs2; do
	n "$dir" ipvsadm -a -t "$VIP:21" -r "${RS_IP[$rs]}:21" -m || fail "ipvsadm -a :21"
	ip netns exec "${!rs}" twtool server 21 $rs ftp "${RS_IP[$rs]}" $DPORT &
	disown
	ip netns exec "${!rs}" twtool server $DPORT $rs rst &
	disown
done
for rs in rs1 rs2; do
	wait_for 10 listening "${!rs}" 21 && wait_for 10 listening "${!rs}" $DPORT ||
		fail "ftp servers did not start"
done

[[ $MODULE == yes ]] && counters_mark "$dir"

# entry_state VPORT: IPVS state of 10.0.2.1:40000 -> VIP:VPORT
entry_state() {
	n "$dir" ipvsadm -Lnc | awk -v s="$SNAT_IP:$SNAT_PORT" -v d="$VIP:$1" \
		'$1 == "TCP" && $4 == s && $5 == d { print $3 }'
}
entry_is() { [[ $(entry_state "$1") == "$2" ]]; }
snat_flow_gone() {
	[[ -z $(n "$nat" conntrack -L -p tcp --dport "$1" 2>/dev/null) ]]
}

# control_open: a control connection in the background; sets CTL_SERVER.
control_open() {
	rm -f "$TMP/ctl.in" && mkfifo "$TMP/ctl.in"
	ip netns exec "$cl" twtool ftpctl $VIP 21 -b "$(client_ip 0):0" \
		<"$TMP/ctl.in" >"$TMP/ctl.out" 2>&1 &
	CTL_PID=$!
	exec {CTL_FD}>"$TMP/ctl.in"
	wait_for 30 grep -q 'server=' "$TMP/ctl.out" ||
		fail "control connection: $(cat "$TMP/ctl.out")"
	CTL_SERVER=$(sed -nE 's/.*server=([a-z0-9]+).*/\1/p' "$TMP/ctl.out")
	grep -q "data=$VIP:$DPORT" "$TMP/ctl.out" ||
		fail "PASV answer not rewritten to the VIP: $(cat "$TMP/ctl.out")"
}
control_close() {	# QUIT: the server resets the control connection
	exec {CTL_FD}>&-
	wait "$CTL_PID" || fail "control connection failed: $(cat "$TMP/ctl.out")"
}

# data_connect LABEL: one data connection from the control's tuple.
data_connect() {
	local out

	out=$(ip netns exec "$cl" twtool connect $VIP $DPORT rst -b "$(client_ip 0):0") ||
		fail "data connection $1: $out"
	parse_conn "$out" || fail "data connection $1: '$out'"
	log "data connection $1: met '${2:-nothing}', $MS ms, server $SERVER, syn retransmits $RETRANS"
	[[ $SERVER == "$CTL_SERVER" ]] ||
		fail "data connection $1 served by $SERVER, its control connection by $CTL_SERVER"
}

log "module=$MODULE n=$N, IPVS drop check: $(ipvs_trait drop_check) conntrack"
control_open
first=$CTL_SERVER
log "control connection: server $first, PASV answer $(sed -nE 's/.*(data=[^ ]+).*/\1/p' "$TMP/ctl.out")"
data_connect 0
for ((i = 1; i <= N; i++)); do
	wait_for 15 entry_is $DPORT CLOSE ||
		fail "data entry not in CLOSE: '$(entry_state $DPORT)'"
	wait_for 15 snat_flow_gone $DPORT || fail "SNAT box still holds the data flow"
	data_connect "$i" CLOSE
done

# The control connection again, from the same tuple, while its data
# entry (CLOSE, 10 s) still holds it.
control_close
wait_for 15 entry_is 21 CLOSE || fail "control entry not in CLOSE: '$(entry_state 21)'"
wait_for 15 snat_flow_gone 21 || fail "SNAT box still holds the control flow"
[[ -n $(entry_state $DPORT) ]] || fail "data entry gone before the control reuse"
control_open
log "control connection again: met CLOSE with a child, server $CTL_SERVER"
[[ $CTL_SERVER == "$first" ]] ||
	fail "control connection with a live child moved from $first to $CTL_SERVER"
control_close

dmesg_check
if [[ $MODULE == yes ]]; then
	log "module counters:" $(n "$dir" cat /proc/net/ip_vs_tw_resched)
	counters_expect "$dir" resched=0 skip_ftp_data=$N skip_has_children=1
fi
echo "# PASS"
exit $ksft_pass
