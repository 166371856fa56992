/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <rte_malloc.h>

#include "ainftp_members.h"

/* Everyone in from step 0: what RX lcores use until the control lcore says otherwise. */
static void
snap_all_in(const struct ainftp_job_conf *jc, struct ainftp_quorum_snap *s)
{
	uint16_t w;

	memset(s, 0, sizeof(*s));
	s->version = 1;
	for (w = 0; w < jc->n_workers; w++)
		s->members |= UINT64_C(1) << jc->workers[w].id;
}

static int
rcu_create(struct ainftp_members *m, const struct ainftp_runtime *rt)
{
	size_t size = rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE);
	unsigned int lcore;

	m->rcu = rte_zmalloc("ainftp_rcu", size, RTE_CACHE_LINE_SIZE);
	if (m->rcu == NULL || rte_rcu_qsbr_init(m->rcu, RTE_MAX_LCORE) != 0)
		return -1;
	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		if (!ainftp_config_is_rx_lcore(rt->cfg, lcore))
			continue;
		if (rte_rcu_qsbr_thread_register(m->rcu, lcore) != 0)
			return -1;
		/* Before the lcore is launched: it reads nothing before its first poll. */
		rte_rcu_qsbr_thread_online(m->rcu, lcore);
	}
	return 0;
}

struct ainftp_members *
ainftp_members_create(const struct ainftp_runtime *rt)
{
	const struct ainftp_config *cfg = rt->cfg;
	struct ainftp_members *m;
	uint16_t j;

	m = rte_zmalloc("ainftp_members", sizeof(*m), RTE_CACHE_LINE_SIZE);
	if (m == NULL)
		return NULL;
	if (rcu_create(m, rt) != 0) {
		ainftp_members_free(m);
		return NULL;
	}
	m->n_jobs = cfg->n_jobs;
	for (j = 0; j < cfg->n_jobs; j++) {
		snap_all_in(&cfg->jobs[j], &m->jobs[j].buf[0].snap);
		m->jobs[j].cur = &m->jobs[j].buf[0].snap;
	}
	return m;
}

void
ainftp_members_free(struct ainftp_members *m)
{
	if (m == NULL)
		return;
	rte_free(m->rcu);
	rte_free(m);
}

/* A buffer nobody reads: never published, or replaced and acknowledged by every reader. */
static struct ainftp_members_buf *
spare(struct ainftp_members *m, struct ainftp_members_job *job)
{
	unsigned int i;

	for (i = 0; i < AINFTP_MEMBERS_BUFS; i++) {
		struct ainftp_members_buf *b = &job->buf[i];

		if (&b->snap == job->cur)
			continue;
		if (!b->retired || rte_rcu_qsbr_check(m->rcu, b->token, false) == 1)
			return b;
	}
	return NULL;
}

bool
ainftp_members_publish(struct ainftp_members *m, uint16_t j, const struct ainftp_quorum_snap *s)
{
	struct ainftp_members_job *job = &m->jobs[j];
	struct ainftp_members_buf *b = spare(m, job), *old;
	unsigned int i;

	if (b == NULL) {
		m->deferred++;
		return false;
	}
	b->snap = *s;
	b->retired = false;
	for (old = NULL, i = 0; i < AINFTP_MEMBERS_BUFS; i++)
		if (&job->buf[i].snap == job->cur)
			old = &job->buf[i];
	/* The snapshot's bytes are visible before the pointer to them. */
	__atomic_store_n(&job->cur, &b->snap, __ATOMIC_RELEASE);
	/* Readers that may still copy the old one: wait for all of them to report. */
	old->token = rte_rcu_qsbr_start(m->rcu);
	old->retired = true;
	return true;
}
