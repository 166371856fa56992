/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_ARGS_H
#define AINFTP_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "ainftp_emu.h"

/* The application's own options, after EAL's and a "--". */
struct ainftp_args {
	const char *config_path;
	int stats_interval_s; /* -1: as cluster.json says */
	unsigned int simd_bits;
	unsigned int idle_us; /* --idle-us: 0, RX lcores spin */
	int metrics; /* --metrics given: serve /metrics there, whatever cluster.json says */
	uint32_t metrics_ipv4;
	uint16_t metrics_port;
	int help;
	int version;
	int emulate;   /* run emulated workers: emu holds how */
	int emu_lcore; /* -1: the last lcore of the EAL list */
	struct ainftp_emu_conf emu;
};

/* The index of the "--" that ends EAL's options, or argc when there is none. */
int ainftp_args_split(int argc, char **argv);

/* 0, or -1 with one line in err. argv[0] is the program name. */
int ainftp_args_parse(int argc, char **argv, struct ainftp_args *args, char *err, size_t errlen);

/* The usage on stdout (--help). */
void ainftp_args_usage(void);

#endif
