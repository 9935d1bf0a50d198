#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what building and testing need on Debian 12 (bookworm), as root.
# Idempotent; silent when everything is already there.
#   - both Debian cloud kernel series, image and headers of the same version
#     (the tests boot them under QEMU; the host's own kernel is not used)
#   - the 6.12 sources (checkpatch, kselftest's runner, the debug kernel)
#   - QEMU, the userland copied into the test VM, sparse; perf, trace-cmd
#     and bpftrace for the tracepoint's test; tcpdump for the captures of
#     dr_reuse_stress.sh; libelf-dev, without which Kbuild skips objtool on
#     kernels that validate stacks (RHEL 8)
#   - rsync for kselftest's install, gnuplot for the benchmark's figure
#   - what building the Debian package needs (dpkg-dev, debhelper, dh-dkms)
#     and lintian and systemd (systemd-analyze), which its test runs on it
#   - rpm (rpmbuild) for the RPM, rpmlint for its test
#   - HAProxy, nginx, ab, curl, keepalived, conntrackd and Prometheus's
#     node exporter and promtool, which some tests run inside the VM
#     (their services are kept from starting here)
#   - docker.io (dockerd 20.10, containerd, runc) for the swarm ingress
#     test, which runs dockerd inside the VM only (never started here);
#     libc6-dev's static libc for that test's image (a static twtool)
set -euo pipefail

PKGS=(
	linux-image-cloud-amd64 linux-headers-cloud-amd64
	linux-image-6.12-cloud-amd64 linux-headers-6.12-cloud-amd64
	linux-source-6.12
	gcc make libc6-dev libelf-dev sparse python3 xz-utils cpio kmod dkms
	qemu-system-x86
	iproute2 ipvsadm iptables conntrack procps util-linux iputils-ping
	nftables ipset nfct
	linux-perf trace-cmd bpftrace tcpdump
	rsync gnuplot-nox
	dpkg-dev debhelper dh-dkms lintian systemd
	rpm rpmlint
	haproxy nginx-light apache2-utils curl keepalived conntrackd
	prometheus-node-exporter prometheus
	docker.io containerd runc
)
# Servers among them run only inside the test VMs: their services must not
# start on this machine.
SERVICES=(haproxy nginx keepalived conntrackd prometheus prometheus-node-exporter docker containerd)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

if [[ $(id -u) -ne 0 ]]; then
	echo "deps: need root to install: ${missing[*]}" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d 101: packages install their services without starting them.
prc=/usr/sbin/policy-rc.d
saved=
if [[ -e $prc ]]; then
	saved=$(mktemp)
	cp -p "$prc" "$saved"
fi
printf '#!/bin/sh\nexit 101\n' >"$prc"
chmod 755 "$prc"
rc=0
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
if [[ -n $saved ]]; then
	mv "$saved" "$prc"
else
	rm -f "$prc"
fi
((rc == 0)) || exit $rc
# ... nor start at the next boot, where systemd runs.
if [[ -d /run/systemd/system ]]; then
	for s in "${SERVICES[@]}"; do
		[[ " ${missing[*]} " == *" $s"* ]] && { systemctl disable --now "$s" >/dev/null 2>&1 || true; }
	done
fi
exit 0
