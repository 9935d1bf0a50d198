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
 * the old entry uses conntrack (v4.6 - v5.8), IPVS drops it. The entry's
 * expiry then deletes the old conntrack, and the client's retransmit, one
 * second later, goes through every netfilter hook as a new flow.
 *
 * This module makes that retransmit happen at once. It keeps a pristine
 * copy of a SYN that meets an IPVS entry, taken before any other hook has
 * seen it (PRE_ROUTING, or LOCAL_OUT for local clients), and follows the
 * SYN to the hook just in front of IPVS. If the SYN gets there and the
 * running IPVS would reschedule it with a drop, by that IPVS's own rules,
 * the module drops it in IPVS's place, does what the drop sets in motion
 * (the old entry expires, its conntrack goes), and sends the copy through
 * the hooks again, from where the SYN entered. Every rule, template and
 * table treats the copy as it treats the client's retransmit under stock
 * IPVS; only the second is gone. See Documentation/design.rst.
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
#include <linux/percpu.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/skbuff.h>
#include <linux/sysctl.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_conntrack_core.h>
#include <net/ip_vs.h>

#include "ip_vs_tw_resched.h"

#define CREATE_TRACE_POINTS
#include "ip_vs_tw_resched_trace.h"

static unsigned int twr_net_id __read_mostly;

/* Serialises timeout writes with the bookkeeping that undoes them. */
static DEFINE_MUTEX(twr_mutex);

/* Namespaces holding our state now; shown in the initial namespace's
 * /proc file so that a leaked namespace (never torn down) can be seen.
 */
static atomic_t twr_netns_live = ATOMIC_INIT(0);

/* Does the running IPVS reschedule a drained server's entries when
 * conn_reuse_mode is 0? Since "ipvs: Fix reuse connection if RS weight is
 * 0" (v5.16, backported to some stable series) it does; before, the whole
 * reuse block ran only with conn_reuse_mode set. That change touched
 * ip_vs_core.c alone, so no header tells: -1 until IPVS shows it (see
 * twr_probe_learn()), then 1 (it does) or 0 (it keeps such a SYN on the
 * old entry). IPVS before the v5.9 reuse check predates the change.
 */
#ifdef TWR_HAVE_OLD_CONNTRACK_CHECK
static atomic_t twr_drained_reuse0 = ATOMIC_INIT(-1);
#else
static atomic_t twr_drained_reuse0 = ATOMIC_INIT(0);
#endif

/**
 * struct twr_cpu - a SYN followed from where it entered to IPVS, per CPU
 * @syn: the SYN on its way, until the hook in front of IPVS decided for it
 * @copy: its pristine copy, taken before any other hook saw the SYN
 * @resent: the copy, while it goes through the hooks again
 * @resend: the SYN was dropped in IPVS's place; send @copy
 * @arrived: @resent reached the hook in front of IPVS
 * @probe_cp: entry the SYN met, watched to learn twr_drained_reuse0
 * @probe_pkts: its in_pkts before IPVS saw the SYN
 *
 * Set and read with bottom halves off: the SYN's whole way to IPVS, and
 * the copy's, runs inside twr_follow() on this CPU (see there).
 */
struct twr_cpu {
	struct sk_buff *syn;
	struct sk_buff *copy;
	struct sk_buff *resent;
	bool resend;
	bool arrived;
	struct ip_vs_conn *probe_cp;
	int probe_pkts;
};

static DEFINE_PER_CPU(struct twr_cpu, twr_cpu);

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

/* The two states ipvsadm --set (and keepalived's lvs_timeouts) writes as
 * well: whoever wrote last wins, and the value stays after unload. The
 * other eight states only this module can set; it gives them back.
 */
#define TWR_TMO_SHARED	(BIT(IP_VS_TCP_S_ESTABLISHED) | BIT(IP_VS_TCP_S_FIN_WAIT))

