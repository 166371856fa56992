/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ainftp_args.h"

#define STATS_INTERVAL_MAX 3600

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
	       "  -h, --help              this text\n"
	       "  -v, --version           the version\n"
	       "\n"
	       "Example: %s -l 0-1 --no-huge -m 512 --no-pci --vdev=net_ring0 -- -c "
	       "config/loopback.json\n"
	       "Exit codes: 0 clean stop (SIGINT/SIGTERM), 1 system failure, 2 bad command line "
	       "or cluster.json.\n",
	       prog, prog);
}

static int
parse_interval(const char *s, int *out, char *err, size_t errlen)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > STATS_INTERVAL_MAX) {
		snprintf(err, errlen, "--stats-interval: \"%s\" is not a number of seconds (0..%d)",
			 s, STATS_INTERVAL_MAX);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int
ainftp_args_parse(int argc, char **argv, struct ainftp_args *args, char *err, size_t errlen)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"stats-interval", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'v'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	memset(args, 0, sizeof(*args));
	args->stats_interval_s = -1;
	optind = 1;
	opterr = 0; /* we print our own, one line */
	while ((opt = getopt_long(argc, argv, ":c:hv", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			args->config_path = optarg;
			break;
		case 's':
			if (parse_interval(optarg, &args->stats_interval_s, err, errlen) != 0)
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
