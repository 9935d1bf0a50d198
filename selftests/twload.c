// SPDX-License-Identifier: GPL-2.0
/*
 * twload - load generator and servers for the ip_vs_tw_resched benchmark
 * (selftests/benchmark.sh). IPv4 only; one epoll loop per process, no
 * fork, so that it keeps up with thousands of connections a second.
 *
 *   twload server PORT rst|sink [ID]
 *	rst:  on accept send "ID PEER\n" (ID default "x", PEER the
 *	      client's address as the server sees it), wait for the client's
 *	      byte (or its RST), close with an RST (SO_LINGER 0): no
 *	      TIME_WAIT anywhere, IPVS keeps the entry in CLOSE
 *	sink: read and discard until EOF or RST
 *
 *   twload reuse VIP PORT SRC RATE SECONDS POOLBASE POOL FRESHBASE OUTFILE
 *	Open loop: a new connection every 1/RATE s, alternately "reuse" and
 *	"fresh". Reuse connections take their source port from a pool of
 *	POOL ports (POOLBASE up), first in first out, each port reused once
 *	its previous connection ended and 1.5 s passed (the SNAT box forgets
 *	a closed flow after 1 s; IPVS keeps its entry in CLOSE for 10 s, so
 *	every reuse meets one). The first use of a pool port is no reuse and
 *	is not counted. Fresh connections use FRESHBASE, +1, ... and never
 *	repeat. Each connection: connect, read the server's line, send
 *	a byte, wait for the server's RST. OUTFILE gets a line per
 *	connection, "reuse|fresh MS START ID PEER": the connect time, when
 *	the connect began (Unix time, ms) and the server's line ("- -" if
 *	none came); stdout one summary line per class:
 *	  class=reuse n=N p50=MS p99=MS max=MS slow=N failed=N rate=R
 *	slow: connects >= 900 ms (a SYN was retransmitted); failed: connects
 *	that failed, and connections that did not end within 10 s of the
 *	run's end (hung). Exit 1 if the pool ran dry (the run would not be
 *	100 % reuse), 3 if a connection failed, 0 otherwise.
 *
 *   twload rate VIP PORT SRC CONC SECONDS PORTBASE
 *	Closed loop: CONC connections in flight; each is reset by the
 *	client (SO_LINGER 0) as soon as it is established and replaced by a
 *	new one. Source ports PORTBASE, +1, ... (never reused within a run).
 *	Prints "conns=N rate=R".
 *
 *   twload bulk VIP PORT SECONDS
 *	One connection writing 64 KiB blocks for SECONDS, then a FIN; the
 *	clock stops when the server has read everything and closed. Prints
 *	"bytes=N mbps=R" (megabytes per second).
 *
 *   twload flood SRC_FIRST VIP PORT COUNT
 *	Fill IPVS with TIME_WAIT entries: COUNT spoofed tuples (source
 *	addresses SRC_FIRST, +1, ... with ports 10000-59999), for each a SYN
 *	and then a FIN, from a raw socket. Prints "sent=N pps=R".
 *
 *   twload odd IFACE DSTMAC SRC SPORT DST DPORT COUNT [KIND]
 *	Malformed and odd TCP packets for the tuple SRC:SPORT -> DST:DPORT
 *	(IPv4 or IPv6), COUNT of each kind, as raw Ethernet frames on IFACE
 *	(AF_PACKET: the sender's IP stack fixes nothing up). Every kind is
 *	a SYN that must not start a connection, or no SYN at all: SYN+ACK,
 *	SYN+RST, SYN+FIN, bad TCP checksum, data offset below 5 or beyond
 *	the segment, TCP header cut short, IP header only, first and later
 *	fragments of a SYN, IPv4 options or IPv6 extension headers on a
 *	SYN with a bad checksum. KIND: only that one (its name as printed);
 *	"syn", a well-formed SYN (valid checksums), is sent only when named:
 *	the positive control, and a spoofed SYN for a live flow's tuple.
 *	Prints "kind=NAME sent=N" per kind.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip6.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOW_MS		900.0
#define REUSE_GAP_MS	1500.0
#define CONN_TIMEOUT_MS	10000.0
#define MAX_EVENTS	256

static void die(const char *what)
{
	fprintf(stderr, "twload: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct sockaddr_in sin4(const char *addr, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port) };

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "twload: bad IPv4 address %s\n", addr);
		exit(2);
	}
	return sa;
}

static void set_rst_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* A non-blocking connect from SRC:sport; -1 if bind or connect failed. */
static int start_connect(const struct sockaddr_in *src, int sport,
			 const struct sockaddr_in *dst)
{
	struct sockaddr_in s = *src;
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	s.sin_port = htons(sport);
	if (bind(fd, (struct sockaddr *)&s, sizeof(s)) ||
	    (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) &&
	     errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int listener(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port) };
	int one = 1, s;

	s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s < 0)
		die("socket");
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 4096))
		die("bind/listen");
	return s;
}

