#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# net.ipv4.vs.tw_resched.*: per-namespace TCP timeouts and reuse policy.
#
#   init_net (the VM)      nsA, nsB, ...     SNAT topology (see lib.sh)
#   +-----------------+    +-------------+   client -> snat -> director -> rs1, rs2
#   | module params,  |    | own values, |   timeout_time_wait=5 in the
#   | host values     |--->| inherited   |   director: entries expire in 5 s,
#   +-----------------+    +-------------+   then a reused port meets nothing
#                          unshare -Urn: a container's namespace
#
# Subtests: IPVS defaults shown live; ipvsadm --set and our sysctls see
# each other's writes; every bad value refused with the old one kept;
# namespaces isolated, a new one inheriting what the initial namespace set
# of the states only this module sets; an unprivileged user namespace's
# root sees and sets its own namespace's knobs (and only those); unload
# gives IPVS back the states only the module sets and leaves ESTABLISHED
# and FIN_WAIT to whoever wrote them last (as ipvsadm --set would);
# module parameters; a short TIME_WAIT really shortens IPVS entries.

source "$(dirname "$0")/lib.sh"

D=/proc/sys/net/ipv4/vs/tw_resched
STATES="established syn_sent syn_recv fin_wait time_wait close close_wait last_ack listen synack"
declare -A DEF=([established]=900 [syn_sent]=120 [syn_recv]=60 [fin_wait]=120
	[time_wait]=120 [close]=10 [close_wait]=60 [last_ack]=30 [listen]=120
	[synack]=120)

r() { n "$1" cat "$D/$2"; }
w() { echo "$3" | n "$1" tee "$D/$2" >/dev/null 2>&1; }
expect_eq() {	# expect_eq WHAT GOT WANT
	[[ $2 == "$3" ]] || fail "$1: got '$2', want '$3'"
}
ipvs_timeouts() { n "$1" ipvsadm -L --timeout | sed -E 's/.*: *//'; }
setup() {	# a clean start: module freshly loaded, no namespaces of ours
	cleanup_ns
	module_state no
	modprobe ip_vs || fail "modprobe ip_vs"
	module_state yes
}

defaults() {
	setup
	new_ns a
	for s in $STATES; do
		expect_eq "default timeout_$s (initial ns)" "$(cat $D/timeout_$s)" "${DEF[$s]}"
		expect_eq "default timeout_$s (new ns)" "$(r "$a" timeout_$s)" "${DEF[$s]}"
	done
	expect_eq "default resched_mode" "$(r "$a" resched_mode)" 7
	log "defaults: IPVS's own table shown in the initial namespace and in $a"
}

# (The UDP timeout is IPVS's alone: 300, or 0 on a kernel without
# IP_VS_PROTO_UDP.)
live() {
	local udp

	setup
	new_ns a
	udp=$(ipvs_timeouts "$a" | awk '{ print $3 }')
	n "$a" ipvsadm --set 111 222 0 || fail "ipvsadm --set"
	expect_eq "after ipvsadm --set: timeout_established" "$(r "$a" timeout_established)" 111
	expect_eq "after ipvsadm --set: timeout_fin_wait" "$(r "$a" timeout_fin_wait)" 222
	w "$a" timeout_established 333 || fail "write timeout_established"
	expect_eq "ipvsadm -L --timeout after our write" "$(ipvs_timeouts "$a")" "333 222 $udp"
	log "live values: ipvsadm --set seen by the sysctls, sysctl writes seen by ipvsadm"
}

