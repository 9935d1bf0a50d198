#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole test suite, one command (README, .ci/run):
#   1. install dependencies (scripts/deps.sh)
#   2. for each kernel (scripts/kernels.sh: the installed Debian cloud
#      kernels by default, or what -k names): build the module with W=1
#      and sparse, no warnings allowed; install the selftests through a
#      kernel tree's kselftest install; make the VM's initramfs
#   3. boot each kernel under QEMU and run the selftests there with the
#      kernel's own kselftest runner (run_kselftest.sh), VM_JOBS at a
#      time; beside the first VM, in a slot of its own: make install,
#      DKMS install, modinfo (installed kernels); the Debian package with
#      DKMS (scripts/test-package.sh); the RPM (scripts/test-rpm.sh);
#      checkpatch
# Ends with "N passed, N failed, N skipped", counted from the results
# (the kselftest runner's one per test program, and one per host step);
# exit 1 if anything failed or nothing ran.
#
# usage: run-tests.sh [-k SPEC]... [FILTER]
#   -k SPEC   a kernel or kernels to test (kernels.sh: "debian", an
#             installed release, a .deb or a directory of kernel .debs);
#             repeatable; default: debian
#   FILTER    only VM tests whose program name matches this extended
#             regex (e.g. 'reuse_rst|sysctl')
# env: TWR_TIERS         which tier each kernel runs (see "Tiers" below):
#                        "KREGEX=TIER ...", the first KREGEX matching the
#                        kernel release wins; default: every kernel "full"
#      TWR_TIER_<NAME>   a tier's test regex, to add or redefine one
#      TWR_ONLY          "PROGRAM=KREGEX ...": PROGRAM (without .sh)
#                        runs on the kernels whose release KREGEX
#                        matches, whatever their tier, and on no other;
#                        default: every program as the tiers say
#      VM_JOBS           VMs run at once (default 2: their tests wait
#                        more than they compute; 1 on a one-core host)
#      TWR_DEMO=1        also run scripts/demo.sh and check its summary
#      TWR_RACE=1        also run scripts/text-poke-race.sh (3 boots):
#                        vm-run.sh's QEMU against live kernel patching
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
SPECS=()
while getopts "k:" o; do
	case $o in
	k) SPECS+=("$OPTARG") ;;
	*) echo "usage: run-tests.sh [-k SPEC]... [FILTER]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
