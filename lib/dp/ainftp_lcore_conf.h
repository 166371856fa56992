/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_LCORE_CONF_H
#define AINFTP_LCORE_CONF_H

/*
 * One RX lcore's whole state, as l3fwd.h's struct lcore_conf: its queues, its
 * TX buffers, what it knows of the network, and its share of every job (the
 * slots of the lanes it polls, its copy of the quorum, its view of each
 * worker). Allocated on the lcore's own socket before launch; the lcore is the
 * only writer of all of it. What other lcores read, and how, is said per field
 * (seqcounts, relaxed single-writer stores) and read through ainftp_dp_view.h.
 * Every file of the data path includes this; nothing here includes telemetry.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "ainftp_codec.h"
#include "ainftp_config.h"
#include "ainftp_counters.h"
#include "ainftp_mac.h"
#include "ainftp_members.h"
#include "ainftp_mstash.h"
#include "ainftp_net.h"
#include "ainftp_proto.h"
#include "ainftp_publish.h"
#include "ainftp_sentry.h"
#include "ainftp_sentry_policy.h"
#include "ainftp_sink_ops.h"
#include "ainftp_slot.h"
#include "ainftp_tx.h"

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
	uint64_t learnt_tsc; /* when this lcore last learnt it (TSC) */
	/* 1 + the highest step of its authenticated DATA on this lcore, 0 before any: a chunk
	 * whose every contributor has gone past its step is waited for by nobody. */
	uint64_t step_seen;
	/*
	 * Steps [absent_lo, absent_hi) it was told to leave out: the ones before
	 * the step its HELLO_ACK gave it (a new process), or those a STATE stale
	 * sent it past. It sends nothing to their chunks, so a chunk that needs it
	 * to reach min_quorum can never complete (offer_later abandons it).
	 */
	uint32_t absent_lo, absent_hi;
	struct ainftp_mac_key key; /* derived once from the worker's key; alg the job's */
	/* Ethernet, IPv4 and UDP headers of its results, built when its address is learnt. */
	uint8_t tmpl[AINFTP_UDP_HDRS_LEN];
	/*
	 * Its processes: the nonce of the latest HELLO this lcore took in as a new
	 * process's (hello_taken), the step that HELLO's ack gave it (every copy
	 * of the same HELLO gets the same answer and moves nothing), and how many
	 * new processes this lcore has forgotten the old one of (its own HELLOs,
	 * and the snapshot's starts for those taken elsewhere).
	 */
	uint64_t hello_nonce;
	uint32_t hello_step;
	uint32_t starts;
	bool hello_taken;
	/*
	 * How late its data is on this lcore, for the control lcore's ranking:
	 * single writer, relaxed atomics (as counters), read by ainftp_dp_worker_lag.
	 */
	uint64_t lag_ewma;    /* EWMA (gain 1/8) of lateness, 1/16 cycles */
	uint64_t lag_samples; /* contributions timed */
	uint64_t wait;	      /* cycles the oldest open slot waiting for it had waited, last scan */
	/* This lcore's sentry on it: contributions (or chunks) judged and flagged. Single
	 * writer, relaxed stores; the control lcore sums them over lcores each tick. */
	uint64_t sentry_seen;
	uint64_t sentry_flagged;
	/* Its contributions in a result, and its packets refused (authenticated as its,
	 * or from its address), on this lcore: single writer, for telemetry. */
	uint64_t contribs;
	uint64_t drops;
};

/*
 * A leaf's way up (docs/SCALEOUT.md): the spine, and what this lcore did
 * with it. The counters and times are single writer, relaxed, read by the
 * control lcore and telemetry (ainftp_dp_upstream_view).
 */
struct ainftp_dp_upstream {
	uint32_t ipv4;		   /* the spine, network order */
	uint16_t leaf;		   /* this leaf's index: its worker id at the spine */
	uint16_t bpp;		   /* blocks per part of a partial sum (one frame each) */
	struct ainftp_mac_key key; /* the leaf's key with the spine */
	struct rte_ether_addr mac; /* the spine's, once known (ARP) */
	bool mac_known;
	uint64_t arp_next;   /* TSC before which no new ARP request goes out */
	uint64_t rto;	     /* cycles a partial waits for its result before it goes again */
	uint64_t heard_tsc;  /* the spine's last packet that passed its checks (0: none) */
	uint64_t oldest_tsc; /* the oldest partial waiting at the last scan (0: none) */
	uint64_t partials;   /* partial sums sent (each of several frames) */
	uint64_t probes;     /* PROBEs of a partial sum's chunk, after its rto */
	uint64_t resent;     /* partial sums sent again: parts a STATE missing named, or whole */
	uint64_t results;    /* results taken from the spine */
	uint64_t arp_sent;   /* ARP requests for the spine */
};

