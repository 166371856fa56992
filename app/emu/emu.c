/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Emulated workers (ainftp_emu.h, emu_private.h): their state, attach and
 * detach, and the emulator lcore's loop, which sends every worker's chunks
 * with a window, has emu_retx.c deal with timeouts and takes the results.
 */

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "ainftp_log.h"
#include "ainftp_net.h"
#include "emu_private.h"

/* The config port a job runs on: the one the ring pair replaces. */
static uint16_t
emu_job_port(const struct ainftp_config *cfg, uint16_t job_idx)
{
	return cfg->jobs[job_idx].port;
}

/* p in [0, 1) as a threshold on a uniform 64-bit draw. */
static uint64_t
prob_threshold(double p)
{
	return p <= 0 ? 0 : (uint64_t)ldexp(p, 64);
}

/* ---------------------------------------------------------------- frames */

/* Worker w's DATA frame for chunk g: the same bytes every time. */
static struct rte_mbuf *
frame_build(struct ainftp_emu *e, const struct ainftp_runtime *rt, unsigned int w, uint64_t g)
{
	const struct emu_worker *wk = &e->workers[w];
	uint32_t slot = emu_chunk_slot(e, g);
	uint16_t lane = (uint16_t)(slot % e->lanes);
	uint16_t udp_len =
		(uint16_t)(e->frame_len - RTE_ETHER_HDR_LEN - sizeof(struct rte_ipv4_hdr));
	struct rte_mbuf *m = rte_pktmbuf_alloc(e->pool);
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	struct rte_udp_hdr *udp;
	struct ainftp_hdr *h;
	struct ainftp_msg msg;
	uint8_t *payload;
	int8_t se;

	if (unlikely(m == NULL))
		return NULL;
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, (uint16_t)e->frame_len);
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	udp = (struct rte_udp_hdr *)(ip + 1);
	h = (struct ainftp_hdr *)(udp + 1);
	payload = (uint8_t *)(h + 1);

	ainftp_udp_headers(eth, &wk->mac, &rt->ports[e->port_idx].mac, wk->ipv4, rt->cfg->ipv4,
			   rte_cpu_to_be_16(wk->udp_port),
			   rte_cpu_to_be_16((uint16_t)(rt->cfg->udp_port + lane)),
			   (uint16_t)(udp_len - sizeof(*udp)));

	emu_payload_make(e, w, g, payload, &se);
	memset(&msg, 0, sizeof(msg));
	msg.type = AINFTP_MSG_DATA;
	msg.encoding = (uint8_t)e->codec->enc;
	msg.flags = e->job->auth ? AINFTP_F_AUTH : 0;
	msg.job = e->job->id;
	msg.worker = wk->id;
	msg.elems = (uint16_t)e->elems;
	msg.step = emu_chunk_step(e, g);
	msg.chunk = emu_chunk_index(e, g);
	msg.slot = (uint16_t)slot;
	msg.scale_exp = se;
	ainftp_hdr_write(h, &msg);
	if (e->job->auth)
		ainftp_mac(&wk->mk, h, sizeof(*h) + e->payload_len, payload + e->payload_len);
	return m;
}

/*
 * Worker w's frame m of chunk g to the box, through the straggler's delay
 * line when it is the straggler's: its probes too, so that none overtakes the
 * data it asks after (it would be told MISSING, a needless retransmission).
 */
void
emu_frame_route(struct ainftp_emu *e, unsigned int w, uint64_t g, struct rte_mbuf *m, uint32_t slot,
		uint64_t now)
{
	uint16_t lane = (uint16_t)(slot % e->lanes);

	if (emu_delayed(e, w, g)) {
		if (e->fault_tsc == 0)
			e->fault_tsc = now;
		emu_delay_push(e, lane, m, now);
	} else
		emu_send(e, lane, m);
}

/* A copy of worker w's kept frame of chunk g to the appliance; false when the pool is empty. */
static bool
frame_send(struct ainftp_emu *e, unsigned int w, uint64_t g, const struct rte_mbuf *keep,
	   uint32_t slot, uint64_t now)
{
	struct rte_mbuf *m = rte_pktmbuf_copy(keep, e->pool, 0, UINT32_MAX);

	if (unlikely(m == NULL)) {
		e->nombuf++;
		return false;
	}
	emu_frame_route(e, w, g, m, slot, now);
	return true;
}

/* ------------------------------------------------------ the killed worker */

/* The chunk before g on g's slot, over steps; UINT64_MAX: none. */
static uint64_t
chunk_pred(const struct ainftp_emu *e, uint64_t g)
{
	uint64_t c = emu_chunk_index(e, g), step = emu_chunk_step(e, g), k = c % e->slots;

	if (c >= e->slots)
		return g - e->slots;
	if (step == 0)
		return UINT64_MAX;
	/* The last chunk of the step before that maps to slot k. */
	return (step - 1) * e->cps + k + (e->cps - 1 - k) / e->slots * e->slots;
}

/*
 * The killed worker at its death: what it had in flight is lost with it (its
 * results never taken, counted as skipped); it sends nothing and takes nothing
 * until it restarts.
 */
static void
worker_kill(struct ainftp_emu *e, struct emu_worker *wk, uint64_t now)
{
	uint32_t i;

	for (i = 0; i < wk->n_out; i++) {
		rte_pktmbuf_free(wk->out[i].keep);
		wk->slot_out[wk->out[i].slot] = EMU_NONE;
	}
	e->rep.skipped += wk->n_out;
	wk->n_out = 0;
	wk->dead = true;
	wk->dead_until = now + e->hz / 1000 * e->conf.kill_ms;
	e->skip_lo = e->skip_hi = wk->next_g;
	e->fault_tsc = now;
	AINFTP_LOG(INFO, "emulator: worker %u dies at chunk %" PRIu64, wk->id, wk->next_g);
}

