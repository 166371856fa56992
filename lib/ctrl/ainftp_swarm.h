/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_SWARM_H
#define AINFTP_SWARM_H

/*
 * The control lcore's view of every (job, worker): heartbeats sent, acks back,
 * round-trip time, jitter, loss, when last heard from, and a state. The control
 * lcore is the only writer; telemetry reads from its own thread. Every field a
 * reader may see is a 64-bit value stored and loaded with relaxed atomics (as
 * ainftp_ctr), so none tears; a reader may see one field a heartbeat ahead of
 * another, which a monitoring view can live with.
 *
 * The arithmetic needs no EAL: times are TSC cycles and the caller says how
 * many make a second, so tests drive it with synthetic clocks.
 */

#include <stdbool.h>
#include <stdint.h>

#include "ainftp_config.h"
#include "ainftp_publish.h"

/* A heartbeat's fate is remembered for this many heartbeats (one bitmap word). */
#define AINFTP_SWARM_WINDOW 64
/*
 * RTT and jitter are kept in 1/16 cycles: integer EWMAs with gains of 1/8 and
 * 1/16 otherwise stop short of their target by up to 15 units.
 */
#define AINFTP_SWARM_FRAC_BITS 4

enum ainftp_peer_state {
	AINFTP_PEER_UNKNOWN, /* its address was never learnt: nothing to send to */
	AINFTP_PEER_UP,	     /* acked within the silence bound, or too new to tell */
	AINFTP_PEER_SILENT,  /* no ack for longer than the silence bound */
};

struct ainftp_peer {
	uint64_t known;	       /* 1 once the worker's address has been learnt */
	uint64_t sent;	       /* heartbeats sent to it */
	uint64_t acks;	       /* acks taken (duplicates and forgeries not counted) */
	uint64_t last_seq;     /* sequence number of the latest heartbeat sent to it */
	uint64_t first_tsc;    /* when its first heartbeat went; 0: none yet */
	uint64_t last_ack_tsc; /* when its latest ack arrived; 0: never */
	uint64_t hello_tsc;    /* when a new process of it last joined (HELLO); 0: never */
	/* smoothed RTT, 1/16 cycles (EWMA 1/8); 0: no sample yet (since its latest HELLO) */
	uint64_t srtt;
	uint64_t jitter; /* EWMA 1/16 of |rtt - srtt|, 1/16 cycles */
	/* Bit i: heartbeat last_seq - i was acked. Bits past `sent` mean nothing. */
	uint64_t window;
};

struct ainftp_swarm_job {
	uint32_t id;
	uint16_t n_workers;
	uint16_t worker_id[AINFTP_MAX_WORKERS];
	uint32_t ipv4[AINFTP_MAX_WORKERS]; /* network order, from cluster.json */
	uint64_t silent_after;		   /* cycles without an ack that make a worker silent */
	struct ainftp_peer peers[AINFTP_MAX_WORKERS];
};

struct ainftp_swarm {
	uint64_t hz;	   /* cycles per second */
	uint64_t interval; /* cycles between heartbeats; 0: heartbeats off */
	uint32_t seq;	   /* the next heartbeat's sequence number */
	uint16_t n_jobs;
	struct ainftp_swarm_job jobs[AINFTP_MAX_JOBS];
};

/* What telemetry and the stats line show of one peer, read without tearing. */
struct ainftp_peer_view {
	uint32_t job;
	uint16_t id;
	uint32_t ipv4;
	enum ainftp_peer_state state;
	double rtt_us; /* 0 before the first ack */
	double jitter_us;
	double loss;	      /* 0..1 over the last heartbeats whose acks are due */
	int64_t last_seen_ms; /* ms since the last ack, -1: never */
	uint64_t sent, acks;
};

/*
 * Jobs and workers from the config. A worker is silent after max(3 intervals,
 * its job's straggler.threshold_ms) without an ack.
 */
void ainftp_swarm_init(struct ainftp_swarm *sw, const struct ainftp_config *cfg, uint64_t hz,
		       uint32_t interval_ms);

/* Its address is known from now on: heartbeats go to it. */
void ainftp_swarm_known(struct ainftp_peer *p);

/*
 * A new process of p joined at time now (an accepted HELLO): heard from then,
 * as by an ack, and its RTT measured afresh (the old process's is not its).
 */
void ainftp_swarm_hello(struct ainftp_peer *p, uint64_t now);

/* A heartbeat with sequence number seq went to p at time now. */
void ainftp_swarm_sent(struct ainftp_peer *p, uint32_t seq, uint64_t now);

/*
 * An ack: true when taken, false when ignored: for a heartbeat never sent to
 * p (a sequence number ahead of the last, or an echoed TSC before the first
 * heartbeat or after the ack's arrival), too old to remember, or a duplicate.
 */
bool ainftp_swarm_ack(struct ainftp_peer *p, uint32_t seq, uint64_t tx_tsc, uint64_t rx_tsc);

/* Fraction of the remembered heartbeats, the latest (still in flight) aside, never acked. */
double ainftp_swarm_loss(const struct ainftp_peer *p);

enum ainftp_peer_state ainftp_swarm_state(const struct ainftp_swarm_job *job,
					  const struct ainftp_peer *p, uint64_t now);

void ainftp_swarm_view(const struct ainftp_swarm *sw, uint16_t job_idx, uint16_t widx, uint64_t now,
		       struct ainftp_peer_view *v);

const char *ainftp_peer_state_name(enum ainftp_peer_state s);

#endif
