/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_LOG_H
#define AINFTP_LOG_H

#include <rte_log.h>

/* ainftp's own log type: --log-level=ainftp:debug. Registered once at start-up. */
extern int ainftp_logtype;

#define AINFTP_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, ainftp_logtype, "ainftp: " fmt "\n", ##__VA_ARGS__)

#endif
