#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Abuse under traffic: the module's sysctls written and read concurrently
# with good and bad values, ip_vs's own sysctls flipped, real servers
# drained and restored, and the service itself deleted and re-added, all
# while clients connect through the SNAT box with reused and fresh ports.
#
#   client                 snat box             director                       real servers
#  +----------------+     +-----------+      +------------------------------+  +------------+
#  | cl 10.0.1.100  |     | nat       |      | dir VIP 10.0.2.2:80 rr       |  | rs1, rs2   |
#  | twload reuse:  |-eth0| MASQUERADE|-eth1-| 4 writers: resched_mode and  |--| twtool :80 |
#  | RATE conn/s,   |     | (ports    |      |  timeout_* (good, bad values)|  | RST close  |
#  | reused ports   |     |  kept)    |      | 2 readers; ipvsadm --set;    |  +------------+
#  +----------------+     +-----------+      | conntrack, conn_reuse_mode,  |
#                                            | expire_nodest_conn flips;    |
#                                            | weights 0/1; (phase 2) the   |
#                                            | service deleted and re-added |
#                                            +------------------------------+
#
# Phase 1 (sysctls, ip_vs sysctls, weights): no connection may fail.
# Phase 2 (the service comes and goes, the module loaded before it
# exists): connections may be refused or reset while it is gone; nothing
# else.
# Both: every write of a bad value is refused and leaves a valid value;
# afterwards each sysctl holds exactly what was written last, ipvsadm and
# the module agree on the timeouts, a real reuse is rescheduled, rmmod
# succeeds, the kernel log stays clean.
#
# usage: sysctl_abuse.sh [SECONDS [RATE]]   (per phase, default 20 s;
#                                            connections/s, default 20,
#                                            5 on a slow machine)

source "$(dirname "$0")/lib.sh"

