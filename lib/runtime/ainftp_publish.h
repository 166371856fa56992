/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_PUBLISH_H
#define AINFTP_PUBLISH_H

/*
 * What crosses between the control lcore and the RX lcores, and nothing else:
 * the quorum snapshots it publishes down to them (RCU, ainftp_members.h) and
 * the HEARTBEAT_ACKs and new processes' HELLOs they hand up to it (one SP/SC
 * ring per RX lcore). Both sides include this; neither includes the other.
 */

#include <stdint.h>

#include "ainftp_config.h"

/*
 * What a slot waits for, as the control lcore published it: immutable once
 * published. Bits and join_step are by worker id, like a result's bitmap.
 */
struct ainftp_quorum_snap {
	uint64_t version;     /* 1 for the first; every change of members or join steps adds 1 */
	uint64_t members;     /* the workers in the quorum */
	uint64_t quarantined; /* workers the sentry quarantined: their data is dropped */
	uint64_t late;	      /* members with a join step above 0 */
	uint64_t max_join; /* the largest join step of a member: from it on, required = members */
	uint64_t join_step[AINFTP_MAX_WORKERS]; /* first step a member is required for */
	/*
	 * New processes taken in by a HELLO, per worker (ainftp_quorum_hello), and
	 * the step the latest one was told to start at: an RX lcore that sees the
	 * count move forgets what the old process left in its open chunks.
	 */
	uint32_t starts[AINFTP_MAX_WORKERS];
	uint32_t start_step[AINFTP_MAX_WORKERS];
};

/* The members that a slot of this step waits for. */
static inline uint64_t
ainftp_quorum_required(const struct ainftp_quorum_snap *q, uint32_t step)
{
	uint64_t req = q->members, late;

	/* Only in the step of a rejoin and those before it: rare. */
	if (__builtin_expect(step >= q->max_join, 1))
		return req;
	for (late = q->late; late != 0; late &= late - 1) {
		unsigned int w = (unsigned int)__builtin_ctzll(late);

		if (step < q->join_step[w])
			req &= ~(UINT64_C(1) << w);
	}
	return req;
}

/*
 * Worker id `id` is a member required from `step` on: what an RX lcore's own
 * copy of the snapshot says at once when it takes a new process's HELLO,
 * before the control lcore's next snapshot says so to every lcore.
 */
static inline void
ainftp_quorum_admit(struct ainftp_quorum_snap *q, unsigned int id, uint32_t step)
{
	q->members |= UINT64_C(1) << id;
	q->join_step[id] = step;
	if (step != 0)
		q->late |= UINT64_C(1) << id;
	else
		q->late &= ~(UINT64_C(1) << id);
	if (step > q->max_join)
		q->max_join = step;
}

/* What an RX lcore hands the control lcore (ainftp_hb_ack.kind). */
enum ainftp_up_kind {
	AINFTP_UP_ACK,	 /* a HEARTBEAT_ACK */
	AINFTP_UP_HELLO, /* a new process's HELLO, taken: seq is the step its HELLO_ACK gave */
};

/*
 * What an RX lcore hands the control lcore for each HEARTBEAT_ACK, and each
 * new process's HELLO, that passed its checks (tag included): a fixed-size
 * ring element, 24 bytes.
 */
struct ainftp_hb_ack {
	uint16_t job_idx; /* index into cfg->jobs */
	uint8_t widx;	  /* index into the job's workers */
	uint8_t kind;	  /* enum ainftp_up_kind */
	uint32_t seq;	  /* the echoed step: the heartbeat's sequence number (HELLO: its step) */
	uint64_t tx_tsc;  /* the echoed bitmap: when the control lcore sent it (HELLO: 0) */
	uint64_t rx_tsc;  /* when the RX lcore took it */
};

#endif
