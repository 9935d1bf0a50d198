#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Test fixture: rebuild ip_vs.ko and its schedulers from Debian's
# linux-source of the test kernel's version with the 4.6 - 5.8 reuse check
# put back: drop a SYN that matches a reusable entry whenever that entry
# uses conntrack and the packet carries any conntrack (upstream commit
# "ipvs: allow connection reuse for unconfirmed conntrack", v5.9, made it
# "only if the packet's conntrack is confirmed"). Most hosts that suffer the
# one-second delay run such kernels; this machine cannot boot them.
#
# usage: build-legacy-ipvs.sh KVER OUTDIR
# Output: OUTDIR/*.ko. Cached: rebuilt only when this script changes.
set -euo pipefail

KVER=$1
OUT=$2
KDIR=/lib/modules/$KVER/build
SERIES=$(echo "$KVER" | sed -E 's/^([0-9]+\.[0-9]+).*/\1/')
TARBALL=/usr/src/linux-source-$SERIES.tar.xz
STAMP=$OUT/.stamp
KEY="$(sha1sum "$0" | cut -d' ' -f1) $KVER"

if [[ -f $STAMP && $(cat "$STAMP") == "$KEY" ]]; then
	exit 0
fi
[[ -f $TARBALL ]] || { echo "missing $TARBALL (package linux-source-$SERIES)" >&2; exit 1; }
[[ -d $KDIR ]] || { echo "missing $KDIR (linux-headers-$KVER)" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
tar -C "$WORK" -xf "$TARBALL" --strip-components=4 \
	"linux-source-$SERIES/net/netfilter/ipvs"
SRC=$WORK
CORE=$SRC/ip_vs_core.c

grep -q 'ip_vs_conn_uses_old_conntrack(cp, skb)' "$CORE" ||
	{ echo "ip_vs_core.c has no v5.9 reuse check to revert" >&2; exit 1; }

# The helper from v4.6 (commit d752c3645717, "ipvs: allow rescheduling of
# new connections when port reuse is detected"), renamed so it cannot clash.
python3 - "$CORE" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
helper = '''
/* ip_vs_tw_resched test fixture: the 4.6 - 5.8 reuse check. */
static inline bool legacy_conn_uses_conntrack(struct ip_vs_conn *cp,
					      struct sk_buff *skb)
{
#ifdef CONFIG_IP_VS_NFCT
	enum ip_conntrack_info ctinfo;

	if (!(cp->flags & IP_VS_CONN_F_NFCT))
		return false;
	if (nf_ct_get(skb, &ctinfo))
		return true;
#endif
	return false;
}
'''
anchor = 'static inline bool is_new_conn_expected('
assert anchor in s
s = s.replace(anchor, helper + '\n' + anchor, 1)
s = s.replace('ip_vs_conn_uses_old_conntrack(cp, skb)',
              'legacy_conn_uses_conntrack(cp, skb)')
open(p, 'w').write(s)
PY
echo 'MODULE_INFO(legacy_reuse_check, "4.6-5.8");' >> "$CORE"

echo "building legacy ip_vs for $KVER ..."
make -s -C "$KDIR" M="$SRC" modules >"$WORK/build.log" 2>&1 ||
	{ cat "$WORK/build.log" >&2; exit 1; }
mkdir -p "$OUT"
rm -f "$OUT"/*.ko
cp "$SRC"/*.ko "$OUT"/
echo "$KEY" > "$STAMP"
echo "legacy ip_vs for $KVER: $(ls "$OUT" | wc -l) modules in $OUT"