/*
 * Restarted, the worker rejoins at a step boundary: at step J, far enough
 * ahead of the step of the first result it sees that nobody has started J
 * (the others are at most a window ahead of that result), as a training
 * framework restarts a worker at the step after the current one. Chunks
 * before J it never sends. It then sends a chunk only once the result of the
 * chunk before it on its slot has come (gated): it did not see the slot's
 * history, and a chunk of J sent early would find the others' chunk of J-1
 * still summing there: a v2 box completes that without it when the quorum
 * allows, else answers AHEAD; the gate keeps the run to full sums.
 */
static void
worker_resume(struct ainftp_emu *e, struct emu_worker *wk, uint64_t first_step)
{
	uint64_t j = first_step + 2 + e->window / e->cps;

	wk->next_g = RTE_MAX(RTE_MIN(j * e->cps, (uint64_t)e->conf.chunks), e->skip_lo);
	e->rep.skipped += wk->next_g - e->skip_lo;
	e->skip_hi = wk->next_g;
	wk->resuming = false;
	wk->gated = true;
	e->rep.rejoin_at = (int64_t)wk->next_g;
	AINFTP_LOG(INFO, "emulator: worker %u rejoins at chunk %" PRIu64 " (step %" PRIu64 ")",
		   wk->id, wk->next_g, j);
}

/* The others all done: nothing left for a restarted worker to rejoin. */
static bool
others_done(const struct ainftp_emu *e, const struct emu_worker *wk)
{
	unsigned int w;

	for (w = 0; w < e->n_workers; w++)
		if (&e->workers[w] != wk &&
		    (e->workers[w].next_g < e->conf.chunks || e->workers[w].n_out != 0))
			return false;
	return true;
}

/* The killed worker is dead, or alive and not yet rejoined. */
static bool
restarting(const struct ainftp_emu *e)
{
	unsigned int w;

	for (w = 0; w < e->n_workers; w++)
		if (e->workers[w].dead || e->workers[w].resuming)
			return true;
	return false;
}

/* The killed worker comes back to life when its time is up, and listens for a step. */
static void
worker_revive(struct ainftp_emu *e, uint64_t now)
{
	unsigned int w;

	for (w = 0; w < e->n_workers; w++) {
		struct emu_worker *wk = &e->workers[w];

		if (wk->dead && now >= wk->dead_until) {
			wk->dead = false;
			wk->resuming = true;
			memset(e->seen_g1, 0, e->slots * sizeof(*e->seen_g1));
		}
		if (wk->resuming && others_done(e, wk))
			worker_resume(e, wk, emu_chunk_step(e, e->conf.chunks));
	}
}

/* ---------------------------------------------------------------- sending */

static inline uint64_t
rto_now(const struct ainftp_emu *e)
{
	uint64_t rto = RTE_MAX(2 * e->srtt, e->srtt + 4 * e->rttvar);

	return RTE_MIN(RTE_MAX(rto, e->rto_min), e->rto_cap);
}

/* New chunks, as far as each worker's window and slots allow. */
static void
send_new(struct ainftp_emu *e, const struct ainftp_runtime *rt, uint64_t now)
{
	unsigned int k, budget = EMU_SEND_PER_PASS * e->lanes;
	struct rte_mbuf *keep;
	unsigned int start = (unsigned int)(e->pass % e->n_workers);
	bool more = true;
	/* Paced: chunk g goes no sooner than g / rate seconds after the start. */
	uint64_t paced =
		e->conf.rate == 0
			? UINT64_MAX
			: (uint64_t)((emu_i128)(now - e->start_tsc) * e->conf.rate / e->hz) + 1;

	/* Round robin, one chunk per worker per round, so no worker runs ahead. */
	while (more && budget > 0) {
		more = false;
		for (k = 0; k < e->n_workers && budget > 0; k++) {
			unsigned int w = (start + k) % e->n_workers;
			struct emu_worker *wk = &e->workers[w];
			uint64_t g = wk->next_g;
			uint32_t slot;
			struct emu_out *o;

			if (g >= e->conf.chunks || wk->n_out >= e->window || g >= paced ||
			    wk->dead || wk->resuming)
				continue;
			if ((int)wk->id == e->conf.kill_worker && g == e->conf.kill_at) {
				worker_kill(e, wk, now);
				continue;
			}
			slot = emu_chunk_slot(e, g);
			if (wk->slot_out[slot] != EMU_NONE)
				continue; /* the slot's previous chunk has no result yet */
			if (wk->gated && chunk_pred(e, g) != UINT64_MAX &&
			    e->seen_g1[slot] <= chunk_pred(e, g))
				continue; /* nor has it seen the one before it */
			keep = frame_build(e, rt, w, g);
			if (keep == NULL || !frame_send(e, w, g, keep, slot, now)) {
				e->nombuf += keep == NULL;
				rte_pktmbuf_free(keep);
				return;
			}
			o = &wk->out[wk->n_out];
			o->keep = keep;
			o->g = g;
			o->slot = slot;
			o->tries = 0;
			o->probes_out = o->stale_answers = 0;
			o->resend = false;
			/* The straggler knows its own delay: no retransmission before it. */
			o->rto = rto_now(e) + (emu_delayed(e, w, g) ? e->delay_cycles : 0);
			o->deadline = now + o->rto;
			o->first_rto = o->rto;
			e->next_scan = RTE_MIN(e->next_scan, o->deadline);
			wk->slot_out[slot] = wk->n_out++;
			e->sent_g1[slot] = g + 1;
			e->sent_tsc[slot] = now;
			wk->next_g++;
			budget--;
			more = true;
		}
	}
}

