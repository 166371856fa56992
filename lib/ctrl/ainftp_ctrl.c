/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "ainftp_ctrl.h"
#include "ainftp_dp_view.h"
#include "ainftp_log.h"
#include "ainftp_members.h"
#include "ainftp_net.h"

/* How often the control lcore wakes: bounds how late it sees a quit request. */
#define HB_FRAME_LEN (AINFTP_UDP_HDRS_LEN + sizeof(struct ainftp_hdr))
#define ACK_BURST 64

/*
 * Heartbeat mbufs: one per worker per round, and a TX ring's worth per port,
 * since a NIC may keep sent mbufs until its descriptors wrap. No per-lcore
 * cache: the control lcore takes them, and whoever frees them (a PMD's TX
 * clean-up, the far end of a ring port) puts them straight back.
 */
static unsigned int
hb_pool_size(const struct ainftp_runtime *rt)
{
	const struct ainftp_config *cfg = rt->cfg;
	unsigned int n = 64;
	uint16_t i;

	for (i = 0; i < cfg->n_jobs; i++)
		n += 2u * cfg->jobs[i].n_workers;
	for (i = 0; i < rt->n_ports; i++)
		n += RTE_MAX(cfg->ports[i].tx_desc, (uint16_t)AINFTP_RING_TX_DESC);
	return rte_align32pow2(n) - 1;
}

int
ainftp_ctrl_setup(struct ainftp_runtime *rt, char *err, size_t errlen)
{
	const struct ainftp_config *cfg = rt->cfg;
	unsigned int lcore = cfg->control_lcore;
	int socket = (int)rte_lcore_to_socket_id(lcore);
	uint16_t i, queue = (uint16_t)ainftp_config_rx_lcore_count(cfg);
	struct ainftp_ctrl *c;

	c = rte_zmalloc_socket("ainftp_ctrl", sizeof(*c), RTE_CACHE_LINE_SIZE, socket);
	if (c == NULL) {
		snprintf(err, errlen, "cannot allocate the control lcore's state");
		return -1;
	}
	rt->ctrl = c;
	ainftp_swarm_init(&c->swarm, cfg, rte_get_tsc_hz(), cfg->heartbeat_interval_ms);
	rt->swarm = &c->swarm;
	ainftp_quorum_init(&c->quorum, cfg, rte_get_tsc_hz(), cfg->heartbeat_interval_ms);
	rt->quorum = &c->quorum;
	c->stats = &ainftp_stats[lcore];
	/* The control lcore's TX queue is the one after every RX lcore's (ainftp_port). */
	for (i = 0; i < rt->n_ports; i++) {
		c->txq[i].port_id = rt->ports[i].port_id;
		c->txq[i].queue = queue;
	}
	if (cfg->heartbeat_interval_ms == 0)
		return 0;
	c->pool = rte_pktmbuf_pool_create("ainftp_hb", hb_pool_size(rt), 0, 0,
					  RTE_PKTMBUF_HEADROOM + RTE_CACHE_LINE_SIZE * 2, socket);
	if (c->pool == NULL) {
		snprintf(err, errlen, "cannot create the heartbeat pool (%u mbufs): %s",
			 hb_pool_size(rt), rte_strerror(rte_errno));
		return -1;
	}
	c->next_hb = rte_get_tsc_cycles();
	return 0;
}

void
ainftp_ctrl_free(struct ainftp_runtime *rt)
{
	if (rt->ctrl == NULL)
		return;
	rte_mempool_free(rt->ctrl->pool);
	rte_free(rt->ctrl);
	rt->ctrl = NULL;
	rt->swarm = NULL;
	rt->quorum = NULL;
}

/*
 * A new process of worker w of job j, taken in by an RX lcore's HELLO at
 * rx_tsc and told to start at step: alive, and a member from that step
 * (ainftp_quorum_hello), published with the next snapshot.
 */
