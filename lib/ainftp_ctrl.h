/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_CTRL_H
#define AINFTP_CTRL_H

/*
 * The control lcore: everything that is not per-packet. Today it prints the
 * stats line every stats interval; heartbeats, peer ranking and the sentry
 * join it here, off the RX lcores' path.
 */

#include "ainftp_runtime.h"

void ainftp_ctrl_loop(struct ainftp_runtime *rt);

#endif