static const char * const twr_counter_names[TWR_CNT_MAX] = {
	[TWR_CNT_RESCHED]		= "resched",
	[TWR_CNT_CT_REMOVED]		= "ct_removed",
	[TWR_CNT_RESEND_LOST]		= "resend_lost",
	[TWR_CNT_NO_DROP]		= "resched_no_drop",
	[TWR_CNT_PROBE]			= "probe",
	[TWR_CNT_SKIP_PERSISTENT]	= "skip_persistent",
	[TWR_CNT_SKIP_FTP_DATA]		= "skip_ftp_data",
	[TWR_CNT_SKIP_HAS_CHILDREN]	= "skip_has_children",
	[TWR_CNT_SKIP_REUSE_OFF]	= "skip_reuse_off",
	[TWR_CNT_SKIP_POLICY]		= "skip_policy",
	[TWR_CNT_SKIP_CONNTRACK]	= "skip_conntrack",
	[TWR_CNT_SKIP_NO_COPY]		= "skip_no_copy",
};

static inline struct twr_net *twr_pernet(const struct net *net)
{
	return net_generic(net, twr_net_id);
}

static inline void twr_count(struct twr_net *tn, enum twr_counter c)
{
	this_cpu_inc(tn->stats->cnt[c]);
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

/* The same test at the TCP header IPVS found: SYN alone, a header that
 * really is there and a data offset that fits the segment.
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

/* Will IPVS's hook look at this packet at all? The early returns of
 * ip_vs_in_hook(), and whether IPVS has its hooks registered for this
 * family: since v5.9 ("ipvs: register hooks only with services",
 * hooks_afmask) IPVS registers them with the first service and
 * unregisters them with the last one, while ipvs->enable stays set.
 * At PRE_ROUTING the route is not known yet: that part waits for the
 * hook in front of IPVS.
 */
static bool twr_ipvs_sees(struct netns_ipvs *ipvs, const struct sk_buff *skb,
			  const struct nf_hook_state *state)
{
	struct sock *sk;

	if (skb->pkt_type != PACKET_HOST && state->hook != NF_INET_LOCAL_OUT)
		return false;
	if (state->hook != NF_INET_PRE_ROUTING && !skb_dst(skb))
		return false;
	if (!READ_ONCE(ipvs->enable) || sysctl_backup_only(ipvs))
		return false;
#ifdef TWR_HAVE_HOOKS_AFMASK
	if (!(READ_ONCE(ipvs->hooks_afmask) & (state->pf == NFPROTO_IPV6 ? 2 : 1)))
		return false;
#endif
	sk = skb_to_full_sk(skb);
	if (sk && state->hook == NF_INET_LOCAL_OUT && state->pf == NFPROTO_IPV4 &&
	    sk->sk_family == PF_INET && twr_sk_nodefrag(sk))
		return false;
	return true;
}

/* IPVS's own test of whether a rescheduled SYN must be dropped: it carries
 * a confirmed conntrack (v5.9+), or any conntrack while the entry uses
 * conntrack (v4.6 - v5.8).
 */
static bool twr_ipvs_drops(struct ip_vs_conn *cp, struct sk_buff *skb)
{
#ifdef TWR_HAVE_OLD_CONNTRACK_CHECK
	return ip_vs_conn_uses_old_conntrack(cp, skb);
#else
	return ip_vs_conn_uses_conntrack(cp, skb);
#endif
}

/**
 * twr_classify() - what will the running IPVS do with a SYN that met @cp?
 * @ipvs: IPVS state of the packet's namespace
 * @cp: IPVS entry the SYN matched
 * @drops: IPVS would drop the SYN if it rescheduled it (twr_ipvs_drops())
 * @kind: set to the TWR_MODE_* bits describing @cp, for resched_mode
 *
 * Follows ip_vs_in_hook() path by path, as the kernel we were built for
 * has it: the reuse block (a drained server's entry with
 * expire_nodest_conn, in any state; else, with conn_reuse_mode, an entry in
 * TIME_WAIT or CLOSE, or FIN_WAIT without output under bit 2, that nobody
 * controls), then the unavailable-server check (which reschedules with
 * expire_nodest_conn since v5.9, and drops the SYN before that).
 *
 * Return: TWR_CNT_RESCHED when IPVS reschedules the SYN; TWR_CNT_PROBE
 * when it is not known whether this IPVS reschedules a drained server's
 * entry under conn_reuse_mode=0 (the SYN is then watched, not changed); a
 * TWR_CNT_SKIP_* reason when IPVS keeps the SYN on the old entry; or
 * TWR_CNT_MAX when there is nothing to say (a SYN on a live entry that
 * IPVS forwards, or one it drops whatever anybody does).
 */
static enum twr_counter twr_classify(struct netns_ipvs *ipvs,
				     const struct ip_vs_conn *cp, bool drops,
				     int *kind)
{
	int reuse = sysctl_conn_reuse_mode(ipvs);
	bool nodest = twr_expire_nodest_conn(ipvs);
	struct ip_vs_dest *dest = cp->dest;
	int state = READ_ONCE(cp->state);
	bool ended, fw_noout, expected, avail;

	if (cp->protocol != IPPROTO_TCP)
		return TWR_CNT_MAX;

	ended = state == IP_VS_TCP_S_TIME_WAIT || state == IP_VS_TCP_S_CLOSE;
	fw_noout = state == IP_VS_TCP_S_FIN_WAIT &&
		   (cp->flags & IP_VS_CONN_F_NOOUTPUT);
	expected = ended || (fw_noout && (reuse & 2));
	avail = !dest || twr_dest_available(dest);
	*kind = (ended ? TWR_MODE_TW_CLOSE : 0) |
		(fw_noout ? TWR_MODE_FIN_WAIT : 0);

	if (nodest && dest && !atomic_read(&dest->weight)) {
		int w0 = reuse ? 1 : atomic_read(&twr_drained_reuse0);

		if (w0 > 0 || (w0 < 0 && !avail && TWR_NODEST_RESCHED)) {
			*kind |= TWR_MODE_NODEST;
			return TWR_CNT_RESCHED;
		}
		if (w0 < 0) {
			*kind |= TWR_MODE_NODEST;
			return TWR_CNT_PROBE;
		}
		/* This IPVS skips its reuse block: on to the checks below. */
	} else if (reuse && expected && !cp->control) {
		/* A controlling entry that would have to drop its SYN is
		 * kept on its server instead (IPVS: resched = !old_ct).
		 */
		if (!atomic_read(&cp->n_control) || !drops)
			return TWR_CNT_RESCHED;
		return TWR_CNT_SKIP_HAS_CHILDREN;
	}

	if (!avail) {
		if (TWR_NODEST_RESCHED && nodest) {
			*kind |= TWR_MODE_NODEST;
			return TWR_CNT_RESCHED;
		}
		return TWR_CNT_MAX;	/* dropped, whatever we do */
	}
	if (reuse && expected)	/* controlled: IPVS keeps it on its server */
		return (cp->control->flags & IP_VS_CONN_F_TEMPLATE) ?
			TWR_CNT_SKIP_PERSISTENT : TWR_CNT_SKIP_FTP_DATA;
	if (ended || fw_noout)
		return TWR_CNT_SKIP_REUSE_OFF;
	return TWR_CNT_MAX;
}

/**
 * twr_expire() - end an IPVS entry now, as its timer would, and put it
 * @cp: the entry, referenced by us; our reference is dropped
 *
 * What IPVS's own ip_vs_conn_del_put() does: if the timer was pending,
 * run the expiry here (unhash, unbind from the real server, free after a
 * grace period) instead of at the next tick, so that a SYN sent on right
 * after meets no entry, as the retransmit does. If another CPU holds the
 * entry too, the expiry re-arms itself, as it does from the timer, and
 * IPVS's reuse check meets the entry once more and reschedules without a
 * drop (its conntrack flag is clear by then).
 */
static void twr_expire(struct ip_vs_conn *cp)
{
	if (timer_delete(&cp->timer)) {
		__ip_vs_conn_put(cp);
		cp->timer.function(&cp->timer);
	} else {
		__ip_vs_conn_put(cp);
	}
}

/* Clear the entry's conntrack flag, as IPVS does for a SYN it reschedules
 * without a drop: its expiry would otherwise delete, by tuple, whichever
 * conntrack has that tuple by then, the new flow's. Under cp->lock, which
 * IPVS holds for its own flag updates.
 */
static void twr_clear_nfct(struct ip_vs_conn *cp)
{
	spin_lock_bh(&cp->lock);
	cp->flags &= ~IP_VS_CONN_F_NFCT;
	spin_unlock_bh(&cp->lock);
}

/* Retire the SYN's stale conntrack: delete it from the table. Counted when
 * this call took it out: nf_ct_delete() also returns false after it
 * unlinked a conntrack whose destroy event could not be delivered yet
 * (reliable events), so only a conntrack already dying before the call is
 * someone else's deletion.
 */
static void twr_retire_ct(struct twr_net *tn, struct nf_conn *ct)
{
	bool dying = nf_ct_is_dying(ct);

	if (nf_ct_delete(ct, 0, 0) || !dying)
		twr_count(tn, TWR_CNT_CT_REMOVED);
}

/**
 * twr_decide() - the hook in front of IPVS, for a followed SYN
 * @tn: namespace data
 * @pc: this CPU's follow state
 * @ipvs: IPVS state of the namespace
 * @cp: the entry the SYN meets, referenced; the reference is ours to drop
 * @skb: the SYN
 *
 * Return: the SYN's verdict: NF_DROP when it is dropped in IPVS's place
 * (and its copy is to be sent), else NF_ACCEPT.
 */
static unsigned int twr_decide(struct twr_net *tn, struct twr_cpu *pc,
			       struct netns_ipvs *ipvs, struct ip_vs_conn *cp,
			       struct sk_buff *skb)
{
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);
	bool drops = twr_ipvs_drops(cp, skb);
	enum twr_counter what;
	int kind = 0;

	what = twr_classify(ipvs, cp, drops, &kind);
	if (what == TWR_CNT_RESCHED && !drops)
		what = TWR_CNT_NO_DROP;
	else if (what == TWR_CNT_RESCHED && !(READ_ONCE(tn->resched_mode) & kind))
		what = TWR_CNT_SKIP_POLICY;

	if (what == TWR_CNT_PROBE) {
		/* Watched, not changed: twr_probe_learn() after IPVS. */
		pc->probe_cp = cp;
		pc->probe_pkts = atomic_read(&cp->in_pkts);
	}
	if (what != TWR_CNT_RESCHED) {
		if (what != TWR_CNT_MAX) {
			twr_count(tn, what);
			trace_resched(cp, what);
		}
		__ip_vs_conn_put(cp);
		return NF_ACCEPT;
	}

	/* IPVS would reschedule the SYN and drop it: it carries the old
	 * flow's conntrack, or (4.6 - 5.8) any conntrack while the entry uses
	 * conntrack, even a fresh one conntrack made when it reopened a
	 * FIN-closed flow. Under stock IPVS the client's retransmit then goes
	 * through every hook again: so does the copy. Not for a conntrack met
	 * in the reply direction (the retransmit would meet the same one).
	 */
	if (!pc->copy || (nf_ct_is_confirmed(ct) &&
			  CTINFO2DIR(ctinfo) != IP_CT_DIR_ORIGINAL)) {
		what = pc->copy ? TWR_CNT_SKIP_CONNTRACK : TWR_CNT_SKIP_NO_COPY;
		twr_count(tn, what);
		trace_resched(cp, what);
		__ip_vs_conn_put(cp);
		return NF_ACCEPT;
	}

	trace_resched(cp, TWR_CNT_RESCHED);
	twr_clear_nfct(cp);
	if (!atomic_read(&cp->n_control))
		twr_expire(cp);
	else
		__ip_vs_conn_put(cp);
	if (nf_ct_is_confirmed(ct))
		twr_retire_ct(tn, ct);
	pc->resend = true;
	return NF_DROP;
}

