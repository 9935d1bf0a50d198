#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A client behind SNAT reuses its port after resetting the previous
# connection itself (SO_LINGER 0): conntrack reopens the flow on the
# next SYN from that side.
#
#   cl --- nat (SNAT to 10.0.2.1:40000) --- dir (IPVS VIP:80, conntrack) --- rs1, rs2
#   (details: snat_port_reuse.sh)
#
# Baseline: dropped by the 4.6 - 5.8 check, not by v5.9+. With the module:
# never.
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
pairs_header 1
reopened_base
pair client_rst -c crst -n 4 -e $BASE -- -c crst -n 4 -e fast
ktap_finish
