/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One box's engine (ainftp_client_private.h): its requests and its thread;
 * ainftp_client_shard.c has the public calls, over the job's boxes. Also the
 * calls' shared error handling.
 *
 * The engine owns the socket (and, option xdp, an AF_XDP socket beside it:
 * ainftp_client_xdp.h). Each request is cut into chunks of the job's
 * elems_per_packet (the last one zero-padded); chunk c of the request with step
 * s goes to slot c % slots, and, as docs/PROTOCOL.md requires, to a slot only
 * once the result of the slot's previous chunk has arrived. So the engine
 * keeps one entry per slot (the chunk in flight there and its datagram, kept
 * for retransmission) and sends chunks in order while their slot is free and
 * the window allows. A result completes the entry whose (step, chunk) it
 * carries; anything else is a duplicate. Retransmission: a per-chunk timer
 * from an RFC 6298-style estimate of the round trip (Karn's rule: only
 * first transmissions are sampled), doubled per retry up to rto_max_us.
 *
 * Congestion: the window option is a ceiling. What is in flight is limited
 * by a congestion window, TCP-style (RFC 5681): it starts small, grows by one
 * chunk per result until the first timeout (slow start), then by one chunk
 * per window of results; a timeout halves it, once per round trip. Without
 * it, a round trip that outgrows the timer (a descheduled appliance core, a
 * full queue) makes every chunk in flight time out together, and the
 * retransmissions feed the delay that caused them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ainftp_client_private.h"
#include "ainftp_client_xdp.h"
#include "ainftp_mac.h"
#include "ainftp_quant.h"
#include "ainftp_sentry.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "payloads are little-endian and quantized in place");

#define BATCH 32	    /* datagrams per sendmmsg / recvmmsg */
#define TX_MAX 256	    /* datagrams per flush with GSO: several segments per message */
#define GSO_MAX_SEGS 64	    /* the kernel's UDP_MAX_SEGMENTS */
#define GSO_MAX_BYTES 65000 /* one GSO send stays under 64 KiB of UDP payload */
#define RX_BUF 9216	    /* a jumbo datagram */
#define IDLE_WAIT_MS 100    /* engine wake-up when nothing is due */
/* A timeout's message, behind a sharded box's name. */
#define ERRLEN 448
#define CWND_INIT 16 /* chunks: the congestion window's start, as TCP's IW10 or so */
/* With AF_XDP, the kernel socket is read when poll says so, and at least this often. */
#define XDP_SOCKET_EVERY 64

/* ------------------------------------------------------------ errors */

static _Thread_local char last_error[ERRLEN];

const char *
ainftp_last_error(void)
{
	return last_error;
}

static void
vseterr(char *buf, const char *fmt, va_list ap)
{
	vsnprintf(buf, ERRLEN, fmt, ap);
}

void
ainftp_client_seterr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vseterr(last_error, fmt, ap);
	va_end(ap);
}

int
ainftp_client_seterr_status(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vseterr(last_error, fmt, ap);
	va_end(ap);
	return status;
}

void
ainftp_client_wipe(void *p, size_t n)
{
	volatile uint8_t *v = p;

	while (n--)
		*v++ = 0;
}

const char *
ainftp_status_name(int status)
{
	switch (status) {
	case AINFTP_S_OK:
		return "ok";
	case AINFTP_E_INVAL:
		return "invalid argument";
	case AINFTP_E_TIMEOUT:
		return "timeout";
	case AINFTP_E_UNREACHABLE:
		return "appliance unreachable";
	case AINFTP_E_SYSTEM:
		return "system error";
	case AINFTP_E_NOMEM:
		return "out of memory";
	case AINFTP_E_FAILED:
		return "client failed earlier";
	case AINFTP_E_OVERFLOW:
		return "inexact sum (overflow)";
	case AINFTP_E_VALUE:
		return "NaN or infinity";
	case AINFTP_E_CLOSED:
		return "client closed";
	case AINFTP_E_SKIPPED:
		return "skipped: the job went on without this worker";
	case AINFTP_E_MISMATCH:
		return "collective mismatch between workers";
	}
	return "unknown status";
}

/* ------------------------------------------------------------ state */

struct box_req {
	float *buf;
	size_t n;
	int op;
	uint64_t desc; /* its size and op, in every DATA and PROBE (ainftp_req_desc) */
	uint32_t step;
	uint32_t min_step; /* the step is at least this: the job's, as another box said */
	uint32_t nchunks;  /* 0: another box's request only (it still takes a step here) */
	uint32_t next;	   /* engine: next chunk to send */
	uint32_t done;	   /* engine: chunks whose result arrived, or skipped */
	uint32_t skipped;  /* engine: chunks the job completed without this worker */
	bool overflow;
	uint64_t *bitmaps;    /* engine: each chunk's contributors (0: skipped) */
	struct box_req *link; /* submit queue, then the engine's active list */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_int complete;
	int status;
	char err[ERRLEN];
};

/* What this worker has in flight in one slot of the appliance. */
struct inflight {
	struct box_req *req; /* NULL: the slot is free */
	uint32_t chunk;
	uint16_t tries;	 /* DATA sent */
	uint16_t probes; /* PROBEs since the last DATA */
	bool missing;	 /* the appliance says it lacks our data: send it again, now */
	uint64_t order;	 /* the client's count of chunks sent before this one */
	uint64_t sent_ns;
	uint64_t deadline_ns;
	uint64_t rto_ns;
	uint8_t *pkt; /* the datagram, sent again as it is */
};

struct box {
	struct ainftp_opts o;
	/* What failures begin with: "" alone, else "appliance A (shard b of B): ". */
	char who[64];
	struct ainftp_mac_key mk;
	bool result_tags; /* the appliance tags results (HELLO_ACK): untagged ones are refused */
	struct ainftp_kernels k;		   /* the SIMD kernels o.simd_bits allows */
	const struct ainftp_mac_ops *mac;	   /* the MAC's lanes, capped like k */
	const struct ainftp_codec *codec, *rcodec; /* of contributions, of results */
	int fd;
	int wake_fd; /* eventfd: a request was submitted, or close */
	uint16_t local_port;
	size_t payload_len;
	size_t pkt_len;	   /* header + payload + tag */
	size_t pkt_stride; /* between datagrams in pkts */
	size_t result_len; /* what a RESULT for this job is, tag excluded */
	pthread_t thread;

	/* Shared with the callers, under mu. */
	pthread_mutex_t mu;
	struct box_req *sub_head, *sub_tail;
	int fail_status; /* 0, or why the engine stopped; new requests get AINFTP_E_FAILED */
	char fail_msg[ERRLEN];
	struct ainftp_client_stats pub; /* published by the engine once per loop */
	uint32_t pub_next_step;		/* and where the next request starts */
	atomic_bool stop;

	/* Engine only. */
	struct box_req *act_head, *act_tail;
	struct inflight *slot; /* o.slots entries */
	uint8_t *pkts;
	uint32_t in_flight;
	uint64_t sent_chunks; /* ever: the order of first transmissions */
	uint32_t next_step;   /* of the next request to start sending (STATE may move it on) */
	uint32_t window;      /* the ceiling: the window option */
	uint32_t cwnd;	      /* the congestion window, <= window */
	uint32_t ssthresh;    /* slow start below it */
	uint32_t acked;	      /* results since cwnd last grew in congestion avoidance */
	uint64_t cut_ns;      /* when cwnd was last halved: once per round trip */
	uint64_t last_progress_ns;
	uint64_t upstream_ns; /* the box last said our data waits for its spine (0: never) */
	uint64_t srtt_ns, rttvar_ns, rto_ns;
	bool gso;
	struct ainftp_xdp *xdp; /* NULL: UDP sockets alone */
	bool fd_ready;		/* with xdp: poll saw the kernel socket readable */
	uint32_t loops;
	struct ainftp_client_xdp_stats xst, xpub; /* the engine's, the published */
	float *pad;				  /* the last, short chunk, zero-padded */
	uint8_t *rx;
	struct ainftp_client_stats st;
};

static const char *
addr_str(uint32_t be, char *buf, size_t len)
{
	struct in_addr a = {.s_addr = be};

	return inet_ntop(AF_INET, &a, buf, (socklen_t)len);
}

/* ------------------------------------------------------------ requests */

