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

struct ainftp_port {
	uint16_t port_id;
	int socket;
	uint16_t n_rxq;
	uint16_t n_txq;
	bool started;
	bool probed; /* hot-plugged by us from a vdev string: removed at close */
	struct rte_ether_addr mac;
	char name[RTE_ETH_NAME_MAX_LEN];
};

enum ainftp_role {
	AINFTP_ROLE_NONE,
	AINFTP_ROLE_RX,
	AINFTP_ROLE_CONTROL,
};

struct ainftp_runtime {
	const struct ainftp_config *cfg;
	uint32_t stats_interval_s;
	FILE *stats_out;
	uint64_t start_tsc;
	bool quit; /* set by the signal handler; lcores poll it (relaxed loads) */

	uint16_t n_ports;
	struct ainftp_port ports[AINFTP_MAX_PORTS];
	struct rte_mempool *pool[RTE_MAX_NUMA_NODES];

	enum ainftp_role role[RTE_MAX_LCORE];
	struct ainftp_rx_ctx *rx[RTE_MAX_LCORE]; /* on the lcore's own socket */
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
