#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Create and destroy many network namespaces, each with an IPVS service,
# a connection entry and its own tw_resched settings, while the module is
# loaded; unload and reload it halfway. Nothing may leak.
#
#   ns 1..N: lo, dummy0 10.9.0.1/24, IPVS 10.9.0.1:80 -> 10.9.0.2:80 (NAT)
#            a local SYN to the VIP (an IPVS entry), timeout_time_wait=7
#   halfway: rmmod + modprobe with the namespaces alive
#   then all deleted
#
# Asserts: each namespace has the module's sysctls and /proc file (and
# inherits the initial namespace's values) while it lives; no kernel
# complaint; every namespace is really torn down afterwards: the module's
# count of live per-namespace states ("namespaces" in its /proc file; a
# leaked reference would keep a namespace alive) returns to its baseline;
# rmmod succeeds afterwards.
#
# usage: netns_churn.sh [N]   (default 40)

source "$(dirname "$0")/lib.sh"

N=${1:-40}
require_root
require_cmd ip ipvsadm modprobe rmmod
trap 'cleanup_ns' EXIT
dmesg_mark
module_state no
modprobe ip_vs || fail "modprobe ip_vs"
module_state yes

D=/proc/sys/net/ipv4/vs/tw_resched
live() { twr_counter "" namespaces; }
base=$(live)
echo 9 >$D/timeout_close || fail "init_net timeout_close"

made=0
for ((i = 1; i <= N; i++)); do
	new_ns x
	ip -n "$x" link add dummy0 type dummy || fail "dummy"
	ip -n "$x" link set dummy0 up
	ip -n "$x" addr add 10.9.0.1/24 dev dummy0
	n "$x" ipvsadm -A -t 10.9.0.1:80 -s rr || fail "ipvsadm -A in ns $i"
	n "$x" ipvsadm -a -t 10.9.0.1:80 -r 10.9.0.2:80 -m || fail "ipvsadm -a in ns $i"
	echo 7 | n "$x" tee $D/timeout_time_wait >/dev/null || fail "sysctl in ns $i"
	[[ $(n "$x" cat $D/timeout_close) == 9 ]] || fail "ns $i did not inherit timeout_close"
	n "$x" grep -q '^resched ' /proc/net/ip_vs_tw_resched || fail "no /proc file in ns $i"
	# A local client's SYN: IPVS creates an entry (nobody answers).
	n "$x" timeout 0.3 bash -c 'exec 3<>/dev/tcp/10.9.0.1/80' 2>/dev/null
	made=$((made + 1))
	if ((i == N / 2)); then
		rmmod $TWR_MOD || fail "rmmod with $i namespaces alive"
		modprobe $TWR_MOD || fail "modprobe with $i namespaces alive"
		[[ $(n "$x" cat $D/timeout_time_wait) == 120 ]] ||
			fail "reload did not reset the namespace to IPVS's value"
		echo 9 >$D/timeout_close
	fi
done
entries=$(for ns in "${NS_LIST[@]}"; do n "$ns" ipvsadm -Lnc | grep -c '^TCP'; done |
	awk '{ s += $1 } END { print s }')
cleanup_ns

netns_back() { (($(live) == base)); }
wait_for 90 netns_back || fail "$(live) namespaces still hold module state, baseline $base"
log "RESULT $made namespaces with IPVS ($entries connection entries) created and" \
	"deleted, module reloaded at $((N / 2)); live namespaces back to $(live)" \
	"(baseline $base)"
module_state no
dmesg_check
echo PASS
exit $ksft_pass
