/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Emulated workers (ainftp_emu.h). Two ring ethdevs are cross-connected: the
 * appliance's side ("net_ring_emu_app") takes the place of the job's port, and
 * the workers' side ("net_ring_emu_wrk") is driven by one lcore that runs every
 * worker of the job:
 *
 *   worker TX queue k --(w2a ring k)--> appliance RX queue k    (k: lane, L of them)
 *   worker RX queue q <--(a2w ring q)-- appliance TX queue q    (q: one per sending lcore)
 *
 * Each worker streams its chunks with a window, retransmits on timeout and
 * checks every result bit for bit against a reference computed here from the
 * same quantized integers, without the library's accumulator.
 */

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "ainftp_dp.h"
#include "ainftp_dp_view.h" /* ainftp_dp_slots_busy */
#include "ainftp_emu.h"
#include "ainftp_net.h"
#include "ainftp_log.h"
#include "ainftp_proto.h"
#include "ainftp_quant.h"

#define EMU_BURST 32
#define EMU_RING_SIZE 4096	/* at least; more when workers x window need it */
#define EMU_RING_SIZE_MAX 65536 /* beyond, a full ring drops and retransmission recovers */
#define EMU_POOL_CACHE 256
#define EMU_HOLD_MAX 64 /* reordered packets held back per lane / on receive */
#define EMU_DEFAULT_TIMEOUT_US                                            \
	2000 /* when the conf says 0; raised to about 2 RTT once measured \
	      */
#define EMU_RTO_CAP_US 1000000
/* A chunk's timeout doubles at each retransmission, up to this many times its first. */
#define EMU_BACKOFF_MAX 4
#define EMU_RESEND_PER_PASS 256
#define EMU_SEND_PER_PASS 64
#define EMU_WORKER_UDP_BASE 40000
#define EMU_WORKER_MAC_BASE 16
#define EMU_NONE UINT32_MAX
#define EMU_HDRS_LEN                                                                    \
	(RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr) + \
	 sizeof(struct ainftp_hdr))
#define EMU_APP_NAME "emu_app"
#define EMU_WRK_NAME "emu_wrk"

__extension__ typedef __int128 emu_i128;

/* One chunk a worker sent and has no result for yet. */
struct emu_out {
	uint64_t g;	    /* chunk number over the whole run */
	uint64_t deadline;  /* next retransmission */
	uint64_t rto;	    /* current timeout, cycles */
	uint64_t first_rto; /* the first, which backoff multiplies */
	uint32_t slot;
	uint32_t tries;	       /* retransmissions so far */
	struct rte_mbuf *keep; /* the frame as built, never sent: copies of it are */
};

struct emu_worker {
	uint16_t id;
	uint16_t udp_port; /* host order */
	uint32_t ipv4;	   /* network order */
	struct rte_ether_addr mac;
	struct ainftp_mac_key mk; /* derived from the worker's key once */
	uint64_t next_g;	  /* next chunk to send for the first time */
	uint64_t received;	  /* distinct results taken */
	/* The killed worker: dead until dead_until; then listening (resuming) for a step to
	 * rejoin at; then gated: it sends a chunk once the result of the chunk before it on
	 * its slot has come (it was not there to see the slot's history). */
	bool dead, resuming, gated;
	uint64_t dead_until;
	uint32_t n_out;
	uint32_t *slot_out;  /* per slot: index into out[], or EMU_NONE */
	struct emu_out *out; /* W entries, packed */
};

/* The reference result of one chunk, kept while workers take their copies. */
struct emu_ref {
	uint64_t g;	 /* UINT64_MAX: empty */
	uint64_t bitmap; /* the contributors it sums */
	int8_t exp;	 /* int16 results */
	bool overflow;
};

struct emu_held {
	struct rte_mbuf *m;
	uint32_t countdown; /* packets to let pass first */
	uint64_t pass;	    /* when it was held back */
};

/* Packets held back to reorder them, in one direction. */
struct emu_hold {
	uint16_t n;
	struct emu_held h[EMU_HOLD_MAX];
};

/* A straggler's frame on its way, late. */
struct emu_delayed {
	struct rte_mbuf *m;
	uint64_t due;
	uint16_t lane;
};

/* The straggler's delay line: a FIFO (every frame waits the same time). */
#define EMU_DELAY_MAX 16384

struct emu_lane_tx {
	uint16_t n;
	struct rte_mbuf *pkts[EMU_BURST];
	struct emu_hold hold;
};

struct ainftp_emu {
	struct ainftp_emu_conf conf;
	uint16_t port_idx; /* the config port the ring pair replaces */
	uint16_t app_port, wrk_port;
	bool app_created, wrk_created, wrk_started;
	int socket;
	uint16_t lanes; /* L: w2a rings, appliance RX queues */
	uint16_t n_a2w; /* T: a2w rings, appliance TX queues */
	struct rte_ring *w2a[AINFTP_MAX_QUEUES];
	struct rte_ring *a2w[AINFTP_MAX_QUEUES];
	struct rte_mempool *pool;

	/* The job, as the workers see it. */
	const struct ainftp_job_conf *job;
	uint16_t n_workers;
	uint32_t window;
	uint32_t slots;
	uint32_t cps; /* chunks per step */
	uint32_t elems, blocks;
	uint8_t wire_enc, result_enc;
	int qbits;   /* of a contribution's integers */
	int u_range; /* gradients' magnitudes: 2^u, |u| <= u_range */
	uint32_t payload_len, result_len, frame_len;
	uint64_t all_bits; /* the bitmap a complete result carries */
	const struct ainftp_quant_ops *ops;
	struct emu_worker *workers;
	uint8_t ip_index[256]; /* hash of a worker's IPv4 -> index + 1; 0: none */

	/* Scratch, all allocated at attach. */
	float *x;	     /* elems: one worker's gradient */
	int16_t *q16;	     /* elems */
	uint8_t *payload;    /* payload_len: one worker's payload */
	int64_t *wq;	     /* n_workers x elems: the quantized integers */
	int32_t *wexp;	     /* n_workers x blocks: their exponents, INT32_MIN for zero blocks */
	uint8_t *rx_payload; /* a result's header, payload and tag, read out of its chain */
	emu_i128 *ref_sum;   /* elems: exact sums */
	int32_t *ref_E;	     /* blocks: their exponents, AINFTP_EXP_NONE for empty blocks */
	uint32_t ref_n;	     /* cache entries */
	struct emu_ref *ref;
	uint8_t *ref_payload; /* ref_n x result_len */

	/* Transmission. */
	struct emu_lane_tx tx[AINFTP_MAX_QUEUES];
	struct emu_hold rx_hold;
	uint64_t pass;
	uint64_t rng; /* injections */
	uint64_t thr_loss, thr_dup, thr_reorder;
	uint64_t hz;
	/*
	 * Timeouts (cycles): the conf's, or more when round trips are longer (as a
	 * window of many workers makes them). A round trip runs from the last
	 * worker's first transmission of a chunk (the sum cannot complete before)
	 * to its first result, and is sampled only from chunks nobody has
	 * retransmitted (Karn), so waiting for another worker's retransmission does
	 * not inflate it.
	 */
	uint64_t rto_min, rto_cap, srtt, rttvar; /* srtt 0: no sample yet */
	uint64_t *rtx_g1;   /* per slot: 1 + the latest chunk retransmitted on it, 0: none */
	uint64_t *sent_g1;  /* per slot: 1 + the latest chunk first sent on it */
	uint64_t *sent_tsc; /* and when its last first transmission went: the sum can start */
	uint64_t next_scan;
	uint64_t start_tsc; /* pacing (conf.rate) counts from here */

	struct emu_delayed *delay; /* EMU_DELAY_MAX, when a straggler is asked for */
	uint32_t delay_head, delay_n;
	uint64_t delay_cycles;
	uint64_t *seen_g1; /* per slot: 1 + the latest chunk whose result the killed worker saw */
	uint64_t skip_lo, skip_hi;  /* chunks the killed worker never sent: never in a sum */
	uint64_t fault_tsc;	    /* when the straggler's first late frame or the kill came */
	uint64_t first_partial_tsc; /* when the first result without every worker was taken */

	/* What the report says. */
	bool done;
	struct ainftp_emu_report rep;
	uint64_t results_ignored; /* results of chunks already taken (duplicates) */
	uint64_t results_early; /* results of chunks a worker had not sent, completed without it */
	uint64_t dead_drops;	/* frames to the killed worker while it was dead */
	uint64_t bad_results;	/* results of chunks the worker never sent */
	uint64_t addr_errors;	/* results to an address or port that is not a worker's */
	uint64_t stray;		/* frames that are no result at all */
	uint64_t tx_full, nombuf;
	char first_bad[256];
	unsigned int emu_pool_in_use_end;
};

/* The config port a job runs on: the one the ring pair replaces. */
static uint16_t
emu_job_port(const struct ainftp_config *cfg, uint16_t job_idx)
{
	return cfg->jobs[job_idx].port;
}

/* ---------------------------------------------------------------- PRNG */

static inline uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static inline uint64_t
mix3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t s = a ^ (b * UINT64_C(0xd6e8feb86659fd93)) ^ (c * UINT64_C(0xa0761d6478bd642f));

	splitmix64(&s);
	return splitmix64(&s);
}

static inline uint64_t
xorshift64s(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * UINT64_C(0x2545f4914f6cdd1d);
}

/* p in [0, 1) as a threshold on a uniform 64-bit draw. */
static uint64_t
prob_threshold(double p)
{
	return p <= 0 ? 0 : (uint64_t)ldexp(p, 64);
}

static inline bool
chance(struct ainftp_emu *e, uint64_t thr)
{
	return thr != 0 && xorshift64s(&e->rng) < thr;
}

static inline uint32_t
chunk_step(const struct ainftp_emu *e, uint64_t g)
{
	return (uint32_t)(g / e->cps);
}

static inline uint32_t
chunk_index(const struct ainftp_emu *e, uint64_t g)
{
	return (uint32_t)(g % e->cps);
}

static inline uint32_t
chunk_slot(const struct ainftp_emu *e, uint64_t g)
{
	return chunk_index(e, g) % e->slots;
}

/* ------------------------------------------------------------ gradients */

/*
 * Worker w's gradient for chunk g, deterministic from (seed, w, g). Per chunk a
 * magnitude 2^u with u in [-12, 12] ([-10, 10] for float32: see qbits), per
 * block a further 2^-v with v in 0..3, random signs, so exponents differ across
 * workers and blocks; every 17th chunk one worker sends zeros; a block is zero
 * for one worker now and then, and for every worker now and then.
 */
