#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The real server that served a connection is drained (weight 0) before
# its tuple is reused, with expire_nodest_conn=1 and conn_reuse_mode=1:
# IPVS reschedules a drained server's entries in any state.
#
#   cl --- nat --- dir (IPVS, expire_nodest_conn=1) --- rs1 (weight 0), rs2
#   (each round drains the last server, restores the other; snat_port_reuse.sh)
#
# Baseline, every kernel: dropped (old confirmed conntrack), then sent to
# the live server. With the module: at once, never to the drained server.
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
ktap_header 2
expect_note "reschedules a drained server's entries and drops the SYN"
pair drained -c rst -n 4 -d drain -e slow -- -c rst -n 4 -d drain -e fast
ktap_finish
