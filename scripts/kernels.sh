#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Name the kernels a run is for, one line each:
#
#   KVER IMAGE MODROOT KDIR
#
#   IMAGE    the kernel to boot, or "-" when only headers are there (the
#            module is then compiled and checked, not run)
#   MODROOT  where lib/modules/KVER is: "/" for an installed kernel
#   KDIR     the kernel headers (a build directory with a Makefile)
#
# usage: kernels.sh [SPEC...]
#   debian     the newest installed Debian cloud kernel of each series
#              (6.1, 6.12) that has image and headers (the default)
#   KVER       an installed kernel: /boot/vmlinuz-KVER and
#              /lib/modules/KVER/build
#   FILE.deb   kernel packages (linux-image-*, linux-headers-*, as Debian
#   DIR        and "make bindeb-pkg" build them) or a directory of them:
#              unpacked with dpkg-deb into a private root
#              ($TWR_CACHE/kroot), never installed, so nothing in /boot or
#              /lib/modules changes. Their headers must be self-contained
#              (Debian's own split header packages include files by
#              absolute path: install those instead).
# A SPEC that names no kernel is an error (exit 1, message on stderr).
set -euo pipefail

CACHE=${TWR_CACHE:-/var/cache/ip_vs_tw_resched}
ROOT=$CACHE/kroot

installed() {	# installed KVER: print its line, 1 if it lacks headers
	local k=$1 img=/boot/vmlinuz-$1

	[[ -e /lib/modules/$k/build/Makefile ]] || return 1
	[[ -e $img ]] || img=-
	echo "$k $img / $(readlink -f "/lib/modules/$k/build")"
}

debian() {
	local series k found=0

	for series in 6.1 6.12; do
		k=$(ls /boot/vmlinuz-"$series".*-cloud-amd64 2>/dev/null |
			sed 's|/boot/vmlinuz-||' | sort -V |
			while read -r k; do
				[[ -e /lib/modules/$k/build/Makefile ]] && echo "$k"
			done | tail -n 1)
		[[ -n $k ]] && installed "$k" && found=1
	done
	((found)) || { echo "kernels.sh: no Debian cloud kernel with headers installed" >&2; return 1; }
}

# unpack DEB: into $ROOT, once per file content; prints the kernel
# releases it carries an image or headers of.
unpack() {
	local deb=$1 sum stamp

	sum=$(sha1sum "$deb" | cut -d' ' -f1)
	stamp=$ROOT/.debs/$(basename "$deb")
	mkdir -p "$ROOT/.debs"
	if [[ ! -f $stamp || $(cat "$stamp") != "$sum" ]]; then
		dpkg-deb -x "$deb" "$ROOT"
		echo "$sum" >"$stamp"
	fi
	dpkg-deb -c "$deb" | awk '{ print $NF }' |
		sed -nE 's|^\./boot/vmlinuz-(.+)$|\1|p; s|^\./usr/src/linux-headers-([^/]+)/$|\1|p'
}

debs() {	# debs FILE...: the kernels those packages make up
	local d k img kdir

	for d in "$@"; do
		unpack "$d"
	done | sort -Vu | while read -r k; do
		kdir=$ROOT/usr/src/linux-headers-$k
		[[ -e $kdir/Makefile ]] || { echo "kernels.sh: $k: no headers package among $*" >&2; continue; }
		img=$ROOT/boot/vmlinuz-$k
		[[ -e $img && -d $ROOT/lib/modules/$k/kernel ]] || img=-
		echo "$k $img $ROOT $kdir"
	done
}

# Installed kernels first, in the order named; then every kernel the named
# packages make up together (an image and its headers may come as two
# SPECs).
(($#)) || set -- debian
DEBS=() out=
shopt -s nullglob
for s in "$@"; do
	if [[ $s == debian ]]; then
		out+=$(debian)$'\n' || exit 1
	elif [[ -d $s ]]; then
		f=("$s"/linux-image-*.deb "$s"/linux-headers-*.deb)
		((${#f[@]})) || { echo "kernels.sh: no linux-image-*.deb or linux-headers-*.deb in $s" >&2; exit 1; }
		DEBS+=("${f[@]}")
	elif [[ $s == *.deb && -f $s ]]; then
		DEBS+=("$s")
	else
		out+=$(installed "$s")$'\n' ||
			{ echo "kernels.sh: $s: not an installed kernel with headers (/lib/modules/$s/build), .deb or directory" >&2; exit 1; }
	fi
done
if ((${#DEBS[@]})); then
	d=$(debs "${DEBS[@]}")
	[[ -n $d ]] || { echo "kernels.sh: no kernel with headers in ${DEBS[*]}" >&2; exit 1; }
	out+=$d$'\n'
fi
awk 'NF && !seen[$1]++' <<<"$out"
