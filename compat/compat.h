/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - every kernel API difference ip_vs_tw_resched has to bridge.
 *
 * Force-included by Kbuild. The TWR_HAVE_* macros come from probing the
 * headers of the kernel we build against (see Kbuild), so a distribution
 * kernel with a backport gets the right code whatever its version says.
 */
#ifndef _TWR_COMPAT_H
#define _TWR_COMPAT_H

/* v6.6: register_net_sysctl() became a macro taking ARRAY_SIZE() of its
 * table; duplicated per-netns tables need the explicit-size variant.
 */
#ifndef TWR_HAVE_REGISTER_NET_SYSCTL_SZ
#define register_net_sysctl_sz(net, path, table, size) \
	({ (void)(size); register_net_sysctl(net, path, table); })
#endif

/* v6.6: inet_sock bit fields became atomic flags. */
#ifdef TWR_HAVE_INET_FLAGS_NODEFRAG
#define twr_sk_nodefrag(sk)	inet_test_bit(NODEFRAG, sk)
#else
#define twr_sk_nodefrag(sk)	(inet_sk(sk)->nodefrag)
#endif

/* v6.11: sysctl handlers take a const struct ctl_table. */
#ifdef TWR_HAVE_CONST_CTL_TABLE
#define TWR_CTL_CONST const
#else
#define TWR_CTL_CONST
#endif

/* v5.8: sysctl handlers take a kernel buffer instead of a __user one. */
#ifdef TWR_HAVE_USER_SYSCTL_BUFFER
#define TWR_SYSCTL_BUF		void __user
#else
#define TWR_SYSCTL_BUF		void
#endif

/* v5.2: shared SYSCTL_ZERO / SYSCTL_ONE bounds. */
#ifndef TWR_HAVE_SYSCTL_ZERO
static int twr_compat_zero __maybe_unused, twr_compat_one __maybe_unused = 1;
#define SYSCTL_ZERO		((void *)&twr_compat_zero)
#define SYSCTL_ONE		((void *)&twr_compat_one)
#endif

/* v6.2: del_timer() became timer_delete() (6.1 has both). */
#ifndef TWR_HAVE_TIMER_DELETE
#define timer_delete(t)		del_timer(t)
#endif

/* A real server that was removed sits in the trash without its AVAILABLE
 * flag: dest->flags before the config flags moved to dest->cflags (2026,
 * in Debian's 6.1.192 and 6.12.117 by backport).
 */
#ifdef TWR_HAVE_DEST_CFLAGS
#define twr_dest_available(dest) \
	(READ_ONCE((dest)->cflags) & IP_VS_DEST_CF_AVAILABLE)
#else
#define twr_dest_available(dest) \
	(READ_ONCE((dest)->flags) & IP_VS_DEST_F_AVAILABLE)
#endif

/* IPVS's reuse rules, as they changed with its headers (see Kbuild):
 * which conntrack makes a rescheduled SYN a drop, and whether a SYN on an
 * unavailable server's entry is rescheduled with expire_nodest_conn
 * (before: dropped). sysctl_expire_nodest_conn() was private to
 * ip_vs_core.c until the latter.
 */
#ifdef TWR_HAVE_OLD_CONNTRACK_CHECK
#define TWR_OLD_CONNTRACK_CHECK	1
#else
#define TWR_OLD_CONNTRACK_CHECK	0
#endif

#ifdef TWR_HAVE_NODEST_RESCHED
#define TWR_NODEST_RESCHED	1
#define twr_expire_nodest_conn(ipvs)	sysctl_expire_nodest_conn(ipvs)
#else
#define TWR_NODEST_RESCHED	0
#ifdef CONFIG_SYSCTL
#define twr_expire_nodest_conn(ipvs)	READ_ONCE((ipvs)->sysctl_expire_nodest_conn)
#else
#define twr_expire_nodest_conn(ipvs)	((void)(ipvs), 0)
#endif
#endif

#ifdef TWR_HAVE_HOOKS_AFMASK
#define TWR_HOOKS_PER_SERVICE	1
#else
#define TWR_HOOKS_PER_SERVICE	0
#endif

#endif /* _TWR_COMPAT_H */
