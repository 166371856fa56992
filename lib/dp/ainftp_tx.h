/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_TX_H
#define AINFTP_TX_H

/*
 * A per-lcore TX queue with its own burst buffer: packets are sent 32 at a time
 * (or at the end of a poll pass), and what the NIC refuses is freed and counted.
 * Our own rather than rte_eth_tx_buffer so sent bytes can be counted exactly.
 */

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "ainftp_counters.h"

#define AINFTP_BURST 32

struct ainftp_txq {
	uint16_t port_id;
	uint16_t queue;
	uint16_t n;
	struct rte_mbuf *pkts[AINFTP_BURST];
};

static inline void
ainftp_tx_flush(struct ainftp_txq *txq, struct ainftp_port_ctr *ctr)
{
	uint64_t bytes = 0;
	uint16_t sent, i;

	if (txq->n == 0)
		return;
	for (i = 0; i < txq->n; i++)
		bytes += rte_pktmbuf_pkt_len(txq->pkts[i]);
	sent = rte_eth_tx_burst(txq->port_id, txq->queue, txq->pkts, txq->n);
	for (i = sent; i < txq->n; i++)
		bytes -= rte_pktmbuf_pkt_len(txq->pkts[i]);
	ainftp_ctr_add(&ctr->tx_pkts, sent);
	ainftp_ctr_add(&ctr->tx_bytes, bytes);
	if (unlikely(sent < txq->n)) {
		ainftp_ctr_add(&ctr->drops[AINFTP_DROP_TX_FULL], txq->n - sent);
		rte_pktmbuf_free_bulk(&txq->pkts[sent], txq->n - sent);
	}
	txq->n = 0;
}

static inline void
ainftp_tx_enqueue(struct ainftp_txq *txq, struct rte_mbuf *m, struct ainftp_port_ctr *ctr)
{
	txq->pkts[txq->n++] = m;
	if (txq->n == AINFTP_BURST)
		ainftp_tx_flush(txq, ctr);
}

#endif
