/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ip_vs_tw_resched - per-network-namespace state.
 */
#ifndef _IP_VS_TW_RESCHED_H
#define _IP_VS_TW_RESCHED_H

#include <linux/percpu.h>
#include <linux/sysctl.h>
#include <net/ip_vs.h>

/* Bits of net.ipv4.vs.tw_resched.resched_mode: which kinds of entry the
 * module makes drop-free when IPVS reschedules a SYN that meets one. An
 * entry can be of several kinds (a TIME_WAIT entry of a drained server is
 * TIME_WAIT/CLOSE and drained); it is handled if any of its bits is set.
 */
#define TWR_MODE_TW_CLOSE	0x1	/* TIME_WAIT and CLOSE entries */
#define TWR_MODE_FIN_WAIT	0x2	/* DR/TUN FIN_WAIT (no output seen) */
#define TWR_MODE_NODEST		0x4	/* drained (weight 0) or removed server */
#define TWR_MODE_ALL		(TWR_MODE_TW_CLOSE | TWR_MODE_FIN_WAIT | \
				 TWR_MODE_NODEST)

/**
 * enum twr_counter - what became of a SYN that met an IPVS entry
 * @TWR_CNT_RESCHED: IPVS would have rescheduled it with a drop; its copy,
 *	sent through the hooks again, reached IPVS at once instead
 * @TWR_CNT_CT_REMOVED: stale conntracks the module deleted for such SYNs
 * @TWR_CNT_RESEND_LOST: copies sent again that did not reach IPVS: a rule,
 *	routing or a queue took them on the way, as it would have taken the
 *	client's retransmit
 * @TWR_CNT_NO_DROP: IPVS rescheduled it without a drop by itself (the SYN
 *	carries a fresh conntrack, as after conntrack's own reopen of a
 *	FIN-closed flow, or none): nothing to do
 * @TWR_CNT_PROBE: left to IPVS and watched, while the module did not yet
 *	know whether this IPVS reschedules a drained server's entries with
 *	conn_reuse_mode=0 (see twr_probe_learn())
 * @TWR_CNT_SKIP_PERSISTENT: entry controlled by a persistence template;
 *	IPVS keeps it on its server (no drop)
 * @TWR_CNT_SKIP_FTP_DATA: entry controlled by an FTP control connection;
 *	IPVS keeps it on its server (no drop)
 * @TWR_CNT_SKIP_HAS_CHILDREN: entry controls live connections; IPVS keeps
 *	it on its server (no drop)
 * @TWR_CNT_SKIP_REUSE_OFF: conn_reuse_mode keeps IPVS from rescheduling
 *	this entry; the SYN goes to the old server (no drop)
 * @TWR_CNT_SKIP_POLICY: IPVS drops the SYN; resched_mode of this
 *	namespace leaves it so
 * @TWR_CNT_SKIP_CONNTRACK: IPVS drops the SYN: it met its conntrack in the
 *	reply direction, or a duplicate of it confirmed a new one meanwhile
 * @TWR_CNT_SKIP_NO_COPY: IPVS drops the SYN: the module has no copy of it
 *	(memory, or the entry changed between the SYN's arrival and IPVS)
 * @TWR_CNT_MAX: number of counters
 */
enum twr_counter {
	TWR_CNT_RESCHED,
	TWR_CNT_CT_REMOVED,
	TWR_CNT_RESEND_LOST,
	TWR_CNT_NO_DROP,
	TWR_CNT_PROBE,
	TWR_CNT_SKIP_PERSISTENT,
	TWR_CNT_SKIP_FTP_DATA,
	TWR_CNT_SKIP_HAS_CHILDREN,
	TWR_CNT_SKIP_REUSE_OFF,
	TWR_CNT_SKIP_POLICY,
	TWR_CNT_SKIP_CONNTRACK,
	TWR_CNT_SKIP_NO_COPY,
	TWR_CNT_MAX
};

struct twr_stats {
	unsigned long cnt[TWR_CNT_MAX];
};

/**
 * struct twr_net - per-namespace data, in net_generic()
 * @resched_mode: TWR_MODE_* bits, written by sysctl, read by the hooks
 * @stats: per-CPU counters
 * @tcp_timeouts: IPVS's own TCP timeout table of this namespace, in
 *	jiffies, indexed by IP_VS_TCP_S_*; the sysctls read and write it
 *	directly so they always show the live value, whoever set it
 * @tmo_orig: IPVS's value of a state before our first write to it
 * @tmo_set: states (bit IP_VS_TCP_S_*) this module wrote and owns: all
 *	but ESTABLISHED and FIN_WAIT, which ipvsadm --set writes too
 * @sysctl_hdr: our net.ipv4.vs.tw_resched directory
 * @sysctl_tbl: table registered in @sysctl_hdr
 */
struct twr_net {
	int resched_mode;
	struct twr_stats __percpu *stats;
	int *tcp_timeouts;
	int tmo_orig[IP_VS_TCP_S_LAST];
	unsigned long tmo_set;
	struct ctl_table_header *sysctl_hdr;
	struct ctl_table *sysctl_tbl;
};

#endif /* _IP_VS_TW_RESCHED_H */
