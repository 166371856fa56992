/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_CTRL_H
#define AINFTP_CTRL_H

/*
 * The control lcore: everything that is not per-packet. It prints the stats
 * line every stats interval, and every heartbeat interval sends a HEARTBEAT to
 * each worker whose address an RX lcore has learnt, from its own TX queue (the
 * last of each port) and its own mbuf pool; the RX lcores hand it the checked
 * HEARTBEAT_ACKs through one ring each, and it keeps the swarm (ainftp_swarm.h):
 * RTT, jitter, loss and state per (job, worker). Peer ranking and the sentry
 * join it here, off the RX lcores' path.
 */

#include <stdint.h>

#include <rte_mempool.h>

#include "ainftp_runtime.h"
#include "ainftp_swarm.h"
#include "ainftp_tx.h"

struct ainftp_ctrl {
	struct ainftp_swarm swarm;
	struct rte_mempool *pool; /* heartbeats only: NULL when they are off */
	struct ainftp_txq txq[AINFTP_MAX_PORTS];
	struct ainftp_lcore_stats *stats; /* the control lcore's own counters */
	uint64_t next_hb;		  /* TSC of the next heartbeat round */
};

/* After ainftp_lcores_setup (it reads the RX lcores' rings). 0, or -1 with a line in err. */
int ainftp_ctrl_setup(struct ainftp_runtime *rt, char *err, size_t errlen);
/* After the ports are closed and every ring drained: the pool goes too. */
void ainftp_ctrl_free(struct ainftp_runtime *rt);

/* Take every ack waiting in the RX lcores' rings into the swarm. Returns how many. */
unsigned int ainftp_ctrl_acks_drain(struct ainftp_runtime *rt);
/* One heartbeat round, to every worker with a known address. Returns heartbeats sent. */
unsigned int ainftp_ctrl_heartbeat(struct ainftp_runtime *rt);

void ainftp_ctrl_loop(struct ainftp_runtime *rt);

#endif
