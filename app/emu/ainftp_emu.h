/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_EMU_H
#define AINFTP_EMU_H

/*
 * Emulated workers, testpmd-style, in the appliance's own process: a pair of
 * ring ethdevs cross-connected in place of one config port, and one extra
 * lcore that runs N workers of a job. Each worker streams its chunks with a
 * window, probes the box on timeout and resends data only when the box misses
 * it (protocol v2), verifies the results' tags and checks every one bit
 * for bit against a reference computed separately from the inputs. Loss,
 * duplication and reordering can be injected in both directions.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ainftp_runtime.h"

struct ainftp_emu_conf {
	unsigned int lcore; /* the emulator's lcore: in the EAL list, no other role */
	uint16_t job_idx;   /* index into cfg->jobs */
	uint32_t chunks;    /* chunks per worker in the run */
	uint32_t chunks_per_step;
	uint32_t window;     /* chunks in flight per worker; 0: the job's slots */
	uint32_t timeout_us; /* retransmission timeout */
	double loss;	     /* per packet, each direction */
	double dup;
	double reorder;
	uint64_t seed;
	int silent_worker;  /* the id of a worker that never answers a HEARTBEAT; -1: none */
	uint32_t linger_ms; /* after the last result, go on answering heartbeats this long */
	uint32_t rate;	    /* new chunks per second per worker (paced from the start); 0: free */
	uint32_t start_ms;  /* the workers' first chunk leaves this long after the loop starts */
	/* A straggler: from chunk delay_from on, worker delay_worker's DATA (first sends and
	 * retransmissions) leaves delay_ms late; it answers heartbeats at once. -1: none. */
	int delay_worker;
	uint32_t delay_ms;
	uint32_t delay_from;
	/* A crash: worker kill_worker stops entirely (no data, no heartbeat answers, results
	 * ignored) when it would first send chunk kill_at, for kill_ms; then restarts from the
	 * same address and rejoins at a step boundary (emu.c). -1: none. */
	int kill_worker;
	uint32_t kill_at;
	uint32_t kill_ms;
};

struct ainftp_emu_report {
	uint16_t workers;
	uint64_t chunks;	  /* per worker */
	uint64_t results_checked; /* results taken by a worker and compared */
	uint64_t results_exact;
	uint64_t retransmits;  /* DATA sent again: after a MISSING, or an AHEAD and a timeout */
	uint64_t probes;       /* PROBEs sent on timeouts, instead of the data */
	uint64_t tag_failures; /* results and STATEs dropped for their tag (want 0) */
	uint64_t states_stale; /* STALE for an outstanding chunk (want 0: nothing skips here) */
	uint64_t injected_loss, injected_dup, injected_reorder;
	uint64_t heartbeats;		/* HEARTBEATs taken by the workers */
	uint64_t heartbeats_unanswered; /* of which the silent worker's, or no mbuf for the ack */
	uint64_t results_partial;	/* checked results without every worker */
	uint64_t by_count[AINFTP_MAX_WORKERS + 1]; /* checked results by contributor count */
	uint64_t absent[AINFTP_MAX_WORKERS];	   /* checked results without worker index i */
	int64_t partial_last;			   /* the last chunk with a partial result; -1 */
	int64_t full_last;			   /* the last chunk with a full result; -1 */
	/* From the fault (the straggler's first late frame, or the kill) to the first
	 * partial result a worker took; -1: no fault or no partial result. */
	double first_partial_after_ms;
	int64_t rejoin_at;	    /* the chunk the killed worker rejoined at; -1 */
	uint64_t full_after_rejoin; /* full results of chunks from rejoin_at on */
	uint64_t skipped; /* results the killed worker will never take: it died or skipped them */
	uint64_t delayed; /* frames the straggler sent late */
	uint64_t delay_full; /* frames of the straggler lost: its delay line was full */
	double seconds;
	bool stalled;		 /* no progress for AINFTP_EMU_STALL_S: gave up rather than hang */
	unsigned int slots_busy; /* slots still summing after the run (want 0) */
	/* The appliance's result header pool: every result copy must come back. */
	unsigned int pool_in_use_start, pool_in_use_end;
};

#define AINFTP_EMU_STALL_S 10

/*
 * Before ainftp_ports_setup: build the ring pair and put it in place of the
 * job's port (rt->ports[i] preset), give the lcore the emulator's role. 0, or -1 with a line.
 */
int ainftp_emu_attach(struct ainftp_runtime *rt, const struct ainftp_emu_conf *conf, char *err,
		      size_t errlen);

/*
 * After the lcores have stopped: fill the report (slots and pools measured now),
 * print the one-line summary, and return true when every result was checked
 * and exact, nothing stalled, no slot is busy and the pool is back to its start.
 */
bool ainftp_emu_report(struct ainftp_runtime *rt, struct ainftp_emu_report *rep, FILE *out);

void ainftp_emu_detach(struct ainftp_runtime *rt);

#endif
