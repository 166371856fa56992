/* SPDX-License-Identifier: BSD-3-Clause */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ainftp_opt.h"

int
ainftp_opt_uint(const char *prog, const char *opt, const char *arg, unsigned long long min,
		unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	char *end = NULL;

	/* strtoull skips blanks and takes "-1" as a huge number: digits only. */
	if (isdigit((unsigned char)arg[0])) {
		errno = 0;
		v = strtoull(arg, &end, 10);
	}
	if (end == NULL || errno != 0 || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "%s: %s: \"%s\" is not an integer in %llu..%llu\n", prog, opt, arg,
			min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int
ainftp_opt_real(const char *prog, const char *opt, const char *arg, double min, double max,
		bool min_open, double *out)
{
	double v = NAN;
	char *end = NULL;

	if (arg[0] != '\0' && !isspace((unsigned char)arg[0])) {
		errno = 0;
		v = strtod(arg, &end);
	}
	/* NaN fails every comparison; ERANGE is an underflow or overflow. */
	if (end == NULL || errno != 0 || *end != '\0' || !isfinite(v) ||
	    !(min_open ? v > min : v >= min) || !(v <= max)) {
		fprintf(stderr, "%s: %s: \"%s\" is not a number in %c%g, %g]\n", prog, opt, arg,
			min_open ? '(' : '[', min, max);
		return -1;
	}
	*out = v;
	return 0;
}

void
ainftp_opt_std(int argc, char **argv, const char *prog, void (*usage)(FILE *))
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("%s %s\n", prog, AINFTP_VERSION);
			exit(0);
		}
	}
}
