#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Helpers shared by the ip_vs_tw_resched selftests, after
# tools/testing/selftests/net/lib.sh and WireGuard's netns.sh.

ksft_pass=0
ksft_fail=1
ksft_skip=4

TWR_MOD=ip_vs_tw_resched
SLOW_MS=900		# a connect this slow waited for a SYN retransmit
DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The C tools are installed beside the scripts (TEST_GEN_FILES).
PATH=$DIR:$PATH

# KSFT_MACHINE_SLOW=yes (what kernel CIs set on slow runners, and what
# scripts/debug-kernel.sh sets for its KASAN/lockdep kernel): lighter loads
# and TWR_SCALE times the waits.
if [[ ${KSFT_MACHINE_SLOW:-} == yes ]]; then
	TWR_SLOW=1 TWR_SCALE=3
else
	TWR_SLOW=0 TWR_SCALE=1
fi

log() { echo "# $*"; }

fail() {
	echo "# FAIL: $*"
	exit $ksft_fail
}

skip() {
	echo "# SKIP: $*"
	exit $ksft_skip
}

# ---------------------------------------------------------------------------
# KTAP. A test program prints its own plan and one result per subtest
# (a run without and a run with the module, or one step of a larger
# check); the kselftest runner nests that output under its own result.
#   ktap_header N          "TAP version 13" and the plan
#   sub NAME CMD...        run CMD in a subshell (fail/skip end only it;
#                          the namespaces it made are removed on its exit),
#                          report "ok N NAME", "not ok N NAME" or
#                          "ok N NAME # SKIP reason"
#   ktap_finish            totals; exit 1 if anything failed, 4 if
#                          everything skipped, else 0
KTAP_N=0 KTAP_PASS=0 KTAP_FAIL=0 KTAP_SKIP=0
ktap_header() {
	echo "TAP version 13"
	echo "1..$1"
}

ktap_result() {	# ktap_result ok|fail|skip NAME [reason]
	KTAP_N=$((KTAP_N + 1))
	case $1 in
	ok) KTAP_PASS=$((KTAP_PASS + 1)); echo "ok $KTAP_N $2" ;;
	skip) KTAP_SKIP=$((KTAP_SKIP + 1)); echo "ok $KTAP_N $2 # SKIP ${3:-}" ;;
	*) KTAP_FAIL=$((KTAP_FAIL + 1)); echo "not ok $KTAP_N $2${3:+ # $3}" ;;
	esac
}

# SUB_OUT holds the last subtest's output, for the program to read.
SUB_OUT=
sub() {
	local name=$1 rc out t0=$SECONDS

	shift
	# Streamed as it comes: a test that hangs shows where.
	out=$(mktemp)
	( (trap cleanup_ns EXIT; "$@") 2>&1 ) | tee "$out" | sed -u -E 's/^([^#])/# \1/'
	rc=${PIPESTATUS[0]}
	SUB_OUT=$(cat "$out")
	rm -f "$out"
	echo "# $name: $((SECONDS - t0)) s"
	case $rc in
	0) ktap_result ok "$name" ;;
	4) ktap_result skip "$name" "$(sed -n 's/^# SKIP: //p' <<<"$SUB_OUT" | tail -n 1)" ;;
	*) ktap_result fail "$name" "exit=$rc" ;;
	esac
	return $rc
}

# twin_runs NAME "$@": run without arguments (as the kselftest runner
# starts a program), run this program twice as a pair of KTAP subtests,
# NAME_nomodule (-m no, the stock baseline) then NAME_module (-m yes;
# only that under TWR_PAIRS=module), and exit; with arguments, return
# (one run, its options for the program to parse).
twin_runs() {
	local name=$1 brc

	shift
	(($#)) && return 0
	require_root
	ipvs_traits
	pairs_header 1
	brc=0
	if ((PAIR_ARMS == 2)); then
		sub "${name}_nomodule" bash "$0" -m no
		brc=$?
	else
		log "${name}: the module's side only (TWR_PAIRS=module)"
	fi
	sub "${name}_module" bash "$0" -m yes
	((brc == 0)) || log "the baseline failed, so the run with the module proves nothing"
	ktap_finish
}

# module_opt "$@": a one-run program's only option, -m yes|no, into MODULE.
module_opt() {
	local o OPTIND=1

	MODULE=no
	while getopts "m:" o; do
		case $o in
		m) MODULE=$OPTARG ;;
		*) fail "bad option" ;;
		esac
	done
	[[ $MODULE == yes || $MODULE == no ]] || fail "-m $MODULE: yes or no"
}

ktap_finish() {
	echo "# Totals: pass:$KTAP_PASS fail:$KTAP_FAIL xfail:0 xpass:0 skip:$KTAP_SKIP error:0"
	((KTAP_FAIL)) && exit $ksft_fail
	((KTAP_PASS == 0 && KTAP_SKIP > 0)) && exit $ksft_skip
	exit $ksft_pass
}

