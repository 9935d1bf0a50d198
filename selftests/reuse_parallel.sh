#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Four clients reuse four ports at the same moment (SNAT ports 40000-40003),
# after the real servers' RSTs (two, 40000-40001, on a slow machine).
#
#   cl 10.0.1.2-5 --- nat (client j -> 10.0.2.1:40000+j) --- dir (IPVS) --- rs1, rs2
#   (details: snat_port_reuse.sh)
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
pairs_header 1
expect_note "drops every such SYN"
# On a slow machine (a KASAN/lockdep kernel under TCG) two clients: the
# checks after a round cost an exec per client, and with four the stock
# run's CLOSE entries (10 s, which nothing lengthens without the module)
# were gone before round 1 could meet them (7.1.5-dbg, a loaded host).
j=$((TWR_SLOW ? 2 : 4))
pair parallel -j $j -c rst -n 4 -e slow -- -j $j -c rst -n 4 -e fast
ktap_finish
