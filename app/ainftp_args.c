/* SPDX-License-Identifier: BSD-3-Clause */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#include "ainftp_args.h"
#include "ainftp_config.h"

#define STATS_INTERVAL_MAX 3600
#define IDLE_US_MAX 100000 /* a tenth of a second: more would stall heartbeats and probes */
#define EMU_DEFAULT_CHUNKS_PER_STEP 100
#define EMU_DEFAULT_TIMEOUT_US 2000

int
ainftp_args_split(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i;
	return argc;
}

void
ainftp_args_usage(void)
{
	printf("usage: ainftp-app [EAL options] -- -c FILE [--stats-interval S]\n"
	       "\n"
	       "  -c, --config FILE       cluster.json: ports, lcores, jobs (config/README.md)\n"
	       "  --stats-interval S      print the stats line every S seconds (0: never);\n"
	       "                          overrides telemetry.stats_interval_s\n"
	       "  --simd-bits N           widest SIMD kernels: 512 (default), 256 or 0 (scalar)\n"
	       "  --idle-us US            idle mode: an RX lcore that found nothing in 1024\n"
	       "                          polls sleeps US microseconds between polls, up to\n"
	       "                          100000 (0, the default: spin, the lowest latency)\n"
	       "  --metrics [ADDR:]PORT   serve Prometheus text at http://ADDR:PORT/metrics\n"
	       "                          (ADDR 127.0.0.1 when left out; PORT 0: any free one);\n"
	       "                          overrides telemetry.prometheus\n"
	       "  -h, --help              this text\n"
	       "  -v, --version           the tool's name and version\n"
	       "\n"
	       "Emulated workers (the job's own workers, in this process, on a ring port pair\n"
	       "that replaces the job's port):\n"
	       "  --emulate CHUNKS        stream CHUNKS chunks per worker, check every result,\n"
	       "                          print a summary and exit (0 all exact, 3 otherwise)\n"
	       "  --emu-job N             index of the job in cluster.json (default 0)\n"
	       "  --emu-lcore L           the emulator's lcore (default: the last of -l)\n"
	       "  --emu-window W          chunks in flight per worker (default: the job's slots)\n"
	       "  --emu-step C            chunks per training step (default 100)\n"
	       "  --emu-loss P, --emu-dup P, --emu-reorder P\n"
	       "                          inject loss, duplication, reordering in both directions\n"
	       "  --emu-timeout US        first retransmission timeout in microseconds (default "
	       "2000)\n"
	       "  --emu-seed S            gradients' seed (default 1)\n"
	       "  --emu-silent W          worker W never answers heartbeats (tests the appliance)\n"
	       "  --emu-linger MS         after the last result, answer heartbeats MS ms more\n"
	       "  --emu-rate N            each worker sends at most N new chunks per second\n"
	       "  --emu-start MS          the first chunk leaves MS ms after start-up (a result\n"
	       "                          sink's consumer attaches first)\n"
	       "  --emu-delay W:MS[:FROM] worker W's data leaves MS ms late from chunk FROM on\n"
	       "                          (default 0); it answers heartbeats at once (a "
	       "straggler)\n"
	       "  --emu-kill W:AT_CHUNK:MS\n"
	       "                          worker W stops entirely before chunk AT_CHUNK for MS "
	       "ms,\n"
	       "                          then restarts and rejoins at a later step boundary\n"
	       "\n"
	       "Example: ainftp-app -l 0-1 --no-huge -m 512 --no-pci --vdev=net_ring0 -- -c "
	       "config/loopback.json\n"
	       "Exit codes: 0 clean stop (SIGINT/SIGTERM), 1 system failure, 2 bad command line "
	       "or cluster.json, 3 emulated workers saw a wrong or missing result.\n"
	       "See ainftp-app(8) and cluster.json(5).\n");
}

/* An integer option in [min, max]; the message names the option and the range. */
static int
parse_ulong(const char *opt, const char *s, unsigned long min, unsigned long max,
	    unsigned long *out, char *err, size_t errlen)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	/* Digits only: strtoul would also take " 5", "+5" and "-1" (as ULONG_MAX). */
	if (!isdigit((unsigned char)s[0]) || errno != 0 || *end != '\0' || v < min || v > max) {
		snprintf(err, errlen, "%s: \"%s\" is not a whole number in %lu..%lu", opt, s, min,
			 max);
		return -1;
	}
	*out = v;
	return 0;
}

