// SPDX-License-Identifier: GPL-2.0
/*
 * twtool - tiny TCP client and server for the ip_vs_tw_resched selftests.
 *
 *   twtool server PORT ID [fin|rst|sfin]
 *	Accept forever; send "ID peer=ADDR\n" on each connection (ID "-":
 *	the host name, which docker makes the container's ID; ADDR: the
 *	client address this server sees, IPv4 without the ::ffff: prefix),
 *	then either wait for
 *	the client's FIN and close (fin, the default: the client closes first
 *	so no real server keeps TIME_WAIT), or wait for the client's one-byte
 *	"got it" and close with an RST (rst: SO_LINGER 0) or first with a FIN
 *	(sfin, as HTTP servers do; the client's FIN comes last). Without that
 *	byte a loaded machine can deliver the RST before the client's
 *	connect() returns, which then fails with ECONNRESET.
 *
 *   twtool connect ADDR PORT [fin|rst|crst] [-b SRCADDR[:SRCPORT]] [-T TOS] [-H]
 *	One connection. Prints one line:
 *	  connect_ms=F server=ID peer=ADDR syn_retrans=N end=fin|rst|crst
 *	connect_ms is the time connect() took; syn_retrans the number of
 *	retransmissions TCP_INFO counted before the connection was
 *	established. fin: shut down, read to EOF; rst: send one byte, read
 *	until the peer's RST arrives, so the client never sends a FIN of its
 *	own; crst: the
 *	client resets the connection itself (SO_LINGER 0). -T: once the
 *	server's line is read, send with this TOS (traffic class): the FIN
 *	and the final ACK carry it, so that a rule can drop them. -H: once the
 *	server's line is read, print the result line and hold the connection,
 *	idle, until SIGUSR1; then end it as asked (so that its state can be
 *	looked at while nothing moves).
 *	Exit 0 on success, 1 on any failure (with a message on stderr).
 *
 *   twtool server PORT ID echo
 *	Echo every byte back until EOF.
 *
 *   twtool server PORT ID ftp DATAADDR DATAPORT
 *	Just enough FTP for IPVS's ip_vs_ftp helper: "220 ID" on accept, and
 *	to "PASV" the answer "227 Entering Passive Mode (DATAADDR,DATAPORT)",
 *	which the director rewrites to the VIP while it creates the data
 *	connection's entry (controlled by this one). To "QUIT" it closes
 *	with an RST.
 *
 *   twtool ftpctl ADDR PORT [-b SRCADDR[:SRCPORT]]
 *	An FTP control connection: reads "220 ID", sends PASV, prints
 *	"server=ID data=A.B.C.D:PORT" (the address as rewritten by the
 *	director), then holds the connection until its standard input ends,
 *	sends QUIT and waits for the server's RST.
 *
 *   twtool ctstall
 *	Subscribe to conntrack's destroy events as a reliable listener
 *	(NETLINK_BROADCAST_ERROR, as conntrackd with NetlinkEventsReliable),
 *	with the smallest receive buffer, and never read them: once it is
 *	full, a deletion's event cannot be delivered and nf_ct_delete()
 *	unlinks the conntrack but returns false. Prints "ready", then waits
 *	to be killed.
 *
 *   twtool echo ADDR PORT SECONDS
 *	One connection kept for SECONDS, or until SIGUSR1: a line every
 *	100 ms, each echo checked (an echo that takes over 5 s counts as a
 *	break). Ends with an RST (no TIME_WAIT entry left anywhere). Prints
 *	"echoes=N"; exit 1 as soon as the connection breaks.
 *
 *   twtool lateack SRC SPORT DST DPORT SEQ ACK
 *	Send one bare TCP ACK (IPv4, no options) with these addresses and
 *	sequence numbers through a raw socket: a segment of a connection
 *	that has already ended, arriving late (as a client's ACK reordered
 *	behind its own RST on another CPU).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "twtool: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Numeric addresses only (inet_pton, not getaddrinfo: the swarm test's
 * image runs a static twtool, where getaddrinfo would want glibc's NSS).
 */
