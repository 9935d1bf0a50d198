// SPDX-License-Identifier: GPL-2.0
/*
 * ip_vs_tw_resched: reschedule a reused IPVS tuple without dropping the SYN.
 *
 * When a client (often behind SNAT) reuses a source port while IPVS still
 * holds the previous connection with that tuple in TIME_WAIT or CLOSE (or
 * FIN_WAIT for DR/TUN, or on a drained server), IPVS expires the old entry
 * and schedules the SYN afresh. With conntrack in use it can do so only if
 * the SYN carries a new, unconfirmed conntrack; when the SYN was attached to
 * the old flow's confirmed conntrack (v5.9+), or carries any conntrack while
 * the old entry uses conntrack (v4.6 - v5.8), IPVS drops it and the client
 * waits a full SYN retransmit timeout, one second, for every such connection.
 *
 * This module hooks in front of conntrack. For a SYN that IPVS is about to
 * reschedule, by IPVS's own rules, it deletes the stale conntrack of that
 * tuple, so conntrack gives the SYN a fresh one, and clears the old entry's
 * conntrack flag so the entry's expiry cannot delete the new flow's
 * conntrack. IPVS then schedules the SYN at once, to a possibly different
 * real server, and sets the reply direction of the new conntrack to it.
 *
 * Report: http://archive.linuxvirtualserver.org/html/lvs-users/2018-05/
 * Upstream reuse logic: net/netfilter/ipvs/ip_vs_core.c, ip_vs_in_hook().
 */

#define KMSG_COMPONENT "IPVS"
#define pr_fmt(fmt) KMSG_COMPONENT ": tw_resched: " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/sysctl.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_conntrack_core.h>
#include <net/netfilter/nf_conntrack_zones.h>
#include <net/ip_vs.h>

#include "ip_vs_tw_resched.h"

static unsigned int twr_net_id __read_mostly;

/* Serialises timeout writes with the bookkeeping that undoes them. */
static DEFINE_MUTEX(twr_mutex);

/* Namespaces holding our state now; shown in every namespace's /proc file
 * so that a leaked namespace (never torn down) can be seen.
 */
static atomic_t twr_netns_live = ATOMIC_INIT(0);

static int resched_mode = TWR_MODE_ALL;
module_param(resched_mode, int, 0444);
MODULE_PARM_DESC(resched_mode,
		 "net.ipv4.vs.tw_resched.resched_mode of the initial namespace at load (bits: 1 TIME_WAIT/CLOSE, 2 DR/TUN FIN_WAIT, 4 drained/removed server; default 7)");

/* Initial-namespace TCP timeouts at load, in seconds; 0 keeps IPVS's. */
static int twr_param_tmo[IP_VS_TCP_S_LAST];

