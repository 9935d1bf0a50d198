#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make check": the module built against KDIR's headers with W=1 and
# sparse (C=1); any warning or error fails, and so does a build that
# fails. The build's log is printed; lines starting "check: " say what was
# done in place of a kernel's own tool. Two of an old kernel's tools cannot
# judge what this machine's Perl and GCC give them, and are handled here
# without hiding a warning of the module's:
#
#  - kernel-doc: W=1 runs the kernel's scripts/kernel-doc on our sources.
#    Where that script does not run at all (RHEL 8.7's: a backported line
#    uses an undeclared $args, which its own "use strict" refuses in any
#    Perl; 7.x headers packages carry none and Kbuild skips it for
#    external modules), the newest linux-source's kernel-doc checks them
#    in its place, with the same "-none" W=1 uses.
#  - objtool older than "objtool: Support GCC 9 cold subfunction naming
#    scheme" (v5.1; RHEL 8's has it not) knows GCC 8's "f.cold.N" only.
#    GCC 9 and later call the unlikely part split off a function "f.cold",
#    which such an objtool takes for a function of its own: it warns on
#    f.cold() and on f()'s jump into it ("sibling call from callable
#    instruction with modified stack frame"). Those lines are dropped only
#    when the object shows them to be that: f.cold and f are functions of
#    the object, and the instruction at f+offset jumps into f.cold. Every
#    other objtool line fails the check. objtool that cannot run (no
#    libelf headers: Kbuild then skips stack validation) fails it too.
#
# usage: check.sh KDIR SRC     SRC: a tree with Kbuild, built in place
# env:   TWR_KERNELDOC  the kernel-doc to use where the kernel's own does
#                       not run (default: extracted from the newest
#                       /usr/src/linux-source-*.tar.xz into
#                       $TWR_CACHE/linux-scripts-SERIES, or into
#                       SRC/build/ when TWR_CACHE is not set)
set -uo pipefail

KDIR=$1 SRC=$2
LOG=$SRC/.check.log
cd "$SRC" || exit 1