if (($# == 0)); then
	ktap_header 1
	sub sysctl_abuse bash "$0" 20 $((TWR_SLOW ? 5 : 20))
	ktap_finish
fi

SECS=${1:-20}
RATE=${2:-20}
CLOSE=rst
require_root
require_cmd ip ipvsadm twtool twload modprobe rmmod "$IPTABLES"
TMP=$(mktemp -d)
PIDS=()
stop_bg() {
	((${#PIDS[@]})) && kill "${PIDS[@]}" 2>/dev/null
	wait "${PIDS[@]}" 2>/dev/null
	PIDS=()
}
trap 'stop_bg; cleanup_ns; rm -rf "$TMP"' EXIT
dmesg_mark
# The module first: the director namespace has no service yet (phase 2
# depends on that order; phase 1 does not care).
module_state no
module_state yes
topology
# A client address whose ports the SNAT box keeps (twload picks them).
LOAD_IP=10.0.1.100
addr "$cl" eth0 $LOAD_IP
n "$nat" $IPTABLES -t nat -I POSTROUTING -o eth1 -s $LOAD_IP -j MASQUERADE ||
	fail "masquerade"

D=/proc/sys/net/ipv4/vs/tw_resched
SVC=$VIP:80
FILES=$(n "$dir" ls $D)
[[ $FILES == *resched_mode* && $FILES == *timeout_time_wait* ]] || fail "no sysctls: $FILES"

writer() {	# random good and bad values into random files
	local f v bad=(-1 0 8 abc 99999999999999 2147483648 " 5x" 3.5)
	local good_t=(1 2 10 60 120 300 900) good_m=(0 1 3 5 7)

	while :; do
		for f in $FILES; do
			if ((RANDOM % 3 == 0)); then
				v=${bad[RANDOM % ${#bad[@]}]}
			elif [[ $f == resched_mode ]]; then
				v=${good_m[RANDOM % ${#good_m[@]}]}
			else
				v=${good_t[RANDOM % ${#good_t[@]}]}
			fi
			if echo "$v" 2>/dev/null >"$D/$f"; then
				echo "w ok $f $v"
			else
				echo "w refused $f $v"
			fi
		done
	done
}
reader() {
	local f v

	while :; do
		for f in $FILES; do
			v=$(cat "$D/$f") || { echo "r failed $f"; continue; }
			echo "r $f $v"
		done
	done
}
flipper() {	# ip_vs's own sysctls and the servers' weights
	local i=0

	while :; do
		echo $((i % 2)) >/proc/sys/net/ipv4/vs/conntrack
		echo $((i % 4)) >/proc/sys/net/ipv4/vs/conn_reuse_mode
		echo $(((i / 2) % 2)) >/proc/sys/net/ipv4/vs/expire_nodest_conn
		ipvsadm -e -t $SVC -r "${RS_IP[rs1]}:80" -m -w $((i % 2)) 2>/dev/null
		ipvsadm -e -t $SVC -r "${RS_IP[rs2]}:80" -m -w 1 2>/dev/null
		ipvsadm --set $((100 + i % 50)) $((60 + i % 7)) 300
		i=$((i + 1))
		sleep 0.1
	done
}
churn() {	# the service itself comes and goes
	while :; do
		ipvsadm -D -t $SVC
		sleep 0.3
		ipvsadm -A -t $SVC -s rr
		ipvsadm -a -t $SVC -r "${RS_IP[rs1]}:80" -m
		ipvsadm -a -t $SVC -r "${RS_IP[rs2]}:80" -m
		sleep 1
	done
}

# phase NAME FRESHBASE POOLBASE TOOLS...: traffic plus the background
# TOOLS for SECS seconds. Sets LOAD_OUT and LOAD_RC. The tools run under
# "ip netns exec" directly (it execs bash), so that $! is what stop_bg
# must kill.
phase() {
	local name=$1 fresh=$2 pool=$3 t

	shift 3
	for t in "$@"; do
		case $t in
		writer) for _ in 1 2 3 4; do ip netns exec "$dir" bash -c "$(declare -f writer); FILES='$FILES' D=$D writer" >>"$TMP/w.log" 2>/dev/null & PIDS+=($!); done ;;
		reader) for _ in 1 2; do ip netns exec "$dir" bash -c "$(declare -f reader); FILES='$FILES' D=$D reader" >>"$TMP/r.log" 2>/dev/null & PIDS+=($!); done ;;
		flipper) ip netns exec "$dir" bash -c "$(declare -f flipper); SVC=$SVC; declare -A RS_IP=([rs1]=${RS_IP[rs1]} [rs2]=${RS_IP[rs2]}); flipper" >/dev/null 2>&1 & PIDS+=($!) ;;
		churn) ip netns exec "$dir" bash -c "$(declare -f churn); SVC=$SVC; declare -A RS_IP=([rs1]=${RS_IP[rs1]} [rs2]=${RS_IP[rs2]}); churn" >/dev/null 2>&1 & PIDS+=($!) ;;
		esac
	done
	LOAD_OUT=$(n "$cl" twload reuse $VIP 80 $LOAD_IP "$RATE" "$SECS" "$pool" 60 "$fresh" "$TMP/load-$name" 2>"$TMP/load-$name.err")
	LOAD_RC=$?
	stop_bg
	log "$name: $(tr '\n' ' ' <<<"$LOAD_OUT")"
}

# ---- phase 1 ---------------------------------------------------------------
phase sysctls 20000 10000 writer reader flipper
((LOAD_RC == 0)) || fail "connections failed while sysctls changed: $(head -n 5 "$TMP/load-sysctls.err")"
ok_w=$(grep -c '^w ok' "$TMP/w.log")
bad_w=$(grep -c '^w refused' "$TMP/w.log")
reads=$(grep -c '^r ' "$TMP/r.log")
# A refused write must have been a bad value, and every value ever read
# must have been valid.
wrong=$(awk '$1 == "w" && $2 == "ok" && ($4 !~ /^[0-9]+$/ || $4 > 2147483647 / 100 ||
	($3 == "resched_mode" && $4 > 7) || ($3 != "resched_mode" && $4 == 0))' \
	"$TMP/w.log" | head -n 3)
[[ -z $wrong ]] || fail "bad values accepted: $wrong"
badread=$(awk '$1 == "r" && ($3 !~ /^[0-9]+$/ || ($2 == "resched_mode" && $3 > 7) ||
	($2 != "resched_mode" && $3 == 0))' "$TMP/r.log" | head -n 3)
[[ -z $badread ]] || fail "invalid values read: $badread"
grep -q '^r failed' "$TMP/r.log" && fail "reads failed: $(grep -m3 '^r failed' "$TMP/r.log")"
log "phase 1: $ok_w good writes, $bad_w bad ones refused, $reads reads, all valid"

# ---- phase 2 ---------------------------------------------------------------
sysctl_w "$dir" net.ipv4.vs.tw_resched.resched_mode 7
sysctl_w "$dir" net.ipv4.vs.conn_reuse_mode 1
sysctl_w "$dir" net.ipv4.vs.expire_nodest_conn 0
sysctl_w "$dir" net.ipv4.vs.conntrack 1
phase service 30000 11000 churn
# While the service is gone the director's own stack answers the VIP:
# SYNs are refused, established connections reset. Nothing else.
refused=$(grep -cE 'Connection (refused|reset by peer)' "$TMP/load-service.err")
other=$(grep -vE 'Connection (refused|reset by peer)|pool ran dry' "$TMP/load-service.err" |
	head -n 3)
[[ -z $other ]] || fail "failures other than refused/reset while the service came and went: $other"
log "phase 2: the service deleted and re-added every 1.3 s; $refused connects refused or reset while it was gone"

# ---- afterwards: exact values, agreement, still working ---------------------
# The service as it was (the churn may have stopped half-way).
n "$dir" ipvsadm -D -t $SVC 2>/dev/null
n "$dir" ipvsadm -A -t $SVC -s rr &&
	n "$dir" ipvsadm -a -t $SVC -r "${RS_IP[rs1]}:80" -m &&
	n "$dir" ipvsadm -a -t $SVC -r "${RS_IP[rs2]}:80" -m || fail "service back"
i=0
for f in $FILES; do
	i=$((i + 1))
	v=$((200 + i))
	[[ $f == resched_mode ]] && v=7
	sysctl_w "$dir" "net.ipv4.vs.tw_resched.$f" $v
	[[ $(n "$dir" cat $D/$f) == "$v" ]] || fail "$f reads $(n "$dir" cat $D/$f), wrote $v"
done
set -- $(n "$dir" ipvsadm -L --timeout | sed -nE 's/^Timeout.*: *([0-9]+) +([0-9]+) +[0-9]+/\1 \2/p')
[[ $1 == $(n "$dir" cat $D/timeout_established) && $2 == $(n "$dir" cat $D/timeout_fin_wait) ]] ||
	fail "ipvsadm says tcp $1 tcpfin $2, the module $(n "$dir" cat $D/timeout_established) $(n "$dir" cat $D/timeout_fin_wait)"
sysctl_w "$dir" net.ipv4.vs.tw_resched.timeout_close 10
sysctl_w "$dir" net.ipv4.vs.tw_resched.timeout_time_wait 120
# A real reuse: slot 0's tuple, served, ended by RST, reused. (The load's
# own flows may linger in the SNAT box: connections the director reset
# while the service was gone.)
slot0_idle() {
	[[ -z $(n "$nat" conntrack -L -p tcp --orig-src "$(client_ip 0)" 2>/dev/null) ]]
}
wait_for 15 slot0_idle || fail "SNAT box busy"
connect_once first
wait_for 15 entry_in CLOSE || fail "no CLOSE entry: '$(ipvs_state 0)'"
wait_for 15 slot0_idle || fail "SNAT box busy"
r0=$(twr_counter "$dir" resched)
connect_once reuse
r1=$(twr_counter "$dir" resched)
((r1 == r0 + 1)) || fail "reuse after the abuse: resched +$((r1 - r0))"
awk -v m="$MS" -v t=$SLOW_MS 'BEGIN { exit !(m < t) }' || fail "reuse after the abuse took $MS ms"
log "RESULT after the abuse: values exact, ipvsadm agrees, a reuse $MS ms (resched +1)"
cleanup_ns
module_state no
dmesg_check
echo "# PASS"
exit $ksft_pass
