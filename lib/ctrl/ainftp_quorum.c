/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "ainftp_quorum.h"

/* Single writer (the control lcore): plain values, stored atomically only so readers never tear. */
static inline void
put(uint64_t *f, uint64_t v)
{
	__atomic_store_n(f, v, __ATOMIC_RELAXED);
}

void
ainftp_quorum_init(struct ainftp_quorum *q, const struct ainftp_config *cfg, uint64_t hz,
		   uint32_t heartbeat_interval_ms)
{
	uint16_t j, w;

	memset(q, 0, sizeof(*q));
	q->hz = hz;
	q->n_jobs = cfg->n_jobs;
	for (j = 0; j < cfg->n_jobs; j++) {
		const struct ainftp_job_conf *jc = &cfg->jobs[j];
		struct ainftp_quorum_job *job = &q->jobs[j];

		job->id = jc->id;
		job->n_workers = jc->n_workers;
		job->min_quorum = jc->straggler.min_quorum;
		job->heartbeats = heartbeat_interval_ms != 0;
		/*
		 * A spine's "workers" are its leaves, and it waits for every one of
		 * them (docs/SCALEOUT.md): ranking one out changed nothing but its
		 * log, which named a leaf that was slow to its own workers' pace as
		 * "worker N leaves the quorum". Their health still shows in telemetry.
		 */
		job->fixed = jc->role == AINFTP_ROLE_SPINE;
		job->threshold = hz / 1000 * jc->straggler.threshold_ms;
		/* Without a sentry nothing is judged; a threshold of 1 never quarantines. */
		job->sentry_threshold = jc->sentry.policy == AINFTP_SENTRY_NONE
						? UINT64_MAX
						: (uint64_t)ceil(jc->sentry.suspicion_threshold *
								 AINFTP_QUORUM_Q16);
		job->version = 1;
		job->n_members = jc->n_workers;
		for (w = 0; w < jc->n_workers; w++) {
			job->worker_id[w] = jc->workers[w].id;
			job->m[w].in = 1;
			job->m[w].rank = w + 1u; /* in worker order until the first tick */
		}
	}
}

/*
 * A member that must leave, and why; AINFTP_OUT_NONE when it may stay. A new
 * process is not judged on lag for a threshold after its HELLO: until the RX
 * lcores have seen the snapshot that counts it, their lag is the old one's.
 */
static enum ainftp_out_reason
leave_reason(const struct ainftp_quorum_job *job, const struct ainftp_member *m,
	     const struct ainftp_health *h, uint64_t now)
{
	if (h->state == AINFTP_PEER_SILENT)
		return AINFTP_OUT_SILENT;
	if (h->srtt > job->threshold)
		return AINFTP_OUT_RTT;
	if (h->lag > job->threshold &&
	    (m->starts == 0 || now < m->start_tsc || now - m->start_tsc >= job->threshold))
		return AINFTP_OUT_LAG;
	return AINFTP_OUT_NONE;
}

/*
 * Healthy again, with margins (hysteresis), so that a worker near the
 * threshold does not flap: out for a threshold at least, half the threshold
 * for RTT and lag, fresh contributions timed, and an ack since it left.
 */
static bool
may_rejoin(const struct ainftp_quorum_job *job, const struct ainftp_member *m,
	   const struct ainftp_health *h, uint64_t now)
{
	uint64_t half = job->threshold / 2;

	if (now - m->out_tsc < job->threshold || h->srtt > half || h->lag > half)
		return false;
	if (h->samples - m->out_samples < AINFTP_QUORUM_REJOIN_SAMPLES)
		return false;
	/* Without heartbeats the swarm knows nothing: data alone decides. */
	if (!job->heartbeats)
		return h->state != AINFTP_PEER_SILENT;
	return h->state == AINFTP_PEER_UP && h->acks > m->out_acks;
}

static void
leave(struct ainftp_member *m, const struct ainftp_health *h, enum ainftp_out_reason why,
      uint64_t now)
{
	put(&m->in, 0);
	put(&m->downranked, m->downranked + 1);
	put(&m->reason, why);
	put(&m->out_tsc, now);
	put(&m->out_acks, h->acks);
	put(&m->out_samples, h->samples);
}

/* The larger of a worker's RTT and lag: what ranks it among the members (or the others). */
static inline uint64_t
rank_key(const struct ainftp_health *h)
{
	return h->srtt > h->lag ? h->srtt : h->lag;
}

/* Worker a ranks above worker b. */
static bool
ranks_above(const struct ainftp_quorum_job *job, const struct ainftp_health *h, uint16_t a,
	    uint16_t b)
{
	uint64_t ka = rank_key(&h[a]), kb = rank_key(&h[b]);

	if (job->m[a].in != job->m[b].in)
		return job->m[a].in > job->m[b].in;
	return ka < kb || (ka == kb && a < b);
}

/* Every worker's rank and counts at this tick (n <= 64: n^2 comparisons are nothing). */
static void
rank_update(struct ainftp_quorum_job *job, const struct ainftp_health *h)
{
	uint16_t i, k;

	for (i = 0; i < job->n_workers; i++) {
		uint64_t r = 1;

		for (k = 0; k < job->n_workers; k++)
			r += k != i && ranks_above(job, h, k, i);
		put(&job->m[i].rank, r);
		put(&job->m[i].contribs, h[i].contribs);
		put(&job->m[i].drops, h[i].drops);
	}
}