static int
parse_probability(const char *opt, const char *s, double *out, char *err, size_t errlen)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0 && v < 1.0)) {
		snprintf(err, errlen, "%s: \"%s\" is not a probability in [0, 1)", opt, s);
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * "A:B[:C]": n_min..n_max whole numbers separated by colons, each in its range;
 * the message names the option and the form.
 */
static int
parse_fields(const char *opt, const char *form, const char *s, unsigned int n_min,
	     unsigned int n_max, const unsigned long *min, const unsigned long *max,
	     unsigned long *out, char *err, size_t errlen)
{
	char buf[64], *field, *save = NULL;
	unsigned int n = 0;

	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "%s: \"%.32s...\" is not %s", opt, s, form);
		return -1;
	}
	strcpy(buf, s);
	for (field = strtok_r(buf, ":", &save); field != NULL; field = strtok_r(NULL, ":", &save)) {
		char name[48];

		if (n == n_max)
			break;
		snprintf(name, sizeof(name), "%s %s", opt, form);
		if (parse_ulong(name, field, min[n], max[n], &out[n], err, errlen) != 0)
			return -1;
		n++;
	}
	if (n < n_min || field != NULL || s[0] == ':' || s[strlen(s) - 1] == ':' ||
	    strstr(s, "::") != NULL) {
		snprintf(err, errlen, "%s: \"%s\" is not %s", opt, s, form);
		return -1;
	}
	return 0;
}

/*
 * The emulator's options, a table: each one's name, getopt_long's letter for it,
 * its parser, and for a number its range and the field of ainftp_args it goes
 * into (ARG: the field's offset and type, so that a field and what is stored
 * in it cannot disagree). W:MS-like values have parsers of their own.
 */
enum arg_type {
	ARG_U16,
	ARG_U32,
	ARG_U64,
	ARG_INT,
	ARG_REAL,
};

/* clang-format 14 does not know _Generic's associations. */
/* clang-format off */
#define ARG_TYPE(m)                                                                        \
	_Generic(((struct ainftp_args *)0)->m,                                             \
		 uint16_t: ARG_U16, uint32_t: ARG_U32, uint64_t: ARG_U64, int: ARG_INT,    \
		 double: ARG_REAL)
/* clang-format on */
#define ARG(m) offsetof(struct ainftp_args, m), ARG_TYPE(m)

struct emu_opt;
typedef int emu_parse_fn(const struct emu_opt *o, const char *arg, struct ainftp_args *args,
			 char *err, size_t errlen);

struct emu_opt {
	const char *name; /* as on the command line */
	int val;	  /* getopt_long's, a letter of its own */
	emu_parse_fn *parse;
	unsigned long min, max; /* a whole number's range */
	size_t off;		/* where it goes in ainftp_args */
	enum arg_type type;
};

/* A whole number into its field, of the type the field has. */
static void
arg_store(struct ainftp_args *args, size_t off, enum arg_type type, unsigned long v)
{
	void *p = (char *)args + off;

	switch (type) {
	case ARG_U16:
		*(uint16_t *)p = (uint16_t)v;
		break;
	case ARG_U32:
		*(uint32_t *)p = (uint32_t)v;
		break;
	case ARG_U64:
		*(uint64_t *)p = v;
		break;
	case ARG_INT:
		*(int *)p = (int)v;
		break;
	case ARG_REAL: /* a probability's field: parse_prob's own */
		break;
	}
}

/* A whole number in the option's range, into its field. */
static int
parse_whole(const struct emu_opt *o, const char *arg, struct ainftp_args *args, char *err,
	    size_t errlen)
{
	unsigned long v;

	if (parse_ulong(o->name, arg, o->min, o->max, &v, err, errlen) != 0)
		return -1;
	arg_store(args, o->off, o->type, v);
	return 0;
}

/* --emulate CHUNKS: the run's length, and that there is a run. */
static int
parse_emulate(const struct emu_opt *o, const char *arg, struct ainftp_args *args, char *err,
	      size_t errlen)
{
	if (parse_whole(o, arg, args, err, errlen) != 0)
		return -1;
	args->emulate = 1;
	return 0;
}

