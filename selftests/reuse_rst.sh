#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A client behind SNAT reuses its port after the real server closed the
# previous connection with an RST (IPVS CLOSE; conntrack CLOSE, which it
# does not reopen for a SYN from the other side).
#
#   cl --- nat (SNAT to 10.0.2.1:40000) --- dir (IPVS VIP:80, conntrack) --- rs1, rs2
#   (details: snat_port_reuse.sh)
#
# Baseline, every kernel: the SYN carries the old flow's confirmed
# conntrack and IPVS drops it (1 s). With the module: none is dropped, the
# stale conntrack is deleted (ct_removed) and the new flow's conntrack
# answers from the server that took it.
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
pairs_header 1
expect_note "drops the SYN: it carries the old flow's confirmed conntrack"
pair rst -c rst -e slow -- -c rst -e fast
ktap_finish
