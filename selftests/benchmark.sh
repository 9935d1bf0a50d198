#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark: ip_vs_tw_resched against what operators run instead, measured
# the same way in one run (scripts/bench.sh boots this in the VM).
#
#   client              snat box             director                real servers
#  +----------+       +-------------+      +---------------------+   +--------------+
#  | cl       |       | nat         |      | dir                 |   | rs1, rs2     |
#  | 10.0.1.2 |-eth0--| MASQUERADE  |-eth1-| VIP 10.0.2.2        |---| twload       |
#  | twload   |       | (ports kept)|      |  :8080 rr -> rs :8080   |  :8080 rst   |
#  +----------+       | twload flood|      |  :8081 rr -> rs :8081   |  :8081 sink  |
#                     | 198.18.x.y  |      | expire_nodest_conn=1|   | drop 198.18/15|
#                     +-------------+      +---------------------+   +--------------+
#
# The configurations (CONFIGS), each a director set up as operators do:
#   stock   IPVS as shipped: conn_reuse_mode=1, vs.conntrack=1
#   reuse0  conn_reuse_mode=0 (kube-router's and docker's choice)
#   noct    vs.conntrack=0: IPVS traffic bypasses conntrack, so netfilter
#           NAT (SNAT/MASQUERADE of IPVS traffic on the director) and
#           conntrack-based rules no longer apply to it; this topology
#           needs neither, a director that does would break
#   module  stock with ip_vs_tw_resched loaded
# Parts (each prints "BENCH key value" lines; "DATA ..." lines carry the
# raw connect times for the plot):
#   reuse  per configuration, an open loop at RATE/s, half the connections
#          from a pool of source ports reused while IPVS holds their
#          previous connection (CLOSE after the real server's RST), half
#          from fresh ports, the reference measured at the same moment.
#          From 30 % to 70 % of the run rs1 is drained (weight 0), as a
#          rolling update does. Connect-time p50/p99/max and connects
#          >= 900 ms per class; connections that failed or hung;
#          connections established while rs1 was drained that rs1
#          served; connections the director's own SNAT (a MASQUERADE
#          toward the servers) applied to, from the address each server
#          saw.
#   syn    closed-loop connection rate (each connection reset by the
#          client once established, fresh ports) per configuration, in
#          palindromic rounds (stock reuse0 noct module module noct
#          reuse0 stock) to cancel drift: each one's rate / stock's.
#   bulk   one TCP stream's throughput, module off/on in ABBA order.
#   scale  the syn part (module / stock) with 1 k and with 1 M TIME_WAIT
#          entries in IPVS's table (spoofed SYN+FIN pairs from
#          198.18.0.0/15, kept for an hour with the module's
#          timeout_time_wait).
#
# usage: benchmark.sh [-p PARTS]   PARTS: comma list of reuse, syn, bulk,
#        scale (default all). env: BENCH_RATE BENCH_REUSE_SECS
#        BENCH_INTERVAL BENCH_ROUNDS BENCH_ENTRIES
# Exit: 0 if every part ran (the figures are judged by scripts/bench.sh),
# 1 if a part could not run (a dry port pool, a wrong counter, ...).

source "$(dirname "$0")/lib.sh"

PARTS=reuse,syn,bulk,scale
while getopts "p:" o; do
	case $o in
	p) PARTS=$OPTARG ;;
	*) fail "bad option" ;;
	esac
done

RATE=${BENCH_RATE:-40}		# reuse part: connections/s, half reused
REUSE_SECS=${BENCH_REUSE_SECS:-30}
POOL=150			# 20 reuses/s: each port again after 7.5 s < 10 s CLOSE
INTERVAL=${BENCH_INTERVAL:-4}	# seconds per syn/bulk interval
ROUNDS=${BENCH_ROUNDS:-5}	# ABBA rounds
CONC=16
BIG=${BENCH_ENTRIES:-1000000}
CONFIGS="stock reuse0 noct module"