static void
gradient(const struct ainftp_emu *e, unsigned int w, uint64_t g, float *x)
{
	uint64_t s = mix3(e->conf.seed, w + 1, g + 1);
	int u = (int)(splitmix64(&s) % (2 * (uint64_t)e->u_range + 1)) - e->u_range;
	uint32_t b, i, n;

	if (g % 17 == 16 && w == (g / 17) % e->n_workers) {
		memset(x, 0, e->elems * sizeof(*x));
		return;
	}
	for (b = 0; b < e->blocks; b++) {
		uint64_t r = splitmix64(&s);
		int v = (int)(r & 3);
		float scale = ldexpf(1.0f, u - v - 24);
		bool zero = ((r >> 8) & 31) == 0 || mix3(e->conf.seed, ~g, b) % 53 == 0;

		n = RTE_MIN((uint32_t)AINFTP_BLOCK, e->elems - b * AINFTP_BLOCK);
		for (i = 0; i < n; i++) {
			uint64_t d = splitmix64(&s);
			float m = (float)(uint32_t)(d >> 40) * scale; /* 24 bits: exact */

			x[b * AINFTP_BLOCK + i] = zero ? 0.0f : (d & 1) ? -m : m;
		}
	}
}

/* Worker w's payload for chunk g, as it goes on the wire; the int16 exponent in *se. */
static void
payload_make(struct ainftp_emu *e, unsigned int w, uint64_t g, uint8_t *out, int8_t *se)
{
	uint32_t i;

	gradient(e, w, g, e->x);
	*se = 0;
	switch (e->wire_enc) {
	case AINFTP_WIRE_INT16:
		e->ops->quant_i16(e->x, e->elems, e->q16, se);
		for (i = 0; i < e->elems; i++) {
			uint16_t v = rte_cpu_to_le_16((uint16_t)e->q16[i]);

			memcpy(out + 2 * i, &v, 2);
		}
		break;
	case AINFTP_WIRE_INT8:
		/* n_blocks exponent bytes, then the values. */
		e->ops->quant_i8(e->x, e->elems, (int8_t *)out, (int8_t *)out + e->blocks);
		break;
	default:
		for (i = 0; i < e->elems; i++) {
			uint32_t v;

			memcpy(&v, &e->x[i], 4);
			v = rte_cpu_to_le_32(v);
			memcpy(out + 4 * i, &v, 4);
		}
		break;
	}
}

/* ------------------------------------------------------------ reference */

/*
 * A payload as integers and per-block exponents, decoded here (not by the
 * library): value = q * 2^exp; a block whose integers are all zero gets
 * AINFTP_EXP_NONE and takes no part in the block's exponent.
 */
static void
payload_decode(const struct ainftp_emu *e, const uint8_t *p, int8_t se, int64_t *q, int32_t *exp)
{
	uint32_t b, i, n;

	for (b = 0; b < e->blocks; b++) {
		uint32_t base = b * AINFTP_BLOCK;
		bool any = false;
		int32_t eb = 0;

		n = RTE_MIN((uint32_t)AINFTP_BLOCK, e->elems - base);
		switch (e->wire_enc) {
		case AINFTP_WIRE_INT16:
			for (i = 0; i < n; i++) {
				uint16_t v;

				memcpy(&v, p + 2 * (base + i), 2);
				q[base + i] = (int16_t)rte_le_to_cpu_16(v);
			}
			eb = se;
			break;
		case AINFTP_WIRE_INT8:
			for (i = 0; i < n; i++)
				q[base + i] = (int8_t)p[e->blocks + base + i];
			eb = (int8_t)p[b];
			break;
		default: {
			/* float32: e_b = frexp exponent of the block's max - 31, RNE in double. */
			float xs[AINFTP_BLOCK];
			float mx = 0;
			int fe;

			for (i = 0; i < n; i++) {
				uint32_t v;

				memcpy(&v, p + 4 * (base + i), 4);
				v = rte_le_to_cpu_32(v);
				memcpy(&xs[i], &v, 4);
				mx = fmaxf(mx, fabsf(xs[i]));
			}
			if (mx == 0) {
				for (i = 0; i < n; i++)
					q[base + i] = 0;
				break;
			}
			frexp((double)mx, &fe);
			eb = fe - AINFTP_QBITS_FLOAT32;
			for (i = 0; i < n; i++)
				q[base + i] = (int64_t)nearbyint(ldexp((double)xs[i], -eb));
			break;
		}
		}
		for (i = 0; i < n; i++)
			any |= q[base + i] != 0;
		exp[b] = any ? eb : AINFTP_EXP_NONE;
	}
}

/*
 * int16 result of the exact sums s (at exponent E[b] per block), by the rule
 * of res_i16 in lib/wire/ainftp_quant.h (docs/QUANTIZATION.md): K = the largest bit
 * length of |s| plus its block's exponent, over every non-zero sum; the
 * exponent is K - 15 clamped to [-128, 127] (-128 and all zero when no sum is
 * non-zero); each element is s * 2^(E - exponent) rounded to nearest, ties to
 * even, saturated at +-32767.
 */
static int8_t
ref_res_i16(const struct ainftp_emu *e, const emu_i128 *s, const int32_t *E, int16_t *out)
{
	int32_t k = INT32_MIN, eo;
	uint32_t i;

	for (i = 0; i < e->elems; i++) {
		emu_i128 v = s[i] < 0 ? -s[i] : s[i];
		int32_t bits = 0;

		if (v == 0 || E[i / AINFTP_BLOCK] == AINFTP_EXP_NONE)
			continue;
		while (v != 0) {
			v >>= 1;
			bits++;
		}
		k = RTE_MAX(k, bits + E[i / AINFTP_BLOCK]);
	}
	if (k == INT32_MIN) {
		memset(out, 0, e->elems * sizeof(*out));
		return AINFTP_WIRE_EXP_ZERO;
	}
	eo = RTE_MIN(RTE_MAX(k - AINFTP_QBITS_INT16, -128), 127);
	for (i = 0; i < e->elems; i++) {
		int32_t eb = E[i / AINFTP_BLOCK];
		emu_i128 v = s[i], a = v < 0 ? -v : v, r;
		int32_t d;

		if (eb == AINFTP_EXP_NONE || v == 0) {
			out[i] = 0;
			continue;
		}
		d = eb - eo;
		if (d > AINFTP_QBITS_INT16) {
			r = INT16_MAX; /* only where the exponent was clamped at 127 */
		} else if (d >= 0) {
			r = a << d;
		} else if (-d > 120) {
			r = 0; /* |s| < 2^(64 + 6): far below one half */
		} else {
			emu_i128 half = (emu_i128)1 << (-d - 1),
				 rem = a & (((emu_i128)1 << -d) - 1);

			r = a >> -d;
			if (rem > half || (rem == half && (r & 1)))
				r++;
		}
		if (r > INT16_MAX)
			r = INT16_MAX;
		out[i] = (int16_t)(v < 0 ? -r : r);
	}
	return (int8_t)eo;
}

/* Worker index w is one of the result's contributors (its bitmap says so). */
static inline bool
in_sum_bits(const struct ainftp_emu *e, uint64_t bitmap, unsigned int w)
{
	return (bitmap >> e->workers[w].id) & 1;
}

static inline bool
in_sum(const struct ainftp_emu *e, const struct emu_ref *r, unsigned int w)
{
	return in_sum_bits(e, r->bitmap, w);
}

/*
 * The reference sum of the decoded contributions in e->wq and e->wexp, into
 * out (the result's payload) and r (its exponent, and whether the inputs
 * overflow what the appliance sums exactly). Plain arithmetic in int128, none
 * of the library's accumulator: per block, E is the smallest exponent among the
 * workers whose block is not all zero, and S = sum of q * 2^(e - E).
 */
static void
ref_compute(struct ainftp_emu *e, struct emu_ref *r, uint8_t *out)
{
	uint32_t b, i, n;
	unsigned int w;

	r->overflow = false;
	r->exp = 0;
	for (b = 0; b < e->blocks; b++) {
		uint32_t base = b * AINFTP_BLOCK;
		int32_t E = INT32_MAX;
		emu_i128 *sum = e->ref_sum + base;

		n = RTE_MIN((uint32_t)AINFTP_BLOCK, e->elems - base);
		/* E: the smallest exponent among the workers whose block is not all zero. */
		for (w = 0; w < e->n_workers; w++) {
			int32_t ew = e->wexp[(size_t)w * e->blocks + b];

			if (ew != AINFTP_EXP_NONE && in_sum(e, r, w))
				E = RTE_MIN(E, ew);
		}
		for (i = 0; i < n; i++)
			sum[i] = 0;
		for (w = 0; E != INT32_MAX && w < e->n_workers; w++) {
			int32_t ew = e->wexp[(size_t)w * e->blocks + b];
			const int64_t *q = e->wq + (size_t)w * e->elems + base;

			if (ew == AINFTP_EXP_NONE || !in_sum(e, r, w))
				continue;
			if (ew - E > 126 - AINFTP_QBITS_FLOAT32 - AINFTP_WORKER_BITS) {
				r->overflow = true; /* beyond even an int128 */
				continue;
			}
			for (i = 0; i < n; i++)
				sum[i] += (emu_i128)q[i] * ((emu_i128)1 << (ew - E));
		}
		/* The span the appliance sums exactly (docs/QUANTIZATION.md): inputs stay in it. */
		for (w = 0; E != INT32_MAX && w < e->n_workers; w++) {
			int32_t ew = e->wexp[(size_t)w * e->blocks + b];

			if (ew != AINFTP_EXP_NONE && in_sum(e, r, w) &&
			    ew - E > 63 - AINFTP_WORKER_BITS - e->qbits)
				r->overflow = true;
		}
		for (i = 0; i < n; i++)
			if (sum[i] > INT64_MAX || sum[i] < INT64_MIN)
				r->overflow = true;
		e->ref_E[b] = E == INT32_MAX ? AINFTP_EXP_NONE : E;
		if (e->result_enc != AINFTP_WIRE_FLOAT32)
			continue;
		for (i = 0; i < n; i++) {
			float f = E == INT32_MAX ? 0.0f : (float)ldexp((double)(int64_t)sum[i], E);
			uint32_t v;

			memcpy(&v, &f, 4);
			v = rte_cpu_to_le_32(v);
			memcpy(out + 4 * (base + i), &v, 4);
		}
	}
	if (e->result_enc == AINFTP_WIRE_INT16) {
		r->exp = ref_res_i16(e, e->ref_sum, e->ref_E, e->q16);
		for (i = 0; i < e->elems; i++) {
			uint16_t v = rte_cpu_to_le_16((uint16_t)e->q16[i]);

			memcpy(out + 2 * i, &v, 2);
		}
	}
}

/*
 * The result every worker must get for chunk g: the sum of the payloads of the
 * workers the result's bitmap names (all of them, unless some were left out).
 */
