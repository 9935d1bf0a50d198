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

log() { echo "# $*"; }

fail() {
	echo "FAIL: $*"
	exit $ksft_fail
}

skip() {
	echo "SKIP: $*"
	exit $ksft_skip
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

# Unique namespace names; cleanup_ns removes every one we made.
NS_LIST=()
new_ns() {
	local var=$1 name="twr-$1-$$-$RANDOM"

	ip netns add "$name" || fail "ip netns add $name"
	ip -n "$name" link set lo up
	NS_LIST+=("$name")
	printf -v "$var" '%s' "$name"
}

cleanup_ns() {
	local ns pid

	for ns in "${NS_LIST[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
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

# wait_for SECONDS CMD...: poll CMD until it succeeds; 1 on timeout.
wait_for() {
	local end=$((SECONDS + $1))

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

sysctl_r() {
	n "$1" cat "/proc/sys/${2//.//}"
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

# twr_counter NS NAME: one counter of /proc/net/ip_vs_tw_resched.
twr_counter() {
	n "$1" awk -v k="$2" '$1 == k { print $2 }' /proc/net/ip_vs_tw_resched
}

# Kernel problems a test run must never produce.
KERNEL_BAD_RE='WARNING:|BUG:|Oops|refcount_t|lockdep|possible circular|KASAN|UBSAN|kmemleak|general protection|RCU stall|Call Trace'

# dmesg_mark / dmesg_check: fail if the kernel complained since the mark.
dmesg_mark() {
	DMESG_LINES=$(dmesg | wc -l)
}

dmesg_check() {
	local bad

	bad=$(dmesg | tail -n +$((DMESG_LINES + 1)) | grep -E "$KERNEL_BAD_RE")
	[[ -z $bad ]] || fail "kernel log: $bad"
}

# ---------------------------------------------------------------------------
# The SNAT topology (diagram in snat_port_reuse.sh):
#   cl 10.0.1.2 -- nat (MASQUERADE to 10.0.2.1:40000) -- dir VIP 10.0.2.2:80
#   -- rs1 10.0.3.2, rs2 10.0.4.2
# snat_topology CLOSE IPT: build it; CLOSE (fin|rst) is how the real servers
# end connections, IPT (nft|legacy) the iptables flavor. Sets cl nat dir
# rs1 rs2 (namespace names) and IPTABLES.
VIP=10.0.2.2
SNAT_IP=10.0.2.1
SNAT_PORT=40000
declare -A RS_IP=([rs1]=10.0.3.2 [rs2]=10.0.4.2)

snat_topology() {
	local close=$1 rs

	IPTABLES=iptables-$2
	TOPO_CLOSE=$close
	new_ns cl
	new_ns nat
	new_ns dir
	new_ns rs1
	new_ns rs2

	veth "$cl" eth0 "$nat" eth0
	veth "$nat" eth1 "$dir" eth0
	veth "$dir" eth1 "$rs1" eth0
	veth "$dir" eth2 "$rs2" eth0
	ip -n "$cl" addr add 10.0.1.2/24 dev eth0
	ip -n "$cl" route add default via 10.0.1.1
	ip -n "$nat" addr add 10.0.1.1/24 dev eth0
	ip -n "$nat" addr add $SNAT_IP/24 dev eth1
	ip -n "$dir" addr add $VIP/24 dev eth0
	ip -n "$dir" addr add 10.0.3.1/24 dev eth1
	ip -n "$dir" addr add 10.0.4.1/24 dev eth2
	ip -n "$rs1" addr add ${RS_IP[rs1]}/24 dev eth0
	ip -n "$rs1" route add default via 10.0.3.1
	ip -n "$rs2" addr add ${RS_IP[rs2]}/24 dev eth0
	ip -n "$rs2" route add default via 10.0.4.1
	sysctl_w "$nat" net.ipv4.ip_forward 1
	sysctl_w "$dir" net.ipv4.ip_forward 1

	# SNAT box: one source port; short TIME_WAIT and CLOSE so it never
	# runs out of its one port (that would add 1-15 s delays of its own).
	n "$nat" $IPTABLES -t nat -A POSTROUTING -o eth1 -p tcp \
		-j MASQUERADE --to-ports $SNAT_PORT || fail "SNAT rule"
	sysctl_w "$nat" net.netfilter.nf_conntrack_tcp_timeout_time_wait 1
	sysctl_w "$nat" net.netfilter.nf_conntrack_tcp_timeout_close 1

	# Director: IPVS NAT, conntrack on, and a nat rule that matches
	# nothing here but makes conntrack track this namespace, as docker's
	# and kube-proxy's rules do.
	n "$dir" ipvsadm -A -t $VIP:80 -s rr || fail "ipvsadm -A"
	n "$dir" ipvsadm -a -t $VIP:80 -r ${RS_IP[rs1]}:80 -m || fail "ipvsadm -a"
	n "$dir" ipvsadm -a -t $VIP:80 -r ${RS_IP[rs2]}:80 -m || fail "ipvsadm -a"
	sysctl_w "$dir" net.ipv4.vs.conntrack 1
	sysctl_w "$dir" net.ipv4.vs.conn_reuse_mode 1
	sysctl_w "$dir" net.ipv4.vs.expire_nodest_conn 0
	n "$dir" $IPTABLES -t nat -A POSTROUTING -s 198.51.100.0/24 \
		-j MASQUERADE || fail "director nat rule"

	for rs in rs1 rs2; do
		# Not through n(): a bash in between would report the kill.
		ip netns exec "${!rs}" twtool server 80 $rs "$close" &
		disown	# cleanup_ns kills it with its namespace
	done
	wait_for 10 listening "$rs1" && wait_for 10 listening "$rs2" ||
		fail "servers did not start"
}

listening() { n "$1" ss -Hltn 'sport = :80' | grep -q LISTEN; }

# State and seconds to expiry of the IPVS entry of the SNAT tuple.
ipvs_state() {
	n "$dir" ipvsadm -Lnc | awk -v s="$SNAT_IP:$SNAT_PORT" \
		'$1 == "TCP" && $4 == s { print $3 }'
}
ipvs_expire() {
	n "$dir" ipvsadm -Lnc | awk -v s="$SNAT_IP:$SNAT_PORT" \
		'$1 == "TCP" && $4 == s { split($2, t, ":"); print t[1] * 60 + t[2] }'
}
entry_in() { [[ $(ipvs_state) =~ ^($1)$ ]]; }
entry_gone() { [[ -z $(ipvs_state) ]]; }
snat_idle() {
	[[ -z $(n "$nat" conntrack -L -p tcp --dport 80 2>/dev/null) ]]
}
# Reply source of the director's conntrack for the SNAT tuple.
ct_reply_src() {
	n "$dir" conntrack -L -p tcp --orig-src $SNAT_IP \
		--sport $SNAT_PORT 2>/dev/null |
		awk '{ c = 0; for (i = 1; i <= NF; i++)
			if ($i ~ /^src=/ && ++c == 2) print substr($i, 5) }'
}
snat_drops() {
	n "$nat" conntrack -S 2>/dev/null | awk '{
		for (i = 1; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == "insert_failed" || kv[1] == "drop")
				s += kv[2]
		}
	} END { print s + 0 }'
}

# connect_once [LABEL]: one connection from the client through the SNAT
# box; sets MS SERVER RETRANS.
connect_once() {
	local out

	out=$(n "$cl" twtool connect $VIP 80 "$TOPO_CLOSE") ||
		fail "connect ${1:-} failed: $out"
	MS=$(sed -E 's/.*connect_ms=([0-9.]+).*/\1/' <<<"$out")
	SERVER=$(sed -E 's/.*server=([a-z0-9]+).*/\1/' <<<"$out")
	RETRANS=$(sed -E 's/.*syn_retrans=([0-9]+).*/\1/' <<<"$out")
	[[ -n ${RS_IP[$SERVER]:-} ]] || fail "connect ${1:-}: no server id in '$out'"
}
