#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The same connection stock IPVS makes, one second sooner: a differential
# test. Each case is run twice in this VM, in fresh namespaces each time:
# once under stock IPVS (the reused SYN is dropped, the client's
# retransmit makes the connection) and once with ip_vs_tw_resched (no
# drop). Both runs record the reused connection's flow as the director
# sees it, and any difference but the time fails the case.
#
#   client              snat box              director                  real servers
#  +----------+      +-------------+      +----------------------+     +------------------+
#  | cl       |      | nat         |      | dir VIP 10.0.2.2:80  |     | rs1 10.0.3.2/24  |
#  | 10.0.1.2 |-eth0-| MASQUERADE  |-eth1-| IPVS NAT rr          |-----| no route beyond  |
#  |          |      | to 10.0.2.1:|      | conn_reuse_mode=1    |     | its link         |
#  |          |      |   40000     |      | the RULE SET under   |-----| rs2 10.0.4.2/24  |
#  +----------+      +-------------+      | test (masquerades)   |     | twtool :80       |
#                                         +----------------------+     +------------------+
#   IPv6: fd00:1::/64 ... VIP fd00:2::2, as in snat_port_reuse.sh.
#
# The real servers can answer only the director's own address: a flow the
# rule set fails to masquerade never completes (as a pod on another node
# would answer the client directly).
#
# A case is a RULE SET and a SCENARIO. Rule sets (each in the director):
#   kube_nft, kube_legacy  kube-proxy's IPVS mode as it writes its rules
#                          (ipsets, KUBE-SERVICES from nat PREROUTING and
#                          OUTPUT, KUBE-MARK-MASQ, KUBE-POSTROUTING,
#                          KUBE-FORWARD's INVALID drop), by iptables-nft
#                          and iptables-legacy
#   kube_ipv6              the same with ip6tables, over IPv6
#   connmark               mangle CONNMARK restore/save, a mark set on
#                          ctstate NEW, masquerade by that mark
#   ct_zone                raw CT --zone 7 on everything
#   ct_timeout             raw CT --timeout: a timeout policy (nfct)
#   nft                    nft: ct mark, a ct label and an nft timeout
#                          policy on new flows, meta mark (mangle and
#                          nat prerouting), masquerade by mark
# Scenarios: the first connection ends with the real server's RST (rst),
# with the client's FIN (fin), with the client's FIN and its final ACK
# lost (lost_ack), or with an RST after which its server is drained
# (drain, expire_nodest_conn=1); then the client reuses the tuple.
#
# The flow record (director), taken while the reused connection is held
# open and idle: every conntrack of the tuple as
# `conntrack -L -o save,labels` shows it (tuples, state, status, mark,
# zone, labels; the timeout as 10 s bins), the IPVS entries of the tuple
# (ipvsadm -Lnc without the expire column), the packet and byte counters
# of every rule of the rule set over the reused connection, the forwarded
# SYN's packet mark and header as a LOG rule in mangle POSTROUTING prints
# them, and the source address the real server saw.
#
# Also asserted: stock connects, after a drop where this kernel's IPVS
# drops (>= 900 ms, one SYN retransmit), at once where it does not; with
# the module at once with no retransmit, and its counters say what it
# did.
#
# usage: equivalence.sh                     every case of this kernel (KTAP;
#                                           TWR_EQ_CASES="R:S,..." for some)
#        equivalence.sh -r RULESET -s SCENARIO [-o DIR]   one case
#        equivalence.sh -r R -s S -m yes|no -o FILE       one run (internal)

source "$(dirname "$0")/lib.sh"

SCENARIOS_FULL="rst"
RULESETS="kube_nft kube_legacy kube_ipv6 connmark ct_zone ct_timeout nft"
# kube: kube-proxy's rules by the iptables this kernel takes (nft where
# it can, legacy on Linux 5.4.49 as built here).
# The other scenarios with kube-proxy's rules, the users this is for.
CASES_MORE="kube:fin kube:lost_ack kube:drain"

