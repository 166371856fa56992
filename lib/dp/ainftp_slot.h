/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_SLOT_H
#define AINFTP_SLOT_H

/*
 * One slot sums one chunk at a time (SwitchML's pool, per job and per RX lcore,
 * never shared). A chunk is named by seq = step << 32 | chunk, which only grows
 * for a slot because a worker sends the next chunk of a slot only after it has
 * the result of the previous one. The slot keeps the result of the chunk it
 * last completed (the shadow), so a worker whose result was lost gets it again
 * by retransmitting its contribution, even after the slot has moved on.
 *
 * A later step's contribution to a slot still summing an earlier chunk is
 * the caller's to judge (AINFTP_SLOT_LATER): with the window rule its sender
 * will not contribute to the earlier chunk (it skipped it, or restarted), so
 * the chunk either completes without it, or is abandoned when every worker in
 * it has moved on too, or the later one waits (docs/PROTOCOL.md, "Catch-up").
 * One worker alone can never make the slot drop what its peers are summing.
 */

#include <stdbool.h>
#include <stdint.h>

#include "ainftp_quant.h"

#define AINFTP_SEQ_NONE UINT64_MAX
#define AINFTP_SLOT_LEAVES 16 /* leaves a spine's slot tracks (AINFTP_MAX_LEAVES) */

static inline uint64_t
ainftp_seq(uint32_t step, uint32_t chunk)
{
	return (uint64_t)step << 32 | chunk;
}

struct ainftp_slot {
	uint64_t seq;	 /* the chunk being summed, or last summed; AINFTP_SEQ_NONE */
	uint64_t bitmap; /* its contributors so far: every worker heard from (readiness) */
	uint8_t count;
	/*
	 * Of those, the ones whose contribution is in the result (the result's
	 * bitmap and count): all of them unless the sentry dropped some (zscore).
	 * The data path sets them after it used a contribution.
	 */
	uint64_t incl;
	uint8_t n_incl;
	bool done; /* complete: its result is the shadow */
	/*
	 * Its request as its first contributor described it (ainftp_req_desc; 0:
	 * not said), and another that a later contributor gave (0: none), so that
	 * chunks of different collectives are never summed together and every
	 * worker of the chunk can be told so.
	 */
	uint64_t desc;
	uint64_t desc_other;
	uint64_t first_tsc;	   /* when its first contribution came (set by the data path) */
	uint64_t shadow_seq;	   /* the chunk whose result is kept */
	uint64_t shadow_first_tsc; /* and when its first contribution came */
	void *shadow;		   /* that result's payload, owned by the data path */
	/* What the result header says of it, to send it again unchanged. */
	uint64_t shadow_bitmap;
	uint64_t shadow_desc;
	uint8_t shadow_count;
	uint8_t shadow_flags;
	int8_t shadow_exp;
	/*
	 * A leaf's slot (docs/SCALEOUT.md): when its partial sum last went to
	 * the spine, 0 while it sums or once done. Pending (set and not done),
	 * the slot waits for the spine's result and takes nothing new.
	 */
	uint64_t up_tsc;
	uint8_t up_tries; /* probes since: each waits twice as long */
	bool up_sent;	  /* its parts went (else: the spine's MAC was not known yet) */
	/*
	 * A spine's slot: per leaf (its worker index here), the parts of its
	 * partial sum summed (bit = part) and their size in blocks; and the
	 * workers in the sum, from the leaves' bitmaps (the result's).
	 */
	uint32_t parts[AINFTP_SLOT_LEAVES];
	uint8_t part_bpp[AINFTP_SLOT_LEAVES];
	uint64_t wbitmap;
	uint8_t wcount;
	struct ainftp_acc acc;
	/* trimmed_mean / median: each worker's contribution as floats, n_workers rows of
	 * elems by worker index (owned by the data path); NULL for the other policies. */
	float *rows;
};