#define TWR_TIMEOUT_PARAM(name, state)					\
	module_param_named(timeout_##name, twr_param_tmo[state], int, 0444); \
	MODULE_PARM_DESC(timeout_##name, "IPVS TCP " #name		\
			 " timeout (s) of the initial namespace at load; 0: keep IPVS's")

TWR_TIMEOUT_PARAM(established, IP_VS_TCP_S_ESTABLISHED);
TWR_TIMEOUT_PARAM(syn_sent, IP_VS_TCP_S_SYN_SENT);
TWR_TIMEOUT_PARAM(syn_recv, IP_VS_TCP_S_SYN_RECV);
TWR_TIMEOUT_PARAM(fin_wait, IP_VS_TCP_S_FIN_WAIT);
TWR_TIMEOUT_PARAM(time_wait, IP_VS_TCP_S_TIME_WAIT);
TWR_TIMEOUT_PARAM(close, IP_VS_TCP_S_CLOSE);
TWR_TIMEOUT_PARAM(close_wait, IP_VS_TCP_S_CLOSE_WAIT);
TWR_TIMEOUT_PARAM(last_ack, IP_VS_TCP_S_LAST_ACK);
TWR_TIMEOUT_PARAM(listen, IP_VS_TCP_S_LISTEN);
TWR_TIMEOUT_PARAM(synack, IP_VS_TCP_S_SYNACK);

static const char * const twr_counter_names[TWR_CNT_MAX] = {
	[TWR_CNT_RESCHED]		= "resched",
	[TWR_CNT_CT_REMOVED]		= "ct_removed",
	[TWR_CNT_SKIP_PERSISTENT]	= "skip_persistent",
	[TWR_CNT_SKIP_FTP_DATA]		= "skip_ftp_data",
	[TWR_CNT_SKIP_HAS_CHILDREN]	= "skip_has_children",
	[TWR_CNT_SKIP_REUSE_OFF]	= "skip_reuse_off",
	[TWR_CNT_SKIP_POLICY]		= "skip_policy",
};

static inline struct twr_net *twr_pernet(const struct net *net)
{
	return net_generic(net, twr_net_id);
}

/* Cheap reject: true only for an unfragmented TCP segment with SYN set
 * and ACK, RST and FIN clear. Anything else leaves the hook here.
 */
static bool twr_is_syn(int af, const struct sk_buff *skb)
{
	unsigned int thoff;
	u8 flags, _flags;
	const u8 *fp;

	if (af == AF_INET) {
		const struct iphdr *iph = ip_hdr(skb);

		if (iph->protocol != IPPROTO_TCP || ip_is_fragment(iph))
			return false;
		thoff = skb_network_offset(skb) + iph->ihl * 4;
	} else {
		const struct ipv6hdr *ip6h = ipv6_hdr(skb);

		/* Extension headers: let the full parser decide. */
		if (ip6h->nexthdr != IPPROTO_TCP)
			return ipv6_ext_hdr(ip6h->nexthdr);
		thoff = skb_network_offset(skb) + sizeof(*ip6h);
	}

	/* Byte 13 of the TCP header holds CWR ECE URG ACK PSH RST SYN FIN. */
	fp = skb_header_pointer(skb, thoff + 13, sizeof(_flags), &_flags);
	if (!fp)
		return false;
	flags = *fp & (TCPHDR_SYN | TCPHDR_ACK | TCPHDR_RST | TCPHDR_FIN);
	return flags == TCPHDR_SYN;
}

/* Same test as IPVS's is_new_conn() plus the header sanity conntrack's
 * tcp_error() would demand: SYN alone, at a TCP header that really is
 * there and whose data offset fits the segment.
 */
static bool twr_syn_header(const struct sk_buff *skb,
			   const struct ip_vs_iphdr *iph)
{
	struct tcphdr _th;
	const struct tcphdr *th;

	if (iph->protocol != IPPROTO_TCP || iph->fragoffs)
		return false;
	th = skb_header_pointer(skb, iph->len, sizeof(_th), &_th);
	if (!th || !th->syn || th->ack || th->rst || th->fin)
		return false;
	return th->doff >= sizeof(*th) / 4 &&
	       iph->len + th->doff * 4 <= skb->len;
}

/**
 * twr_classify() - would IPVS reschedule @cp for a new SYN, and may we help?
 * @ipvs: IPVS state of the packet's namespace
 * @mode: this namespace's resched_mode
 * @cp: IPVS entry the SYN matched
 *
 * Mirrors the rescheduling rules of ip_vs_in_hook(): a drained server
 * (weight 0) or a removed one when expire_nodest_conn is set, otherwise
 * is_new_conn_expected() under the live conn_reuse_mode. Entries that IPVS
 * never reschedules (controlled by a persistence template or an FTP control
 * connection) or must not expire (a controlling entry with children) are
 * left alone.
 *
 * Return: TWR_CNT_RESCHED to act, a TWR_CNT_SKIP_* reason to count, or
 * TWR_CNT_MAX when the SYN simply belongs to a live entry (a retransmit).
 */
static enum twr_counter twr_classify(struct netns_ipvs *ipvs, int mode,
				     const struct ip_vs_conn *cp)
{
	int reuse = sysctl_conn_reuse_mode(ipvs);
	struct ip_vs_dest *dest = cp->dest;
	bool reusable;
	int need;

	if (cp->protocol != IPPROTO_TCP)
		return TWR_CNT_MAX;

	if (sysctl_expire_nodest_conn(ipvs) && dest &&
	    (!atomic_read(&dest->weight) ||
	     !twr_dest_available(dest))) {
		need = TWR_MODE_NODEST;
	} else {
		reusable = cp->state == IP_VS_TCP_S_TIME_WAIT ||
			   cp->state == IP_VS_TCP_S_CLOSE;
		need = TWR_MODE_TW_CLOSE;
		if (!reusable && cp->state == IP_VS_TCP_S_FIN_WAIT &&
		    (cp->flags & IP_VS_CONN_F_NOOUTPUT)) {
			reusable = true;
			need = TWR_MODE_FIN_WAIT;
		}
		if (!reusable)
			return TWR_CNT_MAX;
		if (!(reuse & need))
			return TWR_CNT_SKIP_REUSE_OFF;
	}

	if (cp->control)
		return (cp->control->flags & IP_VS_CONN_F_TEMPLATE) ?
			TWR_CNT_SKIP_PERSISTENT : TWR_CNT_SKIP_FTP_DATA;
	if (atomic_read(&cp->n_control))
		return TWR_CNT_SKIP_HAS_CHILDREN;
	if (!(mode & need))
		return TWR_CNT_SKIP_POLICY;
	return TWR_CNT_RESCHED;
}

/* Delete the conntrack that the SYN's tuple would otherwise be attached to,
 * in the zone conntrack will use for it (a raw-table CT template may have
 * set one). Conntrack then creates a fresh, unconfirmed entry for the SYN.
 */
static bool twr_kill_stale_ct(struct net *net, const struct sk_buff *skb,
			      u8 pf)
{
	const struct nf_conntrack_zone *zone;
	struct nf_conntrack_tuple_hash *h;
	struct nf_conntrack_tuple tuple;
	struct nf_conntrack_zone tmp;
	enum ip_conntrack_info ctinfo;
	struct nf_conn *tmpl, *ct;
	bool killed = false;

	tmpl = nf_ct_get(skb, &ctinfo);
	if (tmpl && !nf_ct_is_template(tmpl))
		return false;	/* already tracked, or NOTRACK */
	if (!tmpl && ctinfo == IP_CT_UNTRACKED)
		return false;

	if (!nf_ct_get_tuplepr(skb, skb_network_offset(skb), pf, net, &tuple))
		return false;

	zone = nf_ct_zone_tmpl(tmpl, skb, &tmp);
	h = nf_conntrack_find_get(net, zone, &tuple);
	if (!h)
		return false;

	ct = nf_ct_tuplehash_to_ctrack(h);
	if (NF_CT_DIRECTION(h) == IP_CT_DIR_ORIGINAL)
		killed = nf_ct_delete(ct, 0, 0);
	nf_ct_put(ct);
	return killed;
}

static unsigned int twr_hook(void *priv, struct sk_buff *skb,
			     const struct nf_hook_state *state)
{
	struct net *net = state->net;
	struct netns_ipvs *ipvs;
	struct ip_vs_iphdr iph;
	struct ip_vs_conn *cp;
	enum twr_counter what;
	struct twr_net *tn;
	int af = state->pf;
	struct sock *sk;

	if (likely(!twr_is_syn(af, skb)))
		return NF_ACCEPT;

	/* Packets IPVS ignores (see ip_vs_in_hook()): not for this host,
	 * already handled by IPVS, raw sockets that skip defragmentation.
	 */
	if (skb->ipvs_property ||
	    (state->hook == NF_INET_PRE_ROUTING &&
	     skb->pkt_type != PACKET_HOST))
		return NF_ACCEPT;
	sk = skb_to_full_sk(skb);
	if (sk && state->hook == NF_INET_LOCAL_OUT && af == AF_INET &&
	    sk->sk_family == PF_INET && twr_sk_nodefrag(sk))
		return NF_ACCEPT;

	ipvs = net_ipvs(net);
	if (unlikely(!ipvs) || !READ_ONCE(ipvs->enable) ||
	    sysctl_backup_only(ipvs))
		return NF_ACCEPT;

	ip_vs_fill_iph_skb(af, skb, false, &iph);
	if (!twr_syn_header(skb, &iph))
		return NF_ACCEPT;

	cp = ip_vs_conn_in_get_proto(ipvs, af, skb, &iph);
	if (!cp)
		return NF_ACCEPT;

	/* A corrupt SYN must not end anybody's flow: verify the checksum,
	 * as conntrack does on receive, before anything is decided or
	 * counted. Only SYNs that met an entry pay for it, and conntrack
	 * reuses the result (skb->csum_valid). Locally generated packets
	 * carry no checksum yet and need none.
	 */
	if (state->hook == NF_INET_PRE_ROUTING &&
	    nf_checksum(skb, state->hook, iph.len, IPPROTO_TCP, af)) {
		__ip_vs_conn_put(cp);
		return NF_ACCEPT;
	}

	tn = twr_pernet(net);
	what = twr_classify(ipvs, READ_ONCE(tn->resched_mode), cp);
	if (what == TWR_CNT_RESCHED) {
		if (twr_kill_stale_ct(net, skb, state->pf))
			this_cpu_inc(tn->stats->cnt[TWR_CNT_CT_REMOVED]);
		/* As ip_vs_in_hook() does when it reschedules without a
		 * drop: the old entry's expiry must not delete, by tuple,
		 * the conntrack that now belongs to the new flow. Under
		 * cp->lock, which IPVS holds for its own flag updates
		 * (ip_vs_conn_fill_cport()), so none of them is lost.
		 */
		spin_lock_bh(&cp->lock);
		cp->flags &= ~IP_VS_CONN_F_NFCT;
		spin_unlock_bh(&cp->lock);
	}
	if (what != TWR_CNT_MAX)
		this_cpu_inc(tn->stats->cnt[what]);

	/* Not ip_vs_conn_put(): that would re-arm the old entry's timer. */
	__ip_vs_conn_put(cp);
	return NF_ACCEPT;
}

/* In front of conntrack (NF_IP_PRI_CONNTRACK, -200), after raw (-300) so
 * that NOTRACK and CT zone templates are already attached.
 */
static const struct nf_hook_ops twr_ops[] = {
	{
		.hook		= twr_hook,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= NF_IP_PRI_CONNTRACK - 1,
	},
	{
		.hook		= twr_hook,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_LOCAL_OUT,
		.priority	= NF_IP_PRI_CONNTRACK - 1,
	},
#ifdef CONFIG_IP_VS_IPV6
	{
		.hook		= twr_hook,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= NF_IP6_PRI_CONNTRACK - 1,
	},
	{
		.hook		= twr_hook,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_LOCAL_OUT,
		.priority	= NF_IP6_PRI_CONNTRACK - 1,
	},
#endif
};

/* /proc/net/ip_vs_tw_resched: "name value" lines. "active 1" tells a
 * script that reused TIME_WAIT/CLOSE tuples are rescheduled without a drop
 * in this namespace: our policy and IPVS's conn_reuse_mode both allow it.
 */
static int twr_stats_show(struct seq_file *seq, void *v)
{
	struct net *net = seq_file_single_net(seq);
	struct twr_net *tn = twr_pernet(net);
	unsigned long sum[TWR_CNT_MAX] = {};
	struct netns_ipvs *ipvs = net_ipvs(net);
	int cpu, i;

	seq_printf(seq, "active %d\n",
		   (READ_ONCE(tn->resched_mode) & TWR_MODE_TW_CLOSE) &&
		   (sysctl_conn_reuse_mode(ipvs) & 1));
	seq_printf(seq, "namespaces %d\n", atomic_read(&twr_netns_live));
	for_each_possible_cpu(cpu) {
		const struct twr_stats *s = per_cpu_ptr(tn->stats, cpu);

		for (i = 0; i < TWR_CNT_MAX; i++)
			sum[i] += READ_ONCE(s->cnt[i]);
	}
	for (i = 0; i < TWR_CNT_MAX; i++)
		seq_printf(seq, "%s %lu\n", twr_counter_names[i], sum[i]);
	return 0;
}

/* Timeouts are whole seconds, at least 1, and must fit IPVS's int
 * jiffies (also what ipvsadm's 32-bit values are bounded by).
 */
static int twr_timeout_max = INT_MAX / HZ;
static int twr_mode_max = TWR_MODE_ALL;

/* Write one state's timeout, remembering IPVS's value the first time.
 * Caller holds twr_mutex.
 */
static void twr_set_timeout(struct twr_net *tn, int state, int jiffies)
{
	lockdep_assert_held(&twr_mutex);
	if (!tn->tmo_ours[state])
		tn->tmo_orig[state] = READ_ONCE(tn->tcp_timeouts[state]);
	tn->tmo_ours[state] = jiffies;
	WRITE_ONCE(tn->tcp_timeouts[state], jiffies);
}

/* Give back to IPVS every state we changed and nobody changed since. */
static void twr_restore_timeouts(struct twr_net *tn)
{
	int s;

	mutex_lock(&twr_mutex);
	for (s = 0; s < IP_VS_TCP_S_LAST; s++) {
		if (tn->tmo_ours[s] &&
		    READ_ONCE(tn->tcp_timeouts[s]) == tn->tmo_ours[s])
			WRITE_ONCE(tn->tcp_timeouts[s], tn->tmo_orig[s]);
		tn->tmo_ours[s] = 0;
	}
	mutex_unlock(&twr_mutex);
}

/**
 * twr_timeout_sysctl() - net.ipv4.vs.tw_resched.timeout_<state>
 * @table: our entry; extra1 is the namespace's twr_net, extra2 the state
 * @write: set the timeout rather than show it
 * @buffer: user data
 * @lenp: its length
 * @ppos: file position
 *
 * Reads show IPVS's live value in seconds (so a change by ipvsadm --set is
 * visible); writes take 1 .. INT_MAX/HZ seconds and apply to entries that
 * enter the state afterwards. Anything else is refused with EINVAL and the
 * previous value stays.
 *
 * Return: 0 or a negative errno, as proc_dointvec_minmax().
 */
static int twr_timeout_sysctl(TWR_CTL_CONST struct ctl_table *table,
			      int write, TWR_SYSCTL_BUF *buffer, size_t *lenp,
			      loff_t *ppos)
{
	struct twr_net *tn = table->extra1;
	int state = (long)table->extra2;
	int val = READ_ONCE(tn->tcp_timeouts[state]) / HZ;
	struct ctl_table tmp = {
		.data	= &val,
		.maxlen	= sizeof(val),
		.extra1	= SYSCTL_ONE,
		.extra2	= &twr_timeout_max,
	};
	int ret;

	ret = proc_dointvec_minmax(&tmp, write, buffer, lenp, ppos);
	if (write && !ret) {
		mutex_lock(&twr_mutex);
		twr_set_timeout(tn, state, val * HZ);
		mutex_unlock(&twr_mutex);
	}
	return ret;
}

#define TWR_TIMEOUT_SYSCTL(name, state) {				\
	.procname	= "timeout_" #name,				\
	.maxlen		= sizeof(int),					\
	.mode		= 0644,						\
	.proc_handler	= twr_timeout_sysctl,				\
	.extra2		= (void *)(long)(state),			\
}

