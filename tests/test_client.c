/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker client library (client/ainftp_client.h) against a fake appliance
 * speaking protocol version 2: a thread in this process that owns UDP sockets
 * on 127.0.0.1 (one per lane), answers HELLO with a HELLO_ACK (the job's
 * geometry and a step, or the first difference), checks every DATA as the
 * appliance would (job, worker, encoding, elements, slot, lane, tag, and the
 * slot rule of docs/PROTOCOL.md) and answers with a RESULT tagged after its
 * header, and answers PROBEs with the kept RESULT or a STATE (missing, have,
 * stale). Knobs make it drop DATA or RESULTs, duplicate, delay, hold back,
 * flag OVERFLOW, add forged and malformed datagrams, let the job go on
 * without the worker, or stay silent; it also sends HEARTBEATs and keeps the
 * HEARTBEAT_ACKs.
 *
 * Options and their messages, cluster.json, the join, API misuse, failures
 * (unreachable, silent, closed, NaN, overflow), the reductions, the wire rules
 * (probes, states, tags), heartbeats and the statistics.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ainftp_client.h"
#include "ainftp_client_private.h" /* struct ainftp_opts: what from_cluster fills */
#include "ainftp_codec.h"
#include "ainftp_config.h"
#include "ainftp_proto.h"
#include "ainftp_quant.h"

#ifndef AINFTP_SRCDIR
#error "AINFTP_SRCDIR must name the source root"
#endif

#define LAB_JSON AINFTP_SRCDIR "/config/lab.json"

/* The fake's job unless a test changes it. */
#define KEY_HEX "5e1f0c9a7b3d2e4f6a8b9c0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b"
#define KEY_HEX_UPPER "5E1F0C9A7B3D2E4F6A8B9C0D1E2F3A4B5C6D7E8F90A1B2C3D4E5F60718293A4B"
#define JOB 7
#define WORKER 3
#define ELEMS 16
#define SLOTS 8

#define HANG_MS 5000 /* a call that should return at once but has not: a hang */
#define WAIT_MS 3000 /* for something the fake should see soon */

_Static_assert(sizeof(KEY_HEX) == 65, "64 hex digits");

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_us(uint32_t us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void
deadline_in(struct timespec *ts, uint32_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static void
cond_init_mono(pthread_cond_t *cv)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &a);
	pthread_condattr_destroy(&a);
}

static void
key_from_hex(const char *hex, uint8_t key[AINFTP_KEY_BYTES])
{
	for (int i = 0; i < AINFTP_KEY_BYTES; i++)
		ck_assert(ainftp_hex_byte(hex + 2 * i, &key[i]));
}

static void
key_to_hex(const uint8_t key[AINFTP_KEY_BYTES], char hex[2 * AINFTP_KEY_BYTES + 1])
{
	for (int i = 0; i < AINFTP_KEY_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
}

/* Varied finite floats: both signs, 16 binades. */
static void
fill(float *x, size_t n, uint32_t seed)
{
	uint32_t s = seed * 2654435761u + 12345u;

	for (size_t i = 0; i < n; i++) {
		s = s * 1664525u + 1013904223u;
		int32_t mant = (int32_t)(s >> 8) - (1 << 23);
		int e = (int)((s >> 3) % 16) - 8;

		x[i] = ldexpf((float)mant / (float)(1 << 23), e);
	}
}

static bool
bits_equal(const float *a, const float *b, size_t n, size_t *where)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
			*where = i;
			return false;
		}
	return true;
}

#define ck_assert_bits_eq(got, want, n)                                                    \
	do {                                                                               \
		size_t at_ = 0;                                                            \
		ck_assert_msg(bits_equal((got), (want), (n), &at_),                        \
			      "element %zu: got %a, expected %a", at_, (double)(got)[at_], \
			      (double)(want)[at_]);                                        \
	} while (0)

/* ------------------------------------------------------------ the fake appliance */

#define FAKE_MAX_LANES 4
#define FAKE_PKT 9216
#define FAKE_RX 65536 /* with gro: one GSO send of up to 64 KB, whole */
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#define FAKE_PENDING 512
#define FAKE_MAX_STEPS 16
#define HELLO_LEN (sizeof(struct ainftp_hdr) + AINFTP_BODY_LEN)

struct pending {
	uint8_t pkt[FAKE_PKT];
	size_t len;
	int lane;
	struct sockaddr_in from;
};

struct fake {
	/* The job: set before fake_start. It is also what HELLO_ACK says of the job. */
	uint32_t job;
	uint16_t worker;
	bool auth;
	bool polyval; /* with auth: the job tags with POLYVAL-AES-128 after the handshake */
	uint8_t key[AINFTP_KEY_BYTES];
	uint8_t encoding, result_encoding;
	uint32_t elems, slots;
	int lanes;
	bool gro; /* UDP_GRO on the lanes: a GSO send arrives whole, cut here (gso_trains) */
	uint8_t contributors; /* also how many copies of the contribution the sum holds */
	uint64_t bitmap;
	uint32_t hello_step;   /* the step HELLO_ACK gives the worker */
	uint8_t shard, shards; /* its place among the job's boxes (HELLO_ACK) */
	bool pre_shards;       /* a box from before shards: OK, "shard 0 of 1", never SHARD */
	uint32_t addr;	       /* network order; 0: 127.0.0.1 */
	uint16_t want_port;    /* lane 0's port; 0: any free run of ports */

	/* Knobs: under mu once started (fake_set_* wake the thread). */
	uint32_t drop_first;	/* drop the first k DATA that pass the checks */
	uint32_t drop_results;	/* lose the first k RESULTs (kept: a PROBE gets them) */
	bool dup;		/* send every RESULT twice */
	bool silent;		/* answer no DATA and no PROBE (HELLO still) */
	bool hold;		/* keep the answers back until cleared */
	bool noise;		/* before each RESULT, 4 datagrams the client must ignore */
	bool forge;		/* before each RESULT, 3 forgeries from the appliance's address */
	bool hello_silent;	/* answer no HELLO */
	bool hello_forge;	/* before each HELLO_ACK, acks the client must ignore */
	uint32_t answer_below;	/* answer only chunks below this one */
	int64_t overflow_chunk; /* flag OVERFLOW on this chunk's results; -1: none */
	uint32_t delay_us;	/* before each RESULT */
	uint32_t coalesce_us;	/* after a DATA, wait this long for more before answering */
	/*
	 * Chunks of step stale_step (bit k: chunk k < 64) that the job completes
	 * without this worker: their DATA is taken but never answered, and a
	 * PROBE for them gets STATE STALE with next_step stale_next_step.
	 */
	uint64_t stale_mask;
	uint32_t stale_step, stale_next_step;
	float *record; /* float32 payload of chunk k at record[k * elems] */
	uint32_t record_chunks;

	/* Runtime. */
	int fd[FAKE_MAX_LANES];
	int noise_fd; /* bound to 127.0.0.2: not the appliance's address */
	int wake_fd;
	uint16_t port;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct ainftp_mac_key mk;
	const struct ainftp_quant_ops *ops;
	struct ainftp_acc acc;
	struct pending *pend;
	uint32_t npend;
	uint64_t pend_deadline_ms;
	/* Per slot: */
	uint64_t *cur;	      /* (step, chunk) of the chunk there */
	bool *has, *answered; /* a chunk there; its result sent (or the job went on) */
	bool *in;	      /* this worker's DATA for it was taken (not dropped) */
	uint8_t *held;	      /* that DATA, FAKE_PKT bytes per slot */
	size_t *held_len;
	uint8_t *kept; /* the last RESULT sent there, as sent, FAKE_PKT bytes per slot */
	size_t *kept_len;
	uint64_t *kept_key;
	uint32_t unanswered;
	uint8_t rx[FAKE_RX];

	/* What it saw: under mu. */
	uint64_t data;	   /* DATA datagrams, retransmissions included */
	uint64_t bytes_in; /* their UDP payload bytes */
	uint64_t dropped, results, bad, bad_tag, bad_slot, bad_lane, stale;
	uint64_t new_chunks;	  /* distinct (step, chunk) */
	uint64_t resent;	  /* DATA for the chunk a slot already has: retransmissions */
	uint32_t first_resent;	  /* the chunk of the first of them */
	uint32_t watch;		  /* a chunk whose retransmissions and probes are counted: */
	uint64_t watch_resent;	  /* here */
	uint64_t watch_probes;	  /* and here */
	uint64_t slot_violations; /* a slot's next chunk before its previous result */
	uint64_t max_outstanding; /* most chunks sent and not yet answered */
	uint64_t lane_data[FAKE_MAX_LANES];
	uint64_t gso_trains;		/* with gro: GSO sends of 2 or more datagrams */
	uint32_t steps[FAKE_MAX_STEPS]; /* in the order first seen */
	uint64_t step_chunks[FAKE_MAX_STEPS];
	uint32_t nsteps;
	struct sockaddr_in src; /* of the last DATA */
	uint64_t acks;
	struct ainftp_msg ack;
	size_t ack_len;
	bool ack_tag_ok;
	uint64_t results_lost;	/* RESULTs not sent (drop_results) */
	uint64_t probes;	/* well-formed PROBEs of this worker */
	uint64_t probe_results; /* PROBEs answered with the kept RESULT */
	uint64_t states;	/* STATEs sent */
	uint64_t reasons[AINFTP_STATE_REASON_MAX];
	uint64_t mismatch;   /* nonzero: PROBEs answered MISMATCH, naming this request */
	uint64_t data_desc;  /* the last DATA's request descriptor (its bitmap) */
	uint64_t probe_desc; /* and the last PROBE's */
	uint64_t hellos;     /* HELLOs, well-formed or not */
	struct ainftp_msg hello;
	struct ainftp_hello_info hello_info;
	size_t hello_len;
	int hello_lane;
	bool hello_tag_ok;
};

static struct fake *
fake_new(void)
{
	struct fake *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	f->job = JOB;
	f->worker = WORKER;
	f->auth = true;
	key_from_hex(KEY_HEX, f->key);
	f->encoding = AINFTP_ENC_FLOAT32;
	f->result_encoding = AINFTP_ENC_FLOAT32;
	f->elems = ELEMS;
	f->slots = SLOTS;
	f->lanes = 1;
	f->contributors = 1;
	f->shards = 1;
	f->overflow_chunk = -1;
	f->answer_below = UINT32_MAX;
	f->watch = UINT32_MAX;
	f->hello_lane = -1;
	for (int i = 0; i < FAKE_MAX_LANES; i++)
		f->fd[i] = -1;
	f->noise_fd = f->wake_fd = -1;
	return f;
}

static int
udp_socket(uint32_t addr_be, uint16_t port)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_addr.s_addr = addr_be, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int big = 8 << 20;

	ck_assert_int_ge(fd, 0);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static uint16_t
sock_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

static void
fake_wake(struct fake *f)
{
	uint64_t one = 1;

	ck_assert_int_eq(write(f->wake_fd, &one, sizeof(one)), (ssize_t)sizeof(one));
}

static void
fake_note_step(struct fake *f, uint32_t step)
{
	for (uint32_t i = 0; i < f->nsteps; i++)
		if (f->steps[i] == step) {
			f->step_chunks[i]++;
			return;
		}
	if (f->nsteps < FAKE_MAX_STEPS) {
		f->steps[f->nsteps] = step;
		f->step_chunks[f->nsteps++] = 1;
	}
}

static void
fake_send(struct fake *f, int fd, const void *p, size_t len, const struct sockaddr_in *to)
{
	(void)f;
	if (sendto(fd, p, len, 0, (const struct sockaddr *)to, sizeof(*to)) != (ssize_t)len)
		ck_abort_msg("fake: sendto: %s", strerror(errno));
}

/*
 * p holds a RESULT's header (AUTH in its flags when the job has auth) and
 * plen bytes of payload; with auth, the v2 layout: the tag over header and
 * payload goes right after the header, the payload after it. The length.
 */
static size_t
fake_seal_result(const struct fake *f, uint8_t *p, size_t plen)
{
	const size_t hl = sizeof(struct ainftp_hdr);
	uint8_t tag[AINFTP_TAG_LEN];

	if (!f->auth)
		return hl + plen;
	ainftp_mac(&f->mk, p, hl + plen, tag);
	memmove(p + hl + AINFTP_TAG_LEN, p + hl, plen);
	memcpy(p + hl, tag, AINFTP_TAG_LEN);
	return hl + AINFTP_TAG_LEN + plen;
}

/* The fake's sum as a result payload at rp, through the codec as the appliance does. */
static int8_t
fake_result_encode(const struct fake *f, uint8_t *rp)
{
	const struct ainftp_codec *rc = ainftp_codec_get(f->result_encoding);
	struct ainftp_kernels k;

	ainftp_kernels_init(&k, f->ops);
	return rc->result_encode(&k, &f->acc, rp);
}

/* The sum of `contributors` copies of the DATA in d, as a sealed RESULT in out. Its length. */
static size_t
fake_result(struct fake *f, const uint8_t *d, uint8_t *out)
{
	struct ainftp_msg m;
	const uint8_t *pl = d + sizeof(struct ainftp_hdr);
	uint8_t *rp = out + sizeof(struct ainftp_hdr);
	size_t plen = ainftp_payload_len((unsigned int)f->result_encoding, f->elems);

	ainftp_hdr_read((const struct ainftp_hdr *)d, &m);
	m.type = AINFTP_MSG_RESULT;
	m.encoding = f->result_encoding;
	m.flags = (int64_t)m.chunk == f->overflow_chunk ? AINFTP_F_OVERFLOW : 0;
	m.worker = AINFTP_WORKER_APPLIANCE;
	m.contributors = f->contributors;
	m.bitmap = f->bitmap != 0 ? f->bitmap : UINT64_C(1) << f->worker;
	if (f->encoding == AINFTP_ENC_FLOAT32 && f->result_encoding == AINFTP_ENC_FLOAT32) {
		/* Plain float arithmetic, so that one contribution comes back bit for bit. */
		for (uint32_t i = 0; i < f->elems; i++) {
			float x;

			memcpy(&x, pl + 4 * i, 4);
			x *= (float)f->contributors;
			memcpy(rp + 4 * i, &x, 4);
		}
		m.scale_exp = 0;
	} else if (f->encoding == AINFTP_ENC_INT16 && f->result_encoding == AINFTP_ENC_INT16) {
		/* The same integers, the exponent raised: contributors must be a power of two. */
		int shift = __builtin_ctz(f->contributors);

		ck_assert_msg((f->contributors & (f->contributors - 1)) == 0,
			      "fake: int16 echo needs a power-of-two contributor count");
		memcpy(rp, pl, plen);
		if (m.scale_exp != AINFTP_WIRE_EXP_ZERO)
			m.scale_exp = (int8_t)(m.scale_exp + shift);
	} else {
		/* The appliance's own arithmetic. */
		ainftp_acc_reset(&f->acc);
		for (uint8_t k = 0; k < f->contributors; k++)
			switch (f->encoding) {
			case AINFTP_ENC_INT16:
				f->ops->acc_i16(&f->acc, (const int16_t *)(const void *)pl,
						m.scale_exp);
				break;
			case AINFTP_ENC_INT8:
				f->ops->acc_i8(&f->acc, (const int8_t *)pl,
					       (const int8_t *)pl + ainftp_blocks(f->elems));
				break;
			default:
				ck_assert_int_eq(
					f->ops->acc_f32(&f->acc, (const float *)(const void *)pl),
					0);
				break;
			}
		m.scale_exp = fake_result_encode(f, rp);
		if (f->acc.overflow)
			m.flags |= AINFTP_F_OVERFLOW;
	}
	if (f->auth)
		m.flags |= AINFTP_F_AUTH;
	ainftp_hdr_write((struct ainftp_hdr *)out, &m);
	return fake_seal_result(f, out, plen);
}

/* Four datagrams the client must count as bad (not as bad tags) and otherwise ignore. */
static void
fake_noise(struct fake *f, int fd, const uint8_t *res, size_t len, const struct sockaddr_in *to)
{
	uint8_t p[FAKE_PKT];
	struct ainftp_msg m;
	size_t plen;

	/* The right result, with wrong numbers, from an address that is not the appliance's. */
	memcpy(p, res, len);
	memset(p + sizeof(struct ainftp_hdr), 0x41, len - sizeof(struct ainftp_hdr));
	fake_send(f, f->noise_fd, p, len, to);
	/* Another job's: refused on the job before its tag is looked at. */
	ainftp_hdr_read((const struct ainftp_hdr *)p, &m);
	m.job = f->job + 1;
	ainftp_hdr_write((struct ainftp_hdr *)p, &m);
	fake_send(f, fd, p, len, to);
	/* Truncated: the header alone. */
	m.job = f->job;
	ainftp_hdr_write((struct ainftp_hdr *)p, &m);
	fake_send(f, fd, p, sizeof(struct ainftp_hdr), to);
	/* Not the job's element count: well-formed for its own, and rightly tagged. */
	m.elems = (uint16_t)(f->elems + 1);
	ainftp_hdr_write((struct ainftp_hdr *)p, &m);
	plen = ainftp_payload_len((unsigned int)f->result_encoding, f->elems + 1);
	memset(p + sizeof(struct ainftp_hdr), 0, plen);
	fake_send(f, fd, p, fake_seal_result(f, p, plen), to);
}

/* A STATE about the chunk a PROBE (m) names; the tag over header and body with auth. */
static void
fake_state_send(struct fake *f, int lane, const struct ainftp_msg *probe, uint8_t reason,
		uint32_t next_step, const struct sockaddr_in *to, bool bad_tag)
{
	uint8_t p[HELLO_LEN + AINFTP_TAG_LEN];
	uint16_t s = probe->slot;
	struct ainftp_msg m = *probe;
	struct ainftp_state_info si = {
		.slot_step = f->has[s] ? (uint32_t)(f->cur[s] >> 32) : 0,
		.slot_chunk = f->has[s] ? (uint32_t)f->cur[s] : 0,
		.next_step = next_step,
		.reason = reason,
		.slot_state = !f->has[s]       ? AINFTP_SLOT_WIRE_IDLE
			      : f->answered[s] ? AINFTP_SLOT_WIRE_DONE
					       : AINFTP_SLOT_WIRE_SUMMING,
	};
	size_t len = HELLO_LEN;

	m.type = AINFTP_MSG_STATE;
	m.encoding = 0;
	m.flags = f->auth ? AINFTP_F_AUTH : 0;
	m.worker = AINFTP_WORKER_APPLIANCE;
	m.elems = 0;
	m.scale_exp = 0;
	m.contributors = f->in[s] ? 1 : 0;
	m.bitmap = f->in[s] ? UINT64_C(1) << f->worker : 0;
	if (reason == AINFTP_STATE_MISMATCH) {
		m.contributors = 0;
		m.bitmap = f->mismatch;
	}
	ainftp_hdr_write((struct ainftp_hdr *)p, &m);
	ainftp_state_write((struct ainftp_state *)(p + sizeof(struct ainftp_hdr)), &si);
	if (f->auth) {
		ainftp_mac(&f->mk, p, HELLO_LEN, p + HELLO_LEN);
		if (bad_tag)
			p[HELLO_LEN] ^= 0x80;
		len += AINFTP_TAG_LEN;
	}
	fake_send(f, f->fd[lane], p, len, to);
	if (!bad_tag) {
		f->states++;
		f->reasons[reason]++;
	}
}

/*
 * Forgeries from the appliance's own address, before the genuine RESULT res,
 * each of which, taken, would show: its header and tag over another payload
 * (a wrong sum), a STALE STATE for the chunk with a wrong tag (a skipped
 * chunk), and the RESULT with a changed tag (taken, it would make the
 * genuine one a duplicate).
 */
static void
fake_forge(struct fake *f, int lane, const uint8_t *res, size_t len, const struct sockaddr_in *to)
{
	const size_t hl = sizeof(struct ainftp_hdr);
	uint8_t p[FAKE_PKT];
	struct ainftp_msg m;

	memcpy(p, res, len);
	p[len - 1] ^= 0x40; /* the payload's last byte: the float's exponent */
	fake_send(f, f->fd[lane], p, len, to);
	ainftp_hdr_read((const struct ainftp_hdr *)res, &m);
	fake_state_send(f, lane, &m, AINFTP_STATE_STALE, m.step + 1000, to, true);
	memcpy(p, res, len);
	p[hl + 3] ^= 0x01;
	fake_send(f, f->fd[lane], p, len, to);
}

/* Whether the chunk of step `step` is one the job completes without this worker. */
static bool
fake_stale(const struct fake *f, uint32_t step, uint32_t chunk)
{
	return f->stale_mask != 0 && step == f->stale_step && chunk < 64 &&
	       (f->stale_mask >> chunk & 1);
}

/* Whether the fake answers a chunk now (its other workers have sent it). */
static bool
fake_answers(const struct fake *f, uint32_t step, uint32_t chunk)
{
	return !f->silent && !f->hold && chunk < f->answer_below && !fake_stale(f, step, chunk);
}

static void fake_flush(struct fake *f);