# ---------------------------------------------------------------------------
# What this kernel can run. A rule set the kernel cannot load is run
# without the feature where that keeps its point (kube-proxy's rules match
# the service by address and port instead of an ipset), and skipped, with
# the reason, where it does not.
kernel_has() {	# kernel_has MODULE|builtin-dir: a module we can load
	modprobe -q "$1" 2>/dev/null
}

# ---------------------------------------------------------------------------
# One run (-m): build the topology, load the rule set, stage the scenario,
# reuse the tuple, write the record.
one_run() {
	local r=$1 s=$2 mod=$3 out=$4 srv1 ms srv peer retrans opts held

	trap cleanup_ns EXIT
	[[ $r == kube_ipv6 ]] && FAMILY=6
	case $s in
	rst | drain) CLOSE=rst ;;
	fin | lost_ack) CLOSE=fin ;;
	esac
	RS_ROUTE=link
	topology_addrs
	[[ $r == kube_legacy ]] && IPT=legacy
	if [[ $r == kube_nft ]]; then
		[[ $TWR_IPT == nft ]] ||
			skip "iptables-nft cannot load rules on this kernel (CONFIG_NFT_COUNTER, CONFIG_NFT_COMPAT): kube_legacy runs instead"
		IPT=nft
	fi
	topology_addrs
	dmesg_mark
	module_state "$mod"
	topology
	if [[ $FAMILY == 6 ]]; then
		static_neigh "$nat" eth1 $SNAT_IP "$dir" eth0 $VIP
		static_neigh "$dir" eth1 "${DIR_RS[0]}" "$rs1" eth0 "${RS_IP[rs1]}"
		static_neigh "$dir" eth2 "${DIR_RS[1]}" "$rs2" eth0 "${RS_IP[rs2]}"
		# No more router solicitations (the hosts send three, four
		# seconds apart), and the multicast reports of the new
		# addresses over, before anything is counted.
		for ns in "$cl" "$nat" "$dir" "$rs1" "$rs2"; do
			n "$ns" sh -c 'for f in /proc/sys/net/ipv6/conf/*/router_solicitations; do echo 0 >$f; done' ||
				fail "router_solicitations in $ns"
		done
		wait_for 30 ip6_quiet || fail "IPv6 control traffic did not stop"
	fi
	long_close "$dir" "$mod"
	[[ $s == drain ]] && sysctl_w "$dir" net.ipv4.vs.expire_nodest_conn 1
	ruleset_"${r%%_*}" "$r"
	# The forwarded SYN, as it leaves for a real server.
	n "$dir" "ip${FAMILY/4/}tables-legacy" -t mangle -A POSTROUTING -o "eth+" -p tcp \
		--tcp-flags SYN,ACK,RST,FIN SYN -d "$(rs_net)" -j LOG --log-prefix "twr-eq: " ||
		fail "LOG rule"
	# The ends acknowledge every segment at once (quickack), so that no
	# delayed ACK's timer decides how many packets the counters see. For
	# lost_ack the servers' FIN is retransmitted after 60 s only, outside
	# the counted window.
	# The client's FIN is not retransmitted either (rto_min; no tail loss
	# probe, whose timer is 2 RTT + 200 ms before 6.x): a server answers a
	# retransmitted FIN with an ACK, which takes conntrack's LAST_ACK on
	# to TIME_WAIT as the lost final ACK would (7.1.5, a loaded host).
	local rto=
	if [[ $s == lost_ack ]]; then
		rto="rto_min 60s"
		sysctl_w "$cl" net.ipv4.tcp_early_retrans 0
	fi
	ip -n "$cl" route replace default via $SNAT_IN dev eth0 quickack 1 $rto ||
		fail "client route"
	for rs in rs1 rs2; do
		ip -n "${!rs}" route replace "$(rs_link "${!rs}")" dev eth0 quickack 1 $rto ||
			fail "$rs route"
	done
	if [[ $s == lost_ack ]]; then
		n "$dir" $IPTABLES -t raw -A PREROUTING -i eth0 -p tcp --dport 80 \
			-m tos --tos 0x28 --tcp-flags ALL ACK -j DROP || fail "drop rule"
	fi

	# The first connection, and its end.
	opts=()
	[[ $s == lost_ack ]] && opts=(-T 0x28)
	reuse_connect first "${opts[@]}" || fail "first connection: $OUT"
	srv1=$SERVER
	case $s in
	rst | drain) wait_for 15 entry_in CLOSE || fail "IPVS entry not in CLOSE: '$(ipvs_state)'" ;;
	fin) wait_for 15 entry_in TIME_WAIT || fail "IPVS entry not in TIME_WAIT: '$(ipvs_state)'" ;;
	lost_ack)
		wait_for 15 out_of_step ||
			fail "not out of step: IPVS '$(ipvs_state)', conntrack '$(ct_state)';" \
				"client: $(n "$cl" nstat -az TcpRetransSegs TcpExtTCPLossProbes | awk '/^Tcp/ { printf "%s %s ", $1, $2 }')"
		;;
	esac
	wait_for 15 snat_idle || fail "SNAT box still holds a flow"
	[[ $s == drain ]] && { n "$dir" ipvsadm -e -t "$(hp $VIP 80)" \
		-r "$(hp "${RS_IP[$srv1]}" 80)" -m -w 0 || fail "drain $srv1"; }

	# The reuse.
	dump_counters >"$TMP/counters.before"
	dmesg_mark
	[[ $mod == yes ]] && counters_mark "$dir"
	# The reused connection is held open, idle, while it is recorded:
	# how its end's ACKs and FINs fall is the ends' timing, not the flow.
	ip netns exec "$cl" twtool connect $VIP 80 $CLOSE -b "$(hp "$(client_ip 0)" 0)" -H \
		>"$TMP/reuse.out" 2>&1 &
	held=$!
	wait_for 40 grep -q 'end=held' "$TMP/reuse.out" ||
		fail "reused connection failed (stock would wait 1 s, never fail): $(cat "$TMP/reuse.out")"
	OUT=$(cat "$TMP/reuse.out")
	parse_conn "$OUT" || fail "reuse: no server id in '$OUT'"
	[[ $OUT =~ peer=([0-9a-f.:]+) ]] && PEER=${BASH_REMATCH[1]}
	ms=$MS srv=$SERVER peer=$PEER retrans=$RETRANS
	record "$srv" "$peer" >"$out"
	dump_counters >"$TMP/counters.after"
	counter_deltas "$TMP/counters.before" "$TMP/counters.after" >>"$out"
	kill -USR1 $held
	wait $held || fail "the reused connection did not end well: $(cat "$TMP/reuse.out")"
	log "run module=$mod: first connection to $srv1; reuse $ms ms, to $srv, server saw $peer," \
		"SYN retransmits $retrans"
	echo "TIME $ms $retrans" >>"$out"
	[[ $mod == yes ]] && log "module counters: $(n "$dir" cat /proc/net/ip_vs_tw_resched | tr '\n' ' ')"
	dmesg_check
}

