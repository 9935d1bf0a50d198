#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The RPM (make rpm, rpm/ip-vs-tw-resched-dkms.spec), as far as a Debian
# host can take it: it builds; rpmlint finds nothing beyond what
# rpm/ip-vs-tw-resched-dkms.rpmlintrc accepts; its files are exactly the
# module's sources (make export-src), the Debian package's documents,
# examples/ and COPYING; and rpm itself installs, upgrades, reinstalls and
# erases it in a scratch root, where the scriptlets run against a stub
# dkms that records its calls and keeps a DKMS-like tree:
#
#   scratch root (rpm --root, its own rpm database; --nodeps: that
#   database has no dkms, gcc, make or /bin/sh)
#     /bin/sh            dash, then bash (RHEL's), and what the stub needs
#     /usr/sbin/dkms     the stub: /dkms-calls, /var/lib/dkms/MODULE/VER,
#                        /lib/modules/K/updates/dkms/MODULE.ko.xz
#     /lib/modules/6.12.0-ok        headers: the stub builds
#     /lib/modules/6.12.0-fails     headers: the build fails (exit 10)
#     /lib/modules/6.12.0-noipvs    headers: refused (exit 77, as dkms
#                                   does for BUILD_EXCLUSIVE_CONFIG)
#     /lib/modules/6.12.0-noheaders no headers: never built
#
# Real DKMS builds of the same sources and dkms.conf are what
# scripts/test-package.sh checks; nothing here needs a RHEL machine.
# One result line per check; exit 1 if any failed. KEEP=1 keeps
# build/rpm-test (the scratch root, each step's output and dkms calls);
# build/rpm-test.log has them all.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
B=$TOP/build
W=$B/rpm-test
LOG=$B/rpm-test.log
M=ip_vs_tw_resched
PKG=ip-vs-tw-resched-dkms
RC=$TOP/rpm/$PKG.rpmlintrc
VER=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$TOP/dkms.conf")
OLD=$VER~old
rc=0
mkdir -p "$B"
rm -rf "$W"
mkdir -p "$W"
: >"$LOG"

ok() { echo "ok rpm/$1"; }
notok() { echo "not ok rpm/$1"; tail -n 15 "$LOG" | sed 's/^/#   /'; rc=1; }
cleanup() {
	[[ -n ${KEEP:-} ]] || rm -rf "$W"
}
trap cleanup EXIT

if ! command -v rpmbuild >/dev/null; then
	notok "build (rpmbuild not installed: scripts/deps.sh installs rpm)"
	exit 1
fi
out=$(make -s -C "$TOP" rpm 2>&1)
echo "$out" >>"$LOG"
rpmf=$B/rpm/$PKG-$VER-1.noarch.rpm srpm=$B/rpm/$PKG-$VER-1.src.rpm
if [[ -f $rpmf && -f $srpm ]] && grep -qx "$rpmf" <<<"$out"; then
	ok "build (make rpm: $(basename "$rpmf"), $(basename "$srpm"))"
else
	notok "build (make rpm printed: $(tr '\n' ' ' <<<"$out"))"
	exit 1
fi

# The package's version is dkms.conf's, and the module's and the
# changelog's agree with it.
mv=$(sed -n 's/^MODULE_VERSION("\(.*\)");/\1/p' "$TOP/$M.c")
pv=$(rpm -qp --qf '%{VERSION}-%{RELEASE}' "$rpmf" 2>>"$LOG")
cl=$(rpm -qp --changelog "$rpmf" 2>>"$LOG" | head -n 1)
if [[ $pv == "$VER-1" && $mv == "$VER" && $cl == *" - $pv" ]]; then
	ok "version (dkms.conf, module, package, changelog: $VER)"
else
	echo "dkms.conf $VER, module $mv, package $pv, changelog '$cl'" >>"$LOG"
	notok "version (dkms.conf $VER, module $mv, package $pv, changelog '${cl##* - }')"
fi