/* Is @skb, at the hook in front of IPVS, still the SYN @copy was taken
 * of? The follow state knows the SYN by its address only; should it be
 * freed on the way (a rule dropped it) and another packet get its memory
 * before the follow ends, the TCP source port and sequence number, which
 * nothing before IPVS changes, tell them apart.
 */
static bool twr_same_syn(int af, const struct sk_buff *skb,
			 const struct ip_vs_iphdr *iph,
			 const struct sk_buff *copy)
{
	struct ip_vs_iphdr ciph;
	struct tcphdr _th, _cth;
	const struct tcphdr *th, *cth;

	if (!ip_vs_fill_iph_skb(af, copy, false, &ciph))
		return false;
	th = skb_header_pointer(skb, iph->len, sizeof(_th), &_th);
	cth = skb_header_pointer(copy, ciph.len, sizeof(_cth), &_cth);
	return th && cth && th->source == cth->source && th->seq == cth->seq;
}

/* Learn from a watched SYN what this IPVS does with a drained server's
 * entries under conn_reuse_mode=0. IPVS forwarded the SYN on the old entry
 * (its packet count rose): it keeps them. It did not, and the entry is
 * expiring or gone: it rescheduled the SYN. Anything else (a rule dropped
 * the SYN before IPVS, no server to go to) tells nothing. The entry is
 * still readable: it is freed after an RCU grace period, and the hooks
 * run under rcu_read_lock().
 */