static int parse_addr(const char *host, const char *port,
		      struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	char *end;
	long p = strtol(port, &end, 10);

	if (*port == '\0' || *end || p < 0 || p > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(p);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(p);
		*len = sizeof(*s6);
		return 0;
	}
	return -1;
}

static void serve_echo(int c)
{
	char buf[256];
	ssize_t n;

	while ((n = read(c, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && write(c, buf, n) != n)
			break;
	close(c);
	_exit(0);
}

/* Read one CRLF- or LF-terminated line (without it); -1 at EOF/error. */
static int read_line(int c, char *line, size_t size)
{
	size_t got = 0;
	ssize_t n;
	char ch;

	while (got < size - 1) {
		n = read(c, &ch, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (ch == '\n')
			break;
		if (ch != '\r')
			line[got++] = ch;
	}
	line[got] = '\0';
	return 0;
}

static void serve_ftp(int c, const char *id, const char *daddr, int dport)
{
	unsigned int a[4];
	char line[256];

	if (sscanf(daddr, "%u.%u.%u.%u", &a[0], &a[1], &a[2], &a[3]) != 4)
		_exit(1);
	if (dprintf(c, "220 %s\r\n", id) < 0)
		_exit(1);
	while (!read_line(c, line, sizeof(line))) {
		if (!strncasecmp(line, "QUIT", 4)) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			break;
		}
		if (strncasecmp(line, "PASV", 4)) {
			dprintf(c, "502 not here\r\n");
			continue;
		}
		dprintf(c, "227 Entering Passive Mode (%u,%u,%u,%u,%d,%d).\r\n",
			a[0], a[1], a[2], a[3], dport >> 8, dport & 0xff);
	}
	close(c);
	_exit(0);
}

/* rst: 1 close with an RST, 2 close first with a FIN (both once the
 * client's byte is there), 0 wait for the client's FIN.
 */
static void serve_one(int c, const char *id, int rst)
{
	char buf[256];
	ssize_t n;

	struct sockaddr_in6 peer;
	socklen_t plen = sizeof(peer);
	char addr[INET6_ADDRSTRLEN] = "?";
	const char *a = addr;

	/* rst: no ACK of the client's byte of its own ahead of the RST. A
	 * quick ACK goes out from softirq, the RST from this process, and
	 * the two can pass each other on the way (about one connection in
	 * 200 on 6.1 under TCG): the client then answers the late ACK with
	 * an RST, after which conntrack reopens the flow on the next SYN.
	 * Delayed, the ACK almost always rides on the RST (unless this
	 * process is not run within the delayed-ACK time, about 40 ms:
	 * snat_port_reuse.sh counts what remains). reuse_rst_late.sh stages that
	 * order on purpose; every other rst case wants the server's RST to
	 * end the flow.
	 */
	if (rst == 1) {
		int zero = 0;

		setsockopt(c, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero));
	}
	if (!getpeername(c, (struct sockaddr *)&peer, &plen) &&
	    inet_ntop(AF_INET6, &peer.sin6_addr, addr, sizeof(addr)) &&
	    !strncmp(addr, "::ffff:", 7) && strchr(addr, '.'))
		a = addr + 7;
	if (dprintf(c, "%s peer=%s\n", id, a) < 0)
		_exit(1);
	if (rst) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		do {
			n = read(c, buf, 1);
		} while (n < 0 && errno == EINTR);
		if (rst == 1)
			setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(c);
		_exit(0);
	}
	do {
		n = read(c, buf, sizeof(buf));
	} while (n > 0 || (n < 0 && errno == EINTR));
	close(c);
	_exit(0);
}

