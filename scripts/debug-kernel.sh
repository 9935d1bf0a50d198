#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The suite on a debug kernel: build Linux from Debian's linux-source-6.12
# with KASAN, KMEMLEAK, PROVE_LOCKING (lockdep + RCU checks),
# DEBUG_ATOMIC_SLEEP and DEBUG_LIST, from x86_64 defconfig,
# kvm_guest.config, selftests/config (what the tests need, as a kernel CI
# would build it) and scripts/debug-kernel.config (the debug options; no
# graphics, sound, USB or wireless), build the module against it, and run
# the suite in QEMU with KSFT_MACHINE_SLOW=yes. The guest scans kmemleak
# at the end; any report fails the run.
#
#   scripts/debug-kernel.sh [FILTER]      (make debug-test)
#
# The kernel build is cached in $TWR_CACHE/debug-kernel (rebuilt only
# when scripts/debug-kernel.config changes); the first one takes long:
# see README.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${TWR_CACHE:-/var/cache/ip_vs_tw_resched}
D=$CACHE/debug-kernel
B=$TOP/build/debug
FILTER=${1:-}
TARBALL=/usr/src/linux-source-6.12.tar.xz
# The build depends on the config fragments only: editing this script must
# not throw away an hour of compiling.
KEY=$(cat "$TOP/selftests/config" "$TOP/scripts/debug-kernel.config" | sha1sum | cut -d' ' -f1)
mkdir -p "$D" "$B"

"$TOP/scripts/deps.sh" || exit 1
[[ -f $TARBALL ]] || { echo "missing $TARBALL (linux-source-6.12)" >&2; exit 1; }
for p in flex bison bc libelf-dev libssl-dev; do
	dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q 'ok installed' ||
		need+=" $p"
done
if [[ -n ${need:-} ]]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null ||
		exit 1
fi

SRC=$D/src
if [[ ! -f $D/.stamp || $(cat "$D/.stamp") != "$KEY" ]]; then
	rm -rf "$SRC" "$D/.stamp" "$D/root"
	mkdir -p "$SRC"
	echo "# extracting $TARBALL"
	tar -C "$SRC" -xf "$TARBALL" --strip-components=1
	cp "$TOP/selftests/config" "$SRC/kernel/configs/twr-selftests.config"
	cp "$TOP/scripts/debug-kernel.config" "$SRC/kernel/configs/twr-debug.config"
	echo "# configuring: defconfig kvm_guest.config twr-selftests.config twr-debug.config"
	make -s -C "$SRC" defconfig >/dev/null &&
		make -s -C "$SRC" kvm_guest.config twr-selftests.config twr-debug.config >/dev/null || exit 1
	# What did not stick (a dependency missing) would make tests skip.
	missing=$(cat "$SRC/kernel/configs/twr-selftests.config" "$SRC/kernel/configs/twr-debug.config" |
		grep -E '^CONFIG_[A-Z0-9_]+=[ym]$' |
		while read -r want; do grep -qx "$want" "$SRC/.config" || echo "$want"; done)
	[[ -z $missing ]] || { echo "config options not taken: $missing" >&2; exit 1; }
	echo "# building the debug kernel ($(nproc) CPUs)"
	start=$SECONDS
	make -s -C "$SRC" -j"$(nproc)" bzImage modules >"$D/build.log" 2>&1 ||
		{ tail -n 30 "$D/build.log"; exit 1; }
	make -s -C "$SRC" INSTALL_MOD_PATH="$D/root" modules_install >/dev/null || exit 1
	echo "$((SECONDS - start))" >"$D/build-seconds"
	echo "$KEY" >"$D/.stamp"
fi
KVER=$(make -s -C "$SRC" kernelrelease)
echo "# debug kernel $KVER (built in $(cat "$D/build-seconds") s)"

# The module against it (W=1 and sparse as everywhere), the selftests, the VM.
make -s -C "$TOP" export-src DEST="$B/src" &&
	"$TOP/scripts/check.sh" "$SRC" "$B/src" >"$B/build.log" 2>&1 ||
	{ echo "not ok debug/build"; tail -n 20 "$B/build.log"; exit 1; }
echo "ok debug/build ($KVER, W=1, sparse)"
"$TOP/scripts/ksft-install.sh" "$B/ksft" >"$B/ksft.log" 2>&1 ||
	{ echo "not ok debug/selftests-install"; tail -n 20 "$B/ksft.log"; exit 1; }
MODROOT=$D/root "$TOP/scripts/mkinitramfs.sh" "$KVER" "$B/src/ip_vs_tw_resched.ko" \
	"$B/ksft" "$B/initramfs.cpio" >"$B/initramfs.log" 2>&1 ||
	{ tail -n 20 "$B/initramfs.log"; exit 1; }
tests=
for t in $(cut -d: -f2 "$B/ksft/kselftest-list.txt"); do
	[[ -n $FILTER && ! ${t%.sh} =~ $FILTER ]] && continue
	tests+=${tests:+,}$t
done

# KASAN and lockdep slow everything down: a longer leash, and
# KSFT_MACHINE_SLOW=yes (lighter loads, longer waits: selftests/lib.sh).
# (vm-run.sh gives every VM no5lvl: with -cpu max and 5-level paging this
# KASAN kernel reported a wild access in its first interrupt.)
VM_TIMEOUT=${VM_TIMEOUT:-7200} VM_MEM=3072 VM_APPEND="KSFT_MACHINE_SLOW=yes" \
	"$TOP/scripts/vm-run.sh" "$KVER" "$SRC/arch/x86/boot/bzImage" "$B/initramfs.cpio" \
	"$B/vm" "$tests" | tee "$B/results.log"
rc=${PIPESTATUS[0]}
top='^\[[^]]*\] '
pass=$(grep -E "${top}ok " "$B/results.log" | grep -cv '# SKIP')
skipped=$(grep -E "${top}ok " "$B/results.log" | grep -c '# SKIP')
fail=$(grep -cE "${top}not ok " "$B/results.log")
echo
echo "$pass passed, $fail failed, $skipped skipped"
((rc == 0 && fail == 0 && pass > 0))