bad_values() {
	local t name val before
	local bad=(
		"resched_mode|abc" "resched_mode|-1" "resched_mode|8" "resched_mode|1.5"
		"resched_mode|99999999999999999999" "resched_mode|0x"
		"timeout_time_wait|abc" "timeout_time_wait|-5" "timeout_time_wait|0"
		"timeout_time_wait|1.5" "timeout_time_wait|8589935"
		"timeout_time_wait|99999999999" "timeout_time_wait|99999999999999999999"
		"timeout_close|0" "timeout_established|-1" "timeout_synack|2147483648"
	)

	setup
	new_ns a
	for t in "${bad[@]}"; do
		name=${t%%|*} val=${t#*|}
		before=$(r "$a" "$name")
		w "$a" "$name" "$val" && fail "$name accepted '$val'"
		expect_eq "$name after refused '$val'" "$(r "$a" "$name")" "$before"
	done
	log "${#bad[@]} bad writes refused, values kept"
	w "$a" timeout_time_wait 2147483 || fail "largest valid timeout (HZ<=1000) refused"
	w "$a" timeout_time_wait 1 || fail "timeout 1 refused"
	w "$a" resched_mode 0 || fail "resched_mode 0 refused"
}

isolation() {
	setup
	new_ns a
	new_ns b
	w "$a" timeout_time_wait 5
	w "$b" timeout_time_wait 7
	expect_eq "nsA time_wait" "$(r "$a" timeout_time_wait)" 5
	expect_eq "nsB time_wait" "$(r "$b" timeout_time_wait)" 7
	expect_eq "init_net time_wait untouched" "$(cat $D/timeout_time_wait)" 120
	expect_eq "nsB resched_mode untouched by nsA" "$(r "$b" resched_mode)" 7
	echo 77 >$D/timeout_time_wait || fail "write init_net"
	echo 3 >$D/resched_mode || fail "write init_net"
	echo 444 >$D/timeout_established || fail "write init_net"
	new_ns c
	expect_eq "new namespace inherits time_wait" "$(r "$c" timeout_time_wait)" 77
	expect_eq "new namespace inherits resched_mode" "$(r "$c" resched_mode)" 3
	expect_eq "new namespace: established as IPVS starts it" "$(r "$c" timeout_established)" 900
	expect_eq "existing namespace keeps its own" "$(r "$b" timeout_time_wait)" 7
	[[ -n $(twr_counter "" namespaces) ]] || fail "no namespaces line in the initial namespace"
	[[ -z $(twr_counter "$c" namespaces) ]] || fail "a container sees the host-wide namespaces count"
	log "namespaces isolated; a new one inherits the initial namespace's time_wait and policy, not established"
}

# A container's namespace: owned by an unprivileged user namespace. Its
# root sees the whole directory and sets its own namespace's values.
userns() {
	local out

	setup
	require_cmd unshare
	out=$(unshare -Urn bash -c "cat $D/timeout_time_wait $D/resched_mode &&
		echo 33 >$D/timeout_time_wait && echo 1 >$D/resched_mode &&
		cat $D/timeout_time_wait $D/resched_mode && id -u" 2>&1) ||
		fail "in an unprivileged user namespace: $out"
	expect_eq "userns: before, written, uid" "$(tr '\n' ' ' <<<"$out")" "120 7 33 1 0 "
	expect_eq "initial namespace after the container's write" "$(cat $D/timeout_time_wait) $(cat $D/resched_mode)" "120 7"
	out=$(unshare -Urn cat /proc/net/ip_vs_tw_resched 2>&1) || fail "container /proc: $out"
	grep -q '^active 1$' <<<"$out" || fail "container /proc file: $out"
	log "an unprivileged user namespace's root reads and writes its own namespace's knobs; the host's stay"
}

# Unload: the eight states only the module sets go back to IPVS's values;
# ESTABLISHED and FIN_WAIT keep what was written last, by us or ipvsadm.
unload() {
	local udp

	setup
	new_ns d
	udp=$(ipvs_timeouts "$d" | awk '{ print $3 }')
	w "$d" timeout_established 333
	w "$d" timeout_fin_wait 444
	n "$d" ipvsadm --set 0 555 0 || fail "ipvsadm --set"
	w "$d" timeout_time_wait 30
	w "$d" timeout_close 3
	echo 66 >$D/timeout_time_wait || fail "write init_net"
	module_state no
	expect_eq "after unload: ipvsadm -L --timeout" "$(ipvs_timeouts "$d")" "333 555 $udp"
	[[ -e $D ]] && fail "$D still there after unload"
	module_state yes
	expect_eq "reloaded: time_wait back to IPVS's" "$(r "$d" timeout_time_wait)" 120
	expect_eq "reloaded: close back to IPVS's" "$(r "$d" timeout_close)" 10
	expect_eq "reloaded: init_net time_wait back" "$(cat $D/timeout_time_wait)" 120
	expect_eq "reloaded: established as left" "$(r "$d" timeout_established)" 333
	log "unload gave back time_wait and close, kept established 333 and ipvsadm's fin_wait 555"
}

params() {
	local udp

	setup
	module_state no
	new_ns d
	udp=$(ipvs_timeouts "$d" | awk '{ print $3 }')
	modprobe $TWR_MOD timeout_time_wait=-1 2>/dev/null && fail "timeout_time_wait=-1 accepted"
	modprobe $TWR_MOD resched_mode=8 2>/dev/null && fail "resched_mode=8 accepted"
	module_loaded $TWR_MOD && fail "module loaded after a bad parameter"
	modprobe $TWR_MOD timeout_time_wait=42 resched_mode=5 timeout_established=1234 ||
		fail "modprobe with parameters"
	expect_eq "param time_wait, init_net" "$(cat $D/timeout_time_wait)" 42
	expect_eq "param established, init_net" "$(cat $D/timeout_established)" 1234
	expect_eq "param resched_mode, init_net" "$(cat $D/resched_mode)" 5
	expect_eq "param time_wait, existing ns" "$(r "$d" timeout_time_wait)" 42
	expect_eq "param established, existing ns" "$(r "$d" timeout_established)" 900
	new_ns e
	expect_eq "param time_wait, new ns" "$(r "$e" timeout_time_wait)" 42
	module_state no
	expect_eq "init_net after unload" "$(ipvsadm -L --timeout | sed -E 's/.*: *//')" "1234 120 $udp"
	ipvsadm --set 900 0 0 || fail "ipvsadm --set 900"
	log "module parameters apply to the initial namespace; time_wait is inherited and given back, established stays like ipvsadm's"
}

# A short TIME_WAIT in the director, end to end, then unload. 5 s, not
# less: on the debug kernel one poll of ipvsadm in a namespace takes ~1 s,
# and a 2 s entry was gone before a poll saw it.
short_time_wait() {
	local tw=5 exp t0 r0

	setup
	CLOSE=fin
	topology
	w "$dir" timeout_time_wait $tw || fail "write director time_wait"
	expect_eq "proc active" "$(twr_counter "$dir" active)" 1
	sysctl_w "$dir" net.ipv4.vs.conn_reuse_mode 0
	expect_eq "proc active with conn_reuse_mode=0" "$(twr_counter "$dir" active)" 0
	sysctl_w "$dir" net.ipv4.vs.conn_reuse_mode 2
	expect_eq "proc active with conn_reuse_mode=2" "$(twr_counter "$dir" active)" 1
	sysctl_w "$dir" net.ipv4.vs.conn_reuse_mode 1
	connect_once
	wait_for 10 entry_in TIME_WAIT || fail "no TIME_WAIT entry: '$(ipvs_state)'"
	exp=$(ipvs_expire)
	((exp <= tw)) || fail "TIME_WAIT entry expires in ${exp}s, want <= $tw"
	t0=$SECONDS
	wait_for 15 entry_gone || fail "TIME_WAIT entry still there after 15 s"
	log "TIME_WAIT entry expired $((SECONDS - t0)) s after it was seen (expire shown ${exp}s)"
	wait_for 15 snat_idle || fail "SNAT box still holds the flow"
	r0=$(twr_counter "$dir" resched)
	connect_once
	expect_eq "resched after TIME_WAIT expired" "$(twr_counter "$dir" resched)" "$r0"

	wait_for 10 entry_in TIME_WAIT || fail "no TIME_WAIT entry"
	module_state no
	wait_for 10 entry_gone || fail "old entry did not expire"
	wait_for 15 snat_idle || fail "SNAT box still holds the flow"
	connect_once
	wait_for 10 entry_in TIME_WAIT || fail "no TIME_WAIT entry after unload"
	exp=$(ipvs_expire)
	((exp > 100)) || fail "after unload TIME_WAIT expires in ${exp}s, want IPVS's 120"
	log "after unload a new TIME_WAIT entry expires in ${exp}s (IPVS's default)"
}

require_root
require_cmd ip ipvsadm conntrack twtool modprobe "$IPTABLES"
trap 'cleanup_ns; module_state no' EXIT
dmesg_mark
ktap_header 9
sub defaults defaults
sub live_with_ipvsadm live
sub bad_values bad_values
sub isolation_inheritance isolation
sub unprivileged_userns userns
sub unload_ownership unload
sub module_parameters params
sub short_time_wait short_time_wait
sub kernel_log dmesg_check
ktap_finish