require_root
require_cmd ip ipvsadm twload modprobe "$IPTABLES"
ipvs_traits
case_tmp
dmesg_mark
module_state no
CLOSE=rst SRV=none
topology
sysctl_w "$dir" net.ipv4.vs.expire_nodest_conn 1

bench() { echo "BENCH $*"; }
has_part() { [[ ,$PARTS, == *,$1,* ]]; }

# The SNAT box keeps source ports (MASQUERADE picks another only on a
# clash): the pool's ports reach IPVS unchanged, every reuse is a reuse.
n "$nat" $IPTABLES -t nat -F POSTROUTING
n "$nat" $IPTABLES -t nat -A POSTROUTING -o eth1 -j MASQUERADE || fail "masquerade"
for port in 8080 8081; do
	n "$dir" ipvsadm -A -t "$VIP:$port" -s rr || fail "ipvsadm -A $port"
	for rs in rs1 rs2; do
		n "$dir" ipvsadm -a -t "$VIP:$port" -r "${RS_IP[$rs]}:$port" -m ||
			fail "ipvsadm -a $port"
	done
done
for rs in rs1 rs2; do
	ip netns exec "${!rs}" twload server 8080 rst $rs &
	disown
	ip netns exec "${!rs}" twload server 8081 sink &
	disown
	# The flood's spoofed tuples must leave entries, not connections.
	n "${!rs}" $IPTABLES -t raw -A PREROUTING -s 198.18.0.0/15 -j DROP
done
n "$dir" $IPTABLES -t raw -A PREROUTING -s 198.18.0.0/15 -j NOTRACK
# The director masquerades the reuse service's connections toward the real
# servers (as one does for servers without a route back to the clients).
# The servers tell the client the address they saw: the director's if
# netfilter NAT applied, the SNAT box's if not. With vs.conntrack=0 IPVS
# sends its traffic untracked and the rule never applies.
n "$dir" $IPTABLES -t nat -A POSTROUTING -p tcp --dport 8080 ! -o eth0 -j MASQUERADE ||
	fail "director masquerade"
n "$nat" $IPTABLES -t raw -A OUTPUT -s 198.18.0.0/15 -j NOTRACK
for rs in rs1 rs2; do
	wait_for 10 listening "${!rs}" 8080 && wait_for 10 listening "${!rs}" 8081 ||
		fail "benchmark servers did not start"
done

bench kernel "$(uname -r)"
bench ipvs "drop_check=$(ipvs_trait drop_check) drained_reuse0=$(ipvs_trait drained_reuse0)"