# rs_link NS: the prefix of NS's one link route (its eth0's).
rs_link() {
	ip -n "$1" -$FAMILY route show dev eth0 proto kernel | awk '$1 != "fe80::/64" { print $1; exit }'
}

rs_net() {
	if [[ $FAMILY == 6 ]]; then echo fd00::/16; else echo 10.0.0.0/16; fi
}

# reuse_connect LABEL [twtool options]: the client's connection with the
# tuple; sets MS SERVER PEER RETRANS, or OUT on failure.
reuse_connect() {
	local label=$1

	shift
	OUT=$(ip netns exec "$cl" twtool connect $VIP 80 $CLOSE -b "$(hp "$(client_ip 0)" 0)" "$@" 2>&1) ||
		return 1
	parse_conn "$OUT" || fail "$label: no server id in '$OUT'"
	[[ $OUT =~ peer=([0-9a-f.:]+) ]] && PEER=${BASH_REMATCH[1]}
	return 0
}

ct_state() {
	n "$dir" conntrack -L -f $CT_FAMILY -p tcp --orig-src "$SNAT_IP" --sport $SNAT_PORT \
		2>/dev/null | awk '{ print $4; exit }'
}
out_of_step() { [[ $(ipvs_state) == TIME_WAIT && $(ct_state) == LAST_ACK ]]; }

