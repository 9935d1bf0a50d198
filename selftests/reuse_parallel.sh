#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Four clients reuse four ports at the same moment (SNAT ports 40000-40003),
# after the real servers' RSTs.
#
#   cl 10.0.1.2-5 --- nat (client j -> 10.0.2.1:40000+j) --- dir (IPVS) --- rs1, rs2
#   (details: snat_port_reuse.sh)
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
ktap_header 2
expect_note "drops every such SYN"
pair parallel -j 4 -c rst -n 4 -e slow -- -j 4 -c rst -n 4 -e fast
ktap_finish
