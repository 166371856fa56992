/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_STATS_H
#define AINFTP_STATS_H

/*
 * The counters (ainftp_counters.h) and the appliance's state, rendered: the
 * JSON stats line, rte_telemetry's /ainftp/ commands and what /metrics serves.
 * The control lcore and the telemetry threads call these; nothing here is
 * called from an RX lcore.
 */

#include <stdio.h>

#include <jansson.h>

#include "ainftp_counters.h"

struct ainftp_runtime;

/* The stats line's object (a new reference): what /metrics serves too. */
json_t *ainftp_stats_json(const struct ainftp_runtime *rt, int final);

/*
 * One JSON object on one line: per-lcore and per-port counters plus the ports'
 * own ethdev counters. `final` marks the line printed at shutdown.
 */
int ainftp_stats_print(FILE *out, const struct ainftp_runtime *rt, int final);

/* Register /ainftp/stats and /ainftp/ports with rte_telemetry. */
int ainftp_stats_telemetry_register(const struct ainftp_runtime *rt);

/*
 * Two of its handlers, for tests: /ainftp/sentry, and /ainftp/readmit
 * ("JOB_ID,WORKER_ID": a dict {"readmit": "requested"}, or {"error": why}),
 * on the runtime given to ainftp_stats_telemetry_register.
 */
struct rte_tel_data;
/* What /ainftp/sentry shows of job index j (a new reference). */
json_t *ainftp_stats_sentry_json(const struct ainftp_runtime *rt, uint16_t j);
int ainftp_tel_sentry(const char *cmd, const char *params, struct rte_tel_data *d);
int ainftp_tel_readmit(const char *cmd, const char *params, struct rte_tel_data *d);

#endif
