/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_SENTRY_H
#define AINFTP_SENTRY_H

/*
 * The Byzantine sentry of a job (docs/SENTRY.md): robust aggregation rules and
 * a suspicion score per worker that quarantines the ones it keeps flagging.
 *
 *   zscore        per contribution, inline: its L2 norm against the workers'
 *                 robust centre (median of per-worker Welford means) and sigma
 *                 (median within-worker variance and 1.4826 MAD between
 *                 workers): beyond k sigma it is dropped.
 *   trimmed_mean  per chunk, over the n contributions kept by the slot:
 *   median        coordinate-wise, sorted (a sorting network across the n
 *                 worker vectors in SIMD lanes), the f lowest and f highest
 *                 dropped, or all but the middle one or two.
 *   clip          per contribution: every block of AINFTP_BLOCK elements
 *                 scaled down to L2 norm clip_norm when above it.
 *
 * Plain C11, no DPDK, no allocation: struct ainftp_sentry holds all its state
 * in fixed arrays (AINFTP_MAX_WORKERS), so an RX lcore can own one per job in
 * memory it allocated once. Nothing here locks or blocks; a struct is used by
 * one thread at a time.
 *
 * Inputs are finite: float32 payloads with a NaN or an infinity are refused
 * upstream (acc_f32, the client library), and dequantized int16/int8 values
 * are finite. An infinity still sorts and clips without breaking anything.
 *
 * Sums convention: the robust rules return their centre times n, the number
 * of contributions, so a result is "a sum" like the plain one and workers
 * that divide by the contributor count of the result bitmap get the mean.
 */

#include <stdbool.h>
#include <stdint.h>

#include "ainftp_proto.h"
#include "ainftp_quant.h"

#define AINFTP_SENTRY_WARMUP 8	   /* zscore: norms a worker needs before its stats count */
#define AINFTP_SENTRY_EWMA_SHIFT 6 /* suspicion: weight 1/64 per observation */
#define AINFTP_SENTRY_Q16 65536u   /* suspicion scores are fractions in Q16 */
#define AINFTP_SORTNET_MAX 543	   /* comparators of Batcher's network for 64 inputs */

/* The rules, by their row in the policy table (ainftp_sentry_policy.h). */
enum ainftp_sentry_policy {
	AINFTP_SENTRY_NONE,
	AINFTP_SENTRY_ZSCORE,
	AINFTP_SENTRY_TRIMMED_MEAN,
	AINFTP_SENTRY_MEDIAN,
	AINFTP_SENTRY_CLIP,
	AINFTP_SENTRY_MAX
};

/* A job's sentry in cluster.json (config/README.md). */
struct ainftp_sentry_conf {
	enum ainftp_sentry_policy policy;
	double zscore_k;	    /* zscore: drop beyond k sigma */
	uint16_t trim_f;	    /* trimmed_mean: drop f largest and f smallest */
	double clip_norm;	    /* clip: per-block L2 norm bound */
	double suspicion_threshold; /* fraction of flagged chunks before quarantine */
};

/* A sorting network for n inputs: comparators (lo[c], hi[c]), lo < hi, in order. */
struct ainftp_sortnet {
	uint32_t n;
	uint32_t len;
	uint8_t lo[AINFTP_SORTNET_MAX];
	uint8_t hi[AINFTP_SORTNET_MAX];
};

/* Batcher's odd-even merge sort for n inputs (1..AINFTP_MAX_WORKERS). 0 or -EINVAL. */
int ainftp_sortnet_build(struct ainftp_sortnet *net, uint32_t n);

/*
 * Kernels: a scalar reference and AVX2 / AVX-512 versions with the same bits.
 *
 * trim: for each coordinate i, the n values x[p][i] sorted (by value; -0 is
 * taken as +0), s[0] <= ... <= s[n-1]; out[i] = (s[t] + ... + s[n-1-t]) *
 * scale, summed in float in that order. When outside is not NULL and band >
 * 0, outside[p] += the coordinates where x[p][i] < s[band] or > s[n-1-band]
 * (strictly: ties with the band's ends do not count). Needs 2t < n, band <=
 * (n-1)/2, net built for n (the scalar reference sorts by insertion instead).
 *
 * clip: per block of AINFTP_BLOCK, its sum of squares in double (see
 * ainftp_sentry_block_sumsq), and when sqrt of it is above clip_norm the block
 * times (float)(clip_norm / norm); out may be x. Returns the blocks clipped.
 *
 * sumsq: the sum over blocks, in block order, of their sums of squares.
 *
 * dequant_i16: what ainftp_dequant_i16 gives, as (float)q times the float 2^e
 * (exact, subnormal below 2^-126): one correctly rounded product, like ldexpf.
 */
typedef void (*ainftp_trim_fn)(const struct ainftp_sortnet *net, const float *const *x,
			       uint32_t elems, uint32_t t, uint32_t band, float scale, float *out,
			       uint32_t *outside);
typedef uint32_t (*ainftp_clip_fn)(const float *x, uint32_t n, double clip_norm, float *out);

struct ainftp_sentry_ops {
	const char *name; /* "scalar", "avx2", "avx512" */
	ainftp_trim_fn trim;
	ainftp_clip_fn clip;
	ainftp_sumsq_fn sumsq;
	ainftp_dequant_i16_fn dequant_i16;
};

extern const struct ainftp_sentry_ops ainftp_sentry_scalar;
extern const struct ainftp_sentry_ops ainftp_sentry_avx2; /* check ainftp_sentry_have() first */
extern const struct ainftp_sentry_ops ainftp_sentry_avx512;

bool ainftp_sentry_have(const struct ainftp_sentry_ops *ops);
/* The widest set the CPU has, capped at max_bits (512, 256, or 0 for scalar). */
const struct ainftp_sentry_ops *ainftp_sentry_select(unsigned int max_bits);