static const struct ctl_table twr_sysctl_template[] = {
	{
		.procname	= "resched_mode",
		.maxlen		= sizeof(int),
		.mode		= 0644,
		.proc_handler	= proc_dointvec_minmax,
		.extra1		= SYSCTL_ZERO,
		.extra2		= &twr_mode_max,
	},
	TWR_TIMEOUT_SYSCTL(established, IP_VS_TCP_S_ESTABLISHED),
	TWR_TIMEOUT_SYSCTL(syn_sent, IP_VS_TCP_S_SYN_SENT),
	TWR_TIMEOUT_SYSCTL(syn_recv, IP_VS_TCP_S_SYN_RECV),
	TWR_TIMEOUT_SYSCTL(fin_wait, IP_VS_TCP_S_FIN_WAIT),
	TWR_TIMEOUT_SYSCTL(time_wait, IP_VS_TCP_S_TIME_WAIT),
	TWR_TIMEOUT_SYSCTL(close, IP_VS_TCP_S_CLOSE),
	TWR_TIMEOUT_SYSCTL(close_wait, IP_VS_TCP_S_CLOSE_WAIT),
	TWR_TIMEOUT_SYSCTL(last_ack, IP_VS_TCP_S_LAST_ACK),
	TWR_TIMEOUT_SYSCTL(listen, IP_VS_TCP_S_LISTEN),
	TWR_TIMEOUT_SYSCTL(synack, IP_VS_TCP_S_SYNACK),
	{ }
};

