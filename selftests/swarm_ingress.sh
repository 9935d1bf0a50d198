#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Docker swarm's ingress routing mesh, with the real dockerd (Debian's
# docker.io 20.10, containerd, runc): a published port is an IPVS fwmark
# service in the ingress_sbox namespace, by NAT to the tasks, conntrack
# on, an "-m ipvs --ipvs -j SNAT" rule, and libnetwork's own IPVS sysctls
# (conn_reuse_mode=0, expire_nodest_conn=1, expire_quiescent_template=1).
#
#   clients          SNAT box               swarm node: namespace "node" (dockerd, containerd)
#  +----------+    +-------------+    +-----------------------------------------------------------+
#  | cl       |    | nat         |    | node 10.0.2.2          ingress_sbox           tasks        |
#  | 10.0.1.2 |    | 10.0.1.1    |    | nat PREROUTING:        172.17.0.2 (eth1)      web.N:       |
#  |  .. .7   |----|    10.0.2.1 |----|  :80 -> DNAT          mangle: :80 MARK 0x100 twtool :80   |
#  | 6 slots  |    | MASQUERADE  |    |  172.17.0.2:80 ------> IPVS FWM 256 rr, NAT   (RST close),  |
#  |          |    | slot j ->   |    |  (docker_gwbridge)     nat: -m ipvs -j SNAT   names its    |
#  |          |    | 10.0.2.1:   |    |                        to 10.99.0.2 (eth0) -> container:   |
#  |          |    |  40000+j    |    |                        ingress overlay        10.99.0.x    |
#  +----------+    +-------------+    |                        (VXLAN, br0)                        |
#                                     +-----------------------------------------------------------+
#
# The service runs two replicas of a static twtool (an image made here
# with docker import), which answers with its container's ID and closes
# with an RST: IPVS keeps the tuple's entry in CLOSE, conntrack keeps its
# old flow (it reopens a flow for a SYN only after a FIN, or an RST from
# the SYN's side), so each reused source port meets both. twtool is the
# container's PID 1 and ignores docker's SIGTERM: a task takes docker's
# stop grace period (10 s) to stop, as a server that drains its
# connections does, and stays in IPVS with weight 0 meanwhile.
#
# Four runs, one KTAP subtest each: without and with ip_vs_tw_resched,
# conn_reuse_mode 0 (what swarm sets) and 1 in the ingress sandbox. Each
# run has three phases, every phase in rounds where all six clients
# connect at once, each from its own port of the SNAT box, after their
# previous connections have closed (so a round's SYNs reuse the IPVS
# entries and conntracks of the round before):
#   steady   four rounds with the service unchanged
#   scale    "docker service scale web=1", rounds until the removed task's
#            container is gone and IPVS has only the other, then two more
#   update   "docker service update --force --replicas 2" (start-first:
#            new tasks, then the old ones stop), rounds until the old
#            containers are gone and IPVS has the two new tasks, two more
# Each connection is counted as reused (its tuple had an IPVS entry with
# 3 s or more to live, so did its conntrack: both time out 10 s after
# the RST), withdrawn (a reuse whose entry leads to a task docker has
# taken out of the IPVS service: weight 0 while it stops, or removed),
# dropped (the client retransmitted its SYN), slow (>= 900 ms), failed
# (error, or no answer within 8 s: hung) or stale (answered by a task
# docker had taken out).
#
# Asserts (the module's runs show no drop anywhere; under conn_reuse_mode=0
# and with the module, the scale and update must have had withdrawn
# reuses, else the run proved nothing there):
#   without the module, conn_reuse_mode=1: all but at most one steady
#     reuse dropped (IPVS drops the SYN that carries the old conntrack)
#   without the module, conn_reuse_mode=0: no steady connection dropped
#     or slow (IPVS keeps a live task's tuple on it), but at least one
#     dropped, slow, failed or stale during scale and update together:
#     the tuples of a task docker takes out (weight 0) while it stops;
#     once it is removed IPVS forgets its entries (expire_nodest_conn=1)
#   with the module, conn_reuse_mode=1: no slow, failed or stale
#     connection in any phase; the module counted rescheduled SYNs;
#     conn_reuse_mode still 1 after the scale and update
#   with the module, conn_reuse_mode=0: no failed connection, and none
#     slow but the module's probe (its first reuse of a drained task's
#     tuple, which it leaves to IPVS to learn what IPVS does with it)
#     (stale ones are reported: IPVS does not reschedule a drained
#     task's tuple under 0 on kernels before the Nov 2021 fix, and the
#     module does not make it)
# and no kernel warning. Timings of each docker step are logged: under
# QEMU TCG dockerd takes 10 - 60 s to start, the service 1 - 3.5 minutes
# to come up, an update 30 - 110 s; the whole program 7 - 16 minutes,
# with the host's load.
#
# Needs: dockerd, docker, containerd, containerd-shim-runc-v2, runc
# (Debian's docker.io), nsenter, tar, twtool-static; a kernel
# with VXLAN (swarm's ingress network is an overlay network), cgroup v2,
# xt_ipvs. Runs its own dockerd (storage driver vfs on a tmpfs, cgroupfs
# under cgroup v2, DOCKER_RAMDISK: the test VM's root is an initramfs,
# where runc cannot pivot_root), and skips where a dockerd already runs.

