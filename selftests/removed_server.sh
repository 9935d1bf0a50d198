#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The real server that served a connection is removed from the service
# before its tuple is reused (expire_nodest_conn=0: with 1 IPVS flushes
# the removed server's entries at once). IPVS reschedules the CLOSE entry
# under conn_reuse_mode=1.
#
#   cl --- nat --- dir (IPVS; each round removes the last server) --- rs1, rs2
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
ktap_header 2
expect_note "reschedules the entry and drops the SYN"
pair removed -c rst -n 4 -d remove -e slow -- -c rst -n 4 -d remove -e fast
ktap_finish