/* ---------------------------------------------------- appliance -> worker */

static int
worker_by_ip(const struct ainftp_emu *e, uint32_t ipv4)
{
	uint32_t h = (rte_be_to_cpu_32(ipv4) * 2654435761u) >> 24, i;

	for (i = 0; i < RTE_DIM(e->ip_index); i++) {
		uint8_t v = e->ip_index[(h + i) & 255];

		if (v == 0)
			return -1;
		if (e->workers[v - 1].ipv4 == ipv4)
			return v - 1;
	}
	return -1;
}

/*
 * A HEARTBEAT to worker wk: answered as the client library does (echoed step,
 * chunk and bitmap; the worker's id; tagged under its key when the job has
 * auth), to the port it came from, through the injected loss and reordering.
 */
static void
heartbeat_answer(struct ainftp_emu *e, const struct ainftp_runtime *rt, const struct emu_worker *wk,
		 const struct ainftp_msg *hb, uint16_t to_port)
{
	uint16_t tag_len = e->job->auth ? AINFTP_TAG_LEN : 0;
	uint16_t base = rt->cfg->udp_port, port = rte_be_to_cpu_16(to_port);
	uint16_t lane = port >= base && port - base < e->lanes ? (uint16_t)(port - base) : 0;
	struct ainftp_msg m = *hb;
	struct ainftp_hdr *h;
	struct rte_mbuf *mb;
	char *p;

	e->rep.heartbeats++;
	if ((int)wk->id == e->conf.silent_worker) {
		e->rep.heartbeats_unanswered++;
		return;
	}
	mb = rte_pktmbuf_alloc(e->pool);
	if (unlikely(mb == NULL)) {
		e->nombuf++;
		e->rep.heartbeats_unanswered++;
		return;
	}
	p = rte_pktmbuf_append(mb, (uint16_t)(EMU_HDRS_LEN + tag_len));
	ainftp_udp_headers(p, &wk->mac, &rt->ports[e->port_idx].mac, wk->ipv4, rt->cfg->ipv4,
			   rte_cpu_to_be_16(wk->udp_port), to_port,
			   (uint16_t)(sizeof(struct ainftp_hdr) + tag_len));
	m.type = AINFTP_MSG_HEARTBEAT_ACK;
	m.worker = wk->id;
	m.flags = tag_len != 0 ? AINFTP_F_AUTH : 0;
	m.elems = 0;
	m.encoding = 0;
	m.contributors = 0;
	h = (struct ainftp_hdr *)(p + EMU_HDRS_LEN - sizeof(*h));
	ainftp_hdr_write(h, &m);
	if (tag_len != 0)
		ainftp_mac(&wk->mk, h, sizeof(*h), (uint8_t *)(h + 1));
	emu_send(e, lane, mb);
}

/*
 * The worker a frame from the appliance is addressed to, its headers in f;
 * NULL when it is for none of them (counted: stray, or misaddressed).
 */
static struct emu_worker *
result_addressee(struct ainftp_emu *e, const struct ainftp_runtime *rt, const struct rte_mbuf *m,
		 struct emu_rx_frame *f)
{
	struct emu_worker *wk;
	const uint8_t *p;
	int w;

	f->pkt_len = rte_pktmbuf_pkt_len(m);
	if (f->pkt_len < EMU_HDRS_LEN) {
		e->stray++;
		return NULL;
	}
	p = rte_pktmbuf_read(m, 0, EMU_HDRS_LEN, f->hbuf);
	f->eth = (const struct rte_ether_hdr *)p;
	f->ip = (const struct rte_ipv4_hdr *)(f->eth + 1);
	f->udp = (const struct rte_udp_hdr *)(f->ip + 1);
	f->h = (const struct ainftp_hdr *)(f->udp + 1);
	if (f->eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    f->ip->version_ihl != RTE_IPV4_VHL_DEF || f->ip->next_proto_id != IPPROTO_UDP ||
	    f->ip->src_addr != rt->cfg->ipv4) {
		e->stray++; /* not the data path's: nothing for a worker to do */
		return NULL;
	}
	w = worker_by_ip(e, f->ip->dst_addr);
	if (w < 0) {
		e->addr_errors++;
		emu_result_bad(e, NULL, 0, 0, "a result to an address that is no worker's");
		return NULL;
	}
	wk = &e->workers[w];
	if (f->udp->dst_port != rte_cpu_to_be_16(wk->udp_port) ||
	    !rte_is_same_ether_addr(&f->eth->dst_addr, &wk->mac)) {
		e->addr_errors++;
		emu_result_bad(e, wk, 0, 0, "a result to UDP port %u or MAC not the worker's",
			       rte_be_to_cpu_16(f->udp->dst_port));
		return NULL;
	}
	return wk;
}

/*
 * True for a RESULT to worker wk. Anything else is dealt with here: nothing
 * reaches a dead worker, a HEARTBEAT is answered, a STATE acted on, the rest
 * is stray.
 */
