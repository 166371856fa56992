/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_LCORE_H
#define AINFTP_LCORE_H

/*
 * Lcore roles from the config: which lcore polls which (port, queue), which one
 * is the control lcore, and the TX queue each of them owns on every port
 * (RX lcores in lcore order take queues 0..n-1, the control lcore takes n).
 */

#include <stddef.h>

#include "ainftp_runtime.h"

/* The appliance's own roles: polling its queues, and the control lcore. */
extern const struct ainftp_role ainftp_role_rx;
extern const struct ainftp_role ainftp_role_control;

/* The config's lcores against the EAL core list: 0, or -1 with one line in err. */
int ainftp_lcores_check(const struct ainftp_config *cfg, char *err, size_t errlen);

/* Roles and per-lcore RX contexts, each on its lcore's socket. Ports must be up. */
int ainftp_lcores_setup(struct ainftp_runtime *rt, char *err, size_t errlen);

/* Run every role (the main lcore's too) until quit; returns when all have stopped. */
void ainftp_lcores_run(struct ainftp_runtime *rt);

void ainftp_lcores_free(struct ainftp_runtime *rt);

#endif
