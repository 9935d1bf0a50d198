#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark: what ip_vs_tw_resched costs and what it saves, module vs no
# module measured in one run (scripts/bench.sh boots this in the VM).
#
#   client              snat box             director                real servers
#  +----------+       +-------------+      +---------------------+   +--------------+
#  | cl       |       | nat         |      | dir                 |   | rs1, rs2     |
#  | 10.0.1.2 |-eth0--| MASQUERADE  |-eth1-| VIP 10.0.2.2        |---| twload       |
#  | twload   |       | (ports kept)|      |  :8080 rr -> rs :8080   |  :8080 rst   |
#  +----------+       | twload flood|      |  :8081 rr -> rs :8081   |  :8081 sink  |
#                     | 198.18.x.y  |      | vs.conntrack=1      |   | drop 198.18/15|
#                     +-------------+      +---------------------+   +--------------+
#
# Parts (each prints "BENCH key value" lines; "DATA ..." lines carry the
# raw connect times for the plot):
#   reuse  open loop at RATE/s, half the connections from a pool of
#          source ports reused while IPVS holds their previous connection
#          (CLOSE after the real server's RST), half from fresh ports, as
#          the reference measured at the same moment. No module, then
#          module. Connect-time p50/p99/max and connects >= 900 ms.
#   syn    closed-loop connection rate (each connection reset by the
#          client once established, fresh ports), module off/on in ABBA
#          order to cancel drift.
#   bulk   one TCP stream's throughput, module off/on in ABBA order.
#   scale  the syn part again with 1 k and with 1 M TIME_WAIT entries in
#          IPVS's table (spoofed SYN+FIN pairs from 198.18.0.0/15, entries
#          kept for an hour with the module's timeout_time_wait).
#
# usage: benchmark.sh [-p PARTS]   PARTS: comma list of reuse, syn, bulk,
#        scale (default all). env: BENCH_RATE BENCH_REUSE_SECS
#        BENCH_INTERVAL BENCH_ROUNDS BENCH_ENTRIES
# Exit: 0 if every part ran (the targets are judged by scripts/bench.sh),
# 1 if a part could not run (connection failures, a wrong counter, ...).

source "$(dirname "$0")/lib.sh"

PARTS=reuse,syn,bulk,scale
while getopts "p:" o; do
	case $o in
	p) PARTS=$OPTARG ;;
	*) fail "bad option" ;;
	esac
done

RATE=${BENCH_RATE:-40}		# reuse part: connections/s, half reused
REUSE_SECS=${BENCH_REUSE_SECS:-25}
POOL=150			# 20 reuses/s: each port again after 7.5 s < 10 s CLOSE
INTERVAL=${BENCH_INTERVAL:-4}	# seconds per syn/bulk interval
ROUNDS=${BENCH_ROUNDS:-5}	# ABBA rounds
CONC=16
BIG=${BENCH_ENTRIES:-1000000}

require_root
require_cmd ip ipvsadm twload modprobe "iptables-$IPT"
TMP=$(mktemp -d)
trap 'cleanup_ns; rm -rf "$TMP"' EXIT
dmesg_mark
module_state no
CLOSE=rst
topology

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
	ip netns exec "${!rs}" twload server 8080 rst &
	disown
	ip netns exec "${!rs}" twload server 8081 sink &
	disown
	# The flood's spoofed tuples must leave entries, not connections.
	n "${!rs}" $IPTABLES -t raw -A PREROUTING -s 198.18.0.0/15 -j DROP
done
n "$dir" $IPTABLES -t raw -A PREROUTING -s 198.18.0.0/15 -j NOTRACK
n "$nat" $IPTABLES -t raw -A OUTPUT -s 198.18.0.0/15 -j NOTRACK
wait_for 10 listening "$rs1" 8081 && wait_for 10 listening "$rs2" 8081 ||
	fail "benchmark servers did not start"

FLAVOR=$(modinfo -F legacy_reuse_check ip_vs 2>/dev/null | grep -q . && echo legacy || echo stock)
bench kernel "$(uname -r)"
bench flavor "$FLAVOR"

# ---- reuse latency ---------------------------------------------------------
# reuse_phase MODULE POOLBASE FRESHBASE
reuse_phase() {
	local m=$1 out r0 r1 nreuse

	module_state "$m"
	r0=0
	[[ $m == yes ]] && r0=$(twr_counter "$dir" resched)
	out=$(n "$cl" twload reuse $VIP 8080 "$(client_ip 0)" "$RATE" "$REUSE_SECS" \
		"$2" $POOL "$3" "$TMP/reuse-$m") || fail "reuse load (module=$m): $out"
	while read -r line; do
		bench "reuse_$m $line"
	done <<<"$out"
	# twload does not count a pool port's first use; every later use
	# met an entry, and the counter must match them exactly.
	if [[ $m == yes ]]; then
		r1=$(twr_counter "$dir" resched)
		nreuse=$(sed -nE 's/^class=reuse n=([0-9]+).*/\1/p' <<<"$out")
		bench "reuse_yes resched=$((r1 - r0)) reused=$nreuse"
		((r1 - r0 == nreuse)) ||
			fail "module rescheduled $((r1 - r0)) connections, $nreuse were reuses"
	fi
	sed "s/^/DATA $FLAVOR $m /" "$TMP/reuse-$m"
}

