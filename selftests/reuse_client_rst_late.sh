#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A client behind SNAT resets its connection itself (SO_LINGER 0), and a
# packet of that connection reaches the director after the RST: here a
# bare ACK the client sends late, as HAProxy's own ACK did in 4 of 255
# of haproxy_ab's stock NAT runs on 6.12, sent or handled on the other
# vCPU than the RST it then followed. Conntrack reopens a flow on a new
# SYN only if it saw a FIN, or if the last packet it took of the flow was
# an RST from the SYN's side; here it was not, so it lets the SYN pass
# with the old flow's conntrack (its log: "packet (index 0) in dir 0
# ignored, state CLOSE"; 5.4 and RHEL 8: "invalid packet ignored in state
# CLOSE").
#
#   cl (sends the late ACK) --- nat (SNAT to 10.0.2.1:40000) --- dir (IPVS VIP:80, conntrack) --- rs1, rs2
#   (details: snat_port_reuse.sh)
#
# Baseline, every kernel: IPVS drops that SYN (1 s), v5.9+ too. With the
# module: none is dropped, the stale conntrack is deleted (ct_removed).
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
pairs_header 1
expect_note "drops the SYN: conntrack did not reopen the flow after a late packet"
pair client_rst_late -c crstack -n 4 -e slow -- -c crstack -n 4 -e fast
ktap_finish