/* Queue a DATA for its RESULT: sent by fake_flush, at once or after coalesce_us. */
static void
fake_pend(struct fake *f, int lane, const uint8_t *p, size_t len, const struct sockaddr_in *from)
{
	if (f->npend == FAKE_PENDING)
		fake_flush(f);
	if (f->npend == 0)
		f->pend_deadline_ms = now_ms() + (f->coalesce_us + 999) / 1000;
	memcpy(f->pend[f->npend].pkt, p, len);
	f->pend[f->npend].len = len;
	f->pend[f->npend].lane = lane;
	f->pend[f->npend].from = *from;
	f->npend++;
}

/* Answer what is pending. Called and returns with mu held. */
static void
fake_flush(struct fake *f)
{
	uint8_t res[FAKE_PKT];

	for (uint32_t i = 0; i < f->npend; i++) {
		struct pending *e = &f->pend[i];
		struct ainftp_msg m;
		uint64_t key;
		size_t len;

		if (f->delay_us > 0) {
			uint32_t us = f->delay_us;

			pthread_mutex_unlock(&f->mu);
			sleep_us(us);
			pthread_mutex_lock(&f->mu);
		}
		ainftp_hdr_read((const struct ainftp_hdr *)e->pkt, &m);
		key = (uint64_t)m.step << 32 | m.chunk;
		len = fake_result(f, e->pkt, res);
		if (f->cur[m.slot] == key) {
			/* The appliance keeps the last result of each slot for PROBEs. */
			if (!f->answered[m.slot]) {
				f->answered[m.slot] = true;
				f->unanswered--;
			}
			memcpy(f->kept + (size_t)m.slot * FAKE_PKT, res, len);
			f->kept_len[m.slot] = len;
			f->kept_key[m.slot] = key;
		}
		if (f->results_lost < f->drop_results) {
			f->results_lost++;
			continue;
		}
		if (f->noise)
			fake_noise(f, f->fd[e->lane], res, len, &e->from);
		if (f->forge)
			fake_forge(f, e->lane, res, len, &e->from);
		fake_send(f, f->fd[e->lane], res, len, &e->from);
		f->results++;
		if (f->dup) {
			fake_send(f, f->fd[e->lane], res, len, &e->from);
			f->results++;
		}
	}
	f->npend = 0;
	pthread_cond_broadcast(&f->cv);
}

/* Whether the slot's chunk `key` waits in the pending list. */
static bool
fake_pending(const struct fake *f, uint16_t slot, uint64_t key)
{
	for (uint32_t i = 0; i < f->npend; i++) {
		struct ainftp_msg m;

		ainftp_hdr_read((const struct ainftp_hdr *)f->pend[i].pkt, &m);
		if (m.slot == slot && ((uint64_t)m.step << 32 | m.chunk) == key)
			return true;
	}
	return false;
}

/* HELLO_ACK for hello h (as read in m), with status and the job's geometry. */
static size_t
fake_hello_ack(const struct fake *f, const struct ainftp_msg *h, uint8_t status, bool tagged,
	       uint8_t *p)
{
	struct ainftp_msg m = *h; /* job, worker and the nonce (bitmap) echoed */
	struct ainftp_hello_info hi = {.status = status};
	size_t len = HELLO_LEN;

	m.type = AINFTP_MSG_HELLO_ACK;
	m.flags = tagged ? AINFTP_F_AUTH : 0;
	m.step = m.chunk = 0;
	m.slot = 0;
	m.scale_exp = 0;
	m.contributors = 0;
	if (status != AINFTP_HELLO_JOB && status != AINFTP_HELLO_WORKER) {
		m.encoding = f->encoding;
		m.elems = (uint16_t)f->elems;
		hi.slots = f->slots;
		hi.lanes = (uint16_t)f->lanes;
		hi.result_encoding = f->result_encoding;
		hi.step = f->hello_step;
		/* As the appliance: with auth, its results are tagged too. */
		hi.auth = f->auth ? AINFTP_HELLO_AUTH_DATA | AINFTP_HELLO_AUTH_RESULTS : 0;
		if (f->auth && f->polyval)
			hi.auth |= AINFTP_HELLO_AUTH_POLYVAL;
		hi.shard = f->pre_shards ? 0 : f->shard;
		hi.shards = f->pre_shards ? 0 : f->shards;
	}
	ainftp_hdr_write((struct ainftp_hdr *)p, &m);
	ainftp_hello_write((struct ainftp_hello *)(p + sizeof(struct ainftp_hdr)), &hi);
	if (tagged) { /* the handshake is SipHash's whatever the job's MAC */
		ainftp_mac_as(&f->mk, AINFTP_MAC_SIPHASH, p, HELLO_LEN, p + HELLO_LEN);
		len += AINFTP_TAG_LEN;
	}
	return len;
}

/*
 * Acks the client must ignore, before the genuine one: refusals untagged with
 * the wrong nonce; untagged answers that only a tag could make true (OK, a
 * geometry difference, "the job has auth"); a tag that does not verify; and a
 * genuine-looking one from another address. Each, taken, would fail the join
 * or start the client at step hello_step + 1000.
 */
static void
fake_hello_forge(struct fake *f, int lane, const struct ainftp_msg *h, const struct sockaddr_in *to)
{
	uint8_t p[HELLO_LEN + AINFTP_TAG_LEN];
	struct ainftp_msg m = *h;
	struct ainftp_hello_info hi;
	size_t len;

	m.bitmap = h->bitmap ^ 1;
	fake_send(f, f->fd[lane], p, fake_hello_ack(f, &m, AINFTP_HELLO_JOB, false, p), to);
	m.bitmap = h->bitmap ^ UINT64_C(0x8000000000000000);
	fake_send(f, f->fd[lane], p, fake_hello_ack(f, &m, AINFTP_HELLO_WORKER, false, p), to);
	f->hello_step += 1000;
	fake_send(f, f->fd[lane], p, fake_hello_ack(f, h, AINFTP_HELLO_OK, false, p), to);
	fake_send(f, f->fd[lane], p, fake_hello_ack(f, h, AINFTP_HELLO_ELEMS, false, p), to);
	/* "AUTH" untagged but saying the job has auth: only a job without auth answers untagged. */
	len = fake_hello_ack(f, h, AINFTP_HELLO_AUTH, false, p);
	ainftp_hello_read((const struct ainftp_hello *)(p + sizeof(struct ainftp_hdr)), &hi);
	hi.auth = 1;
	ainftp_hello_write((struct ainftp_hello *)(p + sizeof(struct ainftp_hdr)), &hi);
	fake_send(f, f->fd[lane], p, len, to);
	len = fake_hello_ack(f, h, AINFTP_HELLO_OK, true, p);
	p[HELLO_LEN] ^= 1;
	fake_send(f, f->fd[lane], p, len, to);
	fake_send(f, f->noise_fd, p, fake_hello_ack(f, h, AINFTP_HELLO_OK, true, p), to);
	f->hello_step -= 1000;
}

/*
 * A HELLO, answered as the appliance does: an unknown job or worker gets an
 * untagged refusal; a HELLO without the tag the job wants, or with a wrong
 * one, nothing; otherwise the first difference of the worker's view of the
 * job from the fake's, tagged when the job has auth.
 */
static void
fake_hello(struct fake *f, int lane, const uint8_t *p, size_t len, const struct sockaddr_in *from)
{
	struct ainftp_hello_info hi;
	struct ainftp_msg m;
	uint8_t ack[HELLO_LEN + AINFTP_TAG_LEN];
	uint8_t status = AINFTP_HELLO_OK;

	ainftp_hdr_read((const struct ainftp_hdr *)p, &m);
	ainftp_hello_read((const struct ainftp_hello *)(p + sizeof(struct ainftp_hdr)), &hi);
	f->hellos++;
	f->hello = m;
	f->hello_info = hi;
	f->hello_len = len;
	f->hello_lane = lane;
	f->hello_tag_ok =
		(m.flags & AINFTP_F_AUTH) && len == HELLO_LEN + AINFTP_TAG_LEN &&
		ainftp_mac_verify_as(&f->mk, AINFTP_MAC_SIPHASH, p, HELLO_LEN, p + HELLO_LEN);
	if (f->hello_silent)
		return;
	if (m.job != f->job) {
		status = AINFTP_HELLO_JOB;
	} else if (m.worker != f->worker) {
		status = AINFTP_HELLO_WORKER;
	} else if (f->auth && !(m.flags & AINFTP_F_AUTH)) {
		f->bad++; /* the appliance's auth_missing */
		return;
	} else if (f->auth && !f->hello_tag_ok) {
		f->bad_tag++;
		return;
	} else if (m.encoding != f->encoding) {
		status = AINFTP_HELLO_ENCODING; /* first, as the appliance: it changes elems too */
	} else if (m.elems != f->elems) {
		status = AINFTP_HELLO_ELEMS;
	} else if (hi.result_encoding != f->result_encoding) {
		status = AINFTP_HELLO_RESULT_ENC;
	} else if (hi.slots != f->slots) {
		status = AINFTP_HELLO_SLOTS;
	} else if (hi.lanes != f->lanes) {
		status = AINFTP_HELLO_LANES;
	} else if (((hi.auth & AINFTP_HELLO_AUTH_DATA) != 0) != f->auth) {
		status = AINFTP_HELLO_AUTH;
	} else if (!f->pre_shards && (hi.shard != f->shard || hi.shards != f->shards)) {
		status = AINFTP_HELLO_SHARD;
	}
	if (f->hello_forge)
		fake_hello_forge(f, lane, &m, from);
	len = fake_hello_ack(f, &m, status,
			     f->auth && status != AINFTP_HELLO_JOB && status != AINFTP_HELLO_WORKER,
			     ack);
	fake_send(f, f->fd[lane], ack, len, from);
}

/*
 * A PROBE, answered as the appliance does: the kept RESULT when the chunk
 * completed; else a STATE: STALE for a chunk the slot went past (or that the
 * job completed without this worker: stale_mask), HAVE when this worker's
 * DATA is in and the chunk waits, MISSING when it is not. A chunk that waits
 * but that the fake would answer now (answer_below raised) is answered, as
 * when the last peer's data arrived.
 */
static void
fake_probe(struct fake *f, int lane, const uint8_t *p, size_t len, const struct sockaddr_in *from)
{
	struct ainftp_msg m;
	uint64_t key;
	uint16_t s;
	uint8_t reason;
	uint32_t next = 0;

	ainftp_hdr_read((const struct ainftp_hdr *)p, &m);
	if (m.job != f->job || m.worker != f->worker || f->auth != !!(m.flags & AINFTP_F_AUTH)) {
		f->bad++;
		return;
	}
	if (f->auth &&
	    !ainftp_mac_verify(&f->mk, p, len - AINFTP_TAG_LEN, p + len - AINFTP_TAG_LEN)) {
		f->bad_tag++;
		return;
	}
	if (m.slot != (m.chunk & (f->slots - 1))) {
		f->bad_slot++;
		return;
	}
	if (lane != m.slot % f->lanes) {
		f->bad_lane++;
		return;
	}
	f->probes++;
	f->probe_desc = m.bitmap;
	f->watch_probes += m.chunk == f->watch;
	if (f->silent)
		return;
	if (f->mismatch != 0) {
		fake_state_send(f, lane, &m, AINFTP_STATE_MISMATCH, 0, from, false);
		return;
	}
	s = m.slot;
	key = (uint64_t)m.step << 32 | m.chunk;
	if (f->kept_len[s] > 0 && f->kept_key[s] == key) {
		fake_send(f, f->fd[lane], f->kept + (size_t)s * FAKE_PKT, f->kept_len[s], from);
		f->probe_results++;
		return;
	}
	if (fake_stale(f, m.step, m.chunk)) {
		reason = AINFTP_STATE_STALE;
		next = f->stale_next_step;
		if (f->has[s] && f->cur[s] == key && !f->answered[s]) {
			f->answered[s] = true; /* the job went on: the slot is free */
			f->unanswered--;
		}
	} else if (f->has[s] && key < f->cur[s]) {
		reason = AINFTP_STATE_STALE;
		next = (uint32_t)(f->cur[s] >> 32);
	} else if (f->has[s] && key == f->cur[s] && f->in[s]) {
		if (!f->answered[s] && fake_answers(f, m.step, m.chunk) &&
		    !fake_pending(f, s, key)) {
			fake_pend(f, lane, f->held + (size_t)s * FAKE_PKT, f->held_len[s], from);
			return;
		}
		reason = AINFTP_STATE_HAVE;
	} else {
		reason = AINFTP_STATE_MISSING;
	}
	fake_state_send(f, lane, &m, reason, next, from, false);
}

static void
fake_packet(struct fake *f, int lane, const uint8_t *p, size_t len, const struct sockaddr_in *from)
{
	const struct ainftp_hdr *h = (const struct ainftp_hdr *)p;
	struct ainftp_msg m;
	uint64_t key;
	uint16_t s;

	if (len < sizeof(*h) || ainftp_hdr_check(h, len) != AINFTP_OK) {
		f->bad++;
		return;
	}
	ainftp_hdr_read(h, &m);
	if (m.type == AINFTP_MSG_HEARTBEAT_ACK) {
		f->acks++;
		f->ack = m;
		f->ack_len = len;
		f->ack_tag_ok = (m.flags & AINFTP_F_AUTH) && len == sizeof(*h) + AINFTP_TAG_LEN &&
				ainftp_mac_verify(&f->mk, p, sizeof(*h), p + sizeof(*h));
		return;
	}
	if (m.type == AINFTP_MSG_HELLO) {
		fake_hello(f, lane, p, len, from);
		return;
	}
	if (m.type == AINFTP_MSG_PROBE) {
		fake_probe(f, lane, p, len, from);
		return;
	}
	if (m.type != AINFTP_MSG_DATA) {
		f->bad++;
		return;
	}
	f->data++;
	f->bytes_in += len;
	f->src = *from;
	if (m.job != f->job || m.worker != f->worker || m.encoding != f->encoding ||
	    m.elems != f->elems) {
		f->bad++;
		return;
	}
	if (m.slot != (m.chunk & (f->slots - 1))) {
		f->bad_slot++;
		return;
	}
	if (lane != m.slot % f->lanes) {
		f->bad_lane++;
		return;
	}
	if (f->auth != !!(m.flags & AINFTP_F_AUTH)) {
		f->bad++;
		return;
	}
	if (f->auth &&
	    !ainftp_mac_verify(&f->mk, p, len - AINFTP_TAG_LEN, p + len - AINFTP_TAG_LEN)) {
		f->bad_tag++;
		return;
	}
	f->lane_data[lane]++;
	f->data_desc = m.bitmap;
	s = m.slot;
	key = (uint64_t)m.step << 32 | m.chunk;
	if (!f->has[s] || key > f->cur[s]) {
		if (f->has[s] && !f->answered[s])
			f->slot_violations++;
		else
			f->unanswered++;
		f->has[s] = true;
		f->cur[s] = key;
		f->answered[s] = false;
		f->in[s] = false;
		if (f->unanswered > f->max_outstanding)
			f->max_outstanding = f->unanswered;
		f->new_chunks++;
		fake_note_step(f, m.step);
		if (f->record != NULL && f->encoding == AINFTP_ENC_FLOAT32 &&
		    m.chunk < f->record_chunks)
			memcpy(f->record + (size_t)m.chunk * f->elems, p + sizeof(*h),
			       (size_t)f->elems * sizeof(float));
	} else if (key < f->cur[s]) {
		f->stale++;
		return;
	} else {
		if (f->resent++ == 0)
			f->first_resent = m.chunk;
		f->watch_resent += m.chunk == f->watch;
	}
	if (f->dropped < f->drop_first) {
		f->dropped++; /* lost on the way: the slot has nothing of this worker's */
		return;
	}
	f->in[s] = true;
	memcpy(f->held + (size_t)s * FAKE_PKT, p, len);
	f->held_len[s] = len;
	if (f->silent || m.chunk >= f->answer_below || fake_stale(f, m.step, m.chunk))
		return; /* in, waiting for peers that do not come (or did without it) */
	fake_pend(f, lane, p, len, from);
}

/*
 * One read from lane i into fake_packet; -1 when there is none. With gro, a
 * GSO send arrives whole with its segment size, and is cut into its
 * datagrams here as the kernel would have cut it.
 */
static int
fake_recv(struct fake *f, int i)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct sockaddr_in from;
	struct iovec iov = {.iov_base = f->rx, .iov_len = sizeof(f->rx)};
	struct msghdr h = {.msg_name = &from,
			   .msg_namelen = sizeof(from),
			   .msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = cm.buf,
			   .msg_controllen = sizeof(cm.buf)};
	struct cmsghdr *c;
	ssize_t n = recvmsg(f->fd[i], &h, 0);
	size_t seg, off;

	if (n < 0)
		return -1;
	seg = (size_t)n;
	for (c = CMSG_FIRSTHDR(&h); c != NULL; c = CMSG_NXTHDR(&h, c))
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			int g;

			memcpy(&g, CMSG_DATA(c), sizeof(g));
			seg = g > 0 ? (size_t)g : seg;
		}
	if (seg < (size_t)n)
		f->gso_trains++;
	for (off = 0; off < (size_t)n; off += seg)
		fake_packet(f, i, f->rx + off, (size_t)n - off < seg ? (size_t)n - off : seg,
			    &from);
	return 0;
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	struct pollfd pf[FAKE_MAX_LANES + 1];

	pthread_mutex_lock(&f->mu);
	while (!f->stop) {
		int timeout = -1;
		uint64_t v;

		if (f->npend > 0 && !f->hold) {
			uint64_t now = now_ms();

			timeout = f->pend_deadline_ms > now ? (int)(f->pend_deadline_ms - now) : 0;
		}
		for (int i = 0; i < f->lanes; i++)
			pf[i] = (struct pollfd){.fd = f->fd[i], .events = POLLIN};
		pf[f->lanes] = (struct pollfd){.fd = f->wake_fd, .events = POLLIN};
		pthread_mutex_unlock(&f->mu);
		poll(pf, (nfds_t)f->lanes + 1, timeout);
		pthread_mutex_lock(&f->mu);
		if (f->stop)
			break;
		if (read(f->wake_fd, &v, sizeof(v)) < 0) {
			/* EAGAIN: no knob changed */
		}
		for (int i = 0; i < f->lanes; i++)
			while (fake_recv(f, i) == 0) {
			}
		if (f->npend > 0 && !f->hold &&
		    (f->coalesce_us == 0 || now_ms() >= f->pend_deadline_ms))
			fake_flush(f);
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* The fake's sockets and state, without its thread (fake_run). */
static void
fake_open(struct fake *f)
{
	int tries;

	ck_assert_int_le(f->lanes, FAKE_MAX_LANES);
	/* Lanes are consecutive ports: find a run that is free. */
	for (tries = 0; tries < 100; tries++) {
		int i;

		if (f->addr == 0)
			f->addr = htonl(INADDR_LOOPBACK);
		f->fd[0] = udp_socket(f->addr, f->want_port);
		ck_assert_int_ge(f->fd[0], 0);
		f->port = sock_port(f->fd[0]);
		for (i = 1; i < f->lanes; i++) {
			if (f->port + i > 65535)
				break;
			f->fd[i] = udp_socket(f->addr, (uint16_t)(f->port + i));
			if (f->fd[i] < 0)
				break;
		}
		if (i == f->lanes)
			break;
		while (i-- > 0) {
			close(f->fd[i]);
			f->fd[i] = -1;
		}
	}
	ck_assert_msg(tries < 100, "no %d consecutive free UDP ports", f->lanes);
	for (tries = 0; f->gro && tries < f->lanes; tries++) {
		int one = 1;

		ck_assert_int_eq(setsockopt(f->fd[tries], SOL_UDP, UDP_GRO, &one, sizeof(one)), 0);
	}
	f->noise_fd = udp_socket(htonl(0x7f000002), 0);
	ck_assert_int_ge(f->noise_fd, 0);
	f->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ck_assert_int_ge(f->wake_fd, 0);
	ck_assert_int_eq(ainftp_mac_key_init(&f->mk, f->key), 0);
	f->mk.alg = f->polyval ? AINFTP_MAC_POLYVAL_AES : AINFTP_MAC_SIPHASH;
	f->ops = &ainftp_quant_scalar;
	f->acc.acc = aligned_alloc(64, (ainftp_acc_size(f->elems) + 63) / 64 * 64);
	ck_assert(f->acc.acc != NULL);
	ainftp_acc_init(&f->acc, f->elems, f->acc.acc);
	f->pend = calloc(FAKE_PENDING, sizeof(*f->pend));
	f->cur = calloc(f->slots, sizeof(*f->cur));
	f->has = calloc(f->slots, sizeof(*f->has));
	f->answered = calloc(f->slots, sizeof(*f->answered));
	f->in = calloc(f->slots, sizeof(*f->in));
	f->held = calloc(f->slots, FAKE_PKT);
	f->held_len = calloc(f->slots, sizeof(*f->held_len));
	f->kept = calloc(f->slots, FAKE_PKT);
	f->kept_len = calloc(f->slots, sizeof(*f->kept_len));
	f->kept_key = calloc(f->slots, sizeof(*f->kept_key));
	ck_assert(f->pend != NULL && f->cur != NULL && f->has != NULL && f->answered != NULL);
	ck_assert(f->in != NULL && f->held != NULL && f->held_len != NULL && f->kept != NULL &&
		  f->kept_len != NULL && f->kept_key != NULL);
	pthread_mutex_init(&f->mu, NULL);
	cond_init_mono(&f->cv);
}

static void
fake_run(struct fake *f)
{
	ck_assert_int_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void
fake_start(struct fake *f)
{
	fake_open(f);
	fake_run(f);
}

static void
fake_free(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_mutex_unlock(&f->mu);
	fake_wake(f);
	pthread_join(f->th, NULL);
	for (int i = 0; i < f->lanes; i++)
		close(f->fd[i]);
	close(f->noise_fd);
	close(f->wake_fd);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f->acc.acc);
	free(f->pend);
	free(f->cur);
	free(f->has);
	free(f->answered);
	free(f->in);
	free(f->held);
	free(f->held_len);
	free(f->kept);
	free(f->kept_len);
	free(f->kept_key);
	free(f->record);
	free(f);
}

/* Wait until *field >= min; false when WAIT_MS passed first. */
static bool
fake_wait(struct fake *f, const uint64_t *field, uint64_t min)
{
	struct timespec dl;
	bool ok;

	deadline_in(&dl, WAIT_MS);
	pthread_mutex_lock(&f->mu);
	while (*field < min && pthread_cond_timedwait(&f->cv, &f->mu, &dl) == 0)
		;
	ok = *field >= min;
	pthread_mutex_unlock(&f->mu);
	return ok;
}

static uint64_t
fake_get(struct fake *f, const uint64_t *field)
{
	uint64_t v;

	pthread_mutex_lock(&f->mu);
	v = *field;
	pthread_mutex_unlock(&f->mu);
	return v;
}

static void
fake_set_hold(struct fake *f, bool hold)
{
	pthread_mutex_lock(&f->mu);
	f->hold = hold;
	pthread_mutex_unlock(&f->mu);
	fake_wake(f);
}

/* A HEARTBEAT from lane 0 to the client's port. */
static void
fake_heartbeat(struct fake *f, uint16_t to_port, uint32_t job, uint32_t step, uint32_t chunk,
	       uint64_t bitmap)
{
	struct ainftp_msg m = {
		.type = AINFTP_MSG_HEARTBEAT,
		.job = job,
		.worker = AINFTP_WORKER_APPLIANCE,
		.step = step,
		.chunk = chunk,
		.bitmap = bitmap,
	};
	struct ainftp_hdr h;
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(to_port)};

	ainftp_hdr_write(&h, &m);
	fake_send(f, f->fd[0], &h, sizeof(h), &to);
}

