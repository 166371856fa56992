/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>

#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_malloc.h>

#include "ainftp_ctrl.h"
#include "ainftp_dp.h"
#include "ainftp_lcore.h"
#include "ainftp_log.h"
#include "ainftp_members.h"
#include "ainftp_rx.h"
#include "ainftp_sink_ops.h"
#include "ainftp_stats.h"

static int
lcore_enabled(const struct ainftp_config *cfg, unsigned int lcore, const char *path, char *err,
	      size_t errlen)
{
	if (lcore < RTE_MAX_LCORE && rte_lcore_is_enabled(lcore))
		return 0;
	snprintf(err, errlen, "%s: %s: lcore %u is not in the EAL core list (-l/-c/--lcores)",
		 cfg->source, path, lcore);
	return -1;
}

int
ainftp_lcores_check(const struct ainftp_config *cfg, char *err, size_t errlen)
{
	char path[64];
	uint16_t i;

	if (lcore_enabled(cfg, cfg->control_lcore, "lcores.control", err, errlen) != 0)
		return -1;
	for (i = 0; i < cfg->n_rx; i++) {
		snprintf(path, sizeof(path), "lcores.rx[%u].lcore", i);
		if (lcore_enabled(cfg, cfg->rx[i].lcore, path, err, errlen) != 0)
			return -1;
	}
	return 0;
}

static struct ainftp_rx_ctx *
rx_ctx_create(struct ainftp_runtime *rt, unsigned int lcore)
{
	const struct ainftp_config *cfg = rt->cfg;
	struct rte_ether_addr macs[AINFTP_MAX_PORTS];
	struct ainftp_rx_ctx *ctx;
	/* Its TX queue on every port: its rank among the RX lcores. */
	uint16_t i, txq = (uint16_t)ainftp_config_rx_lcore_rank(cfg, lcore);

	ctx = rte_zmalloc_socket("ainftp_rx_ctx", sizeof(*ctx), RTE_CACHE_LINE_SIZE,
				 (int)rte_lcore_to_socket_id(lcore));
	if (ctx == NULL)
		return NULL;
	ctx->lcore = lcore;
	ctx->stats = &ainftp_stats[lcore];
	ctx->n_ports = rt->n_ports;
	for (i = 0; i < rt->n_ports; i++) {
		macs[i] = rt->ports[i].mac;
		ctx->multiseg[i] = rt->ports[i].multiseg;
		ctx->txq[i].port_id = rt->ports[i].port_id;
		ctx->txq[i].queue = txq;
	}
	for (i = 0; i < cfg->n_rx; i++) {
		if (cfg->rx[i].lcore != lcore)
			continue;
		ctx->rxq[ctx->n_rxq].port_idx = cfg->rx[i].port;
		ctx->rxq[ctx->n_rxq].port_id = rt->ports[cfg->rx[i].port].port_id;
		ctx->rxq[ctx->n_rxq].queue = cfg->rx[i].queue;
		ctx->n_rxq++;
	}
	ainftp_net_init(&ctx->net, cfg, macs, rt->n_ports);
	for (i = 0; i < rt->n_ports; i++)
		ctx->net.lanes[i] = rt->ports[i].n_rxq;
	if (ainftp_dp_init(ctx, rt) != 0) {
		ainftp_dp_free(ctx);
		rte_free(ctx);
		return NULL;
	}
	return ctx;
}

