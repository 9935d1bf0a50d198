#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The same reused tuple, many times over, by IPVS direct routing: the
# curl part of haproxy_ab.sh -f dr (nginx real servers that close first
# with a FIN, curl through an SNAT box that maps every client port to one
# source port), repeated N times in each of four arms, with every reuse
# that does not go as its arm expects traced hop by hop and classified.
#
#   client             SNAT box                switch sw (br0)      director
#  +-----------+     +----------------+      +----------------+     +-----------------+
#  | cl        |     | nat            |      |                |     | dir 10.0.2.2    |
#  | 10.0.1.2  |-eth0| 10.0.1.1       |      |  p0 ---+       |  p1 | VIP 10.0.2.100  |
#  | curl      |     |     10.0.2.1   |-eth1-|        +-- br0-|-----| :80 rr, IPVS DR |
#  | --local-  |     | MASQUERADE     |      |  p2 ---+  |    |     | conn_reuse_mode |
#  | port      |     | to :40000,     |      |  p3 ------+    |     | =3, a nat rule  |
#  | 41000-    |     | ct TIME_WAIT,  |      +--|-------|-----+     +-----------------+
#  | 41199     |     | CLOSE 1 s      |         |       |
#  +-----------+     +----------------+    rs1 10.0.2.11  rs2 10.0.2.12
#                                           VIP on lo, nginx :80, keepalive_timeout 0
#                                           (they answer 10.0.2.1 directly)
#
#   captures: tcpdump -i any in cl (the client's hop) and in sw (every
#   bridge port: p0 SNAT box, p1 director, p2 rs1, p3 rs2).
#
# Every connection leaves the SNAT box as 10.0.2.1:40000, so each one
# meets the director's entry of the previous one, in FIN_WAIT (the
# director sees only the client's side of a DR flow), which IPVS
# reschedules under conn_reuse_mode bit 2; and, rr taking turns, the
# real server it is sent to still holds the connection before last in
# TIME_WAIT (nginx closed first). Arms, each in fresh namespaces:
#   stock    stock IPVS, vs.conntrack=1: the drop, one SYN retransmit
#            (~1 s) per reuse
#   noct     stock IPVS, vs.conntrack=0: no drop (and no conntrack on
#            IPVS's entries)
#   module   ip_vs_tw_resched loaded: no drop
#   policy0  the module loaded with resched_mode=0: the drop, as stock
#
# A reuse goes as expected when it needed exactly the arm's SYN
# retransmits (1 or 0, the client's TcpExtTCPSynRetrans) and curl got the
# page in time. Any other (a stall: curl failed or took >= 20 s; or a
# connect with more or fewer retransmits) is traced from the captures,
# SYN by SYN, hop by hop (SNAT box, director, real server, back), and
# classified by the first hop that lost or refused a SYN that should have
# made the connection: the SNAT box, the director (IPVS or the module), a
# real server (its TIME_WAIT answering with an ACK, a reset, silence).
# Printed with it: curl's timings, conntrack -S of the director and the
# SNAT box (deltas over the reuse), the SNAT box's whole conntrack table,
# the real servers' and the client's TCP counters (nstat names, deltas),
# the module's counters, the IPVS entries, the sockets, and the capture
# lines of the reuse.
#
# Asserts, per arm: no deviation whose cause lies on the director where
# the module is loaded, none left unexplained ("unknown"), no drop missing
# in stock or policy0, the module's counters (module: a rescheduled SYN
# per reuse, no SYN left to IPVS's drop and no copy lost on its way;
# policy0: each one left by policy); no kernel complaint. Deviations caused by a peer (real server,
# SNAT box) do not fail an arm: they are a property of that peer, which
# the same servers have behind any director. Then, across arms: the
# module's arm may not have significantly more stalls, late connects
# (past the arm's own wait: a second SYN lost) or deviations than the
# stock arm with the same expectation (module vs noct, policy0 vs stock;
# one-sided exact conditional binomial test, p < 0.01). The last subtest
# prints every arm's counts with exact (Clopper-Pearson) 95 % bounds.
#
# usage: dr_reuse_stress.sh [-n N]            all arms (KTAP), N reuses each
#        dr_reuse_stress.sh -a ARM [-n N]     one arm
# N: -n, or the environment's TWR_DR_STRESS_N; default 20 (8 with
# KSFT_MACHINE_SLOW=yes). TWR_DR_STRESS_ARMS: the arms to run (default
# all four). A measuring run in the test VM: VM_APPEND="TWR_DR_STRESS_N=150
# KSFT_TIMEOUT=9000" scripts/vm-run.sh ... dr_reuse_stress.sh