static void
req_finish(struct box_req *r, int status, const char *msg)
{
	pthread_mutex_lock(&r->mu);
	r->status = status;
	snprintf(r->err, sizeof(r->err), "%s", msg != NULL ? msg : "");
	atomic_store(&r->complete, 1);
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

bool
ainftp_box_req_done(const struct box_req *r)
{
	return atomic_load(&((struct box_req *)r)->complete) != 0;
}

/*
 * No deadline of its own: the engine completes every request, with
 * AINFTP_E_TIMEOUT when the appliance is silent for timeout_ms, or
 * AINFTP_E_CLOSED when the client is closed.
 */
int
ainftp_box_req_wait(struct box_req *r)
{
	int status;

	pthread_mutex_lock(&r->mu);
	while (!atomic_load(&r->complete))
		pthread_cond_wait(&r->cv, &r->mu);
	status = r->status;
	pthread_mutex_unlock(&r->mu);
	return status;
}

const char *
ainftp_box_req_error(const struct box_req *r)
{
	return ainftp_box_req_done(r) ? r->err : "";
}

static void
req_destroy(struct box_req *r)
{
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r->bitmaps);
	free(r);
}

void
ainftp_box_req_free(struct box_req *r)
{
	ainftp_box_req_wait(r);
	req_destroy(r);
}

void
ainftp_box_req_info(const struct box_req *r, uint32_t *step, const uint64_t **bitmaps,
		    uint32_t *nchunks)
{
	*step = r->step;
	*bitmaps = r->bitmaps;
	*nchunks = r->nchunks;
}