/* ---- server ---------------------------------------------------------- */

static int server(int argc, char **argv)
{
	struct epoll_event ev, evs[MAX_EVENTS];
	static char buf[65536];
	const char *id = argc == 5 ? argv[4] : "x";
	char line[64];
	int ep, ls, rst, i, n, llen;

	if (argc != 4 && argc != 5)
		return 2;
	rst = !strcmp(argv[3], "rst");
	if (!rst && strcmp(argv[3], "sink"))
		return 2;
	signal(SIGPIPE, SIG_IGN);
	ls = listener(atoi(argv[2]));
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.fd = ls;
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, MAX_EVENTS, -1);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			ssize_t r;

			if (fd == ls) {
				int c;

				struct sockaddr_in peer;
				socklen_t plen = sizeof(peer);

				while ((c = accept4(ls, (struct sockaddr *)&peer, &plen,
						    SOCK_NONBLOCK)) >= 0) {
					/* "ID PEER": who served it, and the
					 * source address it came from.
					 */
					llen = snprintf(line, sizeof(line), "%s %s\n", id,
							inet_ntoa(peer.sin_addr));
					plen = sizeof(peer);
					if (rst && write(c, line, llen) != llen) {
						close(c);
						continue;
					}
					ev.events = EPOLLIN;
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			do {
				r = read(fd, buf, sizeof(buf));
			} while (!rst && r > 0);
			if (r < 0 && errno == EAGAIN)
				continue;
			/* rst: the client's byte (or its RST, or EOF) */
			if (rst)
				set_rst_close(fd);
			close(fd);
		}
	}
}

/* ---- reuse ----------------------------------------------------------- */

enum { REUSE, FRESH };
static const char *const class_name[] = { "reuse", "fresh" };

struct conn {
	int fd, cls, port, connected, prime, logged;
	double t0, ms, wall;
};

static double wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One OUTFILE line: class, connect time, start, the server's line. */
static void conn_log(FILE *out, struct conn *cn, const char *srv)
{
	if (cn->prime || cn->logged || !cn->connected)
		return;
	cn->logged = 1;
	fprintf(out, "%s %.3f %.0f %s\n", class_name[cn->cls], cn->ms, cn->wall, srv);
}

struct stats {
	double *ms;
	int n, cap, failed;
};

static void stats_add(struct stats *s, double ms)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->ms = realloc(s->ms, s->cap * sizeof(*s->ms));
		if (!s->ms)
			die("realloc");
	}
	s->ms[s->n++] = ms;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double pct(const struct stats *s, double p)
{
	int k;

	if (!s->n)
		return 0;
	k = (int)(p / 100.0 * s->n + 0.999999) - 1;
	if (k < 0)
		k = 0;
	if (k >= s->n)
		k = s->n - 1;
	return s->ms[k];
}

