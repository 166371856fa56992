/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_PUBLISH_H
#define AINFTP_PUBLISH_H

/*
 * What crosses between the control lcore and the RX lcores, and nothing else:
 * the quorum snapshots it publishes down to them (RCU, ainftp_members.h) and
 * the HEARTBEAT_ACKs they hand up to it (one SP/SC ring per RX lcore). Both
 * sides include this; neither includes the other.
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
 * What an RX lcore hands the control lcore for each HEARTBEAT_ACK that passed
 * its checks (tag included): a fixed-size ring element, 24 bytes.
 */
struct ainftp_hb_ack {
	uint16_t job_idx; /* index into cfg->jobs */
	uint8_t widx;	  /* index into the job's workers */
	uint8_t pad;
	uint32_t seq;	 /* the echoed step: the heartbeat's sequence number */
	uint64_t tx_tsc; /* the echoed bitmap: when the control lcore sent it */
	uint64_t rx_tsc; /* when the RX lcore took the ack */
};

#endif
