#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the selftests inside the test VM (or on any host with the module
# installed) for one ip_vs flavor and reports one line per test:
#   ok NAME | not ok NAME | skip NAME
# on stdout and, when open, on file descriptor 3 (the VM's result port).
# A test's own output goes to stdout, indented.
#
# usage: run_suite.sh stock|legacy [FILTER]
#   legacy: ip_vs carries the 4.6 - 5.8 reuse check (scripts/build-legacy-ipvs.sh)
#   FILTER: run only tests whose name matches this extended regex
set -u

FLAVOR=${1:-stock}
FILTER=${2:-}
DIR=$(cd "$(dirname "$0")" && pwd)
PER_TEST_TIMEOUT=$(sed -n 's/^timeout=//p' "$DIR/settings")

report() {
	echo "$*"
	{ echo "$*" >&3; } 2>/dev/null
}

# name | command [| timeout in s, when not settings' one]. Without the
# module, legacy ip_vs drops every reused SYN whose entry uses conntrack;
# stock drops only when the SYN arrives on the old flow's confirmed
# conntrack: after a real-server RST, on a drained or removed server, in
# the local-output path... but not after a FIN or a client RST, where
# conntrack reopens the flow itself, so those cases are a measured baseline
# ("any") on stock. With the module nothing may be dropped anywhere. The
# policy tests switch the module off (resched_mode=0) or IPVS's
# rescheduling (conn_reuse_mode=0): behaviour must be stock's, and the
# module must count why it did nothing.
R="snat_port_reuse.sh"
# On the debug kernel (KASAN, lockdep: scripts/debug-kernel.sh boots it
# with TWR_DEBUG_KERNEL=1) everything runs 3-5 times slower under TCG:
# the load tests get lighter loads and every test three times its time.
ABUSE="sysctl_abuse.sh 20 20" ODD="" CHURN="100 16" SCALE=1
if [[ ${TWR_DEBUG_KERNEL:-0} == 1 ]]; then
	ABUSE="sysctl_abuse.sh 20 5" ODD="-c 500" CHURN="30 8" SCALE=3
fi
if [[ $FLAVOR == legacy ]]; then base=slow; else base=any; fi
TESTS=(
	"snat_fin_nomodule|$R -c fin -e $base"
	"snat_fin_module|$R -c fin -m yes -e fast"
	"snat_rst_nomodule|$R -c rst -e slow"
	"snat_rst_module|$R -c rst -m yes -e fast"
	"client_rst_nomodule|$R -c crst -n 4 -e $base"
	"client_rst_module|$R -c crst -n 4 -m yes -e fast"
	"policy_off|$R -c rst -n 4 -m yes -p 0 -e slow"
	"conn_reuse_mode_0|$R -c rst -n 4 -m yes -r 0 -e same"
	"ipv6_fin_nomodule|$R -6 -c fin -n 4 -e $base"
	"ipv6_fin_module|$R -6 -c fin -n 4 -m yes -e fast"
	"ipv6_rst_nomodule|$R -6 -c rst -n 4 -e slow"
	"ipv6_rst_module|$R -6 -c rst -n 4 -m yes -e fast"
	"local_client_nomodule|$R -L -c rst -n 4 -e slow"
	"local_client_module|$R -L -c rst -n 4 -m yes -e fast"
	"parallel_clients_module|$R -j 4 -c rst -n 4 -m yes -e fast"
	"dr_fin_wait_nomodule|$R -f dr -c fin -n 4 -e slow"
	"dr_fin_wait_module|$R -f dr -c fin -n 4 -m yes -e fast"
	"tun_fin_wait_nomodule|$R -f tun -c fin -n 4 -e slow"
	"tun_fin_wait_module|$R -f tun -c fin -n 4 -m yes -e fast"
	"lost_final_ack_nomodule|lost_final_ack.sh"
	"lost_final_ack_module|lost_final_ack.sh -m yes"
)
if [[ $FLAVOR == stock ]]; then
	TESTS+=(
	"drained_server_nomodule|$R -c rst -n 4 -r 0 -d drain -e slow"
	"drained_server_module|$R -c rst -n 4 -r 0 -d drain -m yes -e fast"
	"removed_server_nomodule|$R -c rst -n 4 -d remove -e slow"
	"removed_server_module|$R -c rst -n 4 -d remove -m yes -e fast"
	"persistence_nomodule|$R -c rst -n 4 -P 60 -e same"
	"persistence_module|$R -c rst -n 4 -P 60 -m yes -e same"
	"vs_conntrack_0_nomodule|$R -c rst -n 4 -k 0 -e any"
	"vs_conntrack_0_module|$R -c rst -n 4 -k 0 -m yes -e fast"
	"iptables_legacy_nomodule|$R -c rst -n 4 -t legacy -e slow"
	"iptables_legacy_module|$R -c rst -n 4 -t legacy -m yes -e fast"
	"ftp_data_nomodule|ftp_data.sh"
	"ftp_data_module|ftp_data.sh -m yes"
	"sysctl|sysctl.sh"
	"sysctl_abuse|$ABUSE"
	"odd_packets|odd_packets.sh $ODD"
	"odd_packets_ipv6|odd_packets.sh -6 $ODD"
	"unload_under_load|unload_under_load.sh 60 1000"
	"netns_churn|netns_churn.sh $CHURN|480"
	)
fi

for t in "${TESTS[@]}"; do
	IFS='|' read -r name cmd limit <<<"$t"
	limit=$((${limit:-$PER_TEST_TIMEOUT} * SCALE))
	[[ -n $FILTER && ! $name =~ $FILTER ]] && continue
	name="$FLAVOR/$name"
	echo "# === $name: $cmd"
	out=$(timeout "$limit" bash $DIR/$cmd 2>&1)
	rc=$?
	# Diagnostics go to both channels so the host can show them.
	while IFS= read -r line; do
		report "    $line"
	done <<<"$out"
	case $rc in
	0) report "ok $name" ;;
	4) report "skip $name" ;;
	124) report "not ok $name (timeout ${limit}s)" ;;
	*) report "not ok $name" ;;
	esac
done
