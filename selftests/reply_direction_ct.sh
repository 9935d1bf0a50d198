#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A reused SYN whose tuple matches a conntrack only in that conntrack's
# reply direction: the module can not give the SYN a fresh conntrack (it
# would have to delete somebody else's flow), so it must leave the SYN to
# IPVS altogether, flag included. IPVS then drops it and its entry's
# expiry deletes that conntrack by tuple; the retransmitted SYN (1 s)
# gets a fresh one and a conntrack whose reply comes from the real server
# that took it.
#
#   cl --- nat (10.0.2.1:40000) --- dir (IPVS VIP:80, CLOSE entry for
#                                   10.0.2.1:40000 after the server's RST;
#                                   conntrack VIP:80 -> 10.0.2.1:40000
#                                   SYN_SENT inserted, reply
#                                   10.0.2.1:40000 -> VIP:80)
#                                   --- rs1, rs2
#
# Asserted without and with the module: the reuse connects (one SYN
# retransmit at most), the new flow's conntrack answers from its server;
# with the module: skip_conntrack +1, resched and ct_removed +0.
#
# usage: reply_direction_ct.sh              both runs (KTAP)
#        reply_direction_ct.sh -m yes|no    one run

source "$(dirname "$0")/lib.sh"

twin_runs reply_direction "$@"

module_opt "$@"
CLOSE=rst

require_root
require_cmd ip ipvsadm conntrack twtool modprobe "$IPTABLES"
trap cleanup_ns EXIT
stage_case
long_close "$dir"
log "module=$MODULE, IPVS drop check: $(ipvs_trait drop_check) conntrack"

connect_once first
first=$SERVER
wait_for 15 entry_in CLOSE || fail "no CLOSE entry: '$(ipvs_state)'"
wait_for 15 snat_idle || fail "SNAT box still holds the flow"
n "$dir" conntrack -D -p tcp --orig-src $SNAT_IP --sport $SNAT_PORT >/dev/null 2>&1 ||
	fail "could not delete the old flow's conntrack"
# A connection attempt from VIP:80 to the client's tuple, unanswered: the
# client's SYN then is conntrack's simultaneous open, accepted on that
# conntrack in its reply direction.
n "$dir" conntrack -I -p tcp -s $VIP -d $SNAT_IP --sport 80 --dport $SNAT_PORT \
	--state SYN_SENT -t 60 >/dev/null 2>&1 ||
	fail "could not insert the reversed conntrack"
log "IPVS entry CLOSE (served by $first); conntrack: $(n "$dir" conntrack -L -p tcp --orig-src $VIP 2>/dev/null)"
[[ $MODULE == yes ]] && counters_mark "$dir"

connect_once reuse
log "reuse: $MS ms, server $SERVER, syn retransmits $RETRANS, conntrack reply from $(ct_reply_src 0)"
((RETRANS <= 1)) || fail "$RETRANS SYN retransmits: the reuse hung"
[[ $(ct_reply_src 0) == "${RS_IP[$SERVER]}" ]] ||
	fail "the new flow's conntrack answers from '$(ct_reply_src 0)', it was served by $SERVER"
if [[ $MODULE == yes ]]; then
	log "module counters:" $(n "$dir" cat /proc/net/ip_vs_tw_resched)
	counters_expect "$dir" skip_conntrack=1 resched=0 ct_removed=0
fi
dmesg_check
echo "# PASS"
exit $ksft_pass