FILTER=${1:-}
B=$TOP/build
CACHE=${TWR_CACHE:-/var/cache/ip_vs_tw_resched}
LOG=$B/test-results.log
# Tiers: a tier is a regex of test program names (without .sh); a kernel
# runs the programs of its tier that also match FILTER. "compile" boots
# nothing (a headers-only kernel is always "compile"). .ci/run gives each
# kernel a tier with TWR_TIERS; without it every kernel runs "full".
#   matrix  the reuse matrix and the harm tests, what every kernel must
#           pass and what may not skip on any kernel; equivalence with
#           stock's retransmit and the counters and tracepoint that
#           report it; and sysctl, where most of the kernel API
#           differences are (sysctl registration and handler signatures)
#   old     for an old kernel beside a new one that runs "full": the
#           matrix, and what an old kernel's IPVS and compat paths
#           change: the load balancer's path (haproxy_ab), the module's
#           lifetimes (unload_under_load, netns_churn), policy and
#           metrics; the load tests that only repeat themselves there
#           (two_directors, sysctl_abuse, odd_packets) are left to the
#           new kernel and the debug one
#   debug   for a KASAN/lockdep/kmemleak kernel, several times slower:
#           the reuse matrix (reuse_*: every path of a rescheduled SYN
#           and its copy), counters_exact (the resend lost, the probe and
#           its conntrack reference) and the load tests that stress
#           lifetimes and locking (unload, namespaces, odd packets)
# To add a program to a tier, add its name to the regex.
declare -A TIER=(
	[full]='.'
	[matrix]='^(reuse_.*|drained_.*|removed_.*|persistence|conn_reuse_mode|vs_conntrack_0|lost_final_ack|ftp_data|syn_dropped_before_ipvs|reply_direction_ct|service_deleted|sysctl|equivalence|counters_exact|tracepoint)$'
	[compile]='^$'
)
TIER[debug]='^(reuse_.*|counters_exact|unload_under_load|netns_churn|odd_packets)$'
TIER[old]="${TIER[matrix]%)\$}|haproxy_ab|unload_under_load|netns_churn|policy|prometheus_metrics)\$"
for v in ${!TWR_TIER_*}; do
	TIER[${v#TWR_TIER_}]=${!v}
done
# A kernel whose reuse matrix or baselines do not run fails: these may not skip.
MUSTRUN=${TIER[matrix]}
mkdir -p "$B" "$CACHE"
export TWR_CACHE=$CACHE
: >"$LOG"
start=$SECONDS

result() {	# result ok|"not ok" NAME [why]
	echo "$*" | tee -a "$LOG"
}

"$TOP/scripts/deps.sh" || { result "not ok deps"; exit 1; }

((${#SPECS[@]})) || SPECS=(debian)
if ! KLIST=$("$TOP/scripts/kernels.sh" "${SPECS[@]}" 2>"$B/kernels.err"); then
	result "not ok kernels ($(cat "$B/kernels.err"))"
	exit 1
fi
echo "# kernels: $(awk '{ printf "%s%s", n++ ? ", " : "", $1 ($2 == "-" ? " (headers only: compiled, not run)" : "") }' <<<"$KLIST")"

read -ra TIERMAP <<<"${TWR_TIERS:-}"	# (no globbing of the regexes)
tier_of() {	# tier_of KVER: the tier TWR_TIERS gives it
	local m

	for m in "${TIERMAP[@]}"; do
		[[ $1 =~ ${m%=*} ]] && { echo "${m##*=}"; return; }
	done
	echo full
}
for m in "${TIERMAP[@]}"; do
	[[ -n ${TIER[${m##*=}]+set} ]] ||
		{ result "not ok tiers (TWR_TIERS: no tier '${m##*=}'; tiers: ${!TIER[*]})"; exit 1; }
done

# Per kernel: module (W=1, sparse), selftests, initramfs.
READY=()
while read -r k img mroot kdir; do
	"$TOP/scripts/prepare-vm.sh" "$k" "$img" "$mroot" "$kdir" >"$B/prepare-$k.out"
	rc=$?
	tee -a "$LOG" <"$B/prepare-$k.out"
	if [[ $img == - ]]; then
		echo "# tier compile: $k (headers only: W=1 and sparse build, no VM)"
	elif ((rc == 0)); then
		READY+=("$k $img $kdir")
	fi
done <<<"$KLIST"

# The host's checks, which boot nothing: they run beside the first VM
# (host_checks below), in a VM slot of their own, their results added to
# the log when they end.
host_checks() {
	# make install / DKMS / modinfo, on installed kernels (nothing stays
	# installed). Unpacked ones would need /lib/modules/KVER on this host.
	private=
	while read -r k img mroot kdir; do
		if [[ $mroot == / ]]; then
			"$TOP/scripts/test-install.sh" "$k" 2>/dev/null | tee -a "$LOG"
		else
			private+=" $k"
		fi
	done <<<"$KLIST"
	[[ -n $private ]] && echo "# install tests (make install, DKMS) only on installed kernels, not on:$private"

	# The Debian package: built, installed with DKMS for every installed kernel
	# with headers and for those of the kernel package directories named with
	# -k (installed for the test only), purged.
	pkgdirs=()
	for s in "${SPECS[@]}"; do
		[[ -d $s ]] && pkgdirs+=("$s")
	done
	"$TOP/scripts/test-package.sh" "${pkgdirs[@]}" | tee -a "$LOG"

	# The RPM: built, rpmlint, its files against the tree, and rpm installing,
	# upgrading, reinstalling and erasing it in a scratch root, its scriptlets
	# calling a stub dkms.
	"$TOP/scripts/test-rpm.sh" | tee -a "$LOG"

	# checkpatch, from the newest linux-source's scripts/.
	series=$(ls /usr/src/linux-source-*.tar.xz | sort -V | tail -n 1 | sed -E 's/.*linux-source-(.*)\.tar\.xz/\1/')
	cp_dir=$CACHE/linux-scripts-$series	# kernel-doc too: scripts/check.sh
	if [[ ! -x $cp_dir/scripts/checkpatch.pl ]]; then
		mkdir -p "$cp_dir"
		tar -C "$cp_dir" -xf /usr/src/linux-source-"$series".tar.xz --strip-components=1 \
			linux-source-"$series"/scripts/checkpatch.pl \
			linux-source-"$series"/scripts/spelling.txt \
			linux-source-"$series"/scripts/const_structs.checkpatch
	fi
	if (cd "$TOP" && make -s style CHECKPATCH="$cp_dir/scripts/checkpatch.pl") >"$B/style.log" 2>&1 &&
		! grep -qE '^(ERROR|WARNING|CHECK):' "$B/style.log"; then
		result "ok style/checkpatch --strict"
	else
		result "not ok style/checkpatch"
		grep -E -A3 '^(ERROR|WARNING|CHECK):' "$B/style.log" | sed 's/^/#   /' | head -n 40
	fi

	# The standalone kselftest install (no kernel tree) must give what the
	# kernel tree's install gave the VMs: the same list, the same files.
	first=${READY[0]%% *}
	ksft_tree=$(ls -d "$CACHE"/ksft/*/tools/testing/selftests 2>/dev/null | head -n 1)
	sa=$B/ksft-standalone
	rm -rf "$sa"
	if [[ -n ${READY[0]:-} && -n $ksft_tree ]] &&
		make -s -C "$TOP/selftests" install INSTALL_PATH="$sa" OUTPUT="$sa.gen" \
			KSFT_DIR="$ksft_tree" >"$sa.log" 2>&1 &&
		diff "$B/ksft-$first/kselftest-list.txt" "$sa/kselftest-list.txt" >>"$sa.log" &&
		diff <(cd "$B/ksft-$first" && find . -type f | sort) \
			<(cd "$sa" && find . -type f | sort) >>"$sa.log"; then
		result "ok selftests/standalone-install (make -C selftests install: $(wc -l <"$sa/kselftest-list.txt") programs, the files of the kernel tree's install)"
	else
		result "not ok selftests/standalone-install (see $sa.log)"
		tail -n 20 "$sa.log" | sed 's/^/#   /'
	fi
}
env_host_checks() {	# host_checks, their results in their own file
	LOG=$B/host-checks.results host_checks
}

# The swarm ingress test runs Debian's dockerd in the VM: its binaries
# (~190 MB, scripts/mkinitramfs-docker.sh) are appended to the initramfs
# (cpio archives concatenate) only for a VM whose test list names it,
# and (with TWR_ONLY) only on the kernels it names for it.
SWARM_TEST=swarm_ingress.sh
swarm_initrd() {	# swarm_initrd KVER TESTS: the initramfs that VM boots
	local base=$B/initramfs-$1.cpio

	if [[ ,$2, != *,$SWARM_TEST,* ]]; then
		echo "$base"
		return
	fi
	if [[ ! -s $B/initramfs-docker.cpio.ok ]]; then
		# Without it the test says SKIP (no dockerd).
		"$TOP/scripts/mkinitramfs-docker.sh" "$B/initramfs-docker.cpio" >&2 || { echo "$base"; return; }
		echo ok >"$B/initramfs-docker.cpio.ok"
	fi
	cat "$base" "$B/initramfs-docker.cpio" >"$B/initramfs-$1-docker.cpio"
	echo "$B/initramfs-$1-docker.cpio"
}
rm -f "$B/initramfs-docker.cpio.ok"

# The VM runs: which tests on which kernel.
declare -A ONLY=()
read -ra ONLYMAP <<<"${TWR_ONLY:-}"	# (no globbing of the regexes)
for m in "${ONLYMAP[@]}"; do
	[[ $m == ?*=?* ]] || { result "not ok tiers (TWR_ONLY: '$m' is not PROGRAM=KREGEX)"; exit 1; }
	ONLY[${m%%=*}]=${m#*=}
done
tests_for() {	# tests_for KVER TIER: comma list, or empty when none match
	local k=$1 re=${TIER[$2]} t out=

	for t in $(cut -d: -f2 "$B/ksft-$k/kselftest-list.txt"); do
		[[ -n $FILTER && ! ${t%.sh} =~ $FILTER ]] && continue
		# A program TWR_ONLY names: on its kernels, whatever their tier.
		if [[ -n ${ONLY[${t%.sh}]+set} ]]; then
			[[ $k =~ ${ONLY[${t%.sh}]} ]] || continue
		else
			[[ ${t%.sh} =~ $re ]] || continue
		fi
		out+=${out:+,}$t
	done
	echo "$out"
}

# A kernel built with KASAN, lockdep or kmemleak is several times slower
# under TCG: the tests get KSFT_MACHINE_SLOW=yes (lighter loads, longer
# waits) and TWR_PAIRS=module (the reuse cases without their stock
# baselines, which run none of the module's code: the same kernel source
# built without the checkers runs them), the VM more memory and time
# (no5lvl, which a KASAN kernel needed, vm-run.sh now gives every VM).
vm_env() {	# vm_env KDIR: the VM_* settings for that kernel, NAME=VALUE lines
	if grep -qsE '^CONFIG_(KASAN|PROVE_LOCKING|DEBUG_KMEMLEAK)=y' "$1/.config"; then
		echo "VM_TIMEOUT=${VM_TIMEOUT:-7200}"
		echo "VM_MEM=3072"
		echo "VM_APPEND=KSFT_MACHINE_SLOW=yes TWR_PAIRS=module${VM_APPEND:+ $VM_APPEND}"
	fi
}

# Longest first (two VMs at a time finish sooner so): the debug kernel, the
# full and old tiers, then the others.
order=()
for w in debug full other; do
	for r in "${READY[@]}"; do
		tier=$(tier_of "${r%% *}")
		case $w:$tier in
		debug:debug | full:full | full:old) order+=("$r") ;;
		other:debug | other:full | other:old) ;;
		other:*) order+=("$r") ;;
		esac
	done
done
# Said of the kernels whose tier would have run it (and FILTER allows).
for prog in "${!ONLY[@]}"; do
	skipped=
	[[ -n $FILTER && ! $prog =~ $FILTER ]] && continue
	for r in "${READY[@]}"; do
		k=${r%% *}
		[[ $prog =~ ${TIER[$(tier_of "$k")]} && ! $k =~ ${ONLY[$prog]} ]] && skipped+=" $k"
	done
	[[ -n $skipped ]] && echo "# $prog not run on:$skipped (TWR_ONLY: '${ONLY[$prog]}')"
done

JOBS=${VM_JOBS:-$(($(nproc) > 1 ? 2 : 1))}
declare -A running=() started=() vmname=()
declare -A jobrc=() hostjob=()
reap() {	# wait for one VM (or host job) to end, print its results and its time
	local pid k cpu rc

	wait -n -p pid "${!running[@]}"
	rc=$?
	k=${vmname[$pid]}
	if [[ -n ${hostjob[$pid]:-} ]]; then
		# A host job: the host's checks, their output and results now;
		# the demo, the race boots: judged below.
		if [[ $k == host_checks ]]; then
			cat "${running[$pid]}"
			cat "$B/host-checks.results" >>"$LOG"
		fi
		jobrc[$k]=$rc
		echo "# $k: $((SECONDS - started[$pid])) s" | tee -a "$B/vm-times.txt"
		unset "running[$pid]" "started[$pid]" "vmname[$pid]" "hostjob[$pid]"
		return
	fi
	tee -a "$LOG" <"${running[$pid]}"
	cpu=$(sed -n 's/.*# vm time: .*qemu CPU \([0-9]*\) s.*/\1/p' "${running[$pid]}")
	echo "# $k: $((SECONDS - started[$pid])) s in its VM${cpu:+ (qemu CPU $cpu s)}, host load $(cut -d' ' -f1-3 /proc/loadavg)" |
		tee -a "$B/vm-times.txt"
	unset "running[$pid]" "started[$pid]" "vmname[$pid]"
}
host_job() {	# host_job NAME OUT CMD...: CMD in the next free slot
	((${#running[@]} >= JOBS)) && reap
	"${@:3}" >"$2" 2>&1 &
	running[$!]=$2 started[$!]=$SECONDS vmname[$!]=$1 hostjob[$!]=1
}
: >"$B/vm-times.txt"
# The host's checks take the first slot, the longest VM the second.
: >"$B/host-checks.results"
host_job host_checks "$B/host-checks.out" env_host_checks
for r in "${order[@]}"; do
	read -r k img kdir <<<"$r"
	tier=$(tier_of "$k")
	t=$(tests_for "$k" "$tier")
	if [[ -z $t ]]; then
		echo "# tier $tier: $k (no test program of this tier${FILTER:+ matches '$FILTER'}: not booted)"
		continue
	fi
	((${#running[@]} >= JOBS)) && reap
	env=$(vm_env "$kdir")
	n=$(tr ',' ' ' <<<"$t" | wc -w)
	echo "# tier $tier: $k ($n test programs${FILTER:+ matching '$FILTER'}${env:+; ${env//$'\n'/, }})"
	initrd=$(swarm_initrd "$k" "$t")
	(
		while IFS= read -r e; do
			[[ -n $e ]] && export "$e"
		done <<<"$env"
		exec "$TOP/scripts/vm-run.sh" "$k" "$img" "$initrd" "$B/vm/$k" "$t"
	) >"$B/vm-$k.out" 2>&1 &
	running[$!]=$B/vm-$k.out started[$!]=$SECONDS vmname[$!]="tier $tier, $k"
done
# The demo and the race boots run one VM each: they take the next free
# slots while the last kernels' VMs still run.
[[ ${TWR_DEMO:-} == 1 && -z $FILTER ]] &&
	host_job demo "$B/demo.out" "$TOP/scripts/demo.sh"
[[ ${TWR_RACE:-} == 1 && -z $FILTER ]] &&
	host_job text_poke_race "$B/text-poke-race.out" "$TOP/scripts/text-poke-race.sh" -n 3 -m loadunload
while ((${#running[@]})); do reap; done

# The quick start's first command, as a newcomer runs it: its summary
# must carry real figures (TWR_DEMO=1; .ci/run sets it).
if [[ ${TWR_DEMO:-} == 1 && -z $FILTER ]]; then
	drc=${jobrc[demo]:-1}
	sed -n '/^Kernel /,$p' "$B/demo.out" | sed 's/^/# demo: /'
	read -r ws wr < <(sed -nE 's/^IPVS direct routing, without the module: ([0-9]+) of ([0-9]+) reused .*/\1 \2/p' "$B/demo.out")
	read -r ms mr < <(sed -nE 's/^IPVS direct routing, with the module: +([0-9]+) of ([0-9]+) reused .*/\1 \2/p' "$B/demo.out")
	if ((drc == 0)) && [[ -n ${wr:-} && -n ${mr:-} ]] && ((wr > 0 && ws >= wr - 1 && mr > 0 && ms == 0)); then
		result "ok demo (summary: without the module $ws of $wr reuses >= 900 ms, with it $ms of $mr)"
	else
		result "not ok demo (exit $drc; summary: without '${ws:-?} of ${wr:-?}', with '${ms:-?} of ${mr:-?}'; see $B/demo.out)"
	fi
fi

# The harness's QEMU against the kernel's live text patching (issue #23):
# under multi-threaded TCG these boots die with "Oops: int3" in about one
# boot of four; vm-run.sh's setting must leave none.
if [[ ${TWR_RACE:-} == 1 && -z $FILTER ]]; then
	rrc=${jobrc[text_poke_race]:-1}
	sum=$(grep -E '^# .* boots failed' "$B/text-poke-race.out" | sed 's/^# //')
	if ((rrc == 0)); then
		result "ok text_poke_race ($sum)"
	else
		result "not ok text_poke_race (${sum:-see $B/text-poke-race.out})"
		grep -E '^not ok' "$B/text-poke-race.out" | sed 's/^/#   /'
	fi
fi

# Per kernel: tests that must not skip, and a kernel whose tests all
# skipped, are failures; so is a kmemleak kernel whose VM did not scan.
# (The release is a literal: 6.12.118+deb12 is no regex of itself.)
for r in "${READY[@]}"; do
	read -r k _ kdir <<<"$r"
	mine=$(grep -F "[$k] " "$LOG")
	if grep -qs '^CONFIG_DEBUG_KMEMLEAK=y' "$kdir/.config" && grep -qF "[$k] TWR-DONE" <<<"$mine" &&
		! grep -qE "^\[[^]]*\] (not )?ok kmemleak" <<<"$mine"; then
		result "not ok kmemleak/$k (a kmemleak kernel whose VM reported no scan)"
	fi
	lines=$(grep -E "^\[[^]]*\] (not )?ok [0-9]+ selftests: " <<<"$mine")
	[[ -z $lines ]] && continue
	sk=$(grep -E '# SKIP' <<<"$lines" | sed -E 's/.*selftests: [^:]+: ([^ ]+).*/\1/')
	for t in $sk; do
		[[ ${t%.sh} =~ $MUSTRUN ]] && result "not ok must_run/$k $t (skipped: this kernel's reuse matrix is incomplete)"
	done
	grep -qvE '# SKIP' <<<"$lines" || result "not ok all_skipped/$k (every test skipped)"
done

# Where the VMs' time went (guest-init.sh's "# time:" lines): the
# slowest programs, the first to look at when CI runs long.
if grep -qE '^\[[^]]*\] # time: ' "$LOG"; then
	echo "# slowest programs (s in their VM):"
	sed -nE 's/^\[([^]]*)\] # time: ([^ ]+) ([0-9]+) s$/\3 \2 [\1]/p' "$LOG" |
		sort -rn | head -n 12 | sed 's/^/#   /'
fi

# A run whose VMs tested nothing is a failure, not a pass.
((${#READY[@]} == 0)) || grep -qE '^\[[^]]*\] (not )?ok [0-9]+ selftests: ' "$LOG" ||
	result "not ok vm (no test ran in any VM)"

# Top-level results only: the host's steps, and per VM the runner's line
# per test program plus its own checks; the programs' own subtests are
# nested under "# ".
top='^(\[[^]]*\] )?'
pass=$(grep -E "${top}ok " "$LOG" | grep -cv '# SKIP')
skipped=$(grep -E "${top}ok " "$LOG" | grep -c '# SKIP')
fail=$(grep -cE "${top}not ok " "$LOG")
echo
# A CI log is read from its tail: name what failed or skipped there.
if ((fail)); then
	# What a failed subtest printed last (its diagnosis), where a reader
	# of the tail sees it: the last 30 lines of each, the first three.
	awk -v keep=30 -v most=3 '
		match($0, /^\[[^]]*\] /) {
			k = substr($0, 1, RLENGTH); rest = substr($0, RLENGTH + 1)
			if (rest ~ /^# (selftests: |ok [0-9]+ |# Totals: )/) { n[k] = 0; next }
			if (rest ~ /^# # /) { buf[k, n[k]++ % keep] = $0; next }
			if (rest ~ /^(# )?not ok [0-9]+ / && n[k] && shown < most) {
				print "# what the failed subtest printed last:"
				for (i = (n[k] > keep ? n[k] - keep : 0); i < n[k]; i++)
					print "#   " buf[k, i % keep]
				print "#   " $0
				shown++; n[k] = 0
			}
		}' "$LOG"
	echo "# failed:"
	grep -E "${top}not ok " "$LOG" | sed 's/^/#   /'
fi
if ((skipped)); then
	echo "# skipped:"
	grep -E "${top}ok " "$LOG" | grep '# SKIP' | sed 's/^/#   /'
fi
echo "# $(((SECONDS - start) / 60)) min"
echo "$pass passed, $fail failed, $skipped skipped"
((fail == 0 && pass > 0))