# dump_counters: every rule of every table, with its counters.
dump_counters() {
	local t

	for t in iptables-legacy iptables-nft; do
		[[ $FAMILY == 6 ]] && t=ip6${t#ip}
		n "$dir" "$t-save" -c 2>/dev/null | grep -vE '^#' | sed "s/^/RULES $t /"
	done
	n "$dir" nft list ruleset 2>/dev/null | grep -vE '^[[:space:]]*#' | sed 's/^/NFT /'
}

# counter_deltas BEFORE AFTER: AFTER's lines with each counter replaced by
# how much it rose since BEFORE (the same rules, line for line).
counter_deltas() {
	awk 'NR == FNR { b[FNR] = $0; next }
	function nums(l, a,    n) {
		n = 0
		while (match(l, /\[[0-9]+:[0-9]+\]|packets [0-9]+ bytes [0-9]+/)) {
			a[++n] = substr(l, RSTART, RLENGTH)
			l = substr(l, RSTART + RLENGTH)
		}
		return n
	}
	{
		line = $0
		n = nums($0, x)
		nums(b[FNR], y)
		for (i = 1; i <= n; i++) {
			split(x[i], xa, /[^0-9]+/)
			split(y[i], ya, /[^0-9]+/)
			if (x[i] ~ /^\[/)
				d = sprintf("[+%d:+%d]", xa[2] - ya[2], xa[3] - ya[3])
			else
				d = sprintf("packets +%d bytes +%d", xa[2] - ya[2], xa[3] - ya[3])
			sub(/\[[0-9]+:[0-9]+\]|packets [0-9]+ bytes [0-9]+/, "@@" i "@@", line)
			r[i] = d
		}
		for (i = 1; i <= n; i++)
			sub("@@" i "@@", r[i], line)
		print line
	}' "$1" "$2"
}

# record SERVER PEER: the flow record, one "KIND text" line each.
record() {
	# Conntrack first: its timeout runs from the last packet. Both of
	# conntrack's views: status bits (-o save) and labels (extended).
	ct_list -o save | awk '{
		for (i = 1; i <= NF; i++)
			if ($i == "-t")
				$(i + 1) = bin($(i + 1))
			else if ($i == "--reply-port-dst" && random_port)
				$(i + 1) = "(random)"
		print "CT", $0
	}'"$BIN" random_port=$RANDOM_PORT | sort
	ct_list -o extended,labels | awk '{
		$5 = bin($5)
		n = 0
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^use=/)
				$i = ""
			if ($i ~ /^dport=/ && ++n == 2 && random_port)
				$i = "dport=(random)"
		}
		print "CTX", $0
	}'"$BIN" random_port=$RANDOM_PORT | sort
	# IPVS entries of the tuple: every field but the expire time.
	wait_for 5 ipvs_single || log "the tuple has $(ipvs_entry | wc -l) IPVS entries"
	n "$dir" ipvsadm -Lnc | awk -v s="$(hp "$SNAT_IP" $SNAT_PORT)" \
		'$1 == "TCP" && $4 == s { print "IPVS", $1, $3, $4, $5, $6 }' | sort
	# The forwarded SYN as LOG saw it (no MAC, IP ID or timestamps).
	dmesg_since | grep -o 'twr-eq: .*' |
		sed -E 's/ (MAC|ID|SPT|FLOWLBL)=[^ ]*//g; s/ +$//' | sed 's/^/SYN /'
	echo "SERVER $1 PEER $2"
}

ipvs_single() { (($(ipvs_entry | wc -l) == 1)); }

