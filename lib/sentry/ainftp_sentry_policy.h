/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_SENTRY_POLICY_H
#define AINFTP_SENTRY_POLICY_H

/*
 * One row per sentry rule (docs/SENTRY.md), as testpmd has one struct
 * fwd_engine per mode: its name in cluster.json, whether it keeps every
 * worker's contribution until the chunk completes, and how it judges one
 * contribution and finishes a chunk. The config parser takes names and checks
 * from here; the data path, the attack harness and the tools call judge and
 * finish and never ask which rule it is. Adding a rule is its value in enum
 * ainftp_sentry_policy (ainftp_sentry.h), its kernels, and a row here.
 */

#include <stdbool.h>
#include <stdint.h>

#include "ainftp_codec.h"
#include "ainftp_sentry.h"

/* What a rule makes of one contribution. */
enum ainftp_judgement {
	AINFTP_JUDGE_INVALID = -1, /* a float32 payload with NaN or Inf: judged by nobody */
	AINFTP_JUDGE_DROP = 0,	   /* flagged and dropped: heard from, not in the sum */
	AINFTP_JUDGE_PAYLOAD = 1,  /* add the payload as it came */
	AINFTP_JUDGE_FLOATS = 2,   /* add the floats the rule left in out instead */
	AINFTP_JUDGE_KEPT = 3,	   /* kept in out (its row) for finish */
};

struct ainftp_sentry_rule {
	const char *name; /* cluster.json's sentry.policy */
	bool keeps_rows;  /* judge keeps each worker's floats; finish makes the sum */
	bool uses_trim_f; /* the conf's f: then 2f must stay below the job's workers */
	/*
	 * Worker w's contribution p (codec c, exponent exp; s->elems values) under
	 * the rule: out holds s->elems floats (with keeps_rows, the worker's own
	 * row for the chunk). NULL: the rule judges nothing (none).
	 */
	enum ainftp_judgement (*judge)(struct ainftp_sentry *s, uint16_t w,
				       const struct ainftp_codec *c, const struct ainftp_kernels *k,
				       const void *p, int8_t exp, float *out);
	/*
	 * keeps_rows: the chunk's aggregate, centre times n, over the rows x of
	 * the n workers ids (distinct, admitted, in worker order) into out. 0 or -EINVAL.
	 */
	int (*finish)(struct ainftp_sentry *s, const float *const *x, const uint16_t *ids,
		      uint16_t n, float *out);
};

/*
 * Worker w's contribution p under rule r, and into a what the rule keeps of
 * it: 1 used (added, or kept in row for finish), 0 dropped by the rule, -1 a
 * float32 payload with NaN or Inf (judged by nobody). row: the worker's row
 * (keeps_rows), scratch: s->elems floats, both 64-byte aligned. With none
 * (no judge), the payload is added as it came.
 */
int ainftp_sentry_take(const struct ainftp_sentry_rule *r, struct ainftp_sentry *s, uint16_t w,
		       const struct ainftp_codec *c, const struct ainftp_kernels *k, const void *p,
		       int8_t exp, struct ainftp_acc *a, float *row, float *scratch);

/* The row of a rule; NULL for a value out of range. */
const struct ainftp_sentry_rule *ainftp_sentry_rule(enum ainftp_sentry_policy policy);

/* A rule's name ("unknown" out of range). */
const char *ainftp_sentry_name(enum ainftp_sentry_policy policy);

#endif
