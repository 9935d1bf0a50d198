#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A peer's kernel, not IPVS: does a plain TCP listener reset a client's
# first request now and then? No director, no module, no conntrack rule:
# ab and nginx across one veth.
#
#   client                      server
#  +-------------------+      +-----------------------------+
#  | cl 10.0.9.2       |-eth0-| srv 10.0.9.1                |
#  | ab -r -c C -n N   |      | nginx :80 (plain listen)    |
#  |                   |      |       :81 (listen deferred) |
#  +-------------------+      +-----------------------------+
#
# The client's final handshake ACK and its request leave back to back;
# with two CPUs the server can take them on different CPUs at once. The
# ACK turns the request socket into an established one, and until Linux
# fixed it (1532ed0d0753, "inet: Avoid ehash lookup race in
# inet_ehash_insert()", 2025; Linux 5.4 has the race) that swap was a
# delete and then an insert: a lookup of the request in between finds
# neither, reaches the listener, and the listener answers with a reset.
# The client's connection is reset; the server keeps an established
# socket that never gets the request. That is what haproxy_ab.sh's dump
# showed once on 5.4.49, without the module, between the client and
# HAProxy (issue #23): this program looks for it without IPVS.
#
# The deferred port is the control: with TCP_DEFER_ACCEPT the bare ACK is
# dropped and only the request makes the socket, so the two cannot race.
# Each port gets N requests from C concurrent clients; per port this
# prints the requests ab saw fail, the server's resets (TcpOutRsts; in a
# capture, those that answered a segment of the handshake: sequence = the
# server's SYN-ACK + 1; those that answered the client's last segments
# after the server's socket had closed: sequence = after its FIN) and its
# established sockets left with no request. The race's two marks: a
# request answered by the listener fails and leaves the server's socket
# without it; a bare ACK answered by the listener leaves a reset that
# reaches the client after the reply, which drops it (RFC 5961), and
# fails nothing.
#
# Asserts: every reset is of one of those two kinds; none answered a
# handshake on the deferred port and nothing failed there; on the plain
# port every failure left its socket behind (so no other cause hides in
# them). The counts are the measurement ("RESULT" line): run it many
# times in one VM with scripts/vm-loop.sh, under multi-threaded TCG
# (VM_ACCEL=tcg,thread=multi, the two CPUs really run at once). Measured
# so, on a host overloaded by two busy loops: 5.4.49, 0 handshake resets
# in 112,000 connections; 7.1.5 (which has the fix), 0, and 15 resets
# after the close, which failed nothing, in 96,000.
#
# usage: listener_race.sh [-n N] [-c C]   (default 4000 requests, 16 at a
#        time; a quarter with KSFT_MACHINE_SLOW=yes)

source "$(dirname "$0")/lib.sh"

N=$((TWR_SLOW ? 1000 : 4000)) C=16
while getopts "n:c:" o; do
	case $o in
	n) N=$OPTARG ;;
	c) C=$OPTARG ;;
	*) fail "bad option" ;;
	esac
done
require_root
require_cmd ip nginx ab nstat ss tcpdump

case_tmp
new_ns cl
new_ns srv
veth "$cl" eth0 "$srv" eth0
ip -n "$cl" addr add 10.0.9.2/24 dev eth0
ip -n "$srv" addr add 10.0.9.1/24 dev eth0
cat >"$TMP/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
user root;
pid $TMP/nginx.pid;
error_log $TMP/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_timeout 0;
	client_header_timeout 600s;
	client_body_temp_path $TMP;
	proxy_temp_path $TMP;
	fastcgi_temp_path $TMP;
	uwsgi_temp_path $TMP;
	scgi_temp_path $TMP;
	server {
		listen 80 backlog=1024;
		listen 81 backlog=1024 deferred;
		location / { return 200 "srv\n"; }
	}
}
EOF
n "$srv" nginx -e "$TMP/error.log" -p "$TMP" -c "$TMP/nginx.conf" &
disown
wait_for 10 listening "$srv" 80 && wait_for 10 listening "$srv" 81 ||
	fail "nginx did not start: $(cat "$TMP/error.log")"

