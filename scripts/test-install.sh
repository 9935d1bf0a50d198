#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side install tests for one kernel release (its headers installed;
# it need not be running): make install / uninstall, DKMS install /
# uninstall, and what modinfo says. One result line per check; exit 1 if
# any failed. Leaves nothing installed.
#
# usage: test-install.sh KVER
set -uo pipefail

K=$1
TOP=$(cd "$(dirname "$0")/.." && pwd)
LOG=$TOP/build/install-$K.log
VER=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$TOP/dkms.conf")
rc=0
: >"$LOG"

ok() { echo "ok $1"; }
notok() { echo "not ok $1"; tail -n 20 "$LOG" | sed 's/^/#   /'; rc=1; }
path_of() { modinfo -k "$K" -F filename ip_vs_tw_resched 2>/dev/null; }

# A private copy, so a build here cannot clash with other builds.
SRC=$(mktemp -d)
trap 'rm -rf "$SRC"' EXIT
make -s -C "$TOP" export-src DEST="$SRC"

# make install / uninstall
if make -s -C "$SRC" KVER="$K" install >>"$LOG" 2>&1 &&
	[[ $(path_of) == /lib/modules/$K/updates/ip_vs_tw_resched.ko* ]]; then
	ok "install/make-install $K"
else
	notok "install/make-install $K (modinfo path '$(path_of)')"
fi

# What modinfo tells an operator.
info=$(modinfo -k "$K" ip_vs_tw_resched 2>>"$LOG")
missing=
for want in "^version: *$VER\$" "^description: *IPVS: reschedule reused" \
	"^depends: .*ip_vs" "^depends: .*nf_conntrack" "^license: *GPL" \
	"^parm: *resched_mode:" "^parm: *timeout_time_wait:" "^parm: *timeout_close:"; do
	grep -qE "$want" <<<"$info" || missing+=" '$want'"
done
if [[ -z $missing ]]; then
	ok "install/modinfo $K (version $VER, parameters, depends ip_vs nf_conntrack)"
else
	echo "$info" >>"$LOG"
	notok "install/modinfo $K: missing$missing"
fi

# The example files must name parameters and sysctls the module has.
bad=
params=$(modinfo -k "$K" -F parm ip_vs_tw_resched 2>/dev/null | cut -d: -f1)
for p in $(sed -n 's/^options ip_vs_tw_resched //p' "$TOP"/examples/modprobe.d/*.conf |
	tr ' ' '\n' | cut -d= -f1); do
	grep -qx "$p" <<<"$params" || bad+=" parameter:$p"
done
for k in $(sed -n 's/^net\.ipv4\.vs\.tw_resched\.\([a-z_]*\).*/\1/p' "$TOP"/examples/sysctl.d/*.conf); do
	grep -qE "\"$k\"|TWR_TIMEOUT_SYSCTL\(${k#timeout_}," "$TOP/ip_vs_tw_resched.c" || bad+=" sysctl:$k"
done
if [[ -z $bad ]]; then
	ok "install/examples $K (modprobe.d parameters, sysctl.d names exist)"
else
	notok "install/examples $K: unknown$bad"
fi

if make -s -C "$SRC" KVER="$K" uninstall >>"$LOG" 2>&1 && [[ -z $(path_of) ]]; then
	ok "install/make-uninstall $K"
else
	notok "install/make-uninstall $K"
fi

# DKMS
if make -s -C "$SRC" KVER="$K" dkms-install >>"$LOG" 2>&1 &&
	dkms status -m ip_vs_tw_resched -v "$VER" -k "$K" | grep -q installed &&
	[[ $(path_of) == /lib/modules/$K/updates/dkms/ip_vs_tw_resched.ko* ]]; then
	ok "install/dkms-install $K"
else
	notok "install/dkms-install $K (modinfo path '$(path_of)')"
fi
if make -s -C "$SRC" KVER="$K" dkms-uninstall >>"$LOG" 2>&1 && [[ -z $(path_of) ]] &&
	! dkms status -m ip_vs_tw_resched | grep -q .; then
	ok "install/dkms-uninstall $K"
else
	notok "install/dkms-uninstall $K"
fi
exit $rc