static int reuse(int argc, char **argv)
{
	struct sockaddr_in dst, src;
	struct epoll_event ev, evs[MAX_EVENTS];
	struct stats st[2] = { 0 };
	struct conn **byfd;
	double rate, secs, start, next, end, *freed_at;
	int poolbase, pool, fresh, head = 0, tail, inflight = 0, dry = 0, launched = 0;
	int *queue, qlen, ep, i, n, c;
	FILE *out;

	if (argc != 11)
		return 2;
	dst = sin4(argv[2], atoi(argv[3]));
	src = sin4(argv[4], 0);
	rate = atof(argv[5]);
	secs = atof(argv[6]);
	poolbase = atoi(argv[7]);
	pool = atoi(argv[8]);
	fresh = atoi(argv[9]);
	out = fopen(argv[10], "w");
	if (!out || rate <= 0 || secs <= 0 || pool <= 0 || poolbase < 1024 ||
	    poolbase + pool > 65536)
		return 2;
	signal(SIGPIPE, SIG_IGN);

	/* The pool: a ring of ports with the time each became free. */
	queue = calloc(pool, sizeof(*queue));
	freed_at = calloc(65536, sizeof(*freed_at));
	byfd = calloc(65536, sizeof(*byfd));
	if (!queue || !freed_at || !byfd)
		die("calloc");
	for (i = 0; i < pool; i++) {
		queue[i] = poolbase + i;
		freed_at[poolbase + i] = -1e9;	/* never used */
	}
	qlen = pool;
	tail = 0;

	ep = epoll_create1(0);
	start = now_ms();
	next = start;
	end = start + secs * 1e3;
	while (now_ms() < end || inflight) {
		double t = now_ms(), wait;

		while (t < end && next <= t) {
			int cls = launched++ % 2 ? FRESH : REUSE, port;
			struct conn *cn;

			next += 1e3 / rate;
			if (cls == REUSE) {
				if (!qlen || freed_at[queue[head]] + REUSE_GAP_MS > t) {
					dry++;
					continue;
				}
				port = queue[head];
				head = (head + 1) % pool;
				qlen--;
			} else {
				port = fresh++;
				if (fresh > 65535) {
					fprintf(stderr, "twload: fresh ports exhausted\n");
					return 1;
				}
			}
			cn = calloc(1, sizeof(*cn));
			if (!cn)
				die("calloc");
			cn->cls = cls;
			cn->port = port;
			cn->prime = cls == REUSE && freed_at[port] < 0;
			cn->t0 = now_ms();
			cn->wall = wall_ms();
			cn->fd = start_connect(&src, port, &dst);
			if (cn->fd < 0) {
				fprintf(stderr, "twload: connect from port %d: %s\n",
					port, strerror(errno));
				st[cls].failed++;
				if (cls == REUSE) {
					freed_at[port] = now_ms();
					queue[tail] = port;
					tail = (tail + 1) % pool;
					qlen++;
				}
				free(cn);
				continue;
			}
			byfd[cn->fd] = cn;
			ev.events = EPOLLOUT | EPOLLIN;
			ev.data.fd = cn->fd;
			epoll_ctl(ep, EPOLL_CTL_ADD, cn->fd, &ev);
			inflight++;
		}

		wait = (t < end ? next : t + 50) - now_ms();
		n = epoll_wait(ep, evs, MAX_EVENTS, wait > 0 ? (int)wait + 1 : 0);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (i = 0; i < n; i++) {
			struct conn *cn = byfd[evs[i].data.fd];
			int err = 0, done = 0;
			socklen_t el = sizeof(err);
			char buf[64];
			ssize_t r;

			if (!cn->connected) {
				getsockopt(cn->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err) {
					fprintf(stderr, "twload: %s connect from port %d: %s\n",
						class_name[cn->cls], cn->port, strerror(err));
					st[cn->cls].failed++;
					done = 1;
				} else {
					double ms = now_ms() - cn->t0;

					cn->connected = 1;
					cn->ms = ms;
					if (!cn->prime)
						stats_add(&st[cn->cls], ms);
					ev.events = EPOLLIN;
					ev.data.fd = cn->fd;
					epoll_ctl(ep, EPOLL_CTL_MOD, cn->fd, &ev);
				}
			}
			if (!done && cn->connected && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
				r = read(cn->fd, buf, sizeof(buf) - 1);
				if (r > 0) {
					buf[r] = 0;
					buf[strcspn(buf, "\r\n")] = 0;
					conn_log(out, cn, buf[0] ? buf : "- -");
					if (write(cn->fd, "k", 1) != 1)
						done = 1;
				} else if (r == 0 || errno != EAGAIN) {
					done = 1;	/* the server's RST (or EOF) */
				}
			}
			if (!done)
				continue;
			conn_log(out, cn, "- -");
			epoll_ctl(ep, EPOLL_CTL_DEL, cn->fd, NULL);
			close(cn->fd);
			byfd[cn->fd] = NULL;
			if (cn->cls == REUSE) {
				freed_at[cn->port] = now_ms();
				queue[tail] = cn->port;
				tail = (tail + 1) % pool;
				qlen++;
			}
			inflight--;
			free(cn);
		}
		/* Connections that never complete count as failed. */
		for (c = 0; c < 65536 && now_ms() > end + CONN_TIMEOUT_MS; c++) {
			if (!byfd[c])
				continue;
			st[byfd[c]->cls].failed++;
			conn_log(out, byfd[c], "- -");
			close(c);
			free(byfd[c]);
			byfd[c] = NULL;
			inflight--;
		}
	}
	fclose(out);
	for (c = REUSE; c <= FRESH; c++) {
		int slow = 0;

		qsort(st[c].ms, st[c].n, sizeof(double), cmp_double);
		for (i = 0; i < st[c].n; i++)
			slow += st[c].ms[i] >= SLOW_MS;
		printf("class=%s n=%d p50=%.2f p99=%.2f max=%.2f slow=%d failed=%d rate=%.1f\n",
		       class_name[c], st[c].n, pct(&st[c], 50), pct(&st[c], 99),
		       st[c].n ? st[c].ms[st[c].n - 1] : 0.0, slow, st[c].failed,
		       st[c].n / secs);
	}
	if (dry)
		fprintf(stderr, "twload: reuse pool ran dry %d times: POOL too small\n", dry);
	if (dry)
		return 1;
	return st[REUSE].failed || st[FRESH].failed ? 3 : 0;
}

