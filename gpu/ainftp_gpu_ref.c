/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>

#include "ainftp_gpu_apply.h"
#include "ainftp_gpu_ref.h"
#include "ainftp_sink_synth.h"

int
ainftp_gpu_log_init(struct ainftp_gpu_log *l, const struct ainftp_sink_job *job, uint32_t cap)
{
	memset(l, 0, sizeof(*l));
	l->job = job;
	l->cap = cap;
	l->rec = calloc(cap ? cap : 1, sizeof(*l->rec));
	l->payload = malloc((size_t)(cap ? cap : 1) * job->payload_len);
	l->last = calloc(job->n_slots, sizeof(*l->last));
	if (l->rec == NULL || l->payload == NULL || l->last == NULL) {
		ainftp_gpu_log_free(l);
		return -1;
	}
	return 0;
}

void
ainftp_gpu_log_free(struct ainftp_gpu_log *l)
{
	free(l->rec);
	free(l->payload);
	free(l->last);
	l->rec = NULL;
	l->payload = NULL;
	l->last = NULL;
}

uint32_t
ainftp_gpu_log_poll(struct ainftp_gpu_log *l, const void *arena, uint64_t now_ns)
{
	const struct ainftp_sink_job *sj = l->job;
	uint32_t k, n = 0;

	for (k = 0; k < sj->n_slots; k++) {
		const struct ainftp_sink_mark *m =
			ainftp_sink_entry((void *)(uintptr_t)arena, sj, k);
		struct ainftp_sink_mark c;
		uint8_t *buf;
		int r;

		/* Cheap test first: nothing new on this slot. */
		if (__atomic_load_n(&m->seq_ready, __ATOMIC_ACQUIRE) <= l->last[k])
			continue;
		if (l->n >= l->cap) {
			l->overflow++;
			l->last[k] = __atomic_load_n(&m->seq_ready, __ATOMIC_ACQUIRE);
			continue;
		}
		buf = l->payload + (size_t)l->n * sj->payload_len;
		r = ainftp_sink_read(m, &c, buf, sj->payload_len);
		if (r < 0) {
			l->torn++;
			continue;
		}
		if (r == 0 || c.seq_ready <= l->last[k])
			continue;
		l->last[k] = c.seq_ready;
		l->rec[l->n] = (struct ainftp_gpu_rec){
			.seq = c.seq_ready - 1,
			.t_ns = now_ns,
			.count = c.count,
			.exp = c.exp,
			.flags = c.flags,
		};
		l->n++;
		n++;
	}
	return n;
}

static const struct ainftp_gpu_rec *sort_base;

static int
cmp_idx(const void *a, const void *b)
{
	uint64_t x = sort_base[*(const uint32_t *)a].seq, y = sort_base[*(const uint32_t *)b].seq;

	return x < y ? -1 : x > y;
}

void
ainftp_gpu_log_sort(struct ainftp_gpu_log *l)
{
	uint32_t *idx = malloc((l->n ? l->n : 1) * sizeof(*idx)), i;
	struct ainftp_gpu_rec *rec = malloc((l->n ? l->n : 1) * sizeof(*rec));
	uint8_t *pl = malloc((size_t)(l->n ? l->n : 1) * l->job->payload_len);
	size_t len = l->job->payload_len;

	if (idx == NULL || rec == NULL || pl == NULL)
		abort();
	for (i = 0; i < l->n; i++)
		idx[i] = i;
	sort_base = l->rec;
	qsort(idx, l->n, sizeof(*idx), cmp_idx);
	for (i = 0; i < l->n; i++) {
		rec[i] = l->rec[idx[i]];
		memcpy(pl + i * len, l->payload + (size_t)idx[i] * len, len);
	}
	memcpy(l->rec, rec, l->n * sizeof(*rec));
	memcpy(l->payload, pl, l->n * len);
	free(idx);
	free(rec);
	free(pl);
}

