#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot one kernel under QEMU (TCG) with an initramfs from mkinitramfs.sh,
# run the selftests there through kselftest's runner, and print what they
# reported, each line tagged with the kernel. panic_on_warn=1: a kernel
# WARN ends the run; a run that does not reach its end marker, or reports
# fewer results than its plan, counts as a failure, as does any kernel
# problem on the console. slab_nomerge: every cache keeps its own name in
# /proc/slabinfo, so the tests can count ip_vs_conn and net_namespace.
# log_buf_len=8M: the tests read the kernel log (LOG rules, complaints),
# and a full buffer drops its oldest lines. no_timer_check: the boot-time
# probe of the IO-APIC timer route, which KVM guests skip by themselves,
# once panicked an emulated boot on a loaded host ("IO-APIC + timer
# doesn't work"), before anything of ours ran.
# no5lvl: -cpu max offers 5-level paging (LA57); RHEL 8.7's 4.18 reset
# at once with an empty console in 3 of 98 boots with it (a CI run and
# boot loops), 0 of 80 with no5lvl (0 of 80 with nokaslr too; at 3 in 98,
# 0 of 80 by chance has p = 0.08: LA57's early boot, not proven); the
# debug kernel's KASAN reported a wild access with it. Directors run
# 4-level paging nearly everywhere.
# One QEMU thread runs all vCPUs (thread=single): with a thread per vCPU,
# QEMU 7.2 can go on running its translation of an int3 that the kernel's
# live text patching (static keys, DO_ONCE, tracepoints, kprobes) has
# already replaced, and the guest dies with "Oops: int3" (issue #23,
# scripts/text-poke-race.sh, Documentation/testing.rst).
#
# usage: vm-run.sh KVER IMAGE INITRAMFS OUTDIR [TESTS]
#        TESTS: comma-separated test names (default: all)
# env:   VM_TIMEOUT (s, 3600) VM_MEM (MiB, 2048) VM_SMP (vCPUs, 2)
#        VM_ACCEL (QEMU -accel, tcg,thread=single) VM_CPU (QEMU -cpu, max)
#        VM_MODE (test|bench)
#        VM_APPEND: more kernel parameters; NAME=VALUE ones without a dot
#        reach the guest's init (and the tests) as environment variables
#        VM_ICOUNT: QEMU -icount options (e.g. shift=4,sleep=off): guest
#        time counts executed instructions, not host time (one host
#        thread for all vCPUs)
# Exit: 0 all passed, 1 otherwise. OUTDIR gets console.log and results.log.
set -uo pipefail

KVER=$1 IMAGE=$2 INITRD=$3 OUT=$4 TESTS=${5:-}
TIMEOUT=${VM_TIMEOUT:-3600}
MODE=${VM_MODE:-test}
MEM=${VM_MEM:-2048}
SMP=${VM_SMP:-2}
ACCEL=${VM_ACCEL:-tcg,thread=single}
CPU=${VM_CPU:-max}
mkdir -p "$OUT"
rm -f "$OUT/console.log" "$OUT/results.log"

t0=$SECONDS
timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 \
	-accel "$ACCEL" -cpu "$CPU" -smp "$SMP" -m "$MEM" ${VM_ICOUNT:+-icount "$VM_ICOUNT"} \
	-nodefaults -display none -no-reboot \
	-kernel "$IMAGE" -initrd "$INITRD" \
	-append "console=ttyS0 panic_on_warn=1 panic=-1 oops=panic softlockup_panic=1 loglevel=4 log_buf_len=8M no_timer_check no5lvl slab_nomerge twr.tests=$TESTS twr.mode=$MODE ${VM_APPEND:-}" \
	-serial "file:$OUT/console.log" -serial "file:$OUT/results.log" \
	</dev/null >"$OUT/qemu.log" 2>&1
qrc=$?

tag="[$KVER]"
tr -d '\r' <"$OUT/results.log" | sed "s|^|$tag |"
rc=0
if ! grep -q '^TWR-DONE' "$OUT/results.log"; then
	echo "$tag not ok vm_run (the run did not finish; qemu exit $qrc; see $OUT/console.log)"
	tail -n 40 "$OUT/console.log" | sed "s|^|$tag #   |"
	rc=1
fi
if [[ $MODE == test ]]; then
	plan=$(sed -nE 's/^1\.\.([0-9]+)\r?$/\1/p' "$OUT/results.log" | head -n 1)
	got=$(grep -cE '^(not )?ok [0-9]+ selftests: ' "$OUT/results.log")
	if [[ -z $plan || $got -ne $plan ]]; then
		echo "$tag not ok vm_results (kselftest planned ${plan:-nothing}, reported $got)"
		rc=1
	fi
fi
BAD="Kernel panic|$(sed -n "s/^KERNEL_BAD_RE='\(.*\)'$/\1/p" "$(dirname "$0")/../selftests/lib.sh")"
if grep -qE "$BAD" "$OUT/console.log"; then
	echo "$tag not ok console_log (kernel problem, see $OUT/console.log)"
	grep -E -A20 "$BAD" "$OUT/console.log" | head -40 | sed "s|^|$tag #   |"
	rc=1
fi
grep -qE '^not ok ' "$OUT/results.log" && rc=1
# times: this shell's, then its children's (qemu) user and system time
# (in this shell: a $(...) subshell has no children of its own).
times >"$OUT/times"
cpu=$(sed -n 2p "$OUT/times" | awk '{ for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } } END { printf "%d", s }')
echo "$tag # vm time: $((SECONDS - t0)) s, qemu CPU $cpu s, host load $(cut -d' ' -f1-3 /proc/loadavg)"
exit $rc
