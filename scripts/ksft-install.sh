#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the selftests the way a kernel CI gets them: put selftests/ into
# a kernel tree as tools/testing/selftests/net/ipvs_tw_resched and run
# that tree's own kselftest install for that target. The tree is the
# kselftest part of Debian's linux-source-6.12 (its tools/testing/selftests
# framework files: Makefile, lib.mk, kselftest/, run_kselftest.sh, the
# kselftest headers), extracted once into $TWR_CACHE and never copied
# into this repository.
#
# usage: ksft-install.sh OUTDIR
#   OUTDIR gets run_kselftest.sh, kselftest/, kselftest-list.txt and
#   net/ipvs_tw_resched/ (the tests, their helpers and C tools).
set -euo pipefail

OUT=$1
TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${TWR_CACHE:-/var/cache/ip_vs_tw_resched}
TAR=$(ls /usr/src/linux-source-6.12.tar.xz 2>/dev/null || ls /usr/src/linux-source-*.tar.xz | sort -V | tail -n 1)
SER=$(basename "$TAR" .tar.xz)
KT=$CACHE/ksft/$SER
K=$KT/tools/testing/selftests

if [[ ! -f $KT/.done ]]; then
	rm -rf "$KT"
	mkdir -p "$KT"
	tar -C "$KT" -xf "$TAR" --strip-components=1 \
		"$SER/tools/testing/selftests/Makefile" \
		"$SER/tools/testing/selftests/lib.mk" \
		"$SER/tools/testing/selftests/kselftest" \
		"$SER/tools/testing/selftests/run_kselftest.sh" \
		"$SER/tools/testing/selftests/kselftest_install.sh" \
		"$SER/tools/testing/selftests/kselftest.h" \
		"$SER/tools/testing/selftests/kselftest_harness.h" \
		"$SER/scripts/subarch.include"
	touch "$KT/.done"
fi

# The tests go into a copy of that tree of this install's own, beside
# OUTDIR: two installs at once (two kernels of one run, or two checkouts)
# would otherwise copy into, and build in, one directory, and a VM could
# boot the other checkout's tests. (The extraction above is not shared
# safely by two first installs at once: deps.sh runs before any.)
S=$OUT.tree
T=$S/tools/testing/selftests/net/ipvs_tw_resched
rm -rf "$S" "$OUT"
mkdir -p "$S" "$OUT"
cp -r "$KT/tools" "$KT/scripts" "$S"/
rm -rf "$T"	# an install of the layout before this one left its tests there
mkdir -p "$T"
cp -rL "$TOP"/selftests/. "$T"/
rm -f "$T"/twtool "$T"/twload "$T"/twtool-static
make -s -C "$S/tools/testing/selftests" TARGETS=net/ipvs_tw_resched install INSTALL_PATH="$OUT" \
	>"$OUT.make.log" 2>&1 ||
	{ cat "$OUT.make.log"; exit 1; }
[[ -x $OUT/run_kselftest.sh && -s $OUT/kselftest-list.txt && -x $OUT/net/ipvs_tw_resched/twtool ]] ||
	{ echo "kselftest install of net/ipvs_tw_resched incomplete in $OUT" >&2; exit 1; }
echo "installed with $SER's kselftest: $(wc -l <"$OUT/kselftest-list.txt") tests in $OUT"
