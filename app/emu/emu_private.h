/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The emulator's own state and what its files share (ainftp_emu.h is the
 * app's view). Two ring ethdevs are cross-connected: the appliance's side
 * ("net_ring_emu_app") takes the place of the job's port, and the workers'
 * side ("net_ring_emu_wrk") is driven by one lcore that runs every worker of
 * the job:
 *
 *   worker TX queue k --(w2a ring k)--> appliance RX queue k    (k: lane, L of them)
 *   worker RX queue q <--(a2w ring q)-- appliance TX queue q    (q: one per sending lcore)
 *
 * The rings are an ainftp_ringpair: w2a is its in[], a2w its out[]. Each
 * worker streams its chunks with a window and, on a timeout, asks the box with
 * a PROBE before it sends any data again (protocol v2): it resends a chunk's
 * data only when a STATE says the box misses it. It verifies every result's
 * tag and checks every result bit for bit against a reference computed here
 * from the same quantized integers, without the library's accumulator.
 *
 *   emu.c         state, attach and detach, the loop, sending, taking results
 *   emu_retx.c    timeouts, PROBEs and the box's STATE answers: the retransmission
 *                 economy
 *   emu_ref.c     the oracle: gradients, payloads made and decoded, reference sums
 *   emu_link.c    rings and ports, injected loss, duplication, reordering and
 *                 delay, held-back frames, lane flushes
 *   emu_report.c  the report and its summary lines
 */
#ifndef AINFTP_EMU_PRIVATE_H
#define AINFTP_EMU_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "ainftp_emu.h"
#include "ainftp_proto.h"
#include "ainftp_quant.h"
#include "ainftp_ringpair.h"

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
	uint32_t tries; /* timeouts so far (each a probe or, after AHEAD, the data) */
	/* PROBEs since the data last went, without an answer yet; and answers still due to
	 * probes sent before it, which the box took before that data (one lane is FIFO): a
	 * MISSING among them is stale and must not send the data once more. */
	uint16_t probes_out, stale_answers;
	bool resend;	       /* the box said AHEAD: the next timeout sends the data */
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
	int socket;
	uint16_t lanes; /* L: w2a rings, appliance RX queues */
	uint16_t n_a2w; /* T: a2w rings, appliance TX queues */
	/* rp.in[k]: w2a ring k, rp.out[q]: a2w ring q; rp.peer_port: the workers' port. */
	struct ainftp_ringpair rp;
	struct rte_mempool *pool;

	/* The job, as the workers see it. */
	const struct ainftp_job_conf *job;
	uint16_t n_workers;
	uint32_t window;
	uint32_t slots;
	uint32_t cps; /* chunks per step */
	uint32_t elems, blocks;
	const struct ainftp_codec *codec, *rcodec; /* of contributions, of results */
	int qbits;				   /* of a contribution's integers */
	int u_range;				   /* gradients' magnitudes: 2^u, |u| <= u_range */
	uint32_t payload_len, result_len, frame_len;
	uint64_t all_bits;	 /* the bitmap a complete result carries */
	struct ainftp_kernels k; /* the workers' quantization kernels */
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
	uint64_t bad_tags;	/* results and STATEs whose tag is missing or wrong: dropped */
	uint64_t states[AINFTP_STATE_REASON_MAX]; /* STATEs for an outstanding chunk, by reason */
	uint64_t states_late;			  /* STATEs for a chunk no longer outstanding */
	uint64_t states_unasked; /* MISSING ignored: a duplicate, or older than the data's last send
				  */
	uint64_t bad_states;	 /* STATEs malformed, or failing their tag */
	uint64_t data_lost;	 /* of the injected losses, DATA frames */
	uint64_t tx_full, nombuf;
	char first_bad[256];
	unsigned int emu_pool_in_use_end;
};

/* ---------------------------------------------------------------- PRNG */

static inline uint64_t
emu_splitmix64(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static inline uint64_t
emu_mix3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t s = a ^ (b * UINT64_C(0xd6e8feb86659fd93)) ^ (c * UINT64_C(0xa0761d6478bd642f));

	emu_splitmix64(&s);
	return emu_splitmix64(&s);
}

static inline uint32_t
emu_chunk_step(const struct ainftp_emu *e, uint64_t g)
{
	return (uint32_t)(g / e->cps);
}

static inline uint32_t
emu_chunk_index(const struct ainftp_emu *e, uint64_t g)
{
	return (uint32_t)(g % e->cps);
}

static inline uint32_t
emu_chunk_slot(const struct ainftp_emu *e, uint64_t g)
{
	return emu_chunk_index(e, g) % e->slots;
}

/* Worker index w is one of the result's contributors (its bitmap says so). */
static inline bool
emu_in_sum_bits(const struct ainftp_emu *e, uint64_t bitmap, unsigned int w)
{
	return (bitmap >> e->workers[w].id) & 1;
}

