#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The module's own policy, net.ipv4.vs.tw_resched.resched_mode, with the
# module loaded. 0: the module does nothing (the drop stays, skip_policy
# counts it). 1 (TIME_WAIT/CLOSE only) on a CLOSE entry of a drained
# server: the entry is a CLOSE entry, so it is handled, whichever branch
# IPVS takes.
#
#   cl --- nat --- dir (IPVS, module, resched_mode 0 / 1) --- rs1, rs2
#   (baselines without the module: reuse_rst.sh, drained_server.sh)
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
ktap_header 2
sub policy_off reuse -m yes -c rst -n 4 -p 0 -e slow
sub policy_tw_close_drained reuse -m yes -c rst -n 4 -p 1 -d drain -e fast
ktap_finish
