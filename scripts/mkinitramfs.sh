#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the test VM's root: an initramfs made of this machine's own
# binaries (each with the libraries ldd lists), the kernel's network
# modules, ip_vs_tw_resched.ko and the selftests as kselftest installed
# them (scripts/ksft-install.sh). Debian's cloud kernels have no 9p, so
# the VM gets no shared directory.
#
# usage: mkinitramfs.sh KVER MODULE.ko KSFT_DIR OUT.cpio
#        KSFT_DIR: run_kselftest.sh, kselftest/, kselftest-list.txt and
#        net/ipvs_tw_resched/, put at /ksft ("-": none)
# env:   MODROOT: where lib/modules/KVER is (default /: an installed
#        kernel; kernels.sh names a private root for unpacked packages)
#        INIT: the VM's PID 1 (default scripts/guest-init.sh)
set -euo pipefail

KVER=$1 MODULE=$2 KSFT=$3 OUT=$4
TOP=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT

# Mirror the host's merged /usr (/bin -> usr/bin, ...) first.
for d in bin sbin lib lib64; do
	if [[ -L /$d ]]; then
		mkdir -p "$ROOT/$(readlink /$d)"
		ln -s "$(readlink /$d)" "$ROOT/$d"
	fi
done

add_file() {	# copy a file, keeping its path (links resolved)
	mkdir -p "$ROOT$(dirname "$1")"
	cp -L "$1" "$ROOT$1"
}

add_bin() {	# a binary and every library it loads
	local b lib

	b=$(type -P "$1") || { echo "missing binary $1" >&2; exit 1; }
	[[ -e $ROOT$b ]] && return 0
	add_file "$b"
	for lib in $(ldd "$b" 2>/dev/null | grep -oE '/[^ ]+'); do
		[[ -e $ROOT$lib ]] || add_file "$lib"
	done
}

# The shell and userland the tests use. Real binaries, not busybox
# applets: busybox would shadow ip, sysctl and friends.
for b in bash sh cat ls mkdir rm cp mv ln seq wc tr cut sort head tail \
	sleep timeout date uname mktemp printf basename dirname tee uniq \
	env chmod id stat readlink true false nproc expr grep sed awk diff \
	find xargs ps pkill pgrep sysctl mount umount dmesg kmod unshare nsenter touch mkfifo \
	ip ss ipvsadm conntrack xtables-nft-multi xtables-legacy-multi nft ipset nfct \
	nstat perl stdbuf realpath sync ping; do
	add_bin $b
done

# The software operators run, for the tests that use it (deps.sh installs
# it; a test says SKIP where it is missing).
for b in haproxy nginx ab curl keepalived conntrackd prometheus-node-exporter promtool \
	perf trace-cmd bpftrace tcpdump; do
	type -P $b >/dev/null && add_bin $b
done

# iptables: argv[0] picks the applet; extensions are loaded with dlopen.
for t in iptables ip6tables; do
	for v in "" -nft -legacy; do
		m=nft
		[[ $v == -legacy ]] && m=legacy
		for s in "" -save -restore; do
			ln -sf xtables-$m-multi "$ROOT/usr/sbin/$t$v$s"
		done
	done
done
XT=/usr/lib/x86_64-linux-gnu/xtables
mkdir -p "$ROOT$XT"
for so in "$XT"/*.so; do
	cp "$so" "$ROOT$XT/"
	for lib in $(ldd "$so" 2>/dev/null | grep -oE '/[^ ]+'); do
		[[ -e $ROOT$lib ]] || add_file "$lib"
	done
done

# bpftrace on a kernel without BTF (RHEL 8's) reads a tracepoint's fields
# by compiling a struct with its clang, which includes the kernel's uapi
# headers (linux-libc-dev): 7 MB.
if type -P bpftrace >/dev/null; then
	for d in /usr/include/linux /usr/include/asm-generic /usr/include/x86_64-linux-gnu/asm; do
		[[ -d $d ]] || continue
		mkdir -p "$ROOT$(dirname "$d")" && cp -a "$d" "$ROOT$(dirname "$d")/"
	done
fi

# kmod's applets, where the kernel looks for modprobe.
for a in modprobe insmod rmmod lsmod depmod modinfo; do
	ln -sf /usr/bin/kmod "$ROOT/usr/sbin/$a"
done
mkdir -p "$ROOT/sbin"
[[ -e $ROOT/sbin/modprobe ]] || ln -sf /usr/bin/kmod "$ROOT/sbin/modprobe"

# perl runs kselftest's prefix.pl (its core modules are perl-base's).
cp -a --parents /usr/lib/x86_64-linux-gnu/perl-base "$ROOT"
# stdbuf (the kselftest runner uses it) preloads this.
for so in /usr/libexec/coreutils/libstdbuf.so; do
	[[ -e $so ]] && add_file "$so"
done

# Modules: the kernel's net, crypto and library modules, ours in extra/.
M=/lib/modules/$KVER
SRCM=${MODROOT:-}$M
SRCM=${SRCM//\/\//\/}
mkdir -p "$ROOT$M/extra" "$ROOT/etc/depmod.d"
for f in modules.order modules.builtin modules.builtin.modinfo; do
	[[ -e $SRCM/$f ]] && cp "$SRCM/$f" "$ROOT$M/"
done
for d in kernel/net kernel/lib kernel/crypto kernel/arch kernel/drivers/net; do
	[[ -d $SRCM/$d ]] || continue
	mkdir -p "$ROOT$M/$(dirname $d)"
	cp -a "$SRCM/$d" "$ROOT$M/$d"
done
cp "$MODULE" "$ROOT$M/extra/"
echo "search updates extra built-in" >"$ROOT/etc/depmod.d/00-twr.conf"
depmod -b "$ROOT" "$KVER"

# Files the tools read.
for f in /etc/protocols /etc/services /etc/passwd /etc/group; do
	add_file "$f"
done
echo "hosts: files" >"$ROOT/etc/nsswitch.conf"
mkdir -p "$ROOT"/{proc,sys,dev,tmp,run,var} "$ROOT/usr/local/bin"
ln -sf /run "$ROOT/var/run"

[[ $KSFT == - ]] || cp -a "$KSFT" "$ROOT/ksft"
cp "${INIT:-$TOP/scripts/guest-init.sh}" "$ROOT/init"
chmod +x "$ROOT/init"

(cd "$ROOT" && find . | cpio -o -H newc --quiet) >"$OUT"
