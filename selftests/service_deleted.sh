#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# IPVS entries outlive their service. After the last service is deleted,
# IPVS since 2022 (hooks_afmask) unregisters its hooks and no longer sees
# packets at all, while ipvs->enable stays set; older IPVS keeps its hooks
# and still reschedules (and drops) a SYN that meets a lingering entry.
# The module must act only where IPVS itself looks.
#
#   cl --- nat (10.0.2.1:40000) --- dir (VIP 10.0.2.2 local, service deleted,
#                                   CLOSE entry of 10.0.2.1:40000 left)
#                                   --- rs1, rs2
#
# The reuse is refused (nothing listens on VIP:80 on the director). Without
# the module: at once where IPVS no longer looks, after the drop's 1 s
# where it does. With the module: at once either way; counters unchanged
# and the old flow's conntrack untouched where IPVS does not look,
# resched +1 where it does.
#
# usage: service_deleted.sh              both runs (KTAP)
#        service_deleted.sh -m yes|no    one run

source "$(dirname "$0")/lib.sh"

twin_runs service_deleted "$@"

module_opt "$@"
CLOSE=rst

require_root
require_cmd ip ipvsadm conntrack twtool modprobe "$IPTABLES"
trap cleanup_ns EXIT
stage_case
long_close "$dir"
hooks=$(ipvs_trait hooks)
log "module=$MODULE, IPVS hooks: $hooks, drop check: $(ipvs_trait drop_check) conntrack"

connect_once first
wait_for 15 entry_in CLOSE || fail "no CLOSE entry: '$(ipvs_state)'"
wait_for 15 snat_idle || fail "SNAT box still holds the flow"
n "$dir" ipvsadm -D -t $VIP:80 || fail "ipvsadm -D"
[[ -n $(ipvs_state) ]] || fail "the entry went with the service"
ct_id() {
	n "$dir" conntrack -L -p tcp --orig-src $SNAT_IP --sport $SNAT_PORT -o id 2>/dev/null |
		sed -nE 's/.* id=([0-9]+).*/\1/p' | head -n 1
}
id0=$(ct_id)
[[ -n $id0 ]] || fail "no conntrack for the old flow"
[[ $MODULE == yes ]] && counters_mark "$dir"

t0=${EPOCHREALTIME/./}
out=$($(client_cmd 0) 2>&1) && fail "the reuse connected although no service exists: $out"
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
log "reuse after the service was deleted: refused after $ms ms ($out)"
if [[ $hooks == per_service ]]; then
	((ms < SLOW_MS)) || fail "refused after $ms ms: something dropped the SYN"
	if [[ $MODULE == yes ]]; then
		[[ $(ct_id) == "$id0" ]] || fail "the old flow's conntrack $id0 is gone: the module acted"
		counters_expect "$dir" resched=0 ct_removed=0 resched_no_drop=0 skip_conntrack=0
	fi
elif [[ $MODULE == no ]]; then
	((ms >= SLOW_MS)) || fail "refused after $ms ms: IPVS should have dropped the first SYN"
else
	((ms < SLOW_MS)) || fail "refused after $ms ms: the module left IPVS's drop"
	counters_expect "$dir" resched=1
fi
dmesg_check
echo "# PASS"
exit $ksft_pass
