#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The FIN and RST cases over IPv6.
#
#   cl fd00:1::2 --- nat (SNAT to [fd00:2::1]:40000) --- dir (VIP [fd00:2::2]:80)
#   --- rs1 fd00:3::2, rs2 fd00:4::2         (details: snat_port_reuse.sh)
#
# Baselines as in reuse_fin.sh and reuse_rst.sh.
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
pairs_header 2
base=fast
[[ $(ipvs_trait drop_check) == any ]] && base=slow
expect_note "FIN close: $base without the module; RST close: slow"
pair ipv6_fin -6 -c fin -n 4 -e $base -- -6 -c fin -n 4 -e fast
pair ipv6_rst -6 -c rst -n 4 -e slow -- -6 -c rst -n 4 -e fast
ktap_finish
