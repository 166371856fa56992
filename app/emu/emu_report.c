/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The emulator's report (emu_private.h, ainftp_emu.h): what the workers
 * counted while they ran, the verdict, and the summary lines the tests read.
 */

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include <rte_mempool.h>

#include "ainftp_dp_view.h" /* ainftp_dp_slots_busy */
#include "emu_private.h"

void
emu_result_bad(struct ainftp_emu *e, const struct emu_worker *wk, uint32_t step, uint32_t chunk,
	       const char *fmt, ...)
{
	char what[160];
	va_list ap;

	if (e->first_bad[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(e->first_bad, sizeof(e->first_bad),
		 "worker %d step %" PRIu32 " chunk %" PRIu32 ": %s", wk != NULL ? (int)wk->id : -1,
		 step, chunk, what);
}

/* An exact result, by its contributors: how many, who was left out, when. */
void
emu_result_count(struct ainftp_emu *e, uint64_t g, uint64_t bitmap, uint64_t now)
{
	unsigned int w;

	e->rep.by_count[__builtin_popcountll(bitmap)]++;
	if (bitmap == e->all_bits) {
		e->rep.full_last = RTE_MAX(e->rep.full_last, (int64_t)g);
		if (e->rep.rejoin_at >= 0 && g >= (uint64_t)e->rep.rejoin_at)
			e->rep.full_after_rejoin++;
		return;
	}
	e->rep.results_partial++;
	e->rep.partial_last = RTE_MAX(e->rep.partial_last, (int64_t)g);
	for (w = 0; w < e->n_workers; w++)
		e->rep.absent[w] += !emu_in_sum_bits(e, bitmap, w);
	if (e->first_partial_tsc == 0)
		e->first_partial_tsc = now;
}

/*
 * The results by contributors, for the summary line: " partial=P by_count=C:n,..
 * absent=ID:n,.. partial_last=G full_last=G first_partial_after_ms=T skipped=S
 * rejoin_at=G full_after_rejoin=n" (counts of exact results; lists without zeros,
 * "-" when empty).
 */
static void
quorum_summary(const struct ainftp_emu *e, const struct ainftp_emu_report *rep, char *buf,
	       size_t len)
{
	size_t n;
	unsigned int i;
	const char *sep = "";

	n = (size_t)snprintf(buf, len, " partial=%" PRIu64 " by_count=", rep->results_partial);
	for (i = AINFTP_MAX_WORKERS + 1; i-- > 0 && n < len;) {
		if (rep->by_count[i] == 0)
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%u:%" PRIu64, sep, i, rep->by_count[i]);
		sep = ",";
	}
	if (n < len && sep[0] == '\0')
		n += (size_t)snprintf(buf + n, len - n, "-");
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n, " absent=");
	sep = "";
	for (i = 0; i < e->n_workers && n < len; i++) {
		if (rep->absent[i] == 0)
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%u:%" PRIu64, sep, e->workers[i].id,
				      rep->absent[i]);
		sep = ",";
	}
	if (n < len && sep[0] == '\0')
		n += (size_t)snprintf(buf + n, len - n, "-");
	if (n < len)
		snprintf(buf + n, len - n,
			 " partial_last=%" PRId64 " full_last=%" PRId64
			 " first_partial_after_ms=%.1f skipped=%" PRIu64 " rejoin_at=%" PRId64
			 " full_after_rejoin=%" PRIu64,
			 rep->partial_last, rep->full_last, rep->first_partial_after_ms,
			 rep->skipped, rep->rejoin_at, rep->full_after_rejoin);
}

/* Every lcore has stopped: what is left in flight goes back to its pool, the rest is measured. */
static void
report_fill(const struct ainftp_runtime *rt, struct ainftp_emu *e, struct ainftp_emu_report *rep)
{
	int socket = rt->ports[e->port_idx].socket;

	emu_holds_free(e);
	ainftp_ringpair_drain(&e->rp, AINFTP_RINGPAIR_OUT | AINFTP_RINGPAIR_IN);
	*rep = e->rep;
	rep->tag_failures = e->bad_tags;
	rep->slots_busy = ainftp_dp_slots_busy(rt);
	rep->pool_in_use_end =
		rt->hdr_pool[socket] != NULL ? rte_mempool_in_use_count(rt->hdr_pool[socket]) : 0;
	e->emu_pool_in_use_end = rte_mempool_in_use_count(e->pool);

	if (e->fault_tsc != 0 && e->first_partial_tsc != 0)
		rep->first_partial_after_ms =
			e->first_partial_tsc > e->fault_tsc
				? (double)(e->first_partial_tsc - e->fault_tsc) * 1e3 /
					  (double)e->hz
				: 0.0;
}

