#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# net.ipv4.vs.tw_resched.*: per-namespace TCP timeouts and reuse policy.
#
#   init_net (the VM)      nsA, nsB          SNAT topology (see lib.sh)
#   +-----------------+    +-------------+   client -> snat -> director -> rs1, rs2
#   | module params,  |    | own values, |   timeout_time_wait=2 in the
#   | host values     |--->| inherited   |   director: entries expire in 2 s,
#   +-----------------+    +-------------+   then a reused port meets nothing
#
# Checks: IPVS defaults shown live; ipvsadm --set and our sysctls see each
# other's writes; every bad value refused with the old one kept; namespaces
# isolated; new namespaces inherit the initial namespace's values; module
# parameters; hidden in unprivileged user namespaces; a short TIME_WAIT
# really shortens IPVS entries; unload gives IPVS back its own values.

source "$(dirname "$0")/lib.sh"

require_root
require_cmd ip ipvsadm conntrack twtool modprobe unshare iptables-nft
trap 'cleanup_ns; module_state no' EXIT
dmesg_mark

D=/proc/sys/net/ipv4/vs/tw_resched
STATES="established syn_sent syn_recv fin_wait time_wait close close_wait last_ack listen synack"
declare -A DEF=([established]=900 [syn_sent]=120 [syn_recv]=60 [fin_wait]=120
	[time_wait]=120 [close]=10 [close_wait]=60 [last_ack]=30 [listen]=120
	[synack]=120)

r() { n "$1" cat "$D/$2"; }
w() { echo "$3" | n "$1" tee "$D/$2" >/dev/null 2>&1; }
expect_eq() {	# expect_eq WHAT GOT WANT
	[[ $2 == "$3" ]] || fail "$1: got '$2', want '$3'"
}
ipvs_timeouts() { n "$1" ipvsadm -L --timeout | sed -E 's/.*: *//'; }

module_state no
modprobe ip_vs || fail "modprobe ip_vs"
module_state yes

# 1. Defaults, read live from IPVS, in the initial and a new namespace.
new_ns a
for s in $STATES; do
	expect_eq "default timeout_$s (initial ns)" "$(cat $D/timeout_$s)" "${DEF[$s]}"
	expect_eq "default timeout_$s (new ns)" "$(r "$a" timeout_$s)" "${DEF[$s]}"
done
expect_eq "default resched_mode" "$(r "$a" resched_mode)" 7
log "defaults: IPVS's own table shown in the initial namespace and in $a"

# 2. Live both ways: ipvsadm --set <-> our sysctls. (The UDP timeout is
# IPVS's alone: 300, or 0 on a kernel without IP_VS_PROTO_UDP.)
udp=$(ipvs_timeouts "$a" | awk '{ print $3 }')
n "$a" ipvsadm --set 111 222 0 || fail "ipvsadm --set"
expect_eq "after ipvsadm --set: timeout_established" "$(r "$a" timeout_established)" 111
expect_eq "after ipvsadm --set: timeout_fin_wait" "$(r "$a" timeout_fin_wait)" 222
w "$a" timeout_established 333 || fail "write timeout_established"
expect_eq "ipvsadm -L --timeout after our write" "$(ipvs_timeouts "$a")" "333 222 $udp"
log "live values: ipvsadm --set seen by the sysctls, sysctl writes seen by ipvsadm"