# The kernel's kernel-doc runs if it can read a file with nothing to say.
kdoc_args=()
empty=$(mktemp --suffix=.c)
echo 'int twr_kdoc_probe;' >"$empty"
if ! kdoc_err=$(cd "$KDIR" && ./scripts/kernel-doc -none "$empty" 2>&1); then
	kd=${TWR_KERNELDOC:-}
	if [[ -z $kd ]]; then
		tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1)
		if [[ -z $tarball ]]; then
			rm -f "$empty"
			echo "make check: $KDIR/scripts/kernel-doc does not run, and no /usr/src/linux-source-*.tar.xz to take one from (or set TWR_KERNELDOC)" >&2
			exit 1
		fi
		series=$(basename "$tarball" .tar.xz)
		series=${series#linux-source-}
		dir=${TWR_CACHE:-$SRC/build}/linux-scripts-$series
		kd=$dir/scripts/kernel-doc
		if [[ ! -e $kd ]]; then
			mkdir -p "$dir" && tar -C "$dir" -xf "$tarball" --strip-components=1 \
				"linux-source-$series/scripts/kernel-doc" ||
				{ rm -f "$empty"; echo "make check: cannot extract kernel-doc from $tarball" >&2; exit 1; }
		fi
	fi
	if ! perl "$kd" -none "$empty" >/dev/null 2>&1; then
		rm -f "$empty"
		echo "make check: $kd does not run either" >&2
		exit 1
	fi
	if [[ -e $KDIR/scripts/kernel-doc ]]; then
		why=$(head -n 1 <<<"$kdoc_err")
	else
		why="no scripts/kernel-doc in these headers"
	fi
	# Where W=1 runs the kernel's own (under Kbuild's "set -e"), for our
	# sources only: not for Kbuild's generated .mod.c and the like.
	ours=$(cd "$SRC" && ls -- *.c | grep -v '\.mod\.c$' | tr '\n' ' ')
	kdoc_args=("cmd_checkdoc=\$(if \$(filter $ours,\$(notdir \$<)),perl $kd -none \$< ; echo '  KDOC    \$<' ;)")
	kdoc_note="check: kernel-doc: the kernel's own does not run (${why:-no output}); $kd checked our sources"
fi
rm -f "$empty"

# From clean: an object already built would not be compiled, or checked.
rc=0
make -C "$KDIR" M="$SRC" clean >/dev/null 2>&1
make -C "$KDIR" M="$SRC" W=1 C=1 "${kdoc_args[@]}" modules >"$LOG.raw" 2>&1 || rc=$?

# sym OBJ NAME: "VALUE SIZE SECTION" of function NAME in OBJ (hex value,
# decimal size, section name), nothing if there is none.
sym() {
	local v s ndx

	read -r v s ndx < <(readelf -sW "$1" 2>/dev/null |
		awk -v n="$2" '$8 == n && $4 == "FUNC" { print $2, $3, $7; exit }')
	[[ -n ${ndx:-} ]] || return 1
	echo "$v $s $(readelf -SW "$1" | sed -nE "s/^ *\[ *$ndx\] ([^ ]+) .*/\1/p")"
}

# jumps_into_cold OBJ F OFF: the instruction at F+OFF is a jump into F.cold.
jumps_into_cold() {
	local obj=$1 f=$2 off=$3 fv fs fsec cv cs csec addr insn

	read -r fv fs fsec < <(sym "$obj" "$f") || return 1
	read -r cv cs csec < <(sym "$obj" "$f.cold") || return 1
	addr=$(printf '%x' $((0x$fv + 0x$off)))
	# The instruction and the relocations under it, up to the next one.
	insn=$(objdump -dr --disassemble="$f" "$obj" |
		awk -v a="$addr" '
			$1 == a ":" { on = 1; print; next }
			on && /^ +[0-9a-f]+:\t/ { exit }
			on { print }')
	grep -qE "^ *$addr:"$'\t'"([0-9a-f]{2} )+ *"$'\t'"j[a-z]+ " <<<"$insn" || return 1
	grep -qF "<$f.cold" <<<"$insn" && return 0
	# A rel32 field ends the jump: its target is symbol + addend + 4.
	local kind t add
	while read -r _ kind t; do
		[[ $kind == R_X86_64_PC32 || $kind == R_X86_64_PLT32 ]] || continue
		add=0
		if [[ $t =~ ^(.+)([-+])0x([0-9a-f]+)$ ]]; then
			t=${BASH_REMATCH[1]}
			add=$((${BASH_REMATCH[2]}0x${BASH_REMATCH[3]}))
		fi
		[[ $t == "$f.cold" ]] && return 0
		[[ $t == "$csec" ]] && ((add + 4 >= 0x$cv && add + 4 < 0x$cv + cs)) && return 0
	done < <(grep -E $'^\t+[0-9a-f]+: R_' <<<"$insn")
	return 1
}

dropped=0
: >"$LOG"
while IFS= read -r line; do
	if [[ $line =~ ^(.+):\ warning:\ objtool:\ ([A-Za-z0-9_.]+)\(\)\+0x([0-9a-f]+):\ (.*)$ ]]; then
		obj=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} off=${BASH_REMATCH[3]} msg=${BASH_REMATCH[4]}
		# objtool ran on .tmp_X.o, which modversions made X.o.
		[[ -e $obj ]] || obj=$(dirname "$obj")/$(basename "$obj" | sed 's/^\.tmp_//')
		if [[ $f == *.cold ]] && sym "$obj" "$f" >/dev/null && sym "$obj" "${f%.cold}" >/dev/null; then
			dropped=$((dropped + 1))
			continue
		fi
		if [[ $msg == "sibling call from callable instruction with modified stack frame" ]] &&
			jumps_into_cold "$obj" "$f" "$off"; then
			dropped=$((dropped + 1))
			continue
		fi
	fi
	echo "$line" >>"$LOG"
done <"$LOG.raw"
rm -f "$LOG.raw"
[[ -n ${kdoc_note:-} ]] && echo "$kdoc_note" >>"$LOG"
((dropped)) && echo "check: objtool: $dropped warnings about GCC's split-off .cold parts left out (this objtool predates GCC 9's f.cold names)" >>"$LOG"

cat "$LOG"
if ((rc)); then
	echo "make check: build failed ($rc)" >&2
	exit 1
fi
if grep -q 'Cannot use CONFIG_STACK_VALIDATION' "$LOG"; then
	echo "make check: objtool did not run (install libelf-dev)" >&2
	exit 1
fi
if grep -qE 'warning:|error:' "$LOG"; then
	echo "make check: warnings" >&2
	exit 1
fi
exit 0
