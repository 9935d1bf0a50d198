#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The client runs on the director itself (IPVS's LOCAL_OUT hook), bound to
# 10.0.2.3:40000, and reuses that port after the real server's RST.
#
#   dir: client 10.0.2.3:40000 -> VIP 10.0.2.2:80 (IPVS, conntrack) --- rs1, rs2
#   (details: snat_port_reuse.sh)
#
# Baseline: dropped (the SYN carries the old confirmed conntrack). With the
# module: never.
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
pairs_header 1
expect_note "drops the SYN: it carries the old flow's confirmed conntrack"
pair local_client -L -c rst -n 4 -e slow -- -L -c rst -n 4 -e fast
ktap_finish