static void twr_probe_learn(struct ip_vs_conn *cp, int pkts_before)
{
	bool expiring, kept;

	kept = atomic_read(&cp->in_pkts) != pkts_before;
	expiring = !timer_pending(&cp->timer) ||
		   time_before_eq(READ_ONCE(cp->timer.expires), jiffies + 1);
	if (!kept && !expiring)
		return;
	if (atomic_cmpxchg(&twr_drained_reuse0, -1, !kept) == -1)
		pr_info("IPVS %s a drained server's entries with conn_reuse_mode=0 (seen on a SYN)\n",
			kept ? "keeps" : "reschedules");
}

/* Where the hook being run sits in its hook list: the index of our entry
 * hook in @e, or -1 if it is not there (being unregistered).
 */
static int twr_hook_index(const struct nf_hook_entries *e, nf_hookfn *fn)
{
	unsigned int i;

	for (i = 0; e && i < e->num_hook_entries; i++)
		if (e->hooks[i].hook == fn)
			return i;
	return -1;
}

static const struct nf_hook_entries *
twr_hook_entries(const struct nf_hook_state *state)
{
	struct net *net = state->net;

	if (state->pf == NFPROTO_IPV6)
		return rcu_dereference(net->nf.hooks_ipv6[state->hook]);
	return rcu_dereference(net->nf.hooks_ipv4[state->hook]);
}

