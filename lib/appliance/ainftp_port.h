/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_PORT_H
#define AINFTP_PORT_H

/*
 * Bring the config's ports up: find or hot-plug each device, check the config
 * against what it offers, create one mbuf pool per NUMA socket sized from the
 * config, configure queues and start. Ports of any ethdev driver.
 */

#include <stddef.h>

#include "ainftp_runtime.h"

/* Failures of ainftp_ports_setup: the config asks for what the device lacks, or the system failed.
 */
#define AINFTP_ERR_CONFIG (-2)
#define AINFTP_ERR_SYSTEM (-1)

/* Mbufs the pool on a socket needs for the ports and lcores there. */
unsigned int ainftp_pool_size(const struct ainftp_runtime *rt, int socket);

/* 0, or AINFTP_ERR_* with one line in err. Ports already up stay up: call ainftp_ports_close. */
int ainftp_ports_setup(struct ainftp_runtime *rt, char *err, size_t errlen);

/* Stop and close every port, then free the pools. Safe on a partial setup. */
void ainftp_ports_close(struct ainftp_runtime *rt);

#endif
