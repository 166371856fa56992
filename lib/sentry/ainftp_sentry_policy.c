/* SPDX-License-Identifier: BSD-3-Clause */
#include "ainftp_sentry_policy.h"

/* zscore: by the contribution's norm; what passes is added as it came. */
static enum ainftp_judgement
zscore_judge(struct ainftp_sentry *s, uint16_t w, const struct ainftp_codec *c,
	     const struct ainftp_kernels *k, const void *p, int8_t exp, float *out)
{
	double norm = c->norm(k, p, s->elems, exp, out);
	int r;

	if (norm < 0)
		return AINFTP_JUDGE_INVALID;
	r = ainftp_sentry_zscore_check(s, w, norm);
	if (r == AINFTP_SENTRY_DROP)
		return AINFTP_JUDGE_DROP;
	return r == AINFTP_SENTRY_ACCEPT ? AINFTP_JUDGE_PAYLOAD : AINFTP_JUDGE_INVALID;
}

/* clip: the blocks over clip_norm scaled down; the floats are what is added. */
static enum ainftp_judgement
clip_judge(struct ainftp_sentry *s, uint16_t w, const struct ainftp_codec *c,
	   const struct ainftp_kernels *k, const void *p, int8_t exp, float *out)
{
	if (c->to_f32(k, p, s->elems, exp, out) != 0 || ainftp_sentry_clip(s, w, out, out) < 0)
		return AINFTP_JUDGE_INVALID;
	return AINFTP_JUDGE_FLOATS;
}

/* trimmed_mean, median: the floats kept, judged with the others at completion. */
static enum ainftp_judgement
robust_judge(struct ainftp_sentry *s, uint16_t w, const struct ainftp_codec *c,
	     const struct ainftp_kernels *k, const void *p, int8_t exp, float *out)
{
	(void)w;
	return c->to_f32(k, p, s->elems, exp, out) == 0 ? AINFTP_JUDGE_KEPT : AINFTP_JUDGE_INVALID;
}

static const struct ainftp_sentry_rule rules[AINFTP_SENTRY_MAX] = {
	[AINFTP_SENTRY_NONE] = {.name = "none"},
	[AINFTP_SENTRY_ZSCORE] = {.name = "zscore", .judge = zscore_judge},
	[AINFTP_SENTRY_TRIMMED_MEAN] = {.name = "trimmed_mean",
					.keeps_rows = true,
					.uses_trim_f = true,
					.judge = robust_judge,
					.finish = ainftp_sentry_robust},
	[AINFTP_SENTRY_MEDIAN] = {.name = "median",
				  .keeps_rows = true,
				  .judge = robust_judge,
				  .finish = ainftp_sentry_robust},
	[AINFTP_SENTRY_CLIP] = {.name = "clip", .judge = clip_judge},
};

int
ainftp_sentry_take(const struct ainftp_sentry_rule *r, struct ainftp_sentry *s, uint16_t w,
		   const struct ainftp_codec *c, const struct ainftp_kernels *k, const void *p,
		   int8_t exp, struct ainftp_acc *a, float *row, float *scratch)
{
	enum ainftp_judgement v = AINFTP_JUDGE_PAYLOAD;

	if (r->judge != NULL)
		v = r->judge(s, w, c, k, p, exp, r->keeps_rows ? row : scratch);
	switch (v) {
	case AINFTP_JUDGE_PAYLOAD:
		return c->accumulate(k, a, p, exp, scratch) == 0 ? 1 : -1;
	case AINFTP_JUDGE_FLOATS:
		return k->q->acc_f32(a, scratch) == 0 ? 1 : -1;
	case AINFTP_JUDGE_KEPT:
		return 1;
	case AINFTP_JUDGE_DROP:
		return 0;
	case AINFTP_JUDGE_INVALID:
		break;
	}
	return -1;
}

const struct ainftp_sentry_rule *
ainftp_sentry_rule(enum ainftp_sentry_policy policy)
{
	return (unsigned int)policy < AINFTP_SENTRY_MAX ? &rules[policy] : NULL;
}

const char *
ainftp_sentry_name(enum ainftp_sentry_policy policy)
{
	const struct ainftp_sentry_rule *r = ainftp_sentry_rule(policy);

	return r == NULL ? "unknown" : r->name;
}
