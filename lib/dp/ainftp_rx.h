/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_RX_H
#define AINFTP_RX_H

/*
 * An RX lcore's run-to-completion loop: for each of its (port, queue) pairs,
 * receive a burst, classify each packet, answer ARP and ping in place, hand
 * aggregation traffic to the data path, and flush its own TX queue per port.
 * No locks, no allocation, no syscalls: everything it needs is in its context,
 * allocated on its own NUMA socket before launch.
 */

#include <stdint.h>

#include "ainftp_dp.h"
#include "ainftp_net.h"
#include "ainftp_runtime.h"
#include "ainftp_tx.h"

#define AINFTP_PREFETCH_OFFSET 3

struct ainftp_rxq {
	uint16_t port_idx; /* index into the config's ports */
	uint16_t port_id;  /* ethdev port id */
	uint16_t queue;
};

struct ainftp_rx_ctx {
	unsigned int lcore;
	uint16_t n_rxq;
	uint16_t n_ports;
	struct ainftp_rxq rxq[AINFTP_MAX_RX_BINDINGS];
	struct ainftp_txq txq[AINFTP_MAX_PORTS]; /* this lcore's own TX queue on every port */
	struct ainftp_lcore_stats *stats;
	bool multiseg[AINFTP_MAX_PORTS]; /* the port sends chained mbufs */
	struct ainftp_net net;
	struct ainftp_dp dp;
};

/* One pass over every queue of the lcore. Returns the packets received. */
uint16_t ainftp_rx_poll(struct ainftp_rx_ctx *ctx);

/* Poll until the runtime asks to quit. */
void ainftp_rx_loop(struct ainftp_rx_ctx *ctx, const struct ainftp_runtime *rt);

#endif
