#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The main job, one command on a fresh Debian 12 machine (as root):
#
#   scripts/demo.sh          build the module for Debian's 6.1 cloud kernel,
#                            boot it under QEMU and show a client behind SNAT
#                            reusing its port: every reused connect waits
#                            ~1 s without the module, none with it
#   scripts/demo.sh --host   build, install and load the module on this host
#                            (needs the running kernel's headers)
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)

if [[ ${1:-} == --host ]]; then
	make -C "$TOP" module
	make -C "$TOP" install
	modprobe ip_vs_tw_resched
	echo "ip_vs_tw_resched loaded; counters (/proc/net/ip_vs_tw_resched):"
	cat /proc/net/ip_vs_tw_resched
	echo "policy: net.ipv4.vs.tw_resched.resched_mode = $(cat /proc/sys/net/ipv4/vs/tw_resched/resched_mode)"
	exit 0
fi

"$TOP/scripts/deps.sh"
K=${KERNEL:-$("$TOP/scripts/kernels.sh" | sed -n 1p)}
[[ -n $K ]] || { echo "no Debian cloud kernel with headers installed" >&2; exit 1; }
"$TOP/scripts/prepare-vm.sh" "$K"
out=$TOP/build/demo
echo "# booting $K under QEMU (TCG): SNAT client reusing one port, real server closes with RST"
"$TOP/scripts/vm-run.sh" "$K" "$TOP/build/initramfs-$K.cpio" "${FLAVOR:-stock}" "$out" 'snat_rst_(nomodule|module)$' >"$out.log" || true
grep -E '# (reuse|RESULT|module counters)|^\S+ (ok|not ok)' "$out.log" | sed -E 's/^\[[^]]*\] *//'
echo
echo "Without the module:" "$(grep -oE 'module=no: [0-9]+ of [0-9]+ reused connects >= 900 ms \(max [0-9.]+ ms\)' "$out.log" | sed 's/module=no: //')"
echo "With the module:   " "$(grep -oE 'module=yes: [0-9]+ of [0-9]+ reused connects >= 900 ms \(max [0-9.]+ ms\)' "$out.log" | sed 's/module=yes: //')"
! grep -q 'not ok' "$out.log"