/* ------------------------------------------------------------ the client side */

static const char *
enc_name(uint8_t enc)
{
	return enc == AINFTP_ENC_INT16 ? "int16" : enc == AINFTP_ENC_INT8 ? "int8" : "float32";
}

#define SET_OK(o, name, value)                                                             \
	ck_assert_msg(ainftp_opts_set((o), (name), (value)) == 0, "set %s=%s: %s", (name), \
		      (value), ainftp_last_error())

/* Options for the fake's job; then name, value pairs to override, up to a NULL. */
static struct ainftp_opts *
fake_opts(const struct fake *f, ...)
{
	struct ainftp_opts *o = ainftp_opts_new();
	char v[2 * AINFTP_KEY_BYTES + 1];
	const char *name;
	va_list ap;

	ck_assert_ptr_nonnull(o);
	SET_OK(o, "appliance", "127.0.0.1");
	SET_OK(o, "bind", "127.0.0.1");
	snprintf(v, sizeof(v), "%u", f->port);
	SET_OK(o, "port", v);
	snprintf(v, sizeof(v), "%d", f->lanes);
	SET_OK(o, "lanes", v);
	snprintf(v, sizeof(v), "%u", f->job);
	SET_OK(o, "job", v);
	snprintf(v, sizeof(v), "%u", f->worker);
	SET_OK(o, "worker", v);
	SET_OK(o, "auth", f->auth ? "true" : "false");
	if (f->auth) {
		key_to_hex(f->key, v);
		SET_OK(o, "key", v);
	}
	snprintf(v, sizeof(v), "%u", f->elems);
	SET_OK(o, "elems", v);
	snprintf(v, sizeof(v), "%u", f->slots);
	SET_OK(o, "slots", v);
	SET_OK(o, "encoding", enc_name(f->encoding));
	SET_OK(o, "result_encoding", enc_name(f->result_encoding));
	va_start(ap, f);
	while ((name = va_arg(ap, const char *)) != NULL) {
		const char *value = va_arg(ap, const char *);

		SET_OK(o, name, value);
	}
	va_end(ap);
	return o;
}

#define OPEN(f, ...) open_client(fake_opts((f), __VA_ARGS__))

static struct ainftp_client *
open_client(struct ainftp_opts *o)
{
	struct ainftp_client *c = NULL;
	int rc = ainftp_client_open(o, &c);

	ainftp_opts_free(o);
	ck_assert_msg(rc == 0, "open: %d %s", rc, ainftp_last_error());
	ck_assert_ptr_nonnull(c);
	return c;
}

/* Stats once the engine has published `requests` completed requests. */
static void
stats_after(struct ainftp_client *c, uint64_t requests, struct ainftp_client_stats *st)
{
	uint64_t end = now_ms() + WAIT_MS;

	for (;;) {
		ck_assert_int_eq(ainftp_client_get_stats(c, st), 0);
		if (st->requests >= requests || now_ms() > end)
			break;
		sleep_us(1000);
	}
	ck_assert_uint_ge(st->requests, requests);
}

static float *
guarded(size_t n, size_t guard)
{
	float *x = malloc((n + guard) * sizeof(float));

	ck_assert_ptr_nonnull(x);
	for (size_t i = 0; i < guard; i++)
		x[n + i] = 1234.5f + (float)i;
	return x;
}

static void
check_guard(const float *x, size_t n, size_t guard)
{
	for (size_t i = 0; i < guard; i++)
		ck_assert_msg(x[n + i] == 1234.5f + (float)i,
			      "guard element %zu after the buffer was written", i);
}

static float *
copy_of(const float *x, size_t n)
{
	float *y = malloc(n * sizeof(float));

	ck_assert_ptr_nonnull(y);
	memcpy(y, x, n * sizeof(float));
	return y;
}

/* Run ainftp_allreduce in another thread, so that a hang is reported, not waited out. */
struct call {
	struct ainftp_client *c;
	float *buf;
	size_t n;
	int op;
	int rc;
	char err[512];
	bool done;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
};

static void *
call_main(void *arg)
{
	struct call *k = arg;
	int rc = ainftp_allreduce(k->c, k->buf, k->n, k->op);

	pthread_mutex_lock(&k->mu);
	k->rc = rc;
	snprintf(k->err, sizeof(k->err), "%s", ainftp_last_error());
	k->done = true;
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

static void
call_start(struct call *k, struct ainftp_client *c, float *buf, size_t n, int op)
{
	memset(k, 0, sizeof(*k));
	k->c = c;
	k->buf = buf;
	k->n = n;
	k->op = op;
	pthread_mutex_init(&k->mu, NULL);
	cond_init_mono(&k->cv);
	ck_assert_int_eq(pthread_create(&k->th, NULL, call_main, k), 0);
}

/* Whether the call returned within ms; joined and cleaned up when it did. */
static bool
call_join(struct call *k, uint32_t ms)
{
	struct timespec dl;
	bool done;

	deadline_in(&dl, ms);
	pthread_mutex_lock(&k->mu);
	while (!k->done && pthread_cond_timedwait(&k->cv, &k->mu, &dl) == 0)
		;
	done = k->done;
	pthread_mutex_unlock(&k->mu);
	if (done) {
		pthread_join(k->th, NULL);
		pthread_mutex_destroy(&k->mu);
		pthread_cond_destroy(&k->cv);
	}
	return done;
}

/* ------------------------------------------------------------ options */

START_TEST(opts_unknown_name)
{
	struct ainftp_opts *o = ainftp_opts_new();

	ck_assert_int_eq(ainftp_opts_set(o, "elements_per_packet", "16"), AINFTP_E_INVAL);
	ck_assert_ptr_nonnull(strstr(ainftp_last_error(), "elements_per_packet"));
	ck_assert_ptr_nonnull(strstr(ainftp_last_error(), "unknown"));
	ck_assert_int_eq(ainftp_opts_set(o, "", "1"), AINFTP_E_INVAL);
	ck_assert_int_eq(ainftp_opts_set(o, "Port", "1"), AINFTP_E_INVAL); /* names are exact */
	ck_assert_ptr_nonnull(strstr(ainftp_last_error(), "Port"));
	ainftp_opts_free(o);
}
END_TEST

static const struct {
	const char *name, *value;
} bad_values[] = {
	{"port", "70000"},
	{"port", "0"},
	{"port", "-1"},
	{"port", "80x"},
	{"port", ""},
	{"port", " 80"},
	{"worker", "64"},
	{"worker", "99999999999999999999999"},
	{"slots", "3"},
	{"slots", "0"},
	{"slots", "131072"},
	{"window", "0"},
	{"encoding", "float64"},
	{"encoding", "FLOAT32"},
	{"result_encoding", "int4"},
	{"key", "abcd"},
	{"key", KEY_HEX "0"},
	{"key", "5e1f0c9a7b3d2e4f6a8b9c0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4g"},
	{"key_file", "/nonexistent/ainftp.key"},
	{"appliance", "1.2.3"},
	{"appliance", "::1"},
	{"appliance", "127.0.0.1,"},
	{"appliance", "127.0.0.1,,127.0.0.3"},
	{"appliance", "127.0.0.1, 127.0.0.3"},
	{"appliance", "127.0.0.1,127.0.0.3,127.0.0.1"},
	{"appliance", "10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5,10.0.0.6,10.0.0.7,10.0.0.8,"
		      "10.0.0.9"},
	{"bind", "localhost"},
	{"bind_port", "65536"},
	{"auth", "yes"},
	{"gso", "maybe"},
	{"xdp", "auto"},
	{"xdp", "yes"},
	{"simd_bits", "128"},
	{"lanes", "0"},
	{"lanes", "17"},
	{"elems", "0"},
	{"elems", "65536"},
	{"job", "4294967296"},
	{"first_step", "-5"},
	{"rto_us", "0"},
	{"rto_min_us", "60000001"},
	{"rto_max_us", "x"},
	{"timeout_ms", "0"},
	{"sockbuf", "1"},
};

START_TEST(opts_bad_value)
{
	struct ainftp_opts *o = ainftp_opts_new();
	char quoted[64];

	snprintf(quoted, sizeof(quoted), "\"%s\"", bad_values[_i].name);
	ck_assert_msg(ainftp_opts_set(o, bad_values[_i].name, bad_values[_i].value) ==
			      AINFTP_E_INVAL,
		      "%s=%s was taken", bad_values[_i].name, bad_values[_i].value);
	ck_assert_msg(strstr(ainftp_last_error(), quoted) != NULL, "%s=%s: message \"%s\"",
		      bad_values[_i].name, bad_values[_i].value, ainftp_last_error());
	ainftp_opts_free(o);
}
END_TEST

static const struct {
	const char *name, *value;
} good_values[] = {
	{"port", "1"},
	{"port", "65535"},
	{"worker", "0"},
	{"worker", "63"},
	{"slots", "1"},
	{"slots", "65536"},
	{"window", "1"},
	{"encoding", "int8"},
	{"encoding", "int16"},
	{"encoding", "float32"},
	{"result_encoding", "int16"},
	{"result_encoding", "int8"},
	{"key", KEY_HEX_UPPER},
	{"auth", "0"},
	{"auth", "true"},
	{"gso", "off"},
	{"gso", "on"},
	{"xdp", "on"},
	{"xdp", "off"},
	{"xdp", "true"},
	{"xdp", "0"},
	{"simd_bits", "0"},
	{"simd_bits", "256"},
	{"lanes", "16"},
	{"first_step", "4294967295"},
	{"job", "0"},
	{"bind", "0.0.0.0"},
	{"bind_port", "0"},
	{"elems", "65535"},
	{"timeout_ms", "3600000"},
	{"sockbuf", "65536"},
};

START_TEST(opts_good_value)
{
	struct ainftp_opts *o = ainftp_opts_new();

	ck_assert_msg(ainftp_opts_set(o, good_values[_i].name, good_values[_i].value) == 0,
		      "%s=%s: %s", good_values[_i].name, good_values[_i].value,
		      ainftp_last_error());
	ainftp_opts_free(o);
}
END_TEST

/* Everything open needs, but `skip`. */
static struct ainftp_opts *
complete_opts(const char *skip)
{
	static const char *const all[][2] = {
		{"appliance", "127.0.0.1"},
		{"bind", "127.0.0.1"},
		{"job", "7"},
		{"worker", "3"},
		{"elems", "16"},
		{"encoding", "float32"},
		{"key", KEY_HEX},
	};
	struct ainftp_opts *o = ainftp_opts_new();

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (skip == NULL || strcmp(all[i][0], skip) != 0)
			SET_OK(o, all[i][0], all[i][1]);
	return o;
}

static const char *const required[] = {"appliance", "job", "worker", "elems", "encoding", "key"};

START_TEST(open_missing_required)
{
	struct ainftp_opts *o = complete_opts(required[_i]);
	struct ainftp_client *c = (struct ainftp_client *)&o; /* not NULL: open must clear it */

	ck_assert_int_eq(ainftp_client_open(o, &c), AINFTP_E_INVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(ainftp_last_error(), required[_i]) != NULL,
		      "without %s: message \"%s\"", required[_i], ainftp_last_error());
	ainftp_opts_free(o);
}
END_TEST

/*
 * complete_opts() is enough to open: the defaults (slots 256, one lane,
 * float32 results) are the rest of the job's geometry. Open joins, so a fake
 * with that job answers; without auth it has no key.
 */
START_TEST(open_complete_and_without_key)
{
	struct ainftp_opts *o;
	struct ainftp_client *c = NULL;
	char port[16];

	for (int auth = 1; auth >= 0; auth--) {
		struct fake *f = fake_new();

		f->slots = 256;
		f->auth = auth;
		fake_start(f);
		o = complete_opts(auth ? NULL : "key");
		if (!auth)
			SET_OK(o, "auth", "false");
		snprintf(port, sizeof(port), "%u", f->port);
		SET_OK(o, "port", port);
		ck_assert_msg(ainftp_client_open(o, &c) == 0, "auth %d: %s", auth,
			      ainftp_last_error());
		ck_assert_int_gt(ainftp_client_local_port(c), 0);
		ck_assert_uint_eq(fake_get(f, &f->hellos), 1);
		ainftp_client_close(c);
		ainftp_opts_free(o);
		fake_free(f);
	}
}
END_TEST

/* What open checks across options: each refused, naming the option. */
static const struct {
	const char *name, *value, *name2, *value2, *named;
} open_bad[] = {
	{"rto_min_us", "5000", "rto_max_us", "4000", "rto_min_us"},
	{"slots", "8", "window", "16", "window"},
	{"encoding", "int8", "elems", "40", "elems"},
	{"encoding", "float32", "elems", "3000", "elems"},
};

START_TEST(open_inconsistent)
{
	struct ainftp_opts *o = complete_opts(NULL);
	struct ainftp_client *c = NULL;
	char quoted[64];

	SET_OK(o, open_bad[_i].name, open_bad[_i].value);
	SET_OK(o, open_bad[_i].name2, open_bad[_i].value2);
	ck_assert_int_eq(ainftp_client_open(o, &c), AINFTP_E_INVAL);
	ck_assert_ptr_null(c);
	snprintf(quoted, sizeof(quoted), "\"%s\"", open_bad[_i].named);
	ck_assert_msg(strstr(ainftp_last_error(), quoted) != NULL, "message \"%s\"",
		      ainftp_last_error());
	ainftp_opts_free(o);
}
END_TEST

static void
assert_no_key(const char *msg, const char *hex)
{
	char lower[65], upper[65], head[17];

	for (int i = 0; i < 64; i++) {
		lower[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] - 'A' + 'a' : hex[i]);
		upper[i] = (char)(hex[i] >= 'a' && hex[i] <= 'f' ? hex[i] - 'a' + 'A' : hex[i]);
	}
	lower[64] = upper[64] = '\0';
	memcpy(head, lower, 16);
	head[16] = '\0';
	ck_assert_msg(strstr(msg, lower) == NULL && strstr(msg, upper) == NULL &&
			      strcasestr(msg, head) == NULL,
		      "a key is in the message \"%s\"", msg);
}

START_TEST(key_never_in_messages)
{
	struct ainftp_opts *o = ainftp_opts_new();
	struct ainftp_client *c = NULL;
	char text[200], path[] = "/tmp/ainftp-test-key-XXXXXX";
	int fd;

	SET_OK(o, "key", KEY_HEX);
	/* The key's own text in bad forms: too long, too short, one bad digit. */
	ck_assert_int_eq(ainftp_opts_set(o, "key", KEY_HEX "0"), AINFTP_E_INVAL);
	assert_no_key(ainftp_last_error(), KEY_HEX);
	memcpy(text, KEY_HEX, 63);
	text[63] = '\0';
	ck_assert_int_eq(ainftp_opts_set(o, "key", text), AINFTP_E_INVAL);
	ck_assert_ptr_null(strstr(ainftp_last_error(), text));
	memcpy(text, KEY_HEX, 64);
	text[62] = 'x';
	text[64] = '\0';
	ck_assert_int_eq(ainftp_opts_set(o, "key", text), AINFTP_E_INVAL);
	assert_no_key(ainftp_last_error(), KEY_HEX);
	/* From a file: too long, then with a bad digit. */
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dprintf(fd, "%s%s\n", KEY_HEX, "ab"), 67);
	close(fd);
	ck_assert_int_eq(ainftp_opts_set(o, "key_file", path), AINFTP_E_INVAL);
	assert_no_key(ainftp_last_error(), KEY_HEX);
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dprintf(fd, "%.63sz\n", KEY_HEX), 65);
	close(fd);
	ck_assert_int_eq(ainftp_opts_set(o, "key_file", path), AINFTP_E_INVAL);
	assert_no_key(ainftp_last_error(), KEY_HEX);
	unlink(path);
	/* Open refusals with a key set. */
	SET_OK(o, "key", KEY_HEX);
	ck_assert_int_eq(ainftp_client_open(o, &c), AINFTP_E_INVAL);
	assert_no_key(ainftp_last_error(), KEY_HEX);
	SET_OK(o, "appliance", "127.0.0.1");
	SET_OK(o, "job", "1");
	SET_OK(o, "worker", "1");
	SET_OK(o, "elems", "16");
	SET_OK(o, "encoding", "float32");
	SET_OK(o, "bind", "127.0.0.1");
	SET_OK(o, "rto_min_us", "9");
	SET_OK(o, "rto_max_us", "8");
	ck_assert_int_eq(ainftp_client_open(o, &c), AINFTP_E_INVAL);
	assert_no_key(ainftp_last_error(), KEY_HEX);
	ainftp_opts_free(o);
}
END_TEST

/*
 * A key refused by ainftp_opts_set must not leave the options holding some
 * other key: either the previous key stays in force, or open refuses for lack
 * of one. Sending with a key that nobody set is wrong.
 */