# ip6_quiet: the director received and sent no IPv6 multicast (router
# solicitations, MLD reports) for a second and a half.
ip6_mcast() { n "$dir" awk '$1 ~ /^Ip6(In|Out)McastPkts$/ { s += $2 } END { print s + 0 }' /proc/net/snmp6; }
ip6_quiet() {
	local a b

	a=$(ip6_mcast)
	sleep 1.5
	b=$(ip6_mcast)
	[[ $a == "$b" ]]
}

ct_list() {
	n "$dir" conntrack -L -f $CT_FAMILY -p tcp --orig-src "$SNAT_IP" --sport $SNAT_PORT "$@" 2>/dev/null
}
# A timeout in 10 s bins: what the state's timeout (or a policy's) was,
# seen a few seconds after the last packet.
BIN='
	function bin(t) { return "~" (int((t + 9) / 10) * 10) "s" }'
# MASQUERADE --random-fully (kube-proxy's) picks the port afresh each time.
RANDOM_PORT=0

# static_neigh NS1 IF1 ADDR1 NS2 IF2 ADDR2: the two ends know each other
# for good. IPv6 neighbour discovery goes through ip6tables, and a second
# of waiting (stock's) lets an entry go stale: its probes would count.
static_neigh() {
	local m1 m2

	m1=$(ip -n "$1" -br link show "$2" | awk '{ print $3 }')
	m2=$(ip -n "$4" -br link show "$5" | awk '{ print $3 }')
	ip -n "$1" neigh replace "$6" lladdr "$m2" dev "$2" nud permanent &&
		ip -n "$4" neigh replace "$3" lladdr "$m1" dev "$5" nud permanent ||
		fail "static neighbours $1 $2 - $4 $5"
}

# ---------------------------------------------------------------------------
# Rule sets. Each loads into the director ($dir) and masquerades the
# service's traffic toward the real servers, in its own way.
svc_ports() { echo "$VIP,tcp:80"; }

