/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ainftp-impair: a netem-like L2 relay between two interfaces of one network
 * namespace, for kernels built without sch_netem (scripts/lab.sh puts it
 * between the appliance's tap and the workers' veth).
 *
 * Every frame read on one interface is written to the other, in both
 * directions, through an AF_PACKET socket bound to each. Each frame is, at
 * random and independently: dropped (--loss), sent twice (--dup), or held back
 * and sent after the next frame in its direction or after --hold-us, whichever
 * comes first (--reorder). The PRNG is seeded (--seed) so a run can be replayed:
 * each direction draws from its own stream, so one direction's traffic does not
 * change the other's fate.
 *
 * Offloads: a frame a kernel sent over veth may still be waiting for its
 * checksum (CHECKSUM_PARTIAL) or be one TCP segment of 64 KiB (GSO). The
 * sockets read and write a virtio_net_hdr before each frame (PACKET_VNET_HDR),
 * so that state crosses the relay and the kernel finishes the checksum or the
 * segmentation on the way out, as a bridge would: no ethtool needed.
 *
 * SIGINT or SIGTERM prints one JSON line of counters per direction on stdout and
 * exits 0. Nothing is printed per frame.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>

#include "ainftp_opt.h"

#define BATCH 32	/* frames per recvmmsg */
#define HOLD_MAX 64	/* frames held back per direction */
#define FRAME_MAX 65536 /* the largest frame read: a whole GSO packet */
#define VNET_LEN ((size_t)sizeof(struct virtio_net_hdr))
#define VLAN_LEN 4 /* room to put a stripped 802.1Q tag back */
#define BUF_LEN (VNET_LEN + FRAME_MAX + VLAN_LEN)
#define TX_MAX (2 * (BATCH + HOLD_MAX)) /* every frame read or held, each twice */
#define SOCKBUF (8 << 20)		/* socket buffers: bursts of jumbo frames */
#define DEFAULT_HOLD_US 2000

static const char *prog = "ainftp-impair";

struct opts {
	const char *ifname[2];
	double loss, dup, reorder; /* percentages, 0..100 */
	uint64_t hold_ns;
	uint64_t seed;
	bool impair[2]; /* per direction: a2b, b2a */
};

struct counters {
	uint64_t frames, sent, dropped, duplicated, reordered, tx_errors, truncated;
	uint64_t kernel_drops; /* frames the kernel dropped before we read them: a full socket
				  buffer */
};

/* A frame held back for reordering: its buffer belongs to the hold queue. */
struct held {
	uint8_t *buf;
	size_t len; /* virtio_net_hdr included */
	unsigned copies;
	uint64_t deadline_ns;
};

/* One direction: read from rx_fd, write to tx_fd. */
struct dir {
	const char *name;
	int rx_fd, tx_fd;
	bool impair;
	uint64_t rng;
	struct counters c;

	/* Receive side: BATCH buffers, swapped with the pool's when a frame is held. */
	uint8_t *rx_buf[BATCH];
	struct iovec rx_iov[BATCH];
	struct mmsghdr rx_msg[BATCH];
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	} rx_ctl[BATCH];

	/* Frames held back, oldest first (a ring). */
	struct held hold[HOLD_MAX];
	unsigned hold_head, hold_n;

	/* Free buffers; released ones return here only once the send is done. */
	uint8_t *pool[HOLD_MAX];
	unsigned pool_n;
	uint8_t *released[HOLD_MAX];
	unsigned released_n;

	/* The frames to send, in order. */
	struct iovec tx_iov[TX_MAX];
	struct mmsghdr tx_msg[TX_MAX];
	unsigned tx_n;
};

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: %s --a IFACE --b IFACE [--loss PCT] [--dup PCT] [--reorder PCT]\n"
		"       [--hold-us US] [--seed N] [--dir both|a2b|b2a]\n"
		"Relays every frame between two interfaces, dropping (--loss), duplicating\n"
		"(--dup) and reordering (--reorder) a percentage of them at random; a\n"
		"reordered frame goes after the next one, or after --hold-us (default %d).\n"
		"--dir picks the impaired directions (default both). SIGINT or SIGTERM\n"
		"prints the counters as one JSON line and exits.\n" AINFTP_OPT_STD_USAGE,
		prog, DEFAULT_HOLD_US);
}

