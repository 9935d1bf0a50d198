#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /etc/keepalived/conntrackd-notify.sh CONF TYPE NAME STATE [PRIORITY]
# keepalived's notify script for the sync group (keepalived.conf): keeps
# conntrackd (FT-FW, CONF) in step with the director's VRRP state.
#   MASTER  commit the conntracks learned from the old master into the
#           kernel, drop what is no longer needed, and send ours
#   BACKUP, FAULT  start from the master's table again
CONF=$1 STATE=$4
C="conntrackd -C $CONF"

case $STATE in
MASTER)
	$C -c		# external cache -> kernel conntrack table
	$C -f		# flush the internal and external caches
	$C -R		# resync the internal cache with the kernel table
	$C -B		# send a bulk update to the backup
	;;
BACKUP|FAULT)
	$C -n		# request a resync from the master
	;;
esac
exit 0