static bool
result_is_one(struct ainftp_emu *e, const struct ainftp_runtime *rt, struct emu_worker *wk,
	      const struct rte_mbuf *m, const struct emu_rx_frame *f, uint64_t now)
{
	const struct ainftp_msg *msg = &f->msg;

	if (wk->dead) {
		/* Killed: nothing answers, nothing is taken. */
		e->dead_drops++;
		if (msg->type == AINFTP_MSG_HEARTBEAT) {
			e->rep.heartbeats++;
			e->rep.heartbeats_unanswered++;
		}
		return false;
	}
	if (msg->type == AINFTP_MSG_HEARTBEAT && msg->job == e->job->id &&
	    ainftp_hdr_check(f->h, rte_be_to_cpu_16(f->udp->dgram_len) - sizeof(*f->udp)) ==
		    AINFTP_OK) {
		heartbeat_answer(e, rt, wk, msg, f->udp->src_port);
		return false;
	}
	if (msg->type == AINFTP_MSG_STATE) {
		emu_state_take(e, wk, m, f, now);
		return false;
	}
	if (msg->type != AINFTP_MSG_RESULT) {
		e->stray++;
		return false;
	}
	return true;
}

/*
 * The worker's outstanding chunk g a result is for: its index in wk->out[], or
 * EMU_NONE when the worker does not take it (counted: early, never sent, or a
 * duplicate of a result already taken).
 */
static uint32_t
result_chunk(struct ainftp_emu *e, struct emu_worker *wk, const struct ainftp_msg *msg, uint64_t g)
{
	uint32_t idx;

	if ((wk->resuming || wk->gated) && msg->job == e->job->id && msg->chunk < e->cps &&
	    msg->slot == msg->chunk % e->slots) {
		/* Restarted: the first result names the step it rejoins after; every
		 * result opens its slot's gate; those of chunks it never sent are not its. */
		if (wk->resuming)
			worker_resume(e, wk, msg->step);
		e->seen_g1[msg->slot] = RTE_MAX(e->seen_g1[msg->slot], g + 1);
		if (g >= wk->next_g || (g >= e->skip_lo && g < e->skip_hi)) {
			e->results_early++;
			return EMU_NONE;
		}
	}
	if (msg->job == e->job->id && g >= wk->next_g && msg->chunk < e->cps &&
	    msg->slot == msg->chunk % e->slots && !((msg->bitmap >> wk->id) & 1)) {
		/* Completed without it (it left the quorum): it takes the kept result when
		 * it sends the chunk. */
		e->results_early++;
		return EMU_NONE;
	}
	if (msg->job != e->job->id || msg->chunk >= e->cps || msg->slot >= e->slots ||
	    msg->slot != msg->chunk % e->slots || g >= wk->next_g) {
		e->bad_results++;
		emu_result_bad(e, wk, msg->step, msg->chunk,
			       "a result for job %" PRIu32 " slot %u the worker did not send",
			       msg->job, msg->slot);
		return EMU_NONE;
	}
	idx = wk->slot_out[msg->slot];
	if (idx == EMU_NONE || wk->out[idx].g != g) {
		e->results_ignored++; /* a duplicate of a result already taken */
		return EMU_NONE;
	}
	return idx;
}

/* A clean round trip: nobody retransmitted chunk g, nor sent a later one of its slot. */
static void
rtt_sample(struct ainftp_emu *e, uint32_t slot, uint64_t g, uint64_t now)
{
	uint64_t sample, d;

	if (e->rtx_g1[slot] > g || e->sent_g1[slot] != g + 1)
		return;
	sample = now - e->sent_tsc[slot];
	if (e->srtt == 0) {
		e->srtt = sample;
		e->rttvar = sample / 2;
		return;
	}
	d = e->srtt > sample ? e->srtt - sample : sample - e->srtt;
	e->rttvar = (3 * e->rttvar + d) / 4;
	e->srtt = (7 * e->srtt + sample) / 8;
}

/* A result's headers, as the data path writes them; false after saying what is wrong. */
static bool
result_headers_ok(struct ainftp_emu *e, const struct ainftp_runtime *rt,
		  const struct emu_worker *wk, const struct emu_rx_frame *f, uint32_t tag_len)
{
	const struct ainftp_msg *msg = &f->msg;
	const struct rte_ipv4_hdr *ip = f->ip;
	const struct rte_udp_hdr *udp = f->udp;
	uint16_t lane = (uint16_t)(msg->slot % e->lanes);

	if (rte_raw_cksum(ip, sizeof(*ip)) != 0xffff)
		emu_result_bad(e, wk, msg->step, msg->chunk, "bad IPv4 header checksum");
	else if (udp->src_port != rte_cpu_to_be_16((uint16_t)(rt->cfg->udp_port + lane)))
		emu_result_bad(e, wk, msg->step, msg->chunk, "from UDP port %u, not lane %u's",
			       rte_be_to_cpu_16(udp->src_port), lane);
	else if (rte_be_to_cpu_16(udp->dgram_len) !=
			 sizeof(*udp) + sizeof(*f->h) + e->result_len + tag_len ||
		 rte_be_to_cpu_16(ip->total_length) !=
			 sizeof(*ip) + rte_be_to_cpu_16(udp->dgram_len) ||
		 f->pkt_len < RTE_ETHER_HDR_LEN + (uint32_t)rte_be_to_cpu_16(ip->total_length))
		emu_result_bad(e, wk, msg->step, msg->chunk,
			       "UDP length %u, IPv4 length %u, frame %u",
			       rte_be_to_cpu_16(udp->dgram_len), rte_be_to_cpu_16(ip->total_length),
			       f->pkt_len);
	else if (f->h->version != AINFTP_PROTO_VERSION || msg->worker != AINFTP_WORKER_APPLIANCE)
		emu_result_bad(e, wk, msg->step, msg->chunk, "version %u, worker field 0x%x",
			       f->h->version, msg->worker);
	else if (msg->elems != e->elems || msg->encoding != e->rcodec->enc)
		emu_result_bad(e, wk, msg->step, msg->chunk, "elems %u encoding %u, want %u and %u",
			       msg->elems, msg->encoding, e->elems, e->rcodec->enc);
	else if (msg->flags & AINFTP_F_OVERFLOW)
		emu_result_bad(e, wk, msg->step, msg->chunk, "flagged OVERFLOW");
	else if ((msg->bitmap & ~e->all_bits) != 0 ||
		 (unsigned int)__builtin_popcountll(msg->bitmap) != msg->contributors ||
		 msg->contributors < e->job->straggler.min_quorum)
		emu_result_bad(e, wk, msg->step, msg->chunk,
			       "contributors %u bitmap 0x%" PRIx64
			       ": want a count of the bitmap's bits, within 0x%" PRIx64
			       ", at least min_quorum %u",
			       msg->contributors, msg->bitmap, e->all_bits,
			       e->job->straggler.min_quorum);
	else
		return true;
	return false;
}