/* Why the run fails, the first reason found, into reason; left alone when it passes. */
static void
report_verdict(const struct ainftp_emu *e, const struct ainftp_emu_report *rep, char *reason,
	       size_t len)
{
	/* Every worker's every chunk, but those the killed worker never sent or took. */
	uint64_t want = (uint64_t)rep->workers * rep->chunks - rep->skipped;

	if (!e->done)
		snprintf(reason, len, "the emulator never ran to its end");
	else if (rep->stalled)
		snprintf(reason, len, "stalled: no result for %d s", AINFTP_EMU_STALL_S);
	else if (rep->results_checked != want)
		snprintf(reason, len, "%" PRIu64 " results checked, want %" PRIu64,
			 rep->results_checked, want);
	else if (rep->results_exact != want)
		snprintf(reason, len, "%" PRIu64 " results not exact", want - rep->results_exact);
	else if (rep->tag_failures != 0)
		snprintf(reason, len, "%" PRIu64 " results or STATEs failed their tag",
			 rep->tag_failures);
	else if (rep->states_stale != 0 || e->bad_states != 0)
		snprintf(reason, len,
			 "%" PRIu64 " STALE for chunks outstanding, %" PRIu64 " STATEs malformed",
			 rep->states_stale, e->bad_states);
	else if (e->addr_errors != 0 || e->bad_results != 0)
		snprintf(reason, len,
			 "%" PRIu64 " results misaddressed, %" PRIu64 " for chunks never sent",
			 e->addr_errors, e->bad_results);
	else if (rep->slots_busy != 0)
		snprintf(reason, len, "%u slots still busy", rep->slots_busy);
	else if (rep->pool_in_use_end != rep->pool_in_use_start)
		snprintf(reason, len, "result header pool: %u mbufs in use, %u at the start",
			 rep->pool_in_use_end, rep->pool_in_use_start);
	else if (e->emu_pool_in_use_end != 0)
		snprintf(reason, len, "%u of the workers' mbufs never came back",
			 e->emu_pool_in_use_end);
}

/* Data retransmissions per packet lost on purpose, either way: 1 at best when all were data. */
static double
retx_per_loss(const struct ainftp_emu_report *rep)
{
	return rep->injected_loss != 0 ? (double)rep->retransmits / (double)rep->injected_loss
				       : 0.0;
}

/* The details line, then the summary line with the verdict (the tests read both). */
static void
report_print(const struct ainftp_emu *e, const struct ainftp_emu_report *rep, bool pass,
	     const char *reason, FILE *out)
{
	char quorum[512];

	quorum_summary(e, rep, quorum, sizeof(quorum));
	fprintf(out,
		"emulator: details: duplicates_ignored=%" PRIu64 " misaddressed=%" PRIu64
		" bad=%" PRIu64 " stray=%" PRIu64 " tx_full=%" PRIu64 " nombuf=%" PRIu64
		" srtt_us=%.1f worker_pool_in_use=%u early=%" PRIu64 " dead_drops=%" PRIu64
		" delayed=%" PRIu64 " delay_full=%" PRIu64 " states=have:%" PRIu64
		",missing:%" PRIu64 ",ahead:%" PRIu64 ",stale:%" PRIu64 " states_late=%" PRIu64
		" states_unasked=%" PRIu64 " bad_states=%" PRIu64 " data_lost=%" PRIu64
		" retx_per_data_loss=%.2f%s%s\n",
		e->results_ignored, e->addr_errors, e->bad_results, e->stray, e->tx_full, e->nombuf,
		e->hz ? (double)e->srtt * 1e6 / (double)e->hz : 0.0, e->emu_pool_in_use_end,
		e->results_early, e->dead_drops, rep->delayed, rep->delay_full,
		e->states[AINFTP_STATE_HAVE], e->states[AINFTP_STATE_MISSING],
		e->states[AINFTP_STATE_AHEAD], e->states[AINFTP_STATE_STALE], e->states_late,
		e->states_unasked, e->bad_states, e->data_lost,
		e->data_lost ? (double)rep->retransmits / (double)e->data_lost : 0.0,
		e->first_bad[0] ? " first_error=" : "", e->first_bad);
	fprintf(out,
		"emulator: workers=%u chunks=%" PRIu64 " results_checked=%" PRIu64 " exact=%" PRIu64
		" retransmits=%" PRIu64 " probes=%" PRIu64 " retx_per_loss=%.2f loss=%" PRIu64
		" dup=%" PRIu64 " reorder=%" PRIu64 " tag_failures=%" PRIu64
		" slots_busy=%u pool_in_use=%u->%u seconds=%.2f heartbeats=%" PRIu64
		" unanswered=%" PRIu64 "%s: %s%s%s\n",
		rep->workers, rep->chunks, rep->results_checked, rep->results_exact,
		rep->retransmits, rep->probes, retx_per_loss(rep), rep->injected_loss,
		rep->injected_dup, rep->injected_reorder, rep->tag_failures, rep->slots_busy,
		rep->pool_in_use_start, rep->pool_in_use_end, rep->seconds, rep->heartbeats,
		rep->heartbeats_unanswered, quorum, pass ? "PASS" : "FAIL (", reason,
		pass ? "" : ")");
	fflush(out);
}

bool
ainftp_emu_report(struct ainftp_runtime *rt, struct ainftp_emu_report *rep, FILE *out)
{
	struct ainftp_emu *e = rt->emu;
	char reason[320] = "";
	bool pass;

	memset(rep, 0, sizeof(*rep));
	if (e == NULL) {
		if (out != NULL)
			fprintf(out, "emulator: not attached: FAIL\n");
		return false;
	}
	report_fill(rt, e, rep);
	report_verdict(e, rep, reason, sizeof(reason));
	pass = reason[0] == '\0';
	if (out != NULL)
		report_print(e, rep, pass, reason, out);
	return pass;
}
