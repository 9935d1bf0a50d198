#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Persistence (ipvsadm -p 60): a reused tuple belongs to the client's
# template and IPVS never reschedules it, so there is no drop to remove.
# Then the same with the server drained (weight 0, expire_nodest_conn=1,
# expire_quiescent_template=1 as kube-proxy sets them for session
# affinity): IPVS's weight-0 branch reschedules controlled entries too,
# and the template sends the client to a live server.
#
#   cl --- nat --- dir (IPVS -p 60) --- rs1, rs2
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
ktap_header 4
expect_note "keeps persistent reuses on their server; reschedules them (with a drop) when it is drained"
pair persistent -c rst -n 4 -P 60 -e same -- -c rst -n 4 -P 60 -e same
pair persistent_drained -c rst -n 4 -P 60 -d drain -e slow -- -c rst -n 4 -P 60 -d drain -e fast
ktap_finish
