/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_MEMBERS_H
#define AINFTP_MEMBERS_H

/*
 * The quorum snapshots (ainftp_quorum_snap) from the control lcore to the RX
 * lcores, without locks: RCU with DPDK's quiescent-state-based reclamation
 * (rte_rcu_qsbr). Per job, the control lcore fills a spare buffer and publishes
 * a pointer to it (store-release); an RX lcore loads the pointer once per poll
 * (load-acquire), copies the snapshot when its version moved, and then reports
 * a quiescent state: it holds no reference past its copy. A replaced buffer is
 * reused only once every RX lcore has reported since it was replaced, so no
 * reader ever sees a buffer being rewritten, and a reader never waits for the
 * writer (a seqlock would make it spin while a preempted control lcore holds
 * the count odd). docs/CONTROL.md has the whole design.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_rcu_qsbr.h>

#include "ainftp_publish.h"
#include "ainftp_runtime.h"

/* Buffers per job: the current one and spares still being read or free. */
#define AINFTP_MEMBERS_BUFS 4

struct ainftp_members_buf {
	struct ainftp_quorum_snap snap;
	uint64_t token; /* RCU token taken when it was replaced */
	bool retired;	/* replaced: free once the token is acknowledged */
};

struct ainftp_members_job {
	const struct ainftp_quorum_snap *cur; /* the published snapshot */
	struct ainftp_members_buf buf[AINFTP_MEMBERS_BUFS];
};

struct ainftp_members {
	struct rte_rcu_qsbr *rcu; /* readers: the RX lcores, by lcore id */
	uint16_t n_jobs;
	uint64_t deferred; /* publications put off: every spare buffer still had readers */
	struct ainftp_members_job jobs[AINFTP_MAX_JOBS];
};

/*
 * Before the RX lcores start (ainftp_lcores_setup): every worker of every job
 * in the quorum (version 1), the RX lcores registered and online. NULL on
 * failure.
 */
struct ainftp_members *ainftp_members_create(const struct ainftp_runtime *rt);
void ainftp_members_free(struct ainftp_members *m);

/* Control lcore: publish s for job j. false when no buffer is free yet (try next tick). */
bool ainftp_members_publish(struct ainftp_members *m, uint16_t j,
			    const struct ainftp_quorum_snap *s);

/* RX lcore: the snapshot to copy; then ainftp_members_quiescent. */
static inline const struct ainftp_quorum_snap *
ainftp_members_current(const struct ainftp_members *m, uint16_t j)
{
	return __atomic_load_n(&m->jobs[j].cur, __ATOMIC_ACQUIRE);
}

/* RX lcore: no reference to any snapshot is held past this point. */
static inline void
ainftp_members_quiescent(struct ainftp_members *m, unsigned int lcore)
{
	rte_rcu_qsbr_quiescent(m->rcu, lcore);
}

#endif