static int server(int argc, char **argv)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
				   .sin6_addr = IN6ADDR_ANY_INIT };
	int one = 1, zero = 0, s, c, rst, echo, ftp;

	if (argc < 4)
		return 2;
	if (!strcmp(argv[3], "-")) {
		static char host[65];

		if (gethostname(host, sizeof(host) - 1))
			die("gethostname");
		argv[3] = host;
	}
	rst = argc > 4 && !strcmp(argv[4], "rst");
	if (argc > 4 && !strcmp(argv[4], "sfin"))
		rst = 2;
	echo = argc > 4 && !strcmp(argv[4], "echo");
	ftp = argc > 6 && !strcmp(argv[4], "ftp");
	sa.sin6_port = htons(atoi(argv[2]));
	signal(SIGCHLD, SIG_IGN);	/* no zombies */

	s = socket(AF_INET6, SOCK_STREAM, 0);
	if (s < 0)
		die("socket");
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 1024))
		die("bind/listen");
	for (;;) {
		c = accept(s, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept");
		}
		switch (fork()) {
		case 0:
			close(s);
			if (echo)
				serve_echo(c);
			if (ftp)
				serve_ftp(c, argv[3], argv[5], atoi(argv[6]));
			serve_one(c, argv[3], rst);
			break;
		case -1:
			die("fork");
		}
		close(c);
	}
}

/* bind_src: bind S to "ADDR", "ADDR:PORT" or "[ADDR6]:PORT"; exits on error. */
static void bind_src(int s, int family, const char *arg)
{
	struct sockaddr_storage src;
	char host[64], *port;
	socklen_t slen;
	int one = 1;

	snprintf(host, sizeof(host), "%s", arg);
	port = strrchr(host, ':');
	if (port && family == AF_INET)
		*port++ = '\0';
	else if (port && host[0] == '[')
		*port++ = '\0';
	else
		port = NULL;
	if (host[0] == '[' && strchr(host, ']'))
		*strchr(host, ']') = '\0';
	if (parse_addr(host[0] == '[' ? host + 1 : host,
		       port ? port : "0", &src, &slen)) {
		fprintf(stderr, "twtool: bad source %s\n", arg);
		exit(1);
	}
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&src, slen))
		die("bind");
}

static int client(int argc, char **argv)
{
	struct sockaddr_storage dst;
	socklen_t dlen;
	struct tcp_info ti;
	socklen_t tlen = sizeof(ti);
	char id[128] = "", buf[256];
	const char *end = "fin";
	int s, rst = 0, crst = 0, hold = 0, i, tos = -1;
	double t0, t1;
	ssize_t n;
	size_t got = 0;

	if (argc < 4)
		return 2;
	if (parse_addr(argv[2], argv[3], &dst, &dlen)) {
		fprintf(stderr, "twtool: bad address %s %s\n", argv[2], argv[3]);
		return 1;
	}
	s = socket(dst.ss_family, SOCK_STREAM, 0);
	if (s < 0)
		die("socket");
	for (i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "rst")) {
			rst = 1;
		} else if (!strcmp(argv[i], "crst")) {
			crst = 1;
		} else if (!strcmp(argv[i], "-b") && i + 1 < argc) {
			bind_src(s, dst.ss_family, argv[++i]);
		} else if (!strcmp(argv[i], "-T") && i + 1 < argc) {
			tos = strtol(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "-H")) {
			hold = 1;
		}
	}
	alarm(30);

	t0 = now_ms();
	if (connect(s, (struct sockaddr *)&dst, dlen))
		die("connect");
	t1 = now_ms();
	if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &tlen))
		die("TCP_INFO");

	/* The server's one-line name. */
	while (got < sizeof(id) - 1 && !strchr(id, '\n')) {
		n = read(s, id + got, sizeof(id) - 1 - got);
		if (n <= 0)
			die("read id");
		got += n;
		id[got] = '\0';
	}
	id[strcspn(id, "\n")] = '\0';

	if (hold) {
		sigset_t usr1;

		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
		printf("connect_ms=%.1f server=%s syn_retrans=%u end=held\n",
		       t1 - t0, id, ti.tcpi_total_retrans);
		fflush(stdout);
		alarm(0);
		sigwait(&usr1, &i);
		alarm(30);
	}

	/* Mark what this end sends from now on: its FIN and the final ACK. */
	if (tos >= 0 &&
	    (dst.ss_family == AF_INET ?
	     setsockopt(s, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)) :
	     setsockopt(s, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos))))
		die("IP_TOS");

	if (crst) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		end = "crst";
	} else if (rst) {
		/* Tell the server we have its name, then read until its RST:
		 * we must not send a FIN.
		 */
		if (write(s, "k", 1) != 1)
			die("write");
		do {
			n = read(s, buf, sizeof(buf));
		} while (n > 0 || (n < 0 && errno == EINTR));
		end = (n < 0 && errno == ECONNRESET) ? "rst" : "fin";
	} else {
		shutdown(s, SHUT_WR);
		do {
			n = read(s, buf, sizeof(buf));
		} while (n > 0 || (n < 0 && errno == EINTR));
	}
	close(s);
	if (!hold)
		printf("connect_ms=%.1f server=%s syn_retrans=%u end=%s\n",
		       t1 - t0, id, ti.tcpi_total_retrans, end);
	return 0;
}

