/* SPDX-License-Identifier: BSD-3-Clause */
#include <rte_cycles.h>

#include "ainftp_ctrl.h"
#include "ainftp_log.h"
#include "ainftp_stats.h"

/* How often the control lcore wakes: bounds how late it sees a quit request. */
#define CTRL_TICK_US 10000

void
ainftp_ctrl_loop(struct ainftp_runtime *rt)
{
	uint64_t hz = rte_get_tsc_hz();
	uint64_t period = (uint64_t)rt->stats_interval_s * hz;
	uint64_t next = rte_get_tsc_cycles() + period;

	while (!ainftp_should_quit(rt)) {
		rte_delay_us_sleep(CTRL_TICK_US);
		if (period == 0 || rte_get_tsc_cycles() < next)
			continue;
		next += period;
		if (ainftp_stats_print(rt->stats_out, rt, 0) != 0)
			AINFTP_LOG(WARNING, "cannot write the stats line");
	}
}