# rpmlint with the accepted findings filtered: nothing may remain, and
# rpmlint itself reports a filter that matched nothing.
if ! command -v rpmlint >/dev/null; then
	notok "rpmlint (not installed: scripts/deps.sh installs it)"
else
	all=$(rpmlint "$rpmf" "$srpm" 2>&1)
	left=$(rpmlint -r "$RC" "$rpmf" "$srpm" 2>&1)
	echo "$left" >>"$LOG"
	if grep -qE ': [EW]: ' <<<"$left" || ! grep -qE '0 errors, 0 warnings' <<<"$left"; then
		notok "rpmlint: $(grep -cE ': [EW]: ' <<<"$left") errors/warnings beyond $(basename "$RC")"
	else
		acc=$(grep -oE ': [EW]: [a-z0-9-]+' <<<"$all" | sed 's/^: //' | sort | uniq -c |
			awk '{ printf "%s%s %s (%d)", n++ ? ", " : "", $2, $3, $1 }')
		ok "rpmlint (no errors or warnings; accepted in $(basename "$RC"): ${acc:-none})"
	fi
fi

# The file list, with owner and mode, against the tree: the sources as
# make export-src copies them, the documents debian/*.docs names,
# examples/ whole, COPYING. Executable only what is executable here.
mode() {	# mode TREE-PATH: the mode the package should give it
	if [[ -d $1 ]]; then
		printf '%s\n' drwxr-xr-x
	elif [[ -x $1 ]]; then
		printf '%s\n' -rwxr-xr-x
	else
		printf '%s\n' -rw-r--r--
	fi
}
want() {	# want TREE-PATH PACKAGE-PATH
	echo "$(mode "$1") root:root $2"
}
make -s -C "$TOP" export-src DEST="$W/src" >>"$LOG" 2>&1
doc=/usr/share/doc/$PKG
{
	want "$W/src" "/usr/src/$M-$VER"
	(cd "$W/src" && find . -mindepth 1) | while read -r f; do
		want "$W/src/$f" "/usr/src/$M-$VER/${f#./}"
	done
	want "$TOP/examples" "$doc"
	while read -r f; do
		want "$TOP/$f" "$doc/$(basename "$f")"
	done <"$TOP/debian/$PKG.docs"
	(cd "$TOP" && find examples) | while read -r f; do
		want "$TOP/$f" "$doc/$f"
	done
	want "$TOP/examples" /usr/share/licenses/$PKG
	want "$TOP/COPYING" /usr/share/licenses/$PKG/COPYING
} | sort -k3 >"$W/files.want"
rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]' "$rpmf" 2>>"$LOG" |
	sort -k3 >"$W/files.got"
if [[ -s $W/files.want ]] && diff "$W/files.want" "$W/files.got" >"$W/files.diff"; then
	ok "files ($(wc -l <"$W/files.got") paths: the sources of make export-src, the documents of debian/$PKG.docs, examples/, COPYING; root-owned, modes as in the tree)"
else
	cat "$W/files.diff" >>"$LOG"
	notok "files (differ from the tree: $(grep -c '^<' "$W/files.diff") missing or other, $(grep -c '^>' "$W/files.diff") extra or other)"
	sed 's/^/#   /' "$W/files.diff" | head -n 20
fi

# The scriptlets must be shell that both bash and dash parse.
syn=
for tag in POSTIN PREUN; do
	rpm -qp --qf "%{$tag}\n" "$rpmf" >"$W/$tag.sh" 2>>"$LOG"
	for sh in bash dash; do
		$sh -n "$W/$tag.sh" 2>>"$LOG" || syn+=" $tag/$sh"
	done
done
if [[ -z $syn && -s $W/POSTIN.sh && -s $W/PREUN.sh ]]; then
	ok "scriptlets-syntax (%post, %preun: bash -n, dash -n)"
else
	notok "scriptlets-syntax (${syn:-empty scriptlet})"
fi

