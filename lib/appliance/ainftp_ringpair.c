/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>

#include "ainftp_log.h"
#include "ainftp_ringpair.h"

#define RINGPAIR_DRAIN_BURST 32

static struct rte_ring *
ring_make(const struct ainftp_ringpair *rp, const char *dir, uint16_t q, unsigned int size,
	  char *err, size_t errlen)
{
	char name[RTE_RING_NAMESIZE];
	struct rte_ring *r;

	snprintf(name, sizeof(name), "%s_%s%u", rp->name, dir, q);
	/* One lcore at each end. */
	r = rte_ring_create(name, size, rp->socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (r == NULL)
		snprintf(err, errlen, "cannot create ring %s of %u: %s", name, size,
			 rte_strerror(rte_errno));
	return r;
}

int
ainftp_ringpair_create(struct ainftp_ringpair *rp, const char *name, uint16_t n_rxq, uint16_t n_txq,
		       unsigned int ring_size, int socket, char *err, size_t errlen)
{
	uint16_t q;

	memset(rp, 0, sizeof(*rp));
	if (strlen(name) >= sizeof(rp->name) || n_rxq == 0 || n_rxq > AINFTP_MAX_QUEUES ||
	    n_txq == 0 || n_txq > AINFTP_MAX_QUEUES) {
		snprintf(err, errlen,
			 "ring pair \"%s\": %u RX and %u TX queues, want 1..%u each and a name "
			 "under %u characters",
			 name, n_rxq, n_txq, AINFTP_MAX_QUEUES, AINFTP_RINGPAIR_NAMESIZE);
		return -1;
	}
	snprintf(rp->name, sizeof(rp->name), "%s", name);
	rp->socket = socket;
	rp->n_rxq = n_rxq;
	rp->n_txq = n_txq;
	for (q = 0; q < n_rxq; q++) {
		rp->in[q] = ring_make(rp, "in", q, ring_size, err, errlen);
		if (rp->in[q] == NULL)
			goto fail;
	}
	for (q = 0; q < n_txq; q++) {
		rp->out[q] = ring_make(rp, "out", q, ring_size, err, errlen);
		if (rp->out[q] == NULL)
			goto fail;
	}
	return 0;
fail:
	ainftp_ringpair_free(rp);
	return -1;
}

int
ainftp_ringpair_app_port(struct ainftp_ringpair *rp, const char *app, char *err, size_t errlen)
{
	int ret = rte_eth_from_rings(app, rp->in, rp->n_rxq, rp->out, rp->n_txq,
				     (unsigned int)rp->socket);

	if (ret < 0) {
		snprintf(err, errlen, "cannot create net_ring_%s: %s", app,
			 rte_strerror(rte_errno));
		return -1;
	}
	/* The PMD prefixes the name it was given. */
	snprintf(rp->app_dev, sizeof(rp->app_dev), "net_ring_%s", app);
	rp->app_port = (uint16_t)ret;
	rp->app_made = true;
	return ret;
}

void
ainftp_ringpair_app_remove(struct ainftp_ringpair *rp)
{
	if (!rp->app_made)
		return;
	rte_vdev_uninit(rp->app_dev);
	rp->app_made = false;
}

int
ainftp_ringpair_peer_port(struct ainftp_ringpair *rp, const char *peer, struct rte_mempool *pool,
			  char *err, size_t errlen)
{
	struct rte_eth_conf conf;
	const char *step = "configure";
	uint16_t q;
	int ret;

	ret = rte_eth_from_rings(peer, rp->out, rp->n_txq, rp->in, rp->n_rxq,
				 (unsigned int)rp->socket);
	if (ret < 0) {
		snprintf(err, errlen, "cannot create net_ring_%s: %s", peer,
			 rte_strerror(rte_errno));
		return -1;
	}
	snprintf(rp->peer_dev, sizeof(rp->peer_dev), "net_ring_%s", peer);
	rp->peer_port = (uint16_t)ret;
	rp->peer_made = true;

	memset(&conf, 0, sizeof(conf));
	ret = rte_eth_dev_configure(rp->peer_port, rp->n_txq, rp->n_rxq, &conf);
	for (q = 0; ret == 0 && q < rp->n_txq; q++) {
		step = "set up an RX queue of";
		ret = rte_eth_rx_queue_setup(rp->peer_port, q, AINFTP_DEFAULT_DESC,
					     (unsigned int)rp->socket, NULL, pool);
	}
	for (q = 0; ret == 0 && q < rp->n_rxq; q++) {
		step = "set up a TX queue of";
		ret = rte_eth_tx_queue_setup(rp->peer_port, q, AINFTP_DEFAULT_DESC,
					     (unsigned int)rp->socket, NULL);
	}
	if (ret == 0) {
		step = "start";
		ret = rte_eth_dev_start(rp->peer_port);
	}
	if (ret != 0) {
		snprintf(err, errlen, "cannot %s %s: %s", step, rp->peer_dev, rte_strerror(-ret));
		return -1;
	}
	rp->peer_started = true;
	return rp->peer_port;
}

static unsigned int
rings_drain(struct rte_ring *const *rings, uint16_t n)
{
	struct rte_mbuf *pkts[RINGPAIR_DRAIN_BURST];
	unsigned int k, total = 0;
	uint16_t i;

	for (i = 0; i < n; i++) {
		if (rings[i] == NULL)
			continue;
		while ((k = rte_ring_dequeue_burst(rings[i], (void **)pkts, RTE_DIM(pkts), NULL)) !=
		       0) {
			rte_pktmbuf_free_bulk(pkts, k);
			total += k;
		}
	}
	return total;
}

unsigned int
ainftp_ringpair_drain(struct ainftp_ringpair *rp, unsigned int which)
{
	unsigned int n = 0;

	if (which & AINFTP_RINGPAIR_OUT)
		n += rings_drain(rp->out, rp->n_txq);
	if (which & AINFTP_RINGPAIR_IN)
		n += rings_drain(rp->in, rp->n_rxq);
	return n;
}

void
ainftp_ringpair_free(struct ainftp_ringpair *rp)
{
	uint16_t q;

	if (rp->peer_made) {
		if (rp->peer_started && rte_eth_dev_stop(rp->peer_port) != 0)
			AINFTP_LOG(WARNING, "ring pair %s: cannot stop %s", rp->name, rp->peer_dev);
		rte_eth_dev_close(rp->peer_port);
		rte_vdev_uninit(rp->peer_dev);
	}
	/* The appliance has closed its side (or never opened it). */
	ainftp_ringpair_app_remove(rp);
	for (q = 0; q < AINFTP_MAX_QUEUES; q++) {
		rte_ring_free(rp->in[q]);
		rte_ring_free(rp->out[q]);
	}
	memset(rp, 0, sizeof(*rp));
}
