#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The RST case with iptables-legacy (x_tables) on the SNAT box and the
# director instead of iptables-nft.
#
#   cl --- nat (SNAT, iptables-legacy) --- dir (IPVS, iptables-legacy nat rule) --- rs1, rs2
#   (details: snat_port_reuse.sh)
source "$(dirname "$0")/lib.sh"
require_root
require_cmd iptables-legacy
ipvs_traits
pairs_header 1
expect_note "drops the SYN: it carries the old flow's confirmed conntrack"
pair iptables_legacy -t legacy -c rst -n 4 -e slow -- -t legacy -c rst -n 4 -e fast
ktap_finish
