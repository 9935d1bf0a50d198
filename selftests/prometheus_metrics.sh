#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Prometheus textfile script (examples/prometheus/ip_vs_tw_resched-metrics)
# as an operator runs it: it writes the module's counters of every network
# namespace, Debian's node_exporter serves them, and curl scrapes them.
#
#   initial namespace (the VM)          mon                     un (no name)
#   +-------------------------+    +----------------------+    +-------------+
#   | the script -> TMP/*.prom|--->| prometheus-node-     |    | unshare -n  |
#   |                         |    |  exporter, textfile  |    | sleep       |
#   | curl <------------------|----|  collector only,     |    | resched_mode|
#   +-------------------------+    |  127.0.0.1:9100      |    | = 0: active0|
#                                  +----------------------+    +-------------+
#   cl ---- nat ------------------ dir --------------------------- rs1, rs2
#           SNAT; conn_reuse_mode  IPVS VIP:80, conntrack; one     twtool
#           =0 here: active 0      reuse after a server's RST:     servers
#                                  resched 1, ct_removed 1
#   (the reuse topology of snat_port_reuse.sh)
#
# Namespaces of every kind the script must find: the initial one, named
# ones without a process (cl, nat, dir: nsenter), named ones with
# processes (rs1, rs2, mon), one without a name (un, as docker and CNI
# plugins make them).
#
# Subtests: the script writes its file atomically (renamed into place,
# readable by node_exporter's user, no temporary file left); the file is
# strict text exposition format (HELP and TYPE before each family's
# samples, counters named *_total, integer values, no duplicate series);
# promtool check metrics finds nothing; node_exporter serves it
# (node_textfile_scrape_error 0) and the scrape holds, for every namespace
# above, every counter line of its /proc/net/ip_vs_tw_resched with that
# value and the namespace's labels, its active state, and the ipvs_* lines
# and namespace count of the initial namespace; the same checker rejects
# the scrape with one counter missing, one value wrong, one TYPE line or
# one label changed; -s keeps only namespaces with an IPVS service or a
# count; with the module unloaded the file says ip_vs_tw_resched_loaded 0
# and nothing else.

source "$(dirname "$0")/lib.sh"

CLOSE=rst
P=ip_vs_tw_resched_
SCRIPT=$DIR/ip_vs_tw_resched-metrics
[[ -r $SCRIPT ]] || SCRIPT=$DIR/../examples/prometheus/ip_vs_tw_resched-metrics

require_root
require_cmd ip ipvsadm conntrack twtool modprobe nsenter unshare stat curl \
	prometheus-node-exporter "$IPTABLES"
[[ -r $SCRIPT ]] || skip "ip_vs_tw_resched-metrics not found beside the tests or in examples/"

