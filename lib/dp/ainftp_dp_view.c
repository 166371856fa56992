/* SPDX-License-Identifier: BSD-3-Clause */
/* The RX lcores' state as the control lcore and telemetry read it (ainftp_dp_view.h). */
#include <stddef.h>
#include <string.h>

#include "ainftp_dp_view.h"
#include "ainftp_lcore_conf.h"

/* One RX lcore's copy, consistent (see struct ainftp_dp_worker). */
static void
addr_read(const struct ainftp_dp_worker *w, struct ainftp_dp_addr *a)
{
	uint32_t sc0, sc1;

	do {
		sc0 = __atomic_load_n(&w->addr_sc, __ATOMIC_ACQUIRE);
		a->udp_port = w->udp_port;
		rte_ether_addr_copy(&w->mac, &a->mac);
		a->learnt_tsc = w->learnt_tsc;
		/* The copies above complete before the count is read again. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		sc1 = __atomic_load_n(&w->addr_sc, __ATOMIC_RELAXED);
	} while ((sc0 & 1) != 0 || sc0 != sc1);
}

/* Job job_idx of lcore's RX context, or NULL when the lcore is no RX lcore (or has no such job). */
static const struct ainftp_dp_job *
job_at(const struct ainftp_runtime *rt, unsigned int lcore, uint16_t job_idx)
{
	const struct ainftp_rx_ctx *ctx = rt->rx[lcore];

	return ctx == NULL || job_idx >= ctx->dp.n_jobs ? NULL : &ctx->dp.jobs[job_idx];
}

bool
ainftp_dp_worker_addr(const struct ainftp_runtime *rt, uint16_t job_idx, uint16_t widx,
		      struct ainftp_dp_addr *out)
{
	struct ainftp_dp_addr a;
	unsigned int lcore;
	bool found = false;

	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		const struct ainftp_dp_job *job = job_at(rt, lcore, job_idx);

		if (job == NULL)
			continue;
		addr_read(&job->workers[widx], &a);
		if (a.udp_port != 0 && (!found || a.learnt_tsc > out->learnt_tsc)) {
			*out = a;
			found = true;
		}
	}
	return found;
}

void
ainftp_dp_worker_lag(const struct ainftp_runtime *rt, uint16_t job_idx, uint16_t widx,
		     struct ainftp_dp_lag *out)
{
	unsigned int lcore;

	memset(out, 0, sizeof(*out));
	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		const struct ainftp_dp_job *job = job_at(rt, lcore, job_idx);
		const struct ainftp_dp_worker *w;

		if (job == NULL)
			continue;
		w = &job->workers[widx];
		out->ewma =
			RTE_MAX(out->ewma, __atomic_load_n(&w->lag_ewma, __ATOMIC_RELAXED) >> 4);
		out->wait = RTE_MAX(out->wait, __atomic_load_n(&w->wait, __ATOMIC_RELAXED));
		out->samples += __atomic_load_n(&w->lag_samples, __ATOMIC_RELAXED);
		out->contribs += __atomic_load_n(&w->contribs, __ATOMIC_RELAXED);
		out->drops += __atomic_load_n(&w->drops, __ATOMIC_RELAXED);
	}
}

void
ainftp_dp_worker_sentry(const struct ainftp_runtime *rt, uint16_t job_idx, uint16_t widx,
			uint64_t *seen, uint64_t *flagged)
{
	unsigned int lcore;

	*seen = *flagged = 0;
	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		const struct ainftp_dp_job *job = job_at(rt, lcore, job_idx);
		const struct ainftp_dp_worker *w;

		if (job == NULL)
			continue;
		w = &job->workers[widx];
		*seen += __atomic_load_n(&w->sentry_seen, __ATOMIC_RELAXED);
		*flagged += __atomic_load_n(&w->sentry_flagged, __ATOMIC_RELAXED);
	}
}

/* The largest of a per-lcore field of a job over every RX lcore. */
static uint64_t
job_field_max(const struct ainftp_runtime *rt, uint16_t job_idx, size_t offset)
{
	unsigned int lcore;
	uint64_t v = 0;

	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		const struct ainftp_dp_job *job = job_at(rt, lcore, job_idx);
		const uint64_t *f;

		if (job == NULL)
			continue;
		f = (const uint64_t *)((const char *)job + offset);
		v = RTE_MAX(v, __atomic_load_n(f, __ATOMIC_RELAXED));
	}
	return v;
}

