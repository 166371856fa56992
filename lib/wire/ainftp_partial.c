/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Partial sums between boxes (ainftp_partial.h): an accumulator's state in
 * parts on the wire, and the merge of a part into another accumulator.
 */
#include <string.h>

#include "ainftp_partial.h"

/* Little-endian by bytes: the payload is at any alignment, and the host may be big-endian. */
static uint16_t
get_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (unsigned int)p[1] << 8);
}

static uint32_t
get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get_le64(const unsigned char *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void
put_le16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void
put_le32(unsigned char *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

static void
put_le64(unsigned char *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/* Two's complement back to signed without the implementation-defined conversion. */
static int32_t
to_i32(uint32_t u)
{
	return u <= INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

static int64_t
to_i64(uint64_t u)
{
	return u <= INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

static uint64_t
abs_u64(int64_t v)
{
	return v < 0 ? -(uint64_t)v : (uint64_t)v;
}

/* Wire bytes of a block of m elements. */
static size_t
block_bytes(uint32_t m)
{
	return AINFTP_PART_BLOCK_HDR_LEN + (size_t)m * sizeof(int64_t);
}

uint32_t
ainftp_part_bpp(size_t max_payload)
{
	size_t bpp;

	if (max_payload < AINFTP_PART_HDR_LEN)
		return 0;
	bpp = (max_payload - AINFTP_PART_HDR_LEN) / block_bytes(AINFTP_BLOCK);
	return bpp > AINFTP_PART_MAX_BPP ? AINFTP_PART_MAX_BPP : (uint32_t)bpp;
}

uint32_t
ainftp_part_count(uint32_t n, uint32_t bpp)
{
	if (bpp == 0)
		return 0;
	return (ainftp_blocks(n) + bpp - 1) / bpp;
}

/* The blocks of part p: *first and the count returned (0 when there is no such part). */
static uint32_t
part_blocks(uint32_t n, uint32_t part, uint32_t bpp, uint32_t *first)
{
	uint32_t nb = ainftp_blocks(n);

	if (part >= ainftp_part_count(n, bpp))
		return 0;
	*first = part * bpp; /* < nb: no wrap */
	return nb - *first < bpp ? nb - *first : bpp;
}

size_t
ainftp_part_len(uint32_t n, uint32_t part, uint32_t bpp)
{
	uint32_t first = 0, k = part_blocks(n, part, bpp, &first);
	size_t elems;

	if (k == 0)
		return 0;
	/* Only the chunk's last block can be short. */
	elems = (size_t)(k - 1) * AINFTP_BLOCK + ainftp_block_len(n, first + k - 1);
	return AINFTP_PART_HDR_LEN + (size_t)k * AINFTP_PART_BLOCK_HDR_LEN +
	       elems * sizeof(int64_t);
}

size_t
ainftp_part_write(const struct ainftp_acc *a, uint32_t part, uint32_t bpp, void *out)
{
	uint32_t first = 0, k = part_blocks(a->n, part, bpp, &first), b, j;
	unsigned char *o = out;

	if (k == 0 || bpp > AINFTP_PART_MAX_BPP || part >= AINFTP_PART_MAX_PARTS ||
	    first + k - 1 > UINT16_MAX)
		return 0;
	o[0] = (unsigned char)part;
	o[1] = (unsigned char)bpp;
	put_le16(o + 2, (uint16_t)first);
	put_le16(o + 4, (uint16_t)k);
	put_le16(o + 6, 0);
	put_le64(o + 8, 0); /* the request's descriptor: ainftp_part_set_desc */
	o += AINFTP_PART_HDR_LEN;
	for (b = first; b < first + k; b++) {
		struct ainftp_acc_block s = ainftp_acc_state(a, b);
		uint32_t m = ainftp_block_len(a->n, b);
		bool empty = s.exp == AINFTP_EXP_NONE;
		/* At elo, as without room: the merge's overflow sees one box's spread. */
		int32_t room = ainftp_acc_room(a, b);

		/* An empty block's acc32 may hold anything (fresh, stale): its sums are 0. */
		put_le32(o, (uint32_t)(s.exp + room));
		put_le32(o + 4, (uint32_t)(empty ? AINFTP_EXP_NONE : s.emax));
		o += AINFTP_PART_BLOCK_HDR_LEN;
		for (j = 0; j < m; j++, o += sizeof(int64_t))
			put_le64(o, empty ? 0
					  : (uint64_t)(ainftp_acc_at(a, b * AINFTP_BLOCK + j) /
						       (INT64_C(1) << room)));
	}
	return (size_t)(o - (unsigned char *)out);
}

void
ainftp_part_set_desc(void *part, uint64_t desc)
{
	put_le64((unsigned char *)part + 8, desc);
}

int
ainftp_part_parse(const void *p, size_t len, uint32_t n, struct ainftp_part_info *pi)
{
	const unsigned char *h = p;
	uint32_t first = 0, k;

	if (len < AINFTP_PART_HDR_LEN)
		return -1;
	pi->part = h[0];
	pi->bpp = h[1];
	pi->first_block = get_le16(h + 2);
	pi->n_blocks = get_le16(h + 4);
	pi->desc = get_le64(h + 8);
	k = part_blocks(n, pi->part, pi->bpp, &first); /* 0 for bpp 0 or part past the count */
	if (k == 0 || pi->first_block != first || pi->n_blocks != k || get_le16(h + 6) != 0 ||
	    len != ainftp_part_len(n, pi->part, pi->bpp))
		return -1;
	return 0;
}

/* One block of a part, as read: its state and where its sums lie on the wire. */
struct wire_block {
	int32_t exp, emax;
	const unsigned char *v;
	uint32_t m;
};

/*
 * Whether a block is one a real accumulator of count contributions of w bits
 * holds: each contribution's integer is below 2^w at an exponent in [exp,
 * emax], so at exp below 2^(w + emax - exp), and overflow's rounding keeps that
 * bound (an integer bound, a power of two times count).
 */
static bool
block_ok(const struct wire_block *wb, int w, unsigned int count)
{
	uint64_t bound, any = 0;
	uint32_t j;

	if (wb->exp == AINFTP_EXP_NONE || wb->emax == AINFTP_EXP_NONE) {
		for (j = 0; j < wb->m; j++)
			any |= get_le64(wb->v + j * sizeof(int64_t));
		return wb->exp == wb->emax && any == 0;
	}
	if (wb->exp < AINFTP_PART_EXP_MIN || wb->emax > AINFTP_PART_EXP_MAX || wb->exp > wb->emax ||
	    wb->emax - wb->exp > ainftp_span(w))
		return false;
	/* w + span = 63 - AINFTP_WORKER_BITS and count <= 64: at most 2^63, a uint64. */
	bound = (uint64_t)count << (w + wb->emax - wb->exp);
	for (j = 0; j < wb->m; j++)
		if (abs_u64(to_i64(get_le64(wb->v + j * sizeof(int64_t)))) > bound)
			return false;
	return true;
}

/*
 * Block b takes a checked, non-empty block: the int64 rule (ainftp_acc_prep)
 * for a pair of exponents rather than one. Both sums go to the new exponent
 * x, rounded only when overflow raises x past one of them. b is wide.
 */
static void
merge_block(struct ainftp_acc *a, uint32_t b, const struct wire_block *wb, int w)
{
	int64_t *acc = a->acc + (size_t)b * AINFTP_BLOCK;
	int32_t exp = a->exp[b], lo = wb->exp, hi = wb->emax, x;
	uint32_t j;

	if (exp != AINFTP_EXP_NONE) {
		lo = exp < lo ? exp : lo;
		hi = a->emax[b] > hi ? a->emax[b] : hi;
	}
	x = hi - ainftp_span(w);
	x = x > lo ? x : lo;
	if (x > lo)
		a->overflow = true;
	/*
	 * Shifts are below 64: x >= hi - span and each exponent is at least its
	 * own emax - span. Unsigned adds, as ainftp_acc_apply: never UB.
	 */
	for (j = 0; j < wb->m; j++) {
		int64_t v = to_i64(get_le64(wb->v + j * sizeof(int64_t)));
		uint64_t s = (uint64_t)ainftp_scale_rne(v, wb->exp - x);

		/* An empty block's sums are stale: it is the part's alone. */
		if (exp != AINFTP_EXP_NONE)
			s += (uint64_t)ainftp_scale_rne(acc[j], exp - x);
		acc[j] = to_i64(s);
	}
	a->exp[b] = x;
	a->emax[b] = hi;
}

static const unsigned char *
read_block(const unsigned char *o, uint32_t n, uint32_t b, struct wire_block *wb)
{
	wb->exp = to_i32(get_le32(o));
	wb->emax = to_i32(get_le32(o + 4));
	wb->v = o + AINFTP_PART_BLOCK_HDR_LEN;
	wb->m = ainftp_block_len(n, b);
	return o + block_bytes(wb->m);
}

int
ainftp_acc_merge_part(struct ainftp_acc *a, const void *p, size_t len, int w, unsigned int count)
{
	const unsigned char *start = (const unsigned char *)p + AINFTP_PART_HDR_LEN, *o;
	struct ainftp_part_info pi;
	struct wire_block wb;
	bool any = false;
	uint32_t b;

	if (count < 1 || count > (1u << AINFTP_WORKER_BITS) || w < 1 || ainftp_span(w) < 0 ||
	    ainftp_part_parse(p, len, a->n, &pi) != 0)
		return -1;
	/* Every block first: a refused part leaves a as it was. */
	for (b = pi.first_block, o = start; b < pi.first_block + pi.n_blocks; b++) {
		o = read_block(o, a->n, b, &wb);
		if (!block_ok(&wb, w, count))
			return -1;
		any |= wb.exp != AINFTP_EXP_NONE;
	}
	if (!any)
		return 0; /* all empty: like zero contributions, changes nothing */
	ainftp_acc_uni_off(a);
	for (b = pi.first_block, o = start; b < pi.first_block + pi.n_blocks; b++) {
		o = read_block(o, a->n, b, &wb);
		if (wb.exp == AINFTP_EXP_NONE)
			continue;
		if (a->mag[b] != AINFTP_MAG_WIDE)
			ainftp_acc_widen(a, b);
		merge_block(a, b, &wb, w);
	}
	return 0;
}