TMP=$(mktemp -d)
TF=$TMP/textfile	# node_exporter's textfile directory
PROM=$TF/ip_vs_tw_resched.prom
UNPID= NEPID=
cleanup() {
	[[ -n $NEPID ]] && kill "$NEPID" 2>/dev/null
	[[ -n $UNPID ]] && kill "$UNPID" 2>/dev/null
	cleanup_ns
	rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$TF"

ipvs_traits
dmesg_mark
module_state yes
ktap_header 7

# ---- namespaces, one reuse ----------------------------------------------------
topology
sysctl_w "$nat" net.ipv4.vs.conn_reuse_mode 0
long_close "$dir" yes
new_ns mon
unshare --net sleep 3600 &
UNPID=$!
INIT_INO=$(stat -L -c %i /proc/self/ns/net)
un_apart() { [[ $(stat -L -c %i /proc/$UNPID/ns/net 2>/dev/null) =~ ^[0-9]+$ &&
	$(stat -L -c %i /proc/$UNPID/ns/net) != "$INIT_INO" ]]; }
wait_for 10 un_apart || fail "unshare --net did not make a namespace"
echo 0 | nsenter -t "$UNPID" -n tee /proc/sys/net/ipv4/vs/tw_resched/resched_mode >/dev/null ||
	fail "resched_mode=0 in the unnamed namespace"

connect_once first
wait_for 15 entry_in CLOSE || fail "IPVS entry not in CLOSE: '$(ipvs_state)'"
wait_for 15 snat_idle || fail "SNAT box still holds a flow"
connect_once reuse
((${MS%.*} < SLOW_MS)) || fail "the reuse took $MS ms with the module"
[[ $(twr_counter "$dir" resched) == 1 ]] ||
	fail "the reuse did not move the director's counters: $(n "$dir" cat /proc/net/ip_vs_tw_resched)"
log "director after one reuse (server RST, $MS ms): $(n "$dir" cat /proc/net/ip_vs_tw_resched | tr '\n' ' ')"

ip netns exec "$mon" prometheus-node-exporter --web.listen-address=127.0.0.1:9100 \
	--collector.disable-defaults --collector.textfile \
	--collector.textfile.directory="$TF" >"$TMP/node_exporter.log" 2>&1 &
NEPID=$!
wait_for 30 listening "$mon" 9100 ||
	fail "node_exporter did not listen: $(tail -n 5 "$TMP/node_exporter.log")"
scrape() { n "$mon" curl -sf --max-time 20 http://127.0.0.1:9100/metrics >"$1"; }

# ---- what each namespace says itself: the expected samples -------------------
# NAME INODE NETNS_NAME PROCESS, the way in for nsenter
declare -A INO=() NAME=() PROC=() WAY=()
first_proc() {	# first_proc PID...: the command of the lowest PID
	local p

	p=$(printf '%s\n' "$@" | sort -n | head -n 1)
	[[ -n $p ]] && cat "/proc/$p/comm"
}
add_ns() {	# add_ns KEY NSENTER-ARGS NETNS_NAME PIDS...
	local key=$1 way=$2 nm=$3

	shift 3
	WAY[$key]=$way
	INO[$key]=$(nsenter $way stat -L -c %i /proc/self/ns/net) || fail "inode of $key"
	NAME[$key]=$nm
	PROC[$key]=$(first_proc "$@")
}
add_ns init "-t 1 -n" init 1
for k in cl nat dir rs1 rs2 mon; do
	add_ns $k "--net=/run/netns/${!k}" "${!k}" $(ip netns pids "${!k}")
done
add_ns un "-t $UNPID -n" "" "$UNPID"
[[ ${INO[init]} == "$INIT_INO" ]] || fail "this test must run in the initial namespace (PID 1's)"
for k in "${!INO[@]}"; do
	log "namespace $k: inode ${INO[$k]}, name '${NAME[$k]}', first process '${PROC[$k]}'"
done

# expected: the samples the scrape must hold, in exposition format, from
# each namespace's own /proc/net/ip_vs_tw_resched read just now; KEYS:
# the namespaces to expect.
expected() {
	local key k v lab info=

	echo "${P}loaded 1"
	# Host-wide, from the initial namespace.
	while read -r k v; do
		case $k in
		ipvs_*) info+=",${k#ipvs_}=\"$v\"" ;;
		namespaces) echo "${P}namespaces $v" ;;
		esac
	done </proc/net/ip_vs_tw_resched
	[[ -n $info ]] && echo "${P}ipvs_info{${info#,}} 1"
	for key in "$@"; do
		lab="netns=\"${INO[$key]}\",netns_name=\"${NAME[$key]}\",process=\"${PROC[$key]}\""
		while read -r k v; do
			case $k in
			active) echo "${P}active{$lab} $v" ;;
			ipvs_* | namespaces) ;;
			*) [[ $v =~ ^[0-9]+$ ]] && echo "${P}${k}_total{$lab} $v" ;;
			esac
		done < <(nsenter ${WAY[$key]} cat /proc/net/ip_vs_tw_resched)
	done
}

