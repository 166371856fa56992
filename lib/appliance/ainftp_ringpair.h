/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_RINGPAIR_H
#define AINFTP_RINGPAIR_H

/*
 * A loopback pair of ring ports (rte_eth_from_rings) for an appliance without
 * a NIC: the emulated workers, the bench's generator and the tests' fixture.
 * One set of rings per direction, named after the pair:
 *
 *   in[q]  (NAME_inQ):  what the appliance's RX queue q receives
 *   out[q] (NAME_outQ): what the appliance's TX queue q sends
 *
 * The appliance's port takes in[] as its RX queues and out[] as its TX queues;
 * it is left for ainftp_ports_setup to configure, as a preset port. A peer's
 * port, where there is one, takes them the other way round and is started
 * here: what it sends on TX queue k, the appliance receives on RX queue k.
 * Rings are single-producer, single-consumer: one lcore at each end.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "ainftp_config.h" /* AINFTP_MAX_QUEUES */

#define AINFTP_RINGPAIR_NAMESIZE 16

/* Which rings ainftp_ringpair_drain empties. */
#define AINFTP_RINGPAIR_IN 1u  /* toward the appliance */
#define AINFTP_RINGPAIR_OUT 2u /* from it */

struct ainftp_ringpair {
	char name[AINFTP_RINGPAIR_NAMESIZE];
	int socket;
	uint16_t n_rxq, n_txq; /* the appliance's: in[] and out[] */
	struct rte_ring *in[AINFTP_MAX_QUEUES];
	struct rte_ring *out[AINFTP_MAX_QUEUES];
	char app_dev[RTE_ETH_NAME_MAX_LEN];  /* "net_ring_APP" once made */
	char peer_dev[RTE_ETH_NAME_MAX_LEN]; /* "net_ring_PEER" once made */
	uint16_t app_port, peer_port;
	bool app_made, peer_made, peer_started;
};

/*
 * The rings: n_rxq toward the appliance, n_txq from it, ring_size (a power of
 * two) each, on socket. 0, or -1 with one line in err and nothing left made.
 */
int ainftp_ringpair_create(struct ainftp_ringpair *rp, const char *name, uint16_t n_rxq,
			   uint16_t n_txq, unsigned int ring_size, int socket, char *err,
			   size_t errlen);

/*
 * The appliance's port on the rings, device net_ring_APP (the name a
 * cluster.json gives it): its port id, or -1 with one line in err.
 */
int ainftp_ringpair_app_port(struct ainftp_ringpair *rp, const char *app, char *err, size_t errlen);

/*
 * After the appliance has closed its port: the vdev removed (rte_eth_from_rings
 * made it, not the appliance), so that the next one can be made under the same
 * name. Nothing when there is none.
 */
void ainftp_ringpair_app_remove(struct ainftp_ringpair *rp);

/*
 * The peer's port, device net_ring_PEER: configured with the rings crossed,
 * RX mbufs from pool, and started. Its port id, or -1 with one line in err.
 */
int ainftp_ringpair_peer_port(struct ainftp_ringpair *rp, const char *peer,
			      struct rte_mempool *pool, char *err, size_t errlen);

/*
 * Frames left in the rings (which: AINFTP_RINGPAIR_IN, _OUT or both), freed
 * to their pools: how many. Only when no lcore polls them, and while the pools
 * the frames came from are still there.
 */
unsigned int ainftp_ringpair_drain(struct ainftp_ringpair *rp, unsigned int which);

/*
 * The peer's port stopped, closed and removed, the appliance's removed (it has
 * closed it, or never opened it), the rings freed with whatever is left in
 * them. Safe on a pair never or partly made, and twice.
 */
void ainftp_ringpair_free(struct ainftp_ringpair *rp);

#endif