# kube-proxy's IPVS mode, as v1.28 - v1.31 write it (pkg/proxy/ipvs/
# proxier.go, writeIptablesRules(), for a ClusterIP service and
# masqueradeAll=false with a cluster CIDR; the kubelet's own chains left
# out): the service's ipset entries, the mark in nat PREROUTING
# (KUBE-SERVICES -> KUBE-MARK-MASQ) for clients outside the cluster CIDR,
# masquerade by that mark in KUBE-POSTROUTING. The VIP sits on a dummy
# kube-ipvs0 in kube-proxy; here it is the director's eth0 address.
# IPVS mode's KUBE-FORWARD has no INVALID drop (the iptables mode's has);
# a FORWARD rule dropping ctstate INVALID is added as the iptables mode
# and many hosts' firewalls have it.
ruleset_kube() {
	local ipt=$IPTABLES set=yes cip nodeport ips reject clusternet=10.244.0.0/16 fam=inet p= lo=127.0.0.0/8

	[[ $FAMILY == 6 ]] && clusternet=fd00:244::/64 fam=inet6 p=6- lo=::1/128
	if ! kernel_has ip_set_hash_ipport || ! kernel_has ip_set_bitmap_port ||
		! kernel_has ip_set_hash_ip || ! kernel_has xt_set; then
		set=no
		log "this kernel has no ipset (CONFIG_IP_SET, CONFIG_NETFILTER_XT_SET):" \
			"the service is matched by address and port, as the sets would"
	fi
	# kube-proxy rejects new flows to node addresses that are no service;
	# a kernel without the REJECT target (7.1.5 here) drops them instead:
	# the test's flows are services' and meet neither.
	reject=REJECT
	if ! kernel_has ip${p:+6}t_REJECT; then
		reject=DROP
		log "this kernel has no REJECT target (CONFIG_IP${p:+6}_NF_TARGET_REJECT):" \
			"KUBE-IPVS-FILTER drops instead; no flow of this test meets it"
	fi
	if [[ $set == yes ]]; then
		n "$dir" ipset restore <<EOF || fail "ipsets"
create KUBE-${p}CLUSTER-IP hash:ip,port family $fam hashsize 1024 maxelem 65536
add KUBE-${p}CLUSTER-IP $(svc_ports)
create KUBE-${p}LOOP-BACK hash:ip,port,ip family $fam hashsize 1024 maxelem 65536
create KUBE-${p}NODE-PORT-TCP bitmap:port range 0-65535
create KUBE-${p}IPVS-IPS hash:ip family $fam hashsize 1024 maxelem 65536
add KUBE-${p}IPVS-IPS $VIP
EOF
		cip="-m set --match-set KUBE-${p}CLUSTER-IP dst,dst"
		nodeport="-p tcp -m comment --comment \"Kubernetes nodeport TCP port for masquerade purpose\" -m set --match-set KUBE-${p}NODE-PORT-TCP dst -j KUBE-MARK-MASQ"
		ips="-m conntrack --ctstate NEW -m set --match-set KUBE-${p}IPVS-IPS dst -j $reject"
	else
		cip="-d $VIP -p tcp --dport 80"
		nodeport="-p tcp --dport 30080 -j KUBE-MARK-MASQ"
		ips="-m conntrack --ctstate NEW -d $VIP -j $reject"
	fi
	n "$dir" "$ipt-restore" --noflush <<EOF || fail "kube-proxy rules ($ipt)"
*nat
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODE-PORT - [0:0]
:KUBE-LOAD-BALANCER - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-NODE-PORT $nodeport
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SERVICES -s $lo -j RETURN
-A KUBE-SERVICES ! -s $clusternet -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" $cip -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT
-A KUBE-SERVICES $cip -j ACCEPT
COMMIT
*filter
:KUBE-FORWARD - [0:0]
:KUBE-IPVS-FILTER - [0:0]
:KUBE-NODE-PORT - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-SOURCE-RANGES-FIREWALL - [0:0]
-A INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER
-A INPUT -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL
-A INPUT -m comment --comment "kubernetes health check rules" -j KUBE-NODE-PORT
-A FORWARD -m conntrack --ctstate INVALID -j DROP
-A FORWARD -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-IPVS-FILTER $cip -j RETURN
-A KUBE-IPVS-FILTER $ips
-A KUBE-SOURCE-RANGES-FIREWALL -j DROP
COMMIT
EOF
	RANDOM_PORT=1
	# What kube-proxy sets in IPVS mode besides conntrack=1.
	sysctl_w "$dir" net.ipv4.vs.expire_nodest_conn 1
	sysctl_w "$dir" net.ipv4.vs.expire_quiescent_template 1
}

ruleset_connmark() {
	n "$dir" "$IPTABLES-restore" --noflush <<EOF || fail "connmark rules"
*mangle
-A PREROUTING -j CONNMARK --restore-mark
-A PREROUTING -d $VIP -p tcp --dport 80 -m conntrack --ctstate NEW -j MARK --set-mark 0x10
-A PREROUTING -m conntrack --ctstate NEW -j CONNMARK --save-mark
COMMIT
*nat
-A POSTROUTING -m mark --mark 0x10 -j MASQUERADE
COMMIT
*filter
-A INPUT -m conntrack --ctstate NEW -p tcp --dport 80
COMMIT
EOF
}