struct ainftp_dp_job {
	uint32_t id;
	uint16_t idx; /* in cfg->jobs and in the published quorum */
	uint16_t port_idx;
	uint16_t lanes; /* the port's RX queues: slot k is summed on queue k % lanes */
	const struct ainftp_codec *codec;  /* of contributions (ainftp_codec.h) */
	const struct ainftp_codec *rcodec; /* of results */
	bool auth;
	bool result_tags;    /* auth, and results tagged too (cluster.json result_tags) */
	uint8_t auth_mac;    /* enum ainftp_mac_alg of its tags after the handshake */
	uint8_t shard_index; /* this box's place among the job's appliances (HELLO) */
	uint8_t shard_count;
	enum ainftp_job_role role;    /* a box, a leaf or the spine (docs/SCALEOUT.md) */
	struct ainftp_dp_upstream up; /* a leaf's */
	/* The spine's: each leaf's workers (bit = worker id), by leaf index. */
	uint64_t leaf_workers[AINFTP_MAX_LEAVES];
	uint16_t quorum;
	uint16_t min_quorum; /* never a result with fewer contributors */
	uint64_t threshold;  /* straggler.threshold_ms in cycles */
	/* This lcore's copy of the published membership, refreshed once per poll. */
	struct ainftp_quorum_snap q;
	/* For the control lcore (single writer, relaxed atomics). */
	uint64_t max_step; /* the highest step of a chunk started here */
	/* 1 + the highest step of a chunk completed here, 0 before any: where a worker
	 * joins (HELLO_ACK) or rejoins (STATE). Only this lcore reads it. */
	uint32_t done_next;
	uint64_t partial_wait_max; /* cycles from first contribution to a result without everyone */
	struct ainftp_lat_hist latency; /* of this lcore's chunks of the job (ainftp_counters.h) */
	uint16_t elems;
	uint32_t n_slots;
	uint32_t payload_len; /* of a contribution */
	uint32_t result_len;  /* of a result's payload */
	uint16_t n_workers;
	uint8_t worker_idx[AINFTP_MAX_WORKERS]; /* worker id -> index, 0xff: none */
	struct ainftp_dp_worker workers[AINFTP_MAX_WORKERS];
	struct ainftp_slot **slots; /* n_slots; NULL where another lcore owns the slot */
	/* The sink's entry of slot 0 (slot k at k * sink_stride), NULL with the sink off;
	 * this lcore writes only the entries of its own slots. */
	struct ainftp_sink_mark *sink_entries;
	uint32_t sink_stride;
	uint32_t sink_put; /* results of the job this lcore marked (its doorbell's value) */
	/*
	 * The job's sentry on this lcore (docs/SENTRY.md), NULL with policy none.
	 * Worker w of the library is the worker's index here; its quarantine mask
	 * follows the published snapshot (q.quarantined), never its own score.
	 */
	struct ainftp_sentry *sentry;
	const struct ainftp_sentry_rule *rule; /* the job's row (ainftp_sentry_policy.h) */
};

_Static_assert(AINFTP_MAX_JOBS <= 32, "ainftp_dp.bells_due has a bit per job");

/*
 * Result copies whose tags wait for the end of the burst: every result of a
 * burst, each for every worker, goes through the MAC's SIMD lanes together
 * (a result alone fills 4 of 16 lanes at 4 workers). Up to AINFTP_TAGS_DUE.
 */
#define AINFTP_TAGS_DUE 128

struct ainftp_tags_due {
	unsigned int n;
	struct rte_mbuf *m[AINFTP_TAGS_DUE]; /* the copy, sent once its tag is in */
	uint16_t port_idx[AINFTP_TAGS_DUE];
	uint8_t *tag[AINFTP_TAGS_DUE];		/* where its tag goes */
	struct rte_mbuf *hold[AINFTP_TAGS_DUE]; /* a reference on msg's mbuf (copies), or NULL */
	const struct ainftp_mac_key *mk[AINFTP_TAGS_DUE];
	const void *msg[AINFTP_TAGS_DUE]; /* the signed bytes: header and payload */
	size_t len[AINFTP_TAGS_DUE];
};

struct ainftp_dp {
	uint16_t n_jobs;
	struct ainftp_dp_job *jobs;
	struct ainftp_kernels k;	      /* the SIMD kernels the codecs call (--simd) */
	const struct ainftp_sentry_ops *sops; /* the sentry's kernels, capped like k */
	const struct ainftp_mac_ops *mac;     /* the MAC's kernels, capped like k */
	struct rte_mempool *result_pool;
	struct rte_mempool *hdr_pool;
	/* Their mbufs taken ahead, warm (ainftp_mstash.h): what results are built in. */
	struct ainftp_mstash result_stash;
	struct ainftp_mstash hdr_stash;
	struct ainftp_tags_due tags_due; /* result copies waiting for their tags */
	float *scratch;			 /* float32 payloads copied to alignment before summing */
	/* HEARTBEAT_ACKs that passed their checks, to the control lcore (single producer
	 * and single consumer: this lcore and the control lcore). */
	struct rte_ring *hb_ring;
	struct ainftp_members *members; /* the published quorum (RCU reader) */
	/* Every lcore's, read-only here: a leaf finds its spine in any lcore's neighbours. */
	const struct ainftp_runtime *rt;
	const struct ainftp_sink *sink; /* the result arena, or NULL */
	uint16_t sink_rx;		/* this lcore's doorbell in each job's row */
	uint32_t bells_due;		/* jobs (bit = index) marked this poll, doorbell not rung */
	uint64_t now;			/* TSC at the start of this poll */
	uint64_t next_scan;		/* TSC of the next scan of the open slots */
	uint64_t scan_period;
};

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

#endif
