/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The retransmission economy of protocol v2 (emu_private.h). A worker whose
 * timer runs out on a chunk asks the box with a PROBE (a header and a tag)
 * instead of sending its data again; the box answers with the kept result,
 * or with a STATE: HAVE (yours is in: wait), MISSING (send it again), AHEAD
 * (the slot still sums an earlier chunk: send it again later) or STALE (the
 * slot moved past it). A lost packet then costs one data retransmission, by
 * the one worker whose data is missing, where in v1 every worker of a
 * stalled chunk sent its data again on each timeout.
 */

#include <string.h>

#include <rte_mbuf.h>

#include "ainftp_net.h"
#include "emu_private.h"

/* Karn: a chunk something was sent again for gives no round-trip sample. */
static inline void
rtt_taint(struct ainftp_emu *e, const struct emu_out *o)
{
	e->rtx_g1[o->slot] = RTE_MAX(e->rtx_g1[o->slot], o->g + 1);
}

/* The chunk's timer from now, with its current timeout. */
static inline void
rearm(struct ainftp_emu *e, struct emu_out *o, uint64_t now)
{
	o->deadline = now + o->rto;
	e->next_scan = RTE_MIN(e->next_scan, o->deadline);
}

/* After a timeout: the timeout doubled, within EMU_BACKOFF_MAX of the first and the cap. */
static void
backoff(struct ainftp_emu *e, unsigned int w, struct emu_out *o, uint64_t now)
{
	o->rto = RTE_MIN(o->rto * 2, o->first_rto * EMU_BACKOFF_MAX);
	o->rto = RTE_MIN(o->rto, e->rto_cap + (emu_delayed(e, w, o->g) ? e->delay_cycles : 0));
	o->deadline = now + o->rto;
}

/*
 * Worker w's data of chunk o again, a copy of the kept frame; false when the
 * pool is empty. The probes still out were sent before it: their answers
 * describe the box without it.
 */
static bool
data_resend(struct ainftp_emu *e, unsigned int w, struct emu_out *o, uint64_t now)
{
	struct rte_mbuf *m = rte_pktmbuf_copy(o->keep, e->pool, 0, UINT32_MAX);

	if (unlikely(m == NULL)) {
		e->nombuf++;
		return false;
	}
	emu_frame_route(e, w, o->g, m, o->slot, now);
	e->rep.retransmits++;
	rtt_taint(e, o);
	o->stale_answers = (uint16_t)RTE_MIN(o->stale_answers + o->probes_out, UINT16_MAX);
	o->probes_out = 0;
	return true;
}

/*
 * Worker w's PROBE of chunk o: its DATA's header with no elements (type,
 * encoding and elems aside, the same step, chunk and slot), tagged over the
 * header alone, to the slot's lane port. False when the pool is empty.
 */
static bool
probe_send(struct ainftp_emu *e, const struct ainftp_runtime *rt, unsigned int w, struct emu_out *o,
	   uint64_t now)
{
	const struct emu_worker *wk = &e->workers[w];
	uint16_t tag_len = e->job->auth ? AINFTP_TAG_LEN : 0;
	uint16_t lane = (uint16_t)(o->slot % e->lanes);
	const struct ainftp_hdr *dh = rte_pktmbuf_mtod_offset(
		o->keep, const struct ainftp_hdr *, EMU_HDRS_LEN - sizeof(struct ainftp_hdr));
	struct rte_mbuf *m = rte_pktmbuf_alloc(e->pool);
	struct ainftp_msg msg;
	struct ainftp_hdr *h;
	char *p;

	if (unlikely(m == NULL)) {
		e->nombuf++;
		return false;
	}
	p = rte_pktmbuf_append(m, (uint16_t)(EMU_HDRS_LEN + tag_len));
	ainftp_udp_headers(p, &wk->mac, &rt->ports[e->port_idx].mac, wk->ipv4, rt->cfg->ipv4,
			   rte_cpu_to_be_16(wk->udp_port),
			   rte_cpu_to_be_16((uint16_t)(rt->cfg->udp_port + lane)),
			   (uint16_t)(sizeof(struct ainftp_hdr) + tag_len));
	ainftp_hdr_read(dh, &msg);
	msg.type = AINFTP_MSG_PROBE;
	msg.encoding = 0;
	msg.elems = 0;
	msg.scale_exp = 0;
	h = (struct ainftp_hdr *)(p + EMU_HDRS_LEN - sizeof(*h));
	ainftp_hdr_write(h, &msg);
	if (tag_len != 0)
		ainftp_mac(&wk->mk, h, sizeof(*h), (uint8_t *)(h + 1));
	emu_frame_route(e, w, o->g, m, o->slot, now);
	e->rep.probes++;
	if (o->probes_out < UINT16_MAX)
		o->probes_out++;
	rtt_taint(e, o);
	return true;
}

