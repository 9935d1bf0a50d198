#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The docker layer of the test VM's initramfs: Debian's dockerd, docker
# CLI, containerd, its runc shim and runc (docker.io, containerd, runc),
# plus nsenter and tar, each with the libraries ldd lists (the test runs
# dockerd without docker-proxy, its tasks without docker-init). About
# 190 MB, so it is not part of initramfs-KVER.cpio: run-tests.sh appends it
# (cpio archives concatenate) only for a VM whose test list names
# swarm_ingress.sh. Kernel independent: one file for every kernel.
# Paths are written as the host's merged /usr resolves them (usr/lib/...),
# under the directories the base archive already has.
#
# usage: mkinitramfs-docker.sh OUT.cpio
set -euo pipefail

OUT=$1
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT

add_file() {	# add_file PATH: copy to its resolved directory
	local d

	d=$(readlink -f "$(dirname "$1")")
	[[ -e $ROOT$d/$(basename "$1") ]] && return 0
	mkdir -p "$ROOT$d"
	cp -L "$1" "$ROOT$d/"
}

# Debian's own binaries by path: a docker CLI elsewhere in PATH (e.g.
# /usr/local/bin) is not the one the package tested with its dockerd.
for b in /usr/sbin/dockerd /usr/bin/docker /usr/bin/containerd \
	/usr/bin/containerd-shim-runc-v2 /usr/sbin/runc \
	"$(type -P nsenter)" "$(type -P tar)"; do
	[[ -x $b ]] || { echo "missing $b (scripts/deps.sh installs docker.io)" >&2; exit 1; }
	add_file "$b"
	for lib in $(ldd "$b" 2>/dev/null | grep -oE '/[^ ]+'); do
		add_file "$lib"
	done
done

(cd "$ROOT" && find . -mindepth 1 | cpio -o -H newc --quiet) >"$OUT"