static void
bad_usage(const char *fmt, const char *what)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, what);
	fprintf(stderr, " (see --help)\n");
	exit(2);
}

/* SplitMix64: tiny, seedable with any value, good enough to pick fates. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* True with probability pct / 100: 53 random bits make a double in [0, 1). */
static bool
chance(struct dir *d, double pct)
{
	if (!d->impair || pct <= 0)
		return false;
	return (double)(rng_next(&d->rng) >> 11) * 0x1.0p-53 * 100.0 < pct;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A percentage, or exit 2 after the message. */
static double
parse_pct(const char *opt, const char *s)
{
	double v;

	if (ainftp_opt_real(prog, opt, s, 0, 100, false, &v) < 0)
		exit(2);
	return v;
}

static uint64_t
parse_u64(const char *opt, const char *s, uint64_t max)
{
	unsigned long long v;

	if (ainftp_opt_uint(prog, opt, s, 0, max, &v) < 0)
		exit(2);
	return v;
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_A = 256, OPT_B, OPT_LOSS, OPT_DUP, OPT_REORDER, OPT_HOLD, OPT_SEED, OPT_DIR };
	static const struct option longopts[] = {
		{"a", required_argument, NULL, OPT_A},
		{"b", required_argument, NULL, OPT_B},
		{"loss", required_argument, NULL, OPT_LOSS},
		{"dup", required_argument, NULL, OPT_DUP},
		{"reorder", required_argument, NULL, OPT_REORDER},
		{"hold-us", required_argument, NULL, OPT_HOLD},
		{"seed", required_argument, NULL, OPT_SEED},
		{"dir", required_argument, NULL, OPT_DIR},
		{NULL, 0, NULL, 0},
	};
	bool seeded = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->hold_ns = DEFAULT_HOLD_US * 1000ull;
	o->impair[0] = o->impair[1] = true;
	opterr = 0; /* one message of our own, naming the option */
	ainftp_opt_std(argc, argv, prog, usage);
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_A:
		case OPT_B:
			o->ifname[c - OPT_A] = optarg;
			break;
		case OPT_LOSS:
			o->loss = parse_pct("--loss", optarg);
			break;
		case OPT_DUP:
			o->dup = parse_pct("--dup", optarg);
			break;
		case OPT_REORDER:
			o->reorder = parse_pct("--reorder", optarg);
			break;
		case OPT_HOLD:
			/* At most 10 s: a held frame must come out. */
			o->hold_ns = parse_u64("--hold-us", optarg, 10000000) * 1000;
			break;
		case OPT_SEED:
			o->seed = parse_u64("--seed", optarg, UINT64_MAX);
			seeded = true;
			break;
		case OPT_DIR:
			if (!strcmp(optarg, "both") || !strcmp(optarg, "a2b") ||
			    !strcmp(optarg, "b2a")) {
				o->impair[0] = strcmp(optarg, "b2a") != 0;
				o->impair[1] = strcmp(optarg, "a2b") != 0;
			} else {
				bad_usage("--dir: \"%s\" is not one of both, a2b, b2a", optarg);
			}
			break;
		case ':':
			bad_usage("option %s needs a value", argv[optind - 1]);
			break;
		default:
			bad_usage("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		bad_usage("unexpected argument \"%s\"", argv[optind]);
	if (!o->ifname[0])
		bad_usage("missing %s IFACE", "--a");
	if (!o->ifname[1])
		bad_usage("missing %s IFACE", "--b");
	if (!strcmp(o->ifname[0], o->ifname[1]))
		bad_usage("--a and --b are both %s", o->ifname[0]);
	/* Unseeded runs still report their seed, so any run can be replayed. */
	if (!seeded) {
		uint64_t s = now_ns() ^ ((uint64_t)getpid() << 32);
		o->seed = rng_next(&s);
	}
}

