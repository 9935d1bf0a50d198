#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Two directors: keepalived (VRRP, health checks, IPVS connection sync)
# and conntrackd (FT-FW), with the configuration of examples/keepalived/.
#
#   client      snat box          front segment (swf)       directors             back segment (swb)   real servers
#  +--------+  +-----------+     +---------------+     +------------------+     +---------------+   +-------------+
#  | cl     |--| nat       |-----| br0           |-----| dira 10.0.2.11   |-----| br0           |---| rs1         |
#  | 4 slots|  | slot j -> |     |               |     |      10.0.3.11   |     |               |   | 10.0.3.21   |
#  +--------+  | 10.0.2.1: |     |               |-----| dirb 10.0.2.12   |-----|               |---| rs2         |
#              | 40000+j   |     +---------------+     |      10.0.3.12   |     +---------------+   | 10.0.3.22   |
#              +-----------+     VIP 10.0.2.100 and gateway 10.0.3.1 on      | gw 10.0.3.1 |
#                                the VRRP master; IPVS sync and conntrackd   +-------------+
#                                between the directors on the back segment
#
# Both directors: IPVS NAT, vs.conntrack=1, conn_reuse_mode=1,
# expire_nodest_conn=1, a nat rule (conntrack active), and, in the runs
# with the module, ip_vs_tw_resched. Parts, in this order, each run:
#   lvs_timeouts     (module) keepalived's lvs_timeouts and the module's
#                    timeout_established / timeout_fin_wait agree, both
#                    ways, before and after keepalived reloads (SIGHUP);
#                    the module's timeout_time_wait survives the reload
#   sync_timeout     (module) the master's timeout_time_wait reaches the
#                    backup with the synced entry; the backup's own value
#                    stays its own
#   health_inhibit   keepalived's TCP_CHECK fails a real server, which it
#                    drains (inhibit_on_failure): a reused tuple of that
#                    server goes to the live one, at once with the module
#   health_remove    the same without inhibit_on_failure (keepalived
#                    reloaded without it): the server is removed
#   failover         the master fails (its links go down, nothing on it
#                    is torn down); the backup takes over the addresses
#                    and commits conntrackd's copy of the old master's
#                    conntracks. conntrackd copies an IPVS NAT flow's
#                    conntrack (its reply from the real server) as a DNAT
#                    flow, so a reused tuple's SYN matches it and goes in
#                    PREROUTING straight to its old real server, unseen
#                    by IPVS and the module; or, where that server still
#                    holds the old connection in TIME_WAIT and answers
#                    with an ACK, the client's RST ends the conntrack and
#                    its next SYN goes through IPVS. Checked per slot: no
#                    delay with the module, the module counts exactly the
#                    SYNs IPVS saw, the drop without it only where IPVS
#                    saw them and this kernel drops.
# The runs without conntrackd (-s) do only the failover: reused tuples
# meet synced TIME_WAIT entries on the backup, which use conntrack
# (vs.conntrack=1 there) while the SYN's conntrack is fresh: 4.6 - 5.8
# IPVS drops it all the same (without the module every reuse >= 900 ms,
# with it none), later IPVS does not drop it at all.
#
# usage: two_directors.sh                          all runs (KTAP)
#        two_directors.sh -m yes|no [-s]           one run

source "$(dirname "$0")/lib.sh"

if (($# == 0)); then
	require_root
	require_cmd keepalived conntrackd
	ipvs_traits
	ktap_header 4
	sub conntrackd_nomodule bash "$0" -m no
	sub conntrackd_module bash "$0" -m yes
	sub sync_only_nomodule bash "$0" -m no -s
	sub sync_only_module bash "$0" -m yes -s
	ktap_finish
fi

MODULE=no CTD=yes
while getopts "m:s" o; do
	case $o in
	m) MODULE=$OPTARG ;;
	s) CTD=no ;;
	*) fail "bad option" ;;
	esac
