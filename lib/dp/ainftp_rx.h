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

#include "ainftp_lcore_conf.h"
#include "ainftp_runtime.h"

/* One pass over every queue of the lcore. Returns the packets received. */
uint16_t ainftp_rx_poll(struct ainftp_rx_ctx *ctx);

/* Poll until the runtime asks to quit, then ainftp_rx_stop. */
void ainftp_rx_loop(struct ainftp_rx_ctx *ctx, const struct ainftp_runtime *rt);

/*
 * By the lcore as it leaves a loop of ainftp_rx_poll of its own: the mbufs it
 * took ahead go back to their pools, whose counts are then exact.
 */
void ainftp_rx_stop(struct ainftp_rx_ctx *ctx);

#endif