source "$(dirname "$0")/lib.sh"

SLOTS=6 CLOSE=rst
REPLICAS=2
HANG=8			# s: a connect not answered by then is hung
SW=/run/twr-swarm	# dockerd's data and exec roots, its socket (a tmpfs)
CGP=twr-swarm		# the tasks' parent cgroup
POOL=10.99.0		# the ingress network's /24 (--default-addr-pool 10.99.0.0/16)
IMAGE=twr-task:1
topology_addrs		# lib.sh: CL_NET, SNAT_IN, SNAT_IP; VIP 10.0.2.2 is the node

require_root
for c in dockerd docker containerd containerd-shim-runc-v2 runc; do
	command -v $c >/dev/null ||
		skip "$c not found (Debian's docker.io; scripts/run-tests.sh adds it to the VM when the test list names swarm_ingress.sh)"
done
require_cmd nsenter tar ip ipvsadm conntrack modprobe "$IPTABLES"
[[ -x $DIR/twtool-static ]] || skip "twtool-static not built (make -C selftests)"
[[ -e /run/docker.sock || -e /var/run/docker.sock ]] &&
	skip "a dockerd already runs here; this test runs its own (in a test VM)"
modprobe vxlan 2>/dev/null ||
	skip "no vxlan in this kernel (CONFIG_VXLAN): swarm's ingress network is a VXLAN overlay"
modprobe xt_ipvs 2>/dev/null || skip "no xt_ipvs (CONFIG_NETFILTER_XT_MATCH_IPVS): swarm's ingress SNAT rule needs it"
# libnetwork writes its IPVS sysctls into a new sandbox only if ip_vs is
# loaded by then (a later write lands in dockerd's own namespace): load
# it first, as on a node where anything loaded it before dockerd.
modprobe ip_vs || fail "modprobe ip_vs"
modprobe ip_vs_rr || fail "modprobe ip_vs_rr"

TMP=$(mktemp -d)
export DOCKER_HOST=unix://$SW/docker.sock DOCKER_CONFIG=$TMP/cli
MODS_BEFORE=" $(awk '{ printf "%s ", $1 }' /proc/modules)"
FWD_BEFORE=$(cat /proc/sys/net/ipv4/ip_forward)
CG_MOUNTED=0 DOCKERD=
SWARM_NS=()

