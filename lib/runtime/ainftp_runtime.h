/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_RUNTIME_H
#define AINFTP_RUNTIME_H

/* What the running appliance is made of, built from the config at start-up. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include "ainftp_config.h"

struct ainftp_rx_ctx;
struct ainftp_ctrl;
struct ainftp_swarm;
struct ainftp_members;
struct ainftp_quorum;
struct ainftp_sink;
struct ainftp_runtime;

/* Virtual ports have no descriptors; count their rings' depth instead. */
#define AINFTP_RING_TX_DESC 4096

struct ainftp_port {
	uint16_t port_id;
	int socket;
	uint16_t n_rxq;
	uint16_t n_txq;
	bool started;
	bool probed;	    /* hot-plugged by us from a vdev string: removed at close */
	bool preset;	    /* port_id set before setup (emulated workers): not looked up */
	bool multiseg;	    /* can send chained mbufs: results share one payload */
	uint32_t max_frame; /* the largest frame it carries (port_frame_limits, ainftp_port.c) */
	uint32_t rx_room;   /* mbuf data room its RX queues need, headroom excluded */
	struct rte_ether_addr mac;
	char name[RTE_ETH_NAME_MAX_LEN];
};

/*
 * What an lcore runs, one row per role as testpmd's fwd_engine: the appliance's
 * own two (ainftp_lcore.c), and any a harness registers by pointing
 * rt->role[lcore] at its row before the lcores are launched (the emulated
 * workers, app/emu). An lcore without a role has NULL.
 */
struct ainftp_role {
	const char *name; /* in the stats line and on /metrics */
	void (*loop)(struct ainftp_runtime *rt, unsigned int lcore);
};

struct ainftp_runtime {
	const struct ainftp_config *cfg;
	uint32_t stats_interval_s;
	unsigned int simd_bits; /* widest SIMD kernels to use: 512, 256, or 0 for scalar */
	unsigned int idle_us;	/* idle mode: RX lcores sleep this long when idle (0: spin) */
	FILE *stats_out;
	uint64_t start_tsc;
	double start_time; /* unix time (CLOCK_REALTIME) at start_tsc, for Prometheus */
	bool quit;	   /* set by the signal handler; lcores poll it (relaxed loads) */

	uint16_t n_ports;
	struct ainftp_port ports[AINFTP_MAX_PORTS];
	struct rte_mempool *pool[RTE_MAX_NUMA_NODES];
	/* Results: one payload per finished chunk, shared by small header mbufs. */
	struct rte_mempool *result_pool[RTE_MAX_NUMA_NODES];
	struct rte_mempool *hdr_pool[RTE_MAX_NUMA_NODES];

	const struct ainftp_role *role[RTE_MAX_LCORE];
	struct ainftp_rx_ctx *rx[RTE_MAX_LCORE]; /* on the lcore's own socket */
	struct ainftp_emu *emu;			 /* emulated workers, when attached */
	struct ainftp_ctrl *ctrl;		 /* the control lcore's state */
	struct ainftp_swarm *swarm;		 /* its view of the workers (in ctrl) */
	struct ainftp_quorum *quorum;		 /* its ranking of them (in ctrl) */
	struct ainftp_members *members;		 /* the quorum as published to RX lcores */
	struct ainftp_sink *sink;		 /* the result arena; NULL with sink off */
};

static inline bool
ainftp_should_quit(const struct ainftp_runtime *rt)
{
	return __atomic_load_n(&rt->quit, __ATOMIC_RELAXED);
}

static inline void
ainftp_request_quit(struct ainftp_runtime *rt)
{
	__atomic_store_n(&rt->quit, true, __ATOMIC_RELAXED);
}

#endif
