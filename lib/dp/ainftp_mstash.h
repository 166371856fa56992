/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_MSTASH_H
#define AINFTP_MSTASH_H

/*
 * A few mbufs of a pool taken ahead of need, their header lines and first
 * data line prefetched for writing, so that an RX lcore's allocations for
 * results find them in its cache. Why: a result leaves the lcore and is freed
 * elsewhere (the peer of a ring or memif port, or a NIC's TX completion long
 * after), so its mbufs come back to the pool cold, and an mbuf taken cold
 * costs a miss on every line written: a header mbuf per worker per result.
 * One stash per pool per lcore, its only user; lcore-local, no atomics.
 */

#include <string.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "ainftp_prefetch.h"

#define AINFTP_MSTASH_SIZE 64
#define AINFTP_MSTASH_LOW 32 /* filled again below this: the prefetches get a burst of lead */

struct ainftp_mstash {
	struct rte_mempool *mp;
	uint32_t data_off;   /* from an mbuf's address to its data, as rte_pktmbuf_init lays it */
	uint16_t head, tail; /* the mbufs ready are m[head..tail) */
	struct rte_mbuf *m[AINFTP_MSTASH_SIZE];
};

static inline void
ainftp_mstash_init(struct ainftp_mstash *st, struct rte_mempool *mp)
{
	memset(st, 0, sizeof(*st));
	st->mp = mp;
	if (mp == NULL)
		return;
	st->data_off = (uint32_t)(sizeof(struct rte_mbuf) + rte_pktmbuf_priv_size(mp) +
				  RTE_MIN((unsigned int)RTE_PKTMBUF_HEADROOM,
					  (unsigned int)rte_pktmbuf_data_room_size(mp)));
}

static inline unsigned int
ainftp_mstash_count(const struct ainftp_mstash *st)
{
	return (unsigned int)(st->tail - st->head);
}

/* What the reset and the headers write: the mbuf's two lines and its data. */
static inline void
ainftp_mstash_prefetch(const struct ainftp_mstash *st, const struct rte_mbuf *mb)
{
	const char *m = (const char *)mb;

	ainftp_prefetch_w(m);
	ainftp_prefetch_w(m + RTE_CACHE_LINE_SIZE);
	ainftp_prefetch_w(m + st->data_off);
}

/* Up to AINFTP_MSTASH_SIZE again; the new mbufs' lines on their way. */
static inline void
ainftp_mstash_fill(struct ainftp_mstash *st)
{
	unsigned int have = ainftp_mstash_count(st), want = AINFTP_MSTASH_SIZE - have, i;

	if (st->head != 0) {
		memmove(st->m, st->m + st->head, have * sizeof(st->m[0]));
		st->head = 0;
		st->tail = (uint16_t)have;
	}
	/* All or nothing, as any bulk get: a short pool leaves allocations to the pool. */
	if (want == 0 || rte_mempool_get_bulk(st->mp, (void **)&st->m[have], want) != 0)
		return;
	for (i = have; i < AINFTP_MSTASH_SIZE; i++)
		ainftp_mstash_prefetch(st, st->m[i]);
	st->tail = AINFTP_MSTASH_SIZE;
}

/* n mbufs as rte_pktmbuf_alloc_bulk leaves them: 0, or -1 when the pool has too few. */
static inline int
ainftp_mstash_take(struct ainftp_mstash *st, struct rte_mbuf **out, unsigned int n)
{
	unsigned int i;

	if (ainftp_mstash_count(st) < n) {
		ainftp_mstash_fill(st);
		if (ainftp_mstash_count(st) < n)
			return rte_pktmbuf_alloc_bulk(st->mp, out, n) == 0 ? 0 : -1;
	}
	for (i = 0; i < n; i++) {
		out[i] = st->m[st->head++];
		rte_pktmbuf_reset(out[i]);
	}
	if (ainftp_mstash_count(st) < AINFTP_MSTASH_LOW)
		ainftp_mstash_fill(st);
	/*
	 * The next take's, again: the fill's prefetches have had a burst of
	 * other data through L1 since, and this brings them back from L2 before
	 * they are needed rather than as the reset stalls on them.
	 */
	for (i = 0; i < n && i < ainftp_mstash_count(st); i++)
		ainftp_mstash_prefetch(st, st->m[st->head + i]);
	return 0;
}

/* The stash back to its pool (the lcore stops, or a count of the pool must be exact). */
static inline void
ainftp_mstash_release(struct ainftp_mstash *st)
{
	if (ainftp_mstash_count(st) != 0)
		rte_mempool_put_bulk(st->mp, (void **)&st->m[st->head], ainftp_mstash_count(st));
	st->head = st->tail = 0;
}

#endif