static void
ctrl_hello(struct ainftp_runtime *rt, uint16_t j, uint16_t w, uint32_t step, uint64_t rx_tsc)
{
	struct ainftp_ctrl *c = rt->ctrl;
	struct ainftp_quorum_job *job = &c->quorum.jobs[j];

	ainftp_swarm_hello(&c->swarm.jobs[j].peers[w], rx_tsc);
	ainftp_quorum_hello(job, w, step, rx_tsc);
	c->unpublished[j] = true;
	if (job->m[w].quarantined)
		AINFTP_LOG(NOTICE,
			   "job %" PRIu32 ": worker %u joins again (HELLO), still quarantined",
			   job->id, job->worker_id[w]);
	else
		AINFTP_LOG(INFO,
			   "job %" PRIu32
			   ": worker %u joins (HELLO): in the quorum from step %" PRIu32,
			   job->id, job->worker_id[w], step);
}

unsigned int
ainftp_ctrl_acks_drain(struct ainftp_runtime *rt)
{
	struct ainftp_swarm *sw = rt->swarm;
	struct ainftp_hb_ack acks[ACK_BURST];
	unsigned int lcore, n, i, total = 0;

	for (lcore = 0; sw != NULL && lcore < RTE_MAX_LCORE; lcore++) {
		struct rte_ring *ring = ainftp_dp_ack_ring(rt, lcore);

		if (ring == NULL)
			continue;
		do {
			n = rte_ring_dequeue_burst_elem(ring, acks, sizeof(acks[0]), ACK_BURST,
							NULL);
			for (i = 0; i < n; i++) {
				const struct ainftp_hb_ack *a = &acks[i];

				/*
				 * rx_tsc is another lcore's TSC: comparable with ours on
				 * CPUs with an invariant, synchronised TSC (what DPDK's
				 * timers assume too). A forged or replayed echo is
				 * refused by ainftp_swarm_ack.
				 */
				if (a->job_idx >= sw->n_jobs ||
				    a->widx >= sw->jobs[a->job_idx].n_workers)
					continue;
				if (a->kind == AINFTP_UP_HELLO)
					ctrl_hello(rt, a->job_idx, a->widx, a->seq, a->rx_tsc);
				else
					ainftp_swarm_ack(&sw->jobs[a->job_idx].peers[a->widx],
							 a->seq, a->tx_tsc, a->rx_tsc);
			}
			total += n;
		} while (n == ACK_BURST);
	}
	return total;
}

/*
 * A HEARTBEAT to one worker: no payload and no tag (docs/PROTOCOL.md,
 * "Limitations"): a forged heartbeat can only make a worker answer, and its
 * ack is tagged under the worker's key.
 */
static struct rte_mbuf *
hb_frame(struct ainftp_runtime *rt, uint16_t j, uint16_t w, const struct ainftp_dp_addr *a,
	 uint32_t seq, uint64_t tsc)
{
	const struct ainftp_config *cfg = rt->cfg;
	const struct ainftp_job_conf *jc = &cfg->jobs[j];
	struct rte_mbuf *m = rte_pktmbuf_alloc(rt->ctrl->pool);
	struct ainftp_msg msg = {
		.type = AINFTP_MSG_HEARTBEAT,
		.job = jc->id,
		.worker = AINFTP_WORKER_APPLIANCE,
		.step = seq,
		.bitmap = tsc, /* echoed: the RTT needs no state per heartbeat */
	};
	char *p;

	if (m == NULL)
		return NULL;
	p = rte_pktmbuf_append(m, HB_FRAME_LEN);
	/* From the base UDP port: the worker's answer comes back to lane 0. */
	ainftp_udp_headers(p, &rt->ports[jc->port].mac, &a->mac, cfg->ipv4, jc->workers[w].ipv4,
			   rte_cpu_to_be_16(cfg->udp_port), a->udp_port,
			   (uint16_t)sizeof(struct ainftp_hdr));
	ainftp_hdr_write((struct ainftp_hdr *)(p + AINFTP_UDP_HDRS_LEN), &msg);
	return m;
}

