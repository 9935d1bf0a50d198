#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Measure a rare failure's rate: run test programs over and over in one
# VM, each iteration every RUN in turn, and count what failed. A rate is
# a number of runs, not one run that passed (0 of 48 at a 1-in-30 rate is
# still a 20 % chance); this is how the rates in the issues' notes were
# measured.
#
# usage: vm-loop.sh [-k SPEC] [-r KVER] [-n N] [-t SECONDS] [-v] RUN...
#   RUN      a test program and its arguments, one word, commas for the
#            spaces: "haproxy_ab.sh,-m,yes,-f,dr"
#   -k SPEC  the kernel (kernels.sh: "debian" picks the newest Debian
#            cloud kernel of each series, the first one is used; a
#            KVER; a DIR or FILE.deb of kernel packages); default debian
#   -r KVER  of SPEC's kernels, the one of this release (5.4.49-acc)
#   -n N     iterations (default 20)
#   -t SECS  stop starting new iterations after SECS (default 3000)
#   -v       print the whole output of every run, not only of those that
#            failed (a measuring run's tables)
# env:   VM_ACCEL, VM_SMP, VM_CPU, VM_MEM, VM_APPEND as for vm-run.sh (a
#        comparison of QEMU settings: VM_ACCEL=tcg,thread=multi)
# Prints one line per run, "# iteration I [RUN]: exit RC S s; RESULT ...",
# and the whole output of every run that failed (with -v, of every run);
# then "F of R runs failed".
# The VM's console and results: build/vm/loop-KVER-PID/.
# Exit 0 when every run passed, 1 otherwise.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
SPEC=debian REL='' N=20 SECS=3000 VERBOSE=0
while getopts "k:r:n:t:v" o; do
	case $o in
	k) SPEC=$OPTARG ;;
	r) REL=$OPTARG ;;
	n) N=$OPTARG ;;
	t) SECS=$OPTARG ;;
	v) VERBOSE=1 ;;
	*) echo "usage: vm-loop.sh [-k SPEC] [-r KVER] [-n N] [-t SECONDS] [-v] RUN..." >&2; exit 1 ;;
	esac
done
shift $((OPTIND - 1))
(($# > 0)) || { echo "vm-loop.sh: name at least one RUN (test.sh,arg,...)" >&2; exit 1; }
[[ $N =~ ^[1-9][0-9]*$ && $SECS =~ ^[1-9][0-9]*$ ]] || { echo "vm-loop.sh: bad -n or -t" >&2; exit 1; }
for r in "$@"; do
	[[ $r =~ ^[a-z0-9_]+\.sh(,[^[:space:]+]*)?$ ]] ||
		{ echo "vm-loop.sh: bad RUN '$r' (test.sh,arg,...; no spaces or '+')" >&2; exit 1; }
	[[ -f $TOP/selftests/${r%%,*} ]] || { echo "vm-loop.sh: no selftests/${r%%,*}" >&2; exit 1; }
done

export TWR_CACHE=${TWR_CACHE:-/var/cache/ip_vs_tw_resched}
"$TOP/scripts/deps.sh" >/dev/null || { echo "vm-loop.sh: scripts/deps.sh failed" >&2; exit 1; }
K='' IMG=''
read -r K IMG MROOT KDIR < <("$TOP/scripts/kernels.sh" "$SPEC" |
	awk -v r="$REL" 'r == "" || $1 == r' | head -n 1) || true
[[ -n $K && $IMG != - ]] ||
	{ echo "vm-loop.sh: no kernel to boot in '$SPEC'${REL:+ of release $REL}" >&2; exit 1; }
B=$TOP/build
mkdir -p "$B/vm"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
# Two loops side by side (two harness settings) share the build: one
# prepares it while the other waits, and each takes its own copy.
(
	flock 9
	"$TOP/scripts/prepare-vm.sh" "$K" "$IMG" "$MROOT" "$KDIR" >&2 &&
		cp -a "$B/ksft-$K" "$W/ksft" && cp "$B/src-$K/ip_vs_tw_resched.ko" "$W/"
) 9>"$B/.vm-loop-$K.lock" || { echo "vm-loop.sh: preparing $K failed" >&2; exit 1; }
T=$W/ksft/net/ipvs_tw_resched
# The loop, as one kselftest program; its own timeout is the loop's.
cat >"$T/zz_loop.sh" <<'EOF'
#!/bin/bash
cd "$(dirname "$0")"
f=0 runs=0 end=$(($(date +%s) + LOOP_SECS))
IFS=+ read -ra seq <<<"$LOOP_SEQ"
for ((i = 1; i <= LOOP_N; i++)); do
	(($(date +%s) < end)) || break
	for a in "${seq[@]}"; do
		s=$(date +%s)
		rc=0
		bash ./${a//,/ } >/tmp/loop.out 2>&1 || rc=$?
		runs=$((runs + 1))
		echo "# iteration $i [$a]: exit $rc $(($(date +%s) - s)) s; $(grep -o 'RESULT.*' /tmp/loop.out | head -n 1)"
		((rc == 0)) || f=$((f + 1))
		((rc == 0 && !LOOP_VERBOSE)) || sed 's/^/#   /' /tmp/loop.out
	done
done
echo "# $f of $runs runs failed"
((f == 0))
EOF
chmod +x "$T/zz_loop.sh"
echo "net/ipvs_tw_resched:zz_loop.sh" >"$W/ksft/kselftest-list.txt"
echo "timeout=$((SECS + 1800))" >"$T/settings"
MODROOT=$MROOT "$TOP/scripts/mkinitramfs.sh" "$K" "$W/ip_vs_tw_resched.ko" "$W/ksft" \
	"$W/init.cpio" >"$W/mk.log" 2>&1 || { tail -n 20 "$W/mk.log"; exit 1; }

seq=$(IFS=+; echo "$*")
echo "# vm-loop: $K, ${VM_ACCEL:-tcg,thread=single}, $N iterations or $SECS s of: $*"
VM_TIMEOUT=$((SECS + 2400)) VM_APPEND="LOOP_N=$N LOOP_SECS=$SECS LOOP_VERBOSE=$VERBOSE LOOP_SEQ=$seq KSFT_TIMEOUT=$((SECS + 1800)) ${VM_APPEND:-}" \
	"$TOP/scripts/vm-run.sh" "$K" "$IMG" "$W/init.cpio" "$B/vm/loop-$K-$$" zz_loop.sh |
	sed 's/^\[[^]]*\] //'
exit "${PIPESTATUS[0]}"
