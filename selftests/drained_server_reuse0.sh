#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Drained server with conn_reuse_mode=0 and expire_nodest_conn=1, what
# kube-proxy sets on kernels before 5.9 (and docker, kube-router on all),
# and a FORWARD rule that drops ctstate INVALID, as kube-proxy has.
#
#   cl --- nat --- dir (IPVS, conn_reuse_mode=0, expire_nodest_conn=1,
#                  FORWARD -m conntrack --ctstate INVALID -j DROP) --- rs1 (weight 0), rs2
#
# What IPVS does here depends on a change no header shows ("ipvs: Fix
# reuse connection if RS weight is 0", v5.16 and some stable series):
# before it, IPVS keeps such a SYN on the drained server's entry (no drop);
# since, it reschedules it and drops it. The baseline measures which this
# kernel does; with the module the SYN must then go where IPVS sends it,
# at once: back to the drained server where IPVS keeps it (a module that
# acted there would leave the flow untracked, and the SYN-ACK INVALID),
# to the live one where IPVS reschedules. The module's learned answer
# (ipvs_drained_reuse0) must agree with the baseline.
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
ktap_header 2
args=(-c rst -n 4 -r 0 -d drain -I)
sub drained_reuse0_nomodule reuse "${args[@]}" -K any -e any
brc=$?
slow=$(result slow) total=$(result total) wrong=$(result wrong) reopened=$(result reopened)
# A flow conntrack reopened (the client side's RST after a late packet of
# the server's) is rescheduled without a drop where IPVS reschedules.
[[ $(ipvs_trait drop_check) == confirmed ]] || reopened=0
if ((brc == 0)) && ((wrong == total && slow == 0)); then
	expect_note "keeps such a SYN on the drained server (measured: $wrong of $total there, none slow)"
	sub drained_reuse0_module reuse -m yes "${args[@]}" -K yes -e fast
elif ((brc == 0)) && ((wrong == 0 && slow + ${reopened:-0} >= total - 1)); then
	expect_note "reschedules such a SYN and drops it (measured: $slow of $total slow, none to the drained server)"
	sub drained_reuse0_module reuse -m yes "${args[@]}" -e fast
else
	log "baseline neither kept nor rescheduled the reuses: slow $slow, to the drained server $wrong, of $total"
	ktap_result fail drained_reuse0_module "no baseline to judge it by"
fi
ktap_finish
