#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The tracepoint tw_resched:resched, read the ways operators read
# tracepoints: tracefs, perf record, trace-cmd and bpftrace.
#
#   cl --- nat (SNAT to 10.0.2.1:40000) --- dir (IPVS VIP 10.0.2.2:80, conntrack) --- rs1, rs2
#   (details: snat_port_reuse.sh)
#
# In each subtest a connection ends with the real server's RST and the
# client reuses its tuple: IPVS would drop that SYN; the module resends it.
# The event must say so: the director's namespace (its inode), the client
# tuple as IPVS sees it (the SNAT box's 10.0.2.1:40000), the VIP, the old
# entry's server and state (CLOSE), weight 1, outcome=resched. A second
# reuse with resched_mode=0 must trace outcome=skip_policy: the event says
# why a SYN was left to IPVS, too.
source "$(dirname "$0")/lib.sh"

CLOSE=rst
T=$TRACE_DIR

# stage: a connection, ended by the real server's RST; its IPVS entry in
# CLOSE and the SNAT box idle. Sets FIRST (the server) and NETNS (inode).
stage() {
	topology
	connect_once first
	FIRST=$SERVER
	wait_for 15 entry_in CLOSE || fail "IPVS entry not in CLOSE: '$(ipvs_state)'"
	wait_for 15 snat_idle || fail "SNAT box still holds a flow"
	NETNS=$(n "$dir" stat -L -c %i /proc/self/ns/net)
}

# want LINE...: one of the lines is the event of the reuse, as it should
# be (OUTCOME: resched unless given).
want() {
	local out=${OUTCOME:-resched} re

	re="netns=$NETNS client=$SNAT_IP:$SNAT_PORT vip=$VIP:80 server=${RS_IP[$FIRST]}:80 weight=1 state=CLOSE outcome=$out"
	grep -qF "$re" <<<"$*" || fail "no event '$re' in: $*"
	log "traced: $re"
}

trace_tracefs() {
	stage
	echo 0 >$T/tracing_on
	echo >$T/trace
	echo 1 >$T/events/tw_resched/resched/enable || fail "cannot enable tw_resched:resched"
	echo 1 >$T/tracing_on
	connect_once reuse
	want "$(cat $T/trace)"
	# The same event says why a SYN is left to IPVS.
	sysctl_w "$dir" net.ipv4.vs.tw_resched.resched_mode 0
	wait_for 15 entry_in CLOSE || fail "IPVS entry not in CLOSE after the reuse"
	wait_for 15 snat_idle || fail "SNAT box still holds a flow"
	FIRST=$SERVER
	echo >$T/trace
	connect_once policy_off
	OUTCOME=skip_policy want "$(cat $T/trace)"
	echo 0 >$T/events/tw_resched/resched/enable
	# Its fields, for tools that read the format.
	grep -qE 'field:unsigned int netns;' $T/events/tw_resched/resched/format &&
		grep -qE 'field:unsigned char client\[[^]]*\];[[:space:]]*offset:[0-9]+;[[:space:]]*size:28;' \
			$T/events/tw_resched/resched/format ||
		fail "format: $(cat $T/events/tw_resched/resched/format)"
}

perf_record() {
	stage
	perf record -q -e tw_resched:resched -a -o "$TMP/perf.data" -- $(client_cmd 0) >/dev/null ||
		fail "perf record"
	want "$(perf script -i "$TMP/perf.data" 2>/dev/null)"
}

trace_cmd() {
	stage
	(cd "$TMP" && trace-cmd record -q -e tw_resched:resched -o "$TMP/trace.dat" \
		$(client_cmd 0)) >/dev/null 2>&1 || fail "trace-cmd record"
	want "$(trace-cmd report -i "$TMP/trace.dat" 2>/dev/null)"
}

bpftrace_run() {
	local out cmd

	stage
	# The fields, as a bpftrace program reads them.
	# bpftrace wants the command's one path (/bin is /usr/bin here).
	cmd=$(client_cmd 0)
	cmd="$(type -P ip) ${cmd#ip }"
	out=$(BPFTRACE_STRLEN=64 timeout 120 bpftrace -e '
		tracepoint:tw_resched:resched {
			printf("ns=%u state=%u outcome=%u weight=%u\n", args->netns,
			       args->state, args->outcome, args->weight);
		}' -c "$cmd" 2>&1) || fail "bpftrace: $out"
	# IP_VS_TCP_S_CLOSE is 6, TWR_CNT_RESCHED 0.
	grep -q "ns=$NETNS state=6 outcome=0 weight=1" <<<"$out" ||
		fail "bpftrace printed: $out"
	log "bpftrace: $(grep "ns=$NETNS" <<<"$out")"
}

require_root
require_cmd ip ipvsadm conntrack twtool modprobe "$IPTABLES"
case_tmp
tracefs || skip "no tracefs (CONFIG_TRACING)"
module_state yes
[[ -d $T/events/tw_resched/resched ]] || fail "the module has no tw_resched:resched event"

ktap_header 4
sub tracefs trace_tracefs
for tool in perf trace-cmd bpftrace; do
	if ! command -v $tool >/dev/null; then
		ktap_result fail $tool "$tool is not in this VM (scripts/mkinitramfs.sh)"
		continue
	fi
	case $tool in
	perf) sub perf perf_record ;;
	trace-cmd) sub trace-cmd trace_cmd ;;
	bpftrace)
		if [[ ! -e /proc/sys/kernel/unprivileged_bpf_disabled ]]; then
			ktap_result skip bpftrace "this kernel has no bpf() (CONFIG_BPF_SYSCALL)"
		else
			sub bpftrace bpftrace_run
		fi
		;;
	esac
done
ktap_finish
