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
#   FILTER: run only tests whose name contains it
set -u

FLAVOR=${1:-stock}
FILTER=${2:-}
DIR=$(cd "$(dirname "$0")" && pwd)
PER_TEST_TIMEOUT=$(sed -n 's/^timeout=//p' "$DIR/settings")

report() {
	echo "$*"
	{ echo "$*" >&3; } 2>/dev/null
}

# name | command. Expectations per flavor: without the module, legacy ip_vs
# drops every reused SYN; stock drops after an RST close but usually lets a
# FIN close through (conntrack reopens the flow itself), so that case is a
# measured baseline there. With the module nothing may be dropped anywhere.
# The policy tests load the module and switch it off (resched_mode=0), or
# switch IPVS's rescheduling off (conn_reuse_mode=0): behaviour must be
# stock's, and the module must count why it did nothing.
if [[ $FLAVOR == legacy ]]; then fin_nomod=slow; else fin_nomod=any; fi
TESTS=(
	"snat_fin_nomodule|snat_port_reuse.sh -c fin -m no -e $fin_nomod"
	"snat_rst_nomodule|snat_port_reuse.sh -c rst -m no -e slow"
	"snat_fin_module|snat_port_reuse.sh -c fin -m yes -e fast"
	"snat_rst_module|snat_port_reuse.sh -c rst -m yes -e fast"
	"snat_rst_policy_off|snat_port_reuse.sh -c rst -m yes -p 0 -e slow"
	"snat_rst_reuse_mode_0|snat_port_reuse.sh -c rst -m yes -r 0 -e same"
)
[[ $FLAVOR == stock ]] && TESTS+=("sysctl|sysctl.sh")

for t in "${TESTS[@]}"; do
	name=${t%%|*}
	cmd=${t#*|}
	[[ -n $FILTER && $name != *"$FILTER"* ]] && continue
	name="$FLAVOR/$name"
	echo "# === $name: $cmd"
	out=$(timeout "$PER_TEST_TIMEOUT" bash $DIR/$cmd 2>&1)
	rc=$?
	# Diagnostics go to both channels so the host can show them.
	while IFS= read -r line; do
		report "    $line"
	done <<<"$out"
	case $rc in
	0) report "ok $name" ;;
	4) report "skip $name" ;;
	124) report "not ok $name (timeout ${PER_TEST_TIMEOUT}s)" ;;
	*) report "not ok $name" ;;
	esac
done
