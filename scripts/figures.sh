#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The reuse figures of a test run, per kernel: for every pair of runs
# (NAME_nomodule, NAME_module) that printed a RESULT line, the reused
# connects >= 900 ms out of those made, without / with the module, as
# Documentation/testing.rst ("Latest figures") shows them.
#
# usage: figures.sh [VMDIR...]   the VMs' output directories (default:
#                                build/vm/*, what run-tests.sh left)
#
# Reads each VM's results.log (what its serial port carried): the kernel
# from its first line, then the RESULT lines of snat_port_reuse.sh
# (slow=S total=T), haproxy_ab.sh (reuses=R slow=S), two_directors.sh
# (failover slow=S total=T) and lost_final_ack.sh (S of T reuses), each
# belonging to the subtest whose result line follows it. A subtest that
# failed is marked "!"; a pair a kernel did not run shows "-".
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
(($#)) || set -- "$TOP"/build/vm/*/
logs=()
for d in "$@"; do
	[[ -s ${d%/}/results.log ]] && logs+=("${d%/}/results.log")
done
((${#logs[@]})) || { echo "figures.sh: no results.log in: $*" >&2; exit 1; }
awk '
{ sub(/\r$/, "") }	# the serial console ends its lines so
FNR == 1 {
	k = $0
	sub(/^# kernel /, "", k)
	sub(/,.*/, "", k)
	if (!(k in kseen)) { kseen[k] = 1; kern[++nk] = k }
	res = ""
}
/^# # RESULT / {
	s = t = res = ""
	for (i = 4; i <= NF; i++) {
		if (split($i, kv, "=") != 2) kv[1] = ""
		if (kv[1] == "slow") s = kv[2]
		else if (kv[1] == "total" || kv[1] == "reuses") t = kv[2]
		else if ($i == "of" && $(i + 2) == "reuses") { s = $(i - 1); t = $(i + 1) }
	}
	if (s != "" && t != "") res = s "/" t
	next
}
/^# (ok|not ok) [0-9]+ [a-z0-9_]+_(nomodule|module)( |$)/ {
	bad = ($2 == "not")
	name = bad ? $5 : $4
	arm = name; sub(/.*_/, "", arm)
	sub(/_(nomodule|module)$/, "", name)
	if (!(name in rseen)) { rseen[name] = 1; row[++nr] = name }
	v = res == "" ? "-" : res
	cell[name, arm, k] = v (bad ? "!" : "")
	res = ""
}
# Any other result line ends what a RESULT line before it belongs to.
/^(# )?(ok|not ok) [0-9]+ / { res = "" }
END {
	w = 27
	for (j = 1; j <= nk; j++) { cw[j] = length(kern[j]) + 1; if (cw[j] < 16) cw[j] = 16 }
	line = sprintf("%-" w "s", "reused connects >= 900 ms")
	for (j = 1; j <= nk; j++) line = line sprintf(" %-" cw[j] "s", kern[j])
	sub(/ +$/, "", line)
	printf "%s\n%s\n", line, "(without / with the module)"
	for (i = 1; i <= nr; i++) {
		line = sprintf("%-" w "s", row[i])
		any = 0
		for (j = 1; j <= nk; j++) {
			a = cell[row[i], "nomodule", kern[j]]
			b = cell[row[i], "module", kern[j]]
			if (a ~ /[0-9]/ || b ~ /[0-9]/) any = 1
			c = (a == "" && b == "") ? "-" : (a == "" ? "-" : a) " / " (b == "" ? "-" : b)
			line = line sprintf(" %-" cw[j] "s", c)
		}
		# Pairs that print no RESULT (checks of another kind) are not figures.
		if (any) { sub(/ +$/, "", line); print line }
	}
}' "${logs[@]}"