static const struct emu_ref *
reference(struct ainftp_emu *e, uint64_t g, uint64_t bitmap, const uint8_t **payload)
{
	/* By slot: a recomputation when a slot's next chunk came first (a straggler's late result).
	 */
	uint32_t idx = chunk_slot(e, g) % e->ref_n;
	struct emu_ref *r = &e->ref[idx];
	uint8_t *out = e->ref_payload + (size_t)idx * e->result_len;
	unsigned int w;
	int8_t se;

	*payload = out;
	if (r->g == g && r->bitmap == bitmap)
		return r;
	r->bitmap = bitmap;
	for (w = 0; w < e->n_workers; w++) {
		const struct emu_worker *wk = &e->workers[w];
		uint32_t k = wk->slot_out[chunk_slot(e, g)];
		const uint8_t *p = e->payload;

		if (!in_sum(e, r, w))
			continue;
		/* The bytes the worker sent, while it keeps them; else made again. */
		if (k != EMU_NONE && wk->out[k].g == g) {
			const struct ainftp_hdr *h =
				rte_pktmbuf_mtod_offset(wk->out[k].keep, const struct ainftp_hdr *,
							EMU_HDRS_LEN - sizeof(struct ainftp_hdr));

			p = (const uint8_t *)(h + 1);
			se = h->scale_exp;
		} else {
			payload_make(e, w, g, e->payload, &se);
		}
		payload_decode(e, p, se, e->wq + (size_t)w * e->elems,
			       e->wexp + (size_t)w * e->blocks);
	}
	r->g = g;
	ref_compute(e, r, out);
	return r;
}

/* ---------------------------------------------------------------- frames */

/* Worker w's DATA frame for chunk g: the same bytes every time. */
static struct rte_mbuf *
frame_build(struct ainftp_emu *e, const struct ainftp_runtime *rt, unsigned int w, uint64_t g)
{
	const struct emu_worker *wk = &e->workers[w];
	uint32_t slot = chunk_slot(e, g);
	uint16_t lane = (uint16_t)(slot % e->lanes);
	uint16_t udp_len =
		(uint16_t)(e->frame_len - RTE_ETHER_HDR_LEN - sizeof(struct rte_ipv4_hdr));
	struct rte_mbuf *m = rte_pktmbuf_alloc(e->pool);
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	struct rte_udp_hdr *udp;
	struct ainftp_hdr *h;
	struct ainftp_msg msg;
	uint8_t *payload;
	int8_t se;

	if (unlikely(m == NULL))
		return NULL;
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, (uint16_t)e->frame_len);
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	udp = (struct rte_udp_hdr *)(ip + 1);
	h = (struct ainftp_hdr *)(udp + 1);
	payload = (uint8_t *)(h + 1);

	ainftp_udp_headers(eth, &wk->mac, &rt->ports[e->port_idx].mac, wk->ipv4, rt->cfg->ipv4,
			   rte_cpu_to_be_16(wk->udp_port),
			   rte_cpu_to_be_16((uint16_t)(rt->cfg->udp_port + lane)),
			   (uint16_t)(udp_len - sizeof(*udp)));

	payload_make(e, w, g, payload, &se);
	memset(&msg, 0, sizeof(msg));
	msg.type = AINFTP_MSG_DATA;
	msg.encoding = e->wire_enc;
	msg.flags = e->job->auth ? AINFTP_F_AUTH : 0;
	msg.job = e->job->id;
	msg.worker = wk->id;
	msg.elems = (uint16_t)e->elems;
	msg.step = chunk_step(e, g);
	msg.chunk = chunk_index(e, g);
	msg.slot = (uint16_t)slot;
	msg.scale_exp = se;
	ainftp_hdr_write(h, &msg);
	if (e->job->auth)
		ainftp_mac(&wk->mk, h, sizeof(*h) + e->payload_len, payload + e->payload_len);
	return m;
}

/* ----------------------------------------------------- worker -> appliance */

static void
lane_flush(struct ainftp_emu *e, uint16_t lane)
{
	struct emu_lane_tx *t = &e->tx[lane];
	uint16_t sent;

	if (t->n == 0)
		return;
	sent = rte_eth_tx_burst(e->wrk_port, lane, t->pkts, t->n);
	if (unlikely(sent < t->n)) {
		e->tx_full += t->n - sent;
		rte_pktmbuf_free_bulk(&t->pkts[sent], t->n - sent);
	}
	t->n = 0;
}

static inline void
lane_put_raw(struct ainftp_emu *e, uint16_t lane, struct rte_mbuf *m)
{
	struct emu_lane_tx *t = &e->tx[lane];

	t->pkts[t->n++] = m;
	if (t->n == EMU_BURST)
		lane_flush(e, lane);
}

/* Hold a packet back for 1 to 8 packets after it, or to the end of the pass; false when full. */
static bool
hold_push(struct ainftp_emu *e, struct emu_hold *hq, struct rte_mbuf *m)
{
	if (hq->n == EMU_HOLD_MAX)
		return false;
	hq->h[hq->n].m = m;
	hq->h[hq->n].countdown = 1 + (uint32_t)(xorshift64s(&e->rng) % 8);
	hq->h[hq->n].pass = e->pass;
	hq->n++;
	return true;
}

typedef int (*emu_release_fn)(struct ainftp_emu *e, void *arg, struct rte_mbuf *m);

/*
 * Release the held packets whose turn has come: after a packet went by (tick:
 * each countdown counts it), or at the end of a pass (those held in an earlier
 * one). Returns the sum of what fn returned.
 */
static int
hold_release(struct ainftp_emu *e, struct emu_hold *hq, bool tick, emu_release_fn fn, void *arg)
{
	uint16_t i = 0;
	int r = 0;

	while (i < hq->n) {
		struct emu_held *h = &hq->h[i];

		if (tick ? --h->countdown != 0 : h->pass >= e->pass) {
			i++;
			continue;
		}
		r += fn(e, arg, h->m);
		*h = hq->h[--hq->n];
	}
	return r;
}

static int
tx_release(struct ainftp_emu *e, void *lane, struct rte_mbuf *m)
{
	lane_put_raw(e, *(const uint16_t *)lane, m);
	return 0;
}

/* Queue a packet on its lane; packets held back before it count it and may follow. */
static void
lane_put(struct ainftp_emu *e, uint16_t lane, struct rte_mbuf *m)
{
	lane_put_raw(e, lane, m);
	hold_release(e, &e->tx[lane].hold, true, tx_release, &lane);
}

/* A worker's packet to the appliance, through the injected loss, duplication, reordering. */
static void
emu_send(struct ainftp_emu *e, uint16_t lane, struct rte_mbuf *m)
{
	struct rte_mbuf *copy = NULL;

	if (chance(e, e->thr_loss)) {
		e->rep.injected_loss++;
		rte_pktmbuf_free(m);
		return;
	}
	if (chance(e, e->thr_dup)) {
		copy = rte_pktmbuf_copy(m, e->pool, 0, UINT32_MAX);
		if (copy != NULL)
			e->rep.injected_dup++;
	}
	if (chance(e, e->thr_reorder) && hold_push(e, &e->tx[lane].hold, m))
		e->rep.injected_reorder++;
	else
		lane_put(e, lane, m);
	if (copy != NULL)
		lane_put(e, lane, copy);
}

/* End of a pass: what was held back in an earlier pass and nothing followed goes now. */
static void
lanes_flush(struct ainftp_emu *e)
{
	uint16_t lane;

	for (lane = 0; lane < e->lanes; lane++) {
		hold_release(e, &e->tx[lane].hold, false, tx_release, &lane);
		lane_flush(e, lane);
	}
}

/* Into the straggler's delay line; a full line loses the frame (counted). */
static void
delay_push(struct ainftp_emu *e, uint16_t lane, struct rte_mbuf *m, uint64_t now)
{
	struct emu_delayed *d;

	if (e->delay_n == EMU_DELAY_MAX) {
		e->rep.delay_full++;
		rte_pktmbuf_free(m);
		return;
	}
	d = &e->delay[(e->delay_head + e->delay_n++) % EMU_DELAY_MAX];
	d->m = m;
	d->due = now + e->delay_cycles;
	d->lane = lane;
	e->rep.delayed++;
}

/* The straggler's frames whose time has come, in the order it sent them. */
static void
delay_release(struct ainftp_emu *e, uint64_t now)
{
	while (e->delay_n != 0 && e->delay[e->delay_head].due <= now) {
		const struct emu_delayed *d = &e->delay[e->delay_head];

		emu_send(e, d->lane, d->m);
		e->delay_head = (e->delay_head + 1) % EMU_DELAY_MAX;
		e->delay_n--;
	}
}

/* Worker w's frames of chunk g leave through the delay line. */
static inline bool
delayed(const struct ainftp_emu *e, unsigned int w, uint64_t g)
{
	return e->delay != NULL && (int)e->workers[w].id == e->conf.delay_worker &&
	       g >= e->conf.delay_from;
}

/* A copy of worker w's kept frame of chunk g to the appliance; false when the pool is empty. */
static bool
frame_send(struct ainftp_emu *e, unsigned int w, uint64_t g, const struct rte_mbuf *keep,
	   uint32_t slot, uint64_t now)
{
	struct rte_mbuf *m = rte_pktmbuf_copy(keep, e->pool, 0, UINT32_MAX);
	uint16_t lane = (uint16_t)(slot % e->lanes);

	if (unlikely(m == NULL)) {
		e->nombuf++;
		return false;
	}
	if (delayed(e, w, g)) {
		if (e->fault_tsc == 0)
			e->fault_tsc = now;
		delay_push(e, lane, m, now);
	} else
		emu_send(e, lane, m);
	return true;
}

/* The chunk before g on g's slot, over steps; UINT64_MAX: none. */
static uint64_t
chunk_pred(const struct ainftp_emu *e, uint64_t g)
{
	uint64_t c = chunk_index(e, g), step = chunk_step(e, g), k = c % e->slots;

	if (c >= e->slots)
		return g - e->slots;
	if (step == 0)
		return UINT64_MAX;
	/* The last chunk of the step before that maps to slot k. */
	return (step - 1) * e->cps + k + (e->cps - 1 - k) / e->slots * e->slots;
}

/*
 * The killed worker at its death: what it had in flight is lost with it (its
 * results never taken, counted as skipped); it sends nothing and takes nothing
 * until it restarts.
 */
static void
worker_kill(struct ainftp_emu *e, struct emu_worker *wk, uint64_t now)
{
	uint32_t i;

	for (i = 0; i < wk->n_out; i++) {
		rte_pktmbuf_free(wk->out[i].keep);
		wk->slot_out[wk->out[i].slot] = EMU_NONE;
	}
	e->rep.skipped += wk->n_out;
	wk->n_out = 0;
	wk->dead = true;
	wk->dead_until = now + e->hz / 1000 * e->conf.kill_ms;
	e->skip_lo = e->skip_hi = wk->next_g;
	e->fault_tsc = now;
	AINFTP_LOG(INFO, "emulator: worker %u dies at chunk %" PRIu64, wk->id, wk->next_g);
}