/* ---- rate ------------------------------------------------------------ */

static int rate(int argc, char **argv)
{
	struct sockaddr_in dst, src;
	struct epoll_event ev, evs[MAX_EVENTS];
	int conc, port, ep, i, n, inflight = 0, failed = 0;
	unsigned long conns = 0;
	double start, end, secs;

	if (argc != 8)
		return 2;
	dst = sin4(argv[2], atoi(argv[3]));
	src = sin4(argv[4], 0);
	conc = atoi(argv[5]);
	secs = atof(argv[6]);
	port = atoi(argv[7]);
	if (conc <= 0 || secs <= 0 || port < 1024)
		return 2;
	ep = epoll_create1(0);
	start = now_ms();
	end = start + secs * 1e3;
	for (;;) {
		double t = now_ms();

		while (t < end && inflight < conc) {
			int fd;

			if (port > 65535) {
				fprintf(stderr, "twload: source ports exhausted\n");
				return 1;
			}
			fd = start_connect(&src, port++, &dst);
			if (fd < 0) {
				fprintf(stderr, "twload: connect from port %d: %s\n",
					port - 1, strerror(errno));
				failed++;
				continue;
			}
			ev.events = EPOLLOUT;
			ev.data.fd = fd;
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			inflight++;
		}
		if (!inflight)
			break;
		n = epoll_wait(ep, evs, MAX_EVENTS, 100);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd, err = 0;
			socklen_t el = sizeof(err);

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
			if (err) {
				struct sockaddr_in me;
				socklen_t ml = sizeof(me);

				getsockname(fd, (struct sockaddr *)&me, &ml);
				fprintf(stderr, "twload: connect from port %d: %s\n",
					ntohs(me.sin_port), strerror(err));
				failed++;
			} else if (now_ms() <= end) {
				conns++;
			}
			set_rst_close(fd);
			close(fd);
			inflight--;
		}
		if (now_ms() > end + CONN_TIMEOUT_MS) {
			failed += inflight;
			break;
		}
	}
	printf("conns=%lu rate=%.1f failed=%d\n", conns, conns / secs, failed);
	return failed ? 1 : 0;
}

/* ---- bulk ------------------------------------------------------------ */

static int bulk(int argc, char **argv)
{
	static char buf[65536];
	struct sockaddr_in dst;
	unsigned long long bytes = 0;
	double start, end;
	ssize_t r;
	int s;

	if (argc != 5)
		return 2;
	dst = sin4(argv[2], atoi(argv[3]));
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&dst, sizeof(dst)))
		die("bulk connect");
	memset(buf, 'b', sizeof(buf));
	start = now_ms();
	end = start + atof(argv[4]) * 1e3;
	while (now_ms() < end) {
		r = write(s, buf, sizeof(buf));
		if (r <= 0)
			die("bulk write");
		bytes += r;
	}
	shutdown(s, SHUT_WR);
	while ((r = read(s, buf, sizeof(buf))) > 0)
		;
	if (r < 0)
		die("bulk read");
	end = now_ms();
	close(s);
	printf("bytes=%llu mbps=%.2f\n", bytes, bytes / 1e6 / ((end - start) / 1e3));
	return 0;
}