# series FILE: the ip_vs_tw_resched samples of FILE, one per line, as
# "name{sorted labels} value" (node_exporter sorts labels and may write a
# value as 1e+06), and "#HELP name" / "#TYPE name type" lines.
series() {
	awk -v p="$P" '
	$1 == "#" && ($2 == "HELP" || $2 == "TYPE") && index($3, p) == 1 {
		print "#" $2, $3, ($2 == "TYPE" ? $4 : "")
		next
	}
	index($0, p) == 1 {
		name = $0; sub(/[{ ].*/, "", name)
		rest = substr($0, length(name) + 1)
		n = 0
		if (substr(rest, 1, 1) == "{") {
			# k="v" pairs; a value may hold escaped quotes
			rest = substr(rest, 2)
			while (match(rest, /^[a-zA-Z_][a-zA-Z0-9_]*="/)) {
				k = substr(rest, 1, RLENGTH - 2)
				rest = substr(rest, RLENGTH + 1)
				v = ""
				while (rest != "" && substr(rest, 1, 1) != "\"") {
					c = substr(rest, 1, 1)
					if (c == "\\") { v = v substr(rest, 1, 2); rest = substr(rest, 3) }
					else { v = v c; rest = substr(rest, 2) }
				}
				rest = substr(rest, 2)
				if (substr(rest, 1, 1) == ",")
					rest = substr(rest, 2)
				lab[++n] = k "=\"" v "\""
			}
			if (substr(rest, 1, 1) != "}") {
				print "#BAD " $0
				next
			}
			rest = substr(rest, 2)
		}
		for (i = 2; i <= n; i++)	# sort the labels
			for (j = i; j > 1 && lab[j - 1] > lab[j]; j--) {
				t = lab[j]; lab[j] = lab[j - 1]; lab[j - 1] = t
			}
		s = ""
		for (i = 1; i <= n; i++)
			s = s (i > 1 ? "," : "") lab[i]
		sub(/^ +/, "", rest)
		print name "{" s "}", rest + 0
	}' "$1"
}

# verify EXPECTED SCRAPE NETNS...: every expected sample once, with its
# value; nothing else for those namespaces (netns label) nor in the
# families without one; HELP and TYPE (counter for *_total, else gauge)
# for every family. Logs each difference; 1 if any.
verify() {
	series "$1" >"$TMP/want"
	series "$2" >"$TMP/got"
	awk -v nets=" ${*:3} " '
	function netns(s) { return match(s, /netns="[0-9]+"/) ? substr(s, RSTART + 7, RLENGTH - 8) : "" }
	function fam(s) { sub(/\{.*/, "", s); return s }
	FNR == NR {
		if ($1 !~ /^#/) { want[$1] = $2; wfam[fam($1)] }
		next
	}
	$1 == "#BAD" { print "# unparsable: " $0; bad++; next }
	$1 == "#HELP" { help[$2]++; next }
	$1 == "#TYPE" { type[$2] = $3; ntype[$2]++; next }
	{
		seen[$1]++
		if ($1 in want) {
			if ($2 + 0 != want[$1] + 0) { print "# wrong value: " $1 " " $2 ", want " want[$1]; bad++ }
		} else if (netns($1) == "" || index(nets, " " netns($1) " ")) {
			print "# not expected: " $0; bad++
		}
	}
	END {
		for (s in want) {
			if (!(s in seen)) { print "# missing: " s " " want[s]; bad++ }
			else if (seen[s] > 1) { print "# " seen[s] " times: " s; bad++ }
		}
		for (f in wfam) {
			t = f ~ /_total$/ ? "counter" : "gauge"
			if (help[f] != 1) { print "# " (help[f] + 0) " HELP lines for " f; bad++ }
			if (ntype[f] != 1 || type[f] != t) { print "# TYPE of " f ": " (ntype[f] + 0) " lines, \"" type[f] "\", want " t; bad++ }
		}
		exit (bad > 0)
	}' "$TMP/want" "$TMP/got"
}

# ---- the parts -----------------------------------------------------------------
part() {	# part NAME FUNC: one KTAP result; FUNC runs in a subshell
	PART=$1
	if ("$2"); then
		ktap_result ok "$1"
	else
		ktap_result fail "$1"
	fi
}
part_fail() { log "$PART: $*"; exit 1; }
ALL=(init cl nat dir rs1 rs2 mon un)
inodes() { local k; for k in "$@"; do echo "${INO[$k]}"; done; }

script_writes() {
	local left mode

	bash "$SCRIPT" -o "$PROM" || part_fail "the script failed"
	[[ -s $PROM ]] || part_fail "no $PROM"
	mode=$(stat -c %a "$PROM")
	[[ $mode == 644 ]] || part_fail "$PROM has mode $mode: node_exporter's user cannot read it"
	left=$(ls -A "$TF" | grep -vx "${PROM##*/}")
	[[ -z $left ]] || part_fail "left in the textfile directory: $left"
	log "$(grep -c "^${P}" "$PROM") samples, $(grep -c '^# TYPE' "$PROM") families"
}

# The exposition format, strictly, as the script must write it.
exposition_format() {
	# a label: name="value", the value with \\, \" and \n escaped
	L='[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\[\\"n])*"' awk -v p="$P" '
	BEGIN { L = ENVIRON["L"] }
	function err(m) { print "# line " NR ": " m ": " $0; bad++ }
	/^# HELP / {
		if ($3 !~ "^" p "[a-z0-9_]+$") err("bad HELP name")
		if (help[$3]++) err("second HELP")
		if ($3 in done) err("HELP after the family")
		next
	}
	/^# TYPE / {
		if (NF != 4 || ($4 != "counter" && $4 != "gauge")) err("bad TYPE")
		if (type[$3]) err("second TYPE")
		if ($4 == "counter" && $3 !~ /_total$/) err("counter not named *_total")
		if ($3 in done) err("TYPE after the family")
		type[$3] = $4
		next
	}
	/^#/ { err("stray comment"); next }
	{
		if ($0 !~ "^" p "[a-z0-9_]+(\\{" L "(," L ")*\\})? [0-9]+$") {
			err("not a sample")
			next
		}
		f = $0; sub(/[{ ].*/, "", f)
		if (!help[f] || !type[f]) err("sample before HELP and TYPE")
		if (f != cur) {
			if (f in done) err("family split")
			if (cur != "") done[cur]
			cur = f
		}
		s = $0; sub(/ [0-9]+$/, "", s)
		if (series[s]++) err("duplicate series")
	}
	END { exit (bad > 0) }' "$PROM" || part_fail "not the text exposition format"
}

promtool_check() {
	local out

	out=$(promtool check metrics <"$PROM" 2>&1) || part_fail "promtool: $out"
	[[ -z $out ]] || part_fail "promtool: $out"
	log "promtool check metrics: no problem"
}

SCRAPE=$TMP/scrape
scrape_matches() {
	scrape "$SCRAPE" || part_fail "scrape of node_exporter failed"
	grep -qx 'node_textfile_scrape_error 0' "$SCRAPE" ||
		part_fail "node_exporter could not read the file: $(grep -E 'textfile|error' "$SCRAPE" | head -n 5)"
	grep -q "^node_textfile_mtime_seconds{file=\".*${PROM##*/}\"}" "$SCRAPE" ||
		part_fail "node_exporter does not list ${PROM##*/}"
	expected "${ALL[@]}" >"$TMP/expected"
	grep -q "^${P}resched_total{netns=\"${INO[dir]}\".* 1$" "$TMP/expected" ||
		part_fail "the director's own file does not say resched 1"
	grep -q "^${P}active{netns=\"${INO[nat]}\".* 0$" "$TMP/expected" &&
		grep -q "^${P}active{netns=\"${INO[un]}\".* 0$" "$TMP/expected" &&
		grep -q "^${P}active{netns=\"${INO[dir]}\".* 1$" "$TMP/expected" ||
		part_fail "active is not 0 in nat and un and 1 in dir by their own files"
	verify "$TMP/expected" "$SCRAPE" $(inodes "${ALL[@]}") ||
		part_fail "the scrape differs from the namespaces' own counters"
	log "all $(grep -c . "$TMP/expected") expected samples of ${#ALL[@]} namespaces scraped right; the director's:"
	grep "netns=\"${INO[dir]}\"" "$SCRAPE" | sed 's/^/#   /'
}

# The checker itself: each of these scrapes must be refused.
checker_detects() {
	local d="${P}resched_total{netns=\"${INO[dir]}\"" bad=0 m

	for m in "/^${d//\//\\/}/d" \
		"/^${d//\//\\/}/s/ 1\$/ 2/" \
		"/^# TYPE ${P}ct_removed_total /d" \
		"s/netns_name=\"${NAME[dir]}\"/netns_name=\"x\"/"; do
		sed "$m" "$SCRAPE" >"$TMP/mutated"
		[[ $(<"$SCRAPE") != "$(<"$TMP/mutated")" ]] ||
			{ log "sed '$m' changed nothing"; bad=1; continue; }
		if verify "$TMP/expected" "$TMP/mutated" $(inodes "${ALL[@]}") >/dev/null; then
			log "the checker passed a scrape changed by sed '$m'"
			bad=1
		fi
	done
	((bad == 0)) || part_fail "the checker misses changes"
	log "the checker refused a missing counter, a wrong value, a missing TYPE, a wrong label"
}

ipvs_only() {
	local out=$TMP/only.prom

	bash "$SCRIPT" -s -o "$out" || part_fail "the script -s failed"
	grep -q "^${P}resched_total{netns=\"${INO[dir]}\".* 1$" "$out" ||
		part_fail "-s left out the director"
	grep -qE "netns=\"(${INO[cl]}|${INO[un]})\"" "$out" &&
		part_fail "-s kept namespaces without IPVS services or counts"
	expected dir >"$TMP/expected-dir"
	verify "$TMP/expected-dir" "$out" "${INO[dir]}" || part_fail "-s: the director's samples differ"
	log "-s: the director only, of ${#ALL[@]} namespaces of this test"
}

module_unloaded() {
	module_state no
	bash "$SCRIPT" -o "$PROM" || part_fail "the script failed without the module"
	scrape "$SCRAPE" || part_fail "scrape failed"
	[[ $(series "$SCRAPE" | grep -v '^#') == "${P}loaded{} 0" ]] ||
		part_fail "without the module: $(series "$SCRAPE" | grep -v '^#' | head -n 5)"
	log "without the module: ${P}loaded 0 alone"
}

part script_writes script_writes
part exposition_format exposition_format
if command -v promtool >/dev/null; then
	part promtool_check promtool_check
else
	ktap_result skip promtool_check "promtool not found (Debian package prometheus)"
fi
part scrape_matches scrape_matches
part checker_detects checker_detects
part ipvs_only ipvs_only
part module_unloaded module_unloaded
dmesg_check
ktap_finish