struct box_req *
ainftp_box_req_new(const struct box *c, float *buf, size_t n, int op, uint32_t min_step)
{
	struct box_req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->buf = buf;
	r->n = n;
	r->op = op;
	r->min_step = min_step;
	r->nchunks = (uint32_t)((n + c->o.elems - 1) / c->o.elems);
	/* Under 2^32 chunks of under 2^16 elements: n fits the descriptor's 48 bits. */
	r->desc = ainftp_req_desc(n, (unsigned int)op);
	/* One allocation per request, none per chunk: what ainftp_req_info reports. */
	r->bitmaps = calloc(r->nchunks, sizeof(*r->bitmaps));
	if (r->bitmaps == NULL && r->nchunks > 0) {
		free(r);
		return NULL;
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	return r;
}

/*
 * All the boxes' locks at once, in box order (an engine takes only its own):
 * no box takes its part of a request while another, failed, refuses its own,
 * which would leave the first box a step ahead of the job for good.
 */
int
ainftp_box_submit(struct box *const *boxes, struct box_req *const *reqs, unsigned int n)
{
	unsigned int b, failed = n;
	uint64_t one = 1;
	int rc = 0;

	for (b = 0; b < n; b++) {
		pthread_mutex_lock(&boxes[b]->mu);
		if (failed == n && boxes[b]->fail_status != 0)
			failed = b;
	}
	if (failed < n)
		rc = ainftp_client_seterr_status(AINFTP_E_FAILED, "client failed earlier: %s",
						 boxes[failed]->fail_msg);
	for (b = 0; b < n && rc == 0; b++) {
		struct box *c = boxes[b];

		if (reqs[b] == NULL)
			continue;
		if (c->sub_tail != NULL)
			c->sub_tail->link = reqs[b];
		else
			c->sub_head = reqs[b];
		c->sub_tail = reqs[b];
	}
	for (b = n; b-- > 0;)
		pthread_mutex_unlock(&boxes[b]->mu);
	for (b = 0; b < n && rc == 0; b++)
		if (reqs[b] != NULL && write(boxes[b]->wake_fd, &one, sizeof(one)) < 0) {
			/* The counter cannot overflow at 2^64 - 1 wake-ups: never reached. */
		}
	return rc;
}

void
ainftp_box_req_discard(struct box_req *r)
{
	req_destroy(r);
}

/* ------------------------------------------------------------ engine: failures */

static void
active_remove(struct box *c, struct box_req *r)
{
	struct box_req **pp = &c->act_head, *prev = NULL;

	while (*pp != NULL && *pp != r) {
		prev = *pp;
		pp = &(*pp)->link;
	}
	if (*pp == NULL)
		return;
	*pp = r->link;
	if (c->act_tail == r)
		c->act_tail = prev;
	r->link = NULL;
}

/*
 * Fail every request, pending or submitted, and refuse new ones: the slots'
 * state on the appliance is no longer known, so this client cannot go on.
 */
static void
engine_fail(struct box *c, int status, const char *why)
{
	struct box_req *r, *next;
	char msg[ERRLEN];

	snprintf(msg, sizeof(msg), "%s%s", c->who, why);
	pthread_mutex_lock(&c->mu);
	if (c->fail_status == 0) {
		c->fail_status = status;
		snprintf(c->fail_msg, sizeof(c->fail_msg), "%s", msg);
	}
	r = c->sub_head;
	c->sub_head = c->sub_tail = NULL;
	pthread_mutex_unlock(&c->mu);
	for (; r != NULL; r = next) {
		next = r->link;
		req_finish(r, status, msg);
	}
	for (r = c->act_head; r != NULL; r = next) {
		next = r->link;
		req_finish(r, status, msg);
	}
	c->act_head = c->act_tail = NULL;
	for (uint32_t s = 0; s < c->o.slots; s++)
		c->slot[s].req = NULL;
	c->in_flight = 0;
}

/*
 * The box is a leaf whose spine has not answered (it said so of our data
 * since the last progress): the message names what the user must look at.
 */
static void
fail_upstream(struct box *c)
{
	char msg[ERRLEN], ip[INET_ADDRSTRLEN];
	const struct box_req *r = c->act_head;

	snprintf(msg, sizeof(msg),
		 "timeout: no result for %u ms from appliance %s:%u (job %u, worker %d, step %u): "
		 "it has this worker's data and waits for its upstream (spine) box, which has not "
		 "answered; check the spine named in cluster.json, and the leaf's log and "
		 "telemetry (docs/SCALEOUT.md)",
		 c->o.timeout_ms, addr_str(c->o.appliance, ip, sizeof(ip)), c->o.port, c->o.job,
		 c->o.worker, r != NULL ? r->step : 0);
	engine_fail(c, AINFTP_E_TIMEOUT, msg);
}

static void
fail_timeout(struct box *c)
{
	char msg[ERRLEN], ip[INET_ADDRSTRLEN];
	const struct box_req *r = c->act_head;

	if (c->upstream_ns > c->last_progress_ns) {
		fail_upstream(c);
		return;
	}
	snprintf(msg, sizeof(msg),
		 "timeout: no result for %u ms from appliance %s:%u (job %u, worker %d, step %u, "
		 "%u chunks in flight, %llu retransmissions, %llu probes, %llu states); check that "
		 "it runs, and that the job, worker id, key and tensor size agree with "
		 "cluster.json and the other workers",
		 c->o.timeout_ms, addr_str(c->o.appliance, ip, sizeof(ip)), c->o.port, c->o.job,
		 c->o.worker, r != NULL ? r->step : 0, c->in_flight,
		 (unsigned long long)c->st.retransmits, (unsigned long long)c->st.probes,
		 (unsigned long long)c->st.states);
	engine_fail(c, AINFTP_E_TIMEOUT, msg);
}

static void
fail_errno(struct box *c, const char *what, int err)
{
	char msg[ERRLEN], ip[INET_ADDRSTRLEN];
	int status = AINFTP_E_SYSTEM;

	if (err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH || err == EHOSTDOWN ||
	    err == ENETDOWN)
		status = AINFTP_E_UNREACHABLE;
	snprintf(msg, sizeof(msg), "%s: appliance %s:%u: %s", what,
		 addr_str(c->o.appliance, ip, sizeof(ip)), c->o.port, strerror(err));
	engine_fail(c, status, msg);
}

/* ------------------------------------------------------------ engine: requests */

/*
 * The queue is looked at on every loop; the eventfd is drained only where
 * ppoll finds it readable (wait_io): a read() per loop was one system call
 * per batch of chunks for nothing.
 */
static void
take_submitted(struct box *c)
{
	struct box_req *r;

	pthread_mutex_lock(&c->mu);
	r = c->sub_head;
	c->sub_head = c->sub_tail = NULL;
	pthread_mutex_unlock(&c->mu);
	if (r == NULL)
		return;
	if (c->act_tail != NULL)
		c->act_tail->link = r;
	else
		c->act_head = r;
	while (r->link != NULL)
		r = r->link;
	c->act_tail = r;
}

/* The first request with chunks still to send. */
static struct box_req *
send_cursor(struct box *c)
{
	struct box_req *r;

	for (r = c->act_head; r != NULL; r = r->link)
		if (r->next < r->nchunks || r->nchunks == 0)
			return r;
	return NULL;
}

static void publish_stats(struct box *c);

static void
req_maybe_done(struct box *c, struct box_req *r)
{
	char msg[ERRLEN];

	if (r->done < r->nchunks)
		return;
	active_remove(c, r);
	c->st.requests++;
	if (r->skipped > 0)
		c->st.requests_skipped++;
	publish_stats(c); /* a waiter that reads the stats next sees its request in them */
	if (r->skipped > 0) {
		snprintf(msg, sizeof(msg),
			 "%sstep %u: the job went on without this worker for %u of %u chunks (it "
			 "fell "
			 "behind by more than a slot's turn); those elements keep their input "
			 "values, "
			 "and the next request rejoins the job at step %u",
			 c->who, r->step, r->skipped, r->nchunks, c->next_step);
		req_finish(r, AINFTP_E_SKIPPED, msg);
	} else if (r->overflow) {
		snprintf(msg, sizeof(msg),
			 "%sstep %u: the appliance flagged a result OVERFLOW: exponents spread too "
			 "far for an exact sum; the buffer holds the sum rounded at each block's "
			 "largest exponent",
			 c->who, r->step);
		req_finish(r, AINFTP_E_OVERFLOW, msg);
	} else {
		req_finish(r, 0, NULL);
	}
}

/* ------------------------------------------------------------ engine: sending */

/* Quantize chunk k of r into its datagram. Fails only on a NaN the caller put in later. */
static int
build_data(struct box *c, struct box_req *r, uint32_t k, uint8_t *pkt)
{
	size_t off = (size_t)k * c->o.elems;
	size_t m = r->n - off < c->o.elems ? r->n - off : c->o.elems;
	const float *x = r->buf + off;
	uint8_t *pl = pkt + sizeof(struct ainftp_hdr);
	struct ainftp_msg msg = {
		.type = AINFTP_MSG_DATA,
		.encoding = (uint8_t)c->o.encoding,
		.flags = c->o.auth ? AINFTP_F_AUTH : 0,
		.job = c->o.job,
		.worker = (uint16_t)c->o.worker,
		.elems = (uint16_t)c->o.elems,
		.step = r->step,
		.chunk = k,
		.slot = (uint16_t)(k & (c->o.slots - 1)),
		.bitmap = r->desc,
	};
	int8_t e = 0;
	int rc = 0;

	if (m < c->o.elems) {
		memset(c->pad, 0, c->o.elems * sizeof(float));
		memcpy(c->pad, x, m * sizeof(float));
		x = c->pad;
	}
	rc = c->codec->quantize(&c->k, x, c->o.elems, pl, &e);
	msg.scale_exp = e;
	ainftp_hdr_write((struct ainftp_hdr *)pkt, &msg);
	/* Its tag, with the batch's others in the MAC's SIMD lanes (tx_tags). */
	return rc;
}

static uint16_t
slot_lane(const struct box *c, uint32_t slot)
{
	return (uint16_t)(slot % c->o.lanes);
}

/* A batch of datagrams for one sendmmsg; with GSO, one message per run of a lane. */
struct txbatch {
	uint32_t n;
	uint32_t slot[TX_MAX];
	uint32_t n_fresh; /* of which new datagrams, untagged yet: their slots */
	uint32_t fresh[TX_MAX];
};

/*
 * The tags of the batch's new datagrams, all in one pass of the MAC's lanes
 * (as the appliance checks a burst's): one SipHash per 9 KB datagram was a
 * fifth of a worker's CPU. A retransmission has its tag already.
 */
static void
tx_tags(struct box *c, struct txbatch *b)
{
	const struct ainftp_mac_key *mk[TX_MAX];
	const void *msg[TX_MAX];
	size_t len[TX_MAX], signed_len = sizeof(struct ainftp_hdr) + c->payload_len;
	uint8_t tags[TX_MAX][AINFTP_TAG_LEN];
	uint32_t i;

	if (b->n_fresh == 0 || !c->o.auth) {
		b->n_fresh = 0;
		return;
	}
	for (i = 0; i < b->n_fresh; i++) {
		mk[i] = &c->mk;
		msg[i] = c->slot[b->fresh[i]].pkt;
		len[i] = signed_len;
	}
	ainftp_mac_many(c->mac, mk, msg, len, tags, b->n_fresh);
	for (i = 0; i < b->n_fresh; i++)
		memcpy(c->slot[b->fresh[i]].pkt + signed_len, tags[i], AINFTP_TAG_LEN);
	b->n_fresh = 0;
}

static void
sockaddr_lane(const struct box *c, uint16_t lane, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = c->o.appliance;
	sa->sin_port = htons((uint16_t)(c->o.port + lane));
}

union gso_cmsg {
	char buf[CMSG_SPACE(sizeof(uint16_t))];
	struct cmsghdr align;
};

/*
 * The batch through the AF_XDP socket (ainftp_client_xdp.h), its tags made:
 * what the ring or its frames could not take is left to the retransmission
 * timers, as a full socket buffer's is.
 */
static int
tx_flush_xdp(struct box *c, struct txbatch *b)
{
	const uint8_t *pl[TX_MAX];
	uint16_t port[TX_MAX];
	int sent;

	for (uint32_t i = 0; i < b->n; i++) {
		pl[i] = c->slot[b->slot[i]].pkt;
		port[i] = htons((uint16_t)(c->o.port + slot_lane(c, b->slot[i])));
	}
	sent = ainftp_xdp_send(c->xdp, pl, port, c->pkt_len, b->n);
	b->n = 0;
	if (sent < 0)
		return -1;
	c->st.packets_sent += (uint64_t)sent;
	c->st.bytes_sent += (uint64_t)sent * c->pkt_len;
	c->xst.sent += (uint64_t)sent;
	return 0;
}

/*
 * The batch's datagrams lane by lane, in order within each: slots alternate
 * lanes, so in slot order no two neighbours could share a GSO send.
 */
static void
tx_by_lane(const struct box *c, struct txbatch *b)
{
	uint32_t start[AINFTP_MAX_QUEUES + 1] = {0}, tmp[TX_MAX];
	uint32_t i;

	for (i = 0; i < b->n; i++)
		start[slot_lane(c, b->slot[i]) + 1]++;
	for (i = 1; i < c->o.lanes; i++)
		start[i] += start[i - 1];
	for (i = 0; i < b->n; i++)
		tmp[start[slot_lane(c, b->slot[i])]++] = b->slot[i];
	memcpy(b->slot, tmp, sizeof(tmp[0]) * b->n);
}

/*
 * Send the batch's datagrams. With GSO, datagrams to one lane go out as one
 * message that the kernel cuts into equal segments. Returns 0, or -1 with
 * errno; a datagram the kernel did not take (a full socket buffer) is left to
 * its retransmission timer.
 */
static int
tx_flush(struct box *c, struct txbatch *b)
{
	struct mmsghdr mm[TX_MAX];
	struct iovec iov[TX_MAX];
	struct sockaddr_in sa[TX_MAX];
	union gso_cmsg cm[TX_MAX];
	uint32_t nm = 0, i = 0, segs_max = 1;
	int sent;

	tx_tags(c, b);
	if (c->xdp != NULL)
		return tx_flush_xdp(c, b);
	if (c->gso) {
		segs_max = (uint32_t)(GSO_MAX_BYTES / c->pkt_len);
		segs_max = segs_max > GSO_MAX_SEGS ? GSO_MAX_SEGS : segs_max;
		if (c->o.lanes > 1)
			tx_by_lane(c, b);
	}
	memset(mm, 0, sizeof(mm[0]) * b->n);
	while (i < b->n) {
		uint16_t lane = slot_lane(c, b->slot[i]);
		uint32_t j = 0;
		struct msghdr *h = &mm[nm].msg_hdr;

		h->msg_iov = &iov[i];
		/* Same-lane datagrams that follow, up to a GSO send's worth. */
		while (i + j < b->n && j < segs_max && slot_lane(c, b->slot[i + j]) == lane) {
			iov[i + j].iov_base = c->slot[b->slot[i + j]].pkt;
			iov[i + j].iov_len = c->pkt_len;
			j++;
		}
		h->msg_iovlen = j;
		sockaddr_lane(c, lane, &sa[nm]);
		h->msg_name = &sa[nm];
		h->msg_namelen = sizeof(sa[nm]);
		if (j > 1) {
			struct cmsghdr *cmh;
			uint16_t seg = (uint16_t)c->pkt_len;

			h->msg_control = cm[nm].buf;
			h->msg_controllen = sizeof(cm[nm].buf);
			cmh = CMSG_FIRSTHDR(h);
			cmh->cmsg_level = SOL_UDP;
			cmh->cmsg_type = UDP_SEGMENT;
			cmh->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(cmh), &seg, sizeof(seg));
		}
		i += j;
		nm++;
	}
	b->n = 0;
	for (i = 0; i < nm; i += (uint32_t)sent) {
		sent = sendmmsg(c->fd, &mm[i], nm - i, MSG_DONTWAIT);
		if (sent < 0) {
			if (errno == EINTR) {
				sent = 0;
				continue;
			}
			if (errno == EAGAIN || errno == ENOBUFS)
				return 0;
			return -1;
		}
		/* Count what the kernel took: one datagram per iovec (segment). */
		for (int k = 0; k < sent; k++) {
			c->st.packets_sent += mm[i + k].msg_hdr.msg_iovlen;
			c->st.bytes_sent += mm[i + k].msg_hdr.msg_iovlen * c->pkt_len;
		}
	}
	return 0;
}