/*
 * Result m's payload, its tag verified when the job has auth: NULL when the
 * tag is missing or wrong (counted: the worker drops it, as if lost, and its
 * probe gets the result again), or the frame is too short for one (its
 * headers' check says so). The tag follows the header (v2), so the bytes it
 * covers are not contiguous: they are read into rx_payload, always a copy,
 * because the check moves the header and a duplicated frame is taken twice.
 */
static const uint8_t *
result_payload(struct ainftp_emu *e, struct emu_worker *wk, const struct rte_mbuf *m,
	       const struct emu_rx_frame *f, bool *forged)
{
	uint32_t hlen = sizeof(struct ainftp_hdr), off = EMU_HDRS_LEN - hlen;
	uint32_t tag_len = e->job->auth ? AINFTP_TAG_LEN : 0;
	uint32_t len = hlen + tag_len + e->result_len;
	const uint8_t *p;

	*forged = false;
	if (f->pkt_len < off + len)
		return NULL;
	p = rte_pktmbuf_read(m, off, len, e->rx_payload);
	if (p != e->rx_payload)
		memcpy(e->rx_payload, p, len);
	if (tag_len != 0 && (!(f->msg.flags & AINFTP_F_AUTH) ||
			     !ainftp_result_verify(&wk->mk, e->rx_payload, len))) {
		*forged = true;
		e->bad_tags++;
		emu_result_bad(e, wk, f->msg.step, f->msg.chunk, "the result's tag is %s: dropped",
			       (f->msg.flags & AINFTP_F_AUTH) ? "wrong" : "missing");
		return NULL;
	}
	return e->rx_payload + hlen + tag_len;
}

/* Result of chunk g, headers and payload (NULL: too short): true when it is exact. */
static bool
result_check(struct ainftp_emu *e, const struct ainftp_runtime *rt, const struct emu_worker *wk,
	     const struct emu_rx_frame *f, const uint8_t *payload, uint64_t g)
{
	uint32_t tag_len = (f->msg.flags & AINFTP_F_AUTH) ? AINFTP_TAG_LEN : 0;
	const uint8_t *want;
	const struct emu_ref *r;

	if (!result_headers_ok(e, rt, wk, f, tag_len))
		return false;
	if (payload == NULL) {
		emu_result_bad(e, wk, f->msg.step, f->msg.chunk, "frame of %u bytes: no payload",
			       f->pkt_len);
		return false;
	}
	r = emu_reference(e, g, f->msg.bitmap, &want);
	return emu_result_compare(e, wk, &f->msg, payload, r, want);
}

void
emu_out_release(struct emu_worker *wk, uint32_t idx, uint32_t slot)
{
	uint32_t last;

	rte_pktmbuf_free(wk->out[idx].keep);
	last = --wk->n_out;
	if (idx != last) {
		wk->out[idx] = wk->out[last];
		wk->slot_out[wk->out[idx].slot] = idx;
	}
	wk->slot_out[slot] = EMU_NONE;
}

/* One frame from the appliance; returns 1 when it was a new result for a worker. */
int
emu_result_take(struct ainftp_emu *e, const struct ainftp_runtime *rt, const struct rte_mbuf *m,
		uint64_t now)
{
	struct emu_rx_frame f;
	struct emu_worker *wk;
	const uint8_t *payload;
	bool forged;
	uint32_t idx;
	uint64_t g;

	wk = result_addressee(e, rt, m, &f);
	if (wk == NULL)
		return 0;
	ainftp_hdr_read(f.h, &f.msg);
	if (!result_is_one(e, rt, wk, m, &f, now))
		return 0;
	/* Authentic first: a result that fails its tag was never the box's, so it is not taken. */
	payload = result_payload(e, wk, m, &f, &forged);
	if (forged)
		return 0;
	/* Which chunk: one of the worker's, outstanding or taken already. */
	g = (uint64_t)f.msg.step * e->cps + f.msg.chunk;
	idx = result_chunk(e, wk, &f.msg, g);
	if (idx == EMU_NONE)
		return 0;
	/* Take it, right or wrong: it is checked once. */
	e->rep.results_checked++;
	rtt_sample(e, f.msg.slot, g, now);
	if (result_check(e, rt, wk, &f, payload, g)) {
		e->rep.results_exact++;
		emu_result_count(e, g, f.msg.bitmap, now);
	}
	emu_out_release(wk, idx, f.msg.slot);
	wk->received++;
	return 1;
}

/* --------------------------------------------------------------- the loop */

/* The frames workers keep for retransmission: the run is over. */
static void
keeps_free(struct ainftp_emu *e)
{
	unsigned int w;
	uint32_t i;

	for (w = 0; w < e->n_workers; w++) {
		struct emu_worker *wk = &e->workers[w];

		for (i = 0; i < wk->n_out; i++) {
			rte_pktmbuf_free(wk->out[i].keep);
			wk->out[i].keep = NULL;
			wk->slot_out[wk->out[i].slot] = EMU_NONE;
		}
		wk->n_out = 0;
	}
}