/* What to do with a contribution from one worker. */
enum ainftp_slot_action {
	AINFTP_SLOT_ADD,    /* add it; the slot is (re)started for seq when needed */
	AINFTP_SLOT_LATER,  /* a later step while an earlier chunk sums: the caller judges */
	AINFTP_SLOT_RESEND, /* a retransmission of a completed chunk: send the shadow again */
	AINFTP_SLOT_DUP,    /* already in the sum: drop */
	AINFTP_SLOT_STALE,  /* older than anything kept: drop */
	AINFTP_SLOT_BUSY,   /* a newer chunk while this one still sums: drop */
};

void ainftp_slot_init(struct ainftp_slot *s);

/* A leaf's slot whose partial sum is at the spine: it waits for the result. */
static inline bool
ainftp_slot_upstream(const struct ainftp_slot *s)
{
	return s->up_tsc != 0 && !s->done;
}

/* The contribution of the worker with this bit is in the result. */
static inline void
ainftp_slot_include(struct ainftp_slot *s, uint64_t bit)
{
	s->incl |= bit;
	s->n_incl++;
}

/*
 * Decide, and for ADD prepare the slot (reset for a new chunk) and record the
 * worker. The caller then adds the payload to s->acc (and undoes nothing: a
 * payload that fails to add was rejected before this call).
 */
enum ainftp_slot_action ainftp_slot_offer(struct ainftp_slot *s, uint64_t seq, unsigned int worker);

/*
 * True when the chunk may complete (the caller sends the result): never below
 * min_quorum contributors; above it, once `quorum` have contributed or every
 * worker in `required` (the members the slot waits for, ainftp_quorum.h) has.
 */
static inline bool
ainftp_slot_ready(const struct ainftp_slot *s, uint64_t required, unsigned int quorum,
		  unsigned int min_quorum)
{
	return s->count >= min_quorum && (s->count >= quorum || (s->bitmap & required) == required);
}

/* Start the slot on chunk seq with nobody in it (a spine's, whose contributors come in parts). */
void ainftp_slot_start(struct ainftp_slot *s, uint64_t seq);

/*
 * Restart the slot for seq with the worker with this bit alone, dropping the
 * chunk it was summing (every worker in it has moved on: nobody waits for it).
 */
void ainftp_slot_abandon(struct ainftp_slot *s, uint64_t seq, unsigned int worker);

/*
 * The descriptor of another request than desc (a contribution's or probe's
 * to chunk seq) that the chunk holds, 0 when they agree or one of them was
 * not said. A contribution is compared with the chunk's own request; a probe
 * with any the chunk has seen, so that every worker of a chunk where two
 * requests met is told (both sides of it stop, not only the one refused).
 */
static inline uint64_t
ainftp_slot_desc_conflict(const struct ainftp_slot *s, uint64_t seq, uint64_t desc, bool probe)
{
	uint64_t have = 0, other = 0;

	if (desc == 0)
		return 0;
	if (seq == s->seq && s->count > 0) {
		have = s->desc;
		other = probe ? s->desc_other : 0;
	} else if (seq == s->shadow_seq) {
		have = s->shadow_desc;
	}
	if (have != 0 && have != desc)
		return have;
	return other != 0 && other != desc ? other : 0;
}

/*
 * Give up the chunk being summed: it can never complete (the workers it
 * needs were sent past it). Nobody is in it any more and what comes for it
 * from now on is stale, so its workers skip it; the kept result stays.
 */
void ainftp_slot_drop(struct ainftp_slot *s);

/*
 * Forget the chunk being summed as if it had never started: a contributor's
 * process died and a new one will send that chunk again, which must not
 * find the old one's data in the sum. The slot is back at its kept result
 * (or empty); whoever sends to the chunk again starts it afresh, and a
 * probe for it is told its data is missing.
 */
void ainftp_slot_forget(struct ainftp_slot *s);

/* Mark the chunk complete with its result kept; returns the previous shadow to release. */
void *ainftp_slot_complete(struct ainftp_slot *s, void *result);

#endif