static int
parse_prob(const struct emu_opt *o, const char *arg, struct ainftp_args *args, char *err,
	   size_t errlen)
{
	return parse_probability(o->name, arg, (double *)((char *)args + o->off), err, errlen);
}

/* --emu-delay W:MS[:FROM] */
static int
parse_delay(const struct emu_opt *o, const char *arg, struct ainftp_args *args, char *err,
	    size_t errlen)
{
	static const unsigned long min[] = {0, 1, 0},
				   max[] = {AINFTP_MAX_WORKERS - 1, 600000, UINT32_MAX};
	unsigned long f[3] = {0, 0, 0};

	if (parse_fields(o->name, "W:MS[:FROM]", arg, 2, 3, min, max, f, err, errlen) != 0)
		return -1;
	args->emu.delay_worker = (int)f[0];
	args->emu.delay_ms = (uint32_t)f[1];
	args->emu.delay_from = (uint32_t)f[2];
	return 0;
}

/* --emu-kill W:AT_CHUNK:MS */
static int
parse_kill(const struct emu_opt *o, const char *arg, struct ainftp_args *args, char *err,
	   size_t errlen)
{
	static const unsigned long min[] = {0, 0, 1},
				   max[] = {AINFTP_MAX_WORKERS - 1, UINT32_MAX, 600000};
	unsigned long f[3] = {0, 0, 0};

	if (parse_fields(o->name, "W:AT_CHUNK:MS", arg, 3, 3, min, max, f, err, errlen) != 0)
		return -1;
	args->emu.kill_worker = (int)f[0];
	args->emu.kill_at = (uint32_t)f[1];
	args->emu.kill_ms = (uint32_t)f[2];
	return 0;
}

static const struct emu_opt emu_opts[] = {
	{"--emulate", 'E', parse_emulate, 1, UINT32_MAX, ARG(emu.chunks)},
	{"--emu-job", 'J', parse_whole, 0, AINFTP_MAX_JOBS - 1, ARG(emu.job_idx)},
	{"--emu-lcore", 'L', parse_whole, 0, RTE_MAX_LCORE - 1, ARG(emu_lcore)},
	{"--emu-window", 'W', parse_whole, 1, 65536, ARG(emu.window)},
	{"--emu-step", 'S', parse_whole, 1, UINT32_MAX, ARG(emu.chunks_per_step)},
	{"--emu-timeout", 'T', parse_whole, 100, 10000000, ARG(emu.timeout_us)},
	{"--emu-seed", 'R', parse_whole, 0, ULONG_MAX, ARG(emu.seed)},
	{"--emu-silent", 'Q', parse_whole, 0, AINFTP_MAX_WORKERS - 1, ARG(emu.silent_worker)},
	{"--emu-linger", 'G', parse_whole, 0, 600000, ARG(emu.linger_ms)},
	{"--emu-start", 'H', parse_whole, 0, 600000, ARG(emu.start_ms)},
	{.name = "--emu-delay", .val = 'Y', .parse = parse_delay},
	{.name = "--emu-kill", .val = 'K', .parse = parse_kill},
	{"--emu-rate", 'P', parse_whole, 1, 100000000, ARG(emu.rate)},
	{"--emu-loss", 'l', parse_prob, 0, 0, ARG(emu.loss)},
	{"--emu-dup", 'd', parse_prob, 0, 0, ARG(emu.dup)},
	{"--emu-reorder", 'r', parse_prob, 0, 0, ARG(emu.reorder)},
};

/* The app's own options, before and after the emulator's in getopt_long's table. */
static const struct option app_opts[] = {
	{"config", required_argument, NULL, 'c'},
	{"stats-interval", required_argument, NULL, 's'},
	{"simd-bits", required_argument, NULL, 'B'},
	{"metrics", required_argument, NULL, 'M'},
	{"idle-us", required_argument, NULL, 'I'},
};
static const struct option app_opts_last[] = {
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'v'},
	{NULL, 0, NULL, 0},
};

#define N_OPTS (RTE_DIM(app_opts) + RTE_DIM(emu_opts) + RTE_DIM(app_opts_last))