/* The emulator lcore's loop: runs the workers, then asks the runtime to quit. */
static void
emu_loop(struct ainftp_runtime *rt, unsigned int lcore)
{
	struct ainftp_emu *e = rt->emu;
	uint64_t total = (uint64_t)e->n_workers * e->conf.chunks, taken = 0;
	uint64_t start, now, last_progress, stall, linger, finished = 0;
	int socket = rt->ports[e->port_idx].socket;

	e->hz = rte_get_tsc_hz();
	e->rto_min = e->hz / 1000000 *
		     (e->conf.timeout_us ? e->conf.timeout_us : EMU_DEFAULT_TIMEOUT_US);
	e->rto_cap = RTE_MAX(e->rto_min, e->hz / 1000000 * EMU_RTO_CAP_US);
	e->next_scan = UINT64_MAX;
	stall = e->hz * AINFTP_EMU_STALL_S;
	linger = e->hz / 1000 * e->conf.linger_ms;
	/* Every copy of a result is a header mbuf: all must come back once workers have them. */
	e->rep.pool_in_use_start =
		rt->hdr_pool[socket] != NULL ? rte_mempool_in_use_count(rt->hdr_pool[socket]) : 0;
	AINFTP_LOG(INFO, "lcore %u: %u emulated workers, %" PRIu32 " chunks each, window %u", lcore,
		   e->n_workers, e->conf.chunks, e->window);
	e->delay_cycles = e->hz / 1000 * e->conf.delay_ms;
	/* Held back on request: a consumer of the result sink attaches to the arena first. */
	start = rte_rdtsc();
	while (rte_rdtsc() - start < e->hz / 1000 * e->conf.start_ms && !ainftp_should_quit(rt))
		rte_delay_ms(1);
	start = last_progress = e->start_tsc = rte_rdtsc();
	while (!ainftp_should_quit(rt)) {
		int got;

		now = rte_rdtsc();
		e->pass++;
		got = emu_rx_poll(e, rt, now);
		taken += (uint64_t)got;
		worker_revive(e, now);
		/* Done: every result in but those the killed worker will never take. */
		if (taken + e->rep.skipped >= total && !restarting(e)) {
			/* Every result is in: answer heartbeats a while longer when asked. */
			if (finished == 0)
				finished = now;
			if (now - finished >= linger)
				break;
			emu_lanes_flush(e);
			continue;
		}
		send_new(e, rt, now);
		emu_timeouts(e, rt, now);
		emu_delay_release(e, now);
		emu_lanes_flush(e);
		if (got != 0) {
			last_progress = now;
		} else if (now - last_progress > stall) {
			e->rep.stalled = true;
			break;
		}
	}
	now = finished != 0 ? finished : rte_rdtsc();
	e->rep.seconds = (double)(now - start) / (double)e->hz;
	emu_holds_free(e);
	keeps_free(e);
	e->done = true;
	ainftp_request_quit(rt);
}

/* ------------------------------------------------------------ set-up */

/* The role this lcore runs in the appliance (ainftp_runtime.h). */
static const struct ainftp_role emu_role = {.name = "emulator", .loop = emu_loop};

static int
conf_check(const struct ainftp_runtime *rt, const struct ainftp_emu_conf *conf, char *err,
	   size_t errlen)
{
	const struct ainftp_config *cfg = rt->cfg;
	const struct {
		const char *name;
		double p;
	} probs[] = {{"loss", conf->loss}, {"dup", conf->dup}, {"reorder", conf->reorder}};
	const char *role = NULL;
	const struct ainftp_job_conf *job;
	unsigned int i;

	if (rt->emu != NULL) {
		snprintf(err, errlen, "emulator: already attached");
		return -1;
	}
	if (conf->lcore >= RTE_MAX_LCORE || !rte_lcore_is_enabled(conf->lcore)) {
		snprintf(err, errlen,
			 "emulator: lcore %u is not in the EAL core list (-l/-c/--lcores)",
			 conf->lcore);
		return -1;
	}
	/* Roles are given out after the ports are up: the config says who will have one. */
	if (rt->role[conf->lcore] != NULL)
		role = rt->role[conf->lcore]->name;
	else if (conf->lcore == cfg->control_lcore)
		role = "control";
	else if (ainftp_config_is_rx_lcore(cfg, conf->lcore))
		role = "rx";
	if (role != NULL) {
		snprintf(err, errlen, "emulator: lcore %u is already the %s lcore", conf->lcore,
			 role);
		return -1;
	}
	if (conf->job_idx >= cfg->n_jobs) {
		snprintf(err, errlen, "emulator: job index %u is out of range (%u job(s))",
			 conf->job_idx, cfg->n_jobs);
		return -1;
	}
	job = &cfg->jobs[conf->job_idx];
	if (conf->chunks == 0) {
		snprintf(err, errlen, "emulator: chunks must be at least 1");
		return -1;
	}
	if (conf->window > job->slots) {
		snprintf(err, errlen,
			 "emulator: window %u is more than job %" PRIu32 "'s %" PRIu32 " slots",
			 conf->window, job->id, job->slots);
		return -1;
	}
	for (i = 0; i < RTE_DIM(probs); i++) {
		if (!(probs[i].p >= 0.0 && probs[i].p < 1.0)) {
			snprintf(err, errlen, "emulator: %s probability %g is outside [0, 1)",
				 probs[i].name, probs[i].p);
			return -1;
		}
	}
	for (i = 0; i < 2; i++) {
		int id = i == 0 ? conf->delay_worker : conf->kill_worker;
		unsigned int w;

		for (w = 0; id >= 0 && w < job->n_workers && job->workers[w].id != id; w++)
			;
		if (id >= 0 && w == job->n_workers) {
			snprintf(err, errlen, "emulator: job %" PRIu32 " has no worker %d to %s",
				 job->id, id, i == 0 ? "delay" : "kill");
			return -1;
		}
	}
	if (job->quorum != job->n_workers) {
		snprintf(err, errlen,
			 "emulator: job %" PRIu32 " has a quorum of %u for %u workers: the "
			 "emulator checks full sums only",
			 job->id, job->quorum, job->n_workers);
		return -1;
	}
	return 0;
}