/* Run @skb through the hooks after index @i and on to where they lead
 * (routing, local delivery or output), as nf_hook_slow()'s caller would.
 */
static void twr_continue(struct sk_buff *skb, struct nf_hook_state *st,
			 const struct nf_hook_entries *e, int i)
{
	if (nf_hook_slow(skb, st, e, i) == 1)
		st->okfn(st->net, st->sk, skb);
}

/* A pristine copy of @skb: data shared until someone writes it (every
 * writer unshares a cloned skb first), extensions (the bridge's state,
 * IPsec's path) unshared now, as hooks change them in place.
 */
static struct sk_buff *twr_copy(struct sk_buff *skb)
{
	struct sk_buff *c;

	if (skb_nfct(skb))	/* looped back: conntrack would not look again */
		return NULL;
#if !defined(CONFIG_SKB_EXTENSIONS) && IS_ENABLED(CONFIG_BRIDGE_NETFILTER)
	if (skb->nf_bridge)
		return NULL;
#endif
	c = skb_clone(skb, GFP_ATOMIC);
	if (!c)
		return NULL;
#ifdef CONFIG_SKB_EXTENSIONS
	if (c->active_extensions &&
	    !skb_ext_add(c, __ffs(c->active_extensions))) {
		kfree_skb(c);
		return NULL;
	}
#endif
	if (skb->sk)
		skb_set_owner_w(c, skb->sk);
	return c;
}

static unsigned int twr_entry_hook(void *priv, struct sk_buff *skb,
				   const struct nf_hook_state *state);