# 3. Bad input: refused, value unchanged. name|value
BAD=(
	"resched_mode|abc" "resched_mode|-1" "resched_mode|8" "resched_mode|1.5"
	"resched_mode|99999999999999999999" "resched_mode|0x"
	"timeout_time_wait|abc" "timeout_time_wait|-5" "timeout_time_wait|0"
	"timeout_time_wait|1.5" "timeout_time_wait|8589935"
	"timeout_time_wait|99999999999" "timeout_time_wait|99999999999999999999"
	"timeout_close|0" "timeout_established|-1" "timeout_synack|2147483648"
)
for t in "${BAD[@]}"; do
	name=${t%%|*} val=${t#*|}
	before=$(r "$a" "$name")
	w "$a" "$name" "$val" && fail "$name accepted '$val'"
	expect_eq "$name after refused '$val'" "$(r "$a" "$name")" "$before"
done
log "${#BAD[@]} bad writes refused, values kept"
w "$a" timeout_time_wait 2147483 || fail "largest valid timeout (HZ<=1000) refused"
w "$a" timeout_time_wait 1 || fail "timeout 1 refused"
w "$a" resched_mode 0 || fail "resched_mode 0 refused"

# 4. Isolation, and inheritance from the initial namespace.
new_ns b
w "$a" timeout_time_wait 5
w "$b" timeout_time_wait 7
expect_eq "nsA time_wait" "$(r "$a" timeout_time_wait)" 5
expect_eq "nsB time_wait" "$(r "$b" timeout_time_wait)" 7
expect_eq "init_net time_wait untouched" "$(cat $D/timeout_time_wait)" 120
expect_eq "nsB resched_mode untouched by nsA" "$(r "$b" resched_mode)" 7
echo 77 >$D/timeout_time_wait || fail "write init_net"
echo 3 >$D/resched_mode || fail "write init_net"
new_ns c
expect_eq "new namespace inherits time_wait" "$(r "$c" timeout_time_wait)" 77
expect_eq "new namespace inherits resched_mode" "$(r "$c" resched_mode)" 3
expect_eq "existing namespace keeps its own" "$(r "$b" timeout_time_wait)" 7
log "namespaces isolated; a new one inherits the initial namespace's values"

# 5. Unprivileged user namespace: nothing to see or write.
files=$(unshare -Urn ls "$D" 2>/dev/null | wc -l)
expect_eq "files visible in an unprivileged userns" "$files" 0

# 6. Unload gives IPVS its table back, except what ipvsadm set later.
w "$b" timeout_fin_wait 444
n "$b" ipvsadm --set 0 555 0
w "$b" timeout_established 333
cleanup_ns
new_ns d
w "$d" timeout_established 333
w "$d" timeout_fin_wait 444
n "$d" ipvsadm --set 0 555 0 || fail "ipvsadm --set"
module_state no
expect_eq "after unload: ipvsadm -L --timeout" "$(ipvs_timeouts "$d")" "900 555 $udp"
expect_eq "after unload: init_net" "$(ipvsadm -L --timeout | sed -E 's/.*: *//')" "900 120 $udp"
[[ -e $D ]] && fail "$D still there after unload"
log "unload restored IPVS's values (ipvsadm's later fin_wait 555 kept)"

# 7. Module parameters: the initial namespace's values at load, inherited.
modprobe $TWR_MOD timeout_time_wait=-1 2>/dev/null && fail "timeout_time_wait=-1 accepted"
modprobe $TWR_MOD resched_mode=8 2>/dev/null && fail "resched_mode=8 accepted"
module_loaded $TWR_MOD && fail "module loaded after a bad parameter"
modprobe $TWR_MOD timeout_time_wait=42 resched_mode=5 || fail "modprobe with parameters"
expect_eq "param time_wait, init_net" "$(cat $D/timeout_time_wait)" 42
expect_eq "param resched_mode, init_net" "$(cat $D/resched_mode)" 5
expect_eq "param time_wait, existing ns" "$(r "$d" timeout_time_wait)" 42
new_ns e
expect_eq "param time_wait, new ns" "$(r "$e" timeout_time_wait)" 42
module_state no
expect_eq "init_net TIME_WAIT back" "$(ipvsadm -L --timeout | sed -E 's/.*: *//')" "900 120 $udp"
cleanup_ns
log "module parameters apply to the initial namespace and are inherited"

# 8. A short TIME_WAIT in the director, end to end, then unload. 5 s, not
# less: on the debug kernel one poll of ipvsadm in a namespace takes ~1 s,
# and a 2 s entry was gone before a poll saw it.
module_state yes
CLOSE=fin TW=5
topology
w "$dir" timeout_time_wait $TW || fail "write director time_wait"
expect_eq "proc active" "$(twr_counter "$dir" active)" 1
sysctl_w "$dir" net.ipv4.vs.conn_reuse_mode 0
expect_eq "proc active with conn_reuse_mode=0" "$(twr_counter "$dir" active)" 0
sysctl_w "$dir" net.ipv4.vs.conn_reuse_mode 1
connect_once
wait_for 10 entry_in TIME_WAIT || fail "no TIME_WAIT entry: '$(ipvs_state)'"
exp=$(ipvs_expire)
((exp <= TW)) || fail "TIME_WAIT entry expires in ${exp}s, want <= $TW"
t0=$SECONDS
wait_for 15 entry_gone || fail "TIME_WAIT entry still there after 15 s"
log "TIME_WAIT entry expired $((SECONDS - t0)) s after it was seen (expire shown ${exp}s)"
wait_for 15 snat_idle || fail "SNAT box still holds the flow"
r0=$(twr_counter "$dir" resched)
connect_once
expect_eq "resched after TIME_WAIT expired" "$(twr_counter "$dir" resched)" "$r0"

wait_for 10 entry_in TIME_WAIT || fail "no TIME_WAIT entry"
module_state no
wait_for 10 entry_gone || fail "old entry did not expire"
wait_for 15 snat_idle || fail "SNAT box still holds the flow"
connect_once
wait_for 10 entry_in TIME_WAIT || fail "no TIME_WAIT entry after unload"
exp=$(ipvs_expire)
((exp > 100)) || fail "after unload TIME_WAIT expires in ${exp}s, want IPVS's 120"
log "after unload a new TIME_WAIT entry expires in ${exp}s (IPVS's default)"

dmesg_check
echo PASS
exit $ksft_pass