static void
emu_free(struct ainftp_emu *e)
{
	emu_link_free(e);
	if (e->workers != NULL) {
		rte_free(e->workers[0].slot_out);
		rte_free(e->workers[0].out);
	}
	rte_free(e->workers);
	rte_free(e->x);
	rte_free(e->q16);
	rte_free(e->payload);
	rte_free(e->wq);
	rte_free(e->wexp);
	rte_free(e->rx_payload);
	rte_free(e->ref_sum);
	rte_free(e->ref_E);
	rte_free(e->ref);
	rte_free(e->ref_payload);
	rte_free(e->rtx_g1);
	rte_free(e->sent_g1);
	rte_free(e->sent_tsc);
	rte_free(e->delay);
	rte_free(e->seen_g1);
	rte_free(e);
}

static void *
zalloc(size_t n, size_t size, int socket, bool *failed)
{
	void *p = rte_zmalloc_socket("ainftp_emu", RTE_MAX(n * size, (size_t)1),
				     RTE_CACHE_LINE_SIZE, socket);

	*failed |= p == NULL;
	return p;
}

/* The job as the workers see it, from the job and the conf. */
static void
emu_job_derive(struct ainftp_emu *e, const struct ainftp_runtime *rt)
{
	const struct ainftp_job_conf *job = e->job;

	e->n_workers = job->n_workers;
	e->slots = job->slots;
	e->window = e->conf.window ? e->conf.window : job->slots;
	e->cps = e->conf.chunks_per_step ? e->conf.chunks_per_step : e->conf.chunks;
	e->elems = job->elems_per_packet;
	e->blocks = ainftp_blocks(e->elems);
	e->codec = ainftp_codec_get(job->encoding);
	e->rcodec = ainftp_codec_get(job->result_encoding);
	/*
	 * Exponents of one block must stay within 63 - 6 - qbits of each other for
	 * an exact sum: 42 for int16, 50 for int8, 26 for float32, whose blocks
	 * spread over 2 * u_range + 3 (per-block offsets) + 1.
	 */
	e->qbits = e->codec->qbits;
	e->u_range = e->qbits > AINFTP_QBITS_INT16 ? 10 : 12;
	e->payload_len = (uint32_t)e->codec->payload_len(e->elems);
	e->result_len = (uint32_t)e->rcodec->payload_len(e->elems);
	e->frame_len = (uint32_t)EMU_HDRS_LEN + e->payload_len + (job->auth ? AINFTP_TAG_LEN : 0);
	/*
	 * The workers quantize with the next narrower kernels than the appliance
	 * sums with (AVX2 beside AVX-512, scalar beside AVX2), so a run checks one
	 * set against the other as well as the data path.
	 */
	ainftp_kernels_init(&e->k, ainftp_quant_select(rt->simd_bits > 256 ? 256 : 0));
	e->rng = emu_mix3(e->conf.seed, 0x5eed, 0x1u) | 1;
	e->thr_loss = prob_threshold(e->conf.loss);
	e->thr_dup = prob_threshold(e->conf.dup);
	e->thr_reorder = prob_threshold(e->conf.reorder);
	e->rep.workers = e->n_workers;
	e->rep.chunks = e->conf.chunks;
	e->rep.partial_last = e->rep.full_last = e->rep.rejoin_at = -1;
	e->rep.first_partial_after_ms = -1;
	/* A reference per slot in flight; fewer only costs recomputing one. */
	e->ref_n = RTE_MIN(e->slots, 2 * e->window);
}

/*
 * Everything the loop needs, allocated now. Every worker's slot_out and out
 * are one array each, held by worker 0 (emu_free frees them there).
 */
