#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the test VM. Kernel command line:
#   twr.tests=A.sh,B.sh   the tests to run (names in kselftest-list.txt);
#                         empty: all of them
#   twr.mode=test|bench   the selftests through kselftest's runner
#                         (default), or the benchmark; bench takes
#                         twr.tests as its parts list
# NAME=VALUE parameters without a dot (KSFT_MACHINE_SLOW=yes, BENCH_*)
# reach this script, and the tests, as environment variables.
# KSFT_TIMEOUT=S: kselftest's per-program timeout instead of the settings
# file's (run_kselftest.sh -o), for a long measuring run.
# Everything goes to the second serial port (ttyS1), which the host
# reads; its last line is "TWR-DONE" only if the run got to its end.
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# What udev would add: the runner logs to /dev/stdout.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mkdir -p /run/netns
echo 1 >/proc/sys/kernel/sysrq

program_times() {	# the runner's lines, each program's time after its result
	local l t0=$SECONDS

	while IFS= read -r l; do
		printf '%s\n' "$l"
		if [[ $l =~ ^(not\ )?ok\ [0-9]+\ selftests:\ [^:]+:\ ([^ ]+) ]]; then
			printf '# time: %s %d s\n' "${BASH_REMATCH[2]}" $((SECONDS - t0))
			t0=$SECONDS
		fi
	done
}

tests= mode=test
for arg in $(cat /proc/cmdline); do
	case $arg in
	twr.tests=*) tests=${arg#*=} ;;
	twr.mode=*) mode=${arg#*=} ;;
	esac
done

exec 3>/dev/ttyS1
K=$(uname -r)
echo "# kernel $K, $(nproc) CPUs${KSFT_MACHINE_SLOW:+, KSFT_MACHINE_SLOW=$KSFT_MACHINE_SLOW}" >&3
T=/ksft/net/ipvs_tw_resched

if [[ $mode == bench ]]; then
	bash $T/benchmark.sh ${tests:+-p "$tests"} >&3 2>&1
	case $? in
	0) echo "ok benchmark" >&3 ;;
	*) echo "not ok benchmark" >&3 ;;
	esac
else
	sel=()
	for t in ${tests//,/ }; do
		sel+=(-t "net/ipvs_tw_resched:$t")
	done
	# A slow machine (KSFT_MACHINE_SLOW=yes: the tests' waits are three
	# times longer) gets three times the per-program timeout of settings.
	# KSFT_TIMEOUT (seconds), for a long measuring run, overrides both.
	if [[ -n ${KSFT_TIMEOUT:-} ]]; then
		sel+=(-o "$KSFT_TIMEOUT")
	elif [[ ${KSFT_MACHINE_SLOW:-} == yes ]]; then
		t=$(sed -n 's/^timeout=//p' $T/settings)
		sel+=(-o $((${t:-45} * 3)))
	fi
	# The kernel's own runner, as a kernel CI runs installed kselftests;
	# after each program's result line, its time ("# time: NAME S s"),
	# which the host sums up (where CI's minutes go).
	(cd /ksft && ./run_kselftest.sh "${sel[@]}") 2>&1 | program_times >&3
fi

# A kernel with kmemleak (scripts/debug-kernel.sh): everything the tests
# allocated and lost shows up now.
if mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null &&
	[[ -w /sys/kernel/debug/kmemleak ]]; then
	# Two scans (each returns when done): a report needs an object seen
	# unreferenced by both. A kmemleak that disabled itself (its object
	# pool ran out, an internal error) refuses the scan and lists
	# nothing: that is no pass.
	if ! { echo scan >/sys/kernel/debug/kmemleak && echo scan >/sys/kernel/debug/kmemleak; } 2>/dev/null; then
		echo "not ok kmemleak (scan refused: kmemleak is off)" >&3
		dmesg | grep -i kmemleak | tail -n 5 | sed 's/^/#   /' >&3
	elif ! leaks=$(cat /sys/kernel/debug/kmemleak); then
		echo "not ok kmemleak (its report could not be read)" >&3
	elif [[ -n $leaks ]]; then
		echo "not ok kmemleak" >&3
		echo "$leaks" | head -n 60 | sed 's/^/#   /' >&3
	else
		echo "ok kmemleak (scanned, nothing unreferenced)" >&3
	fi
fi

source $T/lib.sh	# KERNEL_BAD_RE
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