/*
 * Chunk o's timer ran out: the data when the box said AHEAD (it refused the
 * data, so a probe would only hear MISSING), else a probe, again if the last
 * one had no answer; the timeout doubles either way. False when the pool is
 * empty.
 */
static bool
timeout_fire(struct ainftp_emu *e, const struct ainftp_runtime *rt, unsigned int w,
	     struct emu_out *o, uint64_t now)
{
	if (o->resend) {
		if (!data_resend(e, w, o, now))
			return false;
		o->resend = false;
	} else if (!probe_send(e, rt, w, o, now)) {
		return false;
	}
	o->tries++;
	backoff(e, w, o, now);
	return true;
}

void
emu_timeouts(struct ainftp_emu *e, const struct ainftp_runtime *rt, uint64_t now)
{
	unsigned int w, budget = EMU_RESEND_PER_PASS;
	uint64_t next = UINT64_MAX;
	uint32_t i;

	if (now < e->next_scan)
		return;
	for (w = 0; w < e->n_workers; w++) {
		struct emu_worker *wk = &e->workers[w];

		for (i = 0; i < wk->n_out; i++) {
			struct emu_out *o = &wk->out[i];

			if (o->deadline <= now && budget > 0) {
				if (timeout_fire(e, rt, w, o, now)) {
					budget--;
				} else {
					budget = 0; /* no mbuf: the next pass */
					next = now;
				}
			}
			next = RTE_MIN(next, o->deadline);
		}
	}
	e->next_scan = next;
}

/* A malformed STATE: the box's fault, counted and named. */
static bool
state_bad(struct ainftp_emu *e, const struct emu_worker *wk, const struct ainftp_msg *msg,
	  const char *what)
{
	e->bad_states++;
	emu_result_bad(e, wk, msg->step, msg->chunk, "a STATE %s", what);
	return false;
}

/*
 * STATE f's body out of m into si, its tag verified when the job has auth:
 * false when malformed or not authentic (counted; an unauthentic one is
 * dropped as a forgery would be).
 */
static bool
state_read(struct ainftp_emu *e, const struct emu_worker *wk, const struct rte_mbuf *m,
	   const struct emu_rx_frame *f, struct ainftp_state_info *si)
{
	uint8_t buf[sizeof(struct ainftp_hdr) + AINFTP_BODY_LEN + AINFTP_TAG_LEN];
	uint32_t hlen = sizeof(struct ainftp_hdr), off = EMU_HDRS_LEN - hlen;
	uint32_t signed_len = hlen + AINFTP_BODY_LEN;
	uint32_t tag_len = e->job->auth ? AINFTP_TAG_LEN : 0;
	uint16_t dgram = rte_be_to_cpu_16(f->udp->dgram_len);
	const uint8_t *p;

	if (f->msg.job != e->job->id || f->msg.worker != AINFTP_WORKER_APPLIANCE)
		return state_bad(e, wk, &f->msg, "of another job, or not from the box");
	if (tag_len != 0 && !(f->msg.flags & AINFTP_F_AUTH)) {
		e->bad_tags++;
		return state_bad(e, wk, &f->msg, "without a tag: dropped");
	}
	if (dgram < sizeof(*f->udp) || f->pkt_len < off + signed_len + tag_len ||
	    ainftp_hdr_check(f->h, dgram - sizeof(*f->udp)) != AINFTP_OK)
		return state_bad(e, wk, &f->msg, "of the wrong length");
	p = rte_pktmbuf_read(m, off, signed_len + tag_len, buf);
	if (tag_len != 0 && !ainftp_mac_verify(&wk->mk, p, signed_len, p + signed_len)) {
		e->bad_tags++;
		return state_bad(e, wk, &f->msg, "whose tag is wrong: dropped");
	}
	ainftp_state_read((const struct ainftp_state *)(p + hlen), si);
	if (si->reason < AINFTP_STATE_STALE || si->reason >= AINFTP_STATE_REASON_MAX)
		return state_bad(e, wk, &f->msg, "with an unknown reason");
	return true;
}

