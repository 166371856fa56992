/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_QUORUM_H
#define AINFTP_QUORUM_H

/*
 * Straggler ranking and the quorum (docs/CONTROL.md). The control lcore
 * decides, every tick and per job, which workers a slot waits for (the
 * members); the RX lcores complete a slot when every member it is required
 * for has contributed and at least min_quorum have. The decision is here,
 * without EAL: times are TSC cycles and the caller says how many make a
 * second, so tests drive it with synthetic clocks. Publication to the RX
 * lcores (RCU) is ainftp_members.h.
 *
 * A worker leaves the quorum (is downranked) when it is silent (no heartbeat
 * ack for the swarm's silence bound), when its RTT is above the job's
 * straggler.threshold_ms, or when its lag is: the larger of how late its data
 * arrives after a slot's first contribution (an EWMA) and how long an open
 * slot has been waiting for it. It rejoins only once healthy again (hysteresis):
 * out for at least the threshold, acked since it left (with heartbeats on), RTT
 * and lag at most half the threshold, and REJOIN_SAMPLES contributions seen
 * since it left. It is then required only for steps above the highest step the
 * RX lcores had started (its join step), so that it joins at a step boundary.
 */

#include <stdbool.h>
#include <stdint.h>

#include "ainftp_config.h"
#include "ainftp_publish.h"
#include "ainftp_swarm.h"

/* Contributions a worker out of the quorum must have made since it left to rejoin. */
#define AINFTP_QUORUM_REJOIN_SAMPLES 8

/* Why a worker left the quorum (the latest time). */
enum ainftp_out_reason {
	AINFTP_OUT_NONE,
	AINFTP_OUT_SILENT, /* no heartbeat ack for the swarm's silence bound */
	AINFTP_OUT_RTT,	   /* smoothed RTT above the threshold */
	AINFTP_OUT_LAG,	   /* its data late, or awaited, for longer than the threshold */
	AINFTP_OUT_SENTRY, /* quarantined: its suspicion reached the sentry's threshold */
};

/* One worker's health at one tick, gathered by the control lcore. */
struct ainftp_health {
	enum ainftp_peer_state state;
	uint64_t srtt;	   /* cycles; 0: no sample */
	uint64_t acks;	   /* heartbeat acks so far */
	uint64_t samples;  /* contributions timed so far, over every RX lcore */
	uint64_t lag;	   /* cycles: max(lateness EWMA, wait of an open slot) over RX lcores */
	uint64_t contribs; /* contributions in a result, over every RX lcore */
	uint64_t drops;	   /* its packets refused, over every RX lcore */
};

/*
 * One (job, worker) as the control lcore keeps it: it is the only writer;
 * telemetry reads with relaxed loads, every field 64 bits so none tears.
 */
struct ainftp_member {
	uint64_t in;	     /* 1: in the quorum */
	uint64_t lag;	     /* cycles, at the last tick */
	uint64_t downranked; /* times it left */
	uint64_t rejoined;   /* times it came back */
	uint64_t reason;     /* enum ainftp_out_reason of the latest departure */
	uint64_t join_step;  /* first step it is required for (0: from the start) */
	/* When it left, and its acks and samples then: what rejoining is measured from. */
	uint64_t out_tsc, out_acks, out_samples;
	/*
	 * The sentry, job-wide: contributions judged and flagged over every RX
	 * lcore (at the last tick), the suspicion computed from them (Q16), and
	 * the quarantine. A quarantined worker is out of the quorum and stays out
	 * (no rejoin as a straggler) until an operator readmits it.
	 */
	uint64_t sentry_seen, sentry_flagged;
	uint64_t suspicion; /* Q16 (AINFTP_QUORUM_Q16): 0 .. 65535 */
	uint64_t quarantined;
	uint64_t quarantines; /* times it was quarantined */
	uint64_t readmits;    /* times an operator readmitted it */
	/*
	 * Its rank in the job at the last tick, 1 the healthiest: members of the
	 * quorum first, then by the larger of RTT and lag, then by worker order.
	 * With its counts, for telemetry.
	 */
	uint64_t rank;
	uint64_t contribs, drops;
	/*
	 * New processes of it taken in by a HELLO (ainftp_quorum_hello), the step
	 * the latest was told to start at, and when it joined: for a threshold
	 * from then, the lag is the new process's to show, not the old one's.
	 */
	uint64_t starts, start_step, start_tsc;
};