swarm_cleanup() {
	local pid d m i

	set +e
	# The tasks first (their namespaces are not the node's), then
	# dockerd, then whatever is left in the node's namespace
	# (containerd, the shims).
	for d in /sys/fs/cgroup/$CGP/*/; do
		[[ -d $d ]] || continue
		if [[ -e $d/cgroup.kill ]]; then
			echo 1 >"$d/cgroup.kill"
		else
			for pid in $(cat "$d/cgroup.procs"); do kill -9 "$pid"; done
		fi
	done 2>/dev/null
	if [[ -n $DOCKERD ]] && kill -0 "$DOCKERD" 2>/dev/null; then
		kill "$DOCKERD"
		for ((i = 0; i < 200; i++)); do
			kill -0 "$DOCKERD" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$DOCKERD" 2>/dev/null
	fi
	[[ -n ${sbox:-} ]] && ip netns del "$sbox" 2>/dev/null
	NS_LIST=("${SWARM_NS[@]}")
	cleanup_ns
	# dockerd's namespaces (bind mounts), the containers' mounts, the
	# tmpfs under them all.
	mounted $SW && { umount -R $SW || umount -R -l $SW; }
	rm -rf $SW
	for d in /sys/fs/cgroup/$CGP/*/ /sys/fs/cgroup/$CGP; do
		[[ -d $d ]] && rmdir "$d"
	done 2>/dev/null
	((CG_MOUNTED)) && umount /sys/fs/cgroup
	echo "$FWD_BEFORE" >/proc/sys/net/ipv4/ip_forward
	module_state no
	# Modules dockerd loaded that change what later tests see (bridged
	# traffic through iptables).
	for m in br_netfilter; do
		[[ $MODS_BEFORE != *" $m "* && -d /sys/module/$m ]] && rmmod $m
	done
	rm -rf "$TMP"
}
trap swarm_cleanup EXIT
trap 'exit 1' TERM INT	# kselftest's timeout: clean up all the same

ms_now() { echo $((${EPOCHREALTIME/./} / 1000)); }
# mounted PATH: something is mounted there (no mountpoint(1) in the VM).
mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }

# dk ARGS...: the docker CLI, bounded (a stuck dockerd fails the test).
dk() { timeout 180 docker "$@"; }

# nsx NS CMD...: CMD in namespace NS, entered with setns alone (no mount
# namespace as "ip netns exec" makes): the rounds' hot path.
nsx() {
	local ns=$1

	shift
	nsenter --net=/run/netns/"$ns" "$@"
}

# ---------------------------------------------------------------------------
# The clients and the SNAT box (lib.sh's pieces), and the node.
new_nss cl nat node
SWARM_NS=("${NS_LIST[@]}")
bveth "$cl" eth0 "$nat" eth0
bveth "$nat" eth1 "$node" eth0
bclient_snat
baddr "$node" eth0 $VIP
sys "$nat" $FWD 1
sys "$nat" net.netfilter.nf_conntrack_tcp_timeout_time_wait 1
sys "$nat" net.netfilter.nf_conntrack_tcp_timeout_close 1
bat_run root "$cl" "$nat" "$node"
rules="*nat"$'\n'
for ((j = 0; j < SLOTS; j++)); do
	rules+="-A POSTROUTING -o eth1 -p tcp -s $(client_ip $j) -j MASQUERADE --to-ports $(tuple_port $j)"$'\n'
done
n "$nat" "$IPTABLES-restore" --noflush <<<"${rules}COMMIT" || fail "SNAT rules"
sys_run "$nat"

# ---------------------------------------------------------------------------
# dockerd. Its sandboxes (ingress_sbox, the tasks) are new namespaces,
# which take their IPv4 settings from the initial one
# (net.core.devconf_inherit_init_net=0), where a dockerd running there
# has set ip_forward=1; this one runs in a namespace of its own, so the
# initial namespace forwards for the test's run (restored at exit).
echo 1 >/proc/sys/net/ipv4/ip_forward
if ! mounted /sys/fs/cgroup; then
	mount -t cgroup2 none /sys/fs/cgroup || skip "cannot mount cgroup v2"
	CG_MOUNTED=1
fi
mkdir -p $SW "$DOCKER_CONFIG"
mount -t tmpfs twr-swarm $SW || fail "tmpfs on $SW"
t0=$(ms_now)
DOCKER_RAMDISK=true nsenter --net=/run/netns/"$node" dockerd \
	--data-root $SW/data --exec-root $SW/exec -H "$DOCKER_HOST" \
	--pidfile $SW/dockerd.pid --cgroup-parent /$CGP \
	--storage-driver vfs --bridge none --userland-proxy=false \
	--log-level warn >"$TMP/dockerd.log" 2>&1 &
DOCKERD=$!
dockerd_up() { kill -0 $DOCKERD && docker version >/dev/null 2>&1; }
if ! wait_for 180 dockerd_up; then
	tail -n 30 "$TMP/dockerd.log" | sed 's/^/# dockerd: /'
	fail "dockerd did not come up in 180 s"