if has_part reuse; then
	reuse_phase no 10000 20000
	reuse_phase yes 11000 30000
fi

# ---- SYN cost and bulk: ABBA -------------------------------------------------
# abba NAME FUNC: ROUNDS x (off, on, on, off) intervals of FUNC, which
# prints "key=value ..." with the measure as rate= or mbps=. Prints each
# interval, the means, and the ratio: the median over the rounds of each
# round's on/off ratio (TCG's interval-to-interval noise is +-15 %; a
# round's four intervals share the same conditions). LAST_ON gets the
# mean with the module. FUNC runs in this shell: its state persists.
abba() {
	local name=$1 fn=$2 r m v out on=0 off=0 ron roff ratios=()

	# One interval not counted: the first one after a change runs cold.
	module_state no
	$fn >"$TMP/interval.out" || fail "$name (warm-up): $(cat "$TMP/interval.out")"
	for ((r = 0; r < ROUNDS; r++)); do
		ron=0 roff=0
		for m in no yes yes no; do
			module_state $m
			$fn >"$TMP/interval.out" || fail "$name (module=$m): $(cat "$TMP/interval.out")"
			out=$(cat "$TMP/interval.out")
			v=$(grep -oE '(rate|mbps)=[0-9.]+' <<<"$out" | cut -d= -f2)
			bench "${name}_interval module=$m $out"
			if [[ $m == yes ]]; then
				ron=$(awk -v a="$ron" -v b="$v" 'BEGIN { print a + b }')
			else
				roff=$(awk -v a="$roff" -v b="$v" 'BEGIN { print a + b }')
			fi
		done
		ratios+=("$(awk -v a="$ron" -v b="$roff" 'BEGIN { printf "%.4f", a / b }')")
		on=$(awk -v a="$on" -v b="$ron" 'BEGIN { print a + b }')
		off=$(awk -v a="$off" -v b="$roff" 'BEGIN { print a + b }')
	done
	on=$(awk -v s="$on" -v n=$((2 * ROUNDS)) 'BEGIN { printf "%.2f", s / n }')
	off=$(awk -v s="$off" -v n=$((2 * ROUNDS)) 'BEGIN { printf "%.2f", s / n }')
	bench "${name}_rounds ratios ${ratios[*]}"
	bench "$name module=no $off module=yes $on ratio $(printf '%s\n' "${ratios[@]}" | sort -g |
		awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.3f", m }')"
	LAST_ON=$on
}

# The connection-rate client runs on the SNAT box itself, from addresses
# of its own that are not translated (10.0.2.100 and up, one per
# interval, ports 10000-60000): no tuple repeats within a run, and no
# port clashes with the other parts' sockets.
RATE_ADDR=100
for ((i = 100; i < 200; i++)); do
	n "$nat" ip addr add 10.0.2.$i/32 dev eth1 || fail "rate address"
done
n "$nat" $IPTABLES -t nat -I POSTROUTING -s 10.0.2.0/24 -j RETURN || fail "no-NAT rule"
syn_once() {
	local addr=10.0.2.$RATE_ADDR

	RATE_ADDR=$((RATE_ADDR + 1))
	((RATE_ADDR <= 200)) || { echo "out of rate addresses"; return 1; }
	n "$nat" twload rate $VIP 8080 $addr $CONC "$INTERVAL" 10000
}
bulk_once() { n "$cl" twload bulk $VIP 8081 "$INTERVAL"; }

has_part syn && abba syn syn_once
has_part bulk && abba bulk bulk_once

# ---- scale -----------------------------------------------------------------
entries() {	# IPVS entries of the flood service (InActConn of its servers)
	n "$dir" ipvsadm -Ln -t "$VIP:8080" | awk '$1 == "->" && $2 != "RemoteAddress:Port" { s += $6 } END { print s + 0 }'
}
# fill N: flood until the table holds at least N entries.
FLOODED=0
fill() {
	local want=$1 out t0

	module_state yes
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
	fill 1000
	abba scale_1k syn_once
	small=$LAST_ON
	fill "$BIG"
	abba scale_1m syn_once
	big=$LAST_ON
	bench "scale module=yes 1k $small 1m $big ratio $(awk -v a="$small" -v b="$big" \
		'BEGIN { printf "%.3f", a / b }')"
fi

module_state no
dmesg_check
echo "PASS"
exit $ksft_pass
