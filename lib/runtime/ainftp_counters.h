/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_COUNTERS_H
#define AINFTP_COUNTERS_H

/*
 * Counters. Each lcore writes only its own cache-aligned block, so the hot path
 * needs no atomics with a lock prefix; the control lcore and telemetry read them
 * with relaxed loads (64-bit aligned loads do not tear on the targets we run on).
 * Only what the lcores write lives here: rendering them (the stats line,
 * rte_telemetry, Prometheus) is lib/telemetry's, and never reaches the hot
 * path's includes.
 */

#include <stdint.h>

#include <rte_common.h>
#include <rte_lcore.h>

#include "ainftp_config.h"
#include "ainftp_proto.h"

/*
 * Why a packet was dropped. Keep names in step with ainftp_drop_names[]. The
 * reasons before AINFTP_DROP_FRAME_MAX are a received frame's outcome (see
 * ainftp_counters_unaccounted); the ones after it are not: a reply or a result
 * copy lost on its way out, whatever became of the frame that caused it.
 */
enum ainftp_drop {
	AINFTP_DROP_RUNT,	   /* shorter than an Ethernet header */
	AINFTP_DROP_L2_NOT_OURS,   /* unicast to another MAC (promiscuous ports) */
	AINFTP_DROP_ETHERTYPE,	   /* neither IPv4 nor ARP (IPv6, VLAN, LLDP...) */
	AINFTP_DROP_ARP_MALFORMED, /* truncated, or not Ethernet/IPv4 ARP */
	AINFTP_DROP_ARP_NOT_OURS,  /* request for another address */
	AINFTP_DROP_IP_MALFORMED,  /* bad version, header length or total length */
	AINFTP_DROP_IP_CHECKSUM,
	AINFTP_DROP_IP_FRAGMENT,    /* we never reassemble */
	AINFTP_DROP_IP_NOT_OURS,    /* destination is not the appliance */
	AINFTP_DROP_IP_PROTO,	    /* neither ICMP nor UDP */
	AINFTP_DROP_ICMP_MALFORMED, /* truncated or bad checksum */
	AINFTP_DROP_ICMP_TYPE,	    /* anything but an echo request */
	AINFTP_DROP_UDP_MALFORMED,  /* bad length */
	AINFTP_DROP_UDP_PORT,	    /* not the appliance's port */
	AINFTP_DROP_HB_RING_FULL,   /* a HEARTBEAT_ACK the control lcore had no room for */
	AINFTP_DROP_SENTRY,	    /* a contribution the sentry dropped (zscore): not in the sum */
	AINFTP_DROP_QUARANTINED,    /* from a worker the sentry quarantined */
	/* A contribution that would complete its chunk, with no mbuf for the result: not
	 * taken, so the worker's retransmission completes it. */
	AINFTP_DROP_RESULT_NOMBUF,
	AINFTP_DROP_FRAME_MAX,
	AINFTP_DROP_TX_FULL = AINFTP_DROP_FRAME_MAX, /* TX queue full: a reply or result lost */
	/* No mbuf for a result copy, a reply or a completion the scan or a later step asked
	 * for: the worker asks again. */
	AINFTP_DROP_NOMBUF,
	AINFTP_DROP_MAX
};

extern const char *const ainftp_drop_names[AINFTP_DROP_MAX];

struct ainftp_port_ctr {
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t tx_pkts;
	uint64_t tx_bytes;
	uint64_t arp_replies;
	uint64_t icmp_replies;
	uint64_t arp_learnt;	   /* ARP replies and announcements for us */
	uint64_t data_pkts;	   /* contributions summed */
	uint64_t data_answered;	   /* DATA of a completed chunk, answered with its kept result */
	uint64_t chunks_done;	   /* slots completed */
	uint64_t chunks_partial;   /* of which without every worker of the job */
	uint64_t chunks_abandoned; /* partial sums dropped: every worker in them moved on */
	uint64_t chunks_early;	   /* completed without a worker that moved to a later step */
	uint64_t probes;	   /* PROBEs answered */
	uint64_t states_sent;	   /* STATEs: where a slot is, to a worker off its pace */
	uint64_t hellos;	   /* HELLOs answered with the job's HELLO_ACK (refusals: drops) */
	uint64_t results_sent;	   /* result copies, one per worker */
	uint64_t results_resent;   /* kept results sent again to a worker that retransmitted */
	uint64_t overflows;	   /* results flagged overflow: exponents spread too far */
	uint64_t heartbeats_sent;  /* HEARTBEATs the control lcore sent */
	uint64_t heartbeat_acks;   /* HEARTBEAT_ACKs checked and handed to the control lcore */
	uint64_t spine_results;	   /* a leaf's: the spine's results taken (docs/SCALEOUT.md) */
	uint64_t spine_heartbeats; /* a leaf's: the spine's HEARTBEATs answered */
	uint64_t spine_states;	   /* a leaf's: the spine's STATEs about its partial sums */
	uint64_t proto_drops[AINFTP_BAD_MAX]; /* aggregation packets refused, by ainftp_bad */
	uint64_t drops[AINFTP_DROP_MAX];
};