/* ---- flood ----------------------------------------------------------- */

static unsigned short csum_fold(unsigned long sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (unsigned short)~sum;
}

static unsigned long csum_add(unsigned long sum, const void *p, size_t len)
{
	const unsigned short *w = p;

	for (; len > 1; len -= 2)
		sum += *w++;
	return sum;
}

struct pkt {
	struct iphdr ip;
	struct tcphdr tcp;
} __attribute__((packed));

static void build(struct pkt *p, unsigned int saddr, unsigned int daddr,
		  int sport, int dport, int fin)
{
	struct {
		unsigned int s, d;
		unsigned char zero, proto;
		unsigned short len;
	} __attribute__((packed)) ph;
	unsigned long sum;

	memset(p, 0, sizeof(*p));
	p->ip.version = 4;
	p->ip.ihl = 5;
	p->ip.ttl = 64;
	p->ip.protocol = IPPROTO_TCP;
	p->ip.tot_len = htons(sizeof(*p));
	p->ip.saddr = saddr;
	p->ip.daddr = daddr;
	p->tcp.source = htons(sport);
	p->tcp.dest = htons(dport);
	p->tcp.seq = htonl(fin ? 1001 : 1000);
	p->tcp.doff = 5;
	p->tcp.window = htons(65535);
	if (fin) {
		p->tcp.fin = 1;
		p->tcp.ack = 1;
		p->tcp.ack_seq = htonl(1);
	} else {
		p->tcp.syn = 1;
	}
	ph.s = saddr;
	ph.d = daddr;
	ph.zero = 0;
	ph.proto = IPPROTO_TCP;
	ph.len = htons(sizeof(p->tcp));
	sum = csum_add(0, &ph, sizeof(ph));
	sum = csum_add(sum, &p->tcp, sizeof(p->tcp));
	p->tcp.check = csum_fold(sum);
}

#define BATCH 64

static int flood(int argc, char **argv)
{
	struct sockaddr_in first, dst;
	struct pkt pk[BATCH];
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];
	unsigned long count, i, sent = 0;
	double start;
	int s, k, fin;

	if (argc != 6)
		return 2;
	first = sin4(argv[2], 0);
	dst = sin4(argv[3], atoi(argv[4]));
	count = strtoul(argv[5], NULL, 0);
	s = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (s < 0)
		die("raw socket");
	memset(msg, 0, sizeof(msg));
	start = now_ms();
	/* SYNs of a batch of tuples, then their FINs: the FIN finds the
	 * entry its SYN made.
	 */
	for (i = 0; i < count; i += BATCH / 2) {
		k = 0;
		for (fin = 0; fin <= 1; fin++) {
			unsigned long j;

			for (j = i; j < i + BATCH / 2 && j < count; j++, k++) {
				unsigned int a = ntohl(first.sin_addr.s_addr) + j / 50000;

				build(&pk[k], htonl(a), dst.sin_addr.s_addr,
				      10000 + j % 50000, ntohs(dst.sin_port), fin);
				iov[k].iov_base = &pk[k];
				iov[k].iov_len = sizeof(pk[k]);
				msg[k].msg_hdr.msg_iov = &iov[k];
				msg[k].msg_hdr.msg_iovlen = 1;
				msg[k].msg_hdr.msg_name = &dst;
				msg[k].msg_hdr.msg_namelen = sizeof(dst);
			}
		}
		for (int off = 0; off < k;) {
			int r = sendmmsg(s, msg + off, k - off, 0);

			if (r < 0) {
				if (errno == ENOBUFS || errno == EINTR)
					continue;
				die("sendmmsg");
			}
			off += r;
			sent += r;
		}
	}
	printf("sent=%lu pps=%.0f\n", sent, sent / ((now_ms() - start) / 1e3));
	return 0;
}

/* ---- odd ------------------------------------------------------------- */