/* Slot's datagram into the batch; fresh: a new one, whose tag is due. */
static int
tx_add(struct box *c, struct txbatch *b, uint32_t slot, bool fresh)
{
	if (fresh)
		b->fresh[b->n_fresh++] = slot;
	b->slot[b->n++] = slot;
	return b->n == (c->gso ? TX_MAX : BATCH) ? tx_flush(c, b) : 0;
}

/*
 * A request's step: the next one here, or the job's where another box of a
 * sharded job knows it to be further on (this box's parts would otherwise
 * be summed with the job's earlier requests).
 */
static uint32_t
step_take(struct box *c, const struct box_req *r)
{
	uint32_t step = r->min_step > c->next_step ? r->min_step : c->next_step;

	c->next_step = step + 1;
	return step;
}

/* Start new chunks while their slots are free and the window allows. */
static int
send_new(struct box *c, uint64_t now, struct txbatch *b)
{
	struct box_req *r;

	while (c->in_flight < c->cwnd && (r = send_cursor(c)) != NULL) {
		uint32_t s = r->next & (c->o.slots - 1);
		struct inflight *f = &c->slot[s];

		if (r->nchunks == 0) {
			/* No chunk here: the request takes its step and ends, in order. */
			r->step = step_take(c, r);
			req_maybe_done(c, r);
			continue;
		}
		if (f->req != NULL)
			break;	  /* the slot's previous chunk has no result yet */
		if (r->next == 0) /* a step boundary: every chunk of a request has one step */
			r->step = step_take(c, r);
		if (build_data(c, r, r->next, f->pkt) < 0) {
			engine_fail(c, AINFTP_E_VALUE,
				    "all-reduce: a NaN or infinity appeared in the buffer "
				    "after the request started");
			return 0;
		}
		if (c->in_flight == 0)
			c->last_progress_ns = now; /* the silence clock starts with work */
		f->req = r;
		f->chunk = r->next++;
		f->tries = 1;
		f->probes = 0;
		f->missing = false;
		f->order = c->sent_chunks++;
		f->sent_ns = now;
		f->rto_ns = c->rto_ns;
		f->deadline_ns = now + f->rto_ns;
		c->in_flight++;
		if (tx_add(c, b, s, true) < 0)
			return -1;
	}
	return 0;
}

/* A timeout: halve the congestion window, unless it was halved this round trip. */
static void
cwnd_cut(struct box *c, uint64_t now)
{
	if (now - c->cut_ns < c->srtt_ns)
		return;
	c->cut_ns = now;
	c->ssthresh = c->cwnd / 2 > 1 ? c->cwnd / 2 : 1;
	c->cwnd = c->ssthresh;
	c->acked = 0;
}

/* A result for a first transmission: grow the congestion window. */
static void
cwnd_grow(struct box *c)
{
	if (c->cwnd >= c->window)
		return;
	if (c->cwnd < c->ssthresh) {
		c->cwnd++;
	} else if (++c->acked >= c->cwnd) {
		c->acked = 0;
		c->cwnd++;
	}
}

/*
 * The chunk in flight that was sent first. By the order of sending, not the
 * clock: chunks sent in one batch share a timestamp, and when a batch wraps
 * around the slots (chunk 255 in slot 255, 256 in slot 0) a scan by slot
 * would take the later chunk. Probing that one deadlocks the job: its peers
 * wait on the earlier chunk, which this worker would then never resend.
 */
static struct inflight *
oldest_in_flight(struct box *c)
{
	struct inflight *old = NULL;

	for (uint32_t s = 0; s < c->o.slots; s++)
		if (c->slot[s].req != NULL && (old == NULL || c->slot[s].order < old->order))
			old = &c->slot[s];
	return old;
}

static void
backoff(struct box *c, struct inflight *f, uint64_t now)
{
	f->rto_ns *= 2;
	if (f->rto_ns > (uint64_t)c->o.rto_max_us * 1000)
		f->rto_ns = (uint64_t)c->o.rto_max_us * 1000;
	f->deadline_ns = now + f->rto_ns;
}

/*
 * A PROBE for the chunk in f: header and tag, to its lane. The appliance
 * answers with the result if the chunk completed, or a STATE that says
 * whether this worker's data is in; only "missing" makes it send the data
 * again. So a lost packet costs one data retransmission, not one per worker.
 */
static void
send_probe(struct box *c, struct inflight *f, uint32_t slot)
{
	uint8_t pkt[sizeof(struct ainftp_hdr) + AINFTP_TAG_LEN];
	struct ainftp_msg m = {
		.type = AINFTP_MSG_PROBE,
		.flags = c->o.auth ? AINFTP_F_AUTH : 0,
		.job = c->o.job,
		.worker = (uint16_t)c->o.worker,
		.step = f->req->step,
		.chunk = f->chunk,
		.slot = (uint16_t)slot,
		.bitmap = f->req->desc,
	};
	size_t len = sizeof(struct ainftp_hdr);
	struct sockaddr_in sa;

	ainftp_hdr_write((struct ainftp_hdr *)pkt, &m);
	if (c->o.auth) {
		ainftp_mac(&c->mk, pkt, len, pkt + len);
		len += AINFTP_TAG_LEN;
	}
	sockaddr_lane(c, slot_lane(c, slot), &sa);
	if (sendto(c->fd, pkt, len, MSG_DONTWAIT, (const struct sockaddr *)&sa, sizeof(sa)) ==
	    (ssize_t)len) {
		c->st.probes++;
		f->probes++;
	}
}

/*
 * Ask after what has waited past its timer (a PROBE); back off each time.
 * When nothing at all has come back since the oldest chunk in flight was sent,
 * a lost chunk is the unlikely cause: a result waits for every worker, so a
 * peer that has not started the step yet (or an appliance that is gone)
 * silences them all. Then only that oldest chunk is probed (as TCP's timeout
 * resends only the first unacknowledged segment), and the other timers just
 * back off.
 */
/* The data of the chunk in slot s again: the appliance said it is missing. */
static int
resend_data(struct box *c, struct txbatch *b, struct inflight *f, uint32_t s, uint64_t now)
{
	f->missing = false;
	f->tries++;
	f->probes = 0;
	f->deadline_ns = now + f->rto_ns;
	c->st.retransmits++;
	return tx_add(c, b, s, false);
}

