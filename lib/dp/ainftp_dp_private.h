/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_DP_PRIVATE_H
#define AINFTP_DP_PRIVATE_H

/*
 * Between the stages of the data path, in the direction a packet goes:
 * input (ainftp_dp_input.c) -> aggregate (ainftp_dp_agg.c) -> output
 * (ainftp_dp_out.c). No stage calls one before it.
 */

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "ainftp_dp.h"

#define AINFTP_DP_NO_WORKER 0xff /* job->worker_idx of an id the job does not have */

static inline void
ainftp_dp_bad(struct ainftp_port_ctr *ctr, enum ainftp_bad why)
{
	ainftp_ctr_add(&ctr->proto_drops[why], 1);
}

/* Aggregate: a DATA packet that passed every check of its job (worker widx's). */
void ainftp_dp_contribution(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
			    const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
			    const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr);

/* Output: the Ethernet, IPv4 and UDP headers of w's results, when its address is learnt. */
void ainftp_dp_result_template(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
			       struct ainftp_dp_worker *w);

/* Output: slot k's new result (its shadow, payload) to the sink and to every worker heard from. */
void ainftp_dp_result_out(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job,
			  const struct ainftp_slot *s, uint16_t k, const void *out,
			  struct rte_mbuf *payload, struct ainftp_port_ctr *ctr);

/*
 * Output: slot k's kept result again, to worker w alone, where the packet
 * that asked for it (eth, udp) came from (it retransmitted, or probed).
 */
void ainftp_dp_result_resend(struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
			     struct ainftp_dp_worker *w, const struct ainftp_slot *s, uint16_t k,
			     const struct rte_ether_hdr *eth, const struct rte_udp_hdr *udp,
			     struct ainftp_port_ctr *ctr);

/* Aggregate: a PROBE (worker widx asks whether its contribution to a chunk is in). */
void ainftp_dp_probe(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
		     const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
		     const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr);

/* Aggregate: a HELLO that passed its checks and tag: the job's geometry back. */
void ainftp_dp_hello(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
		     const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
		     const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr);

/*
 * Output: a STATE to worker w, in answer to its packet h (from eth/udp): where
 * slot s is, and why it cannot take h.
 */
void ainftp_dp_state_out(struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
			 const struct ainftp_dp_worker *w, const struct ainftp_slot *s,
			 const struct ainftp_hdr *h, enum ainftp_state_reason reason,
			 const struct rte_ether_hdr *eth, const struct rte_udp_hdr *udp,
			 struct ainftp_port_ctr *ctr);

/*
 * Output: a HELLO_ACK to the sender of h (eth, src_ip, udp) with the job's
 * geometry (job NULL: no such job), status and the step to start at; tagged
 * under mk unless NULL.
 */
void ainftp_dp_hello_out(struct ainftp_rx_ctx *ctx, uint16_t port_idx,
			 const struct ainftp_dp_job *job, const struct ainftp_mac_key *mk,
			 const struct ainftp_hdr *h, enum ainftp_hello_status status, uint32_t step,
			 const struct rte_ether_hdr *eth, uint32_t src_ip,
			 const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr);

/* Aggregate: whether the slot may complete now (its quorum is in). */
bool ainftp_dp_slot_ready(const struct ainftp_dp_job *job, const struct ainftp_slot *s);

/*
 * Aggregate: the slot may complete: its sum made into the result (a box, the
 * spine), or sent to the spine (a leaf: payload is not used, and freed).
 */
void ainftp_dp_slot_finish(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job,
			   struct ainftp_slot *s, uint16_t k, struct rte_mbuf *payload,
			   struct ainftp_port_ctr *ctr);

/* Aggregate: the result (out, in payload, shadow fields set) kept, counted and sent out. */
void ainftp_dp_slot_done(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job,
			 struct ainftp_slot *s, uint16_t k, const void *out,
			 struct rte_mbuf *payload, struct ainftp_port_ctr *ctr);

/* Aggregate: a worker's new address (eth, and port in network order), to the control lcore. */
void ainftp_dp_worker_learn_at(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
			       struct ainftp_dp_worker *w, const struct rte_ether_hdr *eth,
			       uint16_t port);

/* Aggregate: a worker's new address (eth, udp), published to the control lcore. */
void ainftp_dp_worker_learn(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
			    struct ainftp_dp_worker *w, const struct rte_ether_hdr *eth,
			    const struct rte_udp_hdr *udp);

/* Leaf (ainftp_dp_leaf.c): slot k's partial sum to the spine; the slot is pending. */
void ainftp_dp_leaf_up(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, struct ainftp_slot *s,
		       uint16_t k, struct ainftp_port_ctr *ctr);

/*
 * Leaf: a pending slot at the scan (time now): sent again once its rto
 * passed, and the oldest start of a pending slot kept in *oldest; then the
 * job's, published (_done).
 */
void ainftp_dp_leaf_scan(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job,
			 struct ainftp_slot *s, uint16_t k, uint64_t now, uint64_t *oldest);
void ainftp_dp_leaf_scan_done(struct ainftp_dp_job *job, uint64_t oldest);

/* Leaf: a packet from the spine before its tag: AINFTP_OK or why not. */
enum ainftp_bad ainftp_dp_spine_check(const struct ainftp_dp_job *job,
				      const struct rte_ipv4_hdr *ip, const struct ainftp_hdr *h);

/* Leaf: the spine's RESULT for a pending slot, and its HEARTBEAT. */
void ainftp_dp_leaf_result(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
			   const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
			   const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr);
void ainftp_dp_leaf_heartbeat(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job,
			      unsigned int widx, const struct ainftp_hdr *h,
			      const struct rte_ether_hdr *eth, const struct rte_udp_hdr *udp,
			      struct ainftp_port_ctr *ctr);

/*
 * Output: a spine's STATE to leaf w about its partial sum of the chunk in h:
 * the header's bitmap is the parts of it the spine has (bit = part), or for
 * a mismatch the other request's descriptor.
 */
void ainftp_dp_parts_out(struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
			 const struct ainftp_dp_worker *w, const struct ainftp_slot *s,
			 const struct ainftp_hdr *h, enum ainftp_state_reason reason,
			 uint64_t bitmap, const struct rte_ether_hdr *eth,
			 const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr);

/* Leaf: the spine's STATE about a pending slot's partial sum (after a PROBE). */
void ainftp_dp_leaf_state(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
			  const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
			  const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr);

/* Spine: a leaf's PROBE of its partial sum of a chunk. */
void ainftp_dp_spine_probe(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
			   const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
			   const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr);

/* Spine (ainftp_dp_spine.c): one part of leaf widx's partial sum. */
void ainftp_dp_spine_part(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
			  const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
			  const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr);

#endif