enum odd_kind {
	ODD_SYNACK, ODD_SYNRST, ODD_SYNFIN, ODD_BADCSUM, ODD_DOFF_SMALL,
	ODD_DOFF_BIG, ODD_TRUNC12, ODD_TRUNC14, ODD_IPONLY, ODD_FRAG_FIRST,
	ODD_FRAG_LATER, ODD_OPTS_BADCSUM,
	ODD_VALID,	/* a well-formed SYN: only when named (controls) */
	ODD_MAX
};
static const char *const odd_name[] = {
	"syn_ack", "syn_rst", "syn_fin", "bad_checksum", "doff_below_5",
	"doff_beyond_segment", "tcp_cut_at_12", "tcp_cut_at_14", "ip_header_only",
	"first_fragment", "later_fragment", "options_bad_checksum",
	"syn",
};

/* One's complement sum of the pseudo header and the TCP bytes. */
static unsigned short tcp_csum(int v6, const void *src, const void *dst,
			       const void *tcp, size_t len)
{
	unsigned long sum = 0;
	unsigned short w[2];

	sum = csum_add(sum, src, v6 ? 16 : 4);
	sum = csum_add(sum, dst, v6 ? 16 : 4);
	w[0] = htons(IPPROTO_TCP);
	w[1] = htons(len);
	sum = csum_add(sum, w, 4);
	if (len & 1) {
		unsigned char last[2] = { ((const unsigned char *)tcp)[len - 1], 0 };

		sum = csum_add(sum, last, 2);
	}
	return csum_fold(csum_add(sum, tcp, len & ~1UL));
}

static unsigned short ip_csum(const void *h, size_t len)
{
	return csum_fold(csum_add(0, h, len));
}

/* Build frame kind K into F (after the Ethernet header); returns its IP
 * length. ID makes fragments of different packets distinct.
 */
static size_t odd_build(unsigned char *f, int v6, const void *src,
			const void *dst, int sport, int dport, int k,
			unsigned int id)
{
	unsigned char tcpb[40];
	struct tcphdr *th = (struct tcphdr *)tcpb;
	size_t l3, tlen = sizeof(*th), cut;
	int frag_off = 0, mf = 0;

	memset(tcpb, 0, sizeof(tcpb));
	th->source = htons(sport);
	th->dest = htons(dport);
	th->seq = htonl(id * 7919);
	th->doff = 5;
	th->syn = 1;
	th->window = htons(65535);
	switch (k) {
	case ODD_SYNACK:
		th->ack = 1;
		th->ack_seq = htonl(1);
		break;
	case ODD_SYNRST:
		th->rst = 1;
		break;
	case ODD_SYNFIN:
		th->fin = 1;
		break;
	case ODD_DOFF_SMALL:
		th->doff = 4;
		break;
	case ODD_DOFF_BIG:
		th->doff = 15;	/* 60 bytes claimed, 20 there */
		break;
	case ODD_FRAG_FIRST:
		mf = 1;
		tlen = 24;	/* header and 4 bytes of a 32-byte segment */
		break;
	case ODD_FRAG_LATER:
		frag_off = 8;	/* 64 bytes in; looks like a SYN header */
		break;
	}
	th->check = tcp_csum(v6, src, dst, tcpb, tlen);
	if (k == ODD_BADCSUM || k == ODD_OPTS_BADCSUM)
		th->check ^= htons(0x5a5a);
	cut = tlen;
	if (k == ODD_TRUNC12)
		cut = 12;
	else if (k == ODD_TRUNC14)
		cut = 14;
	else if (k == ODD_IPONLY)
		cut = 0;

	if (!v6) {
		struct iphdr *ip = (struct iphdr *)f;
		size_t ihl = k == ODD_OPTS_BADCSUM ? 24 : 20;

		memset(ip, 0, ihl);
		ip->version = 4;
		ip->ihl = ihl / 4;
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		ip->id = htons(id);
		ip->frag_off = htons((mf ? IP_MF : 0) | frag_off);
		memcpy(&ip->saddr, src, 4);
		memcpy(&ip->daddr, dst, 4);
		if (ihl == 24)
			memset(f + 20, 1, 4);	/* four NOP options */
		ip->tot_len = htons(ihl + cut);
		ip->check = ip_csum(ip, ihl);
		memcpy(f + ihl, tcpb, cut);
		return ihl + cut;
	}

	{
		struct ip6_hdr *ip6 = (struct ip6_hdr *)f;
		unsigned char *p = f + sizeof(*ip6);
		unsigned char *nh = &ip6->ip6_nxt;

		memset(ip6, 0, sizeof(*ip6));
		ip6->ip6_flow = htonl(6U << 28);
		ip6->ip6_hlim = 64;
		memcpy(&ip6->ip6_src, src, 16);
		memcpy(&ip6->ip6_dst, dst, 16);
		if (k == ODD_OPTS_BADCSUM) {
			/* hop-by-hop options, then destination options */
			*nh = IPPROTO_HOPOPTS;
			memset(p, 0, 16);
			p[0] = IPPROTO_DSTOPTS;
			p[2] = 1;	/* PadN, 4 bytes of padding */
			p[3] = 4;
			p[8] = IPPROTO_TCP;
			p[10] = 1;
			p[11] = 4;
			nh = NULL;
			p += 16;
		}
		if (k == ODD_FRAG_FIRST || k == ODD_FRAG_LATER) {
			*nh = IPPROTO_FRAGMENT;
			memset(p, 0, 8);
			p[0] = IPPROTO_TCP;
			p[2] = (frag_off << 3) >> 8;
			p[3] = ((frag_off << 3) & 0xf8) | mf;
			memcpy(p + 4, &(unsigned int){ htonl(id) }, 4);
			nh = NULL;
			p += 8;
		}
		if (nh)
			*nh = IPPROTO_TCP;
		memcpy(p, tcpb, cut);
		p += cut;
		l3 = p - f;
		ip6->ip6_plen = htons(l3 - sizeof(*ip6));
		return l3;
	}
}