# The previous release, to upgrade from: the same tree at version VER~old
# (lower than VER for rpm).
mkdir -p "$W/old"
tar -C "$TOP" --exclude=./build --exclude=./.git -cf - . | tar -C "$W/old" -xf -
sed -i "s/^PACKAGE_VERSION=.*/PACKAGE_VERSION=\"$OLD\"/" "$W/old/dkms.conf"
oldrpm=$W/old/build/rpm/$PKG-$OLD-1.noarch.rpm
make -s -C "$W/old" rpm >>"$LOG" 2>&1
if [[ ! -f $oldrpm ]]; then
	notok "old-build (the tree at $OLD, to upgrade from)"
	exit 1
fi

R=$W/root
KERNELS="6.12.0-fails 6.12.0-noheaders 6.12.0-noipvs 6.12.0-ok"
HEADERS="6.12.0-fails 6.12.0-noipvs 6.12.0-ok"
# The stub: each call on a line of /dkms-calls; add, build, install and
# remove fail where dkms would (not added, added twice, not built).
stub() {
	cat <<'EOF'
#!/bin/sh
echo "$*" >>/dkms-calls
act=$1
shift
m= v= k=
while [ $# -gt 0 ]; do
	case $1 in
	-m) m=$2; shift ;;
	-v) v=$2; shift ;;
	-k) k=$2; shift ;;
	esac
	shift
done
t=/var/lib/dkms/$m
case $act in
status)
	for d in "$t"/*; do
		[ -d "$d" ] || continue
		vv=${d##*/}
		n=0
		for i in "$d"/*/installed; do
			[ -d "$i" ] || continue
			kk=${i%/installed}
			echo "$m/$vv, ${kk##*/}, x86_64: installed"
			n=1
		done
		[ $n = 1 ] || echo "$m/$vv: added"
	done
	;;
add)
	[ -d "/usr/src/$m-$v" ] || { echo "stub: no /usr/src/$m-$v" >&2; exit 2; }
	[ ! -d "$t/$v" ] || { echo "stub: $m/$v already added" >&2; exit 3; }
	mkdir -p "$t/$v/source"
	;;
build)
	[ -d "$t/$v" ] || { echo "stub: $m/$v not added" >&2; exit 3; }
	r=0
	[ -f "/lib/modules/$k/build/stub-rc" ] && read -r r <"/lib/modules/$k/build/stub-rc"
	[ "$r" = 0 ] || exit "$r"
	mkdir -p "$t/$v/$k/built"
	;;
install)
	[ -d "$t/$v/$k/built" ] || { echo "stub: $m/$v not built for $k" >&2; exit 5; }
	mkdir -p "/lib/modules/$k/updates/dkms" "$t/$v/$k/installed"
	: >"/lib/modules/$k/updates/dkms/$m.ko.xz"
	;;
remove)
	[ -d "$t/$v" ] || { echo "stub: $m/$v not added" >&2; exit 3; }
	for i in "$t/$v"/*/installed; do
		[ -d "$i" ] || continue
		kk=${i%/installed}
		kk=${kk##*/}
		rm -f "/lib/modules/$kk/updates/dkms/$m.ko.xz"
		rmdir "/lib/modules/$kk/updates/dkms" "/lib/modules/$kk/updates"
	done
	rm -rf "$t/$v"
	rmdir "$t" 2>/dev/null
	;;