/**
 * twr_follow() - take a SYN to IPVS ourselves, and its copy if need be
 * @tn: namespace data
 * @skb: a SYN that met an IPVS entry IPVS may reschedule
 * @state: the entry hook's state (PRE_ROUTING, or LOCAL_OUT)
 * @want_copy: the entry is one whose SYN IPVS may drop: keep a copy
 *
 * Runs the hooks after ours and what follows them, for @skb, here and now
 * (as nf_reinject() does for a queued packet), so that the hook in front
 * of IPVS, reached on this CPU before this returns, knows the SYN and its
 * copy. If that hook dropped the SYN in IPVS's place, the copy goes the
 * same way, from the hook after ours, exactly as the client's retransmit
 * would arrive. A SYN that leaves the synchronous path (queued to
 * userspace, handed to another CPU) reaches IPVS unfollowed, and IPVS
 * decides alone, as without this module.
 *
 * Return: NF_STOLEN, the SYN is on its way; NF_ACCEPT if it cannot be
 * followed (our hook is being unregistered, or we already follow one).
 */
static unsigned int twr_follow(struct twr_net *tn, struct sk_buff *skb,
			       const struct nf_hook_state *state,
			       bool want_copy)
{
	const struct nf_hook_entries *e = twr_hook_entries(state);
	struct nf_hook_state st = *state;
	int i = twr_hook_index(e, twr_entry_hook);
	struct sk_buff *copy = NULL;
	struct ip_vs_conn *probe_cp;
	struct twr_cpu *pc;
	bool resend;
	int pkts;

	if (i < 0)
		return NF_ACCEPT;
	local_bh_disable();
	pc = this_cpu_ptr(&twr_cpu);
	if (pc->syn || pc->resent) {
		local_bh_enable();
		return NF_ACCEPT;
	}
	if (want_copy)
		copy = twr_copy(skb);
	pc->syn = skb;
	pc->copy = copy;
	pc->resend = false;
	pc->probe_cp = NULL;

	twr_continue(skb, &st, e, i + 1);

	/* The SYN is gone from us now (delivered, forwarded or freed). */
	resend = pc->resend;
	probe_cp = pc->probe_cp;
	pkts = pc->probe_pkts;
	pc->syn = NULL;
	pc->copy = NULL;
	if (probe_cp)
		twr_probe_learn(probe_cp, pkts);

	if (resend) {
		st = *state;
		pc->resent = copy;
		pc->arrived = false;
		twr_continue(copy, &st, e, i + 1);
		if (!pc->arrived)
			twr_count(tn, TWR_CNT_RESEND_LOST);
		pc->resent = NULL;
	} else if (copy) {
		consume_skb(copy);
	}
	local_bh_enable();
	return NF_STOLEN;
}

/* First in PRE_ROUTING and LOCAL_OUT: a SYN that meets an IPVS entry which
 * IPVS may reschedule is followed to IPVS (twr_follow()). Everything else,
 * and every SYN of a namespace where IPVS sees nothing, passes untouched.
 */
static unsigned int twr_entry_hook(void *priv, struct sk_buff *skb,
				   const struct nf_hook_state *state)
{
	struct net *net = state->net;
	enum twr_counter what;
	struct netns_ipvs *ipvs;
	struct ip_vs_iphdr iph;
	struct ip_vs_conn *cp;
	int af = state->pf, kind = 0;
	bool want_copy;

	if (likely(!twr_is_syn(af, skb)) || skb->ipvs_property)
		return NF_ACCEPT;
	ipvs = net_ipvs(net);
	if (unlikely(!ipvs) || !twr_ipvs_sees(ipvs, skb, state))
		return NF_ACCEPT;
	if (!ip_vs_fill_iph_skb(af, skb, false, &iph) ||
	    !twr_syn_header(skb, &iph))
		return NF_ACCEPT;

	cp = ip_vs_conn_in_get_proto(ipvs, af, skb, &iph);
	if (!cp)
		return NF_ACCEPT;
	/* No conntrack on the SYN yet: say what IPVS would do if it had
	 * the old one, the case that needs a copy.
	 */
	what = twr_classify(ipvs, cp, true, &kind);
	want_copy = what == TWR_CNT_RESCHED &&
		    (READ_ONCE(twr_pernet(net)->resched_mode) & kind);
	__ip_vs_conn_put(cp);
	if (what == TWR_CNT_MAX)
		return NF_ACCEPT;
	return twr_follow(twr_pernet(net), skb, state, want_copy);
}