#define AINFTP_QUORUM_Q16 65536u

struct ainftp_quorum_job {
	uint32_t id;
	uint16_t n_workers;
	uint16_t min_quorum;
	bool heartbeats;	   /* acks are expected: rejoining needs one */
	bool fixed;		   /* a spine's leaves: every one in every result, never out */
	uint64_t threshold;	   /* cycles */
	uint64_t sentry_threshold; /* suspicion (Q16) that quarantines; above Q16: never */
	uint64_t version;	   /* of the membership; published when it moves */
	uint64_t n_members;	   /* for telemetry */
	uint16_t worker_id[AINFTP_MAX_WORKERS];
	struct ainftp_member m[AINFTP_MAX_WORKERS]; /* by index into the job's workers */
};

struct ainftp_quorum {
	uint64_t hz;
	uint16_t n_jobs;
	struct ainftp_quorum_job jobs[AINFTP_MAX_JOBS];
};

/* Every worker in the quorum from step 0, version 1. */
void ainftp_quorum_init(struct ainftp_quorum *q, const struct ainftp_config *cfg, uint64_t hz,
			uint32_t heartbeat_interval_ms);

/*
 * One tick for one job: h[i] is worker index i's health, max_step the highest
 * step an RX lcore has started for the job. Returns true when the membership
 * changed: publish a new snapshot.
 */
bool ainftp_quorum_update(struct ainftp_quorum_job *job, const struct ainftp_health *h,
			  uint64_t max_step, uint64_t now);

/*
 * A new process of worker index i joined at time now (an RX lcore took its
 * HELLO, authenticated, with the job's geometry) and was told to start at
 * `step`: a member required from that step on, whatever the old process's
 * health was (out of the quorum, or not), and not downranked for lag before
 * a threshold has passed (its silence and RTT are its own: ainftp_swarm_hello),
 * unless quarantined: only the operator readmits it. Every HELLO taken is
 * counted in the snapshot (starts, start_step), so that each RX lcore
 * forgets what the old process left there. The membership moved: publish.
 */
void ainftp_quorum_hello(struct ainftp_quorum_job *job, uint16_t i, uint32_t step, uint64_t now);

/*
 * The sentry's tick for one job: seen[i] and flagged[i] are worker index i's
 * contributions judged and flagged so far, summed over every RX lcore (they
 * only grow). The suspicion is an EWMA of the flags, weight 1/64 per
 * observation like the library's per-lcore score (ainftp_sentry.h), taken
 * over what was observed since the last tick: score += (flagged/seen -
 * score) * (1 - (63/64)^seen). A worker whose suspicion reaches the job's
 * threshold is quarantined: out of the quorum, and out of the snapshot's
 * members into its quarantined mask, but never a majority: at most (n-1)/2
 * of the job's workers at once. Returns true when the membership changed.
 */
bool ainftp_quorum_sentry(struct ainftp_quorum_job *job, const uint64_t *seen,
			  const uint64_t *flagged);

/*
 * The operator's command: worker index i, quarantined, is readmitted: its
 * suspicion reset and back in the quorum like a straggler that recovered,
 * required from step max_step + 1 (a step boundary). 0 (publish), or -EINVAL
 * when i is out of range or not quarantined.
 */
int ainftp_quorum_readmit(struct ainftp_quorum_job *job, uint16_t i, uint64_t max_step);

/* The job's membership as RX lcores read it. */
void ainftp_quorum_snapshot(const struct ainftp_quorum_job *job, struct ainftp_quorum_snap *out);

const char *ainftp_out_reason_name(enum ainftp_out_reason r);

#endif