/* getopt_long's table: the app's options and the emulator's, from emu_opts. */
static void
options_make(struct option *opts)
{
	size_t n = 0, i;

	for (i = 0; i < RTE_DIM(app_opts); i++)
		opts[n++] = app_opts[i];
	for (i = 0; i < RTE_DIM(emu_opts); i++)
		opts[n++] = (struct option){emu_opts[i].name + 2, required_argument, NULL,
					    emu_opts[i].val};
	for (i = 0; i < RTE_DIM(app_opts_last); i++)
		opts[n++] = app_opts_last[i];
}

static const struct emu_opt *
emu_opt_find(int val)
{
	size_t i;

	for (i = 0; i < RTE_DIM(emu_opts); i++)
		if (emu_opts[i].val == val)
			return &emu_opts[i];
	return NULL;
}

static void
args_defaults(struct ainftp_args *args)
{
	memset(args, 0, sizeof(*args));
	args->stats_interval_s = -1;
	args->simd_bits = 512;
	args->emu_lcore = -1;
	args->emu.chunks_per_step = EMU_DEFAULT_CHUNKS_PER_STEP;
	args->emu.timeout_us = EMU_DEFAULT_TIMEOUT_US;
	args->emu.seed = 1;
	args->emu.silent_worker = -1;
	args->emu.delay_worker = -1;
	args->emu.kill_worker = -1;
}

/*
 * One of the app's own options (or getopt_long's ':' or '?'): 0, -1 with one
 * line in err, or 1 when the command line is done with (--help, --version).
 */
static int
parse_app_option(int opt, const char *arg, char **argv, struct ainftp_args *args, char *err,
		 size_t errlen)
{
	unsigned long v;

	switch (opt) {
	case 'c':
		args->config_path = arg;
		return 0;
	case 's':
		if (parse_ulong("--stats-interval", arg, 0, STATS_INTERVAL_MAX, &v, err, errlen) !=
		    0)
			return -1;
		args->stats_interval_s = (int)v;
		return 0;
	case 'B':
		if (parse_ulong("--simd-bits", arg, 0, 512, &v, err, errlen) != 0)
			return -1;
		if (v != 0 && v != 256 && v != 512) {
			snprintf(err, errlen, "--simd-bits: %lu is not 0, 256 or 512", v);
			return -1;
		}
		args->simd_bits = (unsigned int)v;
		return 0;
	case 'I':
		if (parse_ulong("--idle-us", arg, 0, IDLE_US_MAX, &v, err, errlen) != 0)
			return -1;
		args->idle_us = (unsigned int)v;
		return 0;
	case 'M': {
		char why[96];

		if (ainftp_listen_parse(arg, &args->metrics_ipv4, &args->metrics_port, why,
					sizeof(why)) != 0) {
			snprintf(err, errlen, "--metrics: \"%.64s\": %s", arg, why);
			return -1;
		}
		args->metrics = 1;
		return 0;
	}
	case 'h':
		args->help = 1;
		return 1;
	case 'v':
		args->version = 1;
		return 1;
	case ':':
		snprintf(err, errlen, "%s: missing its argument", argv[optind - 1]);
		return -1;
	default:
		snprintf(err, errlen, "unknown option \"%s\" (see --help)", argv[optind - 1]);
		return -1;
	}
}

int
ainftp_args_parse(int argc, char **argv, struct ainftp_args *args, char *err, size_t errlen)
{
	struct option opts[N_OPTS];
	int opt;

	options_make(opts);
	args_defaults(args);
	optind = 1;
	opterr = 0; /* we print our own, one line */
	while ((opt = getopt_long(argc, argv, ":c:hv", opts, NULL)) != -1) {
		const struct emu_opt *eo = emu_opt_find(opt);
		int ret = eo != NULL ? eo->parse(eo, optarg, args, err, errlen)
				     : parse_app_option(opt, optarg, argv, args, err, errlen);

		if (ret != 0)
			return ret < 0 ? -1 : 0;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument \"%s\" (see --help)", argv[optind]);
		return -1;
	}
	if (args->config_path == NULL) {
		snprintf(err, errlen, "missing -c FILE: the cluster.json to run (see --help)");
		return -1;
	}
	return 0;
}
