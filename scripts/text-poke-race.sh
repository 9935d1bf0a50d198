#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel BOOTS times under scripts/vm-run.sh's QEMU and patch
# live kernel text while the other vCPU runs into it
# (scripts/text-poke-race-init.sh): TRIALS times nf_conntrack's DO_ONCE
# key in nf_ct_get_id() flipped under conntrack -L, as the demo's first
# dump of a boot does, then TOGGLES trace event on/off turns. This is
# what ended a demo run with "Oops: int3 ... RIP: nf_ct_get_id+0x25"
# (issue #23): QEMU's multi-threaded TCG can keep running a translation
# of the int3 that text_poke_bp() put there after the kernel has
# replaced it and synchronised every CPU. Counts the boots that reached
# their end and the ones that died, and how.
#
# usage: text-poke-race.sh [-k KVER] [-n BOOTS] [-t TRIALS] [-g TOGGLES]
#                          [-m ARM] [-p CPU]
#   -k KVER     an installed kernel release (default: the newest Debian
#               cloud kernel)
#   -n BOOTS    VMs booted one after the other (default 10)
#   -t TRIALS   once-key trials per boot (default 2)
#   -g TOGGLES  trace event on/off turns per boot (default 100)
#   -m ARM      none | loadunload | loaded: ip_vs_tw_resched never loaded,
#               loaded and unloaded before each part (as the demo does),
#               or loaded during them (default none)
#   -p CPU      run QEMU on this one host CPU only (taskset): its threads
#               then take turns on it, as on a busy host
# env: VM_ACCEL, VM_CPU, VM_SMP as scripts/vm-run.sh takes them
#      (default: its settings)
# Last line: "N passed, N failed" over the boots; exit 1 if a boot failed.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
B=$TOP/build
K= BOOTS=10 TRIALS=2 TOGGLES=100 ARM=none PIN=()
while getopts "k:n:t:g:m:p:" o; do
	case $o in
	k) K=$OPTARG ;;
	n) BOOTS=$OPTARG ;;
	t) TRIALS=$OPTARG ;;
	g) TOGGLES=$OPTARG ;;
	m) ARM=$OPTARG ;;
	p) PIN=(taskset -c "$OPTARG") ;;
	*) sed -n '/^# usage/,/^# Last/p' "$0"; exit 2 ;;
	esac
done
[[ $ARM =~ ^(none|loadunload|loaded)$ ]] || { echo "bad arm '$ARM'" >&2; exit 2; }
if [[ -n $K ]]; then
	line=$("$TOP/scripts/kernels.sh" "$K" | sed -n 1p)
else
	line=$("$TOP/scripts/kernels.sh" debian | tail -n 1)
fi
read -r K img mroot kdir <<<"$line"
[[ -n $K && $img != - ]] || { echo "no bootable kernel" >&2; exit 1; }

# The module, and an initramfs with the reproducer's init and lib.sh
# (for KERNEL_BAD_RE).
R=$B/text-poke-race
rm -rf "$R/vm"
mkdir -p "$R/ksft/net/ipvs_tw_resched" "$R/vm"
cp "$TOP/selftests/lib.sh" "$R/ksft/net/ipvs_tw_resched/"
make -s -C "$TOP" export-src DEST="$R/src-$K" >"$R/build.log" 2>&1 &&
	make -s -C "$R/src-$K" KDIR="$kdir" module >>"$R/build.log" 2>&1 ||
	{ echo "not ok build (see $R/build.log)"; exit 1; }
INIT=$TOP/scripts/text-poke-race-init.sh MODROOT=$mroot \
	"$TOP/scripts/mkinitramfs.sh" "$K" "$R/src-$K/ip_vs_tw_resched.ko" "$R/ksft" \
	"$R/initramfs-$K.cpio" >"$R/initramfs.log" 2>&1 ||
	{ echo "not ok initramfs (see $R/initramfs.log)"; exit 1; }

vmdef() { sed -nE "s/^$1=\\\$\\{$2:-(.*)\\}$/\\1/p" "$TOP/scripts/vm-run.sh"; }
qemu="accel=${VM_ACCEL:-$(vmdef ACCEL VM_ACCEL)} cpu=${VM_CPU:-$(vmdef CPU VM_CPU)} smp=${VM_SMP:-$(vmdef SMP VM_SMP)}${PIN:+ host-cpu=${PIN[2]}}"
echo "# $K, $BOOTS boots x ($TRIALS once-key trials + $TOGGLES toggles), arm=$ARM, $qemu"
pass=0 fail=0 once=0 tog=0 other=0 trials=0 toggles=0 start=$SECONDS
for ((i = 1; i <= BOOTS; i++)); do
	o=$R/vm/$i
	mkdir -p "$o"
	"${PIN[@]}" env VM_MODE=race VM_TIMEOUT=$((120 + 30 * TRIALS + TOGGLES)) \
		VM_APPEND="twr.arm=$ARM twr.trials=$TRIALS twr.toggles=$TOGGLES ${VM_APPEND:-}" \
		"$TOP/scripts/vm-run.sh" "$K" "$img" "$R/initramfs-$K.cpio" "$o" >"$o.out" 2>&1
	rc=$?
	t=$(grep -cE '\] ok [0-9]+ trial$' "$o.out")
	g=$(sed -nE 's/.*\] ok toggles \(([0-9]+) in.*/\1/p' "$o.out")
	[[ -n $g ]] || g=$(sed -nE 's/.*\] # ([0-9]+) toggles$/\1/p' "$o.out" | tail -n 1)
	trials=$((trials + t)) toggles=$((toggles + ${g:-0}))
	if ((rc == 0)); then
		pass=$((pass + 1))
		echo "ok $i boot ($t trials, $g toggles)"
		continue
	fi
	fail=$((fail + 1))
	why=$(grep -m1 -oE 'Oops: [a-z0-9 ]+|Kernel panic - not syncing: [^,]*|BUG: [^,]*|WARNING: .*' "$o/console.log")
	rip=$(grep -m1 -oE 'RIP: 0010:[^ ]+' "$o/console.log")
	if [[ $why == Oops:\ int3* && $rip == *nf_ct_get_id* ]]; then
		once=$((once + 1))
	elif [[ $why == Oops:\ int3* ]] && ((t == TRIALS)); then
		tog=$((tog + 1))
	else
		other=$((other + 1))
	fi
	echo "not ok $i boot (after $t trials, ${g:-0} toggles: ${why:-no kernel message} ${rip#RIP: 0010:}; $o/console.log)"
done
echo "# $K arm=$ARM $qemu: $fail of $BOOTS boots failed: $once int3 in nf_ct_get_id" \
	"(once-key trials), $tog int3 during the toggles, $other other;" \
	"$trials trials and $toggles toggles completed; $(((SECONDS - start) / 60)) min"
echo "$pass passed, $fail failed"
((fail == 0))
