/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "ainftp_slot.h"

/* The slot holds chunk seq with nobody in it yet (done: given up, or summing). */
static void
slot_reset(struct ainftp_slot *s, uint64_t seq, bool done)
{
	s->seq = seq;
	s->bitmap = 0;
	s->count = 0;
	s->incl = 0;
	s->n_incl = 0;
	s->done = done;
	s->up_tsc = 0;
	s->up_tries = 0;
	s->wbitmap = 0;
	s->wcount = 0;
	memset(s->parts, 0, sizeof(s->parts));
	ainftp_acc_reset(&s->acc);
}

void
ainftp_slot_init(struct ainftp_slot *s)
{
	s->shadow_seq = AINFTP_SEQ_NONE;
	s->desc = s->desc_other = s->shadow_desc = 0;
	s->shadow = NULL;
	slot_reset(s, AINFTP_SEQ_NONE, false);
}

enum ainftp_slot_action
ainftp_slot_offer(struct ainftp_slot *s, uint64_t seq, unsigned int worker)
{
	uint64_t bit = UINT64_C(1) << worker;

	if (seq == s->shadow_seq)
		return AINFTP_SLOT_RESEND;
	if (seq == s->seq) {
		if (s->done) /* done and not the shadow: a chunk given up (ainftp_slot_drop) */
			return AINFTP_SLOT_STALE;
		if (s->bitmap & bit)
			return AINFTP_SLOT_DUP;
	} else if (s->seq == AINFTP_SEQ_NONE || (seq > s->seq && s->done)) {
		/* The next chunk for this slot: its previous one is complete and kept. */
		slot_reset(s, seq, false);
	} else if (seq > s->seq && seq >> 32 > s->seq >> 32) {
		return AINFTP_SLOT_LATER;
	} else {
		return seq > s->seq ? AINFTP_SLOT_BUSY : AINFTP_SLOT_STALE;
	}
	s->bitmap |= bit;
	s->count++;
	return AINFTP_SLOT_ADD;
}

void
ainftp_slot_start(struct ainftp_slot *s, uint64_t seq)
{
	slot_reset(s, seq, false);
}

void
ainftp_slot_abandon(struct ainftp_slot *s, uint64_t seq, unsigned int worker)
{
	slot_reset(s, seq, false);
	s->bitmap = UINT64_C(1) << worker;
	s->count = 1;
}

void
ainftp_slot_drop(struct ainftp_slot *s)
{
	slot_reset(s, s->seq, true);
}

void
ainftp_slot_forget(struct ainftp_slot *s)
{
	slot_reset(s, s->shadow_seq, s->shadow_seq != AINFTP_SEQ_NONE);
}

void *
ainftp_slot_complete(struct ainftp_slot *s, void *result)
{
	void *old = s->shadow;

	s->done = true;
	s->shadow = result;
	s->shadow_seq = s->seq;
	s->shadow_first_tsc = s->first_tsc;
	s->shadow_desc = s->desc;
	return old;
}
