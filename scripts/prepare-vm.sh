#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Everything a VM run on one kernel needs, each step reported as a result
# line ("ok ..." / "not ok ..."):
#   - the module, built with W=1 and sparse in build/src-KVER (no warnings;
#     scripts/check.sh, "make check")
#   - the test tools and the selftests, installed the way kselftest
#     installs them (selftests/Makefile)
#   - the initramfs build/initramfs-KVER.cpio (not for a headers-only
#     kernel, IMAGE "-": there the build is the whole test)
#
# usage: prepare-vm.sh KVER IMAGE MODROOT KDIR     (a line of kernels.sh)
# exit 0 when the initramfs is ready (or, headers only, the build passed)
set -uo pipefail

K=$1 IMAGE=$2 MODROOT=$3 KDIR=$4
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
		"$TOP/scripts/check.sh" "$KDIR" "$src"
}

log=$B/build-$K.log
if step "build/$K" "$log" build_module; then
	# The kernel's build system turns sparse off when it is too old for
	# its headers (7.x needs __typeof_unqual__, Debian 12 has 0.6.4).
	if grep -q 'specified, but .* is not available or not up to date' "$log"; then
		echo "# build/$K: W=1 clean; sparse not run: $(sparse --version 2>/dev/null) is too old for these headers (the kernel's checker-valid.sh refused it)"
	else
		echo "# build/$K: W=1 and sparse clean"
	fi
	# What the check did in place of this kernel's own tools.
	sed -n "s|^check: |# build/$K: |p" "$log"
else
	exit 1
fi
[[ $IMAGE == - ]] && exit 0

"$TOP/scripts/ksft-install.sh" "$B/ksft-$K" >"$B/ksft-$K.log" 2>&1 ||
	{ echo "not ok selftests-install/$K"; tail -n 20 "$B/ksft-$K.log" | sed 's/^/#   /'; exit 1; }
MODROOT=$MODROOT "$TOP/scripts/mkinitramfs.sh" "$K" "$B/src-$K/ip_vs_tw_resched.ko" \
	"$B/ksft-$K" "$B/initramfs-$K.cpio" >"$B/initramfs-$K.log" 2>&1 ||
	{ echo "not ok initramfs/$K"; tail -n 20 "$B/initramfs-$K.log" | sed 's/^/#   /'; exit 1; }