static int ftp_control(int argc, char **argv)
{
	struct sockaddr_storage dst;
	unsigned int a[6];
	char line[256], id[128], *p;
	socklen_t dlen;
	int s;

	if (argc < 4 || parse_addr(argv[2], argv[3], &dst, &dlen))
		return 2;
	s = socket(dst.ss_family, SOCK_STREAM, 0);
	if (s < 0)
		die("socket");
	if (argc > 5 && !strcmp(argv[4], "-b"))
		bind_src(s, dst.ss_family, argv[5]);
	alarm(30);
	if (connect(s, (struct sockaddr *)&dst, dlen))
		die("connect");
	if (read_line(s, line, sizeof(line)) || sscanf(line, "220 %127s", id) != 1) {
		fprintf(stderr, "twtool: no 220 greeting\n");
		return 1;
	}
	if (write(s, "PASV\r\n", 6) != 6)
		die("write");
	if (read_line(s, line, sizeof(line)) || strncmp(line, "227 ", 4) ||
	    !(p = strchr(line, '(')) ||
	    sscanf(p, "(%u,%u,%u,%u,%u,%u)", &a[0], &a[1], &a[2], &a[3],
		   &a[4], &a[5]) != 6) {
		fprintf(stderr, "twtool: bad PASV answer '%s'\n", line);
		return 1;
	}
	alarm(0);
	printf("server=%s data=%u.%u.%u.%u:%u\n", id, a[0], a[1], a[2], a[3],
	       a[4] << 8 | a[5]);
	fflush(stdout);
	while (read(0, line, sizeof(line)) > 0)
		;
	/* QUIT: the server resets the connection (the client sends no FIN) */
	if (write(s, "QUIT\r\n", 6) != 6)
		die("write");
	while (read(s, line, sizeof(line)) > 0)
		;
	close(s);
	return 0;
}

static volatile sig_atomic_t echo_stop;

static void on_usr1(int sig)
{
	(void)sig;
	echo_stop = 1;
}

static int echo_client(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct timeval tmo = { .tv_sec = 5 };
	struct sockaddr_storage dst;
	char line[64], back[64];
	double end;
	socklen_t dlen;
	unsigned long n = 0;
	size_t len, got;
	ssize_t r;
	int s;

	if (argc < 5)
		return 2;
	if (parse_addr(argv[2], argv[3], &dst, &dlen))
		return 1;
	s = socket(dst.ss_family, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&dst, dlen))
		die("echo connect");
	/* A flow that stalls must show as broken, not hang the test. */
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	/* No SA_RESTART: the signal cuts the 100 ms pause short. */
	sigaction(SIGUSR1, &sa, NULL);
	end = now_ms() + atoi(argv[4]) * 1e3;
	while (!echo_stop && now_ms() < end) {
		len = snprintf(line, sizeof(line), "ping %lu\n", n);
		if (write(s, line, len) != (ssize_t)len)
			die("echo write");
		for (got = 0; got < len; got += r) {
			r = read(s, back + got, len - got);
			if (r < 0 && errno == EINTR)
				r = 0;
			else if (r <= 0)
				die("echo read");
		}
		if (memcmp(line, back, len)) {
			fprintf(stderr, "twtool: echo mismatch at %lu\n", n);
			return 1;
		}
		n++;
		usleep(100000);
	}
	setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(s);
	printf("echoes=%lu\n", n);
	return 0;
}

