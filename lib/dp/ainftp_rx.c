/* SPDX-License-Identifier: BSD-3-Clause */
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include "ainftp_dp.h"
#include "ainftp_rx.h"

/* Classify one burst from one queue; replies go to this lcore's TX queue on that port. */
static void
rx_burst_process(struct ainftp_rx_ctx *ctx, const struct ainftp_rxq *q, struct rte_mbuf **pkts,
		 uint16_t n)
{
	struct ainftp_port_ctr *ctr = &ctx->stats->port[q->port_idx];
	struct ainftp_txq *txq = &ctx->txq[q->port_idx];
	struct rte_mbuf *to_free[AINFTP_BURST], *data[AINFTP_BURST];
	uint16_t i, n_free = 0, n_data = 0;
	uint64_t bytes = 0;

	/* The mbufs themselves first: where their data is, and what freeing them writes. */
	for (i = 0; i < n; i++)
		rte_prefetch0(pkts[i]);
	for (i = 0; i < n && i < AINFTP_PREFETCH_OFFSET; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		if (i + AINFTP_PREFETCH_OFFSET < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + AINFTP_PREFETCH_OFFSET], void *));
		bytes += rte_pktmbuf_pkt_len(m);
		switch (ainftp_net_input(&ctx->net, q->port_idx, m, ctr)) {
		case AINFTP_VERDICT_REPLY:
			ainftp_tx_enqueue(txq, m, ctr);
			break;
		case AINFTP_VERDICT_DATA:
			data[n_data++] = m;
			to_free[n_free++] = m;
			break;
		case AINFTP_VERDICT_CONSUMED:
		case AINFTP_VERDICT_DROP:
			to_free[n_free++] = m;
			break;
		}
	}
	/* The datagrams together: their tags are checked several at a time. */
	if (n_data != 0)
		ainftp_dp_input_burst(ctx, q->port_idx, data, n_data, ctr);
	ainftp_ctr_add(&ctr->rx_pkts, n);
	ainftp_ctr_add(&ctr->rx_bytes, bytes);
	if (n_free != 0)
		rte_pktmbuf_free_bulk(to_free, n_free);
}

uint16_t
ainftp_rx_poll(struct ainftp_rx_ctx *ctx)
{
	struct rte_mbuf *pkts[AINFTP_BURST];
	uint16_t i, n, total = 0;

	/* One TSC read per poll times every contribution of the poll. */
	ainftp_dp_begin(ctx, rte_rdtsc());
	for (i = 0; i < ctx->n_rxq; i++) {
		const struct ainftp_rxq *q = &ctx->rxq[i];

		n = rte_eth_rx_burst(q->port_id, q->queue, pkts, AINFTP_BURST);
		if (n == 0)
			continue;
		rx_burst_process(ctx, q, pkts, n);
		total += n;
	}
	ainftp_dp_tags_flush(ctx);
	ainftp_dp_end(&ctx->dp);
	/* Replies never wait for a full burst: latency matters more than batching them. */
	for (i = 0; i < ctx->n_ports; i++)
		ainftp_tx_flush(&ctx->txq[i], &ctx->stats->port[i]);
	return total;
}

/*
 * Idle mode (--idle-us): after this many empty polls in a row, an RX lcore
 * sleeps between polls, so that a box with little traffic, or several apps on
 * a test machine's few cores, do not spin a core each. The first packet after
 * a quiet spell waits up to idle_us longer; traffic puts the lcore back to
 * spinning at once. l3fwd-power does the same with interrupts, which the
 * virtual ports of the tests do not all have.
 */
#define AINFTP_IDLE_POLLS 1024

void
ainftp_rx_loop(struct ainftp_rx_ctx *ctx, const struct ainftp_runtime *rt)
{
	const unsigned int idle_us = rt->idle_us;
	uint64_t loops = 0, busy = 0, sleeps = 0;
	unsigned int empty = 0;

	while (!ainftp_should_quit(rt)) {
		if (ainftp_rx_poll(ctx) != 0) {
			busy++;
			empty = 0;
		} else if (idle_us != 0 && ++empty >= AINFTP_IDLE_POLLS) {
			rte_delay_us_sleep(idle_us);
			sleeps++;
		}
		/* Publish the loop counters in batches: they are for humans. */
		if ((++loops & 1023) == 0 || sleeps != 0) {
			ainftp_ctr_add(&ctx->stats->loops, loops);
			ainftp_ctr_add(&ctx->stats->busy_loops, busy);
			ainftp_ctr_add(&ctx->stats->idle_sleeps, sleeps);
			loops = busy = sleeps = 0;
		}
	}
	ainftp_ctr_add(&ctx->stats->loops, loops);
	ainftp_ctr_add(&ctx->stats->busy_loops, busy);
	ainftp_ctr_add(&ctx->stats->idle_sleeps, sleeps);
	ainftp_rx_stop(ctx);
}

void
ainftp_rx_stop(struct ainftp_rx_ctx *ctx)
{
	uint16_t i;

	/* Copies still waiting for their tags go out, so no mbuf stays taken. */
	ainftp_dp_tags_flush(ctx);
	for (i = 0; i < ctx->n_ports; i++)
		ainftp_tx_flush(&ctx->txq[i], &ctx->stats->port[i]);
	ainftp_dp_stop(&ctx->dp);
}