# config NAME: the director as that configuration has it.
config() {
	local reuse=1 ct=1

	case $1 in
	stock | module) ;;
	reuse0) reuse=0 ;;
	noct) ct=0 ;;
	*) fail "config $1" ;;
	esac
	module_state "$([[ $1 == module ]] && echo yes || echo no)"
	sysctl_w "$dir" net.ipv4.vs.conn_reuse_mode $reuse
	sysctl_w "$dir" net.ipv4.vs.conntrack $ct
}
weight() {	# weight RS W: rs's weight in the reuse service
	n "$dir" ipvsadm -e -t "$VIP:8080" -r "${RS_IP[$1]}:8080" -m -w "$2" ||
		fail "weight $1 $2"
}
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# ---- reuse latency and the drained server ----------------------------------
# reuse_phase CONFIG POOLBASE FRESHBASE
reuse_phase() {
	local c=$1 out rc r0=0 p0=0 r1 p1 nreuse pid t0 td tu

	config "$c"
	weight rs1 1
	[[ $c == module ]] && r0=$(twr_counter "$dir" resched) p0=$(twr_counter "$dir" resched_no_drop)
	n "$cl" twload reuse $VIP 8080 "$(client_ip 0)" "$RATE" "$REUSE_SECS" \
		"$2" $POOL "$3" "$TMP/reuse-$c" >"$TMP/reuse-$c.out" 2>"$TMP/reuse-$c.err" &
	pid=$!
	t0=$(now_ms)
	# The drain is an event of the load's schedule, at fixed times.
	sleep "$(awk -v s="$REUSE_SECS" 'BEGIN { print s * 0.3 }')"
	weight rs1 0
	td=$(now_ms)
	sleep "$(awk -v s="$REUSE_SECS" -v t0="$t0" -v td="$td" 'BEGIN { d = s * 0.7 - (td - t0) / 1000; print (d > 0 ? d : 0) }')"
	tu=$(now_ms)
	weight rs1 1
	wait "$pid"
	rc=$?
	out=$(cat "$TMP/reuse-$c.out")
	# 3: some connections failed; that is a result, reported below.
	((rc == 0 || rc == 3)) || fail "reuse load ($c): exit $rc: $out $(head -n 3 "$TMP/reuse-$c.err")"
	while read -r line; do
		bench "reuse cfg=$c $line"
	done <<<"$out"
	# Connections established while rs1 was drained (by when the connect
	# completed: a SYN dropped just before the drain ends is scheduled
	# by its retransmit, after it): how many rs1 served.
	bench "reuse cfg=$c $(awk -v td="$td" -v tu="$tu" '$3 + $2 >= td && $3 + $2 < tu {
			n++; if ($4 == "rs1") { d++; if ($1 == "reuse") dr++ } }
		END { printf "drained_ms=%d window_conns=%d to_drained=%d to_drained_reused=%d", tu - td, n, d, dr }' \
		"$TMP/reuse-$c")"
	# Connections the director's SNAT applied to, of those a server
	# answered.
	bench "reuse cfg=$c $(awk -v nat="$SNAT_IP" '$5 != "-" { n++; if ($5 != nat) d++ }
		END { printf "director_snat=%d conns=%d", d, n }' "$TMP/reuse-$c")"
	# The module acts on every reuse: twload does not count a pool
	# port's first use, every later use met an entry.
	if [[ $c == module ]]; then
		r1=$(twr_counter "$dir" resched) p1=$(twr_counter "$dir" resched_no_drop)
		nreuse=$(sed -nE 's/^class=reuse n=([0-9]+).*/\1/p' <<<"$out")
		bench "reuse cfg=module resched=$((r1 - r0)) resched_no_drop=$((p1 - p0)) reused=$nreuse"
		((r1 - r0 + p1 - p0 == nreuse)) ||
			fail "module rescheduled $((r1 - r0 + p1 - p0)) connections, $nreuse were reuses"
	fi
	awk -v c="$c" '{ print "DATA", c, $1, $2 }' "$TMP/reuse-$c"
}

if has_part reuse; then
	base=10000
	for c in $CONFIGS; do
		reuse_phase "$c" $base $((base + 20000))
		base=$((base + 1000))
	done
fi

# ---- cost: connection rate and bulk -----------------------------------------
# The connection-rate client runs on the SNAT box itself, from addresses
# of its own that are not translated (10.0.2.100 and up, one per
# interval, ports 10000-60000): no tuple repeats within a run, and no
# port clashes with the other parts' sockets.
RATE_ADDR=100
for ((i = 100; i < 250; i++)); do
	n "$nat" ip addr add 10.0.2.$i/32 dev eth1 || fail "rate address"