START_TEST(rejected_key_keeps_options_sane)
{
	struct fake *f = fake_new();
	struct ainftp_opts *o;
	struct ainftp_client *c = NULL;
	float x[ELEMS], want[ELEMS];
	int rc;

	fake_start(f);
	o = fake_opts(f, "timeout_ms", "500", NULL);
	ck_assert_int_eq(
		ainftp_opts_set(o, "key",
				"5e1f0c9a7b3d2e4f6a8b9c0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f607182"
				"93a4g"),
		AINFTP_E_INVAL);
	rc = ainftp_client_open(o, &c);
	ainftp_opts_free(o);
	if (rc < 0) {
		/* The key was dropped: open says so. */
		ck_assert_int_eq(rc, AINFTP_E_INVAL);
		ck_assert_ptr_nonnull(strstr(ainftp_last_error(), "key"));
		fake_free(f);
		return;
	}
	fill(x, ELEMS, 1);
	memcpy(want, x, sizeof(x));
	rc = ainftp_allreduce(c, x, ELEMS, AINFTP_OP_SUM);
	ck_assert_msg(rc == 0,
		      "after a refused key, open succeeded but all-reduce gave %d (%s) and the "
		      "appliance saw %" PRIu64 " DATA with a bad tag: the options hold a key "
		      "nobody set (parse_key wipes o->key on a bad digit but leaves has_key)",
		      rc, ainftp_last_error(), fake_get(f, &f->bad_tag));
	ck_assert_bits_eq(x, want, ELEMS);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/* ------------------------------------------------------------ cluster.json */

static const struct ainftp_job_conf *
cfg_job(const struct ainftp_config *cfg, uint32_t id)
{
	for (uint16_t i = 0; i < cfg->n_jobs; i++)
		if (cfg->jobs[i].id == id)
			return &cfg->jobs[i];
	return NULL;
}

static struct ainftp_config *
load_lab(void)
{
	struct ainftp_config *cfg = calloc(1, sizeof(*cfg));
	char err[512];

	ck_assert_ptr_nonnull(cfg);
	ck_assert_msg(ainftp_config_load(LAB_JSON, cfg, err, sizeof(err)) == 0, "%s", err);
	return cfg;
}

/* Every job and worker of lab.json: the options are what the file says. */
START_TEST(cluster_fills_options)
{
	struct ainftp_config *cfg = load_lab();

	ck_assert_uint_gt(cfg->n_jobs, 0);
	for (uint16_t i = 0; i < cfg->n_jobs; i++) {
		const struct ainftp_job_conf *j = &cfg->jobs[i];

		for (uint16_t k = 0; k < j->n_workers; k++) {
			const struct ainftp_worker_conf *w = &j->workers[k];
			struct ainftp_opts *o = ainftp_opts_new();

			ck_assert_msg(ainftp_opts_from_cluster(o, LAB_JSON, j->id, w->id) == 0,
				      "job %u worker %u: %s", j->id, w->id, ainftp_last_error());
			ck_assert(o->has_appliance);
			ck_assert_uint_eq(o->appliance, cfg->ipv4);
			ck_assert_uint_eq(o->shards, 1);
			ck_assert_uint_eq(o->port, cfg->udp_port);
			ck_assert_uint_eq(o->lanes, cfg->ports[j->port].rx_queues);
			ck_assert_uint_eq(o->bind, w->ipv4);
			ck_assert(o->has_job);
			ck_assert_uint_eq(o->job, j->id);
			ck_assert_int_eq(o->worker, w->id);
			ck_assert_int_eq(o->auth, j->auth);
			ck_assert_int_eq(o->has_key, j->auth);
			ck_assert_mem_eq(o->key, w->key, AINFTP_KEY_BYTES);
			ck_assert_uint_eq(o->elems, j->elems_per_packet);
			ck_assert_uint_eq(o->slots, j->slots);
			ck_assert_int_eq(o->encoding, (int)j->encoding);
			ck_assert_int_eq(o->result_encoding, (int)j->result_encoding);
			ainftp_opts_free(o);
		}
	}
	free(cfg);
}
END_TEST

/*
 * lab.json's job 1 as worker 2, with the addresses moved to 127.0.0.1: the
 * key, the job's geometry and its two lanes all come from the file.
 */
START_TEST(cluster_job_runs)
{
	struct ainftp_config *cfg = load_lab();
	const struct ainftp_job_conf *j = cfg_job(cfg, 1);
	struct fake *f = fake_new();
	struct ainftp_opts *o = ainftp_opts_new();
	struct ainftp_client *c;
	char port[16];
	size_t n;
	float *x, *want;

	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(j->encoding, AINFTP_ENC_FLOAT32);
	ck_assert_int_eq(j->result_encoding, AINFTP_ENC_FLOAT32);
	f->job = 1;
	f->worker = 2;
	f->auth = j->auth;
	memcpy(f->key, j->workers[2].key, AINFTP_KEY_BYTES);
	ck_assert_uint_eq(j->workers[2].id, 2);
	f->elems = j->elems_per_packet;
	f->slots = j->slots;
	f->lanes = cfg->ports[j->port].rx_queues;
	ck_assert_int_ge(f->lanes, 2); /* so that lanes are exercised */
	fake_start(f);
	ck_assert_msg(ainftp_opts_from_cluster(o, LAB_JSON, 1, 2) == 0, "%s", ainftp_last_error());
	SET_OK(o, "bind", "127.0.0.1");
	SET_OK(o, "appliance", "127.0.0.1");
	snprintf(port, sizeof(port), "%u", f->port);
	SET_OK(o, "port", port);
	c = open_client(o);
	n = 3 * (size_t)f->elems + 17;
	x = malloc(n * sizeof(float));
	fill(x, n, 2);
	want = copy_of(x, n);
	ck_assert_msg(ainftp_allreduce(c, x, n, AINFTP_OP_SUM) == 0, "%s", ainftp_last_error());
	ck_assert_bits_eq(x, want, n);
	ck_assert_uint_eq(fake_get(f, &f->bad_tag), 0);
	ck_assert_uint_eq(fake_get(f, &f->bad_lane), 0);
	ck_assert_uint_eq(fake_get(f, &f->bad), 0);
	ck_assert_uint_gt(fake_get(f, &f->lane_data[0]), 0);
	ck_assert_uint_gt(fake_get(f, &f->lane_data[1]), 0);
	ainftp_client_close(c);
	fake_free(f);
	free(x);
	free(want);
	free(cfg);
}
END_TEST

START_TEST(cluster_missing_file)
{
	struct ainftp_opts *o = ainftp_opts_new();
	const char *path = "/nonexistent/ainftp/cluster.json";

	ck_assert_int_eq(ainftp_opts_from_cluster(o, path, 1, 0), AINFTP_E_INVAL);
	ck_assert_msg(strstr(ainftp_last_error(), path) != NULL, "message \"%s\"",
		      ainftp_last_error());
	ck_assert_int_eq(ainftp_opts_from_cluster(o, NULL, 1, 0), AINFTP_E_INVAL);
	ck_assert_int_eq(ainftp_opts_from_cluster(NULL, LAB_JSON, 1, 0), AINFTP_E_INVAL);
	ainftp_opts_free(o);
}
END_TEST

START_TEST(cluster_unknown_job_or_worker)
{
	struct ainftp_opts *o = ainftp_opts_new();
	struct ainftp_config *cfg = load_lab();
	char hex[65];

	ck_assert_int_eq(ainftp_opts_from_cluster(o, LAB_JSON, 99, 0), AINFTP_E_INVAL);
	ck_assert_msg(strstr(ainftp_last_error(), "job") != NULL &&
			      strstr(ainftp_last_error(), "99") != NULL,
		      "message \"%s\"", ainftp_last_error());
	ck_assert_int_eq(ainftp_opts_from_cluster(o, LAB_JSON, 1, 9), AINFTP_E_INVAL);
	ck_assert_msg(strstr(ainftp_last_error(), "worker") != NULL &&
			      strstr(ainftp_last_error(), "9") != NULL,
		      "message \"%s\"", ainftp_last_error());
	/* None of the file's keys in that message. */
	for (uint16_t i = 0; i < cfg->n_jobs; i++)
		for (uint16_t k = 0; k < cfg->jobs[i].n_workers; k++) {
			key_to_hex(cfg->jobs[i].workers[k].key, hex);
			assert_no_key(ainftp_last_error(), hex);
		}
	/* A refused call leaves the options unfilled: open still wants them. */
	{
		struct ainftp_client *c = NULL;

		ck_assert_int_eq(ainftp_client_open(o, &c), AINFTP_E_INVAL);
		ck_assert_ptr_nonnull(strstr(ainftp_last_error(), "appliance"));
	}
	ainftp_opts_free(o);
	free(cfg);
}
END_TEST

/* ------------------------------------------------------------ misuse */

START_TEST(misuse_arguments)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_req *r = (struct ainftp_req *)&f; /* must be set to NULL on failure */
	struct ainftp_client_stats st;
	float x[ELEMS];

	fake_start(f);
	c = OPEN(f, NULL);
	fill(x, ELEMS, 3);

	ck_assert_int_eq(ainftp_allreduce(NULL, x, ELEMS, AINFTP_OP_SUM), AINFTP_E_INVAL);
	ck_assert_ptr_nonnull(strstr(ainftp_last_error(), "client"));
	ck_assert_int_eq(ainftp_allreduce(c, NULL, ELEMS, AINFTP_OP_SUM), AINFTP_E_INVAL);
	ck_assert_ptr_nonnull(strstr(ainftp_last_error(), "buffer"));
	ck_assert_int_eq(ainftp_allreduce(c, x, 0, AINFTP_OP_SUM), AINFTP_E_INVAL);
	ck_assert_ptr_nonnull(strstr(ainftp_last_error(), "length"));
	ck_assert_int_eq(ainftp_allreduce(c, x, ELEMS, 2), AINFTP_E_INVAL);
	ck_assert_ptr_nonnull(strstr(ainftp_last_error(), "op"));
	ck_assert_int_eq(ainftp_allreduce(c, x, ELEMS, -1), AINFTP_E_INVAL);
	ck_assert_int_eq(ainftp_allreduce_start(c, x, ELEMS, AINFTP_OP_SUM, NULL), AINFTP_E_INVAL);
	ck_assert_ptr_nonnull(strstr(ainftp_last_error(), "out"));
	ck_assert_int_eq(ainftp_allreduce_start(c, NULL, ELEMS, AINFTP_OP_SUM, &r), AINFTP_E_INVAL);
	ck_assert_ptr_null(r);

	ck_assert_int_eq(ainftp_client_get_stats(NULL, &st), AINFTP_E_INVAL);
	ck_assert_int_eq(ainftp_client_get_stats(c, NULL), AINFTP_E_INVAL);
	ck_assert_int_eq(ainftp_client_local_port(NULL), AINFTP_E_INVAL);
	ck_assert_int_eq(ainftp_req_test(NULL), AINFTP_E_INVAL);
	ck_assert_int_eq(ainftp_req_wait(NULL), AINFTP_E_INVAL);
	ck_assert_str_eq(ainftp_req_error(NULL), "");
	ainftp_req_free(NULL);
	ainftp_client_close(NULL);
	ainftp_opts_free(NULL);
	ck_assert_int_eq(ainftp_opts_set(NULL, "port", "1"), AINFTP_E_INVAL);
	{
		struct ainftp_opts *o = ainftp_opts_new();
		struct ainftp_client *c2 = (struct ainftp_client *)&f;

		ck_assert_int_eq(ainftp_opts_set(o, NULL, "1"), AINFTP_E_INVAL);
		ck_assert_int_eq(ainftp_opts_set(o, "port", NULL), AINFTP_E_INVAL);
		ck_assert_int_eq(ainftp_client_open(NULL, &c2), AINFTP_E_INVAL);
		ck_assert_int_eq(ainftp_client_open(o, NULL), AINFTP_E_INVAL);
		ainftp_opts_free(o);
	}
	/* None of that reached the appliance, and the client still works. */
	ck_assert_uint_eq(fake_get(f, &f->data), 0);
	ck_assert_msg(ainftp_allreduce(c, x, ELEMS, AINFTP_OP_SUM) == 0, "%s", ainftp_last_error());
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/*
 * A float buffer at an address that is not a multiple of 4 (a C caller's byte
 * buffer; a tensor at an odd byte offset through the Python binding): refused
 * with E_INVAL before any float is loaded from it, which would be undefined
 * behaviour (UBSan: misaligned load in first_nonfinite), and left untouched.
 */
START_TEST(misuse_misaligned)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_req *r = (struct ainftp_req *)&f; /* must be set to NULL on failure */
	unsigned char *bytes = malloc(ELEMS * sizeof(float) + 1);
	unsigned char *before = malloc(ELEMS * sizeof(float) + 1);
	float x[ELEMS];
	float *odd;

	ck_assert_ptr_nonnull(bytes);
	ck_assert_ptr_nonnull(before);
	fake_start(f);
	c = OPEN(f, NULL);
	fill(x, ELEMS, 3);
	memset(bytes, 0, ELEMS * sizeof(float) + 1);
	memcpy(bytes + 1, x, sizeof(x));
	memcpy(before, bytes, ELEMS * sizeof(float) + 1);
	odd = (float *)(void *)(bytes + 1); /* what a C caller can hand over */

	ck_assert_int_eq(ainftp_allreduce(c, odd, ELEMS, AINFTP_OP_SUM), AINFTP_E_INVAL);
	ck_assert_msg(strstr(ainftp_last_error(), "not aligned") != NULL, "message \"%s\"",
		      ainftp_last_error());
	ck_assert_int_eq(ainftp_allreduce_start(c, odd, ELEMS, AINFTP_OP_MEAN, &r), AINFTP_E_INVAL);
	ck_assert_ptr_null(r);
	ck_assert_mem_eq(bytes, before, ELEMS * sizeof(float) + 1);
	/* Nothing reached the appliance, and the client still works. */
	ck_assert_uint_eq(fake_get(f, &f->data), 0);
	ck_assert_msg(ainftp_allreduce(c, x, ELEMS, AINFTP_OP_SUM) == 0, "%s", ainftp_last_error());
	ainftp_client_close(c);
	fake_free(f);
	free(bytes);
	free(before);
}
END_TEST

START_TEST(misuse_status_names)
{
	static const int all[] = {AINFTP_S_OK,		AINFTP_E_INVAL,	   AINFTP_E_TIMEOUT,
				  AINFTP_E_UNREACHABLE, AINFTP_E_SYSTEM,   AINFTP_E_NOMEM,
				  AINFTP_E_FAILED,	AINFTP_E_OVERFLOW, AINFTP_E_VALUE,
				  AINFTP_E_CLOSED};
	const size_t n = sizeof(all) / sizeof(all[0]);
	const char *unknown = ainftp_status_name(-1000);

	ck_assert_ptr_nonnull(unknown);
	for (size_t i = 0; i < n; i++) {
		ck_assert_ptr_nonnull(ainftp_status_name(all[i]));
		ck_assert_str_ne(ainftp_status_name(all[i]), unknown);
		for (size_t k = 0; k < i; k++)
			ck_assert_str_ne(ainftp_status_name(all[i]), ainftp_status_name(all[k]));
	}
	ck_assert_str_eq(ainftp_status_name(AINFTP_E_TIMEOUT), "timeout");
}
END_TEST

/*
 * NaN or infinity anywhere: refused before anything is sent, buffer untouched,
 * the first one named (a NaN in the last element too, past the client's 4096-
 * element blocks of its check, must not hide it).
 */
static const struct {
	size_t at;
	uint32_t bits;
	const char *word;
} nonfinite[] = {
	{0, 0x7fc00000u, "NaN"},    {5, 0x7f800000u, "infinite"}, {1023, 0xff800000u, "infinite"},
	{1500, 0xffc00001u, "NaN"}, {4095, 0x7f800001u, "NaN"},	  {4096, 0xff800000u, "infinite"},
	{9999, 0x7f800001u, "NaN"},
};

START_TEST(misuse_nonfinite)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	const size_t n = 10000;
	float *x = malloc(n * sizeof(float)), *before;
	char where[32];

	fake_start(f);
	c = OPEN(f, NULL);
	fill(x, n, 4);
	x[n - 1] = NAN;
	memcpy(&x[nonfinite[_i].at], &nonfinite[_i].bits, 4);
	before = copy_of(x, n);
	ck_assert_int_eq(ainftp_allreduce(c, x, n, AINFTP_OP_MEAN), AINFTP_E_VALUE);
	snprintf(where, sizeof(where), "element %zu ", nonfinite[_i].at);
	ck_assert_msg(strstr(ainftp_last_error(), where) != NULL &&
			      strstr(ainftp_last_error(), nonfinite[_i].word) != NULL,
		      "message \"%s\"", ainftp_last_error());
	ck_assert_mem_eq(x, before, n * sizeof(float));
	/* The client is not failed by a refused request. */
	fill(x, n, 5);
	memcpy(before, x, n * sizeof(float));
	ck_assert_msg(ainftp_allreduce(c, x, n, AINFTP_OP_SUM) == 0, "%s", ainftp_last_error());
	ck_assert_bits_eq(x, before, n);
	ainftp_client_close(c);
	fake_free(f);
	free(x);
	free(before);
}
END_TEST

/* ------------------------------------------------------------ failures */

/*
 * An appliance that goes away after the join: a request fails with
 * E_UNREACHABLE, at once. Loopback answers with ICMP port unreachable,
 * unlimited: IP_RECVERR sees it. A port with nothing behind it from the
 * start fails the join the same way.
 */
START_TEST(fail_unreachable)
{
	struct fake *f = fake_new();
	struct ainftp_client *c = NULL;
	struct ainftp_opts *o;
	float x[ELEMS];
	char port[16], name[32];
	uint64_t t0;
	int rc;

	fake_start(f);
	c = OPEN(f, "timeout_ms", "3000", NULL);
	snprintf(port, sizeof(port), "%u", f->port);
	fake_free(f); /* closes its sockets: the port has nothing behind it now */
	f = fake_new();
	f->port = (uint16_t)atoi(port);
	fill(x, ELEMS, 6);
	t0 = now_ms();
	rc = ainftp_allreduce(c, x, ELEMS, AINFTP_OP_SUM);
	ck_assert_msg(now_ms() - t0 < 3000 + 2000, "took %" PRIu64 " ms", now_ms() - t0);
	ck_assert_msg(rc == AINFTP_E_UNREACHABLE, "got %d (%s): %s", rc, ainftp_status_name(rc),
		      ainftp_last_error());
	snprintf(name, sizeof(name), "127.0.0.1:%s", port);
	ck_assert_msg(strstr(ainftp_last_error(), name) != NULL, "message \"%s\"",
		      ainftp_last_error());
	ainftp_client_close(c);
	/* The join to that port. */
	o = fake_opts(f, "timeout_ms", "3000", NULL);
	t0 = now_ms();
	rc = ainftp_client_open(o, &c);
	ainftp_opts_free(o);
	ck_assert_msg(now_ms() - t0 < 3000, "the join took %" PRIu64 " ms", now_ms() - t0);
	ck_assert_msg(rc == AINFTP_E_UNREACHABLE, "got %d (%s): %s", rc, ainftp_status_name(rc),
		      ainftp_last_error());
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(ainftp_last_error(), "join") != NULL &&
			      strstr(ainftp_last_error(), name) != NULL,
		      "message \"%s\"", ainftp_last_error());
	free(f);
}
END_TEST

START_TEST(fail_silent_timeout)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	float x[3 * ELEMS];
	uint64_t t0, dt;
	int rc;

	f->silent = true;
	fake_start(f);
	c = OPEN(f, "timeout_ms", "500", "rto_us", "50000", NULL);
	fill(x, 3 * ELEMS, 7);
	t0 = now_ms();
	rc = ainftp_allreduce(c, x, 3 * ELEMS, AINFTP_OP_SUM);
	dt = now_ms() - t0;
	ck_assert_msg(rc == AINFTP_E_TIMEOUT, "got %d: %s", rc, ainftp_last_error());
	ck_assert_msg(dt >= 450 && dt < 5000, "returned after %" PRIu64 " ms", dt);
	ck_assert_ptr_nonnull(strstr(ainftp_last_error(), "timeout"));
	ck_assert_ptr_nonnull(strstr(ainftp_last_error(), "500 ms"));
	/*
	 * It asked after its chunks while waiting, with PROBEs; with no STATE
	 * saying the data is missing it never sent the data again.
	 */
	ck_assert_uint_gt(fake_get(f, &f->probes), 0);
	ck_assert_uint_eq(fake_get(f, &f->data), 3);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/*
 * After a failure the client is unusable: new requests get AINFTP_E_FAILED at
 * once (ainftp_client.h), with the first failure in the message.
 */
START_TEST(fail_then_refuses_new_requests)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct call k;
	float x[ELEMS];
	bool returned;

	f->silent = true;
	fake_start(f);
	c = OPEN(f, "timeout_ms", "300", NULL);
	fill(x, ELEMS, 8);
	ck_assert_int_eq(ainftp_allreduce(c, x, ELEMS, AINFTP_OP_SUM), AINFTP_E_TIMEOUT);
	call_start(&k, c, x, ELEMS, AINFTP_OP_SUM);
	returned = call_join(&k, HANG_MS);
	ck_assert_msg(returned,
		      "BUG: ainftp_allreduce on a failed client did not return within %d ms "
		      "(ainftp_allreduce_start frees the refused request with ainftp_req_free, "
		      "which waits for a request that never completes)",
		      HANG_MS);
	ck_assert_msg(k.rc == AINFTP_E_FAILED, "got %d: %s", k.rc, k.err);
	ck_assert_ptr_nonnull(strstr(k.err, "timeout"));
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/* Close with one request in flight and two queued: all three complete with AINFTP_E_CLOSED. */
START_TEST(fail_close_with_pending)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_req *r[3];
	float x[3][4 * ELEMS];
	uint64_t t0;

	f->silent = true;
	fake_start(f);
	c = OPEN(f, "timeout_ms", "60000", "window", "2", NULL);
	for (int i = 0; i < 3; i++) {
		fill(x[i], 4 * ELEMS, 9 + (uint32_t)i);
		ck_assert_int_eq(ainftp_allreduce_start(c, x[i], 4 * ELEMS, AINFTP_OP_SUM, &r[i]),
				 0);
	}
	ck_assert(fake_wait(f, &f->new_chunks, 2));
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ainftp_req_test(r[i]), 0);
		ck_assert_str_eq(ainftp_req_error(r[i]), "");
	}
	t0 = now_ms();
	ainftp_client_close(c);
	ck_assert_msg(now_ms() - t0 < HANG_MS, "close took %" PRIu64 " ms", now_ms() - t0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ainftp_req_test(r[i]), 1);
		ck_assert_int_eq(ainftp_req_wait(r[i]), AINFTP_E_CLOSED);
		ck_assert_ptr_nonnull(strstr(ainftp_req_error(r[i]), "closed"));
		ainftp_req_free(r[i]);
	}
	fake_free(f);
}
END_TEST

