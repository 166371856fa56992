/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_SINK_SWEEP_H
#define AINFTP_SINK_SWEEP_H

/*
 * A consumer's sweep of one job's marks, driven by the doorbells (docs/SINK.md,
 * "Sweeping"). The GPU consumer (gpu/ainftp_consumer.cu, a warp reading a
 * window of marks at once) and ainftp-sink-follow (tools/sink_follow.c, one
 * at a time) share this bookkeeping, so the host tests the GPU's rules.
 *
 * Groups: the slots each RX lcore writes (ainftp_sink_owns), each driven by
 * that lcore's doorbell alone; in an arena that does not say who writes what,
 * one group of every slot driven by the sum of the doorbells. In a group, the
 * slots are in slot order, which is the order their results come in (chunk c
 * lands on slot c % n_slots, and each lane's chunks complete nearly in order).
 *
 * Per group: pend counts the results rung and not yet found (below zero: found
 * before their doorbell was rung, as the marks are stored first); cur is where
 * the next result is expected, just after the newest found. A window reads the
 * pend marks from cur (at most AINFTP_SWEEP_WINDOW): when results come in
 * order, the marks a doorbell names and no others. A result out of order, or
 * one overwritten before it was read, leaves pend above what the window finds:
 * the next windows go on, AINFTP_SWEEP_WINDOW marks at a time, round the group;
 * a whole round that leaves pend above zero sets it to zero (a resync: what was
 * rung and not found was overwritten).
 */

#include <stdint.h>

#include "ainftp_sink.h"

#if defined(__CUDACC__)
#define AINFTP_SWEEP_HD __host__ __device__ __forceinline__
#else
#define AINFTP_SWEEP_HD static inline
#endif

#define AINFTP_SWEEP_WINDOW 32	   /* marks per window: a warp's lanes */
#define AINFTP_SWEEP_MAX_GROUPS 64 /* RX lcores */

struct ainftp_sweep_plan {
	uint32_t n_slots;
	uint32_t n_groups;
	uint32_t owners_known; /* 1: a group per RX lcore; 0: one group, every doorbell */
	uint32_t reserved;
	/* Group g: its slots at slots[start[g] .. start[g] + len[g]), its doorbells
	 * bell_first[g] .. + bell_count[g] of the job's row. */
	uint32_t start[AINFTP_SWEEP_MAX_GROUPS];
	uint32_t len[AINFTP_SWEEP_MAX_GROUPS];
	uint32_t bell_first[AINFTP_SWEEP_MAX_GROUPS];
	uint32_t bell_count[AINFTP_SWEEP_MAX_GROUPS];
};

struct ainftp_sweep_group {
	uint32_t bell;	  /* the group's doorbells summed, when last read */
	int32_t pend;	  /* rung and not found; < 0: found before rung */
	uint32_t cur;	  /* position (in the group) where the next result is expected */
	uint32_t off;	  /* how far past cur this round's windows have read */
	uint64_t head;	  /* the newest seq_ready found in the group */
	uint64_t resyncs; /* rounds that found fewer results than were rung */
};

/*
 * The plan of job index j: slots (n_slots entries) and pos (n_slots entries: slot k's
 * position in its group) are the caller's. Owners are taken from the arena when every
 * slot has exactly one; otherwise one group.
 */
static inline void
ainftp_sweep_plan_init(struct ainftp_sweep_plan *p, void *arena, uint32_t j, uint32_t *slots,
		       uint32_t *pos)
{
	const struct ainftp_sink_hdr *h = (const struct ainftp_sink_hdr *)arena;
	uint32_t n = h->jobs[j].n_slots, n_rx = h->n_rx, k, r, g, at = 0;
	int known = n_rx >= 1 && n_rx <= AINFTP_SWEEP_MAX_GROUPS;

	memset(p, 0, sizeof(*p));
	p->n_slots = n;
	for (k = 0; known && k < n; k++) {
		uint32_t owners = 0;

		for (r = 0; r < n_rx; r++) {
			int o = ainftp_sink_owns(arena, j, r, k);

			if (o < 0) {
				known = 0;
				break;
			}
			owners += (uint32_t)o;
		}
		if (owners != 1)
			known = 0;
	}
	if (!known) {
		p->n_groups = 1;
		p->len[0] = n;
		p->bell_count[0] = n_rx;
		for (k = 0; k < n; k++) {
			slots[k] = k;
			pos[k] = k;
		}
		return;
	}
	p->owners_known = 1;
	for (r = 0; r < n_rx; r++) {
		g = p->n_groups;
		p->start[g] = at;
		p->bell_first[g] = r;
		p->bell_count[g] = 1;
		for (k = 0; k < n; k++) {
			if (ainftp_sink_owns(arena, j, r, k) == 1) {
				pos[k] = at - p->start[g];
				slots[at++] = k;
			}
		}
		p->len[g] = at - p->start[g];
		if (p->len[g] != 0) /* an RX lcore that polls none of this job's lanes: no group */
			p->n_groups++;
	}
}

/* The group's doorbells read bell: results rung since the last read are pending. */
AINFTP_SWEEP_HD void
ainftp_sweep_rung(struct ainftp_sweep_group *g, uint32_t bell)
{
	g->pend += (int32_t)(bell - g->bell); /* mod 2^32, as the doorbells count */
	g->bell = bell;
}

/* The next window of a group of len slots: positions first, first + 1, ... (mod len), n of them. */
AINFTP_SWEEP_HD uint32_t
ainftp_sweep_window(const struct ainftp_sweep_group *g, uint32_t len, uint32_t *first)
{
	uint32_t n;

	if (g->pend <= 0 || len == 0)
		return 0;
	*first = (g->cur + g->off) % len;
	n = g->off == 0 ? (uint32_t)g->pend : AINFTP_SWEEP_WINDOW;
	if (n > AINFTP_SWEEP_WINDOW)
		n = AINFTP_SWEEP_WINDOW;
	if (n > len - g->off)
		n = len - g->off;
	return n;
}

/*
 * A window of n marks read: found new results in it, the newest best_seq (seq_ready)
 * at position best_pos.
 */
AINFTP_SWEEP_HD void
ainftp_sweep_done(struct ainftp_sweep_group *g, uint32_t len, uint32_t n, uint32_t found,
		  uint64_t best_seq, uint32_t best_pos)
{
	g->pend -= (int32_t)found;
	if (found != 0 && best_seq > g->head) {
		/* The stream's head moved: the next result is expected just after it. */
		g->head = best_seq;
		g->cur = (best_pos + 1) % len;
		g->off = 0;
	} else {
		g->off += n;
	}
	if (g->pend <= 0) {
		g->off = 0;
	} else if (g->off >= len) {
		g->pend = 0;
		g->off = 0;
		g->resyncs++;
	}
}

#endif
