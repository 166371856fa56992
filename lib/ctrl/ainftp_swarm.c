/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "ainftp_swarm.h"

/* Single writer (the control lcore): a plain update, made atomic only so readers never tear. */
static inline void
put(uint64_t *f, uint64_t v)
{
	__atomic_store_n(f, v, __ATOMIC_RELAXED);
}

static inline uint64_t
get(const uint64_t *f)
{
	return __atomic_load_n(f, __ATOMIC_RELAXED);
}

void
ainftp_swarm_init(struct ainftp_swarm *sw, const struct ainftp_config *cfg, uint64_t hz,
		  uint32_t interval_ms)
{
	uint16_t j, w;

	memset(sw, 0, sizeof(*sw));
	sw->hz = hz;
	sw->interval = hz / 1000 * interval_ms;
	sw->n_jobs = cfg->n_jobs;
	for (j = 0; j < cfg->n_jobs; j++) {
		const struct ainftp_job_conf *jc = &cfg->jobs[j];
		struct ainftp_swarm_job *job = &sw->jobs[j];
		uint64_t threshold = hz / 1000 * jc->straggler.threshold_ms;

		job->id = jc->id;
		job->n_workers = jc->n_workers;
		/* Three heartbeats lost in a row is no longer bad luck; nor is a worker
		 * quiet for longer than its job tolerates a straggler. */
		job->silent_after = 3 * sw->interval > threshold ? 3 * sw->interval : threshold;
		for (w = 0; w < jc->n_workers; w++) {
			job->worker_id[w] = jc->workers[w].id;
			job->ipv4[w] = jc->workers[w].ipv4;
		}
	}
}

void
ainftp_swarm_known(struct ainftp_peer *p)
{
	put(&p->known, 1);
}

void
ainftp_swarm_hello(struct ainftp_peer *p, uint64_t now)
{
	/* An older HELLO (out of order through the ring) is not news. */
	if (now <= p->hello_tsc)
		return;
	put(&p->hello_tsc, now);
	put(&p->srtt, 0);
	put(&p->jitter, 0);
}

void
ainftp_swarm_sent(struct ainftp_peer *p, uint32_t seq, uint64_t now)
{
	uint32_t gap = (uint32_t)(seq - (uint32_t)p->last_seq);
	uint64_t window = p->window;

	/* Heartbeats in between that were never sent to p are neither lost nor acked:
	 * they are shifted out as zeros, and `sent` says how many bits count. */
	if (p->sent == 0)
		window = 0;
	else
		window = gap >= AINFTP_SWARM_WINDOW ? 0 : window << gap;
	if (p->first_tsc == 0)
		put(&p->first_tsc, now != 0 ? now : 1);
	put(&p->window, window);
	put(&p->last_seq, seq);
	put(&p->sent, p->sent + 1);
}

/* RTT and jitter EWMAs (RFC 6298 and RFC 3550 gains), in 1/16 cycles. */
static void
rtt_sample(struct ainftp_peer *p, uint64_t cycles)
{
	uint64_t srtt = p->srtt, jitter = p->jitter, rtt = cycles << AINFTP_SWARM_FRAC_BITS, d;

	if (srtt == 0) {
		put(&p->srtt, rtt);
		put(&p->jitter, 0); /* RFC 3550 starts at 0 */
		return;
	}
	d = rtt > srtt ? rtt - srtt : srtt - rtt;
	/* Signed arithmetic on the difference: the EWMA moves both ways. */
	srtt = (uint64_t)((int64_t)srtt + ((int64_t)rtt - (int64_t)srtt) / 8);
	jitter = (uint64_t)((int64_t)jitter + ((int64_t)d - (int64_t)jitter) / 16);
	put(&p->srtt, srtt);
	put(&p->jitter, jitter);
}

bool
ainftp_swarm_ack(struct ainftp_peer *p, uint32_t seq, uint64_t tx_tsc, uint64_t rx_tsc)
{
	uint32_t age = (uint32_t)((uint32_t)p->last_seq - seq);
	uint64_t bit;

	/* Unsigned age: a sequence number ahead of the last one sent is a huge age. */
	if (p->sent == 0 || age >= AINFTP_SWARM_WINDOW || age >= p->sent)
		return false;
	if (tx_tsc < p->first_tsc || tx_tsc > rx_tsc)
		return false;
	bit = UINT64_C(1) << age;
	if (p->window & bit)
		return false;
	put(&p->window, p->window | bit);
	rtt_sample(p, rx_tsc - tx_tsc);
	put(&p->acks, p->acks + 1);
	if (rx_tsc > p->last_ack_tsc)
		put(&p->last_ack_tsc, rx_tsc);
	return true;
}

double
ainftp_swarm_loss(const struct ainftp_peer *p)
{
	uint64_t sent = get(&p->sent), window = get(&p->window), mask;
	unsigned int n = sent > AINFTP_SWARM_WINDOW ? AINFTP_SWARM_WINDOW : (unsigned int)sent;

	/* The latest heartbeat's ack may still be on its way: it does not count yet. */
	if (n <= 1)
		return 0.0;
	n--;
	mask = (n == 63 ? UINT64_MAX >> 1 : (UINT64_C(1) << n) - 1) << 1;
	return (double)(n - (unsigned int)__builtin_popcountll(window & mask)) / n;
}

enum ainftp_peer_state
ainftp_swarm_state(const struct ainftp_swarm_job *job, const struct ainftp_peer *p, uint64_t now)
{
	uint64_t last = get(&p->last_ack_tsc), hello = get(&p->hello_tsc);

	if (!get(&p->known))
		return AINFTP_PEER_UNKNOWN;
	/* A new process's HELLO is news of it too, the latest if it came after the last ack. */
	if (hello > last)
		last = hello;
	/* Never acked: silent once its first heartbeat has gone unanswered too long. */
	if (last == 0)
		last = get(&p->first_tsc);
	if (last == 0 || now <= last || now - last <= job->silent_after)
		return AINFTP_PEER_UP;
	return AINFTP_PEER_SILENT;
}

void
ainftp_swarm_view(const struct ainftp_swarm *sw, uint16_t job_idx, uint16_t widx, uint64_t now,
		  struct ainftp_peer_view *v)
{
	const struct ainftp_swarm_job *job = &sw->jobs[job_idx];
	const struct ainftp_peer *p = &job->peers[widx];
	uint64_t last = get(&p->last_ack_tsc);
	double us = 1e6 / (double)sw->hz / (1 << AINFTP_SWARM_FRAC_BITS);

	v->job = job->id;
	v->id = job->worker_id[widx];
	v->ipv4 = job->ipv4[widx];
	v->state = ainftp_swarm_state(job, p, now);
	v->rtt_us = (double)get(&p->srtt) * us;
	v->jitter_us = (double)get(&p->jitter) * us;
	v->loss = ainftp_swarm_loss(p);
	v->last_seen_ms =
		last == 0 ? -1 : (int64_t)((now > last ? now - last : 0) / (sw->hz / 1000));
	v->sent = get(&p->sent);
	v->acks = get(&p->acks);
}

const char *
ainftp_peer_state_name(enum ainftp_peer_state s)
{
	static const char *const names[] = {
		[AINFTP_PEER_UNKNOWN] = "unknown",
		[AINFTP_PEER_UP] = "up",
		[AINFTP_PEER_SILENT] = "silent",
	};

	return names[s];
}