struct waiter {
	struct ainftp_req *r;
	int rc;
	uint64_t at_ms;
};

static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->rc = ainftp_req_wait(w->r);
	w->at_ms = now_ms();
	return NULL;
}

START_TEST(fail_close_wakes_waiter)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_req *r;
	struct waiter w = {0};
	pthread_t th;
	float x[ELEMS];
	uint64_t t0;

	f->silent = true;
	fake_start(f);
	c = OPEN(f, "timeout_ms", "60000", NULL);
	fill(x, ELEMS, 12);
	ck_assert_int_eq(ainftp_allreduce_start(c, x, ELEMS, AINFTP_OP_SUM, &r), 0);
	w.r = r;
	ck_assert_int_eq(pthread_create(&th, NULL, waiter_main, &w), 0);
	ck_assert(fake_wait(f, &f->data, 1));
	t0 = now_ms();
	ainftp_client_close(c);
	pthread_join(th, NULL); /* a hang here is Check's timeout */
	ck_assert_int_eq(w.rc, AINFTP_E_CLOSED);
	ck_assert_msg(w.at_ms - t0 < 2000, "the waiter returned %" PRIu64 " ms after close",
		      w.at_ms - t0);
	ainftp_req_free(r);
	fake_free(f);
}
END_TEST

/* A NaN written into a chunk not yet sent: the engine notices and fails the request. */
START_TEST(fail_nan_after_start)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_req *r;
	const size_t n = 3 * ELEMS;
	float x[3 * ELEMS];
	const float nan = NAN;

	f->slots = 1;
	f->hold = true;
	fake_start(f);
	c = OPEN(f, "timeout_ms", "5000", NULL);
	fill(x, n, 13);
	ck_assert_int_eq(ainftp_allreduce_start(c, x, n, AINFTP_OP_SUM, &r), 0);
	/* Chunk 0 is out and held: one slot, so chunk 2 has not been read yet. */
	ck_assert(fake_wait(f, &f->data, 1));
	memcpy(&x[2 * ELEMS + 1], &nan, sizeof(nan));
	fake_set_hold(f, false);
	ck_assert_int_eq(ainftp_req_wait(r), AINFTP_E_VALUE);
	ck_assert_ptr_nonnull(strstr(ainftp_req_error(r), "NaN"));
	ainftp_req_free(r);
	ck_assert_uint_eq(fake_get(f, &f->new_chunks), 2);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/* OVERFLOW on one chunk: the request says so; the client goes on. */
START_TEST(fail_overflow_flag)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	const size_t n = 3 * ELEMS;
	float x[3 * ELEMS], want[3 * ELEMS];

	f->overflow_chunk = 1;
	fake_start(f);
	c = OPEN(f, NULL);
	fill(x, n, 14);
	memcpy(want, x, sizeof(x));
	ck_assert_int_eq(ainftp_allreduce(c, x, n, AINFTP_OP_SUM), AINFTP_E_OVERFLOW);
	ck_assert_ptr_nonnull(strstr(ainftp_last_error(), "OVERFLOW"));
	ck_assert_bits_eq(x, want, n); /* the results are still stored */
	/* Not a failure of the client: the next request works. */
	pthread_mutex_lock(&f->mu);
	f->overflow_chunk = -1;
	pthread_mutex_unlock(&f->mu);
	ck_assert_msg(ainftp_allreduce(c, x, n, AINFTP_OP_SUM) == 0, "%s", ainftp_last_error());
	ck_assert_bits_eq(x, want, n);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/* timeout_ms is silence, not the length of a request: slow steady progress succeeds. */
START_TEST(fail_timeout_is_silence)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	const size_t n = 8 * ELEMS;
	float x[8 * ELEMS], want[8 * ELEMS];
	uint64_t t0;

	f->delay_us = 60000;
	fake_start(f);
	c = OPEN(f, "timeout_ms", "300", "window", "1", "rto_us", "200000", "rto_min_us", "200000",
		 NULL);
	fill(x, n, 15);
	memcpy(want, x, sizeof(x));
	t0 = now_ms();
	ck_assert_msg(ainftp_allreduce(c, x, n, AINFTP_OP_SUM) == 0, "%s", ainftp_last_error());
	ck_assert_uint_gt(now_ms() - t0, 300); /* longer than timeout_ms in all */
	ck_assert_bits_eq(x, want, n);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/* ------------------------------------------------------------ reductions */

static void
run_float(struct fake *f, size_t n, int op, uint32_t seed, struct ainftp_client *c)
{
	float *x = guarded(n, 64), *want = malloc(n * sizeof(float));
	float m = (float)f->contributors;

	fill(x, n, seed);
	for (size_t i = 0; i < n; i++)
		want[i] = op == AINFTP_OP_MEAN && f->contributors > 1 ? (x[i] * m) / m : x[i] * m;
	ck_assert_msg(ainftp_allreduce(c, x, n, op) == 0, "%s", ainftp_last_error());
	ck_assert_bits_eq(x, want, n);
	check_guard(x, n, 64);
	free(x);
	free(want);
}

static const struct {
	uint8_t contributors;
	int op;
} float_cases[] = {
	{1, AINFTP_OP_SUM},  {1, AINFTP_OP_MEAN}, {3, AINFTP_OP_SUM},
	{4, AINFTP_OP_MEAN}, {3, AINFTP_OP_MEAN}, {64, AINFTP_OP_SUM},
};

START_TEST(reduce_float32)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;

	f->contributors = float_cases[_i].contributors;
	f->bitmap = f->contributors == 64 ? UINT64_MAX : 0;
	fake_start(f);
	c = OPEN(f, NULL);
	run_float(f, 5 * ELEMS, float_cases[_i].op, 20 + (uint32_t)_i, c);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/* Mean with 4 contributors of powers of two: exactly the input. */
START_TEST(reduce_mean_exact)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	float x[2 * ELEMS], want[2 * ELEMS];

	f->contributors = 4;
	fake_start(f);
	c = OPEN(f, NULL);
	for (int i = 0; i < 2 * ELEMS; i++)
		x[i] = ldexpf(i % 2 ? -1.0f : 1.0f, i - ELEMS);
	memcpy(want, x, sizeof(x));
	ck_assert_int_eq(ainftp_allreduce(c, x, 2 * ELEMS, AINFTP_OP_MEAN), 0);
	ck_assert_bits_eq(x, want, 2 * ELEMS);
	/* And the sum is four times it. */
	ck_assert_int_eq(ainftp_allreduce(c, x, 2 * ELEMS, AINFTP_OP_SUM), 0);
	for (int i = 0; i < 2 * ELEMS; i++)
		ck_assert_float_eq(x[i], 4 * want[i]);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/* n not a multiple of elems: the last chunk is zero-padded, nothing past n is written. */
static const size_t odd_sizes[] = {1, ELEMS - 1, ELEMS + 1, 2 * ELEMS + 5, 9 * ELEMS + 7};

START_TEST(reduce_partial_chunk)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	const size_t n = odd_sizes[_i], chunks = (n + ELEMS - 1) / ELEMS;
	float *x = guarded(n, 3 * ELEMS), *want;

	f->record_chunks = (uint32_t)chunks;
	f->record = calloc(chunks * ELEMS, sizeof(float));
	fake_start(f);
	c = OPEN(f, NULL);
	fill(x, n, 30 + (uint32_t)_i);
	want = copy_of(x, n);
	ck_assert_msg(ainftp_allreduce(c, x, n, AINFTP_OP_SUM) == 0, "%s", ainftp_last_error());
	ck_assert_bits_eq(x, want, n);
	check_guard(x, n, 3 * ELEMS);
	/* What was sent: the data, then zeros. */
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(f->new_chunks, chunks);
	ck_assert_bits_eq(f->record, want, n);
	for (size_t i = n; i < chunks * ELEMS; i++)
		ck_assert_msg(f->record[i] == 0.0f && !signbit(f->record[i]),
			      "padding element %zu is %a", i, (double)f->record[i]);
	pthread_mutex_unlock(&f->mu);
	ainftp_client_close(c);
	fake_free(f);
	free(x);
	free(want);
}
END_TEST

/*
 * Many more chunks than slots: chunk k in slot k % slots, a slot reused only
 * after its result, never more than `slots` chunks out; with and without GSO.
 */
static const char *const gso_modes[] = {"off", "auto"};

START_TEST(reduce_many_chunks)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	const size_t n = 16 * 8 * 12 + 3;
	float *x = malloc(n * sizeof(float)), *want;

	f->slots = 16;
	f->elems = 8;
	f->coalesce_us = 2000;
	fake_start(f);
	c = OPEN(f, "gso", gso_modes[_i], "rto_us", "500000", "rto_min_us", "500000", NULL);
	fill(x, n, 40);
	want = copy_of(x, n);
	ck_assert_msg(ainftp_allreduce(c, x, n, AINFTP_OP_SUM) == 0, "%s", ainftp_last_error());
	ck_assert_bits_eq(x, want, n);
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(f->new_chunks, (n + 7) / 8);
	ck_assert_uint_eq(f->bad_slot, 0);
	ck_assert_uint_eq(f->slot_violations, 0);
	ck_assert_uint_eq(f->stale, 0);
	ck_assert_uint_le(f->max_outstanding, 16);
	ck_assert_uint_ge(f->max_outstanding, 2);
	pthread_mutex_unlock(&f->mu);
	ainftp_client_close(c);
	fake_free(f);
	free(x);
	free(want);
}
END_TEST

/*
 * A job that tags with POLYVAL-AES-128: the client offers it in its HELLO
 * (tagged with SipHash), learns it from the HELLO_ACK, and tags its DATA and
 * PROBEs with it, checking the results' tags under it (the fake checks and
 * tags everything after the handshake with that MAC only, so a client that
 * stayed on SipHash would get no result and time out).
 */
START_TEST(reduce_learns_the_jobs_mac_at_join)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	const size_t n = 16 * 8 * 3 + 3;
	float *x = malloc(n * sizeof(float)), *want;

	f->slots = 16;
	f->elems = 8;
	f->polyval = true;
	fake_start(f);
	c = OPEN(f, "timeout_ms", "3000", NULL);
	fill(x, n, 41);
	want = copy_of(x, n);
	ck_assert_msg(ainftp_allreduce(c, x, n, AINFTP_OP_SUM) == 0, "%s", ainftp_last_error());
	ck_assert_bits_eq(x, want, n);
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(f->hello_info.auth, AINFTP_HELLO_AUTH_DATA | AINFTP_HELLO_AUTH_POLYVAL);
	ck_assert(f->hello_tag_ok);
	ck_assert_uint_eq(f->new_chunks, (n + 7) / 8);
	ck_assert_uint_eq(f->bad_tag, 0);
	pthread_mutex_unlock(&f->mu);
	ainftp_client_close(c);
	fake_free(f);
	free(x);
	free(want);
}
END_TEST

/*
 * xdp=on where AF_XDP cannot be had (loopback is not Ethernet): one line on
 * stderr that says why, then the all-reduce over UDP, exact.
 */
START_TEST(xdp_falls_back_to_udp_with_one_line)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_client_xdp_stats xs;
	const size_t n = 5 * ELEMS + 1;
	float x[5 * ELEMS + 1], want[5 * ELEMS + 1];
	char err[1024] = "", *nl;
	int saved = dup(STDERR_FILENO), pipefd[2];
	ssize_t got;

	ck_assert_int_eq(pipe(pipefd), 0);
	fake_start(f);
	fflush(stderr);
	dup2(pipefd[1], STDERR_FILENO);
	c = OPEN(f, "xdp", "on", NULL);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(pipefd[1]);
	got = read(pipefd[0], err, sizeof(err) - 1);
	close(pipefd[0]);
	ck_assert_int_gt(got, 0);
	nl = strchr(err, '\n');
	ck_assert_msg(nl != NULL && nl[1] == '\0', "not one line: %s", err);
	ck_assert_msg(strncmp(err, "ainftp: AF_XDP not used by worker", 33) == 0, "%s", err);
	ck_assert_msg(strstr(err, "is not an Ethernet interface") != NULL ||
			      strstr(err, "this build of the client has none") != NULL,
		      "%s", err);
	ck_assert_msg(strstr(err, "; using UDP") != NULL, "%s", err);
	fill(x, n, 41);
	memcpy(want, x, sizeof(x));
	ck_assert_msg(ainftp_allreduce(c, x, n, AINFTP_OP_SUM) == 0, "%s", ainftp_last_error());
	ck_assert_bits_eq(x, want, n);
	ck_assert_int_eq(ainftp_client_get_xdp_stats(c, &xs), 0);
	ck_assert_uint_eq(xs.boxes + xs.sent + xs.received, 0);
	ck_assert_int_eq(ainftp_client_get_xdp_stats(NULL, &xs), AINFTP_E_INVAL);
	ck_assert_int_eq(ainftp_client_get_xdp_stats(c, NULL), AINFTP_E_INVAL);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/* The window caps the chunks in flight below the slots. */
static const uint32_t windows[] = {1, 3};

START_TEST(reduce_window)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	const size_t n = 12 * ELEMS;
	float x[12 * ELEMS], want[12 * ELEMS];
	char w[8];

	f->coalesce_us = 3000;
	fake_start(f);
	snprintf(w, sizeof(w), "%u", windows[_i]);
	c = OPEN(f, "window", w, "rto_us", "500000", "rto_min_us", "500000", NULL);
	fill(x, n, 41);
	memcpy(want, x, sizeof(x));
	ck_assert_msg(ainftp_allreduce(c, x, n, AINFTP_OP_SUM) == 0, "%s", ainftp_last_error());
	ck_assert_bits_eq(x, want, n);
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_le(f->max_outstanding, windows[_i]);
	if (windows[_i] > 1)
		ck_assert_uint_ge(f->max_outstanding, 2);
	ck_assert_uint_eq(f->slot_violations, 0);
	pthread_mutex_unlock(&f->mu);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/*
 * Slot k goes to port + k % lanes, with and without GSO. With it, a batch's
 * datagrams go out lane by lane, one GSO send per lane's run: the first
 * window (slots 0..SLOTS-1 in order, where no two neighbours share a lane)
 * arrives at the fake, whose UDP_GRO keeps each send whole, as trains of
 * several datagrams; without GSO, as datagrams alone. Then chunks enough for
 * many batches and reused slots, each on its lane, the sum exact.
 */