static int
retransmit(struct box *c, uint64_t now, struct txbatch *b)
{
	struct inflight *probe = NULL;
	bool silent = false;

	for (uint32_t s = 0; s < c->o.slots && c->in_flight > 0; s++) {
		struct inflight *f = &c->slot[s];

		if (f->req == NULL || f->deadline_ns > now)
			continue;
		if (f->missing) {
			cwnd_cut(c, now);
			if (resend_data(c, b, f, s, now) < 0)
				return -1;
			continue;
		}
		if (probe == NULL) { /* only when something is due: a scan of every slot */
			probe = oldest_in_flight(c);
			silent = c->last_progress_ns <= probe->sent_ns;
		}
		cwnd_cut(c, now);
		backoff(c, f, now);
		if (silent && f != probe)
			continue;
		send_probe(c, f, s);
	}
	return 0;
}

/* ------------------------------------------------------------ engine: receiving */

static void
rtt_sample(struct box *c, uint64_t rtt)
{
	uint64_t lo = (uint64_t)c->o.rto_min_us * 1000, hi = (uint64_t)c->o.rto_max_us * 1000;

	if (c->srtt_ns == 0) {
		c->srtt_ns = rtt;
		c->rttvar_ns = rtt / 2;
	} else {
		uint64_t d = rtt > c->srtt_ns ? rtt - c->srtt_ns : c->srtt_ns - rtt;

		c->rttvar_ns = (3 * c->rttvar_ns + d) / 4;
		c->srtt_ns = (7 * c->srtt_ns + rtt) / 8;
	}
	c->rto_ns = c->srtt_ns + 4 * c->rttvar_ns;
	c->rto_ns = c->rto_ns < lo ? lo : (c->rto_ns > hi ? hi : c->rto_ns);
}

/* Write a result's elements (the real ones, not the padding) into the request's buffer. */
static void
result_store(struct box *c, struct box_req *r, uint32_t k, const struct ainftp_msg *m,
	     const uint8_t *pl)
{
	size_t off = (size_t)k * c->o.elems;
	size_t n = r->n - off < c->o.elems ? r->n - off : c->o.elems;
	float *out = r->buf + off;

	/*
	 * pl is 2-aligned in the receive buffer (offset 32); a sum is always
	 * finite. The last, short chunk is decoded whole, through pad (free while
	 * results are read): an int8 payload's values follow the exponents of all
	 * its blocks, so its first n values are not an n-element payload.
	 */
	if (n < c->o.elems) {
		c->rcodec->to_f32(&c->k, pl, c->o.elems, m->scale_exp, c->pad);
		memcpy(out, c->pad, n * sizeof(float));
	} else {
		c->rcodec->to_f32(&c->k, pl, (uint32_t)n, m->scale_exp, out);
	}
	if (r->op == AINFTP_OP_MEAN && m->contributors > 1) {
		float inv = (float)m->contributors;

		for (size_t i = 0; i < n; i++)
			out[i] /= inv;
	}
}

/* The chunk in flight that a message from the appliance names, or NULL. */
static struct inflight *
inflight_of(struct box *c, const struct ainftp_msg *m)
{
	struct inflight *f = &c->slot[m->chunk & (c->o.slots - 1)];

	if (f->req == NULL || f->req->step != m->step || f->chunk != m->chunk)
		return NULL;
	return f;
}

/* A chunk leaves the window: its result arrived, or the job completed it without us. */
static void
chunk_retire(struct box *c, struct inflight *f, uint64_t now)
{
	struct box_req *r = f->req;

	f->req = NULL;
	c->in_flight--;
	c->last_progress_ns = now;
	r->done++;
	req_maybe_done(c, r);
}

static void
take_result(struct box *c, const struct ainftp_msg *m, const uint8_t *pl, uint64_t now)
{
	struct inflight *f;
	struct box_req *r;

	if (m->slot != (m->chunk & (c->o.slots - 1)) || m->elems != c->o.elems ||
	    m->encoding != c->o.result_encoding) {
		c->st.bad_packets++; /* not this job's geometry */
		return;
	}
	f = inflight_of(c, m);
	if (f == NULL) {
		c->st.dup_results++; /* done already, or not in flight */
		return;
	}
	r = f->req;
	c->st.results++;
	c->st.chunks++;
	c->st.bytes_received += c->result_len;
	if (f->tries == 1 && f->probes == 0) { /* Karn: no sample from a chunk asked after */
		rtt_sample(c, now - f->sent_ns);
		cwnd_grow(c);
	}
	if (m->flags & AINFTP_F_OVERFLOW)
		r->overflow = true;
	result_store(c, r, f->chunk, m, pl);
	r->bitmaps[f->chunk] = m->bitmap;
	chunk_retire(c, f, now);
}

/*
 * The chunk's other workers are on another collective: the order (or the
 * size) of this worker's requests differs from theirs. Nothing can be summed
 * from here on, so the client stops, saying what differs.
 */
static void
fail_mismatch(struct box *c, const struct inflight *f, uint64_t other)
{
	static const char *const ops[] = {"sum", "mean"};
	unsigned int mine_op = ainftp_req_desc_op(f->req->desc), op = ainftp_req_desc_op(other);
	char msg[ERRLEN];

	snprintf(msg, sizeof(msg),
		 "collective mismatch at step %u, chunk %u: this worker's all-reduce is of %llu "
		 "elements (%s), the other workers' of %llu elements (%s); every worker must issue "
		 "the same collectives, of the same sizes, in the same order (threads that share "
		 "a client must agree on an order)",
		 f->req->step, f->chunk, (unsigned long long)ainftp_req_desc_elems(f->req->desc),
		 mine_op < 2 ? ops[mine_op] : "?", (unsigned long long)ainftp_req_desc_elems(other),
		 op < 2 ? ops[op] : "?");
	engine_fail(c, AINFTP_E_MISMATCH, msg);
}

/*
 * A STATE about a chunk in flight: where its slot is. Stale: the job
 * completed it without us; skip it and rejoin at the job's step. Missing:
 * send the data again. Have: our data is in, the chunk waits for others.
 * Upstream: the same, at a leaf whose spine has the chunk's partial sum.
 * Ahead: the slot still sums an earlier chunk. The last three just wait.
 * Mismatch: another collective's chunk is there; the client stops.
 */
static void
take_state(struct box *c, const struct ainftp_msg *m, const uint8_t *body, uint64_t now)
{
	struct inflight *f = inflight_of(c, m);
	struct ainftp_state_info si;

	c->st.states++;
	if (f == NULL)
		return;
	ainftp_state_read((const struct ainftp_state *)body, &si);
	switch (si.reason) {
	case AINFTP_STATE_STALE:
		/* The next request not yet begun rejoins the job where it is. */
		if (si.next_step > c->next_step)
			c->next_step = si.next_step;
		f->req->skipped++;
		c->st.chunks_skipped++;
		chunk_retire(c, f, now);
		break;
	case AINFTP_STATE_MISSING:
		f->missing = true;
		f->deadline_ns = now;
		break;
	case AINFTP_STATE_UPSTREAM:
		c->upstream_ns = now;
		f->deadline_ns = now + f->rto_ns;
		break;
	case AINFTP_STATE_HAVE:
	case AINFTP_STATE_AHEAD:
		f->deadline_ns = now + f->rto_ns;
		break;
	case AINFTP_STATE_MISMATCH:
		fail_mismatch(c, f, m->bitmap);
		break;
	default:
		c->st.bad_packets++;
		break;
	}
}

/* HEARTBEAT_ACK: the heartbeat's step, chunk and bitmap echoed, as this worker. */
static void
answer_heartbeat(struct box *c, const struct ainftp_msg *hb, const struct sockaddr_in *from)
{
	uint8_t pkt[sizeof(struct ainftp_hdr) + AINFTP_TAG_LEN];
	struct ainftp_msg m = *hb;
	size_t len = sizeof(struct ainftp_hdr);

	m.type = AINFTP_MSG_HEARTBEAT_ACK;
	m.worker = (uint16_t)c->o.worker;
	m.flags = c->o.auth ? AINFTP_F_AUTH : 0;
	m.elems = 0;
	m.encoding = 0;
	m.contributors = 0;
	ainftp_hdr_write((struct ainftp_hdr *)pkt, &m);
	if (c->o.auth) {
		ainftp_mac(&c->mk, pkt, len, pkt + len);
		len += AINFTP_TAG_LEN;
	}
	if (sendto(c->fd, pkt, len, MSG_DONTWAIT, (const struct sockaddr *)from, sizeof(*from)) ==
	    (ssize_t)len)
		c->st.heartbeats++;
}