done
EX=$DIR/keepalived.conf
[[ -r $EX ]] || EX=$DIR/../examples/keepalived/keepalived.conf
EXD=$(dirname "$EX")
# Slots 0-2 are the failover's; slot 3 is sync_timeout's own: its
# servers close first, and the real server that served it holds the
# tuple in TIME_WAIT for a minute. A failover reuse of that tuple that
# IPVS sent to that server met it there: the server refused the SYN
# (PAWS: the client's timestamps of a new connection are unrelated to the
# old one's), and its ACK cost the client a second (6.12.118: 2 of 11
# module runs).
CLOSE=rst SLOTS=4 FO=3 VIP=10.0.2.100 SVC=10.0.2.100:80
declare -A DIP=([dira]=10.0.2.11 [dirb]=10.0.2.12) BIP=([dira]=10.0.3.11 [dirb]=10.0.3.12)
declare -A ID=([dira]=dirA [dirb]=dirB)
RS_IP=([rs1]=10.0.3.21 [rs2]=10.0.3.22)

require_root
require_cmd ip ipvsadm conntrack twtool keepalived conntrackd modprobe "$IPTABLES"
# Under /run: keepalived runs notify scripts only from directories that no
# other user can write to (enable_script_security), which /tmp is not.
TMP=$(mktemp -d -p /run twr-XXXXXX)
cleanup() {
	local f

	for f in "$TMP"/*.pid; do
		[[ -s $f ]] && kill "$(cat "$f")" 2>/dev/null
	done
	cleanup_ns
	rm -rf "$TMP"
}
trap cleanup EXIT
ipvs_traits
dmesg_mark
module_state "$MODULE"
modprobe ip_vs || fail "modprobe ip_vs"

ktap_header $([[ $CTD == yes ]] && echo $((MODULE == yes ? 5 : 3)) || echo 1)

# ---- topology ---------------------------------------------------------------
new_nss cl nat swf swb dira dirb rs1 rs2
all=(root "$cl" "$nat" "$swf" "$swb" "$dira" "$dirb" "$rs1" "$rs2")
for sw in "$swf" "$swb"; do
	bat "$sw" "link add br0 type bridge"
	bat "$sw" "link set br0 up"
done
bveth "$cl" eth0 "$nat" eth0
bveth "$nat" eth1 "$swf" p0
bveth "$dira" eth0 "$swf" p1
bveth "$dirb" eth0 "$swf" p2
bveth "$dira" eth1 "$swb" p1
bveth "$dirb" eth1 "$swb" p2
bveth "$rs1" eth0 "$swb" p3
bveth "$rs2" eth0 "$swb" p4
for p in p0 p1 p2; do bat "$swf" "link set $p master br0"; done
for p in p1 p2 p3 p4; do bat "$swb" "link set $p master br0"; done
bclient_snat
for d in dira dirb; do
	baddr "${!d}" eth0 "${DIP[$d]}"
	baddr "${!d}" eth1 "${BIP[$d]}"
	sys "${!d}" net.ipv4.ip_forward 1
	sys "${!d}" net.ipv4.vs.conntrack 1
	sys "${!d}" net.ipv4.vs.conn_reuse_mode 1
	sys "${!d}" net.ipv4.vs.expire_nodest_conn 1
	sys "${!d}" net.netfilter.nf_conntrack_tcp_timeout_close 30
	[[ $MODULE == yes ]] && sys "${!d}" net.ipv4.vs.tw_resched.timeout_close 30
done
for rs in rs1 rs2; do
	baddr "${!rs}" eth0 "${RS_IP[$rs]}"
	bat "${!rs}" "route add default via 10.0.3.1"
done
sys "$nat" net.ipv4.ip_forward 1
sys "$nat" net.netfilter.nf_conntrack_tcp_timeout_time_wait 1
sys "$nat" net.netfilter.nf_conntrack_tcp_timeout_close 1
bat_run "${all[@]}"
rules="*nat"$'\n'
for ((j = 0; j < SLOTS; j++)); do
	rules+="-A POSTROUTING -o eth1 -p tcp -s $(client_ip $j) -j MASQUERADE --to-ports $(tuple_port $j)"$'\n'
done
n "$nat" "$IPTABLES-restore" --noflush <<<"${rules}COMMIT" || fail "SNAT rules"
for d in dira dirb; do
	n "${!d}" "$IPTABLES-restore" --noflush <<<"*nat
-A POSTROUTING -s $NOISE_NET -j MASQUERADE
COMMIT" || fail "$d nat rule"
done
sys_run "${all[@]}"
# serve RS MODE: RS's server. The health checks use servers that reset
# (conntrack does not reopen such a flow: the drop stays on every kernel);
# the failover, servers that close first with a FIN (as HTTP servers do):
# the client's FIN is then the last packet the director sees, and IPVS
# sends that state (TIME_WAIT) to the backup. A state reached on a
# server's packet is not synced: after a server's RST the backup keeps
# ESTABLISHED, and a reuse there is not rescheduled at all.
serve() {
	pkill -f "twtool server 80 $1 " 2>/dev/null
	wait_for 10 not_listening "${!1}" || fail "$1's server did not stop"
	ip netns exec "${!1}" twtool server 80 "$1" "$2" &
	disown
	wait_for 10 listening "${!1}" || fail "$1's server did not start"
}
not_listening() { ! listening "$1"; }
serve rs1 rst
serve rs2 rst

# ---- keepalived and conntrackd, from the examples ---------------------------
sed -e "s|/etc/keepalived/|$TMP/|g" -e "s|/etc/conntrackd/|$TMP/|g" "$EX" >"$TMP/keepalived.conf"
cp "$EXD/conntrackd-notify.sh" "$TMP/"
chmod 755 "$TMP/conntrackd-notify.sh"
sed -e "s|/var/lock/|$TMP/|; s|/var/run/|$TMP/|" "$EXD/conntrackd.conf" >"$TMP/conntrackd-dirA.conf"
sed -e 's/10\.0\.3\.11/@A@/; s/10\.0\.3\.12/10.0.3.11/; s/@A@/10.0.3.12/; s/dirA/dirB/g' \
	"$TMP/conntrackd-dirA.conf" >"$TMP/conntrackd-dirB.conf"
ka_start() {	# ka_start DIR
	ip netns exec "${!1}" keepalived -n -l -D -f "$TMP/keepalived.conf" -i "${ID[$1]}" \
		-p "$TMP/ka-$1.pid" -r "$TMP/vrrp-$1.pid" -c "$TMP/chk-$1.pid" \
		>>"$TMP/ka-$1.log" 2>&1 &
	disown
}
for d in dira dirb; do
	if [[ $CTD == yes ]]; then
		n "${!d}" conntrackd -C "$TMP/conntrackd-${ID[$d]}.conf" -d >>"$TMP/ctd-$d.log" 2>&1 ||
			fail "conntrackd on $d: $(cat "$TMP/ctd-$d.log")"
	fi
	ka_start $d
done
has_vip() { ip -n "${!1}" addr show eth0 | grep -q " $VIP/"; }
servers() {	# servers DIR: "rs-address:weight" of the service, sorted
	n "${!1}" ipvsadm -Ln -t $SVC 2>/dev/null | awk '$1 == "->" && $2 ~ /:80$/ { print $2 ":" $4 }' | sort | tr '\n' ' '
}
full() { [[ $(servers "$1") == "10.0.3.21:80:1 10.0.3.22:80:1 " ]]; }
wait_for 30 has_vip dira || fail "director A never became master: $(tail -n 20 "$TMP/ka-dira.log")"
wait_for 15 full dira && wait_for 15 full dirb ||
	fail "keepalived did not set up IPVS: A '$(servers dira)', B '$(servers dirb)'"
has_vip dirb && fail "both directors hold the VIP"
log "module=$MODULE conntrackd=$CTD: director A is master; IPVS on A and B: $(servers dira)"

# A reused tuple's connection through the master, and its time.
ka_tuple() { hp "$SNAT_IP" "$(tuple_port "$1")"; }
dir_entry() {	# dir_entry DIR SLOT: "STATE SECONDS DEST" of the slot's entries
	n "${!1}" ipvsadm -Lnc | awk -v s="$(ka_tuple "$2")" \
		'$1 == "TCP" && $4 == s { split($2, t, ":"); print $3, t[1] * 60 + t[2], $6 }'
}
slot_connect() {	# slot_connect J: sets MS SERVER RETRANS
	local out

	out=$(ip netns exec "$cl" twtool connect $VIP 80 rst -b "$(client_ip "$1"):0") ||
		{ log "slot $1: $out"; return 1; }
	parse_conn "$out"
}
counted() {	# counted DIR: resched + resched_no_drop + probe of a director
	n "${!1}" awk '$1 == "resched" || $1 == "resched_no_drop" || $1 == "probe" { s += $2 }
		END { print s + 0 }' /proc/net/ip_vs_tw_resched
}
ctd_dump() {	# ctd_dump DIR -e|-i: conntrackd's cache entries of the slots
	n "${!1}" conntrackd -C "$TMP/conntrackd-${ID[$1]}.conf" "$2" 2>&1 |
		grep -c "sport=$SNAT_PORT\|src=$SNAT_IP"
}
part_fail() {
	log "$PART: $*"
	[[ $PART == failover ]] && ((${#CAP[@]})) && { cap_stop; cap_show; }
	return 1
}
part() {	# part NAME FUNC: one KTAP result
	PART=$1
	if "$2"; then
		ktap_result ok "$1"
	else
		ktap_result fail "$1"
	fi
}

# ---- parts ------------------------------------------------------------------
D=/proc/sys/net/ipv4/vs/tw_resched
ipvs_to() { n "${!1}" ipvsadm -L --timeout | sed -E 's/.*: *//'; }
mod_to() { echo "$(n "${!1}" cat $D/timeout_established) $(n "${!1}" cat $D/timeout_fin_wait)"; }
lvs_timeouts() {
	local want d

	want=$(sed -nE 's/.*lvs_timeouts tcp ([0-9]+) tcpfin ([0-9]+) udp ([0-9]+).*/\1 \2/p' "$TMP/keepalived.conf")
	for d in dira dirb; do
		[[ $(mod_to $d) == "$want" ]] || part_fail "$d: module shows '$(mod_to $d)', lvs_timeouts '$want'" || return 1
	done
	n "$dira" sh -c "echo 3000 >$D/timeout_established; echo 45 >$D/timeout_time_wait" ||
		part_fail "write A's sysctls" || return 1
	[[ $(ipvs_to dira) == "3000 ${want#* } "* ]] || part_fail "ipvsadm after the module's write: '$(ipvs_to dira)'" || return 1
	kill -HUP "$(cat "$TMP/ka-dira.pid")" || part_fail "SIGHUP" || return 1
	reloaded() { [[ $(mod_to dira) == "$want" ]]; }
	wait_for 10 reloaded ||
		part_fail "after keepalived's reload the module shows '$(mod_to dira)', lvs_timeouts '$want'" || return 1
	[[ $(n "$dira" cat $D/timeout_time_wait) == 45 ]] ||
		part_fail "the reload changed timeout_time_wait to $(n "$dira" cat $D/timeout_time_wait)" || return 1
	wait_for 15 full dira || part_fail "IPVS after the reload: '$(servers dira)'" || return 1
	log "$PART: lvs_timeouts '$want' shown by the module on A and B; module write 3000 seen by ipvsadm;" \
		"after SIGHUP keepalived's values again, timeout_time_wait 45 kept"
}

sync_timeout() {
	local st left dest

	serve rs1 sfin
	serve rs2 sfin
	n "$dira" sh -c "echo 40 >$D/timeout_time_wait" || part_fail "write" || return 1
	# Slot 3's connection; its entry ends in TIME_WAIT.
	slot_connect 3 || part_fail "connect" || return 1
	on_b() { read -r st left dest < <(dir_entry dirb 3 | grep TIME_WAIT); [[ -n $st ]]; }
	wait_for 15 on_b || part_fail "no synced TIME_WAIT entry on B: '$(dir_entry dirb 3)'" || return 1
	((left <= 40)) || part_fail "B's synced entry expires in $left s, A's timeout_time_wait is 40" || return 1
	[[ $(n "$dirb" cat $D/timeout_time_wait) == 120 ]] ||
		part_fail "B's own timeout_time_wait is $(n "$dirb" cat $D/timeout_time_wait)" || return 1
	log "$PART: A's timeout_time_wait 40 -> B's synced TIME_WAIT entry expires in $left s; B's own value 120"
	serve rs1 rst
	serve rs2 rst
}

# health KIND: fail rs1's health check with the tuple of slot 0 on rs1.
health() {
	local kind=$1 j srv t0 s

	# A connection of slot 0 that rs1 served (rr alternates).
	for j in 1 2 3; do
		wait_for 15 snat_idle_all || part_fail "SNAT box busy" || return 1
		slot_connect 0 || return 1
		[[ $SERVER == rs1 ]] && break
	done
	[[ $SERVER == rs1 ]] || part_fail "rs1 never served slot 0" || return 1
	wait_for 15 on_a_close || part_fail "no CLOSE entry on A: '$(dir_entry dira 0)'" || return 1
	pkill -f "twtool server 80 rs1 " || part_fail "could not stop rs1's server" || return 1
	if [[ $kind == inhibit ]]; then
		drained() { [[ $(servers dira) == "10.0.3.21:80:0 10.0.3.22:80:1 " ]]; }
		wait_for 15 drained || part_fail "keepalived did not drain rs1: '$(servers dira)'" || return 1
	else
		removed() { [[ $(servers dira) == "10.0.3.22:80:1 " ]]; }
		wait_for 15 removed || part_fail "keepalived did not remove rs1: '$(servers dira)'" || return 1
	fi
	wait_for 15 snat_idle_all || part_fail "SNAT box busy" || return 1
	s=$([[ $MODULE == yes ]] && counted dira)
	slot_connect 0 || part_fail "reuse failed" || return 1
	log "$PART: rs1 failed its check, IPVS on A: $(servers dira); reuse of slot 0: $MS ms, server $SERVER, retransmits $RETRANS"
	[[ $SERVER == rs2 ]] || part_fail "the reuse went to $SERVER" || return 1
	if [[ $MODULE == yes ]]; then
		((${MS%.*} < SLOW_MS)) || part_fail "$MS ms" || return 1
		log "$PART: the module counted $(($(counted dira) - s)) rescheduled SYNs"
	elif [[ $kind == inhibit ]]; then
		((${MS%.*} >= SLOW_MS)) || part_fail "without the module the drained server's reuse took $MS ms: no drop to compare with" || return 1
	fi
	# rs1 back, for what follows.
	serve rs1 rst
	wait_for 15 full dira || part_fail "rs1 not back: '$(servers dira)'" || return 1
}
on_a_close() { dir_entry dira 0 | grep -q '^CLOSE '; }
snat_idle_all() {
	n "$nat" sh -c "conntrack -D -p tcp --dport 80 --state TIME_WAIT; conntrack -D -p tcp --dport 80 --state CLOSE" >/dev/null 2>&1
	[[ -z $(n "$nat" conntrack -L -p tcp --dport 80 2>/dev/null) ]]
}
health_inhibit() { health inhibit; }
health_remove() {
	sed -i '/inhibit_on_failure/d' "$TMP/keepalived.conf"
	kill -HUP "$(cat "$TMP/ka-dira.pid")" "$(cat "$TMP/ka-dirb.pid")" || part_fail "SIGHUP" || return 1
	wait_for 15 full dira || part_fail "IPVS after the reload: '$(servers dira)'" || return 1
	health remove
}

# cap_start, cap_stop: tcpdump at the client and on B, port 80 and ARP.
# cap_show: on a failed part, what they saw, with B's counters (the
# module's, conntrack's statistics and IP/TCP drops).
cap_start() {
	local h

	for h in cl dirb; do
		ip netns exec "${!h}" tcpdump -i any -nn -tt -S -l --immediate-mode -Z root \
			'tcp port 80 or arp' >"$TMP/cap.$h" 2>"$TMP/cap.$h.err" &
		CAP[$h]=$!
	done
	capturing() { grep -q 'listening on' "$TMP/cap.cl.err" && grep -q 'listening on' "$TMP/cap.dirb.err"; }
	wait_for 10 capturing || log "$PART: tcpdump did not start: $(cat "$TMP"/cap.*.err)"
}
cap_stop() {
	local h

	for h in "${!CAP[@]}"; do
		kill -INT "${CAP[$h]}" 2>/dev/null
		wait "${CAP[$h]}" 2>/dev/null
	done
	CAP=()
}
cap_show() {
	local h

	for h in cl dirb; do
		log "$PART: capture at $h:"
		sed 's/^/    /' "$TMP/cap.$h" | head -n 120 >&2
	done
	log "$PART: B's module counters: $(n "$dirb" cat /proc/net/ip_vs_tw_resched 2>/dev/null | tr '\n' ' ')"
	log "$PART: B's conntrack -S: $(n "$dirb" conntrack -S 2>/dev/null | tr -s ' ' | tr '\n' ';')"
	log "$PART: B's IPVS: $(n "$dirb" ipvsadm -Lnc | tr -s ' ' | tr '\n' ';')"
	log "$PART: B's conntrack: $(n "$dirb" conntrack -L -p tcp --orig-src $SNAT_IP 2>/dev/null | tr -s ' ' | tr '\n' ';')"
	log "$PART: nstat: client $(n "$cl" nstat -az 2>/dev/null | awk '$2 > 0 && /Syn|PAWS|Reset|RST|Timeout|Challenge/ { printf "%s=%s ", $1, $2 }')"
}
declare -A CAP=()

failover() {
	local j s pids=() out slow=0 direct=0 viaipvs rtx=0 committed

	# Slots 0-2 through A, each closed by its server first.
	serve rs1 sfin
	serve rs2 sfin
	wait_for 15 full dira || part_fail "IPVS: '$(servers dira)'" || return 1
	wait_for 15 snat_idle_all || part_fail "SNAT box busy" || return 1
	for ((j = 0; j < FO; j++)); do
		slot_connect $j || part_fail "connect slot $j" || return 1
		FIRST[$j]=$SERVER
	done
	synced() {
		for ((j = 0; j < FO; j++)); do
			dir_entry dirb $j | grep -q '^TIME_WAIT ' || return 1
		done
	}
	wait_for 15 synced || part_fail "entries not synced to B: '$(dir_entry dirb 0)'" || return 1
	# A fails as a crashed director does: its links go down and nothing
	# on it is torn down. (Stopping keepalived would delete A's IPVS
	# services, IPVS would then drop its entries' conntracks, and A's
	# conntrackd would withdraw them from B.)
	ip -n "$dira" -b - <<<$'link set eth0 down\nlink set eth1 down' || part_fail "A's links" || return 1
	wait_for 15 has_vip dirb || part_fail "B did not take over" || return 1
	if [[ $CTD == yes ]]; then
		# conntrackd's copy of a conntrack whose reply comes from the
		# real server (IPVS NAT rewrote the reply tuple) is, to
		# libnetfilter_conntrack, a DNAT flow: B commits it as one.
		ct_dnat() {	# ct_dnat SLOT: B holds the slot's flow as DNAT
			[[ -n $(n "$dirb" conntrack -L -p tcp --orig-src $SNAT_IP \
				--sport "$(tuple_port "$1")" --dst-nat 2>/dev/null) ]]
		}
		committed_all() {
			for ((j = 0; j < FO; j++)); do ct_dnat $j || return 1; done
		}
		wait_for 15 committed_all || part_fail "conntrackd did not commit A's conntracks on B as DNAT flows:" \
			"B's external cache: $(ctd_dump dirb -e), A's internal cache: $(ctd_dump dira -i);" \
			"B's conntrack: $(n "$dirb" conntrack -L -p tcp --orig-src $SNAT_IP 2>/dev/null | tr '\n' ' ')" || return 1
		committed="conntrackd committed the $FO flows as DNAT conntracks"
	else
		committed="no conntrackd"
	fi
	wait_for 15 snat_idle_all || part_fail "SNAT box busy" || return 1
	# Captures at the client and on B (both its links), shown when a
	# reuse fails the part: where each SYN went.
	cap_start
	s=$([[ $MODULE == yes ]] && counted dirb)
	for ((j = 0; j < FO; j++)); do
		ip netns exec "$cl" twtool connect $VIP 80 rst -b "$(client_ip $j):0" >"$TMP/fo.$j" 2>&1 &
		pids+=($!)
	done
	for ((j = 0; j < FO; j++)); do
		wait "${pids[$j]}" || part_fail "reuse slot $j: $(cat "$TMP/fo.$j")" || return 1
		parse_conn "$(cat "$TMP/fo.$j")" || part_fail "slot $j: $(cat "$TMP/fo.$j")" || return 1
		log "$PART: slot $j after the failover: $MS ms, server $SERVER (first ${FIRST[$j]}), retransmits $RETRANS"
		((${MS%.*} >= SLOW_MS)) && slow=$((slow + 1))
		[[ $SERVER == "${FIRST[$j]}" && $RETRANS == 0 ]] && direct=$((direct + 1))
		rtx=$((rtx + RETRANS))
	done
	cap_stop
	log "$PART: B took over ($committed); $slow of $FO reused connects >= $SLOW_MS ms"
	log "RESULT failover conntrackd=$CTD module=$MODULE slow=$slow total=$FO"
	if [[ $CTD == yes ]]; then
		# The reused SYN matches its committed conntrack, and NAT sends
		# it in PREROUTING to its old real server: IPVS (and the module,
		# just before it) never see it. Unless that server still holds
		# the old connection in TIME_WAIT and answers with an ACK: the
		# client resets (which ends the committed conntrack) and sends
		# the SYN again at once, and that one IPVS schedules. Which way
		# a slot went shows in its server and retransmits; IPVS's drop,
		# where this kernel has it, follows only the second way.
		viaipvs=$((FO - direct))
		log "$PART: $direct reuses went straight to their old server (conntrack DNAT, unseen by IPVS)," \
			"$viaipvs through IPVS after the old server's TIME_WAIT answered"
		if [[ $MODULE == yes ]]; then
			((slow == 0)) || part_fail "$slow reused connects slow with the module" || return 1
			(($(counted dirb) - s == viaipvs)) ||
				part_fail "B's module counted $(($(counted dirb) - s)) SYNs, IPVS saw $viaipvs" || return 1
		elif [[ $(ipvs_trait drop_check) == any ]]; then
			((slow == viaipvs)) || part_fail "$slow slow, $viaipvs SYNs met this IPVS's drop" || return 1
		else
			((slow == 0)) || part_fail "$slow slow although this IPVS has no reason to drop" || return 1
		fi
	elif [[ $MODULE == yes ]]; then
		((slow == 0)) || part_fail "$slow reused connects slow with the module" || return 1
		# Each reuse once, and a SYN that had to be sent again (to the
		# old master's MAC, before the gratuitous ARP) once more.
		(($(counted dirb) - s == FO + rtx)) ||
			part_fail "B's module counted $(($(counted dirb) - s)) rescheduled SYNs: $FO reused, $rtx SYNs resent" || return 1
	elif [[ $(ipvs_trait drop_check) == any ]]; then
		# The synced entries use conntrack (vs.conntrack=1 on B): the
		# 4.6 - 5.8 check drops a reuse whatever its conntrack.
		((slow >= FO - 1)) || part_fail "the drop did not reproduce: $slow of $FO" || return 1
	else
		# B's conntrack has never seen the old flow: the SYN's is fresh.
		((slow == 0)) || part_fail "$slow slow although this IPVS has no reason to drop" || return 1
	fi
}

declare -A FIRST=()
if [[ $CTD == yes ]]; then
	if [[ $MODULE == yes ]]; then
		part lvs_timeouts lvs_timeouts
		part sync_timeout sync_timeout
	fi
	part health_inhibit health_inhibit
	part health_remove health_remove
fi
part failover failover
dmesg_check
ktap_finish
