/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The emulator's link (emu_private.h): the ring pair between the workers and
 * the appliance, and what it does to frames on the way: loss, duplication and
 * reordering injected in both directions, the straggler's delay line, and the
 * workers' TX lanes flushed in bursts.
 */

#include <inttypes.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "ainftp_log.h"
#include "emu_private.h"

/* ---------------------------------------------------------------- PRNG */

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

static inline bool
chance(struct ainftp_emu *e, uint64_t thr)
{
	return thr != 0 && xorshift64s(&e->rng) < thr;
}

/* ----------------------------------------------------- worker -> appliance */

static void
lane_flush(struct ainftp_emu *e, uint16_t lane)
{
	struct emu_lane_tx *t = &e->tx[lane];
	uint16_t sent;

	if (t->n == 0)
		return;
	sent = rte_eth_tx_burst(e->rp.peer_port, lane, t->pkts, t->n);
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
void
emu_send(struct ainftp_emu *e, uint16_t lane, struct rte_mbuf *m)
{
	struct rte_mbuf *copy = NULL;

	if (chance(e, e->thr_loss)) {
		e->rep.injected_loss++;
		/* Lost DATA: what retransmissions must make up for (the rest, probes and acks). */
		e->data_lost += rte_pktmbuf_mtod_offset(m, const struct ainftp_hdr *,
							EMU_HDRS_LEN - sizeof(struct ainftp_hdr))
					->type == AINFTP_MSG_DATA;
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
void
emu_lanes_flush(struct ainftp_emu *e)
{
	uint16_t lane;

	for (lane = 0; lane < e->lanes; lane++) {
		hold_release(e, &e->tx[lane].hold, false, tx_release, &lane);
		lane_flush(e, lane);
	}
}

/* Into the straggler's delay line; a full line loses the frame (counted). */
void
emu_delay_push(struct ainftp_emu *e, uint16_t lane, struct rte_mbuf *m, uint64_t now)
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
void
emu_delay_release(struct ainftp_emu *e, uint64_t now)
{
	while (e->delay_n != 0 && e->delay[e->delay_head].due <= now) {
		const struct emu_delayed *d = &e->delay[e->delay_head];

		emu_send(e, d->lane, d->m);
		e->delay_head = (e->delay_head + 1) % EMU_DELAY_MAX;
		e->delay_n--;
	}
}

/* ---------------------------------------------------- appliance -> worker */

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
	int taken = emu_result_take(e, ctx->rt, m, ctx->now);

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
		taken += emu_result_take(e, rt, m, now);
	}
	if (chance(e, e->thr_reorder) && hold_push(e, &e->rx_hold, m)) {
		e->rep.injected_reorder++;
		return taken;
	}
	taken += rx_release(e, &ctx, m);
	/* Frames held back before this one: their turn may have come. */
	return taken + hold_release(e, &e->rx_hold, true, rx_release, &ctx);
}

int
emu_rx_poll(struct ainftp_emu *e, const struct ainftp_runtime *rt, uint64_t now)
{
	struct emu_rx_ctx ctx = {.rt = rt, .now = now};
	struct rte_mbuf *pkts[EMU_BURST];
	int taken = 0;
	uint16_t q, n, i;

	for (q = 0; q < e->n_a2w; q++) {
		n = rte_eth_rx_burst(e->rp.peer_port, q, pkts, EMU_BURST);
		for (i = 0; i < n; i++)
			taken += rx_inject(e, rt, pkts[i], now);
	}
	/* Held back in an earlier pass and nothing came after: now. */
	return taken + hold_release(e, &e->rx_hold, false, rx_release, &ctx);
}

/* ------------------------------------------------------- the end of a run */

/* Packets still held back or staged: freed, the run is over. */
void
emu_holds_free(struct ainftp_emu *e)
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

/* ----------------------------------------------------------------- set-up */

static int
emu_pool_create(struct ainftp_emu *e, char *err, size_t errlen)
{
	/*
	 * Every window's kept frames and two copies of each in flight (a
	 * retransmission, a duplicate), the rings toward the appliance full, the
	 * held-back and staged frames, and the lcores' caches.
	 */
	uint64_t n = (uint64_t)e->n_workers * e->window * 3 +
		     (uint64_t)e->lanes * rte_ring_get_size(e->rp.in[0]) +
		     (uint64_t)e->lanes * (EMU_BURST + EMU_HOLD_MAX) +
		     2 * EMU_POOL_CACHE * (rte_lcore_count() + 1);
	uint32_t room = RTE_MAX(e->frame_len, (uint32_t)RTE_ETHER_MIN_LEN) + RTE_PKTMBUF_HEADROOM;

	n = rte_align64pow2(n + 1) - 1;
	e->pool = rte_pktmbuf_pool_create("emu_pool", (unsigned int)n, EMU_POOL_CACHE, 0,
					  (uint16_t)room, e->socket);
	if (e->pool == NULL) {
		snprintf(err, errlen, "cannot create %" PRIu64 " mbufs of %u bytes: %s (raise -m)",
			 n, room, rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

int
emu_link_create(struct ainftp_emu *e, char *err, size_t errlen)
{
	/* Every worker's whole window, twice over for duplicates and retransmissions. */
	uint32_t need = rte_align32pow2((uint32_t)e->n_workers * e->window * 2 + 1);
	uint32_t size =
		RTE_MIN(RTE_MAX((uint32_t)EMU_RING_SIZE, need), (uint32_t)EMU_RING_SIZE_MAX);
	char why[256];

	if (ainftp_ringpair_create(&e->rp, "emu", e->lanes, e->n_a2w, size, e->socket, why,
				   sizeof(why)) != 0 ||
	    emu_pool_create(e, why, sizeof(why)) != 0 ||
	    ainftp_ringpair_app_port(&e->rp, EMU_APP_NAME, why, sizeof(why)) < 0 ||
	    ainftp_ringpair_peer_port(&e->rp, EMU_WRK_NAME, e->pool, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "emulator: %s", why);
		return -1;
	}
	return 0;
}

void
emu_link_free(struct ainftp_emu *e)
{
	uint16_t i;

	/* Our own frames the appliance never took; its results are drained in report. */
	ainftp_ringpair_drain(&e->rp, AINFTP_RINGPAIR_IN);
	for (i = 0; i < e->rp.n_txq; i++)
		if (rte_ring_count(e->rp.out[i]) != 0)
			AINFTP_LOG(WARNING, "emulator: %u results left in ring %u, not freed",
				   rte_ring_count(e->rp.out[i]), i);
	ainftp_ringpair_free(&e->rp);
	rte_mempool_free(e->pool);
}