static int twr_sysctl_init(struct net *net, struct twr_net *tn)
{
	size_t i, n = ARRAY_SIZE(twr_sysctl_template) - 1;
	struct ctl_table *tbl;

	tbl = kmemdup(twr_sysctl_template, sizeof(twr_sysctl_template),
		      GFP_KERNEL);
	if (!tbl)
		return -ENOMEM;
	tbl[0].data = &tn->resched_mode;
	for (i = 1; i < n; i++)
		tbl[i].extra1 = tn;

	/* As IPVS does: no knobs for namespaces of unprivileged users. */
	if (net->user_ns != &init_user_ns) {
		tbl[0].procname = NULL;
		n = 0;
	}

	tn->sysctl_hdr = register_net_sysctl_sz(net, "net/ipv4/vs/tw_resched",
						tbl, n);
	if (!tn->sysctl_hdr) {
		kfree(tbl);
		return -ENOMEM;
	}
	tn->sysctl_tbl = tbl;
	return 0;
}

static void twr_sysctl_exit(struct twr_net *tn)
{
	unregister_net_sysctl_table(tn->sysctl_hdr);
	kfree(tn->sysctl_tbl);
}

/* The values a namespace starts with: the module parameters for the
 * initial namespace; for every other namespace, a copy of what the initial
 * namespace was given through this module (parameters or sysctls) at the
 * time it is created. Docker and CNI create namespaces with nobody to
 * write their sysctls; they get the host's choice.
 */
