/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ainftp-udp-ceiling: what the kernel's UDP moves per core of CPU time on a
 * path, with none of ainftp's code but the tools' clock: the ceiling the
 * worker client is measured against (scripts/bench-allreduce.sh). The sender
 * hands the kernel 64 KB per sendmsg, cut into MTU-sized datagrams by UDP GSO
 * (UDP_SEGMENT); the receiver takes them coalesced by UDP GRO (UDP_GRO), the
 * segment size in a cmsg. Each side prints one JSON line: UDP payload bytes
 * over its own thread's CPU time.
 *
 *   ainftp-udp-ceiling --recv 198.18.0.254:5001 &
 *   ainftp-udp-ceiling --send 198.18.0.254:5001 --bind 198.18.0.11 --seg 1472 --time 2
 *
 * Plain Linux, on purpose: a ceiling that shared the client's code would share
 * its costs too.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ainftp_clock.h"
#include "ainftp_opt.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define PROG "ainftp-udp-ceiling"
#define EXIT_USAGE 2
#define GSO_MAX_SEGS 64	      /* the kernel's UDP_MAX_SEGMENTS on older kernels */
#define UDP_MAX_PAYLOAD 65507 /* one IPv4 datagram, GSO or not */
#define RX_IDLE_MS 500	      /* the receiver stops this long after the last datagram */
#define SOCKBUF (8 << 20)

struct args {
	bool send;
	struct sockaddr_in peer; /* --send: where to; --recv: where to listen */
	struct sockaddr_in bind;
	unsigned int seg;
	double time_s;
	double wait_s; /* --recv: give up when nothing came for this long */
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --send IP:PORT [--bind IP] [--seg BYTES] [--time S]\n"
		"       " PROG " --recv IP:PORT [--wait S]\n"
		"  --send    send UDP GSO messages of 64 KB for --time seconds (default 2)\n"
		"  --seg     datagram payload bytes, the path's MTU less 28 (default 1472)\n"
		"  --recv    receive with UDP GRO until %d ms pass without a datagram, or\n"
		"            --wait seconds (default 10) without any\n"
		"Prints one JSON line: bytes, cpu_s and gbps_per_core (UDP payload bits\n"
		"per second of this thread's CPU time).\n" AINFTP_OPT_STD_USAGE,
		RX_IDLE_MS);
}

static int
parse_addr(const char *s, struct sockaddr_in *sa, bool need_port)
{
	char ip[64];
	const char *colon = strrchr(s, ':');
	unsigned long port = 0;
	char *end = NULL;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (colon == NULL && need_port)
		return -1;
	snprintf(ip, sizeof(ip), "%.*s", colon != NULL ? (int)(colon - s) : (int)strlen(s), s);
	if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1)
		return -1;
	if (colon != NULL) {
		port = strtoul(colon + 1, &end, 10);
		if (*end != '\0' || port == 0 || port > 65535)
			return -1;
	}
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

static int
parse_num(const char *opt, const char *v, double lo, double hi, double *out)
{
	char *end = NULL;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !(d >= lo && d <= hi)) {
		fprintf(stderr, PROG ": %s: \"%s\" is not a number in %g..%g\n", opt, v, lo, hi);
		return -1;
	}
	*out = d;
	return 0;
}

static int
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option lo[] = {{"send", required_argument, NULL, 's'},
					   {"recv", required_argument, NULL, 'r'},
					   {"bind", required_argument, NULL, 'b'},
					   {"seg", required_argument, NULL, 'g'},
					   {"time", required_argument, NULL, 't'},
					   {"wait", required_argument, NULL, 'w'},
					   {NULL, 0, NULL, 0}};
	bool mode = false;
	double d;
	int ch;

	*a = (struct args){.seg = 1472, .time_s = 2, .wait_s = 10};
	a->bind.sin_family = AF_INET;
	ainftp_opt_std(argc, argv, PROG, usage);
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's':
		case 'r':
			if (mode || parse_addr(optarg, &a->peer, true) < 0) {
				fprintf(stderr, PROG ": --send/--recv: one IP:PORT, got \"%s\"\n",
					optarg);
				return -1;
			}
			a->send = ch == 's';
			mode = true;
			break;
		case 'b':
			if (parse_addr(optarg, &a->bind, false) < 0) {
				fprintf(stderr, PROG ": --bind: \"%s\" is not an IPv4 address\n",
					optarg);
				return -1;
			}
			break;
		case 'g':
			if (parse_num("--seg", optarg, 64, 8972, &d) < 0)
				return -1;
			a->seg = (unsigned int)d;
			break;
		case 't':
			if (parse_num("--time", optarg, 0.1, 60, &a->time_s) < 0)
				return -1;
			break;
		case 'w':
			if (parse_num("--wait", optarg, 0.1, 600, &a->wait_s) < 0)
				return -1;
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (!mode || optind < argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static int
open_socket(const struct sockaddr_in *local)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), sz = SOCKBUF;

	if (fd < 0)
		return -1;
	/* FORCE where root may: the default ceiling would throttle the kernel, not us. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (bind(fd, (const struct sockaddr *)local, sizeof(*local)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
print_result(const char *role, unsigned int seg, uint64_t bytes, uint64_t calls, double cpu_s,
	     double wall_s, const char *key, uint64_t val)
{
	printf("{\"role\":\"%s\",\"seg\":%u,\"bytes\":%llu,\"calls\":%llu,\"cpu_s\":%.4f,"
	       "\"wall_s\":%.4f,\"%s\":%llu,\"gbps\":%.3f,\"gbps_per_core\":%.3f}\n",
	       role, seg, (unsigned long long)bytes, (unsigned long long)calls, cpu_s, wall_s, key,
	       (unsigned long long)val, wall_s > 0 ? bytes * 8.0 / wall_s / 1e9 : 0.0,
	       cpu_s > 0 ? bytes * 8.0 / cpu_s / 1e9 : 0.0);
}

/*
 * As many segments as fit one datagram's 64 KB. A full socket buffer (ENOBUFS,
 * EAGAIN) is the receiver's backlog: counted, not sent, not fatal.
 */