unsigned int
ainftp_ctrl_heartbeat(struct ainftp_runtime *rt)
{
	struct ainftp_ctrl *c = rt->ctrl;
	struct ainftp_swarm *sw = &c->swarm;
	uint32_t seq = sw->seq++;
	unsigned int sent = 0;
	uint16_t j, w, port;

	for (j = 0; j < sw->n_jobs; j++) {
		port = rt->cfg->jobs[j].port;
		for (w = 0; w < sw->jobs[j].n_workers; w++) {
			struct ainftp_peer *p = &sw->jobs[j].peers[w];
			struct ainftp_dp_addr a;
			struct rte_mbuf *m;
			uint64_t tsc;

			if (!ainftp_dp_worker_addr(rt, j, w, &a))
				continue;
			if (!p->known)
				ainftp_swarm_known(p);
			tsc = rte_rdtsc();
			m = hb_frame(rt, j, w, &a, seq, tsc);
			if (m == NULL)
				continue; /* not sent, so neither lost: the next round tries */
			ainftp_swarm_sent(p, seq, tsc);
			ainftp_ctr_add(&c->stats->port[port].heartbeats_sent, 1);
			ainftp_tx_enqueue(&c->txq[port], m, &c->stats->port[port]);
			sent++;
		}
	}
	for (port = 0; port < rt->n_ports; port++)
		ainftp_tx_flush(&c->txq[port], &c->stats->port[port]);
	return sent;
}

/* What the swarm and the RX lcores say of worker w of job j now. */
static void
health_get(const struct ainftp_runtime *rt, uint16_t j, uint16_t w, uint64_t now,
	   struct ainftp_health *h)
{
	const struct ainftp_swarm_job *sj = &rt->swarm->jobs[j];
	const struct ainftp_peer *p = &sj->peers[w];
	struct ainftp_dp_lag lag;

	ainftp_dp_worker_lag(rt, j, w, &lag);
	h->state = ainftp_swarm_state(sj, p, now);
	h->srtt = __atomic_load_n(&p->srtt, __ATOMIC_RELAXED) >> AINFTP_SWARM_FRAC_BITS;
	h->acks = __atomic_load_n(&p->acks, __ATOMIC_RELAXED);
	h->samples = lag.samples;
	h->lag = RTE_MAX(lag.ewma, lag.wait);
	h->contribs = lag.contribs;
	h->drops = lag.drops;
}

/* A membership change, one line per worker that left or rejoined (rare: not per tick). */
static void
quorum_log(const struct ainftp_quorum_job *job, const uint64_t *was, const struct ainftp_health *h,
	   uint64_t hz)
{
	uint16_t w;

	for (w = 0; w < job->n_workers; w++) {
		const struct ainftp_member *m = &job->m[w];

		if (m->in == was[w])
			continue;
		if (m->in)
			AINFTP_LOG(INFO,
				   "job %" PRIu32
				   ": worker %u rejoins the quorum from step %" PRIu64,
				   job->id, job->worker_id[w], m->join_step);
		else
			AINFTP_LOG(INFO,
				   "job %" PRIu32
				   ": worker %u leaves the quorum (%s: rtt %.1f ms, lag %.1f ms)",
				   job->id, job->worker_id[w],
				   ainftp_out_reason_name((enum ainftp_out_reason)m->reason),
				   (double)h[w].srtt * 1e3 / (double)hz,
				   (double)h[w].lag * 1e3 / (double)hz);
	}
}

