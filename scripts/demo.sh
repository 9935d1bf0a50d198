#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The main job, one command on a fresh Debian 12 machine (as root):
#
#   scripts/demo.sh          build the module, boot a kernel under QEMU and
#                            run the 2018 report's setup in it: HAProxy as
#                            the load balancer in front of the IPVS
#                            director, reusing ten source ports; nginx
#                            behind it, by NAT and by direct routing; ab
#                            and curl as the clients. Without and with the
#                            module. Prints ab's connection-time tables and
#                            a summary.
#   scripts/demo.sh --host   build, install and load the module on this host
#                            (needs the running kernel's headers)
#
# env: KERNEL=SPEC   the kernel to boot (scripts/kernels.sh: an installed
#                    release, a .deb or a directory of them); default: the
#                    newest installed Debian cloud kernel
# The demo's last lines are its summary; exit 1 if the run failed.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)

if [[ ${1:-} == --host ]]; then
	make -C "$TOP" module
	make -C "$TOP" install
	modprobe ip_vs_tw_resched
	echo "ip_vs_tw_resched loaded; /proc/net/ip_vs_tw_resched:"
	cat /proc/net/ip_vs_tw_resched
	echo "policy: net.ipv4.vs.tw_resched.resched_mode = $(cat /proc/sys/net/ipv4/vs/tw_resched/resched_mode)"
	exit 0
fi

"$TOP/scripts/deps.sh"
B=$TOP/build
mkdir -p "$B"
if [[ -n ${KERNEL:-} ]]; then
	line=$("$TOP/scripts/kernels.sh" "$KERNEL" | sed -n 1p)
else
	line=$("$TOP/scripts/kernels.sh" debian | tail -n 1)
fi
read -r k img mroot kdir <<<"$line"
[[ -n $k && $img != - ]] || { echo "demo: no bootable kernel (KERNEL=${KERNEL:-debian})" >&2; exit 1; }
echo "# building the module for $k and the VM"
"$TOP/scripts/prepare-vm.sh" "$k" "$img" "$mroot" "$kdir" >"$B/demo-prepare.out" ||
	{ cat "$B/demo-prepare.out"; exit 1; }
echo "# booting $k under QEMU (TCG): ab, curl -> HAProxy -> IPVS (NAT, DR) -> nginx"
rc=0
"$TOP/scripts/vm-run.sh" "$k" "$img" "$B/initramfs-$k.cpio" "$B/demo" haproxy_ab.sh >"$B/demo.log" || rc=1
grep -E '# # (director: |ab: |HAProxy: |curl )' "$B/demo.log" | sed -E 's/^\[[^]]*\] # # //'

field() {	# field KIND MODULE KEY: from the RESULT line of that run
	sed -nE "s/.*# RESULT kind=$1 module=$2 .*\\<$3=([^ ]+).*/\\1/p" "$B/demo.log" | tail -n 1
}
line() {	# line KIND MODULE: one run's figures
	local r s

	r=$(field "$1" "$2" reuses) s=$(field "$1" "$2" slow)
	[[ -n $r ]] || { echo "(no result)"; return; }
	echo "$s of $r reused backend connects >= 900 ms; ab median $(field "$1" "$2" ab_median_ms) ms," \
		"p99 $(field "$1" "$2" ab_p99_ms) ms; curl --local-port time_connect $(field "$1" "$2" curl_s | tr ',' ' ') s"
	why "$1" "$2"
}
why() {	# why KIND MODULE: what the test found behind slow reuses it accepted
	local e n p c parts

	e=$(sed -nE "s/.*# EXPLAINED kind=$1 module=$2 slow=([0-9]+) paws=([0-9]+) ct_kept=([0-9]+):.*/\1 \2 \3/p" \
		"$B/demo.log" | tail -n 1)
	[[ -n $e ]] || return 0
	read -r n p c <<<"$e"
	parts=()
	((c == 0)) || parts+=("$c met the old flow's conntrack in CLOSE (a packet of the old connection reached the director after HAProxy's RST), so IPVS dropped the SYN")
	((p == 0)) || parts+=("up to $p were refused by a real server's TIME_WAIT (PAWS)")
	echo "    ($n slow, curl's included, and not the drop this demo is about: ${parts[0]:-}${parts[1]:+; ${parts[1]}})"
}
echo
echo "Kernel $k, IPVS drop check: $(sed -nE 's/.*IPVS drop check: ([a-z]+) conntrack.*/\1/p' "$B/demo.log" | head -n 1) conntrack"
echo "IPVS direct routing, without the module: $(line dr no)"
echo "IPVS direct routing, with the module:    $(line dr yes)"
echo "IPVS NAT, without the module:            $(line nat no)"
echo "IPVS NAT, with the module:               $(line nat yes)"
echo "(ab talks to HAProxy: the backend's lost second shows in ab's request times above, not in its Connect row, which is ab to HAProxy.)"
grep -q 'IPVS drop check: confirmed' "$B/demo.log" &&
	echo "(By NAT the director's conntrack sees the whole FIN close and, since 5.9, reopens the flow itself: no drop there on this kernel, unless a packet of the old flow comes late (said under its line). Before 5.9 IPVS drops those too: KERNEL=<a 4.19/5.4 kernel> scripts/demo.sh.)"
((rc == 0)) || { echo "demo: the run failed, see $B/demo.log"; exit 1; }