/*
 * Restarted, the worker rejoins at a step boundary: at step J, far enough
 * ahead of the step of the first result it sees that nobody has started J
 * (the others are at most a window ahead of that result), as a training
 * framework restarts a worker at the step after the current one. Chunks
 * before J it never sends. It then sends a chunk only once the result of the
 * chunk before it on its slot has come (gated): it did not see the slot's
 * history, and a chunk of J sent early would abandon the others' chunk of J-1.
 */
static void
worker_resume(struct ainftp_emu *e, struct emu_worker *wk, uint64_t first_step)
{
	uint64_t j = first_step + 2 + e->window / e->cps;

	wk->next_g = RTE_MAX(RTE_MIN(j * e->cps, (uint64_t)e->conf.chunks), e->skip_lo);
	e->rep.skipped += wk->next_g - e->skip_lo;
	e->skip_hi = wk->next_g;
	wk->resuming = false;
	wk->gated = true;
	e->rep.rejoin_at = (int64_t)wk->next_g;
	AINFTP_LOG(INFO, "emulator: worker %u rejoins at chunk %" PRIu64 " (step %" PRIu64 ")",
		   wk->id, wk->next_g, j);
}

/* The others all done: nothing left for a restarted worker to rejoin. */
static bool
others_done(const struct ainftp_emu *e, const struct emu_worker *wk)
{
	unsigned int w;

	for (w = 0; w < e->n_workers; w++)
		if (&e->workers[w] != wk &&
		    (e->workers[w].next_g < e->conf.chunks || e->workers[w].n_out != 0))
			return false;
	return true;
}

/* The killed worker is dead, or alive and not yet rejoined. */
static bool
restarting(const struct ainftp_emu *e)
{
	unsigned int w;

	for (w = 0; w < e->n_workers; w++)
		if (e->workers[w].dead || e->workers[w].resuming)
			return true;
	return false;
}

/* The killed worker comes back to life when its time is up, and listens for a step. */
static void
worker_revive(struct ainftp_emu *e, uint64_t now)
{
	unsigned int w;

	for (w = 0; w < e->n_workers; w++) {
		struct emu_worker *wk = &e->workers[w];

		if (wk->dead && now >= wk->dead_until) {
			wk->dead = false;
			wk->resuming = true;
			memset(e->seen_g1, 0, e->slots * sizeof(*e->seen_g1));
		}
		if (wk->resuming && others_done(e, wk))
			worker_resume(e, wk, chunk_step(e, e->conf.chunks));
	}
}

static inline uint64_t
rto_now(const struct ainftp_emu *e)
{
	uint64_t rto = RTE_MAX(2 * e->srtt, e->srtt + 4 * e->rttvar);

	return RTE_MIN(RTE_MAX(rto, e->rto_min), e->rto_cap);
}

/* New chunks, as far as each worker's window and slots allow. */
static void
send_new(struct ainftp_emu *e, const struct ainftp_runtime *rt, uint64_t now)
{
	unsigned int k, budget = EMU_SEND_PER_PASS * e->lanes;
	struct rte_mbuf *keep;
	unsigned int start = (unsigned int)(e->pass % e->n_workers);
	bool more = true;
	/* Paced: chunk g goes no sooner than g / rate seconds after the start. */
	uint64_t paced =
		e->conf.rate == 0
			? UINT64_MAX
			: (uint64_t)((emu_i128)(now - e->start_tsc) * e->conf.rate / e->hz) + 1;

	/* Round robin, one chunk per worker per round, so no worker runs ahead. */
	while (more && budget > 0) {
		more = false;
		for (k = 0; k < e->n_workers && budget > 0; k++) {
			unsigned int w = (start + k) % e->n_workers;
			struct emu_worker *wk = &e->workers[w];
			uint64_t g = wk->next_g;
			uint32_t slot;
			struct emu_out *o;

			if (g >= e->conf.chunks || wk->n_out >= e->window || g >= paced ||
			    wk->dead || wk->resuming)
				continue;
			if ((int)wk->id == e->conf.kill_worker && g == e->conf.kill_at) {
				worker_kill(e, wk, now);
				continue;
			}
			slot = chunk_slot(e, g);
			if (wk->slot_out[slot] != EMU_NONE)
				continue; /* the slot's previous chunk has no result yet */
			if (wk->gated && chunk_pred(e, g) != UINT64_MAX &&
			    e->seen_g1[slot] <= chunk_pred(e, g))
				continue; /* nor has it seen the one before it */
			keep = frame_build(e, rt, w, g);
			if (keep == NULL || !frame_send(e, w, g, keep, slot, now)) {
				e->nombuf += keep == NULL;
				rte_pktmbuf_free(keep);
				return;
			}
			o = &wk->out[wk->n_out];
			o->keep = keep;
			o->g = g;
			o->slot = slot;
			o->tries = 0;
			/* The straggler knows its own delay: no retransmission before it. */
			o->rto = rto_now(e) + (delayed(e, w, g) ? e->delay_cycles : 0);
			o->deadline = now + o->rto;
			o->first_rto = o->rto;
			e->next_scan = RTE_MIN(e->next_scan, o->deadline);
			wk->slot_out[slot] = wk->n_out++;
			e->sent_g1[slot] = g + 1;
			e->sent_tsc[slot] = now;
			wk->next_g++;
			budget--;
			more = true;
		}
	}
}

/* Chunks whose results are late: the same bytes again, with the timeout doubled. */
static void
send_again(struct ainftp_emu *e, uint64_t now)
{
	unsigned int w, budget = EMU_RESEND_PER_PASS;
	uint64_t next = UINT64_MAX;
	uint32_t i;

	if (now < e->next_scan)
		return;
	for (w = 0; w < e->n_workers; w++) {
		struct emu_worker *wk = &e->workers[w];

		for (i = 0; i < wk->n_out; i++) {
			struct emu_out *o = &wk->out[i];

			if (o->deadline <= now && budget > 0) {
				if (!frame_send(e, w, o->g, o->keep, o->slot, now)) {
					budget = 0;
					next = now;
					continue;
				}
				budget--;
				o->tries++;
				e->rep.retransmits++;
				e->rtx_g1[o->slot] = RTE_MAX(e->rtx_g1[o->slot], o->g + 1);
				o->rto = RTE_MIN(o->rto * 2, o->first_rto * EMU_BACKOFF_MAX);
				o->rto = RTE_MIN(
					o->rto,
					e->rto_cap + (delayed(e, w, o->g) ? e->delay_cycles : 0));
				o->deadline = now + o->rto;
			}
			next = RTE_MIN(next, o->deadline);
		}
	}
	e->next_scan = next;
}

/* ----------------------------------------------------- appliance -> worker */