START_TEST(reduce_lanes)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_req *r;
	const size_t n = 16 * 9 * ELEMS + 5;
	float x[16 * 9 * ELEMS + 5], want[16 * 9 * ELEMS + 5];

	f->lanes = 3;
	f->gro = true;
	f->hold = true; /* the first window in, nothing back yet */
	fake_start(f);
	c = OPEN(f, "gso", _i == 0 ? "off" : "on", NULL);
	fill(x, n, 42);
	memcpy(want, x, sizeof(x));
	ck_assert_msg(ainftp_allreduce_start(c, x, n, AINFTP_OP_SUM, &r) == 0, "%s",
		      ainftp_last_error());
	ck_assert(fake_wait(f, &f->data, SLOTS));
	if (_i == 0)
		ck_assert_uint_eq(fake_get(f, &f->gso_trains), 0);
	else
		ck_assert_uint_ge(fake_get(f, &f->gso_trains), 1);
	fake_set_hold(f, false);
	ck_assert_msg(ainftp_req_wait(r) == 0, "%s", ainftp_req_error(r));
	ainftp_req_free(r);
	ck_assert_bits_eq(x, want, n);
	ck_assert_uint_eq(fake_get(f, &f->bad_lane), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_gt(fake_get(f, &f->lane_data[i]), 0);
	if (_i == 0)
		ck_assert_uint_eq(fake_get(f, &f->gso_trains), 0);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/* Without auth: no AUTH flag, no tag (the fake refuses either otherwise). */
START_TEST(reduce_no_auth)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;

	f->auth = false;
	fake_start(f);
	c = OPEN(f, NULL);
	run_float(f, 3 * ELEMS + 1, AINFTP_OP_SUM, 43, c);
	ck_assert_uint_eq(fake_get(f, &f->bad), 0);
	ck_assert_uint_eq(fake_get(f, &f->bytes_in),
			  fake_get(f, &f->data) * (32 + 4 * ELEMS)); /* no tag */
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/*
 * The first k DATA are lost: each lost chunk's timer sends a PROBE, the
 * appliance answers STATE MISSING, and the client sends that chunk's data
 * once more. A probe that comes again before the resent data's result (a
 * slow machine) finds the data in (HAVE) or the chunk done (its RESULT), so
 * exactly one DATA retransmission per lost chunk, however the timers go.
 */
START_TEST(reduce_drops_retransmit)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_client_stats st;
	const size_t n = 6 * ELEMS;
	float x[6 * ELEMS], want[6 * ELEMS];

	f->drop_first = 5;
	fake_start(f);
	c = OPEN(f, "rto_us", "2000", "rto_min_us", "1000", NULL);
	fill(x, n, 44);
	memcpy(want, x, sizeof(x));
	ck_assert_msg(ainftp_allreduce(c, x, n, AINFTP_OP_SUM) == 0, "%s", ainftp_last_error());
	ck_assert_bits_eq(x, want, n);
	stats_after(c, 1, &st);
	ck_assert_uint_eq(fake_get(f, &f->dropped), 5);
	ck_assert_uint_eq(st.retransmits, 5);
	ck_assert_uint_eq(fake_get(f, &f->resent), 5);
	ck_assert_uint_ge(st.probes, 5);
	ck_assert_uint_ge(st.states, 5);
	ck_assert_uint_ge(fake_get(f, &f->reasons[AINFTP_STATE_MISSING]), 5);
	ck_assert_uint_eq(st.chunks, 6);
	ck_assert_uint_eq(st.packets_sent, 6 + 5);
	ck_assert_uint_eq(st.chunks_skipped, 0);
	ck_assert_uint_eq(fake_get(f, &f->slot_violations), 0);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/* Every RESULT twice: the copies are counted and change nothing. */
START_TEST(reduce_dup_results)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_client_stats st;
	const size_t n = 20 * ELEMS;
	float x[20 * ELEMS], want[20 * ELEMS];

	f->dup = true;
	fake_start(f);
	c = OPEN(f, "rto_us", "500000", "rto_min_us", "500000", NULL);
	fill(x, n, 45);
	memcpy(want, x, sizeof(x));
	ck_assert_msg(ainftp_allreduce(c, x, n, AINFTP_OP_SUM) == 0, "%s", ainftp_last_error());
	ck_assert_bits_eq(x, want, n);
	/* The copy of the last result may come after the request completed. */
	for (uint64_t end = now_ms() + WAIT_MS;; sleep_us(1000)) {
		stats_after(c, 1, &st);
		if (st.dup_results >= 20 || now_ms() > end)
			break;
	}
	ck_assert_uint_eq(st.results, 20);
	ck_assert_uint_eq(st.dup_results, 20);
	ck_assert_uint_eq(st.retransmits, 0);
	/* A second request over the same slots is not disturbed by late copies. */
	fill(x, n, 46);
	memcpy(want, x, sizeof(x));
	ck_assert_msg(ainftp_allreduce(c, x, n, AINFTP_OP_SUM) == 0, "%s", ainftp_last_error());
	ck_assert_bits_eq(x, want, n);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/* Forged, other jobs', truncated and misshapen datagrams are counted and ignored. */
START_TEST(reduce_ignores_noise)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_client_stats st;
	const size_t n = 5 * ELEMS;
	float x[5 * ELEMS], want[5 * ELEMS];

	f->noise = true;
	fake_start(f);
	c = OPEN(f, "rto_us", "500000", "rto_min_us", "500000", NULL);
	fill(x, n, 47);
	memcpy(want, x, sizeof(x));
	ck_assert_msg(ainftp_allreduce(c, x, n, AINFTP_OP_SUM) == 0, "%s", ainftp_last_error());
	ck_assert_bits_eq(x, want, n);
	stats_after(c, 1, &st);
	ck_assert_uint_eq(st.bad_packets, 4 * 5);
	ck_assert_uint_eq(st.bad_tags, 0); /* each is refused before its tag matters */
	ck_assert_uint_eq(st.results, 5);
	ck_assert_uint_eq(st.dup_results, 0);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/*
 * An appliance slower than the RTO: the timers send PROBEs, answered late
 * with the kept RESULT (copies the client counts as duplicates) or with HAVE;
 * the data was never missing, so it is never sent again. The right answer.
 */
START_TEST(reduce_slow_appliance)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_client_stats st;
	const size_t n = 2 * ELEMS;
	float x[2 * ELEMS], want[2 * ELEMS];

	f->delay_us = 20000;
	fake_start(f);
	c = OPEN(f, "rto_us", "3000", "rto_min_us", "1000", NULL);
	fill(x, n, 48);
	memcpy(want, x, sizeof(x));
	ck_assert_msg(ainftp_allreduce(c, x, n, AINFTP_OP_SUM) == 0, "%s", ainftp_last_error());
	ck_assert_bits_eq(x, want, n);
	stats_after(c, 1, &st);
	ck_assert_uint_gt(st.probes, 0);
	ck_assert_uint_eq(st.retransmits, 0);
	ck_assert_uint_eq(fake_get(f, &f->resent), 0);
	ck_assert_uint_eq(fake_get(f, &f->data), 2);
	ck_assert_uint_eq(st.chunks, 2);
	ck_assert_uint_eq(fake_get(f, &f->slot_violations), 0);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/*
 * Nothing comes back for a while, as when a peer is late to the step: the
 * timers fire, but only the oldest chunk (0) is asked after, with a PROBE,
 * and the others back off. The appliance has the data (STATE HAVE), so
 * nothing is sent again. Probing all 8 at each timeout would be 8 at the
 * first; a v1 client would have resent the data.
 */
START_TEST(reduce_silence_sends_one_probe)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_client_stats st;
	struct ainftp_req *r;
	const size_t n = 8 * ELEMS;
	float x[8 * ELEMS], want[8 * ELEMS];

	f->hold = true;
	f->watch = 0;
	fake_start(f);
	c = OPEN(f, "rto_us", "2000", "rto_min_us", "1000", NULL);
	fill(x, n, 61);
	memcpy(want, x, sizeof(x));
	ck_assert_int_eq(ainftp_allreduce_start(c, x, n, AINFTP_OP_SUM, &r), 0);
	ck_assert(fake_wait(f, &f->probes, 3)); /* three timeouts, backing off */
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(f->watch_probes, f->probes); /* all of chunk 0 */
	ck_assert_uint_eq(f->reasons[AINFTP_STATE_HAVE], f->states);
	pthread_mutex_unlock(&f->mu);
	fake_set_hold(f, false);
	ck_assert_msg(ainftp_req_wait(r) == 0, "%s", ainftp_req_error(r));
	ainftp_req_free(r);
	ck_assert_bits_eq(x, want, n);
	stats_after(c, 1, &st);
	ck_assert_uint_ge(st.probes, 3);
	ck_assert_uint_eq(st.retransmits, 0);
	ck_assert_uint_eq(fake_get(f, &f->data), 8);
	ck_assert_uint_eq(fake_get(f, &f->new_chunks), 8);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/*
 * Results that came while the engine could not run are taken before its
 * timers are looked at: a worker process stopped (SIGSTOP: a CPU shared
 * with other workers, at the extreme) while its four results arrive, and
 * resumed after their timers ran out, sends no PROBE. The engine used to
 * look at its timers first in each turn and probe the oldest chunk, whose
 * result was already queued. The client runs in a child process, the fake in
 * this one, so that only the client stops.
 */
START_TEST(reduce_takes_queued_results_before_its_timers)
{
	struct fake *f = fake_new();
	const size_t n = 4 * ELEMS;
	float x[4 * ELEMS], want[4 * ELEMS];
	int status;
	pid_t pid;

	f->hold = true;
	/*
	 * The fake's thread starts after the fork: a child forked while it held
	 * a lock (its mutex, the sanitizers' allocator) could never take it, and
	 * hung in its first malloc (one run in four under ASan).
	 */
	fake_open(f);
	fill(x, n, 71);
	memcpy(want, x, sizeof(x));
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct ainftp_client *c = OPEN(f, "rto_us", "20000", "rto_min_us", "20000",
					       "timeout_ms", "5000", NULL);
		struct ainftp_client_stats st;
		int rc = ainftp_allreduce(c, x, n, AINFTP_OP_SUM);

		ainftp_client_get_stats(c, &st);
		_exit(rc != 0 ? 1 : memcmp(x, want, sizeof(x)) != 0 ? 2 : st.probes != 0 ? 3 : 0);
	}
	fake_run(f);
	ck_assert(fake_wait(f, &f->data, 4));
	ck_assert_int_eq(kill(pid, SIGSTOP), 0);
	ck_assert_int_eq(waitpid(pid, &status, WUNTRACED), pid);
	ck_assert(WIFSTOPPED(status));
	fake_set_hold(f, false);
	ck_assert(fake_wait(f, &f->results, 4));
	usleep(60 * 1000); /* every chunk's timer (20 ms) has run out */
	ck_assert_int_eq(kill(pid, SIGCONT), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_msg(WEXITSTATUS(status) == 0,
		      "client exit %d (1: failed, 2: wrong sum, 3: probed)", WEXITSTATUS(status));
	ck_assert_uint_eq(fake_get(f, &f->probes), 0);
	ck_assert_uint_eq(fake_get(f, &f->data), 4);
	fake_free(f);
}
END_TEST

/*
 * The probe is the chunk sent first, also when one batch wraps around the
 * slots. With 4 slots and a window of 3, the results of chunks 0..2 come back
 * together; chunks 3, 4 and 5 then go out at once into slots 3, 0 and 1, and
 * nothing more comes back. Chunk 3 must be asked after: the other workers of
 * a job wait on it, and a probe of chunk 4 only (the first in slot order)
 * would never learn whether chunk 3 is lost (a deadlock seen in the lossy
 * end-to-end test). When a loaded machine splits the three results over two
 * reads, the path is not silent and each chunk times out on its own timer:
 * chunk 3 is probed then too, perhaps after another; so the test asks for a
 * probe of chunk 3 at all, which without the rule never happens. The fake
 * has the data (HAVE) until answer_below is raised; the next probe of
 * chunk 3 then gets its RESULT, as when the last peer's data arrives.
 */
START_TEST(reduce_probe_is_first_sent)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_req *r;
	const size_t n = 6 * ELEMS;
	float x[6 * ELEMS], want[6 * ELEMS];

	f->slots = 4;
	f->answer_below = 3;
	f->coalesce_us = 5000; /* the three results in one go, before any timeout */
	f->watch = 3;
	fake_start(f);
	c = OPEN(f, "window", "3", "rto_us", "100000", "rto_min_us", "1000", NULL);
	fill(x, n, 67);
	memcpy(want, x, sizeof(x));
	ck_assert_int_eq(ainftp_allreduce_start(c, x, n, AINFTP_OP_SUM, &r), 0);
	ck_assert_msg(fake_wait(f, &f->watch_probes, 1), "chunk 3 never probed");
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(f->new_chunks, 6);
	f->answer_below = UINT32_MAX;
	pthread_mutex_unlock(&f->mu);
	ck_assert_msg(ainftp_req_wait(r) == 0, "%s", ainftp_req_error(r));
	ainftp_req_free(r);
	ck_assert_bits_eq(x, want, n);
	ck_assert_uint_eq(fake_get(f, &f->resent), 0); /* the data was in all along */
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/*
 * int16 both ways: the fake returns the worker's integers with the exponent
 * raised by one (two equal contributions). Expected values from the library's
 * scalar quantizer and dequantizer.
 */
START_TEST(reduce_int16)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	const size_t n = 3 * ELEMS + 5, chunks = 4;
	float x[3 * ELEMS + 5], sum[3 * ELEMS + 5], mean[3 * ELEMS + 5];

	f->encoding = f->result_encoding = AINFTP_ENC_INT16;
	f->contributors = 2;
	fake_start(f);
	c = OPEN(f, NULL);
	fill(x, n, 50);
	for (size_t k = 0; k < chunks; k++) {
		float pad[ELEMS] = {0};
		int16_t q[ELEMS];
		int8_t e;
		size_t m = n - k * ELEMS < ELEMS ? n - k * ELEMS : ELEMS;

		memcpy(pad, x + k * ELEMS, m * sizeof(float));
		ck_assert_int_eq(ainftp_quant_scalar.quant_i16(pad, ELEMS, q, &e), 0);
		ainftp_dequant_i16(q, (uint32_t)m, e, mean + k * ELEMS);
		ainftp_dequant_i16(q, (uint32_t)m, (int8_t)(e + 1), sum + k * ELEMS);
		for (size_t i = 0; i < m; i++) /* the quantization bound, as a sanity check */
			ck_assert_float_le(fabsf(mean[k * ELEMS + i] - x[k * ELEMS + i]),
					   ldexpf(1.0f, e));
	}
	{
		float y[3 * ELEMS + 5];

		memcpy(y, x, sizeof(x));
		ck_assert_msg(ainftp_allreduce(c, y, n, AINFTP_OP_SUM) == 0, "%s",
			      ainftp_last_error());
		ck_assert_bits_eq(y, sum, n);
		memcpy(y, x, sizeof(x));
		ck_assert_msg(ainftp_allreduce(c, y, n, AINFTP_OP_MEAN) == 0, "%s",
			      ainftp_last_error());
		ck_assert_bits_eq(y, mean, n);
	}
	ck_assert_uint_eq(fake_get(f, &f->bad), 0);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/* int8 contributions, int16 results, summed by the appliance's own kernels. */
START_TEST(reduce_int8_to_int16)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	enum { E = 64 };
	const size_t n = 2 * E + 40, chunks = 3;
	float x[2 * E + 40], want[2 * E + 40], y[2 * E + 40];
	struct ainftp_acc acc;

	f->encoding = AINFTP_ENC_INT8;
	f->result_encoding = AINFTP_ENC_INT16;
	f->elems = E;
	f->contributors = 2;
	fake_start(f);
	c = OPEN(f, NULL);
	fill(x, n, 51);
	ainftp_acc_init(&acc, E, aligned_alloc(64, (ainftp_acc_size(E) + 63) / 64 * 64));
	for (size_t k = 0; k < chunks; k++) {
		float pad[E] = {0}, maxabs = 0;
		int8_t e[E / 32], q[E];
		int16_t r[E];
		int8_t re;
		size_t m = n - k * E < E ? n - k * E : E;

		memcpy(pad, x + k * E, m * sizeof(float));
		ck_assert_int_eq(ainftp_quant_scalar.quant_i8(pad, E, e, q), 0);
		ainftp_acc_reset(&acc);
		ainftp_quant_scalar.acc_i8(&acc, e, q);
		ainftp_quant_scalar.acc_i8(&acc, e, q);
		re = ainftp_quant_scalar.res_i16(&acc, r);
		ainftp_dequant_i16(r, (uint32_t)m, re, want + k * E);
		for (size_t i = 0; i < m; i++) {
			want[k * E + i] /= 2.0f;
			maxabs = fmaxf(maxabs, fabsf(pad[i]));
		}
		for (size_t i = 0; i < m; i++)
			ck_assert_float_le(fabsf(want[k * E + i] - pad[i]), ldexpf(maxabs, -5));
	}
	memcpy(y, x, sizeof(x));
	ck_assert_msg(ainftp_allreduce(c, y, n, AINFTP_OP_MEAN) == 0, "%s", ainftp_last_error());
	ck_assert_bits_eq(y, want, n);
	ck_assert_uint_eq(fake_get(f, &f->bad), 0);
	ainftp_client_close(c);
	fake_free(f);
	free(acc.acc);
}
END_TEST

/*
 * int8 contributions and int8 results (the appliance's res_i8), sum and mean,
 * the last chunk short (40 of 96 elements: its values still start after all
 * three block exponents), each value within half a unit of its block's exponent.
 */
START_TEST(reduce_int8_to_int8)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	enum { E = 96, N = 2 * E + 40 };
	const size_t n = N, chunks = 3;
	float x[N], sum[N], mean[N], y[N];
	struct ainftp_acc acc;

	f->encoding = f->result_encoding = AINFTP_ENC_INT8;
	f->elems = E;
	f->contributors = 3;
	fake_start(f);
	c = OPEN(f, NULL);
	fill(x, n, 52);
	ainftp_acc_init(&acc, E, aligned_alloc(64, (ainftp_acc_size(E) + 63) / 64 * 64));
	for (size_t k = 0; k < chunks; k++) {
		float pad[E] = {0}, c1[E];
		int8_t e[E / 32], q[E], r[E / 32 + E];
		size_t m = n - k * E < E ? n - k * E : E;

		memcpy(pad, x + k * E, m * sizeof(float));
		ck_assert_int_eq(ainftp_quant_scalar.quant_i8(pad, E, e, q), 0);
		ainftp_dequant_i8(e, q, E, c1);
		ainftp_acc_reset(&acc);
		for (int w = 0; w < 3; w++)
			ainftp_quant_scalar.acc_i8(&acc, e, q);
		ainftp_quant_scalar.res_i8(&acc, r, r + E / 32);
		ainftp_dequant_i8(r, r + E / 32, (uint32_t)m, sum + k * E);
		for (size_t i = 0; i < m; i++) {
			/* 3 x c1 is exact in double; the result within half its block's unit */
			ck_assert_double_le(fabs((double)sum[k * E + i] - 3.0 * c1[i]),
					    ldexp(1.0, r[i / 32] - 1));
			mean[k * E + i] = sum[k * E + i] / 3.0f;
		}
	}
	memcpy(y, x, sizeof(x));
	ck_assert_msg(ainftp_allreduce(c, y, n, AINFTP_OP_SUM) == 0, "%s", ainftp_last_error());
	ck_assert_bits_eq(y, sum, n);
	memcpy(y, x, sizeof(x));
	ck_assert_msg(ainftp_allreduce(c, y, n, AINFTP_OP_MEAN) == 0, "%s", ainftp_last_error());
	ck_assert_bits_eq(y, mean, n);
	ck_assert_uint_eq(fake_get(f, &f->bad), 0);
	ainftp_client_close(c);
	fake_free(f);
	free(acc.acc);
}
END_TEST

/* Three requests started at once: each right, steps first_step, +1, +2 in that order. */
START_TEST(reduce_async_steps)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	static const size_t sizes[3] = {5 * ELEMS + 3, 1, 11 * ELEMS};
	float *x[3], *want[3];
	struct ainftp_req *r[3];

	fake_start(f);
	c = OPEN(f, "first_step", "1000", NULL);
	for (int i = 0; i < 3; i++) {
		x[i] = guarded(sizes[i], 8);
		fill(x[i], sizes[i], 60 + (uint32_t)i);
		want[i] = copy_of(x[i], sizes[i]);
	}
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(ainftp_allreduce_start(c, x[i], sizes[i], AINFTP_OP_SUM, &r[i]),
				 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(ainftp_req_wait(r[i]) == 0, "request %d: %s", i,
			      ainftp_req_error(r[i]));
		ck_assert_int_eq(ainftp_req_test(r[i]), 1);
		ck_assert_str_eq(ainftp_req_error(r[i]), "");
		ainftp_req_free(r[i]);
		ck_assert_bits_eq(x[i], want[i], sizes[i]);
		check_guard(x[i], sizes[i], 8);
	}
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(f->nsteps, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(f->steps[i], 1000 + (uint32_t)i);
		ck_assert_uint_eq(f->step_chunks[i], (sizes[i] + ELEMS - 1) / ELEMS);
	}
	ck_assert_uint_eq(f->slot_violations, 0);
	ck_assert_uint_eq(f->stale, 0);
	pthread_mutex_unlock(&f->mu);
	/* The next one goes on from there. */
	run_float(f, ELEMS, AINFTP_OP_SUM, 63, c);
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(f->nsteps, 4);
	ck_assert_uint_eq(f->steps[3], 1003);
	pthread_mutex_unlock(&f->mu);
	ainftp_client_close(c);
	fake_free(f);
	for (int i = 0; i < 3; i++) {
		free(x[i]);
		free(want[i]);
	}
}
END_TEST

/* Two threads, one client: both right, two distinct steps. */
START_TEST(reduce_two_threads)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct call k[2];
	float x[2][7 * ELEMS], want[2][7 * ELEMS];

	fake_start(f);
	c = OPEN(f, "first_step", "70", NULL);
	for (int i = 0; i < 2; i++) {
		fill(x[i], 7 * ELEMS, 70 + (uint32_t)i);
		memcpy(want[i], x[i], sizeof(x[i]));
	}
	for (int i = 0; i < 2; i++)
		call_start(&k[i], c, x[i], 7 * ELEMS, AINFTP_OP_SUM);
	for (int i = 0; i < 2; i++) {
		ck_assert(call_join(&k[i], HANG_MS));
		ck_assert_msg(k[i].rc == 0, "%s", k[i].err);
		ck_assert_bits_eq(x[i], want[i], 7 * ELEMS);
	}
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(f->nsteps, 2);
	ck_assert_uint_eq(f->steps[0] + f->steps[1], 70 + 71);
	ck_assert_uint_eq(f->slot_violations, 0);
	pthread_mutex_unlock(&f->mu);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/* bind and bind_port: the DATA come from there, and local_port says so. */
START_TEST(reduce_bind_port)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	char port[16];
	uint16_t p;
	int fd;

	fake_start(f);
	fd = udp_socket(htonl(INADDR_LOOPBACK), 0);
	p = sock_port(fd);
	close(fd);
	snprintf(port, sizeof(port), "%u", p);
	c = OPEN(f, "bind_port", port, NULL);
	ck_assert_int_eq(ainftp_client_local_port(c), p);
	run_float(f, ELEMS, AINFTP_OP_SUM, 80, c);
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(ntohs(f->src.sin_port), p);
	ck_assert_uint_eq(ntohl(f->src.sin_addr.s_addr), INADDR_LOOPBACK);
	pthread_mutex_unlock(&f->mu);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/*
 * A worker address that is not on this host (TEST-NET-1, never assigned): the
 * open fails with the kernel's reason, the address, and what to do (the lab's
 * namespace, or cluster.json), not the kernel's words alone.
 */
START_TEST(fail_bind_not_on_host)
{
	struct fake *f = fake_new();
	struct ainftp_client *c = NULL;
	struct ainftp_opts *o;
	const char *msg;
	int rc;

	fake_start(f);
	o = fake_opts(f, "bind", "192.0.2.1", NULL);
	rc = ainftp_client_open(o, &c);
	ainftp_opts_free(o);
	msg = ainftp_last_error();
	ck_assert_msg(rc == AINFTP_E_SYSTEM && c == NULL, "got %d: %s", rc, msg);
	ck_assert_msg(strstr(msg, "bind 192.0.2.1:0: Cannot assign requested address: that address "
				  "is not on this host") == msg,
		      "message \"%s\"", msg);
	ck_assert_msg(strstr(msg, "ip netns exec") != NULL && strstr(msg, "scripts/lab.sh exec") &&
			      strstr(msg, "cluster.json's worker \"ipv4\""),
		      "message \"%s\"", msg);
	fake_free(f);
}
END_TEST

/* ------------------------------------------------------------ the join */

/* The HELLO: to the base port, the options' view of the job, a fresh nonce, tagged. */
START_TEST(join_hello_contents)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	uint64_t nonce;

	f->lanes = 2;
	f->slots = 16;
	fake_start(f);
	c = OPEN(f, NULL);
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(f->hellos, 1);
	ck_assert_int_eq(f->hello_lane, 0);
	ck_assert_uint_eq(f->hello.type, AINFTP_MSG_HELLO);
	ck_assert_uint_eq(f->hello.job, JOB);
	ck_assert_uint_eq(f->hello.worker, WORKER);
	ck_assert_uint_eq(f->hello.encoding, AINFTP_ENC_FLOAT32);
	ck_assert_uint_eq(f->hello.elems, ELEMS);
	ck_assert_uint_eq(f->hello.flags, AINFTP_F_AUTH);
	ck_assert_uint_eq(f->hello_len, 32 + AINFTP_BODY_LEN + AINFTP_TAG_LEN);
	ck_assert_msg(f->hello_tag_ok, "the HELLO's tag does not verify with the key");
	ck_assert_uint_eq(f->hello_info.slots, 16);
	ck_assert_uint_eq(f->hello_info.lanes, 2);
	ck_assert_uint_eq(f->hello_info.result_encoding, AINFTP_ENC_FLOAT32);
	ck_assert_uint_eq(f->hello_info.auth, AINFTP_HELLO_AUTH_DATA | AINFTP_HELLO_AUTH_POLYVAL);
	ck_assert_uint_eq(f->hello_info.status, 0);
	ck_assert_uint_eq(f->hello_info.step, 0);
	nonce = f->hello.bitmap;
	pthread_mutex_unlock(&f->mu);
	ainftp_client_close(c);
	/* Another open, another nonce: an old ack cannot answer a new HELLO. */
	c = OPEN(f, NULL);
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(f->hellos, 2);
	ck_assert_uint_ne(f->hello.bitmap, nonce);
	pthread_mutex_unlock(&f->mu);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/*
 * Each difference between the options and the appliance's job fails the
 * open with E_INVAL and a message naming the field and both values, before
 * any data is sent. The fake's job is the default one; the client's options
 * differ in one field. Without auth the job has no key and its ack no tag,
 * which a client with auth must still take (the auth row).
 */
static const struct {
	const char *option, *value;
	const char *said; /* what the message must hold */
} join_bad[] = {
	{"elems", "32", "elems_per_packet is 16 on the appliance, 32 here"},
	{"encoding", "int16", "encoding is float32 on the appliance, int16 here"},
	{"result_encoding", "int16", "result_encoding is float32 on the appliance, int16 here"},
	{"slots", "16", "slots is 8 on the appliance, 16 here"},
	{"lanes", "2", "lanes is 1 on the appliance, 2 here"},
	{"auth", NULL, "auth is false on the appliance, true here"},
};

