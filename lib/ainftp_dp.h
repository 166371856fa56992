/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_DP_H
#define AINFTP_DP_H

/*
 * The aggregation data path of one RX lcore: check a worker's packet field by
 * field, add its payload into the slot that sums its chunk, and when the quorum
 * is in, send the result to every worker of the job: one payload mbuf shared by
 * a small header mbuf per worker (refcounts, no copy per worker). Per lcore and
 * per job, nothing shared with other lcores: each lcore owns the slots of the
 * lanes (RX queues) it polls.
 */

#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "ainftp_config.h"
#include "ainftp_net.h"
#include "ainftp_proto.h"
#include "ainftp_quant.h"
#include "ainftp_slot.h"
#include "ainftp_stats.h"
#include "ainftp_swarm.h"

struct ainftp_rx_ctx;
struct ainftp_runtime;

/*
 * Where results for a worker go: learnt from its last authenticated packet.
 *
 * The control lcore needs the address too, for heartbeats. Each RX lcore has
 * its own copy of this record and is its only writer, so it is published with
 * a sequence count and no lock: the writer makes addr_sc odd, writes udp_port,
 * mac and learnt_tsc, and makes it even again; the control lcore copies them
 * and retries if addr_sc was odd or moved. A worker whose lanes are on several
 * lcores is learnt by each of them; the control lcore takes the copy with the
 * latest learnt_tsc. One record shared by the lcores would need a writer lock
 * (or CAS) on the data path and would bounce its cache line between them.
 * Addresses change rarely (a worker restarts), so the reader seldom retries.
 */
struct ainftp_dp_worker {
	uint32_t ipv4;	   /* from cluster.json, network order */
	uint32_t addr_sc;  /* sequence count of udp_port, mac, learnt_tsc: odd while written */
	uint16_t udp_port; /* its source port, network order; 0 until seen */
	struct rte_ether_addr mac;
	uint64_t learnt_tsc;	   /* when this lcore last learnt it (TSC) */
	struct ainftp_mac_key key; /* derived once from the worker's key */
	/* Ethernet, IPv4 and UDP headers of its results, built when its address is learnt. */
	uint8_t tmpl[AINFTP_UDP_HDRS_LEN];
};

struct ainftp_dp_job {
	uint32_t id;
	uint16_t port_idx;
	uint16_t lanes;	    /* the port's RX queues: slot k is summed on queue k % lanes */
	uint8_t wire_enc;   /* enum ainftp_wire_encoding of contributions */
	uint8_t result_enc; /* and of results */
	bool auth;
	uint16_t quorum;
	uint16_t elems;
	uint32_t n_slots;
	uint32_t payload_len; /* of a contribution */
	uint32_t result_len;  /* of a result's payload */
	uint16_t n_workers;
	uint8_t worker_idx[AINFTP_MAX_WORKERS]; /* worker id -> index, 0xff: none */
	struct ainftp_dp_worker workers[AINFTP_MAX_WORKERS];
	struct ainftp_slot **slots; /* n_slots; NULL where another lcore owns the slot */
};

struct ainftp_dp {
	uint16_t n_jobs;
	struct ainftp_dp_job *jobs;
	const struct ainftp_quant_ops *ops;
	struct rte_mempool *result_pool;
	struct rte_mempool *hdr_pool;
	float *scratch; /* float32 payloads copied to alignment before summing */
	/* HEARTBEAT_ACKs that passed their checks, to the control lcore (single producer
	 * and single consumer: this lcore and the control lcore). */
	struct rte_ring *hb_ring;
};

/* A worker's address as the RX lcores learnt it, for the control lcore. */
struct ainftp_dp_addr {
	uint16_t udp_port; /* network order */
	struct rte_ether_addr mac;
	uint64_t learnt_tsc;
};

/* HEARTBEAT_ACKs an RX lcore can hold for the control lcore, which drains them every tick. */
#define AINFTP_HB_RING_SIZE 1024

/* Set up the jobs and the slots this lcore owns, on its socket. 0 or -1. */
int ainftp_dp_init(struct ainftp_rx_ctx *ctx, const struct ainftp_runtime *rt);
void ainftp_dp_free(struct ainftp_rx_ctx *ctx);

/* A UDP datagram to one of our ports, received by this lcore: consume it (always freed). */
void ainftp_dp_input(struct ainftp_rx_ctx *ctx, uint16_t port_idx, struct rte_mbuf *m,
		     struct ainftp_port_ctr *ctr);

/*
 * The freshest address of worker widx of job job_idx over every RX lcore,
 * without locks (control lcore). false when no lcore has learnt it yet.
 */
bool ainftp_dp_worker_addr(const struct ainftp_runtime *rt, uint16_t job_idx, uint16_t widx,
			   struct ainftp_dp_addr *out);

/* Slots in the middle of a chunk, over every RX lcore (0 when all is quiet). */
unsigned int ainftp_dp_slots_busy(const struct ainftp_runtime *rt);

/* Mbufs a socket's result and header pools need. */
unsigned int ainftp_dp_result_pool_size(const struct ainftp_config *cfg);

#endif