uint64_t
ainftp_dp_job_max_step(const struct ainftp_runtime *rt, uint16_t job_idx)
{
	return job_field_max(rt, job_idx, offsetof(struct ainftp_dp_job, max_step));
}

uint64_t
ainftp_dp_job_partial_wait(const struct ainftp_runtime *rt, uint16_t job_idx)
{
	return job_field_max(rt, job_idx, offsetof(struct ainftp_dp_job, partial_wait_max));
}

void
ainftp_dp_job_latency(const struct ainftp_runtime *rt, uint16_t job_idx,
		      struct ainftp_lat_hist *out)
{
	unsigned int lcore, i;

	memset(out, 0, sizeof(*out));
	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		const struct ainftp_dp_job *job = job_at(rt, lcore, job_idx);

		if (job == NULL)
			continue;
		memcpy(out->le, job->latency.le, sizeof(out->le));
		for (i = 0; i <= AINFTP_LAT_BUCKETS; i++)
			out->bucket[i] += ainftp_ctr_read(&job->latency.bucket[i]);
		out->sum += ainftp_ctr_read(&job->latency.sum);
	}
}

void
ainftp_dp_job_upstream(const struct ainftp_runtime *rt, uint16_t job_idx,
		       struct ainftp_dp_up_view *out)
{
	unsigned int lcore;

	memset(out, 0, sizeof(*out));
	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		const struct ainftp_dp_job *job = job_at(rt, lcore, job_idx);
		const struct ainftp_dp_upstream *up;
		uint64_t oldest;

		if (job == NULL)
			continue;
		up = &job->up;
		out->heard_tsc =
			RTE_MAX(out->heard_tsc, __atomic_load_n(&up->heard_tsc, __ATOMIC_RELAXED));
		oldest = __atomic_load_n(&up->oldest_tsc, __ATOMIC_RELAXED);
		if (oldest != 0 && (out->oldest_tsc == 0 || oldest < out->oldest_tsc))
			out->oldest_tsc = oldest;
		out->partials += ainftp_ctr_read(&up->partials);
		out->probes += ainftp_ctr_read(&up->probes);
		out->resent += ainftp_ctr_read(&up->resent);
		out->results += ainftp_ctr_read(&up->results);
		out->arp_sent += ainftp_ctr_read(&up->arp_sent);
	}
}

const char *
ainftp_dp_upstream_state(const struct ainftp_dp_up_view *v, uint64_t now, uint64_t hz)
{
	uint64_t down = hz / 1000 * AINFTP_UPSTREAM_DOWN_MS;

	if (v->oldest_tsc != 0 && ainftp_dp_tsc_since(now, v->oldest_tsc) >= down &&
	    (v->heard_tsc == 0 || ainftp_dp_tsc_since(now, v->heard_tsc) >= down))
		return "down";
	return v->heard_tsc != 0 ? "up" : "unknown";
}

uint64_t
ainftp_dp_sink_written(const struct ainftp_runtime *rt)
{
	uint64_t n = 0;
	unsigned int lcore;

	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++)
		if (rt->rx[lcore] != NULL)
			n += ainftp_ctr_read(&rt->rx[lcore]->stats->sink_written);
	return n;
}

unsigned int
ainftp_dp_slots_busy(const struct ainftp_runtime *rt)
{
	unsigned int lcore, n = 0;
	uint32_t k;
	uint16_t j;

	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		const struct ainftp_rx_ctx *ctx = rt->rx[lcore];

		for (j = 0; ctx != NULL && j < ctx->dp.n_jobs; j++)
			for (k = 0; k < ctx->dp.jobs[j].n_slots; k++) {
				const struct ainftp_slot *s = ctx->dp.jobs[j].slots[k];

				n += s != NULL && s->seq != AINFTP_SEQ_NONE && !s->done;
			}
	}
	return n;
}

struct rte_ring *
ainftp_dp_ack_ring(const struct ainftp_runtime *rt, unsigned int lcore)
{
	return rt->rx[lcore] == NULL ? NULL : rt->rx[lcore]->dp.hb_ring;
}