/*
 * MISSING answers a probe: the data goes again now. Not for an answer to a
 * probe sent before the data last went (the box took that probe first: when
 * answers queue up longer than a timeout, one comes after the next probe
 * went), nor for a MISSING with no probe out (a duplicated probe or answer):
 * each would cost a needless retransmission. A stale answer lost leaves a
 * genuine one ignored later: that costs a timeout, never the data.
 */
static void
state_missing(struct ainftp_emu *e, unsigned int w, struct emu_out *o, uint64_t now)
{
	if (o->stale_answers != 0 || o->probes_out == 0) {
		o->stale_answers -= o->stale_answers != 0;
		e->states_unasked++;
		return;
	}
	o->probes_out--;
	if (data_resend(e, w, o, now)) {
		rearm(e, o, now);
		return;
	}
	/* No mbuf: the data goes at the next timeout, now. */
	o->resend = true;
	o->deadline = now;
	e->next_scan = now;
}

/*
 * STALE: the slot moved past a chunk the worker still waits for. With every
 * worker in every sum that cannot happen here, so it fails the run; the
 * worker skips the chunk, as the protocol says, so the run still ends.
 */
static void
state_stale(struct ainftp_emu *e, struct emu_worker *wk, uint32_t idx, const struct ainftp_msg *msg,
	    const struct ainftp_state_info *si)
{
	e->rep.states_stale++;
	emu_result_bad(e, wk, msg->step, msg->chunk,
		       "STALE: the slot is at step %u chunk %u, rejoin at step %u", si->slot_step,
		       si->slot_chunk, si->next_step);
	emu_out_release(wk, idx, msg->slot);
	e->rep.skipped++;
}

void
emu_state_take(struct ainftp_emu *e, struct emu_worker *wk, const struct rte_mbuf *m,
	       const struct emu_rx_frame *f, uint64_t now)
{
	const struct ainftp_msg *msg = &f->msg;
	unsigned int w = (unsigned int)(wk - e->workers);
	struct ainftp_state_info si;
	struct emu_out *o;
	uint32_t idx;
	uint64_t g;

	if (!state_read(e, wk, m, f, &si))
		return;
	if (msg->chunk >= e->cps || msg->slot != msg->chunk % e->slots) {
		state_bad(e, wk, msg, "for a chunk and slot that do not match");
		return;
	}
	g = (uint64_t)msg->step * e->cps + msg->chunk;
	idx = wk->slot_out[msg->slot];
	if (idx == EMU_NONE || wk->out[idx].g != g) {
		/* The answer to a duplicate, or to a probe whose result came since. */
		e->states_late++;
		return;
	}
	e->states[si.reason]++;
	o = &wk->out[idx];
	switch (si.reason) {
	case AINFTP_STATE_HAVE: /* in the sum: wait for the others, sending nothing */
		o->probes_out -= o->probes_out != 0;
		rearm(e, o, now);
		break;
	case AINFTP_STATE_MISSING:
		state_missing(e, w, o, now);
		break;
	case AINFTP_STATE_AHEAD: /* refused for now: the data again at the next timeout */
		o->resend = true;
		rearm(e, o, now);
		break;
	default:
		state_stale(e, wk, idx, msg, &si);
		break;
	}
}