long
ainftp_gpu_log_find(const struct ainftp_gpu_log *l, uint64_t seq)
{
	long lo = 0, hi = (long)l->n - 1;

	while (lo <= hi) {
		long mid = lo + (hi - lo) / 2;

		if (l->rec[mid].seq == seq)
			return mid;
		if (l->rec[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

long
ainftp_gpu_ref_apply(float *params, float *vel, uint32_t cps, const struct ainftp_gpu_log *l,
		     uint64_t *seqs, size_t n, uint32_t rule, float lr, float mu)
{
	const struct ainftp_sink_job *sj = l->job;
	long missing = 0;
	size_t i;

	qsort(seqs, n, sizeof(*seqs), cmp_u64);
	for (i = 0; i < n; i++) {
		uint32_t chunk = (uint32_t)seqs[i];
		long r = ainftp_gpu_log_find(l, seqs[i]);
		size_t off = (size_t)chunk * sj->elems;

		if (chunk >= cps)
			return -1;
		if (r < 0) {
			missing++;
			continue;
		}
		ainftp_gpu_apply(params + off, vel + off, l->payload + (size_t)r * sj->payload_len,
				 sj->encoding, sj->elems, l->rec[r].exp, l->rec[r].count, rule, lr,
				 mu, 0, 1);
	}
	return missing;
}

uint64_t
ainftp_gpu_gaps(const uint64_t *seqs, size_t n, uint32_t n_slots, uint32_t cps)
{
	uint64_t *last = malloc(n_slots * sizeof(*last)), gaps = 0;
	size_t i;

	if (last == NULL)
		abort();
	for (i = 0; i < n_slots; i++)
		last[i] = UINT64_MAX;
	for (i = 0; i < n; i++) {
		uint32_t c = (uint32_t)seqs[i], k = c % n_slots;
		uint64_t want;

		if (last[k] != UINT64_MAX) {
			uint64_t s = last[k] >> 32;
			uint32_t lc = (uint32_t)last[k];

			want = lc + n_slots < cps ? (s << 32 | (lc + n_slots))
						  : ((s + 1) << 32 | k);
			if (seqs[i] != want)
				gaps++;
		}
		last[k] = seqs[i];
	}
	free(last);
	return gaps;
}

long
ainftp_gpu_synth_apply(float *params, float *vel, uint32_t cps, const struct ainftp_sink_job *job,
		       uint32_t workers, const uint64_t *seqs, size_t n, uint32_t rule, float lr,
		       float mu, uint32_t part, uint32_t part_n)
{
	/* Every pattern once: building one per result would cost a hash per element. */
	uint8_t *patterns = calloc(AINFTP_SYNTH_PATTERNS, job->payload_len);
	uint8_t *payload = malloc(job->payload_len);
	long rc = 0;
	uint32_t p;
	size_t i;

	if (patterns == NULL || payload == NULL) {
		free(patterns);
		free(payload);
		return -1;
	}
	for (p = 0; p < AINFTP_SYNTH_PATTERNS; p++)
		ainftp_synth_pattern_fill(p, job->encoding, job->elems,
					  patterns + (size_t)p * job->payload_len);
	for (i = 0; i < n; i++) {
		uint64_t seq = seqs[i], bitmap;
		uint32_t chunk = (uint32_t)seq;
		uint16_t count;
		int8_t exp;

		if (chunk >= cps) {
			rc = -1;
			break;
		}
		if (part_n > 1 && chunk % part_n != part)
			continue;
		ainftp_synth_payload_from(seq, job->encoding,
					  patterns + (size_t)ainftp_synth_pattern(seq) *
							     job->payload_len,
					  job->payload_len, payload);
		ainftp_synth_mark(seq, workers, &bitmap, &count, &exp);
		ainftp_gpu_apply(params + (size_t)chunk * job->elems,
				 vel + (size_t)chunk * job->elems, payload, job->encoding,
				 job->elems, job->encoding == AINFTP_SINK_ENC_INT16 ? exp : 0,
				 count, rule, lr, mu, 0, 1);
	}
	free(patterns);
	free(payload);
	return rc;
}
