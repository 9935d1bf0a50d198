#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# net.ipv4.vs.conntrack=0: IPVS keeps its traffic out of conntrack, its
# entries do not use it, and a reused SYN never carries a confirmed
# conntrack: no drop on any kernel, nothing for the module to do
# (resched_no_drop). (The price of this workaround: SNAT and MASQUERADE
# rules no longer apply to IPVS traffic.)
#
#   cl --- nat --- dir (IPVS, vs.conntrack=0) --- rs1, rs2
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
ktap_header 2
expect_note "reschedules without a drop"
pair vs_conntrack_0 -c rst -n 4 -k 0 -e fast -- -c rst -n 4 -k 0 -e fast
ktap_finish
