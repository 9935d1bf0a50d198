#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A client behind SNAT resets its connection itself (SO_LINGER 0), and a
# packet of that connection reaches the director after the RST: here a
# bare ACK the client sends late, as HAProxy's own ACK did in
# haproxy_ab's stock NAT runs (one in about 40) when it went out on
# another CPU than the RST behind it. Conntrack reopens a flow on a new
# SYN only when the last packet it saw of it was that side's FIN or RST;
# here it was not, so it lets the SYN pass with the old flow's conntrack
# (its log: "packet (index 0) in dir 0 ignored, state CLOSE").
#
#   cl (sends the late ACK) --- nat (SNAT to 10.0.2.1:40000) --- dir (IPVS VIP:80, conntrack) --- rs1, rs2
#   (details: snat_port_reuse.sh)
#
# Baseline, every kernel: IPVS drops that SYN (1 s), v5.9+ too. With the
# module: none is dropped, the stale conntrack is deleted (ct_removed).
source "$(dirname "$0")/lib.sh"
require_root
ipvs_traits
ktap_header 2
expect_note "drops the SYN: conntrack did not reopen the flow after a late packet"
pair client_rst_late -c crstack -n 4 -e slow -- -c crstack -n 4 -e fast
ktap_finish