static int
emu_state_alloc(struct ainftp_emu *e, char *err, size_t errlen)
{
	uint32_t *slot_out;
	struct emu_out *out;
	bool failed = false;

	e->workers = zalloc(e->n_workers, sizeof(*e->workers), e->socket, &failed);
	slot_out = zalloc((size_t)e->n_workers * e->slots, sizeof(*slot_out), e->socket, &failed);
	out = zalloc((size_t)e->n_workers * e->window, sizeof(*out), e->socket, &failed);
	e->x = zalloc(e->elems, sizeof(float), e->socket, &failed);
	e->q16 = zalloc(e->elems, sizeof(int16_t), e->socket, &failed);
	e->payload = zalloc(e->payload_len, 1, e->socket, &failed);
	e->wq = zalloc((size_t)e->n_workers * e->elems, sizeof(int64_t), e->socket, &failed);
	e->wexp = zalloc((size_t)e->n_workers * e->blocks, sizeof(int32_t), e->socket, &failed);
	e->rx_payload = zalloc(sizeof(struct ainftp_hdr) + e->result_len + AINFTP_TAG_LEN, 1,
			       e->socket, &failed);
	e->ref_sum = zalloc(e->elems, sizeof(emu_i128), e->socket, &failed);
	e->ref_E = zalloc(e->blocks, sizeof(int32_t), e->socket, &failed);
	e->ref = zalloc(e->ref_n, sizeof(*e->ref), e->socket, &failed);
	e->ref_payload = zalloc((size_t)e->ref_n * e->result_len, 1, e->socket, &failed);
	e->rtx_g1 = zalloc(e->slots, sizeof(*e->rtx_g1), e->socket, &failed);
	e->sent_g1 = zalloc(e->slots, sizeof(*e->sent_g1), e->socket, &failed);
	e->sent_tsc = zalloc(e->slots, sizeof(*e->sent_tsc), e->socket, &failed);
	if (e->conf.delay_worker >= 0)
		e->delay = zalloc(EMU_DELAY_MAX, sizeof(*e->delay), e->socket, &failed);
	if (e->conf.kill_worker >= 0)
		e->seen_g1 = zalloc(e->slots, sizeof(*e->seen_g1), e->socket, &failed);
	if (e->workers != NULL) {
		e->workers[0].slot_out = slot_out;
		e->workers[0].out = out;
	} else {
		rte_free(slot_out);
		rte_free(out);
	}
	if (failed) {
		snprintf(err, errlen, "emulator: cannot allocate its state for %u workers",
			 e->n_workers);
		return -1;
	}
	return 0;
}

/* Each worker's address, key and share of the arrays; the index of their addresses. */
static int
emu_workers_init(struct ainftp_emu *e, char *err, size_t errlen)
{
	const struct ainftp_job_conf *job = e->job;
	uint32_t *slot_out = e->workers[0].slot_out;
	struct emu_out *out = e->workers[0].out;
	unsigned int w, i;

	for (i = 0; i < e->ref_n; i++)
		e->ref[i].g = UINT64_MAX;
	for (w = 0; w < e->n_workers; w++) {
		struct emu_worker *wk = &e->workers[w];
		const struct ainftp_worker_conf *wc = &job->workers[w];
		uint32_t h;

		wk->id = wc->id;
		wk->ipv4 = wc->ipv4;
		if (ainftp_mac_key_init(&wk->mk, wc->key) != 0) {
			snprintf(err, errlen, "emulator: libsodium cannot initialise");
			return -1;
		}
		wk->mk.alg = (uint8_t)job->auth_mac; /* as a worker learns it at join */
		wk->udp_port = (uint16_t)(EMU_WORKER_UDP_BASE + wc->id);
		memset(&wk->mac, 0, sizeof(wk->mac));
		wk->mac.addr_bytes[0] = 0x02;
		wk->mac.addr_bytes[5] = (uint8_t)(EMU_WORKER_MAC_BASE + wc->id);
		wk->slot_out = slot_out + (size_t)w * e->slots;
		wk->out = out + (size_t)w * e->window;
		for (i = 0; i < e->slots; i++)
			wk->slot_out[i] = EMU_NONE;
		e->all_bits |= UINT64_C(1) << wc->id;
		h = (rte_be_to_cpu_32(wc->ipv4) * 2654435761u) >> 24;
		while (e->ip_index[h & 255] != 0)
			h++;
		e->ip_index[h & 255] = (uint8_t)(w + 1);
	}
	return 0;
}

/* The job as the workers see it, and everything the loop needs, allocated now. */
static int
emu_state_init(struct ainftp_emu *e, const struct ainftp_runtime *rt, char *err, size_t errlen)
{
	emu_job_derive(e, rt);
	if (emu_state_alloc(e, err, errlen) != 0)
		return -1;
	return emu_workers_init(e, err, errlen);
}

int
ainftp_emu_attach(struct ainftp_runtime *rt, const struct ainftp_emu_conf *conf, char *err,
		  size_t errlen)
{
	const struct ainftp_config *cfg = rt->cfg;
	struct ainftp_emu *e;
	uint16_t idx;
	int socket;

	if (conf_check(rt, conf, err, errlen) != 0)
		return -1;
	idx = emu_job_port(cfg, conf->job_idx);
	socket = (int)rte_lcore_to_socket_id(conf->lcore);
	e = rte_zmalloc_socket("ainftp_emu", sizeof(*e), RTE_CACHE_LINE_SIZE, socket);
	if (e == NULL) {
		snprintf(err, errlen, "emulator: cannot allocate its state");
		return -1;
	}
	e->conf = *conf;
	e->socket = socket;
	e->port_idx = idx;
	e->job = &cfg->jobs[conf->job_idx];
	e->lanes = cfg->ports[idx].rx_queues;
	e->n_a2w = RTE_MAX(cfg->ports[idx].tx_queues, ainftp_config_tx_queues_needed(cfg));
	if (emu_state_init(e, rt, err, errlen) != 0 || emu_link_create(e, err, errlen) != 0) {
		emu_free(e);
		return -1;
	}
	rt->ports[idx].port_id = e->rp.app_port;
	rt->ports[idx].preset = true;
	rt->role[conf->lcore] = &emu_role;
	rt->emu = e;
	AINFTP_LOG(INFO,
		   "emulator: job %" PRIu32 " on lcore %u: %u workers, %u lane(s), %u result "
		   "queue(s), window %u",
		   e->job->id, conf->lcore, e->n_workers, e->lanes, e->n_a2w, e->window);
	return 0;
}

void
ainftp_emu_detach(struct ainftp_runtime *rt)
{
	struct ainftp_emu *e = rt->emu;

	if (e == NULL)
		return;
	rt->emu = NULL;
	if (rt->role[e->conf.lcore] == &emu_role)
		rt->role[e->conf.lcore] = NULL;
	emu_free(e);
}
