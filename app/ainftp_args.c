/* SPDX-License-Identifier: BSD-3-Clause */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ainftp_args.h"
#include "ainftp_config.h"

#define STATS_INTERVAL_MAX 3600
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
ainftp_args_usage(const char *prog)
{
	printf("Usage: %s [EAL options] -- -c FILE [--stats-interval S]\n"
	       "\n"
	       "  -c, --config FILE       cluster.json: ports, lcores, jobs (config/README.md)\n"
	       "  --stats-interval S      print the stats line every S seconds (0: never);\n"
	       "                          overrides telemetry.stats_interval_s\n"
	       "  --simd-bits N           widest SIMD kernels: 512 (default), 256 or 0 (scalar)\n"
	       "  --metrics [ADDR:]PORT   serve Prometheus text at http://ADDR:PORT/metrics\n"
	       "                          (ADDR 127.0.0.1 when left out; PORT 0: any free one);\n"
	       "                          overrides telemetry.prometheus\n"
	       "  -h, --help              this text\n"
	       "  -v, --version           the version\n"
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
	       "Example: %s -l 0-1 --no-huge -m 512 --no-pci --vdev=net_ring0 -- -c "
	       "config/loopback.json\n"
	       "Exit codes: 0 clean stop (SIGINT/SIGTERM), 1 system failure, 2 bad command line "
	       "or cluster.json, 3 emulated workers saw a wrong or missing result.\n",
	       prog, prog);
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

static int
parse_emu_option(int opt, const char *arg, struct ainftp_args *args, char *err, size_t errlen)
{
	struct ainftp_emu_conf *e = &args->emu;
	unsigned long v = 0;
	int ret = 0;

	switch (opt) {
	case 'E':
		ret = parse_ulong("--emulate", arg, 1, UINT32_MAX, &v, err, errlen);
		e->chunks = (uint32_t)v;
		args->emulate = 1;
		break;
	case 'J':
		ret = parse_ulong("--emu-job", arg, 0, AINFTP_MAX_JOBS - 1, &v, err, errlen);
		e->job_idx = (uint16_t)v;
		break;
	case 'L':
		ret = parse_ulong("--emu-lcore", arg, 0, RTE_MAX_LCORE - 1, &v, err, errlen);
		args->emu_lcore = (int)v;
		break;
	case 'W':
		ret = parse_ulong("--emu-window", arg, 1, 65536, &v, err, errlen);
		e->window = (uint32_t)v;
		break;
	case 'S':
		ret = parse_ulong("--emu-step", arg, 1, UINT32_MAX, &v, err, errlen);
		e->chunks_per_step = (uint32_t)v;
		break;
	case 'T':
		ret = parse_ulong("--emu-timeout", arg, 100, 10000000, &v, err, errlen);
		e->timeout_us = (uint32_t)v;
		break;
	case 'R':
		ret = parse_ulong("--emu-seed", arg, 0, ULONG_MAX, &v, err, errlen);
		e->seed = v;
		break;
	case 'Q':
		ret = parse_ulong("--emu-silent", arg, 0, AINFTP_MAX_WORKERS - 1, &v, err, errlen);
		e->silent_worker = (int)v;
		break;
	case 'G':
		ret = parse_ulong("--emu-linger", arg, 0, 600000, &v, err, errlen);
		e->linger_ms = (uint32_t)v;
		break;
	case 'H':
		ret = parse_ulong("--emu-start", arg, 0, 600000, &v, err, errlen);
		e->start_ms = (uint32_t)v;
		break;
	case 'Y': {
		static const unsigned long min[] = {0, 1, 0},
					   max[] = {AINFTP_MAX_WORKERS - 1, 600000, UINT32_MAX};
		unsigned long f[3] = {0, 0, 0};

		ret = parse_fields("--emu-delay", "W:MS[:FROM]", arg, 2, 3, min, max, f, err,
				   errlen);
		e->delay_worker = (int)f[0];
		e->delay_ms = (uint32_t)f[1];
		e->delay_from = (uint32_t)f[2];
		break;
	}
	case 'K': {
		static const unsigned long min[] = {0, 0, 1},
					   max[] = {AINFTP_MAX_WORKERS - 1, UINT32_MAX, 600000};
		unsigned long f[3] = {0, 0, 0};

		ret = parse_fields("--emu-kill", "W:AT_CHUNK:MS", arg, 3, 3, min, max, f, err,
				   errlen);
		e->kill_worker = (int)f[0];
		e->kill_at = (uint32_t)f[1];
		e->kill_ms = (uint32_t)f[2];
		break;
	}
	case 'P':
		ret = parse_ulong("--emu-rate", arg, 1, 100000000, &v, err, errlen);
		e->rate = (uint32_t)v;
		break;
	case 'l':
		return parse_probability("--emu-loss", arg, &e->loss, err, errlen);
	case 'd':
		return parse_probability("--emu-dup", arg, &e->dup, err, errlen);
	case 'r':
		return parse_probability("--emu-reorder", arg, &e->reorder, err, errlen);
	}
	return ret;
}

int
ainftp_args_parse(int argc, char **argv, struct ainftp_args *args, char *err, size_t errlen)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"stats-interval", required_argument, NULL, 's'},
		{"simd-bits", required_argument, NULL, 'B'},
		{"metrics", required_argument, NULL, 'M'},
		{"emulate", required_argument, NULL, 'E'},
		{"emu-job", required_argument, NULL, 'J'},
		{"emu-lcore", required_argument, NULL, 'L'},
		{"emu-window", required_argument, NULL, 'W'},
		{"emu-step", required_argument, NULL, 'S'},
		{"emu-timeout", required_argument, NULL, 'T'},
		{"emu-seed", required_argument, NULL, 'R'},
		{"emu-silent", required_argument, NULL, 'Q'},
		{"emu-linger", required_argument, NULL, 'G'},
		{"emu-start", required_argument, NULL, 'H'},
		{"emu-delay", required_argument, NULL, 'Y'},
		{"emu-kill", required_argument, NULL, 'K'},
		{"emu-rate", required_argument, NULL, 'P'},
		{"emu-loss", required_argument, NULL, 'l'},
		{"emu-dup", required_argument, NULL, 'd'},
		{"emu-reorder", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'v'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	unsigned long v;

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
	optind = 1;
	opterr = 0; /* we print our own, one line */
	while ((opt = getopt_long(argc, argv, ":c:hv", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			args->config_path = optarg;
			break;
		case 's':
			if (parse_ulong("--stats-interval", optarg, 0, STATS_INTERVAL_MAX, &v, err,
					errlen) != 0)
				return -1;
			args->stats_interval_s = (int)v;
			break;
		case 'B':
			if (parse_ulong("--simd-bits", optarg, 0, 512, &v, err, errlen) != 0)
				return -1;
			if (v != 0 && v != 256 && v != 512) {
				snprintf(err, errlen, "--simd-bits: %lu is not 0, 256 or 512", v);
				return -1;
			}
			args->simd_bits = (unsigned int)v;
			break;
		case 'M': {
			char why[96];

			if (ainftp_listen_parse(optarg, &args->metrics_ipv4, &args->metrics_port,
						why, sizeof(why)) != 0) {
				snprintf(err, errlen, "--metrics: \"%.64s\": %s", optarg, why);
				return -1;
			}
			args->metrics = 1;
			break;
		}
		case 'E':
		case 'J':
		case 'L':
		case 'W':
		case 'S':
		case 'T':
		case 'R':
		case 'Q':
		case 'G':
		case 'H':
		case 'Y':
		case 'K':
		case 'P':
		case 'l':
		case 'd':
		case 'r':
			if (parse_emu_option(opt, optarg, args, err, errlen) != 0)
				return -1;
			break;
		case 'h':
			args->help = 1;
			return 0;
		case 'v':
			args->version = 1;
			return 0;
		case ':':
			snprintf(err, errlen, "%s: missing its argument", argv[optind - 1]);
			return -1;
		default:
			snprintf(err, errlen, "unknown option \"%s\" (see --help)",
				 argv[optind - 1]);
			return -1;
		}
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
