#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Everything a VM run on one kernel needs, each step reported as a test
# result line ("ok ..." / "not ok ..."):
#   - the module, built with W=1 and sparse in build/src-KVER (no warnings)
#   - the legacy ip_vs fixture (cached in $TWR_CACHE)
#   - the test tools (twtool, twload) and the initramfs
#     build/initramfs-KVER.cpio
#
# usage: prepare-vm.sh KVER        exit 0 when the initramfs is ready
set -uo pipefail

K=$1
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=$TOP/build
CACHE=${TWR_CACHE:-/var/cache/ip_vs_tw_resched}
mkdir -p "$B" "$CACHE"

step() {	# step NAME LOG CMD...: run CMD, report, show the log's tail on failure
	local name=$1 log=$2

	shift 2
	if "$@" >"$log" 2>&1; then
		echo "ok $name"
	else
		echo "not ok $name"
		tail -n 30 "$log" | sed 's/^/#   /'
		return 1
	fi
}

build_module() {
	local src=$B/src-$K

	make -s -C "$TOP" export-src DEST="$src" &&
		make -s -C "$src" KVER="$K" check
}

step "build/$K (W=1, sparse: no warnings)" "$B/build-$K.log" build_module || exit 1
step "legacy_fixture/$K" "$B/legacy-$K.log" \
	"$TOP/scripts/build-legacy-ipvs.sh" "$K" "$CACHE/legacy/$K" || exit 1
mkdir -p "$B/tools"
for t in twtool twload; do
	gcc -O2 -Wall -Wextra -Werror -o "$B/tools/$t" "$TOP/selftests/tools/$t.c" ||
		{ echo "not ok $t"; exit 1; }
done
"$TOP/scripts/mkinitramfs.sh" "$K" "$B/src-$K/ip_vs_tw_resched.ko" \
	"$CACHE/legacy/$K" "$B/tools" "$B/initramfs-$K.cpio" >"$B/initramfs-$K.log" 2>&1 ||
	{ echo "not ok initramfs/$K"; tail -n 20 "$B/initramfs-$K.log" | sed 's/^/#   /'; exit 1; }