int
ainftp_lcores_setup(struct ainftp_runtime *rt, char *err, size_t errlen)
{
	const struct ainftp_config *cfg = rt->cfg;
	unsigned int lcore;
	uint16_t i;

	rt->role[cfg->control_lcore] = &ainftp_role_control;
	for (i = 0; i < cfg->n_rx; i++)
		rt->role[cfg->rx[i].lcore] = &ainftp_role_rx;
	/* Before the RX contexts: their jobs read the published quorum. */
	rt->members = ainftp_members_create(rt);
	if (rt->members == NULL) {
		snprintf(err, errlen, "cannot allocate the quorum snapshots and their RCU state");
		return -1;
	}
	/* Before the RX contexts too: their jobs point into the arena. */
	if (ainftp_sink_open(cfg, &rt->sink, err, errlen) != 0)
		return -1;
	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		if (rt->role[lcore] != &ainftp_role_rx)
			continue;
		rt->rx[lcore] = rx_ctx_create(rt, lcore);
		if (rt->rx[lcore] == NULL) {
			snprintf(err, errlen,
				 "lcore %u: cannot allocate its RX context and slots (more memory: "
				 "-m, hugepages; or fewer slots)",
				 lcore);
			return -1;
		}
		if (rte_eth_dev_socket_id(rt->rx[lcore]->rxq[0].port_id) >= 0 &&
		    rte_eth_dev_socket_id(rt->rx[lcore]->rxq[0].port_id) !=
			    (int)rte_lcore_to_socket_id(lcore))
			AINFTP_LOG(WARNING, "lcore %u polls a port on another NUMA socket", lcore);
	}
	return 0;
}

static void
rx_loop(struct ainftp_runtime *rt, unsigned int lcore)
{
	AINFTP_LOG(INFO, "lcore %u: RX on %u queue(s)", lcore, rt->rx[lcore]->n_rxq);
	ainftp_rx_loop(rt->rx[lcore], rt);
}

/* The control lcore: ticks of the control plane, and the stats line every stats interval. */
static void
control_loop(struct ainftp_runtime *rt, unsigned int lcore)
{
	uint64_t period = (uint64_t)rt->stats_interval_s * rte_get_tsc_hz();
	uint64_t next = rte_get_tsc_cycles() + period, now;

	AINFTP_LOG(INFO, "lcore %u: control", lcore);
	while (!ainftp_should_quit(rt)) {
		rte_delay_us_sleep(AINFTP_CTRL_TICK_US);
		now = rte_get_tsc_cycles();
		ainftp_ctrl_tick(rt, now);
		if (period == 0 || now < next)
			continue;
		next += period;
		if (ainftp_stats_print(rt->stats_out, rt, 0) != 0)
			AINFTP_LOG(WARNING, "cannot write the stats line");
	}
	/* Acks that came in since the last tick: the final stats line shows them. */
	if (rt->ctrl != NULL)
		ainftp_ctrl_acks_drain(rt);
}

const struct ainftp_role ainftp_role_rx = {.name = "rx", .loop = rx_loop};
const struct ainftp_role ainftp_role_control = {.name = "control", .loop = control_loop};

static int
lcore_main(void *arg)
{
	struct ainftp_runtime *rt = arg;
	unsigned int lcore = rte_lcore_id();

	if (rt->role[lcore] != NULL) {
		rt->role[lcore]->loop(rt, lcore);
		return 0;
	}
	/* The main lcore without a role just waits for the signal. */
	while (!ainftp_should_quit(rt))
		rte_delay_us_sleep(10 * 1000);
	return 0;
}

void
ainftp_lcores_run(struct ainftp_runtime *rt)
{
	unsigned int lcore;

	RTE_LCORE_FOREACH_WORKER(lcore)
	if (rt->role[lcore] != NULL)
		rte_eal_remote_launch(lcore_main, rt, lcore);
	lcore_main(rt);
	rte_eal_mp_wait_lcore();
}

void
ainftp_lcores_free(struct ainftp_runtime *rt)
{
	unsigned int lcore;

	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		if (rt->rx[lcore] == NULL)
			continue;
		ainftp_dp_free(rt->rx[lcore]);
		rte_free(rt->rx[lcore]);
		rt->rx[lcore] = NULL;
	}
	ainftp_members_free(rt->members);
	rt->members = NULL;
	ainftp_sink_close(rt->sink);
	rt->sink = NULL;
}
