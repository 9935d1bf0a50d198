#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the test VM. Kernel command line:
#   twr.flavor=stock|legacy   which ip_vs to test against
#   twr.filter=REGEX          run only tests whose name matches it
#   twr.mode=test|bench       the selftests (default) or the benchmark;
#                             bench takes twr.filter as its parts list
# Results go to the second serial port (ttyS1), which the host reads; the
# last line there is "TWR-DONE" only if the suite ran to its end.
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mkdir -p /run/netns
echo 1 >/proc/sys/kernel/sysrq

flavor=stock filter= mode=test
set -f	# the filter is a regex: no globbing
for arg in $(cat /proc/cmdline); do
	case $arg in
	twr.flavor=*) flavor=${arg#*=} ;;
	twr.filter=*) filter=${arg#*=} ;;
	twr.mode=*) mode=${arg#*=} ;;
	esac
done
set +f

exec 3>/dev/ttyS1
K=$(uname -r)
if [[ $flavor == legacy ]]; then
	mkdir -p /lib/modules/$K/updates
	cp /legacy/*.ko /lib/modules/$K/updates/
	depmod -a
fi
echo "# kernel $K, ip_vs flavor $flavor, $(nproc) CPUs" >&3

if [[ $mode == bench ]]; then
	bash /selftests/benchmark.sh ${filter:+-p "$filter"} >&3 2>&1
	case $? in
	0) echo "ok $flavor/benchmark" >&3 ;;
	*) echo "not ok $flavor/benchmark" >&3 ;;
	esac
else
	/selftests/run_suite.sh "$flavor" "$filter"
fi

# A kernel with kmemleak (scripts/debug-kernel.sh): everything the tests
# allocated and lost shows up now.
if mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null &&
	[[ -w /sys/kernel/debug/kmemleak ]]; then
	# Two scans (each returns when done): a report needs an object seen
	# unreferenced by both.
	echo scan >/sys/kernel/debug/kmemleak
	echo scan >/sys/kernel/debug/kmemleak
	leaks=$(cat /sys/kernel/debug/kmemleak)
	if [[ -n $leaks ]]; then
		echo "not ok $flavor/kmemleak" >&3
		echo "$leaks" | head -n 60 | sed 's/^/#   /' >&3
	else
		echo "ok $flavor/kmemleak (scanned, nothing unreferenced)" >&3
	fi
fi

source /selftests/lib.sh	# KERNEL_BAD_RE
bad=$(dmesg | grep -E "$KERNEL_BAD_RE")
if [[ -n $bad ]]; then
	echo "not ok $flavor/kernel_log" >&3
	echo "$bad" | sed 's/^/#   /' >&3
else
	echo "ok $flavor/kernel_log" >&3
fi
echo "TWR-DONE" >&3
sync
echo o >/proc/sysrq-trigger
sleep 10