source "$(dirname "$0")/lib.sh"

N=${TWR_DR_STRESS_N:-$((TWR_SLOW ? 8 : 20))}
ARM=
while getopts "a:n:" o; do
	case $o in
	a) ARM=$OPTARG ;;
	n) N=$OPTARG ;;
	*) fail "bad option" ;;
	esac
done
[[ $N =~ ^[1-9][0-9]*$ ]] || fail "bad N '$N'"

# binom_bounds K N: exact (Clopper-Pearson) two-sided 95 % bounds of a
# rate K of N, as percentages. binom_worse K1 N1 K2 N2: one-sided p-value
# that arm 1's rate exceeds arm 2's only by chance (given the K1 + K2
# events, K1 ~ Bin(K1 + K2, N1 / (N1 + N2)) if the rates are equal).
BINOM_AWK='
function cdf(k, n, p,    i, t, s) {	# P(X <= k), X ~ Bin(n, p)
	if (k < 0) return 0
	if (k >= n) return 1
	if (p <= 0) return 1
	if (p >= 1) return 0
	t = exp(n * log(1 - p)); s = t
	for (i = 0; i < k; i++) { t *= (n - i) / (i + 1) * p / (1 - p); s += t }
	return s
}
function upper(k, n,    lo, hi, m, i) {
	if (k >= n) return 1
	lo = k / n; hi = 1
	for (i = 0; i < 60; i++) { m = (lo + hi) / 2; if (cdf(k, n, m) > 0.025) lo = m; else hi = m }
	return hi
}
function lower(k, n,    lo, hi, m, i) {
	if (k <= 0) return 0
	lo = 0; hi = k / n
	for (i = 0; i < 60; i++) { m = (lo + hi) / 2; if (1 - cdf(k - 1, n, m) < 0.025) lo = m; else hi = m }
	return lo
}'
binom_bounds() {
	awk -v k="$1" -v n="$2" "$BINOM_AWK"'
		BEGIN { printf "%.1f-%.1f %%\n", 100 * lower(k, n), 100 * upper(k, n) }'
}
binom_worse() {
	awk -v k1="$1" -v n1="$2" -v k2="$3" -v n2="$4" "$BINOM_AWK"'
		BEGIN { t = k1 + k2; printf "%.4f\n", t ? 1 - cdf(k1 - 1, t, n1 / (n1 + n2)) : 1 }'
}

if [[ -z $ARM ]]; then
	require_root
	require_cmd curl nginx tcpdump
	ipvs_traits
	ARMS=${TWR_DR_STRESS_ARMS:-stock noct module policy0}
	ARMS=${ARMS//,/ }
	ktap_header $(($(wc -w <<<"$ARMS") + 1))
	# Each arm bounded on its own: N reuses of ~1 s, plus a few stalls.
	t=$(((N * 12 + 300) * TWR_SCALE))
	declare -A R=()
	for a in $ARMS; do
		sub "$a" timeout -k 10 $t bash "$0" -a "$a" -n "$N"
		line=$(sed -n 's/^# RESULT //p' <<<"$SUB_OUT" | tail -n 1)
		for kv in $line; do
			R[$a.${kv%%=*}]=${kv#*=}
		done
	done
	compare() {
		local a b k rc=0 p what

		log "arm      reuses  as expected  deviations (95 %)     late (95 %)           stalls (95 %)         causes"
		for a in $ARMS; do
			[[ -n ${R[$a.reuses]:-} ]] || { log "$a: no result"; rc=1; continue; }
			printf '# %-8s %6s %12s %5s (%-13s) %5s (%-13s) %5s (%-13s) %s\n' "$a" "${R[$a.reuses]}" \
				"${R[$a.expected]}" \
				"${R[$a.deviations]}" "$(binom_bounds "${R[$a.deviations]}" "${R[$a.reuses]}")" \
				"${R[$a.late]}" "$(binom_bounds "${R[$a.late]}" "${R[$a.reuses]}")" \
				"${R[$a.stalls]}" "$(binom_bounds "${R[$a.stalls]}" "${R[$a.reuses]}")" \
				"${R[$a.causes]}"
		done
		((rc)) && fail "an arm gave no result"
		# The module's arms against stock's with the same expectation.
		for pair in module:noct policy0:stock; do
			a=${pair%:*} b=${pair#*:}
			[[ -n ${R[$a.reuses]:-} && -n ${R[$b.reuses]:-} ]] || continue
			for k in stalls late deviations; do
				p=$(binom_worse "${R[$a.$k]}" "${R[$a.reuses]}" "${R[$b.$k]}" "${R[$b.reuses]}")
				what="$a $k ${R[$a.$k]} of ${R[$a.reuses]}, $b ${R[$b.$k]} of ${R[$b.reuses]}: p=$p"
				if awk -v p="$p" 'BEGIN { exit !(p < 0.01) }'; then
					log "WORSE: $what"
					rc=1
				else
					log "not worse: $what"
				fi
			done
		done
		((rc == 0)) || fail "the module's arm does worse than stock's"
	}
	sub compare compare
	ktap_finish
fi

# ---------------------------------------------------------------------------
# One arm.
case $ARM in
stock | noct) MODULE=no ;;
module | policy0) MODULE=yes ;;
*) fail "unknown arm '$ARM'" ;;
esac
WANT_RETRANS=0
[[ $ARM == stock || $ARM == policy0 ]] && WANT_RETRANS=1
METHOD=dr
topology_addrs
SRV=none CLOSE=fin
CPORTS=41000-41199	# curl's; the SNAT box maps each to 40000