bool
ainftp_quorum_update(struct ainftp_quorum_job *job, const struct ainftp_health *h,
		     uint64_t max_step, uint64_t now)
{
	uint64_t n = 0;
	bool changed = false;
	uint16_t i;

	for (i = 0; i < job->n_workers; i++) {
		struct ainftp_member *m = &job->m[i];
		enum ainftp_out_reason why;

		put(&m->lag, h[i].lag);
		if (m->quarantined) {
			/* Only the operator brings it back (ainftp_quorum_readmit). */
		} else if (m->in) {
			why = job->fixed ? AINFTP_OUT_NONE : leave_reason(job, m, &h[i], now);
			if (why != AINFTP_OUT_NONE) {
				leave(m, &h[i], why, now);
				changed = true;
			}
		} else if (may_rejoin(job, m, &h[i], now)) {
			/* Required from the next step that no RX lcore has started. */
			put(&m->join_step, max_step + 1);
			put(&m->rejoined, m->rejoined + 1);
			put(&m->in, 1);
			changed = true;
		}
		n += m->in;
	}
	if (changed) {
		put(&job->version, job->version + 1);
		put(&job->n_members, n);
	}
	rank_update(job, h);
	return changed;
}

void
ainftp_quorum_hello(struct ainftp_quorum_job *job, uint16_t i, uint32_t step, uint64_t now)
{
	struct ainftp_member *m = &job->m[i];

	put(&m->starts, m->starts + 1);
	put(&m->start_step, step);
	put(&m->start_tsc, now);
	if (!m->quarantined) {
		if (!m->in) {
			put(&m->rejoined, m->rejoined + 1);
			put(&m->in, 1);
			put(&job->n_members, job->n_members + 1);
		}
		put(&m->join_step, step);
	}
	put(&job->version, job->version + 1);
}

bool
ainftp_quorum_sentry(struct ainftp_quorum_job *job, const uint64_t *seen, const uint64_t *flagged)
{
	uint64_t out = 0;
	bool changed = false;
	uint16_t i;

	for (i = 0; i < job->n_workers; i++)
		out += job->m[i].quarantined != 0;
	for (i = 0; i < job->n_workers; i++) {
		struct ainftp_member *m = &job->m[i];
		uint64_t ds = seen[i] - m->sentry_seen, df = flagged[i] - m->sentry_flagged;
		double score = (double)m->suspicion, a;

		/* Counters only grow; anything else (a reset) only moves the baseline. */
		if (seen[i] < m->sentry_seen || flagged[i] < m->sentry_flagged || df > ds)
			ds = df = 0;
		put(&m->sentry_seen, seen[i]);
		put(&m->sentry_flagged, flagged[i]);
		if (ds == 0)
			continue;
		a = 1.0 - pow(1.0 - 1.0 / 64, (double)ds);
		score += ((double)df / (double)ds * AINFTP_QUORUM_Q16 - score) * a;
		score = score < 0			? 0
			: score > AINFTP_QUORUM_Q16 - 1 ? AINFTP_QUORUM_Q16 - 1
							: score;
		put(&m->suspicion, (uint64_t)score);
		/* Never a majority out, and never below the floor: the job would stop. */
		if (m->quarantined || m->suspicion < job->sentry_threshold ||
		    out >= (job->n_workers - 1u) / 2 || job->n_workers - out - 1u < job->min_quorum)
			continue;
		/* Quarantined: out of the quorum, whatever it was before. */
		if (m->in) {
			put(&m->in, 0);
			put(&m->downranked, m->downranked + 1);
		}
		put(&m->reason, AINFTP_OUT_SENTRY);
		put(&m->quarantined, 1);
		put(&m->quarantines, m->quarantines + 1);
		out++;
		changed = true;
	}
	if (changed) {
		uint64_t n = 0;

		for (i = 0; i < job->n_workers; i++)
			n += job->m[i].in;
		put(&job->version, job->version + 1);
		put(&job->n_members, n);
	}
	return changed;
}

int
ainftp_quorum_readmit(struct ainftp_quorum_job *job, uint16_t i, uint64_t max_step)
{
	struct ainftp_member *m;

	if (i >= job->n_workers || !job->m[i].quarantined)
		return -EINVAL;
	m = &job->m[i];
	put(&m->quarantined, 0);
	put(&m->suspicion, 0);
	put(&m->readmits, m->readmits + 1);
	put(&m->join_step, max_step + 1);
	put(&m->rejoined, m->rejoined + 1);
	put(&m->in, 1);
	put(&job->version, job->version + 1);
	put(&job->n_members, job->n_members + 1);
	return 0;
}

void
ainftp_quorum_snapshot(const struct ainftp_quorum_job *job, struct ainftp_quorum_snap *out)
{
	uint16_t i;

	memset(out, 0, sizeof(*out));
	out->version = job->version;
	for (i = 0; i < job->n_workers; i++) {
		const struct ainftp_member *m = &job->m[i];
		uint16_t id = job->worker_id[i];

		out->starts[id] = (uint32_t)m->starts;
		out->start_step[id] = (uint32_t)m->start_step;
		if (m->quarantined)
			out->quarantined |= UINT64_C(1) << id;
		if (!m->in)
			continue;
		out->members |= UINT64_C(1) << id;
		out->join_step[id] = m->join_step;
		if (m->join_step != 0)
			out->late |= UINT64_C(1) << id;
		if (m->join_step > out->max_join)
			out->max_join = m->join_step;
	}
}

const char *
ainftp_out_reason_name(enum ainftp_out_reason r)
{
	static const char *const names[] = {
		[AINFTP_OUT_NONE] = "none",	[AINFTP_OUT_SILENT] = "silent",
		[AINFTP_OUT_RTT] = "rtt",	[AINFTP_OUT_LAG] = "lag",
		[AINFTP_OUT_SENTRY] = "sentry",
	};

	return r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}
