#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The suite on a debug kernel: build Linux from Debian's linux-source-6.12
# with KASAN, KMEMLEAK, PROVE_LOCKING (lockdep + RCU checks),
# DEBUG_ATOMIC_SLEEP and DEBUG_LIST, from a small config (x86_64 defconfig
# and kvm_guest.config, minus graphics, sound, USB and wireless, plus what
# the tests need; ip_vs as modules), build the module against it, and run
# the stock-flavor suite in QEMU. The guest scans kmemleak at the end; any
# report fails the run. (No legacy flavor here: the fixture is built
# against Debian's headers.)
#
#   scripts/debug-kernel.sh [FILTER]      (make debug-test)
#
# The kernel build is cached in $TWR_CACHE/debug-kernel (rebuilt only
# when this script changes); the first one takes long: see README.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${TWR_CACHE:-/var/cache/ip_vs_tw_resched}
D=$CACHE/debug-kernel
B=$TOP/build/debug
FILTER=${1:-}
TARBALL=/usr/src/linux-source-6.12.tar.xz
KEY=$(sha1sum "$0" | cut -d' ' -f1)
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
	cat >"$SRC/kernel/configs/twr-debug.config" <<-'EOF'
		# ip_vs_tw_resched debug kernel
		CONFIG_LOCALVERSION="-twr-debug"
		CONFIG_LOCALVERSION_AUTO=n
		CONFIG_MODULES=y
		CONFIG_MODULE_UNLOAD=y
		CONFIG_MODULE_SIG=n
		CONFIG_RANDOMIZE_BASE=n
		CONFIG_DEBUG_INFO_NONE=y
		CONFIG_DRM=n
		CONFIG_SOUND=n
		CONFIG_USB_SUPPORT=n
		CONFIG_WLAN=n
		CONFIG_WIRELESS=n
		CONFIG_CFG80211=n
		CONFIG_HID=n
		CONFIG_AGP=n
		CONFIG_SECURITY_SELINUX=n
		CONFIG_AUDIT=n
		CONFIG_BLK_DEV_INITRD=y
		CONFIG_DEVTMPFS=y
		CONFIG_TMPFS=y
		CONFIG_SERIAL_8250=y
		CONFIG_SERIAL_8250_CONSOLE=y
		CONFIG_MAGIC_SYSRQ=y
		CONFIG_PACKET=y
		CONFIG_UNIX=y
		CONFIG_NET_NS=y
		CONFIG_VETH=y
		CONFIG_DUMMY=y
		CONFIG_BRIDGE=y
		CONFIG_NET_IPIP=y
		CONFIG_IPV6=y
		CONFIG_NETFILTER=y
		CONFIG_NETFILTER_ADVANCED=y
		CONFIG_NETFILTER_NETLINK=y
		CONFIG_NF_CONNTRACK=y
		CONFIG_NF_CT_NETLINK=y
		CONFIG_NF_NAT=y
		CONFIG_NF_TABLES=y
		CONFIG_NF_TABLES_INET=y
		CONFIG_NF_TABLES_IPV4=y
		CONFIG_NF_TABLES_IPV6=y
		CONFIG_NFT_COMPAT=y
		CONFIG_NFT_NAT=y
		CONFIG_NFT_MASQ=y
		CONFIG_NFT_CT=y
		CONFIG_NETFILTER_XTABLES=y
		CONFIG_NETFILTER_XT_NAT=y
		CONFIG_NETFILTER_XT_TARGET_MASQUERADE=y
		CONFIG_NETFILTER_XT_TARGET_CT=y
		CONFIG_NETFILTER_XT_TARGET_NOTRACK=y
		CONFIG_NETFILTER_XT_MATCH_DSCP=y
		CONFIG_NETFILTER_XT_MATCH_CONNTRACK=y
		CONFIG_NETFILTER_XT_MATCH_STATE=y
		CONFIG_IP_NF_IPTABLES=y
		CONFIG_IP_NF_FILTER=y
		CONFIG_IP_NF_NAT=y
		CONFIG_IP_NF_TARGET_MASQUERADE=y
		CONFIG_IP_NF_RAW=y
		CONFIG_IP_NF_MANGLE=y
		CONFIG_IP6_NF_IPTABLES=y
		CONFIG_IP6_NF_FILTER=y
		CONFIG_IP6_NF_NAT=y
		CONFIG_IP6_NF_TARGET_MASQUERADE=y
		CONFIG_IP6_NF_RAW=y
		CONFIG_IP_VS=m
		CONFIG_IP_VS_IPV6=y
		CONFIG_IP_VS_PROTO_TCP=y
		CONFIG_IP_VS_RR=m
		CONFIG_IP_VS_FTP=m
		CONFIG_IP_VS_NFCT=y
		CONFIG_DEBUG_FS=y
		CONFIG_KASAN=y
		CONFIG_KASAN_GENERIC=y
		CONFIG_KASAN_INLINE=y
		CONFIG_DEBUG_KMEMLEAK=y
		CONFIG_DEBUG_KMEMLEAK_AUTO_SCAN=n
		CONFIG_PROVE_LOCKING=y
		CONFIG_DEBUG_ATOMIC_SLEEP=y
		CONFIG_DEBUG_LIST=y
	EOF
	echo "# configuring: defconfig kvm_guest.config twr-debug.config"
	make -s -C "$SRC" defconfig >/dev/null &&
		make -s -C "$SRC" kvm_guest.config twr-debug.config >/dev/null || exit 1
	# What did not stick (a dependency missing) would make tests skip.
	missing=$(grep -E '^CONFIG_[A-Z0-9_]+=[ym]$' "$SRC/kernel/configs/twr-debug.config" |
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

# The module against it (W=1 and sparse as everywhere), the tools, the VM.
make -s -C "$TOP" export-src DEST="$B/src" &&
	make -s -C "$B/src" KDIR="$SRC" check >"$B/build.log" 2>&1 ||
	{ echo "not ok debug/build"; tail -n 20 "$B/build.log"; exit 1; }
echo "ok debug/build ($KVER, W=1, sparse)"
mkdir -p "$B/tools" "$B/legacy-none"
for t in twtool twload; do
	gcc -O2 -Wall -Wextra -Werror -o "$B/tools/$t" "$TOP/selftests/tools/$t.c" || exit 1
done
MODROOT=$D/root "$TOP/scripts/mkinitramfs.sh" "$KVER" "$B/src/ip_vs_tw_resched.ko" \
	"$B/legacy-none" "$B/tools" "$B/initramfs.cpio" >"$B/initramfs.log" 2>&1 ||
	{ tail -n 20 "$B/initramfs.log"; exit 1; }

# KASAN and lockdep slow everything down: a longer leash. no5lvl: with
# -cpu max the guest would use 5-level paging, and this KASAN kernel then
# reports a wild access in its first interrupt, before any module loads.
VM_KERNEL=$SRC/arch/x86/boot/bzImage VM_TIMEOUT=${VM_TIMEOUT:-3600} VM_MEM=3072 \
	VM_APPEND="no5lvl" \
	"$TOP/scripts/vm-run.sh" "$KVER" "$B/initramfs.cpio" stock "$B/vm" "$FILTER" |
	tee "$B/results.log"
rc=${PIPESTATUS[0]}
pass=$(grep -cE '\] ok ' "$B/results.log")
fail=$(grep -cE '\] not ok ' "$B/results.log")
skipped=$(grep -cE '\] skip ' "$B/results.log")
echo
echo "$pass passed, $fail failed, $skipped skipped"
((rc == 0 && fail == 0 && pass > 0))
