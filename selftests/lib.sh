#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Helpers shared by the ip_vs_tw_resched selftests, after
# tools/testing/selftests/net/lib.sh and WireGuard's netns.sh.

ksft_pass=0
ksft_fail=1
ksft_skip=4

TWR_MOD=ip_vs_tw_resched
SLOW_MS=900		# a connect this slow waited for a SYN retransmit

log() { echo "# $*"; }

fail() {
	echo "FAIL: $*"
	exit $ksft_fail
}

skip() {
	echo "SKIP: $*"
	exit $ksft_skip
}

require_cmd() {
	local c

	for c in "$@"; do
		command -v "$c" >/dev/null || skip "command $c not found"
	done
}

require_root() {
	[[ $(id -u) -eq 0 ]] || skip "must run as root"
}

# Unique namespace names; cleanup_ns removes every one we made.
NS_LIST=()
new_ns() {
	local var=$1 name="twr-$1-$$-$RANDOM"

	ip netns add "$name" || fail "ip netns add $name"
	ip -n "$name" link set lo up
	NS_LIST+=("$name")
	printf -v "$var" '%s' "$name"
}

cleanup_ns() {
	local ns pid

	for ns in "${NS_LIST[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	NS_LIST=()
}

# n NS CMD...: run CMD in namespace NS.
n() {
	local ns=$1

	shift
	ip netns exec "$ns" "$@"
}

# veth NS1 IF1 NS2 IF2: a veth pair between two namespaces, both ends up.
veth() {
	ip link add "tmp$$a" type veth peer name "tmp$$b" || fail "veth"
	ip link set "tmp$$a" netns "$1" name "$2"
	ip link set "tmp$$b" netns "$3" name "$4"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# wait_for SECONDS CMD...: poll CMD until it succeeds; 1 on timeout.
wait_for() {
	local end=$((SECONDS + $1))

	shift
	until "$@"; do
		((SECONDS >= end)) && return 1
		sleep 0.05
	done
	return 0
}

# sysctl_w NS KEY VALUE: write a sysctl inside NS through /proc, failing
# loudly (busybox and procps differ; /proc does not).
sysctl_w() {
	local path="/proc/sys/${2//.//}"

	echo "$3" | n "$1" tee "$path" >/dev/null || fail "sysctl $2=$3 in $1"
}

sysctl_r() {
	n "$1" cat "/proc/sys/${2//.//}"
}

module_loaded() {
	[[ -d /sys/module/$1 ]]
}

# module_state yes|no: load or unload ip_vs_tw_resched.
module_state() {
	if [[ $1 == yes ]]; then
		module_loaded $TWR_MOD || modprobe $TWR_MOD ||
			fail "modprobe $TWR_MOD"
	else
		if module_loaded $TWR_MOD; then
			rmmod $TWR_MOD || fail "rmmod $TWR_MOD"
		fi
	fi
}

# twr_counter NS NAME: one counter of /proc/net/ip_vs_tw_resched.
twr_counter() {
	n "$1" awk -v k="$2" '$1 == k { print $2 }' /proc/net/ip_vs_tw_resched
}

# Kernel problems a test run must never produce.
KERNEL_BAD_RE='WARNING:|BUG:|Oops|refcount_t|lockdep|possible circular|KASAN|UBSAN|kmemleak|general protection|RCU stall|Call Trace'

# dmesg_mark / dmesg_check: fail if the kernel complained since the mark.
dmesg_mark() {
	DMESG_LINES=$(dmesg | wc -l)
}

dmesg_check() {
	local bad

	bad=$(dmesg | tail -n +$((DMESG_LINES + 1)) | grep -E "$KERNEL_BAD_RE")
	[[ -z $bad ]] || fail "kernel log: $bad"
}