fi
log "docker: dockerd $(docker version -f '{{.Server.Version}}') up in $((($(ms_now) - t0) / 1000)) s"

t0=$(ms_now)
dk swarm init --advertise-addr $VIP --default-addr-pool $POOL.0/16 >/dev/null ||
	fail "docker swarm init"
log "docker: swarm init in $((($(ms_now) - t0) / 1000)) s"
t0=$(ms_now)
mkdir -p "$TMP/rootfs"
cp "$DIR/twtool-static" "$TMP/rootfs/twtool"
tar -C "$TMP/rootfs" -c . | dk import - $IMAGE >/dev/null || fail "docker import"
log "docker: image imported in $((($(ms_now) - t0) / 1000)) s"

# ---------------------------------------------------------------------------
# What the rounds know: the IPVS service and entries in the ingress
# sandbox, and each task container (hostname = ID) with its ingress
# address.
declare -A CID_IP=() SEEN=() RETIRED=() DEST_W=() ENT_STATE=() ENT_LEFT=() ENT_DEST=()
DESTS=

# tasks_scan: map each running task container to its ingress address;
# TASKS lists the running ones.
tasks_scan() {
	local d cid pid a

	TASKS=
	for d in /sys/fs/cgroup/$CGP/*/; do
		[[ -d $d ]] || continue
		cid=$(basename "$d")
		cid=${cid:0:12}
		read -r pid <"$d/cgroup.procs" 2>/dev/null || continue
		[[ -n $pid ]] || continue
		TASKS+=" $cid"
		[[ -n ${CID_IP[$cid]:-} ]] && continue
		for a in $(nsenter -t "$pid" -n ip -4 -o addr show 2>/dev/null |
			awk '{ sub("/.*", "", $4); print $4 }'); do
			[[ $a == $POOL.* ]] && CID_IP[$cid]=$a
		done
	done
}

# ipvs_scan: the service's destinations (DEST_W: address -> weight) and
# our tuples' entries (ENT_STATE: slot -> states, ENT_LEFT: slot -> the
# least time one of them has left, s; ENT_DEST: slot -> the task address
# of the newest), with one look; a task
# that was in the service and is no longer (weight 0, removed) is
# RETIRED for good.
ipvs_scan() {
	local out line cid a s conns=0
	local -A most=()

	out=$(nsx "$sbox" sh -c 'ipvsadm -Ln; echo --; ipvsadm -Lnc') || return 1
	DEST_W=() ENT_STATE=() ENT_LEFT=() ENT_DEST=() DESTS=
	while read -r line; do
		[[ $line == -- ]] && { conns=1; continue; }
		set -- $line
		if ((!conns)) && [[ $1 == "->" && $2 == $POOL.* ]]; then
			DEST_W[${2%:*}]=$4
			DESTS+=" ${2%:*}/$4"
		elif ((conns)) && [[ $1 == TCP && $4 == $SNAT_IP:* ]]; then
			s=$((${4##*:} - SNAT_PORT))
			ENT_STATE[$s]+=${ENT_STATE[$s]:++}$3
			a=$((10#${2%:*} * 60 + 10#${2#*:}))
			[[ -z ${ENT_LEFT[$s]:-} ]] || ((a < ENT_LEFT[$s])) && ENT_LEFT[$s]=$a
			if [[ -z ${most[$s]:-} ]] || ((a > most[$s])); then
				most[$s]=$a
				ENT_DEST[$s]=${6%:*}
			fi
		fi
	done <<<"$out"
	for cid in $TASKS; do
		a=${CID_IP[$cid]:-}
		[[ -n $a ]] || continue
		if [[ -n ${DEST_W[$a]:-} && ${DEST_W[$a]} != 0 ]]; then
			SEEN[$cid]=1
		elif [[ -n ${SEEN[$cid]:-} ]]; then
			RETIRED[$cid]=1
		fi
	done
	# A task that is gone while retired stays so; one gone before we saw
	# it retire (between two looks) is retired too.
	for cid in "${!SEEN[@]}"; do
		[[ " $TASKS " == *" $cid "* ]] || RETIRED[$cid]=1
	done
	return 0
}

# closed: every slot's entries have closed (or expired), the SNAT box
# holds no flow: the next connection of each slot reuses cleanly.
closed() {
	local j

	tasks_scan
	ipvs_scan || return 1
	for ((j = 0; j < SLOTS; j++)); do
		[[ -z ${ENT_STATE[$j]:-} || ${ENT_STATE[$j]} =~ ^(CLOSE|TIME_WAIT)(\+(CLOSE|TIME_WAIT))*$ ]] ||
			return 1
	done
	# lib.sh's snat_idle, entered the cheap way: the SNAT box forgets a
	# closed flow at once.
	[[ -z $(nsx "$nat" conntrack -L -p tcp --dport 80 2>/dev/null) ]] && return 0
	nsx "$nat" sh -c 'conntrack -D -p tcp --dport 80 --state TIME_WAIT;
		conntrack -D -p tcp --dport 80 --state CLOSE' >/dev/null 2>&1
	[[ -z $(nsx "$nat" conntrack -L -p tcp --dport 80 2>/dev/null) ]]
}
no_entries() {
	local j

	tasks_scan
	ipvs_scan || return 1
	for ((j = 0; j < SLOTS; j++)); do
		[[ -z ${ENT_STATE[$j]:-} ]] || return 1
	done
}

# Counts of the current phase.
declare -A CNT=()
count() { CNT[$1]=$((${CNT[$1]:-0} + 1)); }

# round PHASE: one connection per slot, all at once, judged against the
# state seen just before.
ROUND=0
round() {
	local phase=$1 j rc line ms srv rt msg= was_retired cmd=
	local -a reuse=()

	wait_for 15 closed || log "round $phase: entries still open: ${ENT_STATE[*]}"
	for ((j = 0; j < SLOTS; j++)); do
		reuse[j]=
		[[ -n ${ENT_STATE[$j]:-} ]] || continue
		if ((ENT_LEFT[$j] >= 3)); then
			reuse[j]=1
			# The entry leads to a task docker has taken out.
			[[ ${DEST_W[${ENT_DEST[$j]}]:-0} == 0 ]] && reuse[j]=w
		else
			count "${phase}_late"	# may time out before the SYN
		fi
	done
	was_retired=" ${!RETIRED[*]} "
	# All slots from one shell in the client's namespace: under a loaded
	# TCG host every "ip netns exec" costs, and a round must come within
	# the entries' 10 s.
	for ((j = 0; j < SLOTS; j++)); do
		cmd+="(timeout $HANG twtool connect $VIP 80 rst -b $(client_ip $j):0 >$TMP/c$j 2>&1; echo \$? >$TMP/rc$j) & "
	done
	rm -f "$TMP"/rc*
	nsx "$cl" bash -c "${cmd}wait"
	# Docker's withdrawal (weight 0) can land between the look before
	# the round and its SYNs: then every tuple of the task leaves it in
	# this round and none is left for the next round to meet (the quick
	# start's run, 6.1 and 6.12 side by side: the module's run under 0
	# missed it so in both phases). Under conn_reuse_mode=0 IPVS keeps a
	# live task's tuple on it, so a reuse that left its task, or was
	# dropped, while the look after the round shows that task out met
	# the withdrawal. Under conn_reuse_mode=1 with the module every reuse
	# is scheduled afresh by rr, which gives each task of nonzero weight
	# some of a round's connections: a task the look after the round shows
	# out, and that got none of them, was out when they were scheduled,
	# and a reuse whose entry led to it met the withdrawal (the quick
	# start's run on 6.1: in both phases docker's weight 0 landed inside
	# the round, and none was counted).
	local -a pre=()
	local -A got=()
	local dests=$DESTS after=
	for ((j = 0; j < SLOTS; j++)); do
		pre[j]=${ENT_DEST[$j]:-}
		[[ $(<"$TMP/c$j") =~ server=([0-9a-f]+) ]] && got[${CID_IP[${BASH_REMATCH[1]}]:-none}]=1
	done
	ipvs_scan && after=1
	DESTS=$dests
	for ((j = 0; j < SLOTS; j++)); do
		rc=$(cat "$TMP/rc$j" 2>/dev/null)
		rc=${rc:-255}
		line=$(<"$TMP/c$j")
		ms= srv= rt=
		[[ $line =~ connect_ms=([0-9.]+) ]] && ms=${BASH_REMATCH[1]}
		[[ $line =~ server=([0-9a-f]+) ]] && srv=${BASH_REMATCH[1]}
		[[ $line =~ syn_retrans=([0-9]+) ]] && rt=${BASH_REMATCH[1]}
		if [[ -n $after && ${reuse[j]} == 1 && -n ${pre[j]} && ${DEST_W[${pre[j]}]:-0} == 0 ]]; then
			if [[ $crm == 0 && -n $srv ]]; then
				[[ ${CID_IP[$srv]:-} != "${pre[j]}" ]] || ((${rt:-0} > 0)) && reuse[j]=w
			elif [[ $crm == 1 && -z ${got[${pre[j]}]:-} ]]; then
				reuse[j]=w
			fi
		fi
		count "${phase}_conn"
		[[ -n ${reuse[j]} ]] && count "${phase}_reused"
		[[ ${reuse[j]} == w ]] && count "${phase}_withdrawn"
		if ((rc != 0)) || [[ -z $ms || -z $srv || -z $rt ]]; then
			count "${phase}_failed"
			((rc == 124)) && { count "${phase}_hung"; msg+=" hung"; continue; }
			msg+=" failed(${line//$'\n'/ })"
			continue
		fi
		msg+=" ${ms%.*}/${srv:0:4}${reuse[j]:+r}${reuse[j]/1/}"
		if ((rt > 0)); then
			count "${phase}_dropped"
			[[ -n ${reuse[j]} ]] && count "${phase}_dropped_reused"
			msg+="(drop)"
		fi
		if ((${ms%.*} >= SLOW_MS)); then
			count "${phase}_slow"
			[[ -n ${reuse[j]} ]] && count "${phase}_slow_reused"
			msg+="(slow)"
		fi
		if [[ $was_retired == *" $srv "* ]]; then
			count "${phase}_stale"
			msg+="(stale)"
		fi
	done
	ROUND=$((ROUND + 1))
	log "$phase r$ROUND +$((SECONDS - RUN_T0))s [ipvs:$DESTS]:$msg"
}

# phase_until PHASE SECONDS COND DOCKER-ARGS...: run the docker command
# in the background (under load the CLI alone takes longer than the
# entries live) and rounds until COND holds (checked after each round),
# then two more; fail when COND does not come in time.
phase_until() {
	local phase=$1 end=$((SECONDS + $2 * TWR_SCALE)) cond=$3 t0 pid

	shift 3
	t0=$(ms_now)
	dk "$@" >/dev/null &
	pid=$!
	until round "$phase"; $cond; do
		((SECONDS < end)) || fail "$phase: docker did not get there in $2 s (ipvs:$DESTS, tasks:$TASKS)"
		if [[ -n $pid ]] && ! kill -0 $pid 2>/dev/null; then
			wait $pid || fail "docker $*"
			pid=
		fi
	done
	[[ -z $pid ]] || wait $pid || fail "docker $*"
	log "docker: $phase done in $((($(ms_now) - t0) / 1000)) s"
	round "$phase"
	round "$phase"
}

# service_is N [OLD]: N tasks running, all N in IPVS with weight 1, none
# of OLD left.
service_is() {
	local want=$1 old=${2:-} cid n=0 w

	tasks_scan
	ipvs_scan || return 1
	for cid in $old; do
		[[ " $TASKS " == *" $cid "* ]] && return 1
	done
	[[ $(wc -w <<<"$TASKS") -eq $want ]] || return 1
	for w in "${DEST_W[@]}"; do
		[[ $w != 0 ]] && n=$((n + 1))
	done
	((n == want && ${#DEST_W[@]} == want))
}
service_up() { service_is $REPLICAS; }
scaled_down() { service_is 1; }
updated() { service_is $REPLICAS "$OLD_TASKS"; }

# ---------------------------------------------------------------------------
t0=$(ms_now)
dk service create --name web --replicas $REPLICAS --stop-grace-period 10s \
	--publish published=80,target=80 --no-resolve-image --detach \
	--update-order start-first --update-parallelism 0 \
	$IMAGE /twtool server 80 - rst >/dev/null || fail "docker service create"
SBOX_PATH=
sbox_there() {
	local p

	# The file is there before dockerd mounts the namespace on it.
	for p in $SW/exec/netns/ingress_sbox /run/docker/netns/ingress_sbox; do
		mounted $p && SBOX_PATH=$p && return 0
	done
	return 1
}
wait_for 300 sbox_there || fail "no ingress_sbox after 300 s"
# The ingress sandbox under a name ip netns knows (lib.sh's n, counters).
sbox=twr-sbox-$$
touch /run/netns/$sbox
mount --bind "$SBOX_PATH" /run/netns/$sbox || fail "bind $SBOX_PATH"
n "$sbox" true || fail "ip netns exec in ingress_sbox ($SBOX_PATH)"
if ! wait_for 400 service_up; then
	dk service ps --no-trunc web | sed 's/^/# /'
	tail -n 30 "$TMP/dockerd.log" | sed 's/^/# dockerd: /'
	fail "service web not up after 400 s (ipvs:$DESTS, tasks:$TASKS)"
fi
log "docker: service web ($REPLICAS replicas) up in $((($(ms_now) - t0) / 1000)) s, ipvs:$DESTS"
DOCKER_SYSCTLS=$(n "$sbox" sh -c 'cd /proc/sys/net/ipv4/vs &&
	for f in conn_reuse_mode expire_nodest_conn expire_quiescent_template conntrack; do
		printf "%s=%s " $f $(cat $f); done')
log "docker set in ingress_sbox: $DOCKER_SYSCTLS"
n "$sbox" iptables-save 2>/dev/null | grep -E -- '-j (MARK|SNAT)' | sed 's/^/# ingress_sbox: /'
# The subtests' subshells must not remove the namespaces (lib.sh's sub()).
NS_LIST=()

# ---------------------------------------------------------------------------
# run MODULE REUSE_MODE: the three phases.
MODULE_RESCHED= MODULE_PROBE=0
run() {
	local module=$1 crm=$2 k v res=

	RUN_T0=$SECONDS
	dmesg_mark
	module_state "$module"
	sysctl_w "$sbox" net.ipv4.vs.conn_reuse_mode "$crm"
	log "module=$module conn_reuse_mode=$crm (ingress_sbox: $(n "$sbox" cat /proc/sys/net/ipv4/vs/expire_nodest_conn) expire_nodest_conn)"
	# Fresh entries, so that the first round spreads the slots over the
	# tasks (under conn_reuse_mode=0 they stay where they are).
	wait_for 30 no_entries || fail "entries of the last run did not expire"
	[[ $module == yes ]] && counters_mark "$sbox"

	for ((k = 0; k < 4; k++)); do
		round steady
	done

	phase_until scale 240 scaled_down service scale --detach web=1

	tasks_scan
	OLD_TASKS=$TASKS
	phase_until update 400 updated service update --detach --force --replicas $REPLICAS web

	for k in steady scale update; do
		res+=" ${k}_conn=${CNT[${k}_conn]:-0}"
		for v in reused withdrawn late dropped dropped_reused slow slow_reused failed hung stale; do
			res+=" ${k}_$v=${CNT[${k}_$v]:-0}"
		done
	done
	if [[ $module == yes ]]; then
		MODULE_RESCHED=$(($(twr_counter "$sbox" resched) - TWR_MARK[resched] +
			$(twr_counter "$sbox" resched_no_drop) - TWR_MARK[resched_no_drop]))
		MODULE_PROBE=$(($(twr_counter "$sbox" probe) - TWR_MARK[probe]))
		res+=" module_resched=$MODULE_RESCHED module_probe=$MODULE_PROBE"
	fi
	res+=" crm_after=$(n "$sbox" cat /proc/sys/net/ipv4/vs/conn_reuse_mode)"
	log "RESULT$res"
	dmesg_check
	judge "$module" "$crm"
}

c() { echo "${CNT[$1]:-0}"; }

judge() {
	local module=$1 crm=$2 bad withdrawn

	# The scale and the update must have made reuses meet the entries of
	# a task docker was taking out (weight 0 through its grace period):
	# what conn_reuse_mode and the module are about there.
	withdrawn=$(($(c scale_withdrawn) + $(c update_withdrawn)))
	if [[ $crm == 0 || $module == yes ]] && ((withdrawn == 0)); then
		fail "no reuse met a task docker was taking out (rounds more than 10 s apart? the host is too loaded)"
	fi

	if [[ $module == no && $crm == 1 ]]; then
		(($(c steady_reused) >= 2 * SLOTS)) || fail "only $(c steady_reused) steady reuses"
		(($(c steady_dropped_reused) >= $(c steady_reused) - 1)) ||
			fail "$(c steady_dropped_reused) of $(c steady_reused) steady reuses dropped: the drop did not reproduce"
	elif [[ $module == no ]]; then
		(($(c steady_dropped) + $(c steady_slow) + $(c steady_failed) == 0)) ||
			fail "conn_reuse_mode=0 with live tasks: $(c steady_dropped) dropped, $(c steady_slow) slow, $(c steady_failed) failed"
		bad=0
		for p in scale update; do
			bad=$((bad + $(c ${p}_dropped) + $(c ${p}_slow) + $(c ${p}_failed) + $(c ${p}_stale)))
		done
		((bad > 0)) ||
			fail "none of $withdrawn reuses that met a task docker was taking out was dropped, slow, failed or stale"
	elif [[ $crm == 1 ]]; then
		for p in steady scale update; do
			(($(c ${p}_slow) == 0 && $(c ${p}_failed) == 0 && $(c ${p}_stale) == 0)) ||
				fail "$p: $(c ${p}_slow) slow, $(c ${p}_failed) failed, $(c ${p}_stale) answered by a removed task"
		done
		(($(c steady_reused) >= 2 * SLOTS)) || fail "only $(c steady_reused) steady reuses"
		((MODULE_RESCHED > 0)) || fail "the module counted no rescheduled SYN"
		[[ $(n "$sbox" cat /proc/sys/net/ipv4/vs/conn_reuse_mode) == 1 ]] ||
			fail "conn_reuse_mode in ingress_sbox is no longer 1 after the scale and update"
	else
		# Under 0 the module's first reuse of a drained task's tuple in a
		# namespace can be its probe (`probe`, Documentation/design.rst):
		# it watches what this IPVS does with it, and IPVS drops it. That
		# SYN costs its second, as without the module; no other may.
		bad=0
		for p in steady scale update; do
			(($(c ${p}_failed) == 0)) || fail "$p: $(c ${p}_failed) failed"
			bad=$((bad + $(c ${p}_slow)))
		done
		((bad <= MODULE_PROBE)) ||
			fail "$bad slow connections, $MODULE_PROBE of them the module's probe" \
				"(steady $(c steady_slow), scale $(c scale_slow), update $(c update_slow))"
	fi
	return 0
}

ktap_header 4
declare -A SUMMARY=()
for cfg in "no 0" "no 1" "yes 0" "yes 1"; do
	set -- $cfg
	name=$([[ $1 == yes ]] && echo module || echo nomodule)_reuse$2
	sub "$name" run "$1" "$2"
	SUMMARY[$name]=$(sed -n 's/.*# RESULT //p' <<<"$SUB_OUT" | tail -n 1)
done
log "summary (per phase: connections/reused/of them meeting a task docker was taking out/dropped (SYN retransmitted)/slow (>= ${SLOW_MS} ms)/failed (hung)/answered by such a task):"
for name in nomodule_reuse0 nomodule_reuse1 module_reuse0 module_reuse1; do
	r=" ${SUMMARY[$name]:-} "
	line=
	for p in steady scale update; do
		g() { sed -nE "s/.* ${p}_$1=([0-9]+) .*/\\1/p" <<<"$r"; }
		line+=" $p $(g conn)/$(g reused)/$(g withdrawn)/$(g dropped)/$(g slow)/$(g failed)($(g hung))/$(g stale);"
	done
	log "  $name:$line conn_reuse_mode after: $(sed -nE 's/.* crm_after=([0-9]+) .*/\1/p' <<<"$r")$(sed -nE 's/.* module_resched=([0-9]+) module_probe=([0-9]+) .*/; module counted \1 rescheduled SYNs, \2 probe/p' <<<"$r")"
done
ktap_finish
