/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_CTRL_H
#define AINFTP_CTRL_H

/*
 * The control lcore: everything that is not per-packet. It prints the stats
 * line every stats interval, and every heartbeat interval sends a HEARTBEAT to
 * each worker whose address an RX lcore has learnt, from its own TX queue (the
 * last of each port) and its own mbuf pool; the RX lcores hand it the checked
 * HEARTBEAT_ACKs through one ring each, and it keeps the swarm (ainftp_swarm.h):
 * RTT, jitter, loss and state per (job, worker). Every tick it ranks the
 * workers (ainftp_quorum.h) from the swarm and the lag the RX lcores measure,
 * and publishes each job's quorum when it changes (ainftp_members.h). The
 * sentry joins it here, off the RX lcores' path.
 */

#include <stdint.h>

#include <rte_mempool.h>

#include "ainftp_quorum.h"
#include "ainftp_runtime.h"
#include "ainftp_swarm.h"
#include "ainftp_tx.h"

struct ainftp_ctrl {
	struct ainftp_swarm swarm;
	struct ainftp_quorum quorum;
	bool unpublished[AINFTP_MAX_JOBS]; /* a change not yet published (no spare buffer) */
	struct rte_mempool *pool;	   /* heartbeats only: NULL when they are off */
	struct ainftp_txq txq[AINFTP_MAX_PORTS];
	struct ainftp_lcore_stats *stats; /* the control lcore's own counters */
	uint64_t next_hb;		  /* TSC of the next heartbeat round */
	/*
	 * Operators' readmit requests, by job and worker index: set by the
	 * telemetry thread (atomic or), taken by the control lcore each tick
	 * (atomic exchange), which alone writes the quorum.
	 */
	uint64_t readmit[AINFTP_MAX_JOBS];
	/* Datagrams of another protocol version, per port, when last told (ainftp_ctrl_versions).
	 */
	uint64_t version_drops[AINFTP_MAX_PORTS];
	uint64_t next_version_check;	  /* TSC */
	bool spine_down[AINFTP_MAX_JOBS]; /* a leaf's spine said down in the log */
};

/* After ainftp_lcores_setup (it reads the RX lcores' rings). 0, or -1 with a line in err. */
int ainftp_ctrl_setup(struct ainftp_runtime *rt, char *err, size_t errlen);
/* After the ports are closed and every ring drained: the pool goes too. */
void ainftp_ctrl_free(struct ainftp_runtime *rt);

/*
 * Take every ack (into the swarm) and every new process's HELLO (into the swarm and
 * the quorum: ainftp_quorum_hello) waiting in the RX lcores' rings. Returns how many.
 */
unsigned int ainftp_ctrl_acks_drain(struct ainftp_runtime *rt);
/* One heartbeat round, to every worker with a known address. Returns heartbeats sent. */
unsigned int ainftp_ctrl_heartbeat(struct ainftp_runtime *rt);

/*
 * Rank every job's workers at time now and publish the quorums that changed
 * (or were put off). Returns how many were published.
 */
unsigned int ainftp_ctrl_quorum(struct ainftp_runtime *rt, uint64_t now);

/*
 * The operator's readmit (telemetry /ainftp/readmit, params "JOB_ID,WORKER_ID"):
 * checked, then handed to the control lcore, which readmits the worker at its
 * next tick. 0, or -1 with the reason in err (bad syntax, no such job or
 * worker, no sentry, not quarantined).
 */
int ainftp_ctrl_readmit_request(const struct ainftp_runtime *rt, const char *params, char *err,
				size_t errlen);

/* The control lcore's sleep between ticks, in microseconds. */
#define AINFTP_CTRL_TICK_US 10000

/*
 * One tick at time now: the acks in, the quorum ranked and published, a
 * heartbeat round when one is due. The control role's loop calls it every
 * AINFTP_CTRL_TICK_US (ainftp_lcore.c), and prints the stats line beside it.
 */
void ainftp_ctrl_tick(struct ainftp_runtime *rt, uint64_t now);

#endif
