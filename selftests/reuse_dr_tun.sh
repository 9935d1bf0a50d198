#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Direct routing and tunnelling: the director sees only the client's side,
# so a FIN-closed connection stays in FIN_WAIT (no output), which IPVS
# reschedules with conn_reuse_mode bit 2 (set to 3 here).
#
#   nat 10.0.2.1 ---+--- br0 (sw) ---+--- dir 10.0.2.2, VIP 10.0.2.100
#                   |                +--- rs1 10.0.2.11, rs2 10.0.2.12
#                   |                     (VIP on lo for DR, on tunl0 for TUN)
#   (details: lib.sh, METHOD)
#
# Baseline: dropped (conntrack on the director ignores the SYN in its
# half-seen state: the old confirmed conntrack rides along). With the
# module: never.
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
pairs_header 2
expect_note "drops the SYN: it carries the old flow's confirmed conntrack"
pair dr_fin_wait -f dr -c fin -n 4 -e slow -- -f dr -c fin -n 4 -e fast
pair tun_fin_wait -f tun -c fin -n 4 -e slow -- -f tun -c fin -n 4 -e fast
ktap_finish