/* Just in front of IPVS: decide for the SYN we follow; count its copy. */
static unsigned int twr_ipvs_hook(void *priv, struct sk_buff *skb,
				  const struct nf_hook_state *state)
{
	struct net *net = state->net;
	struct netns_ipvs *ipvs;
	struct ip_vs_iphdr iph;
	struct ip_vs_conn *cp;
	struct twr_cpu *pc;
	struct twr_net *tn;
	int af = state->pf;

	/* Only the SYN or copy twr_follow() runs on this CPU can match,
	 * and then bottom halves are off and the CPU cannot change.
	 */
	if (likely(skb != raw_cpu_read(twr_cpu.syn) &&
		   skb != raw_cpu_read(twr_cpu.resent)) ||
	    skb->ipvs_property)	/* IPVS sends it on: not our business */
		return NF_ACCEPT;
	pc = this_cpu_ptr(&twr_cpu);
	tn = twr_pernet(net);
	if (skb == pc->resent) {
		enum ip_conntrack_info ctinfo;
		struct nf_conn *ct = nf_ct_get(skb, &ctinfo);

		/* A confirmed conntrack again: a duplicate of the SYN made
		 * and confirmed one meanwhile. IPVS decides, as for any SYN.
		 */
		if (!pc->arrived)
			twr_count(tn, ct && nf_ct_is_confirmed(ct) ?
				  TWR_CNT_SKIP_CONNTRACK : TWR_CNT_RESCHED);
		pc->arrived = true;
		return NF_ACCEPT;
	}
	pc->syn = NULL;		/* decided once, whatever follows */

	ipvs = net_ipvs(net);
	if (!twr_ipvs_sees(ipvs, skb, state) ||
	    !ip_vs_fill_iph_skb(af, skb, false, &iph) ||
	    !twr_syn_header(skb, &iph))
		return NF_ACCEPT;
	if (pc->copy && !twr_same_syn(af, skb, &iph, pc->copy))
		return NF_ACCEPT;
	cp = ip_vs_conn_in_get_proto(ipvs, af, skb, &iph);
	if (!cp)
		return NF_ACCEPT;
	return twr_decide(tn, pc, ipvs, cp, skb);
}

/* The entry hooks come first of all (after defragmentation does not
 * matter: a fragment is never a SYN we follow). The IPVS-side hooks sit
 * right in front of IPVS: its LOCAL_IN hook runs at NF_IP_PRI_NAT_SRC - 1,
 * its LOCAL_OUT hook at NF_IP_PRI_NAT_DST + 2.
 */
static const struct nf_hook_ops twr_ops[] = {
	{
		.hook		= twr_entry_hook,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= NF_IP_PRI_FIRST,
	},
	{
		.hook		= twr_entry_hook,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_LOCAL_OUT,
		.priority	= NF_IP_PRI_FIRST,
	},
	{
		.hook		= twr_ipvs_hook,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_LOCAL_IN,
		.priority	= NF_IP_PRI_NAT_SRC - 2,
	},
	{
		.hook		= twr_ipvs_hook,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_LOCAL_OUT,
		.priority	= NF_IP_PRI_NAT_DST + 1,
	},
#ifdef CONFIG_IP_VS_IPV6
	{
		.hook		= twr_entry_hook,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= NF_IP6_PRI_FIRST,
	},
	{
		.hook		= twr_entry_hook,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_LOCAL_OUT,
		.priority	= NF_IP6_PRI_FIRST,
	},
	{
		.hook		= twr_ipvs_hook,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_LOCAL_IN,
		.priority	= NF_IP6_PRI_NAT_SRC - 2,
	},
	{
		.hook		= twr_ipvs_hook,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_LOCAL_OUT,
		.priority	= NF_IP6_PRI_NAT_DST + 1,
	},
#endif
};

/* /proc/net/ip_vs_tw_resched: "name value" lines. "active 1" tells a
 * script that reused TIME_WAIT/CLOSE tuples are rescheduled without a drop
 * in this namespace: our policy allows it and conn_reuse_mode is not 0.
 */