START_TEST(join_mismatch)
{
	struct fake *f = fake_new();
	struct ainftp_client *c = (struct ainftp_client *)&f; /* not NULL: open must clear it */
	struct ainftp_opts *o;
	char quoted[32];
	int rc;

	if (join_bad[_i].value == NULL)
		f->auth = false;
	fake_start(f);
	o = fake_opts(f, NULL);
	if (join_bad[_i].value != NULL) {
		SET_OK(o, join_bad[_i].option, join_bad[_i].value);
	} else {
		SET_OK(o, "auth", "true");
		SET_OK(o, "key", KEY_HEX);
	}
	rc = ainftp_client_open(o, &c);
	ainftp_opts_free(o);
	ck_assert_msg(rc == AINFTP_E_INVAL, "got %d (%s): %s", rc, ainftp_status_name(rc),
		      ainftp_last_error());
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(ainftp_last_error(), "join:") != NULL &&
			      strstr(ainftp_last_error(), join_bad[_i].said) != NULL,
		      "want \"%s\" in \"%s\"", join_bad[_i].said, ainftp_last_error());
	snprintf(quoted, sizeof(quoted), "\"%s\"", join_bad[_i].option);
	ck_assert_msg(strstr(ainftp_last_error(), quoted) != NULL, "the option %s not in \"%s\"",
		      quoted, ainftp_last_error());
	assert_no_key(ainftp_last_error(), KEY_HEX);
	ck_assert_uint_eq(fake_get(f, &f->hellos), 1); /* answered at once: no HELLO again */
	ck_assert_uint_eq(fake_get(f, &f->data), 0);
	fake_free(f);
}
END_TEST

/* A job or a worker the appliance does not have: its untagged refusal names it. */
static const struct {
	const char *option, *value, *said;
} join_unknown[] = {
	{"job", "8", "no job 8 on port"},
	{"worker", "5", "worker 5 is not a worker of job 7"},
};

START_TEST(join_unknown_job_or_worker)
{
	struct fake *f = fake_new();
	struct ainftp_client *c = NULL;
	struct ainftp_opts *o;
	int rc;

	fake_start(f);
	o = fake_opts(f, join_unknown[_i].option, join_unknown[_i].value, NULL);
	rc = ainftp_client_open(o, &c);
	ainftp_opts_free(o);
	ck_assert_msg(rc == AINFTP_E_INVAL, "got %d (%s): %s", rc, ainftp_status_name(rc),
		      ainftp_last_error());
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(ainftp_last_error(), "join:") != NULL &&
			      strstr(ainftp_last_error(), join_unknown[_i].said) != NULL,
		      "want \"%s\" in \"%s\"", join_unknown[_i].said, ainftp_last_error());
	ck_assert_uint_eq(fake_get(f, &f->hellos), 1);
	fake_free(f);
}
END_TEST

/*
 * Untagged acks are taken only as refusals of the job or the worker (or of
 * auth by a job without it), and only with the HELLO's nonce; a tag that
 * does not verify, or an ack from another address, is ignored. Before the
 * genuine ack (OK, step 4242) the fake sends seven that would each fail the
 * open or start the client at step 5242 (fake_hello_forge).
 */
START_TEST(join_ignores_forged_acks)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_client_stats st;

	f->hello_forge = true;
	f->hello_step = 4242;
	fake_start(f);
	c = OPEN(f, NULL);
	run_float(f, 2 * ELEMS, AINFTP_OP_SUM, 100, c);
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(f->nsteps, 1);
	ck_assert_uint_eq(f->steps[0], 4242);
	pthread_mutex_unlock(&f->mu);
	stats_after(c, 1, &st);
	ck_assert_uint_eq(st.requests, 1);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/* No HELLO_ACK: open fails with E_TIMEOUT after timeout_ms, having asked more than once. */
START_TEST(join_timeout)
{
	struct fake *f = fake_new();
	struct ainftp_client *c = NULL;
	struct ainftp_opts *o;
	uint64_t t0, dt;
	int rc;

	f->hello_silent = true;
	fake_start(f);
	o = fake_opts(f, "timeout_ms", "500", NULL);
	t0 = now_ms();
	rc = ainftp_client_open(o, &c);
	dt = now_ms() - t0;
	ainftp_opts_free(o);
	ck_assert_msg(rc == AINFTP_E_TIMEOUT, "got %d (%s): %s", rc, ainftp_status_name(rc),
		      ainftp_last_error());
	ck_assert_ptr_null(c);
	ck_assert_msg(dt >= 450 && dt < HANG_MS, "returned after %" PRIu64 " ms", dt);
	ck_assert_msg(strstr(ainftp_last_error(), "join:") != NULL &&
			      strstr(ainftp_last_error(), "no HELLO_ACK") != NULL &&
			      strstr(ainftp_last_error(), "500 ms") != NULL,
		      "message \"%s\"", ainftp_last_error());
	assert_no_key(ainftp_last_error(), KEY_HEX);
	ck_assert_uint_ge(fake_get(f, &f->hellos), 2); /* a lost HELLO is sent again */
	ck_assert_uint_eq(fake_get(f, &f->data), 0);
	fake_free(f);
}
END_TEST

/*
 * The first request takes the step of the HELLO_ACK; the option first_step
 * overrides it (a fresh fake: on this one, step 5 would be behind the slots,
 * and STALE).
 */
START_TEST(join_step_from_ack)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;

	f->hello_step = 777;
	fake_start(f);
	c = OPEN(f, NULL);
	run_float(f, ELEMS, AINFTP_OP_SUM, 101, c);
	run_float(f, ELEMS, AINFTP_OP_SUM, 102, c);
	ainftp_client_close(c);
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(f->nsteps, 2);
	ck_assert_uint_eq(f->steps[0], 777);
	ck_assert_uint_eq(f->steps[1], 778);
	pthread_mutex_unlock(&f->mu);
	fake_free(f);

	f = fake_new();
	f->hello_step = 777;
	fake_start(f);
	c = OPEN(f, "first_step", "5", NULL);
	run_float(f, ELEMS, AINFTP_OP_SUM, 103, c);
	ainftp_client_close(c);
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(f->hellos, 1); /* first_step does not skip the join */
	ck_assert_uint_eq(f->nsteps, 1);
	ck_assert_uint_eq(f->steps[0], 5);
	pthread_mutex_unlock(&f->mu);
	fake_free(f);
}
END_TEST

/* ------------------------------------------------------------ v2: tags, probes, states */

/*
 * Before each genuine RESULT, from the appliance's own address: the RESULT
 * with a changed tag, its header and tag over another payload, and a STALE
 * STATE with a wrong tag. All three are dropped and counted in bad_tags; the
 * genuine RESULTs complete the request with exact values, nothing skipped.
 */
START_TEST(tags_forged_dropped)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_client_stats st;
	const size_t n = 5 * ELEMS;

	f->forge = true;
	f->contributors = 2;
	fake_start(f);
	c = OPEN(f, "rto_us", "500000", "rto_min_us", "500000", NULL);
	run_float(f, n, AINFTP_OP_SUM, 104, c);
	for (uint64_t end = now_ms() + WAIT_MS;; sleep_us(1000)) {
		stats_after(c, 1, &st);
		if (st.bad_tags >= 3 * 5 || now_ms() > end)
			break;
	}
	ck_assert_uint_eq(st.bad_tags, 3 * 5);
	ck_assert_uint_eq(st.results, 5);
	ck_assert_uint_eq(st.states, 0);
	ck_assert_uint_eq(st.chunks_skipped, 0);
	ck_assert_uint_eq(st.bad_packets, 0);
	ck_assert_uint_eq(st.dup_results, 0);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/*
 * The job went on without this worker for chunks 1 and 2 of its step 10: the
 * probes get STATE STALE with next_step 50. The request completes with
 * AINFTP_E_SKIPPED: chunks 1 and 2 keep their input, 0 and 3 hold the sum
 * (two contributions: twice the input). The client is not failed: its next
 * request starts at step 50 and completes.
 */
START_TEST(state_stale_skips)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_client_stats st;
	struct ainftp_req *r;
	const size_t n = 4 * ELEMS;
	float x[4 * ELEMS], in[4 * ELEMS];
	int rc;

	f->contributors = 2;
	f->hello_step = 10;
	f->stale_step = 10;
	f->stale_mask = 0x6;
	f->stale_next_step = 50;
	fake_start(f);
	c = OPEN(f, "rto_us", "2000", "rto_min_us", "1000", NULL);
	fill(x, n, 105);
	memcpy(in, x, sizeof(x));
	ck_assert_int_eq(ainftp_allreduce_start(c, x, n, AINFTP_OP_SUM, &r), 0);
	rc = ainftp_req_wait(r);
	ck_assert_msg(rc == AINFTP_E_SKIPPED, "got %d (%s): %s", rc, ainftp_status_name(rc),
		      ainftp_req_error(r));
	ck_assert_msg(strstr(ainftp_req_error(r), "step 10") != NULL &&
			      strstr(ainftp_req_error(r), "2 of 4 chunks") != NULL &&
			      strstr(ainftp_req_error(r), "step 50") != NULL,
		      "message \"%s\"", ainftp_req_error(r));
	ainftp_req_free(r);
	for (size_t i = 0; i < n; i++) {
		float want = i / ELEMS == 1 || i / ELEMS == 2 ? in[i] : in[i] * 2.0f;

		ck_assert_msg(memcmp(&x[i], &want, sizeof(want)) == 0,
			      "element %zu (chunk %zu): got %a, expected %a", i, i / ELEMS,
			      (double)x[i], (double)want);
	}
	stats_after(c, 1, &st);
	ck_assert_uint_eq(st.requests, 1);
	ck_assert_uint_eq(st.requests_skipped, 1);
	ck_assert_uint_eq(st.chunks_skipped, 2);
	ck_assert_uint_eq(st.chunks, 2);
	ck_assert_uint_ge(st.states, 2);
	ck_assert_uint_eq(st.retransmits, 0);
	/* Rejoined at the STATE's next_step. */
	run_float(f, 2 * ELEMS, AINFTP_OP_SUM, 106, c);
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_ge(f->reasons[AINFTP_STATE_STALE], 2);
	ck_assert_uint_eq(f->nsteps, 2);
	ck_assert_uint_eq(f->steps[0], 10);
	ck_assert_uint_eq(f->steps[1], 50);
	ck_assert_uint_eq(f->slot_violations, 0);
	pthread_mutex_unlock(&f->mu);
	stats_after(c, 2, &st);
	ck_assert_uint_eq(st.requests_skipped, 1);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/*
 * The appliance says the chunk's other workers are on another collective
 * (issue 18's finding 4): the request fails at once with AINFTP_E_MISMATCH
 * naming both sizes and operations, the client is failed after it, and what
 * it sent described its request (size and operation in every DATA and PROBE).
 */
START_TEST(state_mismatch_fails_naming_both)
{
	struct fake *f = fake_new();
	const size_t n = 2 * ELEMS + 5;
	struct ainftp_client *c;
	float x[2 * ELEMS + 5], in[2 * ELEMS + 5];
	char want_mine[64], want_other[64];
	int rc;

	f->answer_below = 0; /* the data is in; the chunk waits for peers on another collective */
	f->mismatch = ainftp_req_desc(3 * ELEMS, AINFTP_OP_MEAN);
	fake_start(f);
	c = OPEN(f, "rto_us", "2000", "rto_min_us", "1000", "timeout_ms", "3000", NULL);
	fill(x, n, 7);
	memcpy(in, x, sizeof(x));
	rc = ainftp_allreduce(c, x, n, AINFTP_OP_SUM);
	ck_assert_msg(rc == AINFTP_E_MISMATCH, "got %d (%s): %s", rc, ainftp_status_name(rc),
		      ainftp_last_error());
	snprintf(want_mine, sizeof(want_mine), "of %zu elements (sum)", n);
	snprintf(want_other, sizeof(want_other), "of %u elements (mean)", 3 * ELEMS);
	ck_assert_msg(strstr(ainftp_last_error(), want_mine) != NULL &&
			      strstr(ainftp_last_error(), want_other) != NULL &&
			      strstr(ainftp_last_error(), "same order") != NULL,
		      "message \"%s\"", ainftp_last_error());
	ck_assert_mem_eq(x, in, sizeof(x)); /* no result: the input as it was */
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(f->data_desc, ainftp_req_desc(n, AINFTP_OP_SUM));
	ck_assert_uint_eq(f->probe_desc, ainftp_req_desc(n, AINFTP_OP_SUM));
	ck_assert_uint_ge(f->reasons[AINFTP_STATE_MISMATCH], 1);
	pthread_mutex_unlock(&f->mu);
	rc = ainftp_allreduce(c, x, n, AINFTP_OP_SUM);
	ck_assert_msg(rc == AINFTP_E_FAILED && strstr(ainftp_last_error(), "collective") != NULL,
		      "got %d: %s", rc, ainftp_last_error());
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/*
 * Chunk 0's DATA is lost: its probe gets STATE MISSING and the client sends
 * the data again, exactly once (a probe after that finds it in or done).
 */
START_TEST(state_missing_resends_once)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_client_stats st;
	const size_t n = 3 * ELEMS;

	f->drop_first = 1;
	fake_start(f);
	c = OPEN(f, "rto_us", "2000", "rto_min_us", "1000", NULL);
	run_float(f, n, AINFTP_OP_SUM, 107, c);
	stats_after(c, 1, &st);
	ck_assert_uint_eq(st.retransmits, 1);
	ck_assert_uint_eq(st.packets_sent, 3 + 1);
	ck_assert_uint_ge(st.probes, 1);
	ck_assert_uint_ge(st.states, 1);
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_ge(f->reasons[AINFTP_STATE_MISSING], 1);
	ck_assert_uint_eq(f->resent, 1);
	ck_assert_uint_eq(f->first_resent, 0);
	ck_assert_uint_eq(f->data, 3 + 1);
	pthread_mutex_unlock(&f->mu);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/*
 * The appliance has the data and the chunk waits for others: probes get
 * STATE HAVE, and the client waits without sending the data again.
 */
START_TEST(state_have_no_resend)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_client_stats st;
	struct ainftp_req *r;
	const size_t n = 2 * ELEMS;
	float x[2 * ELEMS], want[2 * ELEMS];

	f->hold = true;
	fake_start(f);
	c = OPEN(f, "rto_us", "2000", "rto_min_us", "1000", NULL);
	fill(x, n, 108);
	memcpy(want, x, sizeof(x));
	ck_assert_int_eq(ainftp_allreduce_start(c, x, n, AINFTP_OP_SUM, &r), 0);
	ck_assert(fake_wait(f, &f->reasons[AINFTP_STATE_HAVE], 3));
	ck_assert_uint_eq(fake_get(f, &f->data), 2);
	fake_set_hold(f, false);
	ck_assert_msg(ainftp_req_wait(r) == 0, "%s", ainftp_req_error(r));
	ainftp_req_free(r);
	ck_assert_bits_eq(x, want, n);
	stats_after(c, 1, &st);
	ck_assert_uint_eq(st.retransmits, 0);
	ck_assert_uint_ge(st.states, 3);
	ck_assert_uint_eq(st.chunks_skipped, 0);
	ck_assert_uint_eq(fake_get(f, &f->data), 2);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/*
 * The RESULTs of chunks 0 and 1 are lost on the way back: their probes get
 * the RESULT the appliance kept, which completes them; no data is sent again.
 */
START_TEST(probe_gets_kept_result)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_client_stats st;
	const size_t n = 3 * ELEMS;

	f->drop_results = 2;
	f->contributors = 3;
	fake_start(f);
	c = OPEN(f, "rto_us", "2000", "rto_min_us", "1000", NULL);
	run_float(f, n, AINFTP_OP_SUM, 109, c);
	stats_after(c, 1, &st);
	ck_assert_uint_eq(st.retransmits, 0);
	ck_assert_uint_ge(st.probes, 2);
	ck_assert_uint_eq(st.results, 3);
	ck_assert_uint_eq(st.chunks, 3);
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(f->results_lost, 2);
	ck_assert_uint_ge(f->probe_results, 2);
	ck_assert_uint_eq(f->data, 3);
	pthread_mutex_unlock(&f->mu);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/* ------------------------------------------------------------ heartbeats */

static const bool hb_auth[] = {true, false};

START_TEST(heartbeat_ack)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_client_stats st;
	const uint64_t bitmap = UINT64_C(0x8000000000000009);
	uint64_t end;

	f->auth = hb_auth[_i];
	fake_start(f);
	c = OPEN(f, NULL);
	/* Another job's heartbeat first: it must not be answered. */
	fake_heartbeat(f, (uint16_t)ainftp_client_local_port(c), JOB + 1, 1, 1, 1);
	fake_heartbeat(f, (uint16_t)ainftp_client_local_port(c), JOB, 0xdeadbeef, 77, bitmap);
	ck_assert(fake_wait(f, &f->acks, 1));
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(f->acks, 1);
	ck_assert_uint_eq(f->ack.type, AINFTP_MSG_HEARTBEAT_ACK);
	ck_assert_uint_eq(f->ack.job, JOB);
	ck_assert_uint_eq(f->ack.worker, WORKER);
	ck_assert_uint_eq(f->ack.step, 0xdeadbeef);
	ck_assert_uint_eq(f->ack.chunk, 77);
	ck_assert_uint_eq(f->ack.bitmap, bitmap);
	if (f->auth) {
		ck_assert_uint_eq(f->ack.flags & AINFTP_F_AUTH, AINFTP_F_AUTH);
		ck_assert_uint_eq(f->ack_len, 32 + AINFTP_TAG_LEN);
		ck_assert_msg(f->ack_tag_ok, "the ACK's tag does not verify with the key");
	} else {
		ck_assert_uint_eq(f->ack.flags & AINFTP_F_AUTH, 0);
		ck_assert_uint_eq(f->ack_len, 32);
	}
	pthread_mutex_unlock(&f->mu);
	for (end = now_ms() + WAIT_MS;; sleep_us(1000)) {
		ck_assert_int_eq(ainftp_client_get_stats(c, &st), 0);
		if ((st.heartbeats >= 1 && st.bad_packets >= 1) || now_ms() > end)
			break;
	}
	ck_assert_uint_eq(st.heartbeats, 1);
	ck_assert_uint_eq(st.bad_packets, 1); /* the other job's */
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/* ------------------------------------------------------------ statistics */

START_TEST(stats_consistent)
{
	struct fake *f = fake_new();
	struct ainftp_client *c;
	struct ainftp_client_stats st;
	const uint64_t chunks = 20, pkt = 32 + 4 * ELEMS + AINFTP_TAG_LEN;

	fake_start(f);
	c = OPEN(f, "rto_us", "500000", "rto_min_us", "400000", "rto_max_us", "900000", NULL);
	ck_assert_int_eq(ainftp_client_get_stats(c, &st), 0);
	ck_assert_uint_eq(st.requests, 0);
	ck_assert_uint_eq(st.packets_sent, 0);
	run_float(f, chunks * ELEMS - 3, AINFTP_OP_SUM, 90, c);
	run_float(f, 1, AINFTP_OP_SUM, 91, c);
	stats_after(c, 2, &st);
	pthread_mutex_lock(&f->mu);
	ck_assert_uint_eq(st.requests, 2);
	ck_assert_uint_eq(st.chunks, chunks + 1);
	ck_assert_uint_eq(st.results, chunks + 1);
	ck_assert_uint_eq(st.packets_sent, chunks + 1);
	ck_assert_uint_eq(st.packets_sent, f->data);
	ck_assert_uint_eq(st.retransmits, 0);
	ck_assert_uint_eq(st.dup_results, 0);
	ck_assert_uint_eq(st.bad_packets, 0);
	ck_assert_uint_eq(st.heartbeats, 0);
	ck_assert_uint_eq(st.probes, 0);
	ck_assert_uint_eq(st.states, 0);
	ck_assert_uint_eq(st.chunks_skipped, 0);
	ck_assert_uint_eq(st.requests_skipped, 0);
	ck_assert_uint_eq(st.bad_tags, 0);
	ck_assert_uint_eq(st.bytes_sent, (chunks + 1) * pkt);
	ck_assert_uint_eq(st.bytes_sent, f->bytes_in);
	/* RESULTs' header and payload: their tags are not counted. */
	ck_assert_uint_eq(st.bytes_received, (chunks + 1) * (32 + 4 * ELEMS));
	ck_assert_uint_eq(f->results, chunks + 1);
	ck_assert_uint_ge(st.rto_us, 400000);
	ck_assert_uint_le(st.rto_us, 900000);
	pthread_mutex_unlock(&f->mu);
	ainftp_client_close(c);
	fake_free(f);
}
END_TEST

/* ------------------------------------------------------------ shards */

#define SHARDS "127.0.0.1,127.0.0.3"

/*
 * A job over two boxes on one port: box 0 at 127.0.0.1, box 1 at 127.0.0.3
 * (127.0.0.2 is the fakes' noise), with steps of their own (10, 20). Box 1
 * sums three copies for workers 3..5, so a chunk summed on the wrong box
 * shows in the result and in its bitmap. box1_shard: where box 1 thinks it is.
 */
static void
shard_fakes(struct fake *f[2], uint8_t box1_shard)
{
	f[0] = fake_new();
	f[1] = fake_new();
	f[0]->shards = f[1]->shards = 2;
	f[1]->shard = box1_shard;
	f[1]->addr = htonl(0x7f000003);
	f[0]->hello_step = 10;
	f[1]->hello_step = 20;
	f[1]->contributors = 3;
	f[1]->bitmap = 0x38;
	fake_start(f[0]);
	f[1]->want_port = f[0]->port;
	fake_start(f[1]);
}

START_TEST(opts_appliance_list)
{
	struct ainftp_opts *o = ainftp_opts_new();

	SET_OK(o, "appliance", SHARDS ",10.0.0.9");
	ck_assert(o->has_appliance);
	ck_assert_uint_eq(o->shards, 3);
	ck_assert_uint_eq(o->appliances[0], htonl(0x7f000001));
	ck_assert_uint_eq(o->appliances[1], htonl(0x7f000003));
	ck_assert_uint_eq(o->appliances[2], htonl(0x0a000009));
	ck_assert_uint_eq(o->appliance, o->appliances[0]);
	/* A bad list leaves the one before. */
	ck_assert_int_eq(ainftp_opts_set(o, "appliance", "10.0.0.1,10.0.0.1"), AINFTP_E_INVAL);
	ck_assert_uint_eq(o->shards, 3);
	SET_OK(o, "appliance", "10.0.0.7");
	ck_assert_uint_eq(o->shards, 1);
	ck_assert_uint_eq(o->appliance, htonl(0x0a000007));
	ainftp_opts_free(o);
}
END_TEST

/* A job's "appliances" in the worker's cluster.json: every box, in the file's order. */
START_TEST(cluster_fills_shards)
{
	static const char json[] =
		"{\"appliance\":{\"ipv4\":\"198.18.0.2\"},\"ports\":[{\"device\":\"net_ring0\"}],"
		"\"lcores\":{\"control\":0,\"rx\":[{\"lcore\":1,\"port\":0,\"queue\":0}]},"
		"\"jobs\":[{\"id\":4,\"elems_per_packet\":256,\"encoding\":\"int16\","
		"\"appliances\":[\"198.18.0.5\",\"198.18.0.2\"],"
		"\"workers\":[{\"id\":0,\"ipv4\":\"198.18.0.11\",\"key\":\"" KEY_HEX "\"}]}]}";
	char path[] = "/tmp/ainftp-test-shards-XXXXXX";
	struct ainftp_opts *o = ainftp_opts_new();
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, json, sizeof(json) - 1), (ssize_t)sizeof(json) - 1);
	close(fd);
	ck_assert_msg(ainftp_opts_from_cluster(o, path, 4, 0) == 0, "%s", ainftp_last_error());
	unlink(path);
	ck_assert_uint_eq(o->shards, 2);
	ck_assert_uint_eq(o->appliances[0], htonl(0xc6120005));
	ck_assert_uint_eq(o->appliances[1], htonl(0xc6120002));
	ck_assert_uint_eq(o->appliance, o->appliances[0]);
	ainftp_opts_free(o);
}
END_TEST