static void __rte_format_printf(5, 6)
	result_bad(struct ainftp_emu *e, const struct emu_worker *wk, uint32_t step, uint32_t chunk,
		   const char *fmt, ...)
{
	char what[160];
	va_list ap;

	if (e->first_bad[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(e->first_bad, sizeof(e->first_bad),
		 "worker %d step %" PRIu32 " chunk %" PRIu32 ": %s", wk != NULL ? (int)wk->id : -1,
		 step, chunk, what);
}

static int
worker_by_ip(const struct ainftp_emu *e, uint32_t ipv4)
{
	uint32_t h = (rte_be_to_cpu_32(ipv4) * 2654435761u) >> 24, i;

	for (i = 0; i < RTE_DIM(e->ip_index); i++) {
		uint8_t v = e->ip_index[(h + i) & 255];

		if (v == 0)
			return -1;
		if (e->workers[v - 1].ipv4 == ipv4)
			return v - 1;
	}
	return -1;
}

/* The payload against the reference: true when every bit is equal. */
static bool
result_compare(struct ainftp_emu *e, const struct emu_worker *wk, const struct ainftp_msg *msg,
	       const uint8_t *got, const struct emu_ref *r, const uint8_t *want)
{
	uint32_t i, size = e->result_enc == AINFTP_WIRE_INT16 ? 2 : 4;

	if (r->overflow) {
		result_bad(e, wk, msg->step, msg->chunk,
			   "the test's own inputs overflow the exact sum (emulator bug)");
		return false;
	}
	if (e->result_enc == AINFTP_WIRE_INT16 && msg->scale_exp != r->exp) {
		result_bad(e, wk, msg->step, msg->chunk, "scale_exp %d, want %d", msg->scale_exp,
			   r->exp);
		return false;
	}
	if (memcmp(got, want, e->result_len) == 0)
		return true;
	for (i = 0; i < e->elems; i++) {
		uint32_t a = 0, b = 0;

		memcpy(&a, got + size * i, size);
		memcpy(&b, want + size * i, size);
		if (a == b)
			continue;
		if (size == 4) {
			float fa, fb;

			memcpy(&fa, &a, 4);
			memcpy(&fb, &b, 4);
			result_bad(e, wk, msg->step, msg->chunk,
				   "element %u is %a (0x%08x), want %a (0x%08x)", i, (double)fa, a,
				   (double)fb, b);
		} else {
			result_bad(e, wk, msg->step, msg->chunk, "element %u is %d, want %d", i,
				   (int16_t)a, (int16_t)b);
		}
		break;
	}
	return false;
}

/*
 * A HEARTBEAT to worker wk: answered as the client library does (echoed step,
 * chunk and bitmap; the worker's id; tagged under its key when the job has
 * auth), to the port it came from, through the injected loss and reordering.
 */
static void
heartbeat_answer(struct ainftp_emu *e, const struct ainftp_runtime *rt, const struct emu_worker *wk,
		 const struct ainftp_msg *hb, uint16_t to_port)
{
	uint16_t tag_len = e->job->auth ? AINFTP_TAG_LEN : 0;
	uint16_t base = rt->cfg->udp_port, port = rte_be_to_cpu_16(to_port);
	uint16_t lane = port >= base && port - base < e->lanes ? (uint16_t)(port - base) : 0;
	struct ainftp_msg m = *hb;
	struct ainftp_hdr *h;
	struct rte_mbuf *mb;
	char *p;

	e->rep.heartbeats++;
	if ((int)wk->id == e->conf.silent_worker) {
		e->rep.heartbeats_unanswered++;
		return;
	}
	mb = rte_pktmbuf_alloc(e->pool);
	if (unlikely(mb == NULL)) {
		e->nombuf++;
		e->rep.heartbeats_unanswered++;
		return;
	}
	p = rte_pktmbuf_append(mb, (uint16_t)(EMU_HDRS_LEN + tag_len));
	ainftp_udp_headers(p, &wk->mac, &rt->ports[e->port_idx].mac, wk->ipv4, rt->cfg->ipv4,
			   rte_cpu_to_be_16(wk->udp_port), to_port,
			   (uint16_t)(sizeof(struct ainftp_hdr) + tag_len));
	m.type = AINFTP_MSG_HEARTBEAT_ACK;
	m.worker = wk->id;
	m.flags = tag_len != 0 ? AINFTP_F_AUTH : 0;
	m.elems = 0;
	m.encoding = 0;
	m.contributors = 0;
	h = (struct ainftp_hdr *)(p + EMU_HDRS_LEN - sizeof(*h));
	ainftp_hdr_write(h, &m);
	if (tag_len != 0)
		ainftp_mac(&wk->mk, h, sizeof(*h), (uint8_t *)(h + 1));
	emu_send(e, lane, mb);
}

/* An exact result, by its contributors: how many, who was left out, when. */
static void
result_count(struct ainftp_emu *e, uint64_t g, uint64_t bitmap, uint64_t now)
{
	unsigned int w;

	e->rep.by_count[__builtin_popcountll(bitmap)]++;
	if (bitmap == e->all_bits) {
		e->rep.full_last = RTE_MAX(e->rep.full_last, (int64_t)g);
		if (e->rep.rejoin_at >= 0 && g >= (uint64_t)e->rep.rejoin_at)
			e->rep.full_after_rejoin++;
		return;
	}
	e->rep.results_partial++;
	e->rep.partial_last = RTE_MAX(e->rep.partial_last, (int64_t)g);
	for (w = 0; w < e->n_workers; w++)
		e->rep.absent[w] += !in_sum_bits(e, bitmap, w);
	if (e->first_partial_tsc == 0)
		e->first_partial_tsc = now;
}

/* One frame from the appliance; returns 1 when it was a new result for a worker. */
static int
result_take(struct ainftp_emu *e, const struct ainftp_runtime *rt, const struct rte_mbuf *m,
	    uint64_t now)
{
	uint8_t hbuf[EMU_HDRS_LEN];
	const uint8_t *p;
	const struct rte_ether_hdr *eth;
	const struct rte_ipv4_hdr *ip;
	const struct rte_udp_hdr *udp;
	const struct ainftp_hdr *h;
	const struct emu_ref *r;
	const uint8_t *want, *got;
	struct ainftp_msg msg;
	struct emu_worker *wk;
	uint32_t pkt_len = rte_pktmbuf_pkt_len(m), slot, idx, last, tag_len;
	uint16_t lane;
	uint64_t g;
	bool ok;
	int w;

	if (pkt_len < EMU_HDRS_LEN) {
		e->stray++;
		return 0;
	}
	p = rte_pktmbuf_read(m, 0, EMU_HDRS_LEN, hbuf);
	eth = (const struct rte_ether_hdr *)p;
	ip = (const struct rte_ipv4_hdr *)(eth + 1);
	udp = (const struct rte_udp_hdr *)(ip + 1);
	h = (const struct ainftp_hdr *)(udp + 1);
	if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    ip->version_ihl != RTE_IPV4_VHL_DEF || ip->next_proto_id != IPPROTO_UDP ||
	    ip->src_addr != rt->cfg->ipv4) {
		e->stray++; /* not the data path's: nothing for a worker to do */
		return 0;
	}
	w = worker_by_ip(e, ip->dst_addr);
	if (w < 0) {
		e->addr_errors++;
		result_bad(e, NULL, 0, 0, "a result to an address that is no worker's");
		return 0;
	}
	wk = &e->workers[w];
	if (udp->dst_port != rte_cpu_to_be_16(wk->udp_port) ||
	    !rte_is_same_ether_addr(&eth->dst_addr, &wk->mac)) {
		e->addr_errors++;
		result_bad(e, wk, 0, 0, "a result to UDP port %u or MAC not the worker's",
			   rte_be_to_cpu_16(udp->dst_port));
		return 0;
	}
	ainftp_hdr_read(h, &msg);
	if (wk->dead) {
		/* Killed: nothing answers, nothing is taken. */
		e->dead_drops++;
		if (msg.type == AINFTP_MSG_HEARTBEAT) {
			e->rep.heartbeats++;
			e->rep.heartbeats_unanswered++;
		}
		return 0;
	}
	if (msg.type == AINFTP_MSG_HEARTBEAT && msg.job == e->job->id &&
	    ainftp_hdr_check(h, rte_be_to_cpu_16(udp->dgram_len) - sizeof(*udp)) == AINFTP_OK) {
		heartbeat_answer(e, rt, wk, &msg, udp->src_port);
		return 0;
	}
	if (msg.type != AINFTP_MSG_RESULT) {
		e->stray++;
		return 0;
	}

	/* Which chunk: one of the worker's, outstanding or taken already. */
	g = (uint64_t)msg.step * e->cps + msg.chunk;
	if ((wk->resuming || wk->gated) && msg.job == e->job->id && msg.chunk < e->cps &&
	    msg.slot == msg.chunk % e->slots) {
		/* Restarted: the first result names the step it rejoins after; every
		 * result opens its slot's gate; those of chunks it never sent are not its. */
		if (wk->resuming)
			worker_resume(e, wk, msg.step);
		e->seen_g1[msg.slot] = RTE_MAX(e->seen_g1[msg.slot], g + 1);
		if (g >= wk->next_g || (g >= e->skip_lo && g < e->skip_hi)) {
			e->results_early++;
			return 0;
		}
	}
	if (msg.job == e->job->id && g >= wk->next_g && msg.chunk < e->cps &&
	    msg.slot == msg.chunk % e->slots && !((msg.bitmap >> wk->id) & 1)) {
		/* Completed without it (it left the quorum): it takes the kept result when
		 * it sends the chunk. */
		e->results_early++;
		return 0;
	}
	if (msg.job != e->job->id || msg.chunk >= e->cps || msg.slot >= e->slots ||
	    msg.slot != msg.chunk % e->slots || g >= wk->next_g) {
		e->bad_results++;
		result_bad(e, wk, msg.step, msg.chunk,
			   "a result for job %" PRIu32 " slot %u the worker did not send", msg.job,
			   msg.slot);
		return 0;
	}
	slot = msg.slot;
	idx = wk->slot_out[slot];
	if (idx == EMU_NONE || wk->out[idx].g != g) {
		e->results_ignored++; /* a duplicate of a result already taken */
		return 0;
	}

	/* Take it, right or wrong: it is checked once. */
	e->rep.results_checked++;
	/* A clean round trip: nobody retransmitted this chunk, nor sent a later one of its slot. */
	if (e->rtx_g1[slot] <= g && e->sent_g1[slot] == g + 1) {
		uint64_t sample = now - e->sent_tsc[slot];

		if (e->srtt == 0) {
			e->srtt = sample;
			e->rttvar = sample / 2;
		} else {
			uint64_t d = e->srtt > sample ? e->srtt - sample : sample - e->srtt;

			e->rttvar = (3 * e->rttvar + d) / 4;
			e->srtt = (7 * e->srtt + sample) / 8;
		}
	}
	lane = (uint16_t)(slot % e->lanes);
	tag_len = (msg.flags & AINFTP_F_AUTH) ? AINFTP_TAG_LEN : 0;
	ok = false;
	if (rte_raw_cksum(ip, sizeof(*ip)) != 0xffff)
		result_bad(e, wk, msg.step, msg.chunk, "bad IPv4 header checksum");
	else if (udp->src_port != rte_cpu_to_be_16((uint16_t)(rt->cfg->udp_port + lane)))
		result_bad(e, wk, msg.step, msg.chunk, "from UDP port %u, not lane %u's",
			   rte_be_to_cpu_16(udp->src_port), lane);
	else if (rte_be_to_cpu_16(udp->dgram_len) !=
			 sizeof(*udp) + sizeof(*h) + e->result_len + tag_len ||
		 rte_be_to_cpu_16(ip->total_length) !=
			 sizeof(*ip) + rte_be_to_cpu_16(udp->dgram_len) ||
		 pkt_len < RTE_ETHER_HDR_LEN + (uint32_t)rte_be_to_cpu_16(ip->total_length))
		result_bad(e, wk, msg.step, msg.chunk, "UDP length %u, IPv4 length %u, frame %u",
			   rte_be_to_cpu_16(udp->dgram_len), rte_be_to_cpu_16(ip->total_length),
			   pkt_len);
	else if (h->version != AINFTP_PROTO_VERSION || msg.worker != AINFTP_WORKER_APPLIANCE)
		result_bad(e, wk, msg.step, msg.chunk, "version %u, worker field 0x%x", h->version,
			   msg.worker);
	else if (msg.elems != e->elems || msg.encoding != e->result_enc)
		result_bad(e, wk, msg.step, msg.chunk, "elems %u encoding %u, want %u and %u",
			   msg.elems, msg.encoding, e->elems, e->result_enc);
	else if (msg.flags & AINFTP_F_OVERFLOW)
		result_bad(e, wk, msg.step, msg.chunk, "flagged OVERFLOW");
	else if ((msg.bitmap & ~e->all_bits) != 0 ||
		 (unsigned int)__builtin_popcountll(msg.bitmap) != msg.contributors ||
		 msg.contributors < e->job->straggler.min_quorum)
		result_bad(e, wk, msg.step, msg.chunk,
			   "contributors %u bitmap 0x%" PRIx64
			   ": want a count of the bitmap's bits, within 0x%" PRIx64
			   ", at least min_quorum %u",
			   msg.contributors, msg.bitmap, e->all_bits, e->job->straggler.min_quorum);
	else {
		/* Header, payload and tag, out of the chain (a header mbuf and a shared payload).
		 */
		const uint8_t *body =
			rte_pktmbuf_read(m, EMU_HDRS_LEN - sizeof(*h),
					 sizeof(*h) + e->result_len + tag_len, e->rx_payload);

		got = body + sizeof(*h);
		if (tag_len != 0 && !ainftp_mac_verify(&wk->mk, body, sizeof(*h) + e->result_len,
						       body + sizeof(*h) + e->result_len)) {
			result_bad(e, wk, msg.step, msg.chunk, "the result's tag does not verify");
			goto out;
		}
		r = reference(e, g, msg.bitmap, &want);
		ok = result_compare(e, wk, &msg, got, r, want);
	}
out:
	if (ok) {
		e->rep.results_exact++;
		result_count(e, g, msg.bitmap, now);
	}
	/* The chunk is the worker's no more. */
	rte_pktmbuf_free(wk->out[idx].keep);
	last = --wk->n_out;
	if (idx != last) {
		wk->out[idx] = wk->out[last];
		wk->slot_out[wk->out[idx].slot] = idx;
	}
	wk->slot_out[slot] = EMU_NONE;
	wk->received++;
	return 1;
}

/* What a result taken off the wire is checked against. */
struct emu_rx_ctx {
	const struct ainftp_runtime *rt;
	uint64_t now;
};

/* A result's turn has come: check it, and free it. */
static int
rx_release(struct ainftp_emu *e, void *arg, struct rte_mbuf *m)
{
	const struct emu_rx_ctx *ctx = arg;
	int taken = result_take(e, ctx->rt, m, ctx->now);

	rte_pktmbuf_free(m);
	return taken;
}

/* A received frame through the injected loss, duplication and reordering. */
static int
rx_inject(struct ainftp_emu *e, const struct ainftp_runtime *rt, struct rte_mbuf *m, uint64_t now)
{
	struct emu_rx_ctx ctx = {.rt = rt, .now = now};
	int taken = 0;

	if (chance(e, e->thr_loss)) {
		e->rep.injected_loss++;
		rte_pktmbuf_free(m);
		return 0;
	}
	if (chance(e, e->thr_dup)) {
		e->rep.injected_dup++;
		taken += result_take(e, rt, m, now);
	}
	if (chance(e, e->thr_reorder) && hold_push(e, &e->rx_hold, m)) {
		e->rep.injected_reorder++;
		return taken;
	}
	taken += rx_release(e, &ctx, m);
	/* Frames held back before this one: their turn may have come. */
	return taken + hold_release(e, &e->rx_hold, true, rx_release, &ctx);
}

static int
rx_poll(struct ainftp_emu *e, const struct ainftp_runtime *rt, uint64_t now)
{
	struct emu_rx_ctx ctx = {.rt = rt, .now = now};
	struct rte_mbuf *pkts[EMU_BURST];
	int taken = 0;
	uint16_t q, n, i;

	for (q = 0; q < e->n_a2w; q++) {
		n = rte_eth_rx_burst(e->wrk_port, q, pkts, EMU_BURST);
		for (i = 0; i < n; i++)
			taken += rx_inject(e, rt, pkts[i], now);
	}
	/* Held back in an earlier pass and nothing came after: now. */
	return taken + hold_release(e, &e->rx_hold, false, rx_release, &ctx);
}

/* Packets still held back or staged: freed, the run is over. */
static void
holds_free(struct ainftp_emu *e)
{
	uint16_t lane, i;

	for (lane = 0; lane < e->lanes; lane++) {
		struct emu_lane_tx *t = &e->tx[lane];

		for (i = 0; i < t->hold.n; i++)
			rte_pktmbuf_free(t->hold.h[i].m);
		t->hold.n = 0;
		if (t->n != 0)
			rte_pktmbuf_free_bulk(t->pkts, t->n);
		t->n = 0;
	}
	for (i = 0; i < e->rx_hold.n; i++)
		rte_pktmbuf_free(e->rx_hold.h[i].m);
	e->rx_hold.n = 0;
	for (; e->delay_n != 0; e->delay_n--) {
		rte_pktmbuf_free(e->delay[e->delay_head].m);
		e->delay_head = (e->delay_head + 1) % EMU_DELAY_MAX;
	}
}

/* The frames workers keep for retransmission: the run is over. */
static void
keeps_free(struct ainftp_emu *e)
{
	unsigned int w;
	uint32_t i;

	for (w = 0; w < e->n_workers; w++) {
		struct emu_worker *wk = &e->workers[w];

		for (i = 0; i < wk->n_out; i++) {
			rte_pktmbuf_free(wk->out[i].keep);
			wk->out[i].keep = NULL;
			wk->slot_out[wk->out[i].slot] = EMU_NONE;
		}
		wk->n_out = 0;
	}
}

/* Frames left in the rings: the run is over, nobody takes them. */
static void
rings_drain(struct rte_ring **rings, uint16_t n)
{
	struct rte_mbuf *pkts[EMU_BURST];
	unsigned int k;
	uint16_t i;

	for (i = 0; i < n; i++) {
		if (rings[i] == NULL)
			continue;
		while ((k = rte_ring_dequeue_burst(rings[i], (void **)pkts, EMU_BURST, NULL)) != 0)
			rte_pktmbuf_free_bulk(pkts, k);
	}
}

/* The emulator lcore's loop: runs the workers, then asks the runtime to quit. */
static void
emu_loop(struct ainftp_runtime *rt, unsigned int lcore)
{
	struct ainftp_emu *e = rt->emu;
	uint64_t total = (uint64_t)e->n_workers * e->conf.chunks, taken = 0;
	uint64_t start, now, last_progress, stall, linger, finished = 0;
	int socket = rt->ports[e->port_idx].socket;

	e->hz = rte_get_tsc_hz();
	e->rto_min = e->hz / 1000000 *
		     (e->conf.timeout_us ? e->conf.timeout_us : EMU_DEFAULT_TIMEOUT_US);
	e->rto_cap = RTE_MAX(e->rto_min, e->hz / 1000000 * EMU_RTO_CAP_US);
	e->next_scan = UINT64_MAX;
	stall = e->hz * AINFTP_EMU_STALL_S;
	linger = e->hz / 1000 * e->conf.linger_ms;
	/* Every copy of a result is a header mbuf: all must come back once workers have them. */
	e->rep.pool_in_use_start =
		rt->hdr_pool[socket] != NULL ? rte_mempool_in_use_count(rt->hdr_pool[socket]) : 0;
	AINFTP_LOG(INFO, "lcore %u: %u emulated workers, %" PRIu32 " chunks each, window %u",
		   lcore, e->n_workers, e->conf.chunks, e->window);
	e->delay_cycles = e->hz / 1000 * e->conf.delay_ms;
	/* Held back on request: a consumer of the result sink attaches to the arena first. */
	start = rte_rdtsc();
	while (rte_rdtsc() - start < e->hz / 1000 * e->conf.start_ms && !ainftp_should_quit(rt))
		rte_delay_ms(1);
	start = last_progress = e->start_tsc = rte_rdtsc();
	while (!ainftp_should_quit(rt)) {
		int got;

		now = rte_rdtsc();
		e->pass++;
		got = rx_poll(e, rt, now);
		taken += (uint64_t)got;
		worker_revive(e, now);
		/* Done: every result in but those the killed worker will never take. */
		if (taken + e->rep.skipped >= total && !restarting(e)) {
			/* Every result is in: answer heartbeats a while longer when asked. */
			if (finished == 0)
				finished = now;
			if (now - finished >= linger)
				break;
			lanes_flush(e);
			continue;
		}
		send_new(e, rt, now);
		send_again(e, now);
		delay_release(e, now);
		lanes_flush(e);
		if (got != 0) {
			last_progress = now;
		} else if (now - last_progress > stall) {
			e->rep.stalled = true;
			break;
		}
	}
	now = finished != 0 ? finished : rte_rdtsc();
	e->rep.seconds = (double)(now - start) / (double)e->hz;
	holds_free(e);
	keeps_free(e);
	e->done = true;
	ainftp_request_quit(rt);
}

/* ------------------------------------------------------------ set-up */

/* The role this lcore runs in the appliance (ainftp_runtime.h). */
static const struct ainftp_role emu_role = {.name = "emulator", .loop = emu_loop};

static int
conf_check(const struct ainftp_runtime *rt, const struct ainftp_emu_conf *conf, char *err,
	   size_t errlen)
{
	const struct ainftp_config *cfg = rt->cfg;
	const struct {
		const char *name;
		double p;
	} probs[] = {{"loss", conf->loss}, {"dup", conf->dup}, {"reorder", conf->reorder}};
	const char *role = NULL;
	const struct ainftp_job_conf *job;
	unsigned int i;

	if (rt->emu != NULL) {
		snprintf(err, errlen, "emulator: already attached");
		return -1;
	}
	if (conf->lcore >= RTE_MAX_LCORE || !rte_lcore_is_enabled(conf->lcore)) {
		snprintf(err, errlen,
			 "emulator: lcore %u is not in the EAL core list (-l/-c/--lcores)",
			 conf->lcore);
		return -1;
	}
	/* Roles are given out after the ports are up: the config says who will have one. */
	if (rt->role[conf->lcore] != NULL)
		role = rt->role[conf->lcore]->name;
	else if (conf->lcore == cfg->control_lcore)
		role = "control";
	else if (ainftp_config_is_rx_lcore(cfg, conf->lcore))
		role = "rx";
	if (role != NULL) {
		snprintf(err, errlen, "emulator: lcore %u is already the %s lcore", conf->lcore,
			 role);
		return -1;
	}
	if (conf->job_idx >= cfg->n_jobs) {
		snprintf(err, errlen, "emulator: job index %u is out of range (%u job(s))",
			 conf->job_idx, cfg->n_jobs);
		return -1;
	}
	job = &cfg->jobs[conf->job_idx];
	if (conf->chunks == 0) {
		snprintf(err, errlen, "emulator: chunks must be at least 1");
		return -1;
	}
	if (conf->window > job->slots) {
		snprintf(err, errlen,
			 "emulator: window %u is more than job %" PRIu32 "'s %" PRIu32 " slots",
			 conf->window, job->id, job->slots);
		return -1;
	}
	for (i = 0; i < RTE_DIM(probs); i++) {
		if (!(probs[i].p >= 0.0 && probs[i].p < 1.0)) {
			snprintf(err, errlen, "emulator: %s probability %g is outside [0, 1)",
				 probs[i].name, probs[i].p);
			return -1;
		}
	}
	for (i = 0; i < 2; i++) {
		int id = i == 0 ? conf->delay_worker : conf->kill_worker;
		unsigned int w;

		for (w = 0; id >= 0 && w < job->n_workers && job->workers[w].id != id; w++)
			;
		if (id >= 0 && w == job->n_workers) {
			snprintf(err, errlen, "emulator: job %" PRIu32 " has no worker %d to %s",
				 job->id, id, i == 0 ? "delay" : "kill");
			return -1;
		}
	}
	if (job->quorum != job->n_workers) {
		snprintf(err, errlen,
			 "emulator: job %" PRIu32 " has a quorum of %u for %u workers: the "
			 "emulator checks full sums only",
			 job->id, job->quorum, job->n_workers);
		return -1;
	}
	return 0;
}

static void
emu_free(struct ainftp_emu *e)
{
	uint16_t i;

	if (e->wrk_created) {
		if (e->wrk_started && rte_eth_dev_stop(e->wrk_port) != 0)
			AINFTP_LOG(WARNING, "emulator: cannot stop the workers' port");
		rte_eth_dev_close(e->wrk_port);
		rte_vdev_uninit("net_ring_" EMU_WRK_NAME);
	}
	/* The appliance has closed its side (or never opened it). */
	if (e->app_created)
		rte_vdev_uninit("net_ring_" EMU_APP_NAME);
	/* Our own frames the appliance never took; its results are drained in report. */
	rings_drain(e->w2a, e->lanes);
	for (i = 0; i < e->n_a2w; i++) {
		if (e->a2w[i] != NULL && rte_ring_count(e->a2w[i]) != 0)
			AINFTP_LOG(WARNING, "emulator: %u results left in ring %u, not freed",
				   rte_ring_count(e->a2w[i]), i);
		rte_ring_free(e->a2w[i]);
	}
	for (i = 0; i < e->lanes; i++)
		rte_ring_free(e->w2a[i]);
	rte_mempool_free(e->pool);
	if (e->workers != NULL) {
		rte_free(e->workers[0].slot_out);
		rte_free(e->workers[0].out);
	}
	rte_free(e->workers);
	rte_free(e->x);
	rte_free(e->q16);
	rte_free(e->payload);
	rte_free(e->wq);
	rte_free(e->wexp);
	rte_free(e->rx_payload);
	rte_free(e->ref_sum);
	rte_free(e->ref_E);
	rte_free(e->ref);
	rte_free(e->ref_payload);
	rte_free(e->rtx_g1);
	rte_free(e->sent_g1);
	rte_free(e->sent_tsc);
	rte_free(e->delay);
	rte_free(e->seen_g1);
	rte_free(e);
}

static void *
zalloc(size_t n, size_t size, int socket, bool *failed)
{
	void *p = rte_zmalloc_socket("ainftp_emu", RTE_MAX(n * size, (size_t)1),
				     RTE_CACHE_LINE_SIZE, socket);

	*failed |= p == NULL;
	return p;
}

/* The job as the workers see it, and everything the loop needs, allocated now. */
static int
emu_state_init(struct ainftp_emu *e, const struct ainftp_runtime *rt, char *err, size_t errlen)
{
	const struct ainftp_job_conf *job = e->job;
	unsigned int w, i;
	uint32_t *slot_out;
	struct emu_out *out;
	bool failed = false;

	e->n_workers = job->n_workers;
	e->slots = job->slots;
	e->window = e->conf.window ? e->conf.window : job->slots;
	e->cps = e->conf.chunks_per_step ? e->conf.chunks_per_step : e->conf.chunks;
	e->elems = job->elems_per_packet;
	e->blocks = ainftp_blocks(e->elems);
	e->wire_enc = ainftp_wire_encoding(job->encoding);
	e->result_enc = ainftp_wire_encoding(job->result_encoding);
	/*
	 * Exponents of one block must stay within 63 - 6 - qbits of each other for
	 * an exact sum: 42 for int16, 50 for int8, 26 for float32, whose blocks
	 * spread over 2 * u_range + 3 (per-block offsets) + 1.
	 */
	e->qbits = e->wire_enc == AINFTP_WIRE_INT16  ? AINFTP_QBITS_INT16
		   : e->wire_enc == AINFTP_WIRE_INT8 ? AINFTP_QBITS_INT8
						     : AINFTP_QBITS_FLOAT32;
	e->u_range = e->wire_enc == AINFTP_WIRE_FLOAT32 ? 10 : 12;
	e->payload_len = (uint32_t)ainftp_payload_len(e->wire_enc, e->elems);
	e->result_len = (uint32_t)ainftp_payload_len(e->result_enc, e->elems);
	e->frame_len = (uint32_t)EMU_HDRS_LEN + e->payload_len + (job->auth ? AINFTP_TAG_LEN : 0);
	/*
	 * The workers quantize with the next narrower kernels than the appliance
	 * sums with (AVX2 beside AVX-512, scalar beside AVX2), so a run checks one
	 * set against the other as well as the data path.
	 */
	e->ops = ainftp_quant_select(rt->simd_bits > 256 ? 256 : 0);
	e->rng = mix3(e->conf.seed, 0x5eed, 0x1u) | 1;
	e->thr_loss = prob_threshold(e->conf.loss);
	e->thr_dup = prob_threshold(e->conf.dup);
	e->thr_reorder = prob_threshold(e->conf.reorder);
	e->rep.workers = e->n_workers;
	e->rep.chunks = e->conf.chunks;
	e->rep.partial_last = e->rep.full_last = e->rep.rejoin_at = -1;
	e->rep.first_partial_after_ms = -1;
	/* A reference per slot in flight; fewer only costs recomputing one. */
	e->ref_n = RTE_MIN(e->slots, 2 * e->window);

	e->workers = zalloc(e->n_workers, sizeof(*e->workers), e->socket, &failed);
	slot_out = zalloc((size_t)e->n_workers * e->slots, sizeof(*slot_out), e->socket, &failed);
	out = zalloc((size_t)e->n_workers * e->window, sizeof(*out), e->socket, &failed);
	e->x = zalloc(e->elems, sizeof(float), e->socket, &failed);
	e->q16 = zalloc(e->elems, sizeof(int16_t), e->socket, &failed);
	e->payload = zalloc(e->payload_len, 1, e->socket, &failed);
	e->wq = zalloc((size_t)e->n_workers * e->elems, sizeof(int64_t), e->socket, &failed);
	e->wexp = zalloc((size_t)e->n_workers * e->blocks, sizeof(int32_t), e->socket, &failed);
	e->rx_payload = zalloc(sizeof(struct ainftp_hdr) + e->result_len + AINFTP_TAG_LEN, 1,
			       e->socket, &failed);
	e->ref_sum = zalloc(e->elems, sizeof(emu_i128), e->socket, &failed);
	e->ref_E = zalloc(e->blocks, sizeof(int32_t), e->socket, &failed);
	e->ref = zalloc(e->ref_n, sizeof(*e->ref), e->socket, &failed);
	e->ref_payload = zalloc((size_t)e->ref_n * e->result_len, 1, e->socket, &failed);
	e->rtx_g1 = zalloc(e->slots, sizeof(*e->rtx_g1), e->socket, &failed);
	e->sent_g1 = zalloc(e->slots, sizeof(*e->sent_g1), e->socket, &failed);
	e->sent_tsc = zalloc(e->slots, sizeof(*e->sent_tsc), e->socket, &failed);
	if (e->conf.delay_worker >= 0)
		e->delay = zalloc(EMU_DELAY_MAX, sizeof(*e->delay), e->socket, &failed);
	if (e->conf.kill_worker >= 0)
		e->seen_g1 = zalloc(e->slots, sizeof(*e->seen_g1), e->socket, &failed);
	if (e->workers != NULL) {
		e->workers[0].slot_out = slot_out;
		e->workers[0].out = out;
	} else {
		rte_free(slot_out);
		rte_free(out);
	}
	if (failed) {
		snprintf(err, errlen, "emulator: cannot allocate its state for %u workers",
			 e->n_workers);
		return -1;
	}
	for (i = 0; i < e->ref_n; i++)
		e->ref[i].g = UINT64_MAX;
	for (w = 0; w < e->n_workers; w++) {
		struct emu_worker *wk = &e->workers[w];
		const struct ainftp_worker_conf *wc = &job->workers[w];
		uint32_t h;

		wk->id = wc->id;
		wk->ipv4 = wc->ipv4;
		if (ainftp_mac_key_init(&wk->mk, wc->key) != 0) {
			snprintf(err, errlen, "emulator: libsodium cannot initialise");
			return -1;
		}
		wk->udp_port = (uint16_t)(EMU_WORKER_UDP_BASE + wc->id);
		memset(&wk->mac, 0, sizeof(wk->mac));
		wk->mac.addr_bytes[0] = 0x02;
		wk->mac.addr_bytes[5] = (uint8_t)(EMU_WORKER_MAC_BASE + wc->id);
		wk->slot_out = slot_out + (size_t)w * e->slots;
		wk->out = out + (size_t)w * e->window;
		for (i = 0; i < e->slots; i++)
			wk->slot_out[i] = EMU_NONE;
		e->all_bits |= UINT64_C(1) << wc->id;
		h = (rte_be_to_cpu_32(wc->ipv4) * 2654435761u) >> 24;
		while (e->ip_index[h & 255] != 0)
			h++;
		e->ip_index[h & 255] = (uint8_t)(w + 1);
	}
	(void)rt;
	return 0;
}

static int
emu_rings_create(struct ainftp_emu *e, char *err, size_t errlen)
{
	/* Every worker's whole window, twice over for duplicates and retransmissions. */
	uint32_t need = rte_align32pow2((uint32_t)e->n_workers * e->window * 2 + 1);
	uint32_t size =
		RTE_MIN(RTE_MAX((uint32_t)EMU_RING_SIZE, need), (uint32_t)EMU_RING_SIZE_MAX);
	char name[RTE_RING_NAMESIZE];
	unsigned int flags = RING_F_SP_ENQ | RING_F_SC_DEQ; /* one lcore at each end */
	uint16_t i;

	for (i = 0; i < e->lanes; i++) {
		snprintf(name, sizeof(name), "emu_w2a_%u", i);
		e->w2a[i] = rte_ring_create(name, size, e->socket, flags);
		if (e->w2a[i] == NULL)
			goto fail;
	}
	for (i = 0; i < e->n_a2w; i++) {
		snprintf(name, sizeof(name), "emu_a2w_%u", i);
		e->a2w[i] = rte_ring_create(name, size, e->socket, flags);
		if (e->a2w[i] == NULL)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "emulator: cannot create ring %s of %u: %s", name, size,
		 rte_strerror(rte_errno));
	return -1;
}

static int
emu_pool_create(struct ainftp_emu *e, char *err, size_t errlen)
{
	/*
	 * Every window's kept frames and two copies of each in flight (a
	 * retransmission, a duplicate), the rings toward the appliance full, the
	 * held-back and staged frames, and the lcores' caches.
	 */
	uint64_t n = (uint64_t)e->n_workers * e->window * 3 +
		     (uint64_t)e->lanes * rte_ring_get_size(e->w2a[0]) +
		     (uint64_t)e->lanes * (EMU_BURST + EMU_HOLD_MAX) +
		     2 * EMU_POOL_CACHE * (rte_lcore_count() + 1);
	uint32_t room = RTE_MAX(e->frame_len, (uint32_t)RTE_ETHER_MIN_LEN) + RTE_PKTMBUF_HEADROOM;

	n = rte_align64pow2(n + 1) - 1;
	e->pool = rte_pktmbuf_pool_create("emu_pool", (unsigned int)n, EMU_POOL_CACHE, 0,
					  (uint16_t)room, e->socket);
	if (e->pool == NULL) {
		snprintf(err, errlen,
			 "emulator: cannot create %" PRIu64 " mbufs of %u bytes: %s (raise -m)", n,
			 room, rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static int
emu_ports_create(struct ainftp_emu *e, char *err, size_t errlen)
{
	struct rte_eth_conf conf;
	const char *step = "create";
	uint16_t q;
	int ret;

	ret = rte_eth_from_rings(EMU_APP_NAME, e->w2a, e->lanes, e->a2w, e->n_a2w,
				 (unsigned int)e->socket);
	if (ret < 0) {
		snprintf(err, errlen, "emulator: cannot create net_ring_" EMU_APP_NAME ": %s",
			 rte_strerror(rte_errno));
		return -1;
	}
	e->app_port = (uint16_t)ret;
	e->app_created = true;
	ret = rte_eth_from_rings(EMU_WRK_NAME, e->a2w, e->n_a2w, e->w2a, e->lanes,
				 (unsigned int)e->socket);
	if (ret < 0) {
		snprintf(err, errlen, "emulator: cannot create net_ring_" EMU_WRK_NAME ": %s",
			 rte_strerror(rte_errno));
		return -1;
	}
	e->wrk_port = (uint16_t)ret;
	e->wrk_created = true;

	memset(&conf, 0, sizeof(conf));
	ret = rte_eth_dev_configure(e->wrk_port, e->n_a2w, e->lanes, &conf);
	for (q = 0; ret == 0 && q < e->n_a2w; q++) {
		step = "set up an RX queue of";
		ret = rte_eth_rx_queue_setup(e->wrk_port, q, AINFTP_DEFAULT_DESC, e->socket, NULL,
					     e->pool);
	}
	for (q = 0; ret == 0 && q < e->lanes; q++) {
		step = "set up a TX queue of";
		ret = rte_eth_tx_queue_setup(e->wrk_port, q, AINFTP_DEFAULT_DESC, e->socket, NULL);
	}
	if (ret == 0) {
		step = "start";
		ret = rte_eth_dev_start(e->wrk_port);
	}
	if (ret != 0) {
		snprintf(err, errlen, "emulator: cannot %s net_ring_" EMU_WRK_NAME ": %s", step,
			 rte_strerror(-ret));
		return -1;
	}
	e->wrk_started = true;
	return 0;
}

int
ainftp_emu_attach(struct ainftp_runtime *rt, const struct ainftp_emu_conf *conf, char *err,
		  size_t errlen)
{
	const struct ainftp_config *cfg = rt->cfg;
	struct ainftp_emu *e;
	uint16_t idx;
	int socket;

	if (conf_check(rt, conf, err, errlen) != 0)
		return -1;
	idx = emu_job_port(cfg, conf->job_idx);
	socket = (int)rte_lcore_to_socket_id(conf->lcore);
	e = rte_zmalloc_socket("ainftp_emu", sizeof(*e), RTE_CACHE_LINE_SIZE, socket);
	if (e == NULL) {
		snprintf(err, errlen, "emulator: cannot allocate its state");
		return -1;
	}
	e->conf = *conf;
	e->socket = socket;
	e->port_idx = idx;
	e->job = &cfg->jobs[conf->job_idx];
	e->lanes = cfg->ports[idx].rx_queues;
	e->n_a2w = RTE_MAX(cfg->ports[idx].tx_queues, ainftp_config_tx_queues_needed(cfg));
	if (emu_state_init(e, rt, err, errlen) != 0 || emu_rings_create(e, err, errlen) != 0 ||
	    emu_pool_create(e, err, errlen) != 0 || emu_ports_create(e, err, errlen) != 0) {
		emu_free(e);
		return -1;
	}
	rt->ports[idx].port_id = e->app_port;
	rt->ports[idx].preset = true;
	rt->role[conf->lcore] = &emu_role;
	rt->emu = e;
	AINFTP_LOG(INFO,
		   "emulator: job %" PRIu32 " on lcore %u: %u workers, %u lane(s), %u result "
		   "queue(s), window %u",
		   e->job->id, conf->lcore, e->n_workers, e->lanes, e->n_a2w, e->window);
	return 0;
}

void
ainftp_emu_detach(struct ainftp_runtime *rt)
{
	struct ainftp_emu *e = rt->emu;

	if (e == NULL)
		return;
	rt->emu = NULL;
	if (rt->role[e->conf.lcore] == &emu_role)
		rt->role[e->conf.lcore] = NULL;
	emu_free(e);
}

/* ------------------------------------------------------------ report */

/*
 * The results by contributors, for the summary line: " partial=P by_count=C:n,..
 * absent=ID:n,.. partial_last=G full_last=G first_partial_after_ms=T skipped=S
 * rejoin_at=G full_after_rejoin=n" (counts of exact results; lists without zeros,
 * "-" when empty).
 */
static void
quorum_summary(const struct ainftp_emu *e, const struct ainftp_emu_report *rep, char *buf,
	       size_t len)
{
	size_t n;
	unsigned int i;
	const char *sep = "";

	n = (size_t)snprintf(buf, len, " partial=%" PRIu64 " by_count=", rep->results_partial);
	for (i = AINFTP_MAX_WORKERS + 1; i-- > 0 && n < len;) {
		if (rep->by_count[i] == 0)
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%u:%" PRIu64, sep, i, rep->by_count[i]);
		sep = ",";
	}
	if (n < len && sep[0] == '\0')
		n += (size_t)snprintf(buf + n, len - n, "-");
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n, " absent=");
	sep = "";
	for (i = 0; i < e->n_workers && n < len; i++) {
		if (rep->absent[i] == 0)
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%u:%" PRIu64, sep, e->workers[i].id,
				      rep->absent[i]);
		sep = ",";
	}
	if (n < len && sep[0] == '\0')
		n += (size_t)snprintf(buf + n, len - n, "-");
	if (n < len)
		snprintf(buf + n, len - n,
			 " partial_last=%" PRId64 " full_last=%" PRId64
			 " first_partial_after_ms=%.1f skipped=%" PRIu64 " rejoin_at=%" PRId64
			 " full_after_rejoin=%" PRIu64,
			 rep->partial_last, rep->full_last, rep->first_partial_after_ms,
			 rep->skipped, rep->rejoin_at, rep->full_after_rejoin);
}

bool
ainftp_emu_report(struct ainftp_runtime *rt, struct ainftp_emu_report *rep, FILE *out)
{
	struct ainftp_emu *e = rt->emu;
	uint64_t want;
	char reason[320] = "";
	bool pass;
	int socket;

	memset(rep, 0, sizeof(*rep));
	if (e == NULL) {
		if (out != NULL)
			fprintf(out, "emulator: not attached: FAIL\n");
		return false;
	}
	socket = rt->ports[e->port_idx].socket;
	/* Every lcore has stopped: what is left in flight goes back to its pool now. */
	holds_free(e);
	rings_drain(e->a2w, e->n_a2w);
	rings_drain(e->w2a, e->lanes);
	*rep = e->rep;
	rep->slots_busy = ainftp_dp_slots_busy(rt);
	rep->pool_in_use_end =
		rt->hdr_pool[socket] != NULL ? rte_mempool_in_use_count(rt->hdr_pool[socket]) : 0;
	e->emu_pool_in_use_end = rte_mempool_in_use_count(e->pool);

	if (e->fault_tsc != 0 && e->first_partial_tsc != 0)
		rep->first_partial_after_ms =
			e->first_partial_tsc > e->fault_tsc
				? (double)(e->first_partial_tsc - e->fault_tsc) * 1e3 /
					  (double)e->hz
				: 0.0;
	/* Every worker's every chunk, but those the killed worker never sent or took. */
	want = (uint64_t)rep->workers * rep->chunks - rep->skipped;
	if (!e->done)
		snprintf(reason, sizeof(reason), "the emulator never ran to its end");
	else if (rep->stalled)
		snprintf(reason, sizeof(reason), "stalled: no result for %d s", AINFTP_EMU_STALL_S);
	else if (rep->results_checked != want)
		snprintf(reason, sizeof(reason), "%" PRIu64 " results checked, want %" PRIu64,
			 rep->results_checked, want);
	else if (rep->results_exact != want)
		snprintf(reason, sizeof(reason), "%" PRIu64 " results not exact",
			 want - rep->results_exact);
	else if (e->addr_errors != 0 || e->bad_results != 0)
		snprintf(reason, sizeof(reason),
			 "%" PRIu64 " results misaddressed, %" PRIu64 " for chunks never sent",
			 e->addr_errors, e->bad_results);
	else if (rep->slots_busy != 0)
		snprintf(reason, sizeof(reason), "%u slots still busy", rep->slots_busy);
	else if (rep->pool_in_use_end != rep->pool_in_use_start)
		snprintf(reason, sizeof(reason),
			 "result header pool: %u mbufs in use, %u at the start",
			 rep->pool_in_use_end, rep->pool_in_use_start);
	else if (e->emu_pool_in_use_end != 0)
		snprintf(reason, sizeof(reason), "%u of the workers' mbufs never came back",
			 e->emu_pool_in_use_end);
	pass = reason[0] == '\0';
	if (out != NULL) {
		char quorum[512];

		quorum_summary(e, rep, quorum, sizeof(quorum));
		fprintf(out,
			"emulator: details: duplicates_ignored=%" PRIu64 " misaddressed=%" PRIu64
			" bad=%" PRIu64 " stray=%" PRIu64 " tx_full=%" PRIu64 " nombuf=%" PRIu64
			" srtt_us=%.1f worker_pool_in_use=%u early=%" PRIu64 " dead_drops=%" PRIu64
			" delayed=%" PRIu64 " delay_full=%" PRIu64 "%s%s\n",
			e->results_ignored, e->addr_errors, e->bad_results, e->stray, e->tx_full,
			e->nombuf, e->hz ? (double)e->srtt * 1e6 / (double)e->hz : 0.0,
			e->emu_pool_in_use_end, e->results_early, e->dead_drops, rep->delayed,
			rep->delay_full, e->first_bad[0] ? " first_error=" : "", e->first_bad);
		fprintf(out,
			"emulator: workers=%u chunks=%" PRIu64 " results_checked=%" PRIu64
			" exact=%" PRIu64 " retransmits=%" PRIu64 " loss=%" PRIu64 " dup=%" PRIu64
			" reorder=%" PRIu64
			" slots_busy=%u pool_in_use=%u->%u seconds=%.2f heartbeats=%" PRIu64
			" unanswered=%" PRIu64 "%s: %s%s%s\n",
			rep->workers, rep->chunks, rep->results_checked, rep->results_exact,
			rep->retransmits, rep->injected_loss, rep->injected_dup,
			rep->injected_reorder, rep->slots_busy, rep->pool_in_use_start,
			rep->pool_in_use_end, rep->seconds, rep->heartbeats,
			rep->heartbeats_unanswered, quorum, pass ? "PASS" : "FAIL (", reason,
			pass ? "" : ")");
		fflush(out);
	}
	return pass;
}