rsts() { n "$srv" nstat -asz TcpOutRsts | awk '$1 == "TcpOutRsts" { print $2 }'; }
# established sockets on PORT whose request never came (nothing read,
# nothing sent: nginx waits for a request header for 600 s)
left() {
	n "$srv" ss -Htn state established "sport = :$1" |
		awk '$1 == 0 && $2 == 0' | wc -l
}
# The server's SYN-ACKs, FINs and resets. A reset from the listener that
# answered a segment of the new connection (its handshake ACK or the
# request) carries that segment's acknowledgment: the server's initial
# sequence number + 1 (HANDSHAKE). One that answered the client's last
# segments after the server's socket had closed carries the sequence
# after the server's FIN (CLOSING). Prints "HANDSHAKE CLOSING OTHER";
# the OTHER ones' lines, each after its flow's SYN-ACK, go to OUT.
resets_of() {	# resets_of CAPTURE OUT
	awk -v out="$2" '
	function seq(   a, b) { split($0, a, "seq "); split(a[2], b, ","); return b[1] }
	{ k = $3 " " $5 }
	/Flags \[S\.\]/ { isn[k] = seq(); sa[k] = $0; next }
	/Flags \[F/ { n = split(seq(), r, ":"); fin[k] = (r[n] + 1) % 4294967296; next }
	/Flags \[R/ { q = seq()
		if (k in isn && q == (isn[k] + 1) % 4294967296) h++
		else if (k in fin && q == fin[k]) c++
		else { o++; print sa[k] > out; print $0 > out } }
	END { print h + 0, c + 0, o + 0 }' "$1"
}

ktap_header 2
bad=0
for port in 80 81; do
	name=plain
	[[ $port == 81 ]] && name=deferred
	# (ip netns exec execs tcpdump: $! is tcpdump)
	ip netns exec "$srv" tcpdump -i eth0 -nn -S -l --immediate-mode \
		"src host 10.0.9.1 and src port $port and tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0" \
		>"$TMP/cap.$port" 2>"$TMP/cap.$port.err" &
	cap=$!
	capturing() { grep -q 'listening on' "$TMP/cap.$port.err"; }
	wait_for 10 capturing || fail "tcpdump did not start: $(cat "$TMP/cap.$port.err")"
	r0=$(rsts)
	n "$cl" ab -q -r -s 30 -n "$N" -c "$C" "http://10.0.9.1:$port/" >"$TMP/ab.$port" 2>&1 ||
		fail "ab on :$port: $(tail -n 3 "$TMP/ab.$port")"
	f=$(awk '/^Failed requests/ { print $3 }' "$TMP/ab.$port")
	r=$(($(rsts) - r0))
	l=$(left "$port")
	# every reset counted is in the capture before it stops
	captured() { (($(grep -c 'Flags \[R' "$TMP/cap.$port") >= r)); }
	wait_for 10 captured || fail "$name: $r resets counted, fewer captured"
	kill "$cap"
	wait "$cap"
	read -r h c o < <(resets_of "$TMP/cap.$port" "$TMP/other.$port")
	log "$name (:$port): $N requests, $f failed; server resets $r ($h answering a handshake, $c after its close, $o other), sockets left without a request $l"
	printf -v "F_$name" '%s' "$f"
	printf -v "H_$name" '%s' "$h"
	printf -v "C_$name" '%s' "$c"
	if ((o > 0 || h + c + o != r)); then
		ktap_result fail "$name" "$o resets of another kind, or missing from the capture"
		bad=1
	elif [[ $name == deferred ]]; then
		if ((f == 0 && h == 0)); then
			ktap_result ok "$name"
		else
			ktap_result fail "$name" "TCP_DEFER_ACCEPT did not hold: $f failed, $h handshake resets"
			bad=1
		fi
	# A failed request is the request answered by the listener: the
	# server keeps its socket, without the request. A handshake reset
	# that failed nothing answered the bare ACK and reached the client
	# after the reply, which drops it (not at its rcv_nxt: RFC 5961).
	elif ((f == l && f <= h)); then
		ktap_result ok "$name"
	else
		ktap_result fail "$name" "$f failed, $l sockets left, $h handshake resets: another cause"
		bad=1
	fi
done
echo "RESULT plain: handshake_resets=$H_plain failed=$F_plain closing_resets=$C_plain of $N;" \
	"deferred: handshake_resets=$H_deferred failed=$F_deferred closing_resets=$C_deferred of $N"
if ((bad)); then
	log "$(grep -h 'apr_\|Failed\|Exceptions' "$TMP"/ab.* | sort | uniq -c | head)"
	log "resets of another kind, each after its flow's SYN-ACK:"
	cat "$TMP"/other.* 2>/dev/null | head -n 40 | sed 's/^/#   /'
fi
ktap_finish
