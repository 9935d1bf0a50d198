/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ip_vs_tw_resched - tracepoint: what became of a SYN that met an IPVS
 * entry IPVS may reschedule, and why.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM tw_resched

#if !defined(_TWR_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TWR_TRACE_H

#include <linux/in.h>
#include <linux/in6.h>
#include <linux/tracepoint.h>
#include <net/ip_vs.h>

#include "ip_vs_tw_resched.h"

/* Numbers, not names, in the format file: perf, trace-cmd and bpftrace
 * read the print format and cannot resolve an enum's names.
 */
TRACE_DEFINE_ENUM(TWR_CNT_RESCHED);
TRACE_DEFINE_ENUM(TWR_CNT_NO_DROP);
TRACE_DEFINE_ENUM(TWR_CNT_PROBE);
TRACE_DEFINE_ENUM(TWR_CNT_SKIP_PERSISTENT);
TRACE_DEFINE_ENUM(TWR_CNT_SKIP_FTP_DATA);
TRACE_DEFINE_ENUM(TWR_CNT_SKIP_HAS_CHILDREN);
TRACE_DEFINE_ENUM(TWR_CNT_SKIP_REUSE_OFF);
TRACE_DEFINE_ENUM(TWR_CNT_SKIP_POLICY);
TRACE_DEFINE_ENUM(TWR_CNT_SKIP_CONNTRACK);
TRACE_DEFINE_ENUM(TWR_CNT_SKIP_NO_COPY);
TRACE_DEFINE_ENUM(IP_VS_TCP_S_NONE);
TRACE_DEFINE_ENUM(IP_VS_TCP_S_ESTABLISHED);
TRACE_DEFINE_ENUM(IP_VS_TCP_S_SYN_SENT);
TRACE_DEFINE_ENUM(IP_VS_TCP_S_SYN_RECV);
TRACE_DEFINE_ENUM(IP_VS_TCP_S_FIN_WAIT);
TRACE_DEFINE_ENUM(IP_VS_TCP_S_TIME_WAIT);
TRACE_DEFINE_ENUM(IP_VS_TCP_S_CLOSE);
TRACE_DEFINE_ENUM(IP_VS_TCP_S_CLOSE_WAIT);
TRACE_DEFINE_ENUM(IP_VS_TCP_S_LAST_ACK);
TRACE_DEFINE_ENUM(IP_VS_TCP_S_LISTEN);
TRACE_DEFINE_ENUM(IP_VS_TCP_S_SYNACK);

#define twr_show_outcome(o)						\
	__print_symbolic(o,						\
		{ TWR_CNT_RESCHED,		"resched" },		\
		{ TWR_CNT_NO_DROP,		"resched_no_drop" },	\
		{ TWR_CNT_PROBE,		"probe" },		\
		{ TWR_CNT_SKIP_PERSISTENT,	"skip_persistent" },	\
		{ TWR_CNT_SKIP_FTP_DATA,	"skip_ftp_data" },	\
		{ TWR_CNT_SKIP_HAS_CHILDREN,	"skip_has_children" },	\
		{ TWR_CNT_SKIP_REUSE_OFF,	"skip_reuse_off" },	\
		{ TWR_CNT_SKIP_POLICY,		"skip_policy" },	\
		{ TWR_CNT_SKIP_CONNTRACK,	"skip_conntrack" },	\
		{ TWR_CNT_SKIP_NO_COPY,		"skip_no_copy" })

#define twr_show_state(s)						\
	__print_symbolic(s,						\
		{ IP_VS_TCP_S_NONE,		"NONE" },		\
		{ IP_VS_TCP_S_ESTABLISHED,	"ESTABLISHED" },	\
		{ IP_VS_TCP_S_SYN_SENT,		"SYN_SENT" },		\
		{ IP_VS_TCP_S_SYN_RECV,		"SYN_RECV" },		\
		{ IP_VS_TCP_S_FIN_WAIT,		"FIN_WAIT" },		\
		{ IP_VS_TCP_S_TIME_WAIT,	"TIME_WAIT" },		\
		{ IP_VS_TCP_S_CLOSE,		"CLOSE" },		\
		{ IP_VS_TCP_S_CLOSE_WAIT,	"CLOSE_WAIT" },		\
		{ IP_VS_TCP_S_LAST_ACK,		"LAST_ACK" },		\
		{ IP_VS_TCP_S_LISTEN,		"LISTEN" },		\
		{ IP_VS_TCP_S_SYNACK,		"SYNACK" })

/* Address and port as a sockaddr, for %pISpc (as trace/events/tcp.h);
 * defined once, although this header is read several times.
 */
#ifndef _TWR_TRACE_ADDR
#define _TWR_TRACE_ADDR
static inline void twr_tp_addr(unsigned char *dst, int af,
			       const union nf_inet_addr *addr, __be16 port)
{
	/* The fields' length is the number 28 in the event's definition. */
	BUILD_BUG_ON(sizeof(struct sockaddr_in6) != 28);
	memset(dst, 0, sizeof(struct sockaddr_in6));
	if (af == AF_INET) {
		struct sockaddr_in *v4 = (void *)dst;

		v4->sin_family = AF_INET;
		v4->sin_port = port;
		v4->sin_addr.s_addr = addr->ip;
	} else {
		struct sockaddr_in6 *v6 = (void *)dst;

		v6->sin6_family = AF_INET6;
		v6->sin6_port = port;
		v6->sin6_addr = addr->in6;
	}
}
#endif

/**
 * tw_resched:resched - a SYN met an IPVS entry that IPVS may reschedule
 * @cp: the entry the SYN met
 * @outcome: what became of the SYN (enum twr_counter, as counted)
 *
 * The fields have C's own types and the addresses' length is a number
 * (28: a struct sockaddr_in6), not u16, u8 or a sizeof: bpftrace on a
 * kernel without BTF (RHEL 8 built without debug info) compiles the
 * format's fields as written with clang, where neither is known.
 */
TRACE_EVENT(resched,
	    TP_PROTO(const struct ip_vs_conn *cp, enum twr_counter outcome),
	    TP_ARGS(cp, outcome),
	    TP_STRUCT__entry(__field(unsigned int, netns)
			     __field(unsigned short, af)
			     __field(unsigned short, state)
			     __field(unsigned int, outcome)
			     __field(unsigned int, weight)
			     __array(unsigned char, client, 28)
			     __array(unsigned char, vip, 28)
			     __array(unsigned char, server, 28)),
	    TP_fast_assign(__entry->netns = cp->ipvs->net->ns.inum;
			   __entry->af = cp->af;
			   __entry->state = cp->state;
			   __entry->outcome = outcome;
			   __entry->weight = cp->dest ?
				atomic_read(&cp->dest->weight) : 0;
			   twr_tp_addr(__entry->client, cp->af, &cp->caddr,
				       cp->cport);
			   twr_tp_addr(__entry->vip, cp->af, &cp->vaddr,
				       cp->vport);
			   twr_tp_addr(__entry->server, cp->daf, &cp->daddr,
				       cp->dport);),
	    TP_printk("netns=%u client=%pISpc vip=%pISpc server=%pISpc weight=%u state=%s outcome=%s",
		      __entry->netns, __entry->client, __entry->vip,
		      __entry->server, __entry->weight,
		      twr_show_state(__entry->state),
		      twr_show_outcome(__entry->outcome))
);

#endif /* _TWR_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE ip_vs_tw_resched_trace
#include <trace/define_trace.h>