# Both directions in zone 7: every packet entering and every local one.
ruleset_ct() {
	if [[ $1 == ct_zone ]]; then
		n "$dir" "$IPTABLES-restore" --noflush <<EOF || fail "CT zone rules"
*raw
-A PREROUTING -j CT --zone 7
-A OUTPUT -j CT --zone 7
COMMIT
*nat
-A POSTROUTING -o eth1 -j MASQUERADE
-A POSTROUTING -o eth2 -j MASQUERADE
COMMIT
EOF
		return
	fi
	# ct_timeout: a raw CT template naming a timeout policy (nfct), as
	# "iptables -t raw ... -j CT --timeout" users write it.
	n "$dir" nfct add timeout twr_pol inet tcp established 4321 close 47 2>"$TMP/nfct.err" ||
		skip "no conntrack timeout policies here (CONFIG_NF_CT_NETLINK_TIMEOUT): $(head -n 1 "$TMP/nfct.err")"
	n "$dir" "$IPTABLES-restore" --noflush <<EOF || fail "CT timeout rules"
*raw
-A PREROUTING -d $VIP -p tcp --dport 80 -j CT --timeout twr_pol
COMMIT
*nat
-A POSTROUTING -o eth1 -j MASQUERADE
-A POSTROUTING -o eth2 -j MASQUERADE
COMMIT
EOF
}

ruleset_nft() {
	local counter=counter label= timeout= pol=

	# Linux 5.4.49 here has no nft counter (CONFIG_NFT_COUNTER).
	n "$dir" nft -f - <<<"table ip twr_probe { chain c { counter; }; }" 2>/dev/null || counter=
	n "$dir" nft delete table ip twr_probe 2>/dev/null
	[[ -z $counter ]] && log "no nft counters in this kernel (CONFIG_NFT_COUNTER): the record has none"
	if n "$dir" nft -f - <<<"table ip twr_probe { chain c { ct label set \"twr-new\"; }; }" 2>/dev/null; then
		label='ct label set "twr-new"'
	else
		log "no conntrack labels in this kernel (CONFIG_NF_CONNTRACK_LABELS): none set"
	fi
	n "$dir" nft delete table ip twr_probe 2>/dev/null
	# nft's own timeout policy, set on the new conntrack (after conntrack).
	if n "$dir" nft -f - <<<"table ip twr_probe { ct timeout p { protocol tcp; l3proto ip; policy = { close: 57 }; }; }" 2>/dev/null; then
		pol='ct timeout pol { protocol tcp; l3proto ip; policy = { established: 4321, close: 57 }; }'
		timeout='ct timeout set "pol"'
	else
		log "no conntrack timeout policies in this kernel (CONFIG_NF_CONNTRACK_TIMEOUT): none set"
	fi
	n "$dir" nft delete table ip twr_probe 2>/dev/null
	n "$dir" nft -f - <<EOF || fail "nft rules"
table ip twr {
	$pol
	chain mangle_pre {
		type filter hook prerouting priority mangle; policy accept;
		ip daddr $VIP tcp dport 80 ct state new ct mark set 0x20 $label $timeout $counter
		ct mark 0x20 meta mark set 0x4000 $counter
	}
	chain nat_pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr $VIP tcp dport 80 meta mark set meta mark | 0x100 $counter
	}
	chain nat_out {
		type nat hook output priority -100; policy accept;
		$counter
	}
	chain input {
		type filter hook input priority filter; policy accept;
		ct state new $counter
	}
	chain nat_post {
		type nat hook postrouting priority srcnat; policy accept;
		meta mark & 0x4000 == 0x4000 $counter masquerade
	}
}
EOF
}