require_root
require_cmd ip ipvsadm conntrack nginx curl tcpdump modprobe "$IPTABLES"
case_tmp
stage_case
sysctl_w "$dir" net.ipv4.vs.conn_reuse_mode 3
[[ $ARM == noct ]] && sysctl_w "$dir" net.ipv4.vs.conntrack 0
[[ $ARM == policy0 ]] && sysctl_w "$dir" net.ipv4.vs.tw_resched.resched_mode 0

# The real servers: nginx, as in haproxy_ab.sh.
nginx_servers

# A process in each namespace, whose /proc/PID/net shows that namespace's
# counters to this shell without an exec per read.
declare -A PID=()
for h in cl nat dir rs1 rs2; do
	ip netns exec "${!h}" sleep 100000 &
	PID[$h]=$!
	disown
done

# The captures.
for h in cl sw; do
	ip netns exec "${!h}" tcpdump -i any -nn -tt -S -l --immediate-mode -Z root \
		'tcp port 80 or arp or icmp' >"$TMP/cap.$h" 2>"$TMP/cap.$h.err" &
	disown
done
capturing() { grep -q 'listening on' "$TMP/cap.cl.err" && grep -q 'listening on' "$TMP/cap.sw.err"; }
wait_for 10 capturing || fail "tcpdump did not start: $(cat "$TMP"/cap.*.err)"