/* One received datagram between the stages of receive(). */
struct rx_dgram {
	uint8_t *p;
	size_t len;
	struct ainftp_msg m;
	bool ok;     /* well-formed, from the appliance, this job's */
	bool tagged; /* a tag to check: its message and tag, for the batch's pass */
	bool tag_ok;
	const void *msg;
	size_t msg_len;
	uint8_t tag[AINFTP_TAG_LEN];
};

/*
 * A RESULT's or STATE's tag, when the job has auth: a STATE must have one, a
 * RESULT too unless the appliance said at join that its results go untagged
 * (cluster.json result_tags false). Either d->tag_ok says at once whether
 * it is taken, or d->tagged and what the batch's check (rx_tags) covers: a
 * RESULT's tag follows its header, so its header (read already) is moved
 * next to its payload.
 */
static void
rx_tag_plan(struct box *c, struct rx_dgram *d)
{
	const struct ainftp_msg *m = &d->m;

	d->tagged = false;
	d->tag_ok = !c->o.auth;
	if (!c->o.auth || (m->type != AINFTP_MSG_RESULT && m->type != AINFTP_MSG_STATE))
		return;
	if (!(m->flags & AINFTP_F_AUTH)) {
		d->tag_ok = m->type == AINFTP_MSG_RESULT && !c->result_tags;
		return;
	}
	d->tagged = true;
	if (m->type == AINFTP_MSG_RESULT) {
		memcpy(d->tag, d->p + sizeof(struct ainftp_hdr), AINFTP_TAG_LEN);
		memmove(d->p + AINFTP_TAG_LEN, d->p, sizeof(struct ainftp_hdr));
		d->msg = d->p + AINFTP_TAG_LEN;
	} else {
		memcpy(d->tag, d->p + d->len - AINFTP_TAG_LEN, AINFTP_TAG_LEN);
		d->msg = d->p;
	}
	d->msg_len = d->len - AINFTP_TAG_LEN;
}

/*
 * The tags of a batch of datagrams, in one pass of the MAC's lanes (as the
 * appliance checks a burst's): one SipHash per 9 KB result was a tenth of a
 * worker's CPU.
 */
static void
rx_tags(struct box *c, struct rx_dgram *d, int n)
{
	const struct ainftp_mac_key *mk[BATCH];
	const void *msg[BATCH];
	const uint8_t *want[BATCH];
	size_t len[BATCH];
	unsigned int k = 0;
	uint8_t who[BATCH];
	uint64_t good;

	for (int i = 0; i < n; i++) {
		if (!d[i].ok || !d[i].tagged)
			continue;
		mk[k] = &c->mk;
		msg[k] = d[i].msg;
		len[k] = d[i].msg_len;
		want[k] = d[i].tag;
		who[k++] = (uint8_t)i;
	}
	if (k == 0)
		return;
	good = ainftp_mac_verify_many(c->mac, mk, msg, len, want, k);
	for (unsigned int j = 0; j < k; j++)
		d[who[j]].tag_ok = (good >> j & 1) != 0;
}

/* A datagram's header against this client: d->ok, and its message read. */
static void
rx_parse(struct box *c, struct rx_dgram *d, const struct sockaddr_in *from)
{
	const struct ainftp_hdr *h = (const struct ainftp_hdr *)d->p;

	d->ok = false;
	if (from->sin_addr.s_addr != c->o.appliance || d->len < sizeof(*h) ||
	    ainftp_hdr_check(h, d->len) != AINFTP_OK) {
		c->st.bad_packets++;
		return;
	}
	ainftp_hdr_read(h, &d->m);
	if (d->m.job != c->o.job) {
		c->st.bad_packets++;
		return;
	}
	d->ok = true;
	rx_tag_plan(c, d);
}

static void
rx_one(struct box *c, const struct rx_dgram *d, const struct sockaddr_in *from, uint64_t now)
{
	const struct ainftp_hdr *h = (const struct ainftp_hdr *)d->p;
	const struct ainftp_msg m = d->m;
	uint8_t *p = d->p;

	if (!d->ok)
		return;
	if (m.type == AINFTP_MSG_RESULT || m.type == AINFTP_MSG_STATE) {
		if (!d->tag_ok) {
			c->st.bad_tags++;
			return;
		}
		if (m.type == AINFTP_MSG_RESULT)
			take_result(c, &m,
				    p + sizeof(*h) + (m.flags & AINFTP_F_AUTH ? AINFTP_TAG_LEN : 0),
				    now);
		else
			take_state(c, &m, p + sizeof(*h), now);
	} else if (m.type == AINFTP_MSG_HEARTBEAT) {
		answer_heartbeat(c, &m, from);
	} else if (m.type != AINFTP_MSG_HELLO_ACK) {
		/*
		 * A HELLO_ACK here is the answer to a HELLO sent again during a
		 * slow join: well-formed and this job's, so not a bad packet.
		 */
		c->st.bad_packets++;
	}
}

