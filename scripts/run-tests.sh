#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole test suite, one command (README, .ci/run):
#   1. install dependencies (scripts/deps.sh)
#   2. for each Debian cloud kernel (6.1, 6.12): build the module with W=1
#      and sparse, no warnings allowed; build the legacy ip_vs fixture
#   3. make install, DKMS install, modinfo; checkpatch on the sources
#   4. boot each kernel under QEMU twice, stock and legacy ip_vs, and run
#      selftests/ there
# Ends with "N passed, N failed, N skipped"; exit 1 if anything failed or
# nothing ran.
#
# usage: run-tests.sh [FILTER]     FILTER: only VM tests whose name matches
#                                  this extended regex (e.g. 'snat_rst|sysctl')
# env:   KERNELS="6.1.0-57-cloud-amd64 ..."  FLAVORS="stock legacy"
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
FILTER=${1:-}
B=$TOP/build
CACHE=${TWR_CACHE:-/var/cache/ip_vs_tw_resched}
LOG=$B/test-results.log
mkdir -p "$B" "$CACHE"
export TWR_CACHE=$CACHE
: >"$LOG"

result() {	# result ok|"not ok"|skip NAME [why]
	echo "$*" | tee -a "$LOG"
}

"$TOP/scripts/deps.sh" || { result "not ok deps"; exit 1; }

KERNELS=${KERNELS:-$("$TOP/scripts/kernels.sh")}
FLAVORS=${FLAVORS:-stock legacy}
[[ -n $KERNELS ]] || { result "not ok kernels (no cloud kernel with headers installed)"; exit 1; }

# Per kernel: module (W=1, sparse), legacy fixture, initramfs.
READY=()
for k in $KERNELS; do
	"$TOP/scripts/prepare-vm.sh" "$k" >"$B/prepare-$k.out"
	rc=$?
	tee -a "$LOG" <"$B/prepare-$k.out"
	((rc == 0)) && READY+=("$k")
done

# make install / DKMS / modinfo, per kernel (nothing stays installed).
for k in $KERNELS; do
	"$TOP/scripts/test-install.sh" "$k" 2>/dev/null | tee -a "$LOG"
done

# checkpatch, from the newest linux-source's scripts/.
series=$(ls /usr/src/linux-source-*.tar.xz | sort -V | tail -n 1 | sed -E 's/.*linux-source-(.*)\.tar\.xz/\1/')
cp_dir=$CACHE/checkpatch-$series
if [[ ! -x $cp_dir/scripts/checkpatch.pl ]]; then
	mkdir -p "$cp_dir"
	tar -C "$cp_dir" -xf /usr/src/linux-source-"$series".tar.xz --strip-components=1 \
		linux-source-"$series"/scripts/checkpatch.pl \
		linux-source-"$series"/scripts/spelling.txt \
		linux-source-"$series"/scripts/const_structs.checkpatch
fi
if (cd "$TOP" && make -s style CHECKPATCH="$cp_dir/scripts/checkpatch.pl") >"$B/style.log" 2>&1 &&
	! grep -qE '^(ERROR|WARNING|CHECK):' "$B/style.log"; then
	result "ok style/checkpatch --strict"
else
	result "not ok style/checkpatch"
	grep -E -A3 '^(ERROR|WARNING|CHECK):' "$B/style.log" | sed 's/^/#   /' | head -n 40
fi

# The VM runs.
for k in "${READY[@]}"; do
	for f in $FLAVORS; do
		echo "# booting $k with $f ip_vs"
		"$TOP/scripts/vm-run.sh" "$k" "$B/initramfs-$k.cpio" "$f" "$B/vm/$k-$f" "$FILTER" |
			tee -a "$LOG"
	done
done

# A run whose VMs tested nothing is a failure, not a pass.
grep -qE '^\[[^]]*\] (ok|not ok) ' "$LOG" || result "not ok vm (no test ran in any VM)"

pass=$(grep -cE '(^|\] )ok ' "$LOG")
fail=$(grep -cE '(^|\] )not ok ' "$LOG")
skipped=$(grep -cE '(^|\] )skip ' "$LOG")
echo
echo "$pass passed, $fail failed, $skipped skipped"
((fail == 0 && pass > 0))