struct ainftp_lcore_stats {
	uint64_t loops;	       /* polling iterations */
	uint64_t busy_loops;   /* iterations that received something */
	uint64_t idle_sleeps;  /* sleeps of idle mode (--idle-us) */
	uint64_t sink_written; /* results put into the sink's arena (ainftp_sink_ops.h) */
	struct ainftp_port_ctr port[AINFTP_MAX_PORTS];
} __rte_cache_aligned;

/* One block per lcore id, written only by that lcore. */
extern struct ainftp_lcore_stats ainftp_stats[RTE_MAX_LCORE];

/*
 * Chunk completion latency, from a slot's first accepted contribution to its
 * result: a log2 histogram, bucket i counting latencies up to
 * AINFTP_LAT_LE0_US << i microseconds (1 us .. 8.39 s: a chunk summed within
 * a poll on loopback, up to a straggler threshold and past it), the last
 * bucket the rest (+Inf). Buckets are not cumulative here (a completion is one store);
 * the count is their sum. Per lcore and job, single writer; telemetry sums
 * the lcores' and makes them cumulative for Prometheus.
 */
#define AINFTP_LAT_BUCKETS 24
#define AINFTP_LAT_LE0_US 1

struct ainftp_lat_hist {
	uint64_t le[AINFTP_LAT_BUCKETS]; /* the bounds in TSC cycles, set before launch */
	uint64_t bucket[AINFTP_LAT_BUCKETS + 1];
	uint64_t sum; /* cycles */
};

/* Single writer: a plain load and store, made atomic only so readers never tear. */
static inline void
ainftp_ctr_add(uint64_t *ctr, uint64_t n)
{
	__atomic_store_n(ctr, *ctr + n, __ATOMIC_RELAXED);
}

static inline uint64_t
ainftp_ctr_read(const uint64_t *ctr)
{
	return __atomic_load_n(ctr, __ATOMIC_RELAXED);
}

/* One completion that took `cycles`: a binary search of the bounds (5 compares), one
 * bucket and the sum stored; no division, no atomic read-modify-write. */
static inline void
ainftp_lat_hist_add(struct ainftp_lat_hist *h, uint64_t cycles)
{
	unsigned int lo = 0, hi = AINFTP_LAT_BUCKETS;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;

		if (cycles <= h->le[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	ainftp_ctr_add(&h->bucket[lo], 1);
	ainftp_ctr_add(&h->sum, cycles);
}

/* The bounds for a TSC of hz cycles a second. */
void ainftp_lat_hist_init(struct ainftp_lat_hist *h, uint64_t hz);

static inline void
ainftp_drop(struct ainftp_port_ctr *ctr, enum ainftp_drop why)
{
	ainftp_ctr_add(&ctr->drops[why], 1);
}

/*
 * Every received frame lands in exactly one outcome: a contribution summed
 * (data_pkts), a DATA answered from a kept result (data_answered), a
 * HEARTBEAT_ACK handed on, a PROBE or HELLO answered, an ARP or ICMP handled,
 * or one drop reason (drops[] before AINFTP_DROP_FRAME_MAX, proto_drops[]).
 * Returns rx_pkts minus those: 0 when every frame is accounted for, whatever
 * the traffic (docs/CONTROL.md, "Counters"). Exact on a quiescent lcore;
 * while one runs, a reader may see a burst counted in part.
 */
int64_t ainftp_counters_unaccounted(const struct ainftp_port_ctr *c);

/* Zero all counters (start-up, tests). */
void ainftp_counters_reset(void);

/* Add c's counters into sum (relaxed loads). */
void ainftp_counters_accumulate(struct ainftp_port_ctr *sum, const struct ainftp_port_ctr *c);

/* Sum of every lcore's counters for one port. */
void ainftp_counters_port_sum(uint16_t port_idx, struct ainftp_port_ctr *sum);

#endif