static void
setsockopt_or_die(int fd, int level, int name, const void *val, socklen_t len, const char *what,
		  const char *ifname)
{
	if (setsockopt(fd, level, name, val, len) < 0) {
		fprintf(stderr, "%s: %s: %s: %s\n", prog, ifname, what, strerror(errno));
		exit(1);
	}
}

/*
 * An AF_PACKET socket that sees every frame arriving on one interface (not
 * those leaving it, its own included: that would loop) and sends on it.
 */
static int
open_port(const char *ifname)
{
	unsigned ifindex = if_nametoindex(ifname);
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	struct packet_mreq mr = {.mr_type = PACKET_MR_PROMISC};
	int one = 1, buf = SOCKBUF;
	int fd;

	if (ifindex == 0) {
		fprintf(stderr, "%s: no interface %s: %s\n", prog, ifname, strerror(errno));
		exit(1);
	}
	/* Protocol 0 until bound: with ETH_P_ALL now it would see every interface's frames. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: AF_PACKET socket: %s (root needed)\n", prog, ifname,
			strerror(errno));
		exit(1);
	}
	setsockopt_or_die(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one),
			  "PACKET_IGNORE_OUTGOING", ifname);
	setsockopt_or_die(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one), "PACKET_VNET_HDR",
			  ifname);
	/* The auxdata carries the 802.1Q tag the kernel took off the frame. */
	setsockopt_or_die(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one), "PACKET_AUXDATA",
			  ifname);
	/* Bigger buffers where root may force them; the defaults are a fallback. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	sll.sll_ifindex = (int)ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "%s: %s: bind: %s\n", prog, ifname, strerror(errno));
		exit(1);
	}
	/* Frames for other MAC addresses too: the relay stands in for a wire. */
	mr.mr_ifindex = (int)ifindex;
	setsockopt_or_die(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr),
			  "promiscuous mode", ifname);
	return fd;
}

static uint8_t *
alloc_buf(void)
{
	uint8_t *b = malloc(BUF_LEN);

	if (!b) {
		fprintf(stderr, "%s: out of memory\n", prog);
		exit(1);
	}
	return b;
}

static void
dir_init(struct dir *d, const char *name, int rx_fd, int tx_fd, bool impair, uint64_t seed)
{
	unsigned i;

	memset(d, 0, sizeof(*d));
	d->name = name;
	d->rx_fd = rx_fd;
	d->tx_fd = tx_fd;
	d->impair = impair;
	d->rng = seed;
	for (i = 0; i < BATCH; i++) {
		d->rx_buf[i] = alloc_buf();
		d->rx_msg[i].msg_hdr.msg_iov = &d->rx_iov[i];
		d->rx_msg[i].msg_hdr.msg_iovlen = 1;
	}
	for (i = 0; i < HOLD_MAX; i++)
		d->pool[d->pool_n++] = alloc_buf();
	for (i = 0; i < TX_MAX; i++) {
		d->tx_msg[i].msg_hdr.msg_iov = &d->tx_iov[i];
		d->tx_msg[i].msg_hdr.msg_iovlen = 1;
	}
}

/* Once nothing is held or queued, every buffer is in an rx slot or the pool. */
static void
dir_free(struct dir *d)
{
	unsigned i;

	for (i = 0; i < BATCH; i++)
		free(d->rx_buf[i]);
	while (d->pool_n)
		free(d->pool[--d->pool_n]);
}

