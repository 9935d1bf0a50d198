#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Debian package, as an operator uses it: make deb; apt-get install
# ./ip-vs-tw-resched-dkms_*.deb, which must build and install the module
# with DKMS for every installed kernel with headers; modinfo finds it;
# a kernel without IPVS is refused (BUILD_EXCLUSIVE_CONFIG); apt-get purge
# leaves nothing behind; the examples are all installed and the systemd
# units among them verify. One result line per check; exit 1 if any failed.
#
# usage: test-package.sh [DIR...]
#   DIR: directories of kernel packages (linux-image-*.deb,
#   linux-headers-*.deb); those not installed yet are installed for the
#   test (dpkg -i) and removed afterwards, so that DKMS sees those kernels
#   as installed too. (Packages with maintainer scripts would run them:
#   the shared test kernels have none.)
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
B=$TOP/build
LOG=$B/package.log
NAME=ip_vs_tw_resched
VER=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$TOP/dkms.conf")
PKG=ip-vs-tw-resched-dkms
rc=0 added=()
before=$(ls /lib/modules 2>/dev/null)
mkdir -p "$B"
: >"$LOG"

ok() { echo "ok package/$1"; }
notok() { echo "not ok package/$1"; tail -n 15 "$LOG" | sed 's/^/#   /'; rc=1; }
cleanup() {
	dpkg -s $PKG >/dev/null 2>&1 && apt-get purge -y -qq $PKG >>"$LOG" 2>&1
	((${#added[@]})) && dpkg -r "${added[@]}" >>"$LOG" 2>&1
	# depmod's files are all that is left of a kernel we brought in.
	for k in $(ls /lib/modules 2>/dev/null); do
		grep -qx "$k" <<<"$before" || rm -rf "/lib/modules/$k"
	done
	rm -rf "$B/fake-kernel" "$B/dkms-fake" "$B/sd-root"
}
trap cleanup EXIT

# What the module's own version strings say must agree.
mv=$(sed -n 's/^MODULE_VERSION("\(.*\)");/\1/p' "$TOP/ip_vs_tw_resched.c")
cv=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version 2>/dev/null)
if [[ $mv == "$VER" && $cv == "$VER" ]]; then
	ok "versions (module, dkms.conf, debian/changelog: $VER)"
else
	echo "module $mv, dkms.conf $VER, changelog $cv" >>"$LOG"
	notok "versions (module $mv, dkms.conf $VER, debian/changelog $cv)"
fi

if make -s -C "$TOP" deb >>"$LOG" 2>&1 && deb=$(ls "$B"/deb/${PKG}_${VER}_all.deb 2>/dev/null); then
	ok "build (make deb: $(basename "$deb"))"
else
	notok build
	exit 1
fi
if ! command -v lintian >/dev/null; then
	notok "lintian (not installed: scripts/deps.sh installs it)"
elif lint=$(lintian --no-tag-display-limit "$deb" 2>&1 | grep -E '^[EW]: '); then
	echo "$lint" >>"$LOG"
	notok "lintian: $(wc -l <<<"$lint") errors/warnings"
else
	ok "lintian (no errors or warnings)"
fi

for d in "$@"; do
	for h in "$d"/linux-image-*.deb "$d"/linux-headers-*.deb; do
		[[ -e $h ]] || continue
		p=$(dpkg-deb -f "$h" Package)
		dpkg -s "$p" >/dev/null 2>&1 && continue
		dpkg -i "$h" >>"$LOG" 2>&1 && added+=("$p")
	done
done
((${#added[@]})) && echo "# kernel packages installed for this test (removed after it): ${added[*]}"

kernels=()
for m in /lib/modules/*/build; do
	[[ -e $m/Makefile ]] && kernels+=("$(basename "$(dirname "$m")")")
done

if apt-get install -y -qq "$deb" >>"$LOG" 2>&1; then
	ok "install (apt-get install ./$(basename "$deb"))"
else
	notok install
	exit 1
fi
# The examples as installed: every file of examples/ (executables still
# executable), and the metrics service and timer verified by systemd with
# the script where the README installs it.
ex=/usr/share/doc/$PKG/examples sd=$B/sd-root bad=
while read -r f; do
	if [[ -f $ex/$f ]]; then
		[[ -x $TOP/examples/$f && ! -x $ex/$f ]] && bad+=" $f (not executable)"
	elif [[ ! -f $ex/$f.gz ]]; then
		bad+=" $f (missing)"
	fi
done < <(cd "$TOP/examples" && find . -type f | sed 's|^\./||' | sort)
rm -rf "$sd"
mkdir -p "$sd/etc/systemd/system" "$sd/usr/local/sbin" "$sd/lib/systemd"
cp -a /lib/systemd/system "$sd/lib/systemd/"
cp "$ex"/prometheus/*.service "$ex"/prometheus/*.timer "$sd/etc/systemd/system/" 2>>"$LOG"
install -m 755 "$ex/prometheus/ip_vs_tw_resched-metrics" "$sd/usr/local/sbin/" 2>>"$LOG"
if ! out=$(systemd-analyze verify --root="$sd" /etc/systemd/system/ip_vs_tw_resched-metrics.timer \
	/etc/systemd/system/ip_vs_tw_resched-metrics.service 2>&1); then
	echo "$out" >>"$LOG"
	bad+=" systemd-analyze verify: $(head -n 1 <<<"$out")"
fi
if [[ -z $bad ]]; then
	ok "examples ($(cd "$TOP/examples" && find . -type f | wc -l) files in $ex; the metrics timer and service verify)"
else
	notok "examples:$bad"
fi

for k in "${kernels[@]}"; do
	st=$(dkms status -m $NAME -v "$VER" -k "$k" 2>/dev/null)
	f=$(modinfo -k "$k" -F filename $NAME 2>/dev/null)
	if [[ $st == *installed* && $f == /lib/modules/$k/updates/dkms/$NAME.ko* ]]; then
		ok "dkms/$k (built and installed: $f)"
	else
		echo "dkms status: '$st'; modinfo: '$f'" >>"$LOG"
		notok "dkms/$k (status '$st', modinfo '$f')"
	fi
done

# A kernel without IPVS: the headers of the first kernel, its .config
# without CONFIG_IP_VS, built in a DKMS tree of its own (the system's is
# not touched).
k0=${kernels[0]}
fake=$B/fake-kernel dt=$B/dkms-fake
rm -rf "$fake" "$dt"
mkdir -p "$dt/tree" "$dt/src"
cp -as "$(readlink -f "/lib/modules/$k0/build")" "$fake" 2>>"$LOG"
rm -f "$fake/.config"
grep -v '^CONFIG_IP_VS=' "$(readlink -f "/lib/modules/$k0/build")/.config" >"$fake/.config"
cp -r /usr/src/$NAME-"$VER" "$dt/src/"
out=$(dkms --dkmstree "$dt/tree" --sourcetree "$dt/src" add -m $NAME -v "$VER" 2>&1 &&
	dkms --dkmstree "$dt/tree" --sourcetree "$dt/src" build -m $NAME -v "$VER" \
		-k "$k0" --kernelsourcedir "$fake" 2>&1)
xrc=$?
echo "$out" >>"$LOG"
if ((xrc != 0)) && grep -qi 'BUILD_EXCLUSIVE' <<<"$out"; then
	ok "build_exclusive (a kernel without CONFIG_IP_VS refused, dkms exit $xrc)"
else
	notok "build_exclusive (dkms exit $xrc)"
fi

if apt-get purge -y -qq $PKG >>"$LOG" 2>&1; then
	left=$(ls -d /usr/src/$NAME-* /var/lib/dkms/$NAME /lib/modules/*/updates/dkms/$NAME.ko* 2>/dev/null)
	if [[ -z $left ]] && ! dpkg -s $PKG >/dev/null 2>&1; then
		ok "purge (nothing left: sources, DKMS tree, modules of ${#kernels[@]} kernels)"
	else
		echo "left: $left" >>"$LOG"
		notok "purge (left behind: $(tr '\n' ' ' <<<"$left"))"
	fi
else
	notok purge
fi
exit $rc
