/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Numeric command-line values of the tools, parsed one way: the whole string
 * or nothing. A bad value gets one line on stderr naming the tool, the option,
 * the value and what it may be, e.g.
 *
 *   ainftp-bench: --workers: "abc" is not an integer in 1..64
 *   ainftp-impair: --loss: "nan" is not a number in [0, 100]
 *
 * and -1, after which the tool exits 2 (a bad command line).
 */
#ifndef AINFTP_OPT_H
#define AINFTP_OPT_H

#include <stdbool.h>
#include <stdio.h>

/*
 * A decimal integer in min..max: no sign, no blanks, no trailing characters,
 * nothing out of range. 0, or -1 after the message.
 */
int ainftp_opt_uint(const char *prog, const char *opt, const char *arg, unsigned long long min,
		    unsigned long long max, unsigned long long *out);

/*
 * A finite number in [min, max], or (min, max] where min_open: no NaN, no
 * infinity, no blanks, no trailing characters. 0, or -1 after the message.
 */
int ainftp_opt_real(const char *prog, const char *opt, const char *arg, double min, double max,
		    bool min_open, double *out);

/* The last lines of every tool's usage, for ainftp_opt_std's two options. */
#define AINFTP_OPT_STD_USAGE         \
	"  -h, --help   this text\n" \
	"  --version    the tool's name and version\n"

/*
 * --help and --version, answered alike by every tool before its own parsing, so
 * that neither can be taken for a path or a value: --help (or -h) anywhere
 * before a "--" prints usage(stdout) and exits 0; --version prints
 * "PROG VERSION" and exits 0. Returns when neither is there.
 */
void ainftp_opt_std(int argc, char **argv, const char *prog, void (*usage)(FILE *));

#endif