done
n "$nat" $IPTABLES -t nat -I POSTROUTING -s 10.0.2.0/24 -j RETURN || fail "no-NAT rule"
syn_once() {
	local addr=10.0.2.$RATE_ADDR

	RATE_ADDR=$((RATE_ADDR + 1))
	((RATE_ADDR <= 250)) || { echo "out of rate addresses"; return 1; }
	n "$nat" twload rate $VIP 8080 $addr $CONC "$INTERVAL" 10000
}
bulk_once() { n "$cl" twload bulk $VIP 8081 "$INTERVAL"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# rounds NAME FUNC ORDER...: ROUNDS x the configurations in ORDER (a
# palindrome: stock first and last), one interval of FUNC each; FUNC
# prints "key=value ..." with the measure as rate= or mbps=. For every
# configuration but stock, each round's ratio to stock (the mean of its
# intervals over stock's; TCG's interval-to-interval noise is +-15 %, a
# round's intervals share the same conditions) and their median. LAST
# gets each configuration's mean. FUNC runs in this shell.
declare -A LAST=()
rounds() {
	local name=$1 fn=$2 r c v out ratios
	shift 2
	local order=("$@")
	declare -A sum=() tot=() cnt=() rat=()

	# One interval not counted: the first one after a change runs cold.
	config stock
	$fn >"$TMP/interval.out" || fail "$name (warm-up): $(cat "$TMP/interval.out")"
	for ((r = 0; r < ROUNDS; r++)); do
		sum=() cnt=()
		for c in "${order[@]}"; do
			config "$c"
			$fn >"$TMP/interval.out" || fail "$name ($c): $(cat "$TMP/interval.out")"
			out=$(cat "$TMP/interval.out")
			v=$(grep -oE '(rate|mbps)=[0-9.]+' <<<"$out" | cut -d= -f2)
			bench "${name}_interval cfg=$c $out"
			sum[$c]=$(awk -v a="${sum[$c]:-0}" -v b="$v" 'BEGIN { print a + b }')
			cnt[$c]=$((${cnt[$c]:-0} + 1))
			tot[$c]=$(awk -v a="${tot[$c]:-0}" -v b="$v" 'BEGIN { print a + b }')
		done
		for c in "${!sum[@]}"; do
			[[ $c == stock ]] && continue
			rat[$c]+="$(awk -v a="${sum[$c]}" -v na="${cnt[$c]}" -v b="${sum[stock]}" -v nb="${cnt[stock]}" \
				'BEGIN { printf "%.4f", (a / na) / (b / nb) }') "
		done
	done
	for c in "${!tot[@]}"; do
		LAST[$c]=$(awk -v s="${tot[$c]}" -v n=$((${cnt[$c]} * ROUNDS)) 'BEGIN { printf "%.2f", s / n }')
	done
	for c in "${!rat[@]}"; do
		ratios=${rat[$c]% }
		bench "${name}_rounds cfg=$c ratios $ratios"
		bench "$name cfg=$c stock ${LAST[stock]} this ${LAST[$c]} ratio $(tr ' ' '\n' <<<"$ratios" | median)"
	done
}

has_part syn && rounds syn syn_once stock reuse0 noct module module noct reuse0 stock
has_part bulk && rounds bulk bulk_once stock module module stock

# ---- scale -----------------------------------------------------------------
entries() {	# IPVS entries of the flood service (InActConn of its servers)
	n "$dir" ipvsadm -Ln -t "$VIP:8080" | awk '$1 == "->" && $2 != "RemoteAddress:Port" { s += $6 } END { print s + 0 }'
}
# fill N: flood until the table holds at least N entries.
FLOODED=0
fill() {
	local want=$1 out t0

	config module
	# Entries made now stay an hour: longer than the benchmark.
	sysctl_w "$dir" net.ipv4.vs.tw_resched.timeout_time_wait 3600
	t0=$SECONDS
	out=$(n "$nat" twload flood 198.18.0.1 $VIP 8080 $((want - FLOODED)) 2>&1) ||
		fail "flood: $out"
	bench "flood count=$((want - FLOODED)) $out seconds=$((SECONDS - t0))"
	FLOODED=$want
	wait_for 60 entries_at_least $((want * 99 / 100)) ||
		fail "IPVS holds $(entries) entries after the flood, want $want"
	bench "entries $(entries)"
}
entries_at_least() { (($(entries) >= $1)); }

if has_part scale; then
	# With the module unloaded the entries keep their hour: IPVS's own
	# TIME_WAIT timeout applies only to entries made while it is stock.
	fill 1000
	rounds scale_1k syn_once stock module module stock
	small=${LAST[module]}
	fill "$BIG"
	rounds scale_1m syn_once stock module module stock
	big=${LAST[module]}
	bench "scale module 1k $small 1m $big ratio $(awk -v a="$small" -v b="$big" \
		'BEGIN { printf "%.3f", a / b }')"
fi

config stock
dmesg_check
echo "PASS"
exit $ksft_pass
