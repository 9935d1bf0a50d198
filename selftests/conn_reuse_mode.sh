#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# IPVS's own switch. conn_reuse_mode=0: no rescheduling at all (reuses go
# to the old server, no drop; the module must count skip_reuse_off and do
# nothing). conn_reuse_mode=2: IPVS still reschedules TIME_WAIT/CLOSE
# entries (any non-zero value does; bit 2 adds DR/TUN FIN_WAIT).
#
#   cl --- nat --- dir (IPVS, conn_reuse_mode 0 / 2) --- rs1, rs2
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
ktap_header 4
expect_note "mode 0: reuses stay on their server; mode 2: rescheduled, dropped"
pair mode0 -c rst -n 4 -r 0 -e same -- -c rst -n 4 -r 0 -e same
pair mode2 -c rst -n 4 -r 2 -e slow -- -c rst -n 4 -r 2 -e fast
ktap_finish