esac
exit 0
EOF
}
# mkroot SHELL: a fresh scratch root whose /bin/sh is SHELL.
mkroot() {
	local b l

	rm -rf "$R"
	mkdir -p "$R"/{bin,usr/sbin,usr/src,usr/share/doc,usr/share/licenses,var/tmp,tmp,dev,var/lib/dkms}
	mknod -m 666 "$R/dev/null" c 1 3
	cp "$(command -v "$1")" "$R/bin/sh"
	for b in mkdir rm rmdir; do
		cp "$(command -v $b)" "$R/bin/"
	done
	for l in $(ldd "$(command -v "$1")" "$R"/bin/{mkdir,rm,rmdir} | grep -oE '/[^ ]+\.so[^ ]*'); do
		cp -L --parents "$l" "$R/"
	done
	stub >"$R/usr/sbin/dkms"
	: >"$R/dkms-calls"
	chmod 755 "$R/usr/sbin/dkms"
	for k in $KERNELS; do
		mkdir -p "$R/lib/modules/$k"
	done
	rpm --root "$R" --dbpath /var/lib/rpm --initdb
}
headers() {	# headers: the three kernels with headers get them
	mkdir -p "$R"/lib/modules/{6.12.0-fails,6.12.0-noipvs,6.12.0-ok}/build
	touch "$R"/lib/modules/{6.12.0-fails,6.12.0-noipvs,6.12.0-ok}/build/Makefile
	echo 10 >"$R/lib/modules/6.12.0-fails/build/stub-rc"
	echo 77 >"$R/lib/modules/6.12.0-noipvs/build/stub-rc"
}
snapshot() {	# snapshot: every path in the root but rpm's database
	(cd "$R" && find . -path ./var/lib/rpm -prune -o -print | sort)
}
# step NAME RPM-ARGS...: run rpm in the root; its output in $W/NAME.out,
# the stub's calls since the last step, less status queries, in
# $W/NAME.calls; fails if rpm or a scriptlet failed.
step() {
	local n=$1

	shift
	: >"$R/dkms-calls"
	rpm --root "$R" --dbpath /var/lib/rpm "$@" >"$W/$n.out" 2>&1
	local r=$?
	grep -v '^rpm: \(RPM should not be used directly\|However assuming you know\)' "$W/$n.out" \
		>"$W/$n.o" && mv "$W/$n.o" "$W/$n.out"
	grep -v '^status ' "$R/dkms-calls" >"$W/$n.calls"
	{ echo "== $n: rpm $*, exit $r"; cat "$W/$n.out"; echo "-- dkms calls:"; cat "$R/dkms-calls"; } >>"$LOG"
	# rpm only warns when a scriptlet fails, and exits 0.
	grep -q 'scriptlet failed' "$W/$n.out" && r=1
	return $r
}
calls() {	# calls NAME EXPECTED-LINES: the stub's calls are exactly these
	if diff <(printf '%s\n' "${@:2}") "$W/$1.calls" >"$W/$1.diff"; then
		return 0
	fi
	sed 's/^/#   calls: /' "$W/$1.diff"
	return 1
}
says() {	# says NAME REGEX: rpm's output of that step has this line
	grep -qE "$2" "$W/$1.out" && return 0
	echo "#   $1: no line matching: $2"
	return 1
}
builds() {	# builds VERSION: the calls for each kernel with headers
	local k

	for k in $HEADERS; do
		echo "build -m $M -v $1 -k $k"
	done
	echo "install -m $M -v $1 -k 6.12.0-ok"
}
state() {	# state: what the stub's DKMS tree and module dirs hold
	(cd "$R" && find var/lib/dkms lib/modules -mindepth 1 | sort | tr '\n' ' ')
}

