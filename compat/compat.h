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

#endif /* _TWR_COMPAT_H */