/* An ICMP error queued by IP_RECVERR: what the network said about the appliance. */
static int
read_errqueue(struct box *c)
{
	char cbuf[512];
	uint8_t data[64];
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
	struct msghdr h = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = cbuf,
			   .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;

	if (recvmsg(c->fd, &h, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
		return 0;
	for (cm = CMSG_FIRSTHDR(&h); cm != NULL; cm = CMSG_NXTHDR(&h, cm)) {
		struct sock_extended_err ee;

		if (cm->cmsg_level != IPPROTO_IP || cm->cmsg_type != IP_RECVERR)
			continue;
		memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
		if (ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_LOCAL)
			return (int)ee.ee_errno;
	}
	return 0;
}

/* A batch of datagrams, headers first, then every tag at once, then each message. */
static void
rx_batch(struct box *c, struct rx_dgram *d, const struct sockaddr_in *from, int n, uint64_t now)
{
	rx_tags(c, d, n);
	for (int i = 0; i < n; i++)
		rx_one(c, &d[i], &from[i], now);
}

/* What the AF_XDP socket's RX ring holds, as receive() takes the kernel socket's. */
static int
receive_xdp(struct box *c, uint64_t now)
{
	struct ainftp_xdp_dgram x[BATCH];
	struct sockaddr_in from[BATCH];
	struct rx_dgram d[BATCH];
	int any = 0;

	for (int rounds = 0; rounds < 8; rounds++) {
		uint64_t bad = c->xst.bad;
		unsigned int got = ainftp_xdp_recv(c->xdp, x, BATCH, &c->xst.bad);

		for (unsigned int i = 0; i < got; i++) {
			from[i] = (struct sockaddr_in){.sin_family = AF_INET,
						       .sin_port = x[i].from_port,
						       .sin_addr.s_addr = x[i].from};
			d[i].p = x[i].p;
			d[i].len = x[i].len;
			rx_parse(c, &d[i], &from[i]);
		}
		rx_batch(c, d, from, (int)got, now);
		ainftp_xdp_rx_done(c->xdp);
		c->xst.received += got;
		got += (unsigned int)(c->xst.bad - bad);
		if (got == 0)
			break;
		any = 1;
		if (got < BATCH)
			break;
	}
	return any;
}

/* Take what has arrived, without waiting. 1: something did; 0: nothing; -1: failed. */
static int
receive(struct box *c, uint64_t now)
{
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in from[BATCH];
	struct rx_dgram d[BATCH];
	int got, any = 0;

	if (c->xdp != NULL) {
		any = receive_xdp(c, now);
		/* The kernel socket has the join's late answers and what the program passes. */
		if (!c->fd_ready && ++c->loops % XDP_SOCKET_EVERY != 0)
			return any;
		c->fd_ready = false;
	}
	for (int rounds = 0; rounds < 8; rounds++) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = c->rx + (size_t)i * RX_BUF;
			iov[i].iov_len = RX_BUF;
			memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_name = &from[i];
			mm[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		got = recvmmsg(c->fd, mm, BATCH, MSG_DONTWAIT, NULL);
		if (got < 0) {
			int err = errno;

			if (err == EAGAIN || err == EINTR)
				return any;
			/* IP_RECVERR reports an ICMP error once, on the next call. */
			int icmp = read_errqueue(c);

			fail_errno(c, "receive", icmp != 0 ? icmp : err);
			return -1;
		}
		for (int i = 0; i < got; i++) {
			d[i].p = iov[i].iov_base;
			d[i].len = mm[i].msg_len;
			d[i].ok = false;
			if (!(mm[i].msg_hdr.msg_flags & MSG_TRUNC))
				rx_parse(c, &d[i], &from[i]);
			else
				c->st.bad_packets++;
		}
		rx_batch(c, d, from, got, now);
		any = 1;
		if (got < BATCH)
			break;
	}
	return any;
}

/* ------------------------------------------------------------ engine: the loop */

static uint64_t
next_deadline(const struct box *c, uint64_t now)
{
	uint64_t t = now + (uint64_t)IDLE_WAIT_MS * 1000000;

	if (c->in_flight == 0)
		return t;
	for (uint32_t s = 0; s < c->o.slots; s++)
		if (c->slot[s].req != NULL && c->slot[s].deadline_ns < t)
			t = c->slot[s].deadline_ns;
	if (c->last_progress_ns + (uint64_t)c->o.timeout_ms * 1000000 < t)
		t = c->last_progress_ns + (uint64_t)c->o.timeout_ms * 1000000;
	return t;
}

static int
wait_io(struct box *c, uint64_t until, uint64_t now)
{
	struct pollfd pf[3] = {
		{.fd = c->fd, .events = POLLIN},
		{.fd = c->wake_fd, .events = POLLIN},
		{.fd = c->xdp != NULL ? ainftp_xdp_fd(c->xdp) : -1, .events = POLLIN}};
	uint64_t d = until > now ? until - now : 0;
	struct timespec ts = {.tv_sec = (time_t)(d / 1000000000u),
			      .tv_nsec = (long)(d % 1000000000u)};

	if (ppoll(pf, 3, &ts, NULL) < 0 && errno != EINTR)
		return -1;
	c->fd_ready = (pf[0].revents & POLLIN) != 0;
	if (pf[1].revents & POLLIN) {
		uint64_t v;

		if (read(c->wake_fd, &v, sizeof(v)) < 0) {
			/* EAGAIN: drained already; the queue is looked at next loop. */
		}
	}
	if (pf[0].revents & POLLERR) {
		int err = read_errqueue(c);

		if (err != 0) {
			fail_errno(c, "send", err);
			return 0;
		}
	}
	return 0;
}

static void
publish_stats(struct box *c)
{
	c->st.srtt_us = c->srtt_ns / 1000;
	c->st.rto_us = c->rto_ns / 1000;
	pthread_mutex_lock(&c->mu);
	c->pub = c->st;
	c->xpub = c->xst;
	c->pub_next_step = c->next_step;
	pthread_mutex_unlock(&c->mu);
}

static bool
can_send(struct box *c)
{
	struct box_req *r = send_cursor(c);

	return r != NULL && c->in_flight < c->cwnd &&
	       (r->nchunks == 0 || c->slot[r->next & (c->o.slots - 1)].req == NULL);
}

static int
engine_step(struct box *c, struct txbatch *b)
{
	uint64_t now = ainftp_client_now_ns();
	int got;

	take_submitted(c);
	/*
	 * What came first, then the timers: a chunk whose timer ran out while
	 * this thread waited for a CPU often has its result queued already, and
	 * probing it first costs a PROBE, a result sent twice and a halved window.
	 */
	got = receive(c, now);
	if (got < 0)
		return 0;
	/* A fresh clock: receiving can take long enough to skew the timers. */
	now = ainftp_client_now_ns();
	if (send_new(c, now, b) < 0 || retransmit(c, now, b) < 0 || tx_flush(c, b) < 0) {
		if (c->gso && (errno == EINVAL || errno == EIO) && c->o.gso == AINFTP_GSO_AUTO) {
			c->gso = false; /* the path does not take GSO: the timers resend */
			return 0;
		}
		fail_errno(c, "send", errno);
		return 0;
	}
	if (c->in_flight > 0 && now - c->last_progress_ns > (uint64_t)c->o.timeout_ms * 1000000) {
		fail_timeout(c);
		return 0;
	}
	publish_stats(c);
	if (got == 0 && !can_send(c))
		return wait_io(c, next_deadline(c, now), now);
	return 0;
}

static void *
engine(void *arg)
{
	struct box *c = arg;
	struct txbatch *b = calloc(1, sizeof(*b));

	if (b == NULL) {
		engine_fail(c, AINFTP_E_NOMEM, "client engine: out of memory");
		return NULL;
	}
	while (!atomic_load(&c->stop))
		if (engine_step(c, b) < 0) {
			fail_errno(c, "poll", errno);
			break;
		}
	engine_fail(c, AINFTP_E_CLOSED, "the client was closed with the request pending");
	publish_stats(c);
	free(b);
	return NULL;
}

/* ------------------------------------------------------------ open and close */

int
ainftp_client_opts_check(const struct ainftp_opts *o)
{
	if (!o->has_appliance)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "option \"appliance\" is required");
	if (!o->has_job)
		return ainftp_client_seterr_status(AINFTP_E_INVAL, "option \"job\" is required");
	if (o->worker < 0)
		return ainftp_client_seterr_status(AINFTP_E_INVAL, "option \"worker\" is required");
	if (o->elems == 0)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "option \"elems\" is required (the job's "
						   "elems_per_packet)");
	if (o->encoding < 0)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "option \"encoding\" is required");
	if (o->elems % ainftp_codec_get((unsigned int)o->encoding)->elems_multiple != 0)
		return ainftp_client_seterr_status(
			AINFTP_E_INVAL, "option \"elems\": %u is not a multiple of %u, as %s needs",
			o->elems, ainftp_codec_get((unsigned int)o->encoding)->elems_multiple,
			ainftp_encoding_name((unsigned int)o->encoding));
	if (o->auth && !o->has_key)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "option \"key\" (or \"key_file\") is required "
						   "when auth is true");
	if (o->window > o->slots)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "option \"window\": %u is more than slots (%u)",
						   o->window, o->slots);
	if (o->rto_min_us > o->rto_max_us)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "option \"rto_min_us\": %u is more than "
						   "rto_max_us (%u)",
						   o->rto_min_us, o->rto_max_us);
	/* Each box's engine has a socket of its own: consecutive ports from bind_port. */
	if (o->bind_port != 0 && o->bind_port + o->shards - 1u > 65535)
		return ainftp_client_seterr_status(
			AINFTP_E_INVAL,
			"option \"bind_port\": %u + %u boxes - 1 is past port 65535 (each box "
			"takes the next port)",
			o->bind_port, o->shards);
	if (sizeof(struct ainftp_hdr) + ainftp_payload_len((unsigned int)o->encoding, o->elems) +
		    AINFTP_TAG_LEN + 28 >
	    RX_BUF)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "option \"elems\": %u elements do not fit a "
						   "9000-byte MTU",
						   o->elems);
	return 0;
}

static int
sys_err(const char *what)
{
	return ainftp_client_seterr_status(AINFTP_E_SYSTEM, "%s: %s", what, strerror(errno));
}

/* Bigger socket buffers than the default: a whole window of jumbo datagrams. */
static void
set_bufs(int fd, int bytes)
{
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

static int
open_socket(struct box *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = c->o.bind,
				 .sin_port = htons(c->o.bind_port)};
	socklen_t len = sizeof(sa);
	int one = 1, seg = (int)c->pkt_len;
	char ip[INET_ADDRSTRLEN];

	c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return sys_err("socket");
	set_bufs(c->fd, (int)c->o.sockbuf);
	/* ICMP errors (port or host unreachable) come back as errors, not silence. */
	setsockopt(c->fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	/* The worker's address from cluster.json is bound as it is: the kernel's "Cannot
	 * assign requested address" alone says neither that the worker runs on the wrong
	 * host or outside its network namespace (the lab's) nor what to do. */
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return ainftp_client_seterr_status(
			AINFTP_E_SYSTEM, "bind %s:%u: %s%s", addr_str(c->o.bind, ip, sizeof(ip)),
			c->o.bind_port, strerror(errno),
			errno != EADDRNOTAVAIL
				? ""
				: ": that address is not on this host: run this worker where it is "
				  "(in its network namespace: ip netns exec NS ...; the lab's: "
				  "scripts/lab.sh exec), or give it one of this host's addresses "
				  "(cluster.json's worker \"ipv4\", or the option \"bind\")");
	if (getsockname(c->fd, (struct sockaddr *)&sa, &len) < 0)
		return sys_err("getsockname");
	c->local_port = ntohs(sa.sin_port);
	/* GSO: probe the option; a kernel without it refuses it here. */
	c->gso = c->o.gso != AINFTP_GSO_OFF &&
		 setsockopt(c->fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg)) == 0;
	if (c->o.gso == AINFTP_GSO_ON && !c->gso)
		return sys_err("UDP GSO (option \"gso\" is on)");
	if (c->gso) {
		seg = 0; /* per-message cmsg only: single datagrams stay unsegmented */
		setsockopt(c->fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg));
	}
	return 0;
}