echo "# scratch roots: rpm --root with its own database, --nodeps (it has no dkms, gcc, make or /bin/sh); dkms is a stub that records its calls"
for sh in dash bash; do
	t="(/bin/sh = $sh)"
	mkroot $sh >>"$LOG" 2>&1
	before=$(snapshot)
	fail=

	# No kernel has headers: the module is added, nothing is built, and
	# the output says why and what to do.
	step noheaders -i --nodeps "$oldrpm" || fail+=" rpm/scriptlet-failed"
	calls noheaders "add -m $M -v $OLD" || fail+=" calls"
	says noheaders "no kernel has its headers installed: nothing built\. dnf install kernel-devel" || fail+=" message"
	step noheaders-erase -e $PKG || fail+=" erase-rpm/scriptlet-failed"
	calls noheaders-erase "remove -m $M -v $OLD --all" || fail+=" erase-calls"
	if [[ -z $fail && $(snapshot) == "$before" ]]; then
		ok "install-no-headers $t (dkms add only, the output says to install kernel-devel; erase: dkms remove, nothing left)"
	else
		notok "install-no-headers $t:$fail $(diff <(echo "$before") <(snapshot) | grep -c '^>') paths left"
	fi

	# Install: built for each kernel with headers; a failed build and a
	# refused kernel are reported, the transaction succeeds.
	headers
	before=$(snapshot)
	fail=
	step install -i --nodeps "$oldrpm" || fail+=" rpm/scriptlet-failed"
	calls install "add -m $M -v $OLD" "$(builds "$OLD")" || fail+=" calls"
	says install "^$M $OLD: built and installed for: 6\.12\.0-ok$" || fail+=" ok-line"
	says install "^$M $OLD: not built for: 6\.12\.0-noipvs \(no IPVS" || fail+=" refused-line"
	says install "^$M: ERROR: not installed for 6\.12\.0-fails \(dkms exit 10\): see the output above and /var/lib/dkms/$M/$OLD/build/make\.log; then: dkms install -m $M -v $OLD -k 6\.12\.0-fails$" ||
		fail+=" failed-line"
	rpm --root "$R" --dbpath /var/lib/rpm -V --nodeps $PKG >>"$LOG" 2>&1 || fail+=" rpm-V"
	[[ -f $R/lib/modules/6.12.0-ok/updates/dkms/$M.ko.xz ]] || fail+=" no-module"
	if [[ -z $fail ]]; then
		ok "install $t (built and installed for 6.12.0-ok; 6.12.0-noipvs refused and 6.12.0-fails failed, each said; rpm -V clean)"
	else
		notok "install $t:$fail"
	fi

	# Upgrade ($1 = 2): the new %post replaces the old version in DKMS;
	# the old %preun ($1 = 1) leaves DKMS alone.
	fail=
	step upgrade -U --nodeps "$rpmf" || fail+=" rpm/scriptlet-failed"
	calls upgrade "remove -m $M -v $OLD --all" "add -m $M -v $VER" "$(builds "$VER")" || fail+=" calls"
	[[ $(rpm --root "$R" --dbpath /var/lib/rpm -q $PKG 2>/dev/null) == "$PKG-$VER-1.noarch" ]] || fail+=" rpm-q"
	[[ ! -e $R/usr/src/$M-$OLD && -f $R/usr/src/$M-$VER/dkms.conf ]] || fail+=" sources"
	[[ $(state) == *"var/lib/dkms/$M/$VER/6.12.0-ok/installed "* && $(state) != *"$OLD"* ]] || fail+=" dkms-state"
	if [[ -z $fail ]]; then
		ok "upgrade $t ($OLD to $VER: old version removed from DKMS, new one built; old %preun did nothing)"
	else
		notok "upgrade $t:$fail"
	fi

	# Reinstall of the same version (what --rpm_safe_upgrade is for): the
	# module is rebuilt from the new files and stays registered.
	fail=
	step reinstall -U --replacepkgs --nodeps "$rpmf" || fail+=" rpm/scriptlet-failed"
	calls reinstall "remove -m $M -v $VER --all" "add -m $M -v $VER" "$(builds "$VER")" || fail+=" calls"
	[[ $(state) == *"var/lib/dkms/$M/$VER/6.12.0-ok/installed "* ]] || fail+=" dkms-state"
	if [[ -z $fail ]]; then
		ok "reinstall $t ($VER over $VER: removed, added and built again, still installed after the old %preun)"
	else
		notok "reinstall $t:$fail"
	fi

	# Erase ($1 = 0): removed from DKMS; the root is as before the install.
	fail=
	step erase -e $PKG || fail+=" rpm/scriptlet-failed"
	calls erase "remove -m $M -v $VER --all" || fail+=" calls"
	left=$(diff <(echo "$before") <(snapshot) | grep '^[<>]')
	if [[ -z $fail && -z $left ]]; then
		ok "erase $t (dkms remove; nothing left: sources, documents, DKMS tree, modules)"
	else
		echo "$left" >>"$LOG"
		notok "erase $t:$fail${left:+ left or missing: $(tr '\n' ' ' <<<"$left" | cut -c1-200)}"
	fi
done
exit $rc