static inline bool
emu_in_sum(const struct ainftp_emu *e, const struct emu_ref *r, unsigned int w)
{
	return emu_in_sum_bits(e, r->bitmap, w);
}

/* Worker w's frames of chunk g leave through the straggler's delay line. */
static inline bool
emu_delayed(const struct ainftp_emu *e, unsigned int w, uint64_t g)
{
	return e->delay != NULL && (int)e->workers[w].id == e->conf.delay_worker &&
	       g >= e->conf.delay_from;
}

/* ---------------------------------------------------------- emu_ref.c */

/* Worker w's payload for chunk g, as it goes on the wire; the int16 exponent in *se. */
void emu_payload_make(struct ainftp_emu *e, unsigned int w, uint64_t g, uint8_t *out, int8_t *se);

/*
 * The result every worker must get for chunk g: the sum of the payloads of the
 * workers the result's bitmap names; its payload in *payload.
 */
const struct emu_ref *emu_reference(struct ainftp_emu *e, uint64_t g, uint64_t bitmap,
				    const uint8_t **payload);

/* The payload against the reference: true when every bit is equal. */
bool emu_result_compare(struct ainftp_emu *e, const struct emu_worker *wk,
			const struct ainftp_msg *msg, const uint8_t *got, const struct emu_ref *r,
			const uint8_t *want);

/* --------------------------------------------------------- emu_link.c */

/* A worker's packet to the appliance, through the injected loss, duplication, reordering. */
void emu_send(struct ainftp_emu *e, uint16_t lane, struct rte_mbuf *m);

/* End of a pass: what was held back in an earlier pass and nothing followed goes now. */
void emu_lanes_flush(struct ainftp_emu *e);

/* Into the straggler's delay line; a full line loses the frame (counted). */
void emu_delay_push(struct ainftp_emu *e, uint16_t lane, struct rte_mbuf *m, uint64_t now);

/* The straggler's frames whose time has come, in the order it sent them. */
void emu_delay_release(struct ainftp_emu *e, uint64_t now);

/* The frames from the appliance, through the injections: how many were new results. */
int emu_rx_poll(struct ainftp_emu *e, const struct ainftp_runtime *rt, uint64_t now);

/* Packets still held back or staged: freed, the run is over. */
void emu_holds_free(struct ainftp_emu *e);

/*
 * At attach: the ring pair, the workers' pool and both ports, the appliance's
 * left for ainftp_ports_setup. 0, or -1 with a line.
 */
int emu_link_create(struct ainftp_emu *e, char *err, size_t errlen);

/* At detach: the ports, the rings and the pool, after the appliance closed its port. */
void emu_link_free(struct ainftp_emu *e);

/* -------------------------------------------------------------- emu.c */

/* One frame from the appliance; returns 1 when it was a new result for a worker. */
int emu_result_take(struct ainftp_emu *e, const struct ainftp_runtime *rt, const struct rte_mbuf *m,
		    uint64_t now);

/* Worker w's frame m of chunk g (DATA or PROBE) toward the box: late for the straggler. */
void emu_frame_route(struct ainftp_emu *e, unsigned int w, uint64_t g, struct rte_mbuf *m,
		     uint32_t slot, uint64_t now);

/* The chunk at wk->out[idx], on slot, is the worker's no more: its kept frame freed. */
void emu_out_release(struct emu_worker *wk, uint32_t idx, uint32_t slot);

/* A frame from the appliance, its headers read out of its chain (into hbuf when split). */
struct emu_rx_frame {
	uint8_t hbuf[EMU_HDRS_LEN];
	const struct rte_ether_hdr *eth;
	const struct rte_ipv4_hdr *ip;
	const struct rte_udp_hdr *udp;
	const struct ainftp_hdr *h;
	struct ainftp_msg msg;
	uint32_t pkt_len;
};

/* ------------------------------------------------------------ emu_retx.c */

/* The outstanding chunks whose timer ran out: a PROBE each (the data after AHEAD). */
void emu_timeouts(struct ainftp_emu *e, const struct ainftp_runtime *rt, uint64_t now);

/* A STATE from the box to worker wk (frame m, headers in f): acted on, or counted. */
void emu_state_take(struct ainftp_emu *e, struct emu_worker *wk, const struct rte_mbuf *m,
		    const struct emu_rx_frame *f, uint64_t now);

/* ------------------------------------------------------- emu_report.c */

/* The first wrong result, for the report's details line; later ones are only counted. */
void emu_result_bad(struct ainftp_emu *e, const struct emu_worker *wk, uint32_t step,
		    uint32_t chunk, const char *fmt, ...) __rte_format_printf(5, 6);

/* An exact result, by its contributors: how many, who was left out, when. */
void emu_result_count(struct ainftp_emu *e, uint64_t g, uint64_t bitmap, uint64_t now);

#endif