/*
 * The shard rule: of k chunks, box 0 owns the first floor(k/2), box 1 the
 * rest; under two chunks box 0 gets no request at all.
 * Sizes: one element, a chunk and one (a short last chunk on box 1), exact
 * multiples with an odd and an even count, and a short last chunk after 5.
 */
static const size_t shard_sizes[] = {1, ELEMS + 1, 3 * ELEMS, 8 * ELEMS, 5 * ELEMS + 3};

START_TEST(shard_split)
{
	const size_t n = shard_sizes[_i], k = (n + ELEMS - 1) / ELEMS, first1 = k / 2;
	float *x = guarded(n, 2 * ELEMS), *want = malloc(n * sizeof(float));
	uint64_t *bm = calloc(k + 1, sizeof(*bm));
	struct ainftp_client_stats st;
	struct ainftp_client *c;
	struct ainftp_req *r;
	struct fake *f[2];
	uint32_t step;

	ck_assert(want != NULL && bm != NULL);
	shard_fakes(f, 1);
	c = OPEN(f[0], "appliance", SHARDS, NULL);
	fill(x, n, 70 + (uint32_t)_i);
	for (size_t i = 0; i < n; i++)
		want[i] = i / ELEMS >= first1 ? x[i] * 3.0f : x[i];
	ck_assert_int_eq(ainftp_allreduce_start(c, x, n, AINFTP_OP_SUM, &r), 0);
	ck_assert_msg(ainftp_req_wait(r) == 0, "%s", ainftp_last_error());
	ck_assert_int_eq(ainftp_req_test(r), 1);
	ck_assert_str_eq(ainftp_req_error(r), "");
	ck_assert_bits_eq(x, want, n);
	check_guard(x, n, 2 * ELEMS);
	/* Each chunk's contributors at its place in the request; nothing past the room given. */
	bm[k] = 0xdead;
	ck_assert_int_eq(ainftp_req_info(r, &step, bm, k), 0);
	for (size_t j = 0; j < k; j++)
		ck_assert_uint_eq(bm[j], j >= first1 ? 0x38 : UINT64_C(1) << WORKER);
	ck_assert_uint_eq(bm[k], 0xdead);
	ck_assert_uint_eq(step, 20); /* the last box's: it has a part of every request */
	ainftp_req_free(r);
	ck_assert_int_eq(ainftp_client_next_step(c, &step), 0);
	ck_assert_uint_eq(step, 21);
	ck_assert_uint_eq(fake_get(f[0], &f[0]->new_chunks), first1);
	ck_assert_uint_eq(fake_get(f[1], &f[1]->new_chunks), k - first1);
	pthread_mutex_lock(&f[0]->mu);
	/* Box 0 said step 10, box 1 20: the job is at 20, and so is box 0's part. */
	ck_assert_uint_eq(f[0]->nsteps, first1 > 0 ? 1 : 0);
	if (first1 > 0)
		ck_assert_uint_eq(f[0]->steps[0], 20);
	ck_assert_uint_eq(f[0]->hello_info.shard, 0);
	ck_assert_uint_eq(f[0]->hello_info.shards, 2);
	pthread_mutex_unlock(&f[0]->mu);
	pthread_mutex_lock(&f[1]->mu);
	ck_assert_uint_eq(f[1]->nsteps, 1);
	ck_assert_uint_eq(f[1]->steps[0], 20);
	ck_assert_uint_eq(f[1]->hello_info.shard, 1);
	ck_assert_uint_eq(f[1]->hello_info.shards, 2);
	pthread_mutex_unlock(&f[1]->mu);
	/* Counters summed over the boxes; requests counted once. */
	stats_after(c, 1, &st);
	ck_assert_uint_eq(st.requests, 1);
	ck_assert_uint_eq(st.chunks, k);
	ck_assert_uint_eq(st.results, k);
	ainftp_client_close(c);
	fake_free(f[0]);
	fake_free(f[1]);
	free(x);
	free(want);
	free(bm);
}
END_TEST

/*
 * A box that stops answering fails the request with a timeout that names it;
 * after that no box takes a part of a new request (E_FAILED, naming it).
 */
START_TEST(shard_box_silent)
{
	float x[4 * ELEMS];
	struct ainftp_client *c;
	struct fake *f[2];
	int rc;

	shard_fakes(f, 1);
	pthread_mutex_lock(&f[1]->mu);
	f[1]->silent = true;
	pthread_mutex_unlock(&f[1]->mu);
	c = OPEN(f[0], "appliance", SHARDS, "timeout_ms", "500", NULL);
	fill(x, 4 * ELEMS, 80);
	rc = ainftp_allreduce(c, x, 4 * ELEMS, AINFTP_OP_SUM);
	ck_assert_msg(rc == AINFTP_E_TIMEOUT, "got %d: %s", rc, ainftp_last_error());
	ck_assert_msg(strstr(ainftp_last_error(), "appliance 127.0.0.3 (shard 1 of 2): timeout") !=
			      NULL,
		      "message \"%s\"", ainftp_last_error());
	ck_assert_uint_eq(fake_get(f[0], &f[0]->new_chunks), 2);
	rc = ainftp_allreduce(c, x, 4 * ELEMS, AINFTP_OP_SUM);
	ck_assert_msg(rc == AINFTP_E_FAILED, "got %d: %s", rc, ainftp_last_error());
	ck_assert_ptr_nonnull(strstr(ainftp_last_error(), "appliance 127.0.0.3 (shard 1 of 2)"));
	ck_assert_uint_eq(fake_get(f[0], &f[0]->new_chunks), 2);
	ainftp_client_close(c);
	fake_free(f[0]);
	fake_free(f[1]);
}
END_TEST

/*
 * A request is complete only when every box is done with its part: box 0
 * fails first (silent), box 1 answers slowly; the wait returns the failure
 * only once box 1's part is in, and box 1's elements hold its results.
 */
START_TEST(shard_wait_for_every_part)
{
	float x[4 * ELEMS], want[4 * ELEMS];
	struct ainftp_client *c;
	struct ainftp_req *r;
	struct fake *f[2];
	uint64_t bm[4];
	uint32_t step;
	int rc;

	shard_fakes(f, 1);
	pthread_mutex_lock(&f[0]->mu);
	f[0]->silent = true;
	pthread_mutex_unlock(&f[0]->mu);
	pthread_mutex_lock(&f[1]->mu);
	f[1]->delay_us = 250000;
	pthread_mutex_unlock(&f[1]->mu);
	c = OPEN(f[0], "appliance", SHARDS, "timeout_ms", "300", NULL);
	fill(x, 4 * ELEMS, 90);
	for (int i = 0; i < 4 * ELEMS; i++)
		want[i] = i >= 2 * ELEMS ? x[i] * 3.0f : x[i];
	ck_assert_int_eq(ainftp_allreduce_start(c, x, 4 * ELEMS, AINFTP_OP_SUM, &r), 0);
	rc = ainftp_req_wait(r);
	ck_assert_msg(rc == AINFTP_E_TIMEOUT, "got %d: %s", rc, ainftp_last_error());
	ck_assert_int_eq(ainftp_req_test(r), 1);
	ck_assert_ptr_nonnull(strstr(ainftp_req_error(r), "appliance 127.0.0.1 (shard 0 of 2)"));
	ck_assert_int_eq(ainftp_req_info(r, &step, bm, 4), 0);
	ck_assert_uint_eq(bm[2], 0x38);
	ck_assert_uint_eq(bm[3], 0x38);
	ck_assert_bits_eq(x + 2 * ELEMS, want + 2 * ELEMS, 2 * ELEMS);
	ainftp_req_free(r);
	ainftp_client_close(c);
	fake_free(f[0]);
	fake_free(f[1]);
}
END_TEST

/*
 * Every box numbers the job's requests alike: a request with no chunk on box
 * 0 still takes its step there (box 0 sees nothing of it), so the next
 * request's parts are the same step on both boxes.
 */
START_TEST(shard_steps_align)
{
	float one[2] = {1.5f, 2.5f}, x[4 * ELEMS];
	struct ainftp_client *c;
	struct ainftp_req *r[3];
	struct fake *f[2];
	uint32_t step;

	shard_fakes(f, 1);
	/* Box 1 answers slowly: the third request is queued before box 1 starts the second. */
	pthread_mutex_lock(&f[1]->mu);
	f[1]->delay_us = 100000;
	pthread_mutex_unlock(&f[1]->mu);
	c = OPEN(f[0], "appliance", SHARDS, NULL);
	fill(x, 4 * ELEMS, 95);
	ck_assert_int_eq(ainftp_allreduce_start(c, &one[0], 1, AINFTP_OP_SUM, &r[0]), 0);
	ck_assert_int_eq(ainftp_allreduce_start(c, &one[1], 1, AINFTP_OP_SUM, &r[1]), 0);
	ck_assert_int_eq(ainftp_allreduce_start(c, x, 4 * ELEMS, AINFTP_OP_SUM, &r[2]), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(ainftp_req_wait(r[i]) == 0, "%s", ainftp_last_error());
		ck_assert_int_eq(ainftp_req_info(r[i], &step, NULL, 0), 0);
		ck_assert_uint_eq(step, 20 + (uint32_t)i);
		ainftp_req_free(r[i]);
	}
	ck_assert_float_eq(one[0], 4.5f);
	ck_assert_float_eq(one[1], 7.5f);
	ck_assert_int_eq(ainftp_client_next_step(c, &step), 0);
	ck_assert_uint_eq(step, 23);
	pthread_mutex_lock(&f[0]->mu);
	ck_assert_uint_eq(f[0]->nsteps, 1);
	ck_assert_uint_eq(f[0]->steps[0], 22);
	pthread_mutex_unlock(&f[0]->mu);
	pthread_mutex_lock(&f[1]->mu);
	ck_assert_uint_eq(f[1]->nsteps, 3);
	ck_assert_uint_eq(f[1]->steps[2], 22);
	pthread_mutex_unlock(&f[1]->mu);
	ainftp_client_close(c);
	fake_free(f[0]);
	fake_free(f[1]);
}
END_TEST

/* Views of the split that differ fail the join, naming the box and both views. */
START_TEST(shard_join_mismatch)
{
	struct ainftp_client *c = NULL;
	struct ainftp_opts *o;
	struct fake *f[2];
	int rc;

	shard_fakes(f, 0);
	o = fake_opts(f[0], "appliance", SHARDS, NULL);
	rc = ainftp_client_open(o, &c);
	ainftp_opts_free(o);
	ck_assert_msg(rc == AINFTP_E_INVAL, "got %d: %s", rc, ainftp_last_error());
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(ainftp_last_error(),
			     "appliance 127.0.0.3 (shard 1 of 2): join: box 127.0.0.3 is shard 1 "
			     "of 2 here, the box says shard 0 of 2: the cluster.json files "
			     "differ") != NULL,
		      "message \"%s\"", ainftp_last_error());
	ck_assert_uint_eq(fake_get(f[0], &f[0]->hellos), 1);
	ck_assert_uint_eq(fake_get(f[1], &f[1]->hellos), 1);
	/* A worker that thinks box 0 is the job's only box. */
	o = fake_opts(f[0], NULL);
	rc = ainftp_client_open(o, &c);
	ainftp_opts_free(o);
	ck_assert_int_eq(rc, AINFTP_E_INVAL);
	ck_assert_msg(strstr(ainftp_last_error(), "join: box 127.0.0.1 is shard 0 of 1 here, the "
						  "box says shard 0 of 2") != NULL,
		      "message \"%s\"", ainftp_last_error());
	/* Box 1 would bind port 65536: refused before any box is asked. */
	o = fake_opts(f[0], "appliance", SHARDS, "bind_port", "65535", NULL);
	rc = ainftp_client_open(o, &c);
	ainftp_opts_free(o);
	ck_assert_int_eq(rc, AINFTP_E_INVAL);
	ck_assert_msg(strncmp(ainftp_last_error(), "option \"bind_port\"", 18) == 0,
		      "message \"%s\"", ainftp_last_error());
	ck_assert_uint_eq(fake_get(f[0], &f[0]->hellos), 2);
	/* Box 1 from before shards answers OK as the job's only box: not joined either. */
	f[1]->shard = 1;
	f[1]->pre_shards = true;
	o = fake_opts(f[0], "appliance", SHARDS, NULL);
	rc = ainftp_client_open(o, &c);
	ainftp_opts_free(o);
	ck_assert_int_eq(rc, AINFTP_E_INVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(ainftp_last_error(),
			     "is shard 1 of 2 here, the box says shard 0 of 1") != NULL,
		      "message \"%s\"", ainftp_last_error());
	fake_free(f[0]);
	fake_free(f[1]);
}
END_TEST

/* ------------------------------------------------------------ suite */

static Suite *
client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *opts = tcase_create("options");
	TCase *cluster = tcase_create("cluster");
	TCase *misuse = tcase_create("misuse");
	TCase *fail = tcase_create("failures");
	TCase *reduce = tcase_create("reduce");
	TCase *hb = tcase_create("heartbeat");
	TCase *stats = tcase_create("stats");
	TCase *join = tcase_create("join");
	TCase *v2 = tcase_create("v2");
	TCase *shards = tcase_create("shards");
	TCase *all[] = {opts, cluster, misuse, fail, reduce, hb, stats, join, v2, shards};

	tcase_add_test(opts, opts_unknown_name);
	tcase_add_loop_test(opts, opts_bad_value, 0, sizeof(bad_values) / sizeof(bad_values[0]));
	tcase_add_loop_test(opts, opts_good_value, 0, sizeof(good_values) / sizeof(good_values[0]));
	tcase_add_loop_test(opts, open_missing_required, 0, sizeof(required) / sizeof(required[0]));
	tcase_add_test(opts, open_complete_and_without_key);
	tcase_add_loop_test(opts, open_inconsistent, 0, sizeof(open_bad) / sizeof(open_bad[0]));
	tcase_add_test(opts, key_never_in_messages);
	tcase_add_test(opts, rejected_key_keeps_options_sane);

	tcase_add_test(cluster, cluster_fills_options);
	tcase_add_test(cluster, cluster_job_runs);
	tcase_add_test(cluster, cluster_missing_file);
	tcase_add_test(cluster, cluster_unknown_job_or_worker);

	tcase_add_test(misuse, misuse_arguments);
	tcase_add_test(misuse, misuse_misaligned);
	tcase_add_test(misuse, misuse_status_names);
	tcase_add_loop_test(misuse, misuse_nonfinite, 0, sizeof(nonfinite) / sizeof(nonfinite[0]));

	tcase_add_test(fail, fail_unreachable);
	tcase_add_test(fail, fail_silent_timeout);
	tcase_add_test(fail, fail_then_refuses_new_requests);
	tcase_add_test(fail, fail_close_with_pending);
	tcase_add_test(fail, fail_close_wakes_waiter);
	tcase_add_test(fail, fail_nan_after_start);
	tcase_add_test(fail, fail_overflow_flag);
	tcase_add_test(fail, fail_timeout_is_silence);
	tcase_add_test(fail, fail_bind_not_on_host);

	tcase_add_loop_test(reduce, reduce_float32, 0,
			    sizeof(float_cases) / sizeof(float_cases[0]));
	tcase_add_test(reduce, reduce_mean_exact);
	tcase_add_loop_test(reduce, reduce_partial_chunk, 0,
			    sizeof(odd_sizes) / sizeof(odd_sizes[0]));
	tcase_add_test(reduce, xdp_falls_back_to_udp_with_one_line);
	tcase_add_test(reduce, reduce_learns_the_jobs_mac_at_join);
	tcase_add_loop_test(reduce, reduce_many_chunks, 0,
			    sizeof(gso_modes) / sizeof(gso_modes[0]));
	tcase_add_loop_test(reduce, reduce_window, 0, sizeof(windows) / sizeof(windows[0]));
	tcase_add_loop_test(reduce, reduce_lanes, 0, 2);
	tcase_add_test(reduce, reduce_no_auth);
	tcase_add_test(reduce, reduce_drops_retransmit);
	tcase_add_test(reduce, reduce_dup_results);
	tcase_add_test(reduce, reduce_ignores_noise);
	tcase_add_test(reduce, reduce_slow_appliance);
	tcase_add_test(reduce, reduce_silence_sends_one_probe);
	tcase_add_test(reduce, reduce_takes_queued_results_before_its_timers);
	tcase_add_test(reduce, reduce_probe_is_first_sent);
	tcase_add_test(reduce, reduce_int16);
	tcase_add_test(reduce, reduce_int8_to_int16);
	tcase_add_test(reduce, reduce_int8_to_int8);
	tcase_add_test(reduce, reduce_async_steps);
	tcase_add_test(reduce, reduce_two_threads);
	tcase_add_test(reduce, reduce_bind_port);

	tcase_add_loop_test(hb, heartbeat_ack, 0, sizeof(hb_auth) / sizeof(hb_auth[0]));

	tcase_add_test(stats, stats_consistent);

	tcase_add_test(join, join_hello_contents);
	tcase_add_loop_test(join, join_mismatch, 0, sizeof(join_bad) / sizeof(join_bad[0]));
	tcase_add_loop_test(join, join_unknown_job_or_worker, 0,
			    sizeof(join_unknown) / sizeof(join_unknown[0]));
	tcase_add_test(join, join_ignores_forged_acks);
	tcase_add_test(join, join_timeout);
	tcase_add_test(join, join_step_from_ack);

	tcase_add_test(v2, tags_forged_dropped);
	tcase_add_test(v2, state_stale_skips);
	tcase_add_test(v2, state_mismatch_fails_naming_both);
	tcase_add_test(v2, state_missing_resends_once);
	tcase_add_test(v2, state_have_no_resend);
	tcase_add_test(v2, probe_gets_kept_result);

	tcase_add_test(shards, opts_appliance_list);
	tcase_add_test(shards, cluster_fills_shards);
	tcase_add_loop_test(shards, shard_split, 0, sizeof(shard_sizes) / sizeof(shard_sizes[0]));
	tcase_add_test(shards, shard_box_silent);
	tcase_add_test(shards, shard_wait_for_every_part);
	tcase_add_test(shards, shard_steps_align);
	tcase_add_test(shards, shard_join_mismatch);

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		/* Generous for sanitizers on a loaded machine; a hang still ends. */
		tcase_set_timeout(all[i], 30);
		suite_add_tcase(s, all[i]);
	}
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(client_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