static int odd(int argc, char **argv)
{
	unsigned char frame[256], src[16], dst[16];
	struct sockaddr_ll ll = { .sll_family = AF_PACKET };
	unsigned int mac[6], count, i;
	int s, v6, k;

	if (argc != 9 && argc != 10)
		return 2;
	v6 = strchr(argv[4], ':') != NULL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, argv[4], src) != 1 ||
	    inet_pton(v6 ? AF_INET6 : AF_INET, argv[6], dst) != 1 ||
	    sscanf(argv[3], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2],
		   &mac[3], &mac[4], &mac[5]) != 6)
		return 2;
	count = strtoul(argv[8], NULL, 0);
	ll.sll_ifindex = if_nametoindex(argv[2]);
	ll.sll_protocol = htons(v6 ? ETH_P_IPV6 : ETH_P_IP);
	ll.sll_halen = 6;
	for (i = 0; i < 6; i++)
		ll.sll_addr[i] = mac[i];
	if (!ll.sll_ifindex)
		die("interface");
	s = socket(AF_PACKET, SOCK_DGRAM, htons(v6 ? ETH_P_IPV6 : ETH_P_IP));
	if (s < 0)
		die("packet socket");
	for (k = 0; k < ODD_MAX; k++) {
		unsigned long sent = 0;

		if (argc == 10 ? strcmp(argv[9], odd_name[k]) != 0 : k == ODD_VALID)
			continue;
		for (i = 0; i < count; i++) {
			size_t len = odd_build(frame, v6, src, dst, atoi(argv[5]),
					       atoi(argv[7]), k, k * count + i);

			if (sendto(s, frame, len, 0, (struct sockaddr *)&ll,
				   sizeof(ll)) == (ssize_t)len)
				sent++;
			else if (errno != ENOBUFS)
				die("sendto");
		}
		printf("kind=%s sent=%lu\n", odd_name[k], sent);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int ret = 2;

	if (argc > 1 && !strcmp(argv[1], "server"))
		ret = server(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "reuse"))
		ret = reuse(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "rate"))
		ret = rate(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "bulk"))
		ret = bulk(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "flood"))
		ret = flood(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "odd"))
		ret = odd(argc, argv);
	if (ret == 2)
		fprintf(stderr,
			"usage: twload server PORT rst|sink\n"
			"       twload reuse VIP PORT SRC RATE SECONDS POOLBASE POOL FRESHBASE OUT\n"
			"       twload rate VIP PORT SRC CONC SECONDS PORTBASE\n"
			"       twload bulk VIP PORT SECONDS\n"
			"       twload flood SRC_FIRST VIP PORT COUNT\n"
			"       twload odd IFACE DSTMAC SRC SPORT DST DPORT COUNT [KIND]\n");
	return ret;
}