# ---------------------------------------------------------------------------
# One case: both runs, then the records compared.
one_case() {
	local r=$1 s=$2 d=$3 drop=yes rc

	# Where this kernel's IPVS drops the reused SYN: after a FIN close,
	# conntrack reopens the flow and v5.9+ IPVS does not drop.
	[[ $s == fin && $(ipvs_trait drop_check) == confirmed ]] && drop=no
	bash "$0" -r "$r" -s "$s" -m no -o "$d/stock"
	rc=$?
	((rc == ksft_skip)) && exit $ksft_skip
	((rc == 0)) || fail "the run under stock IPVS failed: the case is not staged"
	bash "$0" -r "$r" -s "$s" -m yes -o "$d/module" || fail "the run with the module failed"

	read -r _ sms sre < <(grep '^TIME ' "$d/stock")
	read -r _ mms mre < <(grep '^TIME ' "$d/module")
	if [[ $drop == yes ]]; then
		awk -v m="$sms" -v t=$SLOW_MS 'BEGIN { exit !(m >= t) }' && ((sre >= 1)) ||
			fail "stock IPVS did not drop the reused SYN ($sms ms, $sre retransmits): not staged"
	fi
	awk -v m="$mms" -v t=$SLOW_MS 'BEGIN { exit !(m < t) }' && ((mre == 0)) ||
		fail "with the module the reuse took $mms ms, $mre SYN retransmits"
	# With a zone other than the default one, stock IPVS cannot delete
	# the old conntrack when the old entry expires (it looks it up in
	# the default zone): its first retransmit meets that conntrack and
	# goes to the server on it, in vain, and the second, a second later,
	# makes the connection. The module deletes it in its own zone; its
	# copy makes the connection stock's second retransmit makes. That
	# connection is compared; the lost SYN's packets in stock's rule
	# counters and LOG lines are not.
	local what='^(CT|CTX|IPVS|SERVER|SYN|RULES|NFT) '
	if [[ $r == ct_zone ]]; then
		what='^(CT|CTX|IPVS|SERVER) '
		log "ct_zone: rule counters and forwarded SYNs not compared (stock's retransmit lost on the stale conntrack)"
	fi
	if ! diff -u <(grep -E "$what" "$d/stock") <(grep -E "$what" "$d/module") >"$d/diff"; then
		log "the flows differ (- stock IPVS, + with the module):"
		sed 's/^/#   /' "$d/diff"

		fail "$r/$s: the module's flow is not the flow stock IPVS makes"
	fi
	log "$r/$s: stock $sms ms ($sre SYN retransmits), module $mms ms: the same flow" \
		"($(grep -c . "$d/module") record lines)"
	log "record: $(grep -E '^(CT|CTX|IPVS|SERVER) ' "$d/module" | tr '\n' ';')"
}

# ---------------------------------------------------------------------------
R= S= M= O=
while getopts "r:s:m:o:" o; do
	case $o in
	r) R=$OPTARG ;;
	s) S=$OPTARG ;;
	m) M=$OPTARG ;;
	o) O=$OPTARG ;;
	*) fail "bad option" ;;
	esac
done
require_root
require_cmd ip ipvsadm conntrack twtool modprobe nft nfct ipset iptables-legacy iptables-nft
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ipvs_traits

if [[ -n $M ]]; then
	one_run "$R" "$S" "$M" "$O"
	exit $ksft_pass
fi
if [[ -n $R ]]; then
	d=${O:-$TMP}
	mkdir -p "$d"
	one_case "$R" "$S" "$d"
	echo "# PASS"
	exit $ksft_pass
fi

# The labels the nft rule set names.
for f in /etc/connlabel.conf /etc/xtables/connlabel.conf; do
	mkdir -p "$(dirname "$f")" && echo "1 twr-new" >"$f"
done
# LOG lines from every namespace.
[[ -w /proc/sys/net/netfilter/nf_log_all_netns ]] &&
	echo 1 >/proc/sys/net/netfilter/nf_log_all_netns

cases=()
for r in $RULESETS; do
	for s in $SCENARIOS_FULL; do
		cases+=("$r:$s")
	done
done
cases+=($CASES_MORE)
# A FIN close drops the SYN only on the 4.6 - 5.8 check: run it there on
# every rule set too.
if [[ $(ipvs_trait drop_check) == any ]]; then
	for r in $RULESETS; do
		[[ $r == kube_nft || $r == kube_legacy ]] && continue	# kube:fin
		cases+=("$r:fin")
	done
fi
# TWR_EQ_CASES="RULESET:SCENARIO ...": only these (to look at one).
[[ -n ${TWR_EQ_CASES:-} ]] && read -ra cases <<<"${TWR_EQ_CASES//,/ }"
ktap_header ${#cases[@]}
for c in "${cases[@]}"; do
	sub "${c/:/_}" bash "$0" -r "${c%%:*}" -s "${c#*:}" -o "$TMP/${c/:/_}"
done
ktap_finish