# ---------------------------------------------------------------------------
# Counters, read through /proc/PID/net with shell builtins only (an exec
# costs 0.1 s under TCG): a snapshot keeps the raw files, which are
# parsed only where a reuse needs explaining.
#   snapshot P  P_tcp_H (H's /proc/net/snmp and netstat, H: cl rs1 rs2),
#               P_ct_H (conntrack's statistics, H: nat dir), P_twr (the
#               module's counters)
#   syn_retrans VAR: the client's TcpExtTCPSynRetrans in snapshot VAR,
#               into SYNR
rd() { IFS= read -r -d '' "$1" <"$2"; return 0; }
snapshot() {
	local h

	for h in cl rs1 rs2; do
		rd "$1_tcp_$h" "/proc/${PID[$h]}/net/snmp"
		rd "$1_tcpx_$h" "/proc/${PID[$h]}/net/netstat"
	done
	for h in nat dir; do
		rd "$1_ct_$h" "/proc/${PID[$h]}/net/stat/nf_conntrack"
	done
	[[ $MODULE == no ]] || rd "$1_twr" "/proc/${PID[dir]}/net/ip_vs_tw_resched"
}
syn_retrans() {
	local l hdr=() i

	SYNR=
	while read -r -a l; do
		[[ ${l[0]} == TcpExt: ]] || continue
		if ((${#hdr[@]} == 0)); then
			hdr=("${l[@]}")
			continue
		fi
		for ((i = 1; i < ${#hdr[@]}; i++)); do
			[[ ${hdr[i]} == TCPSynRetrans ]] && SYNR=${l[i]} && return 0
		done
		return 1
	done <<<"${!1}"
	return 1
}
# tcp_mib SNMP NETSTAT: every Tcp and TcpExt counter, as nstat names them
# ("Name value" lines); ct_stat RAW: conntrack's statistics summed over
# the CPUs, conntrack -S's names (mawk has no strtonum: hex by hand).
tcp_mib() {
	printf '%s\n%s\n' "$1" "$2" | awk '$1 != "Tcp:" && $1 != "TcpExt:" { next }
		$1 == p { for (i = 2; i <= NF; i++) print substr(p, 1, length(p) - 1) h[i], $i; p = ""; next }
		{ p = $1; for (i = 2; i <= NF; i++) h[i] = $i }'
}
ct_stat() {
	awk 'function hex(s,    i, v) {
		v = 0
		for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1
		return v
	}
	NR == 1 { for (i = 1; i <= NF; i++) h[i] = $i; n = NF; next }
	{ for (i = 1; i <= NF; i++) v[i] = (i == 1) ? hex($i) : v[i] + hex($i) }
	END { for (i = 1; i <= n; i++) print h[i], v[i] + 0 }' <<<"$1"
}
# delta OLD NEW: the counters that changed ("name value" lines), as
# "name +d" joined by commas.
delta() {
	awk 'NR == FNR { o[$1] = $2; next } $2 != o[$1] { printf "%s%s %+d", n++ ? ", " : "", $1, $2 - o[$1] }' \
		<(echo "$1") <(echo "$2")
}
# counter VAR NAME: one counter out of a "name value" text.
counter() { awk -v k="$2" '$1 == k { print $2 + 0 }' <<<"${!1}"; }

# ---------------------------------------------------------------------------
# trace T0 T1: the reuse's SYNs, hop by hop, from the captures between
# T0 and T1 (epoch seconds). One line per SYN the client sent:
#   syn K +S: HOPS -> OUTCOME
# and a last line "causes C1 C2 ...": for each SYN that did not make the
# connection, where it was lost or refused:
#   snat_syn        left the client, not the SNAT box
#   director_drop   reached the director, went to no real server
#   rs_ack(RS)      the real server answered with an ACK that is not
#                   a SYN-ACK (its TIME_WAIT refusing the SYN); with its
#                   counters: rs_ack_paws(RS) (TcpExtPAWSEstab, since
#                   Linux 6.15 TcpExtPAWSTimewait, rose: the SYN's
#                   timestamp older than the TIME_WAIT's), or
#                   rs_ack_challenge(RS) (TcpExtTCPChallengeACK)
#   rs_rst(RS)      the real server answered with a reset
#   rs_silent(RS)   the real server did not answer
#   snat_reply      the SYN-ACK reached the SNAT box, not the client
#   bridge          lost between two ports of the switch
#   no_syn_captured the client's capture shows no SYN at all
trace() {
	awk -v t0="$1" -v t1="$2" -v vip="$VIP" -v snat="$SNAT_IP" '
	function parse() {
		T = $1 + 0; IF = $2; IN = ($3 != "Out"); SRC = $5; DST = $7; sub(/:$/, "", DST)
		FL = ""
		if (match($0, /Flags \[[^]]*\]/)) FL = substr($0, RSTART + 7, RLENGTH - 8)
	}
	# The client SYN a packet at time T belongs to: the last one sent
	# before it (they are 1 s or more apart, a hop takes milliseconds).
	function syn_at(t,    j) {
		for (j = n; j > 0; j--) if (at[j] <= t) return j
		return 0
	}
	FNR == 1 { file++ }
	$4 != "IP" { next }
	{ parse(); if (T < t0 || T > t1) next }
	file == 1 {		# the client
		if (!IN && FL == "S" && DST == vip ".80") {
			n++; at[n] = T
		} else if (IN && FL == "S." && SRC == vip ".80") {
			cl_sa[syn_at(T)] = 1
		} else if (!IN && FL ~ /R/) {
			crst = crst " +" sprintf("%.3f", T - at[1])
		}
		next
	}
	{			# the switch: p0 SNAT box, p1 director, p2 rs1, p3 rs2
		i = syn_at(T)
		if (!i) next
		rs = (IF == "p2") ? "rs1" : (IF == "p3") ? "rs2" : ""
		if (FL == "S" && SRC == snat ".40000" && DST == vip ".80") {
			if (IF == "p0" && IN) at_p0[i] = 1
			if (IF == "p1" && !IN) at_dir[i] = 1
			if (IF == "p1" && IN) dir_fw[i] = 1
			# (a frame the bridge floods before it knows the director
			# shows on p2/p3 too, before the director sent anything)
			if (rs != "" && !IN && dir_fw[i]) fw[i] = rs
		} else if (rs != "" && IN && SRC == vip ".80" && DST == snat ".40000" && fw[i] == rs) {
			if (i in ans) next
			ans[i] = (FL == "S.") ? "SYN-ACK" : (FL ~ /R/) ? "RST" : "ACK [" FL "]"
		} else if (IF == "p0" && !IN && FL == "S." && SRC == vip ".80") {
			at_nat_back[i] = 1
		}
	}
	END {
		for (i = 1; i <= n; i++) {
			h = "client"; c = ""
			if (!at_p0[i]) c = "snat_syn"
			else {
				h = h ">snat"
				if (!at_dir[i]) c = "bridge"
				else {
					h = h ">dir"
					if (fw[i] == "") c = "director_drop"
					else {
						h = h ">" fw[i]
						if (!(i in ans)) c = "rs_silent(" fw[i] ")"
						else {
							h = h ": " ans[i]
							if (ans[i] == "RST") c = "rs_rst(" fw[i] ")"
							else if (ans[i] != "SYN-ACK") c = "rs_ack(" fw[i] ")"
							else if (!at_nat_back[i]) c = "bridge"
							else if (!cl_sa[i]) c = "snat_reply"
							else h = h ">client"
						}
					}
				}
			}
			printf "syn %d +%.3f s: %s%s\n", i, at[i] - at[1], h, c ? " -> lost: " c : " -> connected"
			if (c) causes = causes " " c
		}
		if (crst) print "client resets at" crst
		if (!n) causes = " no_syn_captured"
		print "causes" causes
	}' "$TMP/cap.cl" "$TMP/cap.sw"
}

# ---------------------------------------------------------------------------
# The reuses.
log "arm $ARM: module=$MODULE vs.conntrack=$(n "$dir" cat /proc/sys/net/ipv4/vs/conntrack)" \
	"conn_reuse_mode=3, IPVS drop check: $(ipvs_trait drop_check) conntrack;" \
	"$N reuses, each expected to need $WANT_RETRANS SYN retransmit(s)"
reuses=0 expected=0 deviations=0 late=0 stalls=0
declare -A CAUSES=() LP_RS=()
ms_list=()
dump() {	# dump I: everything each hop holds now, and the reuse's deltas
	local h

	log "  curl: $out (exit $rc)"
	while read -r l; do log "  $l"; done <<<"$tr"
	log "  conntrack -S deltas: director: $(delta "$(ct_stat "$b_ct_dir")" "$(ct_stat "$a_ct_dir")");" \
		"SNAT box: $(delta "$(ct_stat "$b_ct_nat")" "$(ct_stat "$a_ct_nat")")"
	for h in rs1 rs2 cl; do
		v1=b_tcp_$h v2=b_tcpx_$h v3=a_tcp_$h v4=a_tcpx_$h
		log "  $h nstat: $(delta "$(tcp_mib "${!v1}" "${!v2}")" "$(tcp_mib "${!v3}" "${!v4}")")"
	done
	[[ $MODULE == yes ]] && log "  module: $(delta "$b_twr" "$a_twr")"
	log "  director conntrack -S: $(n "$dir" conntrack -S 2>&1 | awk '{ $1 = ""; print }' | sort | uniq -c | tr '\n' ';')"
	log "  SNAT box conntrack -S: $(n "$nat" conntrack -S 2>&1 | awk '{ $1 = ""; print }' | sort | uniq -c | tr '\n' ';')"
	log "  SNAT box conntrack -L: $(n "$nat" conntrack -L 2>/dev/null | tr '\n' ';')"
	log "  director conntrack -L: $(n "$dir" conntrack -L -p tcp 2>/dev/null | tr '\n' ';')"
	log "  IPVS: $(n "$dir" ipvsadm -Lnc | grep -v '^[IP]' | tr '\n' ';')"
	for h in cl rs1 rs2; do
		log "  $h sockets: $(n "${!h}" ss -Htan | tr '\n' ';')"
	done
	log "  capture, client (cl):"
	awk -v t0="$t0" -v t1="$t1" '$1 >= t0 && $1 <= t1' "$TMP/cap.cl" | sed 's/^/#     /'
	log "  capture, switch (p0 SNAT box, p1 director, p2 rs1, p3 rs2):"
	awk -v t0="$t0" -v t1="$t1" '$1 >= t0 && $1 <= t1' "$TMP/cap.sw" | sed 's/^/#     /'
}
for ((i = 0; i <= N; i++)); do
	wait_for 15 snat_idle || fail "reuse $i: the SNAT box still holds a flow:" \
		"$(n "$nat" conntrack -L 2>/dev/null | tr '\n' ';')"
	snapshot b
	t0=${EPOCHREALTIME}
	out=$(n "$cl" curl -s --max-time 20 -o "$TMP/body" --local-port $CPORTS \
		-w 'connect=%{time_connect} start=%{time_starttransfer} total=%{time_total} lport=%{local_port} code=%{http_code}' \
		"http://$VIP/" 2>&1)
	rc=$?
	t1=${EPOCHREALTIME}
	((i == 0)) && { ((rc == 0)) || fail "first connection: curl exit $rc: $out"; }
	# Late packets of the close still belong to this reuse.
	if ! wait_for 15 entry_in "TIME_WAIT|CLOSE|FIN_WAIT"; then
		((rc)) || fail "reuse $i: IPVS entry '$(ipvs_state)' (curl: $out)"
		log "reuse $i: curl failed and the IPVS entry is still '$(ipvs_state)'"
	fi
	snapshot a
	if ((i == 0)); then
		s_twr=$b_twr lport=?
		[[ $out =~ lport=([0-9]+) ]] && lport=${BASH_REMATCH[1]}
		[[ -r $TMP/body ]] && read -r body <"$TMP/body" && LP_RS[$body]=$lport
		: >"$TMP/body"
		continue
	fi
	reuses=$((reuses + 1))
	syn_retrans b_tcpx_cl && r0=$SYNR && syn_retrans a_tcpx_cl || fail "no TcpExtTCPSynRetrans"
	retrans=$((SYNR - r0))
	ms=-1 total=99 body=
	[[ $out =~ connect=([0-9]+)\.([0-9]{3}) ]] && ms=$((10#${BASH_REMATCH[1]} * 1000 + 10#${BASH_REMATCH[2]}))
	[[ $out =~ total=([0-9]+)\. ]] && total=${BASH_REMATCH[1]}
	[[ -r $TMP/body ]] && read -r body <"$TMP/body"
	: >"$TMP/body"
	stall=0
	((rc != 0 || total >= 20)) || [[ ! $body =~ ^rs[12]$ ]] && stall=1
	ms_list+=("$ms")
	lport=?
	[[ $out =~ lport=([0-9]+) ]] && lport=${BASH_REMATCH[1]}
	# The client port of each server's last connection, the one its
	# TIME_WAIT holds (a timestamp offset is per connection since
	# Linux 6.x's secure_tcp_seq_and_ts_off(), per address pair before).
	tw_lport=("${LP_RS[rs1]:-?}" "${LP_RS[rs2]:-?}")
	[[ $body =~ ^rs[12]$ ]] && LP_RS[$body]=$lport
	if ((!stall && retrans == WANT_RETRANS)); then
		expected=$((expected + 1))
		continue
	fi
	deviations=$((deviations + 1))
	stalls=$((stalls + stall))
	# Later than the arm's own wait (none, or the drop's second).
	((ms < 0 || ms >= SLOW_MS + 1000 * WANT_RETRANS)) && late=$((late + 1))
	tr=$(trace "$t0" "$(awk -v t="$t1" 'BEGIN { printf "%.6f", t + 0.5 }')")
	causes=$(sed -n 's/^causes//p' <<<"$tr")
	# The arm's expected drop is the director's, on the first SYN only.
	if ((WANT_RETRANS)) && [[ $causes == " director_drop"* ]]; then
		causes=${causes# director_drop}
	fi
	[[ -z ${causes// /} ]] && causes=" unknown"
	if ((WANT_RETRANS && retrans == 0 && !stall)); then
		causes=" no_drop"
	fi
	cause=${causes# }
	cause=${cause%% *}
	# A real server's ACK to a SYN: its counters tell why.
	if [[ $cause =~ ^rs_ack\((rs[12])\)$ ]]; then
		h=${BASH_REMATCH[1]}
		v1=b_tcp_$h v2=b_tcpx_$h v3=a_tcp_$h v4=a_tcpx_$h
		d=$(delta "$(tcp_mib "${!v1}" "${!v2}")" "$(tcp_mib "${!v3}" "${!v4}")")
		if [[ $d == *TcpExtPAWSEstab* || $d == *TcpExtPAWSTimewait* ]]; then
			cause="rs_ack_paws($h)"
		elif [[ $d == *TcpExtTCPChallengeACK* ]]; then
			cause="rs_ack_challenge($h)"
		fi
	fi
	CAUSES[$cause]=$((${CAUSES[$cause]:-0} + 1))
	kind=slow
	((retrans < WANT_RETRANS)) && kind=fast
	((stall)) && kind=stall
	log "reuse $i: $kind, $retrans SYN retransmit(s) (expected $WANT_RETRANS), cause: $cause (all:$causes);" \
		"curl's local port $lport; the servers' last connections came from ports ${tw_lport[0]} (rs1), ${tw_lport[1]} (rs2)"
	dump
	# A run with many stalls has said what it has to say.
	((stalls >= 5)) && { log "5 stalls: the arm stops here"; break; }
done

# Module counters over the whole arm.
b_twr=$s_twr
[[ $MODULE == no ]] || rd a_twr "/proc/${PID[dir]}/net/ip_vs_tw_resched"
cs=
for c in "${!CAUSES[@]}"; do
	cs+=${cs:+,}$c:${CAUSES[$c]}
done
read -r p50 p99 max < <(printf '%s\n' "${ms_list[@]}" | sort -n | awk '{ v[NR] = $1 }
	END { print v[int((NR + 1) / 2)], v[int(NR * 0.99 + 0.999)], v[NR] }')
log "connect times (ms): p50 $p50, p99 $p99, max $max"
log "RESULT arm=$ARM reuses=$reuses expected=$expected deviations=$deviations late=$late stalls=$stalls causes=${cs:-none}"
dmesg_check

# The judgement.
bad=
for c in "${!CAUSES[@]}"; do
	case $c in
	snat_* | rs_* | bridge) ;;	# a peer's (or the wire's) doing
	director_drop)
		[[ $MODULE == yes ]] && bad+=" $c: the director lost a SYN with the module loaded"
		;;
	no_drop) bad+=" $c: IPVS did not drop where it must ($ARM)" ;;
	*) bad+=" $c: not explained" ;;
	esac
done
if [[ $MODULE == yes ]]; then
	got=$(delta "$b_twr" "$a_twr")
	log "module counters over the arm: $got"
	nres=$(($(counter a_twr resched) + $(counter a_twr resched_no_drop) -
		$(counter b_twr resched) - $(counter b_twr resched_no_drop)))
	left=$(awk '$1 ~ /^skip_(conntrack|no_copy)$/ { s += $2 } END { print s + 0 }' <<<"$a_twr")
	left0=$(awk '$1 ~ /^skip_(conntrack|no_copy)$/ { s += $2 } END { print s + 0 }' <<<"$b_twr")
	pol=$(($(counter a_twr skip_policy) - $(counter b_twr skip_policy)))
	if [[ $ARM == module ]]; then
		((nres >= reuses)) || bad+=" module: $nres SYNs rescheduled for $reuses reuses"
		((left == left0)) || bad+=" module: $((left - left0)) SYNs left to IPVS's drop (skip_conntrack, skip_no_copy)"
		lost=$(($(counter a_twr resend_lost) - $(counter b_twr resend_lost)))
		((lost == 0)) || bad+=" module: $lost copies lost on their way to IPVS (resend_lost)"
	else
		((nres == 0)) || bad+=" policy0: the module rescheduled $nres SYNs with resched_mode=0"
		((pol >= reuses)) || bad+=" policy0: skip_policy rose by $pol for $reuses reuses"
	fi
fi
[[ -z $bad ]] || fail "${bad# }"
echo "# PASS"
exit $ksft_pass
