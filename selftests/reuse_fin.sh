#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A client behind SNAT reuses its port after a FIN close (IPVS TIME_WAIT).
#
#   cl --- nat (SNAT to 10.0.2.1:40000) --- dir (IPVS VIP:80, conntrack) --- rs1, rs2
#   (details: snat_port_reuse.sh)
#
# Baseline: IPVS with the 4.6 - 5.8 check drops every such SYN (the entry
# uses conntrack and the SYN has one); v5.9+ IPVS does not, because
# conntrack reopens a FIN-closed flow itself and the SYN carries a fresh
# conntrack. With the module: no drop on any kernel, and on v5.9+ nothing
# for it to do (resched_no_drop).
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
pairs_header 1
reopened_base
pair fin -c fin -e $BASE -- -c fin -e fast
ktap_finish