/*
 * Sends the queued frames. A frame the kernel refuses (ENOBUFS or EAGAIN: a
 * full device or socket buffer; EMSGSIZE: larger than the MTU) is counted and
 * skipped, so a congested interface costs frames, never a spin.
 */
static void
flush(struct dir *d)
{
	unsigned done = 0;

	while (done < d->tx_n) {
		int r = sendmmsg(d->tx_fd, d->tx_msg + done, d->tx_n - done, MSG_DONTWAIT);

		if (r > 0) {
			d->c.sent += (unsigned)r;
			done += (unsigned)r;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else {
			d->c.tx_errors++;
			done++;
		}
	}
	d->tx_n = 0;
	/* Only now are the released buffers' frames out of our hands. */
	while (d->released_n)
		d->pool[d->pool_n++] = d->released[--d->released_n];
}

/* Queues one frame (virtio_net_hdr first) to send `copies` times. */
static void
emit(struct dir *d, uint8_t *buf, size_t len, unsigned copies)
{
	while (copies--) {
		if (d->tx_n == TX_MAX)
			flush(d);
		d->tx_iov[d->tx_n].iov_base = buf;
		d->tx_iov[d->tx_n].iov_len = len;
		d->tx_n++;
	}
}

/* Sends the oldest held frame; its buffer returns to the pool after the flush. */
static void
release_oldest(struct dir *d)
{
	struct held *h = &d->hold[d->hold_head];

	emit(d, h->buf, h->len, h->copies);
	d->released[d->released_n++] = h->buf;
	d->hold_head = (d->hold_head + 1) % HOLD_MAX;
	d->hold_n--;
}

/* Held frames past their deadline: nothing followed them in time. */
static void
release_expired(struct dir *d, uint64_t now)
{
	while (d->hold_n && d->hold[d->hold_head].deadline_ns <= now)
		release_oldest(d);
}

/*
 * Holds the frame in rx slot i back, taking its buffer and leaving a free one
 * in the slot. With the hold queue full, the oldest held frame goes out first:
 * memory is bounded and no frame waits for long.
 */
static void
hold(struct dir *d, unsigned i, size_t len, unsigned copies, uint64_t deadline)
{
	struct held *h;

	if (d->pool_n == 0)
		flush(d); /* returns the buffers of frames released so far */
	if (d->pool_n == 0) {
		release_oldest(d);
		flush(d);
	}
	h = &d->hold[(d->hold_head + d->hold_n) % HOLD_MAX];
	h->buf = d->rx_buf[i];
	h->len = len;
	h->copies = copies;
	h->deadline_ns = deadline;
	d->hold_n++;
	d->rx_buf[i] = d->pool[--d->pool_n];
}

/*
 * The kernel hands 802.1Q tags over in the auxdata, not in the frame (with
 * VLAN RX offload, as veth has): put the tag back so the far side gets the
 * frame as it was sent. The checksum start moves with the bytes after it.
 */
static size_t
restore_vlan(struct mmsghdr *m, uint8_t *buf, size_t len)
{
	struct msghdr *mh = &m->msg_hdr;
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		struct tpacket_auxdata aux;
		struct virtio_net_hdr *vh = (struct virtio_net_hdr *)buf;
		uint8_t *eth = buf + VNET_LEN;
		uint16_t tpid, tci;

		if (cm->cmsg_level != SOL_PACKET || cm->cmsg_type != PACKET_AUXDATA)
			continue;
		memcpy(&aux, CMSG_DATA(cm), sizeof(aux));
		if (!(aux.tp_status & TP_STATUS_VLAN_VALID) || len < VNET_LEN + 2 * ETH_ALEN)
			return len;
		tpid = htons((aux.tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux.tp_vlan_tpid
									 : ETH_P_8021Q);
		tci = htons(aux.tp_vlan_tci);
		memmove(eth + 2 * ETH_ALEN + VLAN_LEN, eth + 2 * ETH_ALEN,
			len - VNET_LEN - 2 * ETH_ALEN);
		memcpy(eth + 2 * ETH_ALEN, &tpid, 2);
		memcpy(eth + 2 * ETH_ALEN + 2, &tci, 2);
		if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			vh->csum_start = htole16(le16toh(vh->csum_start) + VLAN_LEN);
		if (vh->hdr_len)
			vh->hdr_len = htole16(le16toh(vh->hdr_len) + VLAN_LEN);
		return len + VLAN_LEN;
	}
	return len;
}

/* Reads one batch, if any, and decides each frame's fate. Returns false on a fatal error. */
static bool
relay_batch(struct dir *d, const struct opts *o)
{
	uint64_t now;
	unsigned i;
	int n;

	for (i = 0; i < BATCH; i++) {
		d->rx_iov[i].iov_base = d->rx_buf[i];
		d->rx_iov[i].iov_len = VNET_LEN + FRAME_MAX;
		d->rx_msg[i].msg_hdr.msg_control = &d->rx_ctl[i];
		d->rx_msg[i].msg_hdr.msg_controllen = sizeof(d->rx_ctl[i]);
	}
	n = recvmmsg(d->rx_fd, d->rx_msg, BATCH, MSG_DONTWAIT, NULL);
	if (n < 0) {
		/* ENETDOWN: the link went down (reported once), frames resume when it is back up.
		 */
		if (errno == EAGAIN || errno == EINTR || errno == ENETDOWN)
			return true;
		fprintf(stderr, "%s: %s: recvmmsg: %s\n", prog, d->name, strerror(errno));
		return false;
	}
	now = now_ns();
	for (i = 0; i < (unsigned)n; i++) {
		size_t len = d->rx_msg[i].msg_len;
		struct virtio_net_hdr *vh = (struct virtio_net_hdr *)d->rx_buf[i];
		unsigned copies = 1;

		d->c.frames++;
		if ((d->rx_msg[i].msg_hdr.msg_flags & MSG_TRUNC) || len <= VNET_LEN) {
			d->c.truncated++;
			continue;
		}
		/* DATA_VALID only means something on receive. */
		vh->flags &= (uint8_t)~VIRTIO_NET_HDR_F_DATA_VALID;
		len = restore_vlan(&d->rx_msg[i], d->rx_buf[i], len);
		if (chance(d, o->loss)) {
			d->c.dropped++;
			continue;
		}
		if (chance(d, o->dup)) {
			d->c.duplicated++;
			copies = 2;
		}
		if (chance(d, o->reorder)) {
			d->c.reordered++;
			hold(d, i, len, copies, now + o->hold_ns);
			continue;
		}
		emit(d, d->rx_buf[i], len, copies);
		/* This frame overtook every frame held so far: they follow it now. */
		while (d->hold_n)
			release_oldest(d);
	}
	release_expired(d, now);
	flush(d);
	return true;
}

/* How long ppoll may sleep: until the earliest held frame is due, or for ever. */
static struct timespec *
poll_timeout(struct dir dirs[2], struct timespec *ts)
{
	uint64_t first = UINT64_MAX, now;
	unsigned k;

	for (k = 0; k < 2; k++)
		if (dirs[k].hold_n && dirs[k].hold[dirs[k].hold_head].deadline_ns < first)
			first = dirs[k].hold[dirs[k].hold_head].deadline_ns;
	if (first == UINT64_MAX)
		return NULL;
	now = now_ns();
	first = first > now ? first - now : 0;
	ts->tv_sec = (time_t)(first / 1000000000ull);
	ts->tv_nsec = (long)(first % 1000000000ull);
	return ts;
}

static void
print_dir(const struct dir *d)
{
	printf("\"%s\":{\"frames\":%" PRIu64 ",\"sent\":%" PRIu64 ",\"dropped\":%" PRIu64
	       ",\"duplicated\":%" PRIu64 ",\"reordered\":%" PRIu64 ",\"tx_errors\":%" PRIu64
	       ",\"truncated\":%" PRIu64 ",\"kernel_drops\":%" PRIu64 "}",
	       d->name, d->c.frames, d->c.sent, d->c.dropped, d->c.duplicated, d->c.reordered,
	       d->c.tx_errors, d->c.truncated, d->c.kernel_drops);
}

/* The kernel's own count of frames it could not queue to the socket (read and reset). */
static void
read_kernel_drops(struct dir *d)
{
	struct tpacket_stats st;
	socklen_t len = sizeof(st);

	if (getsockopt(d->rx_fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
		d->c.kernel_drops += st.tp_drops;
}

static void
print_counters(struct dir dirs[2], const struct opts *o)
{
	read_kernel_drops(&dirs[0]);
	read_kernel_drops(&dirs[1]);
	printf("{");
	print_dir(&dirs[0]);
	printf(",");
	print_dir(&dirs[1]);
	printf(",\"seed\":%" PRIu64 "}\n", o->seed);
	fflush(stdout);
}

/*
 * SIGINT and SIGTERM are blocked except inside ppoll, so a signal always
 * interrupts the wait, never a half-sent batch, and is never missed.
 */
static void
setup_signals(sigset_t *wait_mask)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, wait_mask);
	sigdelset(wait_mask, SIGINT);
	sigdelset(wait_mask, SIGTERM);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct dir dirs[2];
	struct pollfd pfd[2];
	sigset_t wait_mask;
	const char *impaired;
	int fd[2], rc = 0;
	unsigned k;

	parse_args(argc, argv, &o);
	setup_signals(&wait_mask);
	fd[0] = open_port(o.ifname[0]);
	fd[1] = open_port(o.ifname[1]);
	/* One PRNG stream per direction: a2b's starts at the seed, b2a's at its first output. */
	dir_init(&dirs[0], "a2b", fd[0], fd[1], o.impair[0], o.seed);
	dir_init(&dirs[1], "b2a", fd[1], fd[0], o.impair[1], rng_next(&(uint64_t){o.seed}));
	impaired = !o.impair[1] ? "a2b" : !o.impair[0] ? "b2a" : "both ways";
	/* Both sockets are bound: from this line on no frame is missed (scripts wait for it). */
	fprintf(stderr,
		"%s: relaying %s <-> %s: loss %g%% dup %g%% reorder %g%% hold %" PRIu64
		" us, impaired %s, seed %" PRIu64 "\n",
		prog, o.ifname[0], o.ifname[1], o.loss, o.dup, o.reorder, o.hold_ns / 1000,
		impaired, o.seed);

	for (k = 0; k < 2; k++)
		pfd[k] = (struct pollfd){.fd = fd[k], .events = POLLIN};
	while (!stop_signal && rc == 0) {
		struct timespec ts;
		int r = ppoll(pfd, 2, poll_timeout(dirs, &ts), &wait_mask);

		if (r < 0 && errno != EINTR) {
			fprintf(stderr, "%s: ppoll: %s\n", prog, strerror(errno));
			rc = 1;
		}
		/* POLLERR too: the read reports it, and a vanished interface ends the run. */
		for (k = 0; k < 2 && r > 0 && rc == 0; k++)
			if (pfd[k].revents && !relay_batch(&dirs[k], &o))
				rc = 1;
		for (k = 0; k < 2; k++) {
			release_expired(&dirs[k], now_ns());
			flush(&dirs[k]);
		}
	}
	/* Frames still held leave before the counters are final. */
	for (k = 0; k < 2; k++) {
		while (dirs[k].hold_n)
			release_oldest(&dirs[k]);
		flush(&dirs[k]);
	}
	print_counters(dirs, &o);
	for (k = 0; k < 2; k++) {
		dir_free(&dirs[k]);
		close(fd[k]);
	}
	return rc;
}
