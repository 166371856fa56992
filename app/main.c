/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ainftp-app: options and cluster.json first (so mistakes are reported before
 * EAL takes hugepages and devices), then EAL, ports, lcores; run until SIGINT
 * or SIGTERM; then tear everything down and print the final stats.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>

#include "ainftp_args.h"
#include "ainftp_config.h"
#include "ainftp_ctrl.h"
#include "ainftp_emu.h"
#include "ainftp_lcore.h"
#include "ainftp_log.h"
#include "ainftp_port.h"
#include "ainftp_prom.h"
#include "ainftp_runtime.h"
#include "ainftp_stats.h"

#define EXIT_SYSTEM 1
#define EXIT_EMU_FAILED 3 /* emulated workers saw a wrong or missing result */

static struct ainftp_config cfg;
static struct ainftp_runtime rt;
static struct ainftp_args args;

static void
on_signal(int sig __rte_unused)
{
	ainftp_request_quit(&rt);
}

/* Worker keys are secrets: say so when others can read the file that holds them. */
static void
warn_if_keys_readable(const char *path)
{
	struct stat st;
	uint16_t j;
	int keys = 0;

	for (j = 0; j < cfg.n_jobs; j++)
		keys |= cfg.jobs[j].auth;
	if (keys && stat(path, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0)
		fprintf(stderr,
			"%s: warning: holds worker keys and is readable by group or "
			"others (chmod 600)\n",
			path);
}

/* Options after "--" and the config: exits on anything wrong, before EAL starts. */
static void
load_config(int argc, char **argv, int split)
{
	char err[512];
	int n = argc - split;
	char **opts = argv + split;

	/* getopt wants argv[0] in front of the options: the "--" slot serves. A lone
	 * --help or --version needs no "--". */
	if (split == argc) {
		n = argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
				  strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-v") == 0)
			    ? 2
			    : 1;
		opts = argv;
	}
	if (ainftp_args_parse(n, opts, &args, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", argv[0], err);
		exit(AINFTP_EXIT_CONFIG);
	}
	if (args.help) {
		ainftp_args_usage();
		exit(EXIT_SUCCESS);
	}
	if (args.version) {
		printf("ainftp-app %s\n", AINFTP_VERSION);
		exit(EXIT_SUCCESS);
	}
	if (ainftp_config_load(args.config_path, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		exit(AINFTP_EXIT_CONFIG);
	}
	warn_if_keys_readable(args.config_path);
	ainftp_config_box_view(&cfg);
	rt.cfg = &cfg;
	rt.stats_interval_s =
		args.stats_interval_s >= 0 ? (uint32_t)args.stats_interval_s : cfg.stats_interval_s;
	rt.stats_out = stdout;
	rt.simd_bits = args.simd_bits;
	rt.idle_us = args.idle_us;
	if (args.metrics) {
		cfg.prometheus = true;
		cfg.prometheus_ipv4 = args.metrics_ipv4;
		cfg.prometheus_port = args.metrics_port;
	}
}

static void
eal_init(int argc, char **argv)
{
	if (rte_eal_init(argc, argv) >= 0)
		return;
	fprintf(stderr, "%s: EAL initialisation failed: %s\n", argv[0], rte_strerror(rte_errno));
	if (rte_errno == ENOMEM)
		fprintf(stderr,
			"%s: no hugepages? Reserve some (dpdk-hugepages.py -p 2M "
			"--setup 1G) or run with --no-huge -m 512\n",
			argv[0]);
	exit(EXIT_SYSTEM);
}

/* The last lcore of the EAL list: where emulated workers run unless told otherwise. */
static unsigned int
last_lcore(void)
{
	unsigned int lcore, last = rte_get_main_lcore();

	RTE_LCORE_FOREACH(lcore)
	last = lcore;
	return last;
}

static int
emu_attach(char *err, size_t errlen)
{
	if (!args.emulate)
		return 0;
	args.emu.lcore = args.emu_lcore >= 0 ? (unsigned int)args.emu_lcore : last_lcore();
	return ainftp_emu_attach(&rt, &args.emu, err, errlen);
}

static json_t *
metrics_source(void *arg)
{
	return ainftp_stats_json(arg, 0);
}

/*
 * /metrics from a control thread of EAL's (on the control CPUs, never on an
 * RX lcore's core). NULL when not asked for; a port that cannot be had is a
 * failure to start, not a warning: the operator asked for it.
 */
static struct ainftp_prom *
metrics_start(pthread_t *tid, char *err, size_t errlen)
{
	char ip[INET_ADDRSTRLEN];
	struct ainftp_prom *p;
	int ret;

	if (!cfg.prometheus)
		return NULL;
	p = ainftp_prom_open(cfg.prometheus_ipv4, cfg.prometheus_port, metrics_source, &rt, err,
			     errlen);
	if (p == NULL)
		return NULL;
	ret = rte_ctrl_thread_create(tid, "ainftp-metrics", NULL, ainftp_prom_serve, p);
	if (ret != 0) {
		snprintf(err, errlen, "metrics: cannot start its thread: %s", strerror(-ret));
		ainftp_prom_close(p);
		return NULL;
	}
	inet_ntop(AF_INET, &cfg.prometheus_ipv4, ip, sizeof(ip));
	AINFTP_LOG(INFO, "metrics: http://%s:%u/metrics", ip, ainftp_prom_port(p));
	return p;
}

static void
metrics_stop(struct ainftp_prom *p, pthread_t tid)
{
	if (p == NULL)
		return;
	ainftp_prom_stop(p);
	pthread_join(tid, NULL);
	ainftp_prom_close(p);
}

/* Everything after EAL: a failure here tears down what was built. */

/* Where this box is in a sharded or hierarchical job (what a failed join is compared to). */
static void
log_place(const struct ainftp_job_conf *j)
{
	char spine[INET_ADDRSTRLEN];

	if (j->shard_count > 1)
		AINFTP_LOG(INFO, "job %u: shard %u of %u (docs/PROTOCOL.md, \"Shards\")", j->id,
			   j->shard_index, j->shard_count);
	inet_ntop(AF_INET, &j->spine, spine, sizeof(spine));
	if (j->role == AINFTP_ROLE_LEAF)
		AINFTP_LOG(INFO, "job %u: leaf %u of %u, %u worker(s), spine %s (docs/SCALEOUT.md)",
			   j->id, j->leaf_index, j->n_leaves, j->n_workers, spine);
	else if (j->role == AINFTP_ROLE_SPINE)
		AINFTP_LOG(INFO, "job %u: spine of %u leaves (docs/SCALEOUT.md)", j->id,
			   j->n_leaves);
}

static int
run(void)
{
	char err[512];
	struct ainftp_prom *metrics;
	pthread_t metrics_tid;
	int ret;

	if (ainftp_lcores_check(&cfg, err, sizeof(err)) != 0 || emu_attach(err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return AINFTP_EXIT_CONFIG;
	}
	ret = ainftp_ports_setup(&rt, err, sizeof(err));
	if (ret == 0)
		ret = ainftp_lcores_setup(&rt, err, sizeof(err)) == 0 &&
				      ainftp_ctrl_setup(&rt, err, sizeof(err)) == 0
			      ? 0
			      : AINFTP_ERR_SYSTEM;
	if (ret != 0) {
		fprintf(stderr, "%s\n", err);
		return ret == AINFTP_ERR_CONFIG ? AINFTP_EXIT_CONFIG : EXIT_SYSTEM;
	}
	if (cfg.telemetry && ainftp_stats_telemetry_register(&rt) != 0)
		AINFTP_LOG(WARNING, "telemetry commands not registered");
	metrics = metrics_start(&metrics_tid, err, sizeof(err));
	if (metrics == NULL && cfg.prometheus) {
		fprintf(stderr, "%s\n", err);
		return EXIT_SYSTEM;
	}
	AINFTP_LOG(INFO, "running: %u port(s), %u RX lcore(s), control on lcore %u, %u job(s)",
		   rt.n_ports, ainftp_config_rx_lcore_count(&cfg), cfg.control_lcore, cfg.n_jobs);
	/* Where this box is in each sharded job: what a worker's failed join is compared to. */
	for (uint16_t j = 0; j < cfg.n_jobs; j++)
		log_place(&cfg.jobs[j]);
	ainftp_lcores_run(&rt);
	AINFTP_LOG(INFO, "stopping");
	metrics_stop(metrics, metrics_tid);
	return EXIT_SUCCESS;
}

int
main(int argc, char **argv)
{
	int split = ainftp_args_split(argc, argv);
	int ret;

	load_config(argc, argv, split);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	eal_init(argc, argv);
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		rt.start_tsc = rte_get_tsc_cycles();
		rt.start_time = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
	}

	ret = run();
	if (ret == EXIT_SUCCESS) {
		/* Acks the RX lcores took after the control lcore's last look: every lcore has
		 * stopped, so this thread may consume their rings now. */
		ainftp_ctrl_acks_drain(&rt);
		ainftp_stats_print(rt.stats_out, &rt, 1);
	}
	if (ret == EXIT_SUCCESS && rt.emu != NULL) {
		struct ainftp_emu_report rep;

		if (!ainftp_emu_report(&rt, &rep, stdout))
			ret = EXIT_EMU_FAILED;
	}
	ainftp_lcores_free(&rt);
	ainftp_ports_close(&rt);
	if (rt.emu != NULL)
		ainftp_emu_detach(&rt);
	/* Last: heartbeats still in a port's or the emulator's rings go back to its pool. */
	ainftp_ctrl_free(&rt);
	rte_eal_cleanup();
	return ret;
}
