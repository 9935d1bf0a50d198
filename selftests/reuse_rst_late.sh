#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A real server resets its connection (SO_LINGER 0), and its ACK of the
# client's last byte, sent before the RST, reaches the client after it:
# a server sends that ACK from softirq and the RST from the closing
# process, and the two can pass each other on the way (6.1 under TCG,
# two vCPUs: about one connection in 200 of persistence.sh's). The client
# no longer has the connection and answers the ACK with an RST, the last
# packet of the flow the director's conntrack sees; on the next SYN from
# that side conntrack reopens the flow. Here the server sends the late
# ACK on purpose after each close.
#
#   cl --- nat (SNAT to 10.0.2.1:40000) --- dir (IPVS VIP:80, conntrack) --- rs1, rs2 (send the late ACK)
#   (details: snat_port_reuse.sh)
#
# Baseline: dropped by the 4.6 - 5.8 check, not by v5.9+ (the SYN carries
# the reopened flow's new conntrack). With the module: never; on v5.9+
# it leaves every such SYN to IPVS (resched_no_drop, nothing deleted).
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
pairs_header 1
reopened_base "after the client's RST"
pair rst_late -c rstack -n 4 -e $BASE -- -c rstack -n 4 -e fast
ktap_finish