/* An unsigned decimal up to max, the whole of [s, end). */
static bool
parse_uint(const char *s, const char *end, unsigned long max, unsigned long *v)
{
	char *stop;

	if (s == end || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoul(s, &stop, 10);
	return errno == 0 && stop == end && *v <= max;
}

int
ainftp_ctrl_readmit_request(const struct ainftp_runtime *rt, const char *params, char *err,
			    size_t errlen)
{
	const struct ainftp_config *cfg = rt->cfg;
	const char *comma = params == NULL ? NULL : strchr(params, ',');
	unsigned long job_id, worker_id;
	uint16_t j, i;

	if (comma == NULL || !parse_uint(params, comma, UINT32_MAX, &job_id) ||
	    !parse_uint(comma + 1, comma + 1 + strlen(comma + 1), UINT16_MAX, &worker_id)) {
		snprintf(err, errlen, "expected JOB_ID,WORKER_ID (two unsigned integers)");
		return -1;
	}
	for (j = 0; j < cfg->n_jobs && cfg->jobs[j].id != job_id; j++)
		;
	if (j == cfg->n_jobs) {
		snprintf(err, errlen, "no job %lu", job_id);
		return -1;
	}
	for (i = 0; i < cfg->jobs[j].n_workers && cfg->jobs[j].workers[i].id != worker_id; i++)
		;
	if (i == cfg->jobs[j].n_workers) {
		snprintf(err, errlen, "job %lu has no worker %lu", job_id, worker_id);
		return -1;
	}
	if (cfg->jobs[j].sentry.policy == AINFTP_SENTRY_NONE || rt->ctrl == NULL) {
		snprintf(err, errlen, "job %lu has no sentry", job_id);
		return -1;
	}
	if (!__atomic_load_n(&rt->ctrl->quorum.jobs[j].m[i].quarantined, __ATOMIC_RELAXED)) {
		snprintf(err, errlen, "worker %lu of job %lu is not quarantined", worker_id,
			 job_id);
		return -1;
	}
	__atomic_fetch_or(&rt->ctrl->readmit[j], UINT64_C(1) << i, __ATOMIC_RELEASE);
	return 0;
}

/*
 * The sentry's tick for job j: every lcore's judged and flagged per worker,
 * summed, into the job-wide suspicion and quarantine; then the operators'
 * readmits. true when the membership changed.
 */
static bool
ctrl_sentry(struct ainftp_runtime *rt, uint16_t j, uint64_t max_step)
{
	struct ainftp_quorum_job *job = &rt->ctrl->quorum.jobs[j];
	uint64_t seen[AINFTP_MAX_WORKERS], flagged[AINFTP_MAX_WORKERS], before[AINFTP_MAX_WORKERS];
	uint64_t req;
	bool changed = false;
	uint16_t w;

	if (rt->cfg->jobs[j].sentry.policy == AINFTP_SENTRY_NONE)
		return false;
	for (w = 0; w < job->n_workers; w++) {
		ainftp_dp_worker_sentry(rt, j, w, &seen[w], &flagged[w]);
		before[w] = job->m[w].quarantines;
	}
	changed = ainftp_quorum_sentry(job, seen, flagged);
	for (w = 0; changed && w < job->n_workers; w++)
		if (job->m[w].quarantines != before[w])
			AINFTP_LOG(WARNING,
				   "job %u: worker %u quarantined by the sentry (suspicion %.3f, "
				   "%" PRIu64 " of %" PRIu64
				   " flagged); /ainftp/readmit to readmit",
				   job->id, job->worker_id[w],
				   (double)job->m[w].suspicion / AINFTP_QUORUM_Q16,
				   job->m[w].sentry_flagged, job->m[w].sentry_seen);
	req = __atomic_exchange_n(&rt->ctrl->readmit[j], 0, __ATOMIC_ACQUIRE);
	for (; req != 0; req &= req - 1) {
		w = (uint16_t)__builtin_ctzll(req);
		if (ainftp_quorum_readmit(job, w, max_step) == 0) {
			AINFTP_LOG(NOTICE, "job %u: worker %u readmitted by the operator", job->id,
				   job->worker_id[w]);
			changed = true;
		}
	}
	return changed;
}

unsigned int
ainftp_ctrl_quorum(struct ainftp_runtime *rt, uint64_t now)
{
	struct ainftp_ctrl *c = rt->ctrl;
	struct ainftp_health h[AINFTP_MAX_WORKERS];
	struct ainftp_quorum_snap snap;
	unsigned int published = 0;
	uint16_t j, w;

	for (j = 0; j < c->quorum.n_jobs; j++) {
		struct ainftp_quorum_job *job = &c->quorum.jobs[j];
		uint64_t max_step = ainftp_dp_job_max_step(rt, j);
		uint64_t was[AINFTP_MAX_WORKERS];

		for (w = 0; w < job->n_workers; w++) {
			health_get(rt, j, w, now, &h[w]);
			was[w] = job->m[w].in;
		}
		if (ainftp_quorum_update(job, h, max_step, now)) {
			c->unpublished[j] = true;
			quorum_log(job, was, h, c->quorum.hz);
		}
		if (ctrl_sentry(rt, j, max_step))
			c->unpublished[j] = true;
		if (!c->unpublished[j])
			continue;
		ainftp_quorum_snapshot(job, &snap);
		/* No spare buffer: RX lcores still read the last ones; the next tick tries again.
		 */
		if (ainftp_members_publish(rt->members, j, &snap)) {
			c->unpublished[j] = false;
			published++;
		}
	}
	return published;
}

#define VERSION_CHECK_S 10 /* how often a port's version refusals may be logged */

/*
 * Workers that speak another version of the protocol (a rack half upgraded)
 * get nothing back: their datagrams cannot carry a refusal they would read.
 * So the operator hears of it, once per period while it goes on, with a
 * count per port and what to do.
 */
static void
ainftp_ctrl_versions(struct ainftp_runtime *rt, uint64_t now)
{
	struct ainftp_ctrl *c = rt->ctrl;
	struct ainftp_port_ctr sum;
	uint16_t p;

	if (now < c->next_version_check)
		return;
	c->next_version_check = now + VERSION_CHECK_S * rte_get_tsc_hz();
	for (p = 0; p < rt->n_ports; p++) {
		uint64_t n;

		ainftp_counters_port_sum(p, &sum);
		n = sum.proto_drops[AINFTP_BAD_VERSION];
		if (n > c->version_drops[p])
			AINFTP_LOG(
				WARNING,
				"port %u: %" PRIu64 " datagrams of another protocol version "
				"refused (counter \"version\"); this appliance speaks version %d: "
				"upgrade the workers' client library (docs/PROTOCOL.md, "
				"\"Upgrading a rack\")",
				p, n - c->version_drops[p], AINFTP_PROTO_VERSION);
		c->version_drops[p] = n;
	}
}

/*
 * A leaf whose spine went silent while chunks wait for it says so, once
 * when it goes down and once when it is back: its workers only time out
 * (their message says the box waits for its upstream), so the box's own
 * log is where an operator finds which spine it is.
 */
static void
ainftp_ctrl_upstream(struct ainftp_runtime *rt, uint64_t now)
{
	struct ainftp_ctrl *c = rt->ctrl;
	uint64_t hz = rte_get_tsc_hz();
	uint16_t j;

	for (j = 0; j < rt->cfg->n_jobs; j++) {
		const struct ainftp_job_conf *jc = &rt->cfg->jobs[j];
		struct ainftp_dp_up_view v;
		char spine[INET_ADDRSTRLEN];
		bool down;

		if (jc->role != AINFTP_ROLE_LEAF)
			continue;
		ainftp_dp_job_upstream(rt, j, &v);
		down = strcmp(ainftp_dp_upstream_state(&v, now, hz), "down") == 0;
		if (down == c->spine_down[j])
			continue;
		c->spine_down[j] = down;
		inet_ntop(AF_INET, &jc->spine, spine, sizeof(spine));
		if (down)
			AINFTP_LOG(
				WARNING,
				"job %u: spine %s silent for %" PRIu64 " ms while a chunk has "
				"waited %" PRIu64 " ms for it: its workers will time out; "
				"restart the spine, or a spare at its address (docs/SCALEOUT.md)",
				jc->id, spine,
				ainftp_dp_tsc_since(now,
						    v.heard_tsc == 0 ? v.oldest_tsc : v.heard_tsc) /
					(hz / 1000),
				ainftp_dp_tsc_since(now, v.oldest_tsc) / (hz / 1000));
		else
			AINFTP_LOG(NOTICE, "job %u: spine %s answers again", jc->id, spine);
	}
}

void
ainftp_ctrl_tick(struct ainftp_runtime *rt, uint64_t now)
{
	struct ainftp_ctrl *c = rt->ctrl;

	if (c == NULL)
		return;
	ainftp_ctrl_acks_drain(rt);
	/* Every tick, not every heartbeat: a straggler is out within a tick of crossing the
	 * threshold. */
	ainftp_ctrl_quorum(rt, now);
	ainftp_ctrl_versions(rt, now);
	ainftp_ctrl_upstream(rt, now);
	if (c->pool != NULL && now >= c->next_hb) {
		ainftp_ctrl_heartbeat(rt);
		/* Behind by more than a round (a stalled lcore): skip, do not burst. */
		c->next_hb += c->swarm.interval;
		if (c->next_hb <= now)
			c->next_hb = now + c->swarm.interval;
	}
}