/* Per worker: its norm statistics, its suspicion and what was done to it. */
struct ainftp_sentry_worker {
	uint64_t norms; /* zscore: Welford's count, mean and M2 of its norms */
	double mean;
	double m2;
	uint32_t score;	      /* suspicion: EWMA of its flags, Q16 */
	uint64_t seen;	      /* contributions or chunks judged */
	uint64_t flagged;     /* of which flagged (dropped by zscore, mostly trimmed, clipped) */
	uint64_t quarantines; /* times it was quarantined */
};

struct ainftp_sentry {
	struct ainftp_sentry_conf conf;
	const struct ainftp_sentry_ops *ops;
	uint16_t n_workers;
	uint32_t elems;
	uint32_t threshold_q16; /* quarantine at score >= this; 1.0 never quarantines */
	uint64_t quarantined;	/* bit w: worker w is out until ainftp_sentry_readmit */
	/* zscore: robust centre and sigma of the norms, refreshed every n_workers checks. */
	bool zs_ready;
	uint32_t zs_checks;
	double zs_center;
	double zs_sigma;
	struct ainftp_sortnet net; /* for the last n of ainftp_sentry_robust */
	struct ainftp_sentry_worker w[AINFTP_MAX_WORKERS];
};

enum ainftp_sentry_verdict {
	AINFTP_SENTRY_ACCEPT = 0,
	AINFTP_SENTRY_DROP = 1,
};

/*
 * Set up for a job of n_workers (1..AINFTP_MAX_WORKERS) and elems per chunk,
 * with the kernels ops (ainftp_sentry_select). 0, or -EINVAL for a bad
 * argument or a conf the config parser would have refused. Nothing to free.
 */
int ainftp_sentry_init(struct ainftp_sentry *s, const struct ainftp_sentry_conf *conf,
		       uint16_t n_workers, uint32_t elems, const struct ainftp_sentry_ops *ops);

/* Whether a contribution of worker w may be used at all: not quarantined, w in range. */
static inline bool
ainftp_sentry_admitted(const struct ainftp_sentry *s, uint16_t w)
{
	return w < s->n_workers && !(s->quarantined >> w & 1);
}

/* L2 norm of elems floats with the sentry's kernels (int16 and int8: ainftp_codec.h). */
double ainftp_sentry_norm_f32(const struct ainftp_sentry *s, const float *x);

/*
 * zscore: judge one contribution of worker w by its L2 norm, then add the norm
 * to w's statistics. ACCEPT until enough workers are warm (AINFTP_SENTRY_WARMUP
 * norms each, from a majority of the job's admitted workers). Returns a
 * verdict, or -EINVAL (not the zscore policy, w out of range or quarantined,
 * norm negative or not finite).
 */
int ainftp_sentry_zscore_check(struct ainftp_sentry *s, uint16_t w, double norm);

/*
 * trimmed_mean or median over the n contributions x[0..n-1] of one chunk, from
 * the workers workers[0..n-1] (distinct, admitted): out = centre * n. With
 * trimmed_mean, t = min(f, (n-1)/2); median is t = (n-1)/2. Each worker is
 * flagged when it lay outside the band e = ainftp_sentry_band(n, t) in over
 * (1 + 2e/n) / 2 of the coordinates. 0, or -EINVAL.
 */
int ainftp_sentry_robust(struct ainftp_sentry *s, const float *const *x, const uint16_t *workers,
			 uint16_t n, float *out);

/* The suspicion band of robust for n contributions and up to f Byzantine (ainftp_sentry.c). */
uint32_t ainftp_sentry_band(uint32_t n, uint32_t f);

/*
 * clip: out = x with every block clipped to clip_norm (out may be x); worker w
 * is flagged when over half of its blocks were clipped. Returns the blocks
 * clipped, or -EINVAL.
 */
int ainftp_sentry_clip(struct ainftp_sentry *s, uint16_t w, const float *x, float *out);

/* The operator's command: worker w back in, its score and norm statistics reset. 0 or -EINVAL. */
int ainftp_sentry_readmit(struct ainftp_sentry *s, uint16_t w);

/* Worker w's suspicion score in [0, 1), or -1 when w is out of range. */
double ainftp_sentry_suspicion(const struct ainftp_sentry *s, uint16_t w);

/*
 * For the kernels (ainftp_sentry*.c) only: the rules the scalar reference and
 * the SIMD versions share, so that they cannot drift apart.
 */

/* 2^e as a float from its bits, for every int8 e (below 2^-126 a subnormal, still exact). */
static inline float
ainftp_sentry_pow2f(int8_t e)
{
	uint32_t bits = e >= -126 ? (uint32_t)(e + 127) << 23 : 1u << (e + 149);
	float k;

	__builtin_memcpy(&k, &bits, sizeof(k));
	return k;
}

/* Order-preserving int32 key of a float (-0 taken as +0); the map is its own inverse. */
static inline int32_t
ainftp_sentry_key(uint32_t bits)
{
	return (int32_t)(bits ^ ((0u - (bits >> 31)) >> 1));
}

/*
 * Sum of squares of one block of m <= AINFTP_BLOCK floats, in double (each
 * square exact): p[j] = x[j]^2 + x[j+8]^2 + x[j+16]^2 + x[j+24]^2 in that
 * order (missing elements are 0), then ((p0+p4) + (p2+p6)) + ((p1+p5) +
 * (p3+p7)), the order of a SIMD horizontal sum of eight lanes.
 */
double ainftp_sentry_block_sumsq(const float *x, uint32_t m);

/* clip's rule for one block given its sum of squares: the factor, or 0 when not clipped. */
float ainftp_sentry_clip_scale(double sumsq, double clip_norm);

#endif