static void twr_net_defaults(struct net *net, struct twr_net *tn)
{
	struct twr_net *host = twr_pernet(&init_net);
	int s;

	mutex_lock(&twr_mutex);
	if (net_eq(net, &init_net)) {
		tn->resched_mode = resched_mode;
		for (s = 0; s < IP_VS_TCP_S_LAST; s++)
			if (twr_param_tmo[s])
				twr_set_timeout(tn, s, twr_param_tmo[s] * HZ);
	} else {
		tn->resched_mode = READ_ONCE(host->resched_mode);
		for (s = 0; s < IP_VS_TCP_S_LAST; s++)
			if (host->tmo_ours[s])
				twr_set_timeout(tn, s, host->tmo_ours[s]);
	}
	mutex_unlock(&twr_mutex);
}

static int __net_init twr_net_init(struct net *net)
{
	struct twr_net *tn = twr_pernet(net);
	struct ip_vs_proto_data *pd;
	int ret;

	/* ip_vs's own pernet init ran before ours (we depend on it). */
	pd = ip_vs_proto_data_get(net_ipvs(net), IPPROTO_TCP);
	if (WARN_ON_ONCE(!pd || !pd->timeout_table))
		return -EOPNOTSUPP;
	tn->tcp_timeouts = pd->timeout_table;

	tn->stats = alloc_percpu(struct twr_stats);
	if (!tn->stats)
		return -ENOMEM;

	twr_net_defaults(net, tn);
	ret = twr_sysctl_init(net, tn);
	if (ret)
		goto err_stats;

	if (!proc_create_net_single("ip_vs_tw_resched", 0444, net->proc_net,
				    twr_stats_show, NULL)) {
		ret = -ENOMEM;
		goto err_sysctl;
	}

	/* Last: the hook may run as soon as it is registered. */
	ret = nf_register_net_hooks(net, twr_ops, ARRAY_SIZE(twr_ops));
	if (ret)
		goto err_proc;
	atomic_inc(&twr_netns_live);
	return 0;

err_proc:
	remove_proc_entry("ip_vs_tw_resched", net->proc_net);
err_sysctl:
	twr_sysctl_exit(tn);
err_stats:
	twr_restore_timeouts(tn);
	free_percpu(tn->stats);
	return ret;
}

