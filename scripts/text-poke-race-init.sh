#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of scripts/text-poke-race.sh's VMs: live kernel text patching
# (text_poke_bp: int3, sync, tail, sync, first byte, sync) while another
# vCPU runs into the patched instruction. Two parts:
#   once    TRIALS times: a freshly loaded nf_conntrack (so a fresh
#           DO_ONCE key in nf_ct_get_id()), a table of unreplied flows,
#           one conntrack -L. Its first nf_ct_get_id() call queues the
#           work that turns the once key off; the dump, preempted by that
#           work, goes on, often on the other CPU, while the jump is
#           patched. What the demo's first `conntrack -L` of a boot does.
#   toggle  TOGGLES times: a trace event enabled and disabled. Each turn
#           flips its tracepoint's key and, through the tracer's command
#           line recording, the sched_switch/sched_wakeup keys, whose
#           sites the other CPU reaches at moments of its own: a shell
#           there wakes up at random.
# Kernel command line:
#   twr.arm=none|loadunload|loaded   ip_vs_tw_resched never loaded; loaded
#                                    and unloaded before each part (as
#                                    the demo's first test does); loaded
#                                    during them
#   twr.trials=N twr.toggles=N       (default 2 and 100)
#   twr.flows=N                      conntracks per trial (default 600)
# Results go to ttyS1: "ok N trial", "ok toggles", "ok kernel_log" or
# "not ok kernel_log", then TWR-DONE. A kernel oops panics the VM
# (oops=panic): the host sees no TWR-DONE and the oops on the console.
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tracefs tracefs /sys/kernel/tracing
echo 1 >/proc/sys/kernel/sysrq
ip link set lo up

arm=none trials=2 toggles=100 flows=600
for a in $(cat /proc/cmdline); do
	case $a in
	twr.arm=*) arm=${a#*=} ;;
	twr.trials=*) trials=${a#*=} ;;
	twr.toggles=*) toggles=${a#*=} ;;
	twr.flows=*) flows=${a#*=} ;;
	esac
done
exec 3>/dev/ttyS1
source /ksft/net/ipvs_tw_resched/lib.sh	# KERNEL_BAD_RE
echo "# kernel $(uname -r), $(nproc) CPUs, arm=$arm trials=$trials toggles=$toggles flows=$flows" >&3

IPT=iptables-legacy
RULE=(OUTPUT -m conntrack --ctstate NEW -j ACCEPT)
# Everything that holds nf_conntrack, in unload order.
USERS="ip_vs_tw_resched ip_vs xt_conntrack nf_conntrack_netlink"

loaded() { [[ -d /sys/module/$1 ]]; }

module_arm() {	# the module as the arm wants it for what follows
	case $arm in
	loadunload) modprobe ip_vs_tw_resched && rmmod ip_vs_tw_resched ;;
	loaded) modprobe ip_vs_tw_resched ;;
	esac
}

trial() {	# one fresh once key, flipped under conntrack -L
	local i p

	loaded nf_conntrack && { echo "nf_conntrack still loaded"; return 1; }
	modprobe ip_vs && modprobe nf_conntrack_netlink && module_arm || return 1
	# The conntrack hooks (xt_conntrack asks for them), then $flows
	# unreplied UDP flows over lo: nothing has called nf_ct_get_id() yet.
	$IPT -A "${RULE[@]}" || return 1
	for ((p = 1; p <= flows; p++)); do
		echo >/dev/udp/127.0.0.1/$((20000 + p))
	done 2>/dev/null
	i=$(conntrack -C) || return 1
	((i >= flows)) || { echo "$i conntracks, wanted $flows"; return 1; }
	# One dump, free to move between CPUs, the others idle (as in the
	# demo): its first entry flips the key.
	conntrack -L >/dev/null 2>&1 || return 1
	$IPT -D "${RULE[@]}"
	for m in $USERS nf_conntrack; do
		loaded $m && { rmmod $m || return 1; }
	done
	return 0
}

for ((t = 1; t <= trials; t++)); do
	t0=$(date +%s%N)
	if out=$(trial 2>&1); then
		echo "# trial $t: $((($(date +%s%N) - t0) / 1000000)) ms" >&3
		echo "ok $t trial" >&3
	else
		echo "not ok $t trial" >&3
		echo "$out" | sed 's/^/#   /' >&3
	fi
done

if ((toggles)); then
	modprobe ip_vs && module_arm || echo "not ok toggles (module)" >&3
	E=/sys/kernel/tracing/events/task/task_rename/enable
	(while :; do
		sleep 0.00$((RANDOM % 10))
		echo x >/proc/self/comm
	done) &
	waker=$!
	t0=$(date +%s%N)
	for ((i = 1; i <= toggles; i++)); do
		echo 1 >$E && echo 0 >$E || break
		((i % 25)) || echo "# $i toggles" >&3
	done
	kill $waker
	((i > toggles)) && r=ok || r="not ok"
	echo "$r toggles ($((i - 1)) in $((($(date +%s%N) - t0) / 1000000)) ms)" >&3
fi

bad=$(dmesg | grep -E "$KERNEL_BAD_RE")
if [[ -n $bad ]]; then
	echo "not ok kernel_log" >&3
	echo "$bad" | sed 's/^/#   /' >&3
else
	echo "ok kernel_log" >&3
fi
echo "TWR-DONE" >&3
sync
echo o >/proc/sysrq-trigger
sleep 10
