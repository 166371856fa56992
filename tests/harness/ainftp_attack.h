/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_ATTACK_H
#define AINFTP_ATTACK_H

/*
 * Emulated Byzantine workers (docs/SENTRY.md), for the sentry's tests, the
 * table tool, and the emulated workers: a seeded model of honest gradients,
 * the attacks that replace f of them, and a harness that runs a sentry policy
 * over many chunks and measures how far its aggregate lands from the honest
 * mean. Plain C11, no DPDK; deterministic for a seed on a given libm.
 *
 * Honest model, per chunk c: a scale s_c = 2^u, u uniform in [-spread,
 * spread] (chunks come from layers and steps of different magnitudes), a true
 * gradient g_i = s_c N(0, 1), and worker w's contribution g_i + s_c sigma
 * N(0, 1) (its own minibatch noise).
 */

#include <stdint.h>

#include "ainftp_sentry.h"
#include "ainftp_sentry_policy.h"

enum ainftp_attack_kind {
	AINFTP_ATTACK_NONE,	 /* the Byzantine workers send their honest gradients */
	AINFTP_ATTACK_SIGN_FLIP, /* -x: its own gradient, negated */
	AINFTP_ATTACK_SCALE,	 /* scale * x (x100) */
	AINFTP_ATTACK_NOISE,	 /* s_c noise N(0, 1): no gradient at all */
	AINFTP_ATTACK_ALIE, /* mu - z sd coordinate-wise over the honest ones ("a little is enough")
			     */
	AINFTP_ATTACK_IPM,  /* -eps mu: inner product manipulation */
	AINFTP_ATTACK_COUNT,
};

struct ainftp_attack_conf {
	enum ainftp_attack_kind kind;
	double scale;	/* SCALE: 100 */
	double noise;	/* NOISE: sigma relative to s_c, 100 */
	double alie_z;	/* ALIE: 1 */
	double ipm_eps; /* IPM: 0.1 */
};

struct ainftp_grad_model {
	uint64_t seed;
	double sigma;  /* honest noise relative to the true gradient: 1 */
	double spread; /* log2 range of the chunk scale: 1 (x0.5 .. x2) */
};

void ainftp_attack_defaults(struct ainftp_attack_conf *a, enum ainftp_attack_kind kind);
void ainftp_grad_model_defaults(struct ainftp_grad_model *m, uint64_t seed);
const char *ainftp_attack_name(enum ainftp_attack_kind kind);

/* Honest contributions of chunk c for workers 0..n-1 (elems each). */
void ainftp_attack_honest(const struct ainftp_grad_model *m, uint64_t c, uint16_t n, uint32_t elems,
			  float *const *x);

/*
 * Replace the contributions of workers n-f..n-1 of chunk c, honest as made by
 * ainftp_attack_honest, with the attack's. ALIE and IPM read the n-f honest
 * ones (an omniscient attacker, as in their papers). 0, or -EINVAL.
 */
int ainftp_attack_apply(const struct ainftp_attack_conf *a, const struct ainftp_grad_model *m,
			uint64_t c, uint16_t n, uint16_t f, uint32_t elems, float *const *x);

/* A run: chunks under one attack and one sentry conf (policy NONE: the plain mean). */
struct ainftp_attack_run {
	struct ainftp_grad_model model;
	struct ainftp_attack_conf attack;
	struct ainftp_sentry_conf sentry;
	const struct ainftp_sentry_ops *ops;
	uint16_t n;	 /* workers */
	uint16_t f;	 /* of which Byzantine: the last f */
	uint32_t elems;	 /* per chunk */
	uint32_t warmup; /* chunks first run but not measured (zscore's warm-up) */
	uint32_t chunks; /* chunks measured */
};

struct ainftp_attack_result {
	double rel_dist;	  /* mean over measured chunks of |agg - mu| / |mu| */
	double rel_dist_max;	  /* the largest of those */
	uint16_t byz_quarantined; /* at the end */
	uint16_t honest_quarantined;
	uint64_t byz_dropped; /* zscore drops, all chunks */
	uint64_t honest_dropped;
	double byz_suspicion; /* mean score at the end */
	double honest_suspicion;
};

/*
 * The aggregate's mean is the sentry's sum over the contributors it used
 * divided by their count: the plain mean for NONE; zscore, accepted
 * contributions only; clip, the clipped contributions; trimmed_mean and
 * median, their sum convention. Quarantined workers are left out. Allocates
 * (a test harness, not the data path). 0, -EINVAL or -ENOMEM.
 */
int ainftp_attack_run(const struct ainftp_attack_run *r, struct ainftp_attack_result *res);

#endif
