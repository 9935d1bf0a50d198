/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ip_vs_tw_resched - per-network-namespace state.
 */
#ifndef _IP_VS_TW_RESCHED_H
#define _IP_VS_TW_RESCHED_H

#include <linux/percpu.h>
#include <linux/sysctl.h>
#include <net/ip_vs.h>

/* Bits of net.ipv4.vs.tw_resched.resched_mode: which of the cases that
 * IPVS reschedules the module makes drop-free. The first two have the
 * meaning of the same bits of net.ipv4.vs.conn_reuse_mode.
 */
#define TWR_MODE_TW_CLOSE	0x1	/* TIME_WAIT and CLOSE entries */
#define TWR_MODE_FIN_WAIT	0x2	/* DR/TUN FIN_WAIT (no output seen) */
#define TWR_MODE_NODEST		0x4	/* drained (weight 0) or removed server */
#define TWR_MODE_ALL		(TWR_MODE_TW_CLOSE | TWR_MODE_FIN_WAIT | \
				 TWR_MODE_NODEST)

/**
 * enum twr_counter - what the hook did with a SYN that matched an IPVS entry
 * @TWR_CNT_RESCHED: rescheduled without a drop (old entry made reusable)
 * @TWR_CNT_CT_REMOVED: stale conntracks deleted for such SYNs
 * @TWR_CNT_SKIP_PERSISTENT: entry is controlled by a persistence template;
 *	IPVS never reschedules those (the client keeps its server)
 * @TWR_CNT_SKIP_FTP_DATA: entry is controlled by an FTP control connection
 * @TWR_CNT_SKIP_HAS_CHILDREN: entry controls live connections (FTP control);
 *	IPVS must not expire it
 * @TWR_CNT_SKIP_REUSE_OFF: net.ipv4.vs.conn_reuse_mode is 0 (or lacks the
 *	FIN_WAIT bit) so IPVS does not reschedule this entry at all
 * @TWR_CNT_SKIP_POLICY: resched_mode of this namespace leaves the case alone
 * @TWR_CNT_MAX: number of counters
 */
enum twr_counter {
	TWR_CNT_RESCHED,
	TWR_CNT_CT_REMOVED,
	TWR_CNT_SKIP_PERSISTENT,
	TWR_CNT_SKIP_FTP_DATA,
	TWR_CNT_SKIP_HAS_CHILDREN,
	TWR_CNT_SKIP_REUSE_OFF,
	TWR_CNT_SKIP_POLICY,
	TWR_CNT_MAX
};

struct twr_stats {
	unsigned long cnt[TWR_CNT_MAX];
};

/**
 * struct twr_net - per-namespace data, in net_generic()
 * @resched_mode: TWR_MODE_* bits, written by sysctl, read by the hook
 * @stats: per-CPU counters
 * @tcp_timeouts: IPVS's own TCP timeout table of this namespace, in
 *	jiffies, indexed by IP_VS_TCP_S_*; the sysctls read and write it
 *	directly so they always show the live value, whoever set it
 * @tmo_orig: IPVS's value of a state before our first write to it
 * @tmo_ours: the value we last wrote to a state, 0 if never; on unload a
 *	state still holding it gets @tmo_orig back, one changed since (by
 *	ipvsadm --set) keeps what the user set
 * @sysctl_hdr: our net.ipv4.vs.tw_resched directory
 * @sysctl_tbl: table registered in @sysctl_hdr
 */
struct twr_net {
	int resched_mode;
	struct twr_stats __percpu *stats;
	int *tcp_timeouts;
	int tmo_orig[IP_VS_TCP_S_LAST];
	int tmo_ours[IP_VS_TCP_S_LAST];
	struct ctl_table_header *sysctl_hdr;
	struct ctl_table *sysctl_tbl;
};

#endif /* _IP_VS_TW_RESCHED_H */
