/* SPDX-License-Identifier: BSD-3-Clause */
/* The host backend: the arena as mapped, read by a local process (ainftp-sink-read). */
#include <rte_atomic.h>

#include "ainftp_sink_ops.h"

static int
host_open(struct ainftp_sink *s __rte_unused, char *why __rte_unused, size_t len __rte_unused)
{
	return 0;
}

static void
host_wmb(const struct ainftp_sink *s __rte_unused)
{
	/* sfence on x86: the memcpy may have used non-temporal stores. */
	rte_wmb();
}

static void
host_close(struct ainftp_sink *s __rte_unused)
{
}

const struct ainftp_sink_ops ainftp_sink_host_ops = {
	.name = "host",
	.open = host_open,
	.wmb = host_wmb,
	.ring = ainftp_sink_ring_host,
	.close = host_close,
};