require_cmd() {
	local c

	for c in "$@"; do
		command -v "$c" >/dev/null || skip "command $c not found"
	done
}

require_root() {
	[[ $(id -u) -eq 0 ]] || skip "must run as root"
}

# Unique namespace names (pid + sequence: $RANDOM alone collided once in
# 40 namespaces); cleanup_ns removes every one we made.
NS_LIST=()
NS_SEQ=0
new_ns() {
	local var=$1 name="twr-$1-$$-$((++NS_SEQ))"

	ip netns add "$name" || fail "ip netns add $name"
	ip -n "$name" link set lo up
	NS_LIST+=("$name")
	printf -v "$var" '%s' "$name"
}

# kill_ns NS: kill every process in NS, then delete it.
kill_ns() {
	local pid

	for pid in $(ip netns pids "$1" 2>/dev/null); do
		kill -9 "$pid" 2>/dev/null
	done
	ip netns del "$1" 2>/dev/null
}

cleanup_ns() {
	local ns

	for ns in "${NS_LIST[@]}"; do
		kill_ns "$ns"
	done
	NS_LIST=()
}

# n NS CMD...: run CMD in namespace NS.
n() {
	local ns=$1

	shift
	ip netns exec "$ns" "$@"
}

# veth NS1 IF1 NS2 IF2: a veth pair between two namespaces, both ends up.
veth() {
	ip link add "tmp$$a" type veth peer name "tmp$$b" || fail "veth"
	ip link set "tmp$$a" netns "$1" name "$2"
	ip link set "tmp$$b" netns "$3" name "$4"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# wait_for SECONDS CMD...: poll CMD until it succeeds; 1 on timeout
# (SECONDS times TWR_SCALE on a slow machine).
wait_for() {
	local end=$((SECONDS + $1 * TWR_SCALE))

	shift
	until "$@"; do
		((SECONDS >= end)) && return 1
		sleep 0.05
	done
	return 0
}

# sysctl_w NS KEY VALUE: write a sysctl inside NS through /proc, failing
# loudly (busybox and procps differ; /proc does not).
sysctl_w() {
	local path="/proc/sys/${2//.//}"

	echo "$3" | n "$1" tee "$path" >/dev/null || fail "sysctl $2=$3 in $1"
}

module_loaded() {
	[[ -d /sys/module/$1 ]]
}

# module_state yes|no: load or unload ip_vs_tw_resched.
module_state() {
	if [[ $1 == yes ]]; then
		module_loaded $TWR_MOD || modprobe $TWR_MOD ||
			fail "modprobe $TWR_MOD"
	else
		if module_loaded $TWR_MOD; then
			rmmod $TWR_MOD || fail "rmmod $TWR_MOD"
		fi
	fi
}

# ipvs_trait NAME: what the running IPVS does, as the module was built to
# know it (the ipvs_* lines of /proc/net/ip_vs_tw_resched): drop_check
# (any: the 4.6 - 5.8 check, a rescheduled SYN is dropped whenever it has
# a conntrack; confirmed: only an old, confirmed one), removed_server
# (resched or drop: a SYN on a removed server's entry with
# expire_nodest_conn), hooks (per_service: IPVS sees packets only while a
# service exists; always), drained_reuse0 (unknown, keep, resched). The
# baselines then check that IPVS really behaves so: a module that
# misjudged its kernel fails them.
# ipvs_traits reads them once (loading the module for a moment if it is
# not loaded) into exported TWR_IPVS_<NAME> variables, so that subshells
# and helper scripts see them too; ipvs_trait NAME prints one.
ipvs_traits() {
	local k v loaded=0

	[[ -n ${TWR_IPVS_DROP_CHECK:-} ]] && return 0
	module_loaded $TWR_MOD && loaded=1
	modprobe $TWR_MOD || fail "modprobe $TWR_MOD (to read what it knows of IPVS)"
	while read -r k v; do
		[[ $k == ipvs_* ]] && k=${k#ipvs_} && export "TWR_IPVS_${k^^}=$v"
	done </proc/net/ip_vs_tw_resched
	((loaded)) || rmmod $TWR_MOD || fail "rmmod $TWR_MOD"
	[[ -n ${TWR_IPVS_DROP_CHECK:-} ]] || fail "the module does not say ipvs_drop_check"
}
ipvs_trait() {
	local v="TWR_IPVS_${1^^}"

	[[ -n ${!v:-} ]] || fail "ipvs_trait $1: call ipvs_traits first"
	echo "${!v}"
}

# twr_counter NS NAME: one counter of /proc/net/ip_vs_tw_resched ("" for
# the namespace we are in).
twr_counter() {
	if [[ -z $1 ]]; then
		awk -v k="$2" '$1 == k { print $2 }' /proc/net/ip_vs_tw_resched
	else
		n "$1" awk -v k="$2" '$1 == k { print $2 }' /proc/net/ip_vs_tw_resched
	fi
}

# counters_mark NS: remember every module counter of NS;
# counters_expect NS NAME=DELTA...: fail unless each NAME rose by exactly
# DELTA since.
declare -A TWR_MARK=()
counters_mark() {
	local k v

	while read -r k v; do
		TWR_MARK[$k]=$v
	done <<<"$(n "$1" cat /proc/net/ip_vs_tw_resched)"
}
counters_expect() {
	local ns=$1 kv c got k v
	local -A now=()

	shift
	while read -r k v; do
		now[$k]=$v
	done <<<"$(n "$ns" cat /proc/net/ip_vs_tw_resched)"
	for kv in "$@"; do
		c=${kv%%=*}
		got=$((now[$c] - TWR_MARK[$c]))
		((got == ${kv#*=})) || fail "counter $c rose by $got, expected ${kv#*=}"
	done
}

# The module's tracepoint, tw_resched:resched, for one namespace:
#   trace_on NS      clear the trace, enable the event for NS only
#   trace_events     the events since, one line each (TP_printk's fields)
#   trace_off        disable it again
TRACE_DIR=/sys/kernel/tracing
tracefs() {	# mount tracefs where it is not yet; 1 if there is none
	[[ -d $TRACE_DIR/events ]] || mount -t tracefs nodev $TRACE_DIR 2>/dev/null
	[[ -d $TRACE_DIR/events ]]
}
trace_on() {
	local ino

	tracefs || fail "no tracefs"
	ino=$(n "$1" stat -L -c %i /proc/self/ns/net) || fail "netns inode of $1"
	echo 0 >$TRACE_DIR/events/tw_resched/resched/enable &&
		echo "netns == $ino" >$TRACE_DIR/events/tw_resched/resched/filter &&
		echo >$TRACE_DIR/trace &&
		echo 1 >$TRACE_DIR/events/tw_resched/resched/enable ||
		fail "cannot enable tw_resched:resched"
}
trace_events() { grep -o 'netns=.*' $TRACE_DIR/trace; }
trace_off() {
	echo 0 >$TRACE_DIR/events/tw_resched/resched/enable
	echo 0 >$TRACE_DIR/events/tw_resched/resched/filter
}

# slab_in_use CACHE: objects in use, empty if the kernel does not list the
# cache by name (merged with another: the VM boots with slab_nomerge).
# SLUB counts the free objects of per-CPU slabs as in use; shrinking the
# cache first flushes those, so the figure is exact.
slab_in_use() {
	[[ -w /sys/kernel/slab/$1/shrink ]] && echo 1 >"/sys/kernel/slab/$1/shrink"
	awk -v c="$1" '$1 == c { print $2 }' /proc/slabinfo 2>/dev/null
}

# Kernel problems a test run must never produce.
# (lockdep and RCU-lockdep reports start with "WARNING:", its other
# complaints and hung tasks with "INFO:"; kmemleak announces its finds.)
KERNEL_BAD_RE='WARNING:|BUG:|INFO: |Oops|refcount_t|possible circular|KASAN:|UBSAN|kmemleak: [0-9]+ new suspected|general protection|RCU stall|Call Trace|waiting for .* to become free'

# case_tmp: TMP, a directory of the run's own; on exit the namespaces go
# (and with them every process started in one) and TMP.
case_tmp() {
	TMP=$(mktemp -d)
	trap 'cleanup_ns; rm -rf "$TMP"' EXIT
}

# stage_case: the common start of a case program, after its options: this
# IPVS's traits, a kernel log mark (dmesg_check), the module loaded or not
# as MODULE says, the topology.
stage_case() {
	ipvs_traits
	dmesg_mark
	module_state "$MODULE"
	topology
}

# long_close NS [MODULE]: CLOSE entries live 10 s in IPVS and in conntrack.
# A VM slowed down by a busy host once let two of 16 expire before their
# reuse (the connects were fast, but no reuse happened). 30 s where we can
# set it: NS's conntrack always, IPVS through the module when it is loaded
# (MODULE, default $MODULE).
long_close() {
	sysctl_w "$1" net.netfilter.nf_conntrack_tcp_timeout_close 30
	[[ ${2:-$MODULE} != yes ]] || sysctl_w "$1" net.ipv4.vs.tw_resched.timeout_close 30
}

# dmesg_mark / dmesg_since / dmesg_check: a marker line in the kernel log;
# what the kernel logged after it; fail if the kernel complained since.
# A marker, not a line count: once the log buffer is full, old lines go
# and the count stands still while new ones come.
dmesg_mark() {
	DMESG_MARK="twr-mark $$ $RANDOM$RANDOM"
	echo "$DMESG_MARK" >/dev/kmsg
}

dmesg_since() {
	dmesg | awk -v m="$DMESG_MARK" 'seen { print } index($0, m) { seen = 1 }'
}

dmesg_check() {
	local bad

	bad=$(dmesg_since | grep -E "$KERNEL_BAD_RE")
	[[ -z $bad ]] || fail "kernel log: $bad"
}

# ---------------------------------------------------------------------------
# The reuse topology (diagram in snat_port_reuse.sh):
#   cl -- nat (SNAT, one port per client slot) -- dir (IPVS, VIP:80)
#   -- rs1, rs2
# Set before calling topology():
#   FAMILY   4 or 6
#   CLOSE    fin: client FIN first | rst: real server RST | crst: client RST
#            | rstack, crstack: rst, crst, then a late ACK of the side that
#            reset (snat_port_reuse.sh)
#   IPT      nft or legacy (iptables flavor of the SNAT box and director;
#            default: nft if this kernel takes its rules, see TWR_IPT)
#   SLOTS    parallel clients; slot j leaves the SNAT box as
#            SNAT_IP:(40000 + j), from its own client address
#   LOCAL    yes: the client runs on the director itself (slot 0 only,
#            bound to DIR_CLIENT_IP:40000); no SNAT box in the path
#   PERSIST  seconds of IPVS persistence (ipvsadm -p), empty for none
#   RS_ROUTE default (the default): the real servers route everything
#            through the director; link: only their own link, so that
#            they can answer nothing but the director's own address (as a
#            pod on another node): a flow the director does not
#            masquerade never completes
#   SRV      what the real servers do (twtool server's mode): fin or rst
#            as CLOSE says, or echo; none: no server started (the test
#            starts its own)
#   METHOD   nat (default) | dr | tun: IPVS forwarding. dr and tun put the
#            SNAT box, director and real servers on one bridged segment
#            (switch namespace sw, 10.0.2.0/24): the real servers carry the
#            VIP on lo (dr) or tunl0 (tun) and answer the client directly,
#            so the director sees only the client's side of the flow.
# Sets cl nat dir rs1 rs2 (namespace names), and the address variables.
# iptables-nft where the kernel has what it needs (Linux 5.4 built without
# CONFIG_NFT_COUNTER refuses every rule it makes), else iptables-legacy;
# found once per test program and handed down in TWR_IPT.
if [[ -z ${TWR_IPT:-} ]]; then
	TWR_IPT=legacy
	_p="twr-ipt-$$"
	if ip netns add "$_p" 2>/dev/null; then
		ip netns exec "$_p" iptables-nft -A INPUT -p tcp -j ACCEPT 2>/dev/null && TWR_IPT=nft
		ip netns del "$_p"
	fi
	export TWR_IPT
fi
FAMILY=${FAMILY:-4} CLOSE=${CLOSE:-fin} IPT=${IPT:-$TWR_IPT} SLOTS=${SLOTS:-1}
LOCAL=${LOCAL:-no} PERSIST=${PERSIST:-} METHOD=${METHOD:-nat}
SNAT_PORT=40000
declare -A RS_IP=()

topology_addrs() {
	if [[ $FAMILY == 6 ]]; then
		P=fd00: PLEN=64 IPTABLES=ip6tables-$IPT CT_FAMILY=ipv6
		CL_NET=fd00:1:: SNAT_IN=fd00:1::1 SNAT_IP=fd00:2::1 VIP=fd00:2::2
		DIR_CLIENT_IP=fd00:2::3 DIR_RS=(fd00:3::1 fd00:4::1)
		RS_IP=([rs1]=fd00:3::2 [rs2]=fd00:4::2)
		FWD=net.ipv6.conf.all.forwarding NOISE_NET=2001:db8:99::/64
	elif [[ $METHOD != nat ]]; then
		PLEN=24 IPTABLES=iptables-$IPT CT_FAMILY=ipv4
		CL_NET=10.0.1. SNAT_IN=10.0.1.1 SNAT_IP=10.0.2.1 VIP=10.0.2.100
		DIR_CLIENT_IP=10.0.2.3 DIR_RS=()
		RS_IP=([rs1]=10.0.2.11 [rs2]=10.0.2.12)
		FWD=net.ipv4.ip_forward NOISE_NET=198.51.100.0/24
	else
		PLEN=24 IPTABLES=iptables-$IPT CT_FAMILY=ipv4
		CL_NET=10.0.1. SNAT_IN=10.0.1.1 SNAT_IP=10.0.2.1 VIP=10.0.2.2
		DIR_CLIENT_IP=10.0.2.3 DIR_RS=(10.0.3.1 10.0.4.1)
		RS_IP=([rs1]=10.0.3.2 [rs2]=10.0.4.2)
		FWD=net.ipv4.ip_forward NOISE_NET=198.51.100.0/24
	fi
}
topology_addrs

# hp ADDR PORT: address and port as ipvsadm writes them.
hp() {
	if [[ $FAMILY == 6 ]]; then echo "[$1]:$2"; else echo "$1:$2"; fi
}
# Client address of slot j.
client_ip() { echo "${CL_NET}$((2 + $1))"; }
# The tuple IPVS sees for slot j: address and port.
tuple_ip() { [[ $LOCAL == yes ]] && echo "$DIR_CLIENT_IP" || echo "$SNAT_IP"; }
tuple_port() { echo $((SNAT_PORT + $1)); }

addr() {	# addr NS DEV ADDR: add an address, no DAD wait for IPv6
	if [[ $FAMILY == 6 ]]; then
		ip -n "$1" addr add "$3/$PLEN" dev "$2" nodad
	else
		ip -n "$1" addr add "$3/$PLEN" dev "$2"
	fi
}

# Batches, for topology(): under TCG every exec costs 0.1 - 0.15 s, and a
# topology made one command at a time took most of a short test's time.
#   bat NS LINE     queue an ip command (as for ip -b) for namespace NS
#                   ("root" for the initial one), run in one ip -b per
#                   namespace
#   sys NS KEY VAL  queue a sysctl, written with one shell per namespace
#                   (sys_run, once the rules have loaded conntrack and IPVS)
declare -A BAT=() SYS=()
bat() { BAT[$1]+="$2"$'\n'; }
sys() { SYS[$1]+="echo $3 >/proc/sys/${2//.//} && "; }
bat_run() {	# bat_run NS...: the queued ip commands
	local ns

	for ns in "$@"; do
		[[ -n ${BAT[$ns]:-} ]] || continue
		if [[ $ns == root ]]; then
			ip -b - <<<"${BAT[$ns]}" || fail "ip -b: ${BAT[$ns]}"
		else
			ip -n "$ns" -b - <<<"${BAT[$ns]}" || fail "ip -n $ns -b: ${BAT[$ns]}"
		fi
		BAT[$ns]=
	done
}
sys_run() {	# sys_run NS...: the queued sysctls (their modules loaded)
	local ns

	for ns in "$@"; do
		[[ -n ${SYS[$ns]:-} ]] || continue
		n "$ns" sh -c "${SYS[$ns]}true" || fail "sysctls in $ns: ${SYS[$ns]}"
		SYS[$ns]=
	done
}
# new_nss NAME...: namespaces (one ip -b), lo up in each (queued).
new_nss() {
	local v name lines=

	for v in "$@"; do
		name="twr-$v-$$-$((++NS_SEQ))"
		lines+="netns add $name"$'\n'
		NS_LIST+=("$name")
		printf -v "$v" '%s' "$name"
		bat "$name" "link set lo up"
	done
	ip -b - <<<"$lines" || fail "ip netns add: $lines"
}
# bveth NS1 IF1 NS2 IF2: a veth pair between two namespaces (queued).
# bclient_snat: the client slots' addresses and route, the SNAT box's two
# sides (queued; $cl and $nat named).
bclient_snat() {
	local j

	for ((j = 0; j < SLOTS; j++)); do
		baddr "$cl" eth0 "$(client_ip $j)"
	done
	bat "$cl" "route add default via $SNAT_IN"
	baddr "$nat" eth0 $SNAT_IN
	baddr "$nat" eth1 $SNAT_IP
}
VETH_SEQ=0
bveth() {
	local a="tv$$-$((++VETH_SEQ))"

	bat root "link add $a type veth peer name ${a}p"
	bat root "link set $a netns $1 name $2"
	bat root "link set ${a}p netns $3 name $4"
	bat "$1" "link set $2 up"
	bat "$3" "link set $4 up"
}
baddr() {	# baddr NS DEV ADDR (queued; no DAD wait for IPv6)
	if [[ $FAMILY == 6 ]]; then
		bat "$1" "addr add $3/$PLEN dev $2 nodad"
	else
		bat "$1" "addr add $3/$PLEN dev $2"
	fi
}

# The real servers of dr/tun: the VIP where only they see it, no ARP
# answers for it, and no reverse-path check on the tunnel (queued).
direct_rs() {
	local ns=$1

	sys "$ns" net.ipv4.conf.all.arp_ignore 1
	sys "$ns" net.ipv4.conf.all.arp_announce 2
	if [[ $METHOD == dr ]]; then
		bat "$ns" "addr add $VIP/32 dev lo"
	else
		# ipip gives every namespace its tunl0 (modprobe'd in topology)
		bat "$ns" "link set tunl0 up"
		bat "$ns" "addr add $VIP/32 dev tunl0"
		sys "$ns" net.ipv4.conf.all.rp_filter 0
		sys "$ns" net.ipv4.conf.tunl0.rp_filter 0
	fi
}

topology() {
	local rs j srvclose=fin how=-m rules all

	[[ $CLOSE == rst || $CLOSE == rstack ]] && srvclose=rst
	if [[ $METHOD == nat ]]; then
		new_nss cl nat dir rs1 rs2
		all=(root "$cl" "$nat" "$dir" "$rs1" "$rs2")
	else
		[[ $METHOD == tun ]] && { modprobe ipip || fail "modprobe ipip"; }
		new_nss cl nat dir rs1 rs2 sw
		all=(root "$cl" "$nat" "$dir" "$rs1" "$rs2" "$sw")
	fi

	bveth "$cl" eth0 "$nat" eth0
	if [[ $METHOD == nat ]]; then
		bveth "$nat" eth1 "$dir" eth0
		bveth "$dir" eth1 "$rs1" eth0
		bveth "$dir" eth2 "$rs2" eth0
	else
		bat "$sw" "link add br0 type bridge"
		bat "$sw" "link set br0 up"
		bveth "$nat" eth1 "$sw" p0
		bveth "$dir" eth0 "$sw" p1
		bveth "$rs1" eth0 "$sw" p2
		bveth "$rs2" eth0 "$sw" p3
		for p in p0 p1 p2 p3; do
			bat "$sw" "link set $p master br0"
		done
	fi
	bclient_snat
	# dr/tun: the director's own address first, so that its ARP requests
	# do not come from the VIP, which the real servers own too (they
	# would take such a request for a martian and never answer).
	[[ $METHOD != nat ]] && baddr "$dir" eth0 10.0.2.2
	baddr "$dir" eth0 $VIP
	baddr "$dir" eth0 $DIR_CLIENT_IP
	if [[ $METHOD == nat ]]; then
		baddr "$dir" eth1 "${DIR_RS[0]}"
		baddr "$dir" eth2 "${DIR_RS[1]}"
		baddr "$rs1" eth0 "${RS_IP[rs1]}"
		baddr "$rs2" eth0 "${RS_IP[rs2]}"
		if [[ ${RS_ROUTE:-default} == default ]]; then
			bat "$rs1" "route add default via ${DIR_RS[0]}"
			bat "$rs2" "route add default via ${DIR_RS[1]}"
		fi
	else
		for rs in rs1 rs2; do
			direct_rs "${!rs}"
			baddr "${!rs}" eth0 "${RS_IP[$rs]}"
		done
	fi
	sys "$nat" $FWD 1
	sys "$dir" $FWD 1
	# SNAT box: short TIME_WAIT and CLOSE so that it never runs out of its
	# one port per client (that would add 1-15 s delays of its own).
	sys "$nat" net.netfilter.nf_conntrack_tcp_timeout_time_wait 1
	sys "$nat" net.netfilter.nf_conntrack_tcp_timeout_close 1
	# Director: IPVS NAT, conntrack on.
	sys "$dir" net.ipv4.vs.conntrack 1
	sys "$dir" net.ipv4.vs.conn_reuse_mode 1
	sys "$dir" net.ipv4.vs.expire_nodest_conn 0
	bat_run "${all[@]}"

	# SNAT box: one source port per client.
	rules="*nat"$'\n'
	for ((j = 0; j < SLOTS; j++)); do
		rules+="-A POSTROUTING -o eth1 -p tcp -s $(client_ip $j) -j MASQUERADE --to-ports $(tuple_port $j)"$'\n'
	done
	n "$nat" "$IPTABLES-restore" --noflush <<<"${rules}COMMIT" || fail "SNAT rules"
	# Director: a nat rule that matches nothing here but makes conntrack
	# track this namespace, as docker's and kube-proxy's rules do.
	n "$dir" "$IPTABLES-restore" --noflush <<<"*nat
-A POSTROUTING -s $NOISE_NET -j MASQUERADE
COMMIT" || fail "director nat rule"
	[[ $METHOD == dr ]] && how=-g
	[[ $METHOD == tun ]] && how=-i
	rules="-A -t $(hp $VIP 80) -s rr ${PERSIST:+-p $PERSIST}"$'\n'
	for rs in rs1 rs2; do
		rules+="-a -t $(hp $VIP 80) -r $(hp "${RS_IP[$rs]}" 80) $how"$'\n'
	done
	n "$dir" ipvsadm -R <<<"$rules" || fail "ipvsadm -R: $rules"
	sys_run "${all[@]}"

	[[ ${SRV:-} == none ]] && return 0
	for rs in rs1 rs2; do
		# Not through n(): a bash in between would report the kill.
		ip netns exec "${!rs}" twtool server 80 $rs ${SRV:-$srvclose} &
		disown	# cleanup_ns kills it with its namespace
	done
	wait_for 10 listening "$rs1" && wait_for 10 listening "$rs2" ||
		fail "servers did not start"
}

# listening NS [PORT]: a TCP socket listens on PORT (80) in NS.
listening() { [[ $(ss -N "$1" -Hltn "sport = :${2:-80}") == *LISTEN* ]]; }

# nginx_servers: nginx on port 80 in rs1 and rs2, answering its name, one
# request per connection (keepalive_timeout 0: nginx closes first, with a
# FIN, as HTTP servers do), files under $TMP/rs1 and $TMP/rs2.
nginx_servers() {
	local rs d

	for rs in rs1 rs2; do
		d=$TMP/$rs
		mkdir -p "$d"
		cat >"$d/nginx.conf" <<-EOF
		daemon off;
		master_process off;
		worker_processes 1;
		user root;
		pid $d/nginx.pid;
		error_log $d/error.log;
		events { worker_connections 256; }
		http {
			access_log off;
			keepalive_timeout 0;
			client_body_temp_path $d;
			proxy_temp_path $d;
			fastcgi_temp_path $d;
			uwsgi_temp_path $d;
			scgi_temp_path $d;
			server {
				listen 80;
				location / { return 200 "$rs\n"; }
			}
		}
		EOF
		ip netns exec "${!rs}" nginx -e "$d/error.log" -p "$d" -c "$d/nginx.conf" &
		disown
	done
	wait_for 10 listening "$rs1" && wait_for 10 listening "$rs2" ||
		fail "real servers did not start: $(cat "$TMP"/rs*/error.log 2>/dev/null)"
}

# IPVS entries of the client tuples: "STATE EXPIRE_SECONDS" of slot j, one
# line per entry. A tuple can have two for a while: when IPVS expires an
# entry that is still referenced, ip_vs_conn_expire() re-arms it for its
# state's full timeout, next to the new connection's entry.
ipvs_entry() {
	n "$dir" ipvsadm -Lnc | awk -v s="$(hp "$(tuple_ip)" "$(tuple_port "${1:-0}")")" \
		'$1 == "TCP" && $4 == s { split($2, t, ":"); print $3, t[1] * 60 + t[2] }'
}
# The states of slot j's entries, distinct ones joined by "+".
ipvs_state() {
	ipvs_entry "${1:-0}" | awk '!($1 in s) { s[$1]; printf "%s%s", n++ ? "+" : "", $1 }'
}
ipvs_expire() { ipvs_entry "${1:-0}" | awk '$2 > m { m = $2 } END { print m + 0 }'; }
# entry_in REGEX: every entry of every slot is in a matching state. Sets
# ENTRY_STATE (slot 0's states, as ipvs_state shows them), ENTRY_LEFT (the
# shortest expire time seen, whole seconds) and ENTRY_AT (when it looked,
# in microseconds of $EPOCHREALTIME). One ipvsadm for all slots and no
# other exec or subshell: each costs 0.3-0.8 s on a debug kernel under
# TCG, and a stock CLOSE entry lives 10 s (a round's checks had taken
# 8 of them there with two slots, an exec and two subshells per slot).
entry_in() {
	local out proto exp st src rest tip j left
	local -a have=()

	ENTRY_STATE= ENTRY_LEFT= ENTRY_AT=${EPOCHREALTIME/./}
	out=$(n "$dir" ipvsadm -Lnc) || return 1
	tip=$SNAT_IP
	[[ $LOCAL == yes ]] && tip=$DIR_CLIENT_IP
	[[ $FAMILY == 6 ]] && tip="[$tip]"
	while read -r proto exp st src rest; do
		[[ $proto == TCP && ${src%:*} == "$tip" ]] || continue
		j=$((${src##*:} - SNAT_PORT))
		((j >= 0 && j < SLOTS)) || continue
		[[ $st =~ ^($1)$ ]] || return 1
		have[j]=1
		left=$((10#${exp%%:*} * 60 + 10#${exp#*:}))
		((j == 0)) && [[ +$ENTRY_STATE+ != *+$st+* ]] &&
			ENTRY_STATE+=${ENTRY_STATE:++}$st
		[[ -z $ENTRY_LEFT ]] || ((left < ENTRY_LEFT)) && ENTRY_LEFT=$left
	done <<<"$out"
	for ((j = 0; j < SLOTS; j++)); do
		[[ -n ${have[j]:-} ]] || return 1
	done
	return 0
}
entry_gone() { [[ -z $(ipvs_state 0) ]]; }
# snat_idle: the SNAT box holds no flow to port 80. It forgets a closed
# one (TIME_WAIT, CLOSE) at once instead of after its 1 s: that is all
# the timeout does, and the wait was a second of every round.
snat_idle() {
	[[ $LOCAL == yes ]] && return 0
	[[ -z $(n "$nat" conntrack -L -f $CT_FAMILY -p tcp --dport 80 2>/dev/null) ]] && return 0
	n "$nat" sh -c "conntrack -D -f $CT_FAMILY -p tcp --dport 80 --state TIME_WAIT;
		conntrack -D -f $CT_FAMILY -p tcp --dport 80 --state CLOSE" >/dev/null 2>&1
	[[ -z $(n "$nat" conntrack -L -f $CT_FAMILY -p tcp --dport 80 2>/dev/null) ]]
}
# ct_replies: CT_REPLY[j], the reply source of the director's conntrack
# of slot j's tuple (space-separated if the tuple has several), for every
# slot from one conntrack: a round's checks run while its entries tick,
# and each exec costs up to a second on a debug kernel under TCG.
ct_replies() {
	local out line j

	CT_REPLY=()
	out=$(n "$dir" conntrack -L -f $CT_FAMILY -p tcp --orig-src "$(tuple_ip)" 2>/dev/null)
	while read -r line; do
		[[ $line =~ sport=([0-9]+) ]] || continue
		j=$((BASH_REMATCH[1] - SNAT_PORT))
		((j >= 0)) || continue
		[[ $line =~ \ src=[^\ ]+\ .*\ src=([^\ ]+) ]] &&
			CT_REPLY[j]+=${CT_REPLY[j]:+ }${BASH_REMATCH[1]}
	done <<<"$out"
}
# ct_reply_src [J]: the reply source of slot J's (0) conntrack.
ct_reply_src() {
	ct_replies
	echo "${CT_REPLY[${1:-0}]:-}"
}
snat_drops() {
	[[ $LOCAL == yes ]] && { echo 0; return; }
	n "$nat" conntrack -S 2>/dev/null | awk '{
		for (i = 1; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == "insert_failed" || kv[1] == "drop")
				s += kv[2]
		}
	} END { print s + 0 }'
}

# client_cmd j: the command line that makes slot j's connection.
client_cmd() {
	if [[ $LOCAL == yes ]]; then
		echo ip netns exec "$dir" twtool connect $VIP 80 $CLOSE \
			-b "$(hp $DIR_CLIENT_IP $SNAT_PORT)"
	else
		echo ip netns exec "$cl" twtool connect $VIP 80 "${CLOSE%ack}" \
			-b "$(hp "$(client_ip "$1")" 0)"
	fi
}

# parse_conn LINE: sets MS SERVER RETRANS from twtool's output line
# (bash regexes: no exec).
parse_conn() {
	MS= SERVER= RETRANS=
	[[ $1 =~ connect_ms=([0-9.]+) ]] && MS=${BASH_REMATCH[1]}
	[[ $1 =~ server=([a-z0-9]+) ]] && SERVER=${BASH_REMATCH[1]}
	[[ $1 =~ syn_retrans=([0-9]+) ]] && RETRANS=${BASH_REMATCH[1]}
	[[ -n $MS && -n $RETRANS && -n ${RS_IP[$SERVER]:-} ]]
}

# connect_once [LABEL]: one connection of slot 0; sets MS SERVER RETRANS.
connect_once() {
	local out

	out=$($(client_cmd 0)) || fail "connect ${1:-} failed: $out"
	parse_conn "$out" || fail "connect ${1:-}: no server id in '$out'"
}

# ---------------------------------------------------------------------------
# Reuse cases: one side of a case is a run of snat_port_reuse.sh; a case
# program runs it without and with the module and judges the pair. The
# baseline without the module is what proves that the topology reproduces
# the drop (or, where this IPVS has no drop, that it does not): a
# baseline that fails leaves its with-module twin proving nothing, and the
# program fails.
#
# TWR_PAIRS=module (what run-tests.sh sets for a KASAN/lockdep/kmemleak
# kernel): the module's side only, of pair() and of twin_runs(). Such a kernel is there for what its
# checkers say of the module's paths, which a baseline never runs; the
# baseline of the same cases runs on the same kernel source built without
# them (CI: 7.1.5-acc beside 7.1.5-dbg). pairs_header N: the plan of N
# pairs.
reuse() { bash "$DIR/snat_port_reuse.sh" "$@"; }
PAIR_ARMS=2
[[ ${TWR_PAIRS:-} == module ]] && PAIR_ARMS=1
pairs_header() { ktap_header $(($1 * PAIR_ARMS)); }

# result KEY: a field of the last subtest's RESULT line.
result() {
	sed -nE "s/.*# RESULT .*\\<$1=([^ ]+).*/\\1/p" <<<"$SUB_OUT" | tail -n 1
}

# pair NAME BASELINE_ARGS -- MODULE_ARGS: the two subtests of one case.
pair() {
	local name=$1 base=() mod=() rc

	shift
	while (($#)) && [[ $1 != -- ]]; do
		base+=("$1")
		shift
	done
	shift
	mod=("$@")
	if ((PAIR_ARMS == 1)); then
		log "${name}: the module's side only (TWR_PAIRS=module)"
		sub "${name}_module" reuse -m yes "${mod[@]}"
		return
	fi
	sub "${name}_nomodule" reuse "${base[@]}"
	rc=$?
	sub "${name}_module" reuse -m yes "${mod[@]}"
	((rc == 0)) || log "${name}: the baseline failed, so the run with the module proves nothing"
}

# A pair header line that says what this kernel's IPVS is expected to do.
expect_note() { log "this kernel's IPVS: $*"; }

# reopened_base [WHEN]: BASE, the baseline's expectation for a flow that
# conntrack reopens itself on the reused SYN (WHEN: what made it): the
# 4.6 - 5.8 check drops the SYN all the same (slow); v5.9+ IPVS
# reschedules it without a drop (fast). Says which (expect_note).
reopened_base() {
	if [[ $(ipvs_trait drop_check) == any ]]; then
		expect_note "drops every reused SYN that has a conntrack (the 4.6 - 5.8 check)"
		BASE=slow
	else
		expect_note "reschedules without a drop: conntrack reopens the flow${1:+ $1}"
		BASE=fast
	fi
}