static int twr_stats_show(struct seq_file *seq, void *v)
{
	static const char * const w0[] = { "unknown", "keep", "resched" };
	struct net *net = seq_file_single_net(seq);
	struct twr_net *tn = twr_pernet(net);
	unsigned long sum[TWR_CNT_MAX] = {};
	struct netns_ipvs *ipvs = net_ipvs(net);
	int cpu, i;

	seq_printf(seq, "active %d\n",
		   (READ_ONCE(tn->resched_mode) & TWR_MODE_TW_CLOSE) &&
		   sysctl_conn_reuse_mode(ipvs));
	/* What the module knows of the running IPVS (see twr_classify()). */
	seq_printf(seq, "ipvs_drop_check %s\n", TWR_OLD_CONNTRACK_CHECK ?
		   "confirmed" : "any");
	seq_printf(seq, "ipvs_removed_server %s\n", TWR_NODEST_RESCHED ?
		   "resched" : "drop");
	seq_printf(seq, "ipvs_hooks %s\n", TWR_HOOKS_PER_SERVICE ?
		   "per_service" : "always");
	seq_printf(seq, "ipvs_drained_reuse0 %s\n",
		   w0[atomic_read(&twr_drained_reuse0) + 1]);
	if (net_eq(net, &init_net))
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

/* Write one state's timeout; for a state only we set, remember IPVS's
 * value the first time. Caller holds twr_mutex.
 */
static void twr_set_timeout(struct twr_net *tn, int state, int jiffies)
{
	lockdep_assert_held(&twr_mutex);
	if (!(TWR_TMO_SHARED & BIT(state)) && !(tn->tmo_set & BIT(state))) {
		tn->tmo_orig[state] = READ_ONCE(tn->tcp_timeouts[state]);
		tn->tmo_set |= BIT(state);
	}
	WRITE_ONCE(tn->tcp_timeouts[state], jiffies);
}

/* Give IPVS back the states only we set. */
static void twr_restore_timeouts(struct twr_net *tn)
{
	int s;

	mutex_lock(&twr_mutex);
	for (s = 0; s < IP_VS_TCP_S_LAST; s++)
		if (tn->tmo_set & BIT(s))
			WRITE_ONCE(tn->tcp_timeouts[s], tn->tmo_orig[s]);
	tn->tmo_set = 0;
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
 * visible); writes take 1 .. INT_MAX/HZ seconds. IPVS copies the table's
 * value into an entry on every packet it tracks, so a write reaches every
 * entry at its next packet and new ones at once; an idle entry keeps what
 * it had. Anything else is refused with EINVAL and the previous value
 * stays.
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

/* Every namespace gets the whole directory, a container's too: each knob
 * acts on its own namespace only, as ipvsadm --set does, which the root
 * of any network namespace may run. The sysctl core lets that root write.
 */
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
 * initial namespace; for every other namespace, the initial namespace's
 * resched_mode and its value of each state only this module sets, if it
 * set it, at the time the namespace is created. Docker and CNI create
 * namespaces with nobody to write their sysctls; they get the host's
 * choice. ESTABLISHED and FIN_WAIT start as IPVS starts them, as after
 * ipvsadm --set in the host, which IPVS does not copy either.
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
			if (host->tmo_set & BIT(s))
				twr_set_timeout(tn, s,
						READ_ONCE(host->tcp_timeouts[s]));
	}
	mutex_unlock(&twr_mutex);
}

static int __net_init twr_net_init(struct net *net)
{
	struct twr_net *tn = twr_pernet(net);
	struct ip_vs_proto_data *pd;
	int ret;

	/* ip_vs's own pernet init ran before ours (we depend on it); it has
	 * TCP unless built without CONFIG_IP_VS_PROTO_TCP.
	 */
	pd = ip_vs_proto_data_get(net_ipvs(net), IPPROTO_TCP);
	if (!pd || !pd->timeout_table) {
		pr_err("IPVS has no TCP in this namespace (CONFIG_IP_VS_PROTO_TCP?)\n");
		return -EOPNOTSUPP;
	}
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
	pr_info("loaded (resched_mode=%d, IPVS drop check: %s conntrack)\n",
		resched_mode, TWR_OLD_CONNTRACK_CHECK ? "confirmed" : "any");
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
MODULE_VERSION("0.3.0");
MODULE_SOFTDEP("pre: ip_vs nf_conntrack");