static int ctstall(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int s, one = 1, grp = NFNLGRP_CONNTRACK_DESTROY, size = 1;

	s = socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)))
		die("netlink");
	if (setsockopt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) ||
	    setsockopt(s, SOL_NETLINK, NETLINK_BROADCAST_ERROR, &one, sizeof(one)) ||
	    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)))
		die("netlink options");
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
	return 0;
}

/* csum_add: the ones' complement sum of LEN bytes at P added to SUM. */
static unsigned int csum_add(unsigned int sum, const void *p, size_t len)
{
	const unsigned char *b = p;

	for (; len > 1; b += 2, len -= 2)
		sum += b[0] << 8 | b[1];
	if (len)
		sum += b[0] << 8;
	return sum;
}

static int late_ack(int argc, char **argv)
{
	struct {
		struct iphdr ip;
		struct tcphdr tcp;
	} pkt;
	struct {
		struct in_addr src, dst;
		unsigned char zero, proto;
		unsigned short len;
	} pseudo;
	struct sockaddr_in dst = { .sin_family = AF_INET };
	unsigned int sum;
	int s;

	if (argc != 8)
		return 2;
	memset(&pkt, 0, sizeof(pkt));
	if (inet_pton(AF_INET, argv[2], &pseudo.src) != 1 ||
	    inet_pton(AF_INET, argv[4], &pseudo.dst) != 1) {
		fprintf(stderr, "twtool: lateack: IPv4 addresses only\n");
		return 1;
	}
	pkt.ip.version = 4;
	pkt.ip.ihl = 5;
	pkt.ip.ttl = 64;
	pkt.ip.protocol = IPPROTO_TCP;
	pkt.ip.tot_len = htons(sizeof(pkt));
	pkt.ip.saddr = pseudo.src.s_addr;
	pkt.ip.daddr = pseudo.dst.s_addr;
	pkt.tcp.source = htons(atoi(argv[3]));
	pkt.tcp.dest = htons(atoi(argv[5]));
	pkt.tcp.seq = htonl(strtoul(argv[6], NULL, 10));
	pkt.tcp.ack_seq = htonl(strtoul(argv[7], NULL, 10));
	pkt.tcp.doff = sizeof(pkt.tcp) / 4;
	pkt.tcp.ack = 1;
	pkt.tcp.window = htons(502);
	pseudo.zero = 0;
	pseudo.proto = IPPROTO_TCP;
	pseudo.len = htons(sizeof(pkt.tcp));
	sum = csum_add(csum_add(0, &pseudo, sizeof(pseudo)), &pkt.tcp, sizeof(pkt.tcp));
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	pkt.tcp.check = htons(~sum & 0xffff);

	/* IPPROTO_RAW: the header is ours; the kernel fills in its checksum. */
	s = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (s < 0)
		die("raw socket");
	dst.sin_addr = pseudo.dst;
	if (sendto(s, &pkt, sizeof(pkt), 0, (struct sockaddr *)&dst, sizeof(dst)) != sizeof(pkt))
		die("sendto");
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	int ret = 2;

	if (argc > 1 && !strcmp(argv[1], "server"))
		ret = server(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "connect"))
		ret = client(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "echo"))
		ret = echo_client(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "ftpctl"))
		ret = ftp_control(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "ctstall"))
		ret = ctstall();
	else if (argc > 1 && !strcmp(argv[1], "lateack"))
		ret = late_ack(argc, argv);
	if (ret == 2)
		fprintf(stderr,
			"usage: twtool server PORT ID [fin|rst|sfin|echo]\n"
			"       twtool server PORT ID ftp DATAADDR DATAPORT\n"
			"       twtool ftpctl ADDR PORT [-b SRC[:PORT]]\n"
			"       twtool connect ADDR PORT [fin|rst|crst] [-b SRC[:PORT]] [-T TOS]\n"
			"       twtool echo ADDR PORT SECONDS\n"
			"       twtool ctstall\n"
			"       twtool lateack SRC SPORT DST DPORT SEQ ACK\n");
	return ret;
}