static int
client_alloc(struct box *c)
{
	c->slot = calloc(c->o.slots, sizeof(*c->slot));
	/* Cache-line strides: int16 payloads (offset 32) are quantized in place. */
	c->pkt_stride = (c->pkt_len + 63) / 64 * 64;
	c->pkts = aligned_alloc(64, (size_t)c->o.slots * c->pkt_stride);
	c->pad = calloc(c->o.elems, sizeof(float));
	c->rx = aligned_alloc(64, (size_t)BATCH * RX_BUF);
	if (c->slot == NULL || c->pkts == NULL || c->pad == NULL || c->rx == NULL)
		return ainftp_client_seterr_status(AINFTP_E_NOMEM, "open: out of memory");
	for (uint32_t s = 0; s < c->o.slots; s++)
		c->slot[s].pkt = c->pkts + (size_t)s * c->pkt_stride;
	return 0;
}

static void
client_free(struct box *c)
{
	ainftp_xdp_close(c->xdp);
	if (c->fd >= 0)
		close(c->fd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	free(c->slot);
	free(c->pkts);
	free(c->pad);
	free(c->rx);
	pthread_mutex_destroy(&c->mu);
	ainftp_client_wipe(c, sizeof(*c));
	free(c);
}

/*
 * The first element of x[0..n) that is NaN or infinite, or n: the box's
 * widest kernel over 16 KB at a time, then the block that has one element by
 * element. A whole gradient is read here before any of it is sent: the SSE2
 * loop this replaced took 1.6 times as long over 64 MB.
 */
size_t
ainftp_box_first_nonfinite(const struct box *c, const float *x, size_t n)
{
	const size_t blk = 4096;

	for (size_t i = 0; i < n; i += blk) {
		uint32_t len = (uint32_t)(n - i < blk ? n - i : blk);

		if (c->k.q->max_abs_bits(x + i, len) < AINFTP_F32_ABS_INF)
			continue;
		for (size_t j = i; j < i + len; j++)
			if (!isfinite(x[j]))
				return j;
	}
	return n;
}

/*
 * The SIMD kernels a box's engine calls, capped at simd_bits: quantizing,
 * int16 results back to floats (the sentry's kernel: the reference's bits)
 * and the MAC's lanes.
 */
static void
box_kernels(struct box *c, unsigned int simd_bits)
{
	ainftp_kernels_init(&c->k, ainftp_quant_select(simd_bits));
	c->k.dequant_i16 = ainftp_sentry_select(simd_bits)->dequant_i16;
	c->mac = ainftp_mac_select(simd_bits);
}

static int
client_init(struct box *c, const struct ainftp_opts *o)
{
	char ip[INET_ADDRSTRLEN];
	int rc;

	c->o = *o;
	if (o->shards > 1)
		snprintf(c->who, sizeof(c->who),
			 "appliance %s (shard %u of %u): ", addr_str(o->appliance, ip, sizeof(ip)),
			 o->shard, o->shards);
	c->payload_len = ainftp_payload_len((unsigned int)o->encoding, o->elems);
	c->pkt_len = sizeof(struct ainftp_hdr) + c->payload_len + (o->auth ? AINFTP_TAG_LEN : 0);
	c->result_len = sizeof(struct ainftp_hdr) +
			ainftp_payload_len((unsigned int)o->result_encoding, o->elems);
	c->window = o->window != 0 ? o->window : o->slots;
	c->cwnd = c->window < CWND_INIT ? c->window : CWND_INIT;
	c->ssthresh = c->window;
	c->next_step = o->first_step;
	c->rto_ns = (uint64_t)o->rto_us * 1000;
	box_kernels(c, o->simd_bits);
	c->codec = ainftp_codec_get((unsigned int)o->encoding);
	c->rcodec = ainftp_codec_get((unsigned int)o->result_encoding);
	if (o->auth && ainftp_mac_key_init(&c->mk, o->key) < 0)
		return ainftp_client_seterr_status(AINFTP_E_SYSTEM,
						   "open: libsodium failed to initialise");
	rc = client_alloc(c);
	if (rc < 0)
		return rc;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0)
		return sys_err("eventfd");
	return open_socket(c);
}

/* The join handshake; the step to start at is the appliance's unless first_step says. */
static int
client_join(struct box *c)
{
	struct ainftp_join j;
	int rc = ainftp_client_hello(&c->o, &c->mk, c->fd, &j);

	if (rc == 0 && !c->o.has_first_step)
		c->next_step = j.step;
	c->result_tags = rc == 0 && j.result_tags;
	if (rc == 0 && c->o.auth)
		c->mk.alg = (uint8_t)j.mac_alg;
	c->pub_next_step = c->next_step; /* the engine has not started: no lock needed */
	return rc;
}

/*
 * AF_XDP after the join: the join over the kernel socket has resolved the
 * appliance's MAC, which the frames need. Where it cannot be had, one line
 * says why and the engine stays on UDP.
 */
static void
client_xdp(struct box *c)
{
	char why[256], ip[INET_ADDRSTRLEN];
	size_t res = c->result_len + (c->o.auth ? AINFTP_TAG_LEN : 0);
	struct ainftp_xdp_params p = {.local = c->o.bind,
				      .port = htons(c->local_port),
				      .peer = c->o.appliance,
				      .dgram_max = c->pkt_len > res ? c->pkt_len : res};

	c->xdp = ainftp_xdp_open(&p, why, sizeof(why));
	if (c->xdp == NULL) {
		fprintf(stderr,
			"ainftp: AF_XDP not used by worker %d of job %u to %s: %s; using UDP\n",
			c->o.worker, c->o.job, addr_str(c->o.appliance, ip, sizeof(ip)), why);
		return;
	}
	c->gso = false; /* frames of one datagram each, in batches of the ring */
	c->xst.boxes = 1;
	c->xst.native = ainftp_xdp_native(c->xdp);
	c->xpub = c->xst;
}

int
ainftp_box_open(const struct ainftp_opts *o, struct box **out)
{
	struct box *c;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return ainftp_client_seterr_status(AINFTP_E_NOMEM, "open: out of memory");
	c->fd = c->wake_fd = -1;
	pthread_mutex_init(&c->mu, NULL);
	rc = client_init(c, o);
	if (rc == 0)
		rc = client_join(c);
	if (rc == 0 && o->xdp)
		client_xdp(c);
	if (rc == 0 && (errno = pthread_create(&c->thread, NULL, engine, c)) != 0)
		rc = sys_err("pthread_create");
	if (rc < 0) {
		client_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void
ainftp_box_close(struct box *c)
{
	uint64_t one = 1;

	atomic_store(&c->stop, true);
	if (write(c->wake_fd, &one, sizeof(one)) < 0) {
		/* The engine also wakes on its own within IDLE_WAIT_MS. */
	}
	pthread_join(c->thread, NULL);
	client_free(c);
}

uint16_t
ainftp_box_local_port(const struct box *c)
{
	return c->local_port;
}

void
ainftp_box_stats(struct box *c, struct ainftp_client_stats *s)
{
	pthread_mutex_lock(&c->mu);
	*s = c->pub;
	pthread_mutex_unlock(&c->mu);
}

void
ainftp_box_xdp_stats(struct box *c, struct ainftp_client_xdp_stats *s)
{
	pthread_mutex_lock(&c->mu);
	*s = c->xpub;
	pthread_mutex_unlock(&c->mu);
}

uint32_t
ainftp_box_next_step(struct box *c)
{
	uint32_t step;

	pthread_mutex_lock(&c->mu);
	step = c->pub_next_step;
	pthread_mutex_unlock(&c->mu);
	return step;
}