static int
run_send(const struct args *a)
{
	unsigned int nseg = UDP_MAX_PAYLOAD / a->seg;
	size_t len;
	uint8_t *buf;
	uint64_t bytes = 0, calls = 0, errs = 0;
	double cpu0, wall0, end;
	int fd, seg = (int)a->seg;

	nseg = nseg > GSO_MAX_SEGS ? GSO_MAX_SEGS : nseg;
	len = (size_t)nseg * a->seg;
	buf = calloc(1, len);
	fd = open_socket(&a->bind);
	if (buf == NULL || fd < 0 ||
	    connect(fd, (const struct sockaddr *)&a->peer, sizeof(a->peer)) < 0 ||
	    setsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg)) < 0) {
		fprintf(stderr, PROG ": send: %s\n", strerror(errno));
		return 1;
	}
	cpu0 = ainftp_seconds(CLOCK_THREAD_CPUTIME_ID);
	wall0 = ainftp_seconds(CLOCK_MONOTONIC);
	end = wall0 + a->time_s;
	/* The clock read every 64 sends only: it is not free either. */
	while ((calls & 63) != 0 || ainftp_seconds(CLOCK_MONOTONIC) < end) {
		ssize_t n = send(fd, buf, len, 0);

		calls++;
		if (n > 0)
			bytes += (uint64_t)n;
		else if (errno == ENOBUFS || errno == EAGAIN || errno == ECONNREFUSED)
			errs++;
		else {
			fprintf(stderr, PROG ": send: %s\n", strerror(errno));
			return 1;
		}
	}
	print_result("send", a->seg, bytes, calls, ainftp_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu0,
		     ainftp_seconds(CLOCK_MONOTONIC) - wall0, "refused", errs);
	close(fd);
	free(buf);
	return 0;
}

/* The receive window: from the first datagram to the last, so waiting is not counted. */
static int
run_recv(const struct args *a)
{
	static uint8_t buf[65536];
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct timeval tv = {.tv_sec = 0, .tv_usec = 100 * 1000};
	uint64_t bytes = 0, calls = 0, gro = 0;
	double cpu0 = 0, wall0 = 0, last = 0, start = ainftp_seconds(CLOCK_MONOTONIC);
	int one = 1, fd = open_socket(&a->peer);

	if (fd < 0 || setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) < 0) {
		fprintf(stderr, PROG ": recv: %s\n", strerror(errno));
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	fprintf(stderr, PROG ": receiving\n"); /* the bench starts the sender after this */
	fflush(stderr);
	for (;;) {
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr h = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = cm.b,
				   .msg_controllen = sizeof(cm.b)};
		ssize_t n = recvmsg(fd, &h, 0);
		double now;

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, PROG ": recv: %s\n", strerror(errno));
			return 1;
		}
		now = ainftp_seconds(CLOCK_MONOTONIC);
		if (n < 0) {
			if (calls > 0 ? now - last > RX_IDLE_MS / 1e3 : now - start > a->wait_s)
				break;
			continue;
		}
		if (calls++ == 0) {
			cpu0 = ainftp_seconds(CLOCK_THREAD_CPUTIME_ID);
			wall0 = now;
			continue; /* the first one starts the clocks */
		}
		bytes += (uint64_t)n;
		last = now;
		/* A cmsg only when segments were coalesced: how much GRO did. */
		gro += CMSG_FIRSTHDR(&h) != NULL && CMSG_FIRSTHDR(&h)->cmsg_type == UDP_GRO;
	}
	if (calls == 0) {
		fprintf(stderr, PROG ": recv: nothing arrived in %g s\n", a->wait_s);
		return 1;
	}
	/* The idle tail's timeouts cost a few microseconds of CPU: left in. */
	print_result("recv", a->seg, bytes, calls, ainftp_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu0,
		     last - wall0, "gro_calls", gro);
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	struct args a;

	if (parse_args(argc, argv, &a) < 0)
		return EXIT_USAGE;
	return a.send ? run_send(&a) : run_recv(&a);
}