static void __net_exit twr_net_exit(struct net *net)
{
	struct twr_net *tn = twr_pernet(net);

	atomic_dec(&twr_netns_live);
	/* Waits for hooks in flight: nothing touches tn after this. */
	nf_unregister_net_hooks(net, twr_ops, ARRAY_SIZE(twr_ops));
	remove_proc_entry("ip_vs_tw_resched", net->proc_net);
	twr_sysctl_exit(tn);
	twr_restore_timeouts(tn);
	free_percpu(tn->stats);
}

static struct pernet_operations twr_net_ops = {
	.init	= twr_net_init,
	.exit	= twr_net_exit,
	.id	= &twr_net_id,
	.size	= sizeof(struct twr_net),
};

static int __init twr_init(void)
{
	int ret, s;

	if (resched_mode < 0 || resched_mode > TWR_MODE_ALL) {
		pr_err("resched_mode=%d out of range 0..%d\n",
		       resched_mode, TWR_MODE_ALL);
		return -EINVAL;
	}
	for (s = 0; s < IP_VS_TCP_S_LAST; s++) {
		if (twr_param_tmo[s] < 0 || twr_param_tmo[s] > twr_timeout_max) {
			pr_err("timeout parameter %d s out of range 1..%d (0: keep IPVS's)\n",
			       twr_param_tmo[s], twr_timeout_max);
			return -EINVAL;
		}
	}

	ret = register_pernet_subsys(&twr_net_ops);
	if (ret)
		return ret;
	pr_info("loaded (resched_mode=%d)\n", resched_mode);
	return 0;
}

static void __exit twr_exit(void)
{
	unregister_pernet_subsys(&twr_net_ops);
	pr_info("unloaded\n");
}

module_init(twr_init);
module_exit(twr_exit);
MODULE_AUTHOR("ip_vs_tw_resched developers");
MODULE_DESCRIPTION("IPVS: reschedule reused TCP tuples (TIME_WAIT, CLOSE, drained servers) without dropping the SYN");
MODULE_LICENSE("GPL");
MODULE_VERSION("0.1.0");
MODULE_SOFTDEP("pre: ip_vs nf_conntrack");
