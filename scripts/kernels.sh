#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the kernel releases the tests run on: the newest installed Debian
# cloud kernel of each series (6.1, 6.12) that has both image and headers.
for series in 6.1 6.12; do
	ls /boot/vmlinuz-"$series".*-cloud-amd64 2>/dev/null |
		sed 's|/boot/vmlinuz-||' | sort -V |
		while read -r k; do
			[[ -e /lib/modules/$k/build/Makefile ]] && echo "$k"
		done | tail -n 1
done
