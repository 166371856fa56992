/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <jansson.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <rte_telemetry.h>

#include "ainftp_ctrl.h"
#include "ainftp_dp_view.h"
#include "ainftp_quorum.h"
#include "ainftp_runtime.h"
#include "ainftp_sink_ops.h"
#include "ainftp_stats.h"
#include "ainftp_swarm.h"

/* Telemetry callbacks take no argument: the runtime they report on. */
static const struct ainftp_runtime *telemetry_rt;

static uint64_t
drops_total(const struct ainftp_port_ctr *c)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < AINFTP_DROP_MAX; i++)
		n += c->drops[i];
	for (i = 1; i < AINFTP_BAD_MAX; i++)
		n += c->proto_drops[i];
	return n;
}

/* Counters as a JSON object; drop reasons that never happened are left out. */
static json_t *
ctr_json(const struct ainftp_port_ctr *c)
{
	json_t *o = json_object(), *drops = json_object();
	unsigned int i;

	json_object_set_new(o, "rx_pkts", json_integer((json_int_t)c->rx_pkts));
	json_object_set_new(o, "rx_bytes", json_integer((json_int_t)c->rx_bytes));
	json_object_set_new(o, "tx_pkts", json_integer((json_int_t)c->tx_pkts));
	json_object_set_new(o, "tx_bytes", json_integer((json_int_t)c->tx_bytes));
	json_object_set_new(o, "arp_replies", json_integer((json_int_t)c->arp_replies));
	json_object_set_new(o, "icmp_replies", json_integer((json_int_t)c->icmp_replies));
	json_object_set_new(o, "arp_learnt", json_integer((json_int_t)c->arp_learnt));
	json_object_set_new(o, "data_pkts", json_integer((json_int_t)c->data_pkts));
	json_object_set_new(o, "data_answered", json_integer((json_int_t)c->data_answered));
	json_object_set_new(o, "chunks_done", json_integer((json_int_t)c->chunks_done));
	json_object_set_new(o, "chunks_partial", json_integer((json_int_t)c->chunks_partial));
	json_object_set_new(o, "chunks_abandoned", json_integer((json_int_t)c->chunks_abandoned));
	json_object_set_new(o, "chunks_early", json_integer((json_int_t)c->chunks_early));
	json_object_set_new(o, "probes", json_integer((json_int_t)c->probes));
	json_object_set_new(o, "states_sent", json_integer((json_int_t)c->states_sent));
	json_object_set_new(o, "hellos", json_integer((json_int_t)c->hellos));
	json_object_set_new(o, "results_sent", json_integer((json_int_t)c->results_sent));
	json_object_set_new(o, "results_resent", json_integer((json_int_t)c->results_resent));
	json_object_set_new(o, "overflows", json_integer((json_int_t)c->overflows));
	json_object_set_new(o, "heartbeats_sent", json_integer((json_int_t)c->heartbeats_sent));
	json_object_set_new(o, "heartbeat_acks", json_integer((json_int_t)c->heartbeat_acks));
	json_object_set_new(o, "spine_results", json_integer((json_int_t)c->spine_results));
	json_object_set_new(o, "spine_heartbeats", json_integer((json_int_t)c->spine_heartbeats));
	json_object_set_new(o, "spine_states", json_integer((json_int_t)c->spine_states));
	json_object_set_new(o, "drops_total", json_integer((json_int_t)drops_total(c)));
	/* Frames in no outcome, or in two: 0 unless the data path miscounts (a bug). */
	json_object_set_new(o, "unaccounted", json_integer(ainftp_counters_unaccounted(c)));
	for (i = 0; i < AINFTP_DROP_MAX; i++)
		if (c->drops[i] != 0)
			json_object_set_new(drops, ainftp_drop_names[i],
					    json_integer((json_int_t)c->drops[i]));
	/* Aggregation packets refused, by the protocol's own reason names. */
	for (i = 1; i < AINFTP_BAD_MAX; i++)
		if (c->proto_drops[i] != 0)
			json_object_set_new(drops, ainftp_bad_names[i],
					    json_integer((json_int_t)c->proto_drops[i]));
	json_object_set_new(o, "drops", drops);
	return o;
}

static json_t *
port_json(const struct ainftp_runtime *rt, uint16_t idx)
{
	const struct ainftp_port *p = &rt->ports[idx];
	struct ainftp_port_ctr sum;
	struct rte_eth_stats hw;
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	json_t *o;

	ainftp_counters_port_sum(idx, &sum);
	o = ctr_json(&sum);
	rte_ether_format_addr(mac, sizeof(mac), &p->mac);
	json_object_set_new(o, "port", json_integer(idx));
	json_object_set_new(o, "name", json_string(p->name));
	json_object_set_new(o, "mac", json_string(mac));
	json_object_set_new(o, "socket", json_integer(p->socket));
	json_object_set_new(o, "rx_queues", json_integer(p->n_rxq));
	json_object_set_new(o, "tx_queues", json_integer(p->n_txq));
	/* What the device itself counted: misses and errors never reach an lcore. */
	if (p->started && rte_eth_stats_get(p->port_id, &hw) == 0) {
		json_t *dev = json_object();

		json_object_set_new(dev, "ipackets", json_integer((json_int_t)hw.ipackets));
		json_object_set_new(dev, "opackets", json_integer((json_int_t)hw.opackets));
		json_object_set_new(dev, "imissed", json_integer((json_int_t)hw.imissed));
		json_object_set_new(dev, "ierrors", json_integer((json_int_t)hw.ierrors));
		json_object_set_new(dev, "oerrors", json_integer((json_int_t)hw.oerrors));
		json_object_set_new(dev, "rx_nombuf", json_integer((json_int_t)hw.rx_nombuf));
		json_object_set_new(o, "device", dev);
	}
	return o;
}

static json_t *
lcore_json(const struct ainftp_runtime *rt, unsigned int lcore)
{
	const struct ainftp_lcore_stats *s = &ainftp_stats[lcore];
	struct ainftp_port_ctr sum;
	uint16_t i;
	json_t *o;

	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < rt->n_ports; i++)
		ainftp_counters_accumulate(&sum, &s->port[i]);
	o = ctr_json(&sum);
	json_object_set_new(o, "lcore", json_integer(lcore));
	json_object_set_new(o, "role", json_string(rt->role[lcore]->name));
	json_object_set_new(o, "loops", json_integer((json_int_t)ainftp_ctr_read(&s->loops)));
	json_object_set_new(o, "busy_loops",
			    json_integer((json_int_t)ainftp_ctr_read(&s->busy_loops)));
	json_object_set_new(o, "idle_sleeps",
			    json_integer((json_int_t)ainftp_ctr_read(&s->idle_sleeps)));
	return o;
}

/* One worker as the swarm sees it: the same fields in the stats line and telemetry. */
static json_t *
worker_json(const struct ainftp_peer_view *v)
{
	char ip[INET_ADDRSTRLEN];
	json_t *o = json_object();

	inet_ntop(AF_INET, &v->ipv4, ip, sizeof(ip));
	json_object_set_new(o, "id", json_integer(v->id));
	json_object_set_new(o, "job", json_integer(v->job));
	json_object_set_new(o, "ipv4", json_string(ip));
	json_object_set_new(o, "state", json_string(ainftp_peer_state_name(v->state)));
	json_object_set_new(o, "rtt_us", json_real(v->rtt_us));
	json_object_set_new(o, "jitter_us", json_real(v->jitter_us));
	json_object_set_new(o, "loss", json_real(v->loss));
	json_object_set_new(o, "last_seen_ms", json_integer((json_int_t)v->last_seen_ms));
	json_object_set_new(o, "heartbeats_sent", json_integer((json_int_t)v->sent));
	json_object_set_new(o, "acks", json_integer((json_int_t)v->acks));
	return o;
}

static uint64_t
rd(const uint64_t *f)
{
	return __atomic_load_n(f, __ATOMIC_RELAXED);
}

static double
cycles_ms(uint64_t cycles)
{
	return (double)cycles * 1e3 / (double)rte_get_tsc_hz();
}

/* Where the control lcore ranks the worker: in the quorum or not, its lag, its moves. */
static void
member_json(json_t *o, const struct ainftp_member *m)
{
	json_object_set_new(o, "rank", json_integer((json_int_t)rd(&m->rank)));
	json_object_set_new(o, "in_quorum", json_boolean(rd(&m->in) != 0));
	json_object_set_new(o, "lag_ms", json_real(cycles_ms(rd(&m->lag))));
	json_object_set_new(o, "downranked", json_integer((json_int_t)rd(&m->downranked)));
	json_object_set_new(o, "rejoined", json_integer((json_int_t)rd(&m->rejoined)));
	json_object_set_new(
		o, "out_reason",
		json_string(ainftp_out_reason_name((enum ainftp_out_reason)rd(&m->reason))));
	json_object_set_new(o, "join_step", json_integer((json_int_t)rd(&m->join_step)));
	/* The sentry's, job-wide (0 and false without one). */
	json_object_set_new(o, "suspicion",
			    json_real((double)rd(&m->suspicion) / AINFTP_QUORUM_Q16));
	json_object_set_new(o, "quarantined", json_boolean(rd(&m->quarantined) != 0));
	json_object_set_new(o, "sentry_seen", json_integer((json_int_t)rd(&m->sentry_seen)));
	json_object_set_new(o, "sentry_flagged", json_integer((json_int_t)rd(&m->sentry_flagged)));
	json_object_set_new(o, "quarantines", json_integer((json_int_t)rd(&m->quarantines)));
	json_object_set_new(o, "readmits", json_integer((json_int_t)rd(&m->readmits)));
	json_object_set_new(o, "contributions", json_integer((json_int_t)rd(&m->contribs)));
	json_object_set_new(o, "drops", json_integer((json_int_t)rd(&m->drops)));
}

/* Every (job, worker), job by job; empty without a control lcore's swarm. */
static json_t *
workers_json(const struct ainftp_runtime *rt)
{
	const struct ainftp_swarm *sw = rt->swarm;
	uint64_t now = rte_get_tsc_cycles();
	struct ainftp_peer_view v;
	json_t *a = json_array(), *o;
	uint16_t j, w;

	for (j = 0; sw != NULL && j < sw->n_jobs; j++)
		for (w = 0; w < sw->jobs[j].n_workers; w++) {
			ainftp_swarm_view(sw, j, w, now, &v);
			o = worker_json(&v);
			if (rt->quorum != NULL)
				member_json(o, &rt->quorum->jobs[j].m[w]);
			json_array_append_new(a, o);
		}
	return a;
}

/*
 * A job's chunk completion latency (first contribution to result) over every
 * RX lcore: the buckets' upper bounds in microseconds, each bucket's own count
 * (not cumulative; the last one past every bound), their total and the sum.
 */
static json_t *
latency_json(const struct ainftp_runtime *rt, uint16_t j)
{
	struct ainftp_lat_hist h;
	json_t *o = json_object(), *le = json_array(), *counts = json_array();
	uint64_t n = 0;
	unsigned int i;

	ainftp_dp_job_latency(rt, j, &h);
	for (i = 0; i < AINFTP_LAT_BUCKETS; i++)
		json_array_append_new(le, json_integer((json_int_t)AINFTP_LAT_LE0_US << i));
	for (i = 0; i <= AINFTP_LAT_BUCKETS; i++) {
		json_array_append_new(counts, json_integer((json_int_t)h.bucket[i]));
		n += h.bucket[i];
	}
	json_object_set_new(o, "le_us", le);
	json_object_set_new(o, "counts", counts);
	json_object_set_new(o, "count", json_integer((json_int_t)n));
	json_object_set_new(o, "sum_ms", json_real(cycles_ms(h.sum)));
	return o;
}

/*
 * A hierarchical job's place (docs/SCALEOUT.md): a leaf's spine and how it
 * answers, or the spine's leaves (its "workers" above).
 */
static json_t *
tree_json(const struct ainftp_runtime *rt, uint16_t j)
{
	const struct ainftp_job_conf *jc = &rt->cfg->jobs[j];
	uint64_t now = rte_rdtsc(), hz = rte_get_tsc_hz();
	char spine[INET_ADDRSTRLEN];
	struct ainftp_dp_up_view v;
	json_t *o = json_object();

	inet_ntop(AF_INET, &jc->spine, spine, sizeof(spine));
	json_object_set_new(o, "role",
			    json_string(jc->role == AINFTP_ROLE_LEAF ? "leaf" : "spine"));
	json_object_set_new(o, "leaves", json_integer(jc->n_leaves));
	json_object_set_new(o, "spine", json_string(spine));
	if (jc->role != AINFTP_ROLE_LEAF)
		return o;
	ainftp_dp_job_upstream(rt, j, &v);
	json_object_set_new(o, "leaf", json_integer(jc->leaf_index));
	json_object_set_new(o, "upstream", json_string(ainftp_dp_upstream_state(&v, now, hz)));
	json_object_set_new(o, "silent_ms",
			    v.heard_tsc == 0
				    ? json_null()
				    : json_real(cycles_ms(ainftp_dp_tsc_since(now, v.heard_tsc))));
	json_object_set_new(o, "waiting_ms",
			    json_real(v.oldest_tsc == 0
					      ? 0.0
					      : cycles_ms(ainftp_dp_tsc_since(now, v.oldest_tsc))));
	json_object_set_new(o, "partials", json_integer((json_int_t)v.partials));
	json_object_set_new(o, "probes", json_integer((json_int_t)v.probes));
	json_object_set_new(o, "partials_resent", json_integer((json_int_t)v.resent));
	json_object_set_new(o, "results", json_integer((json_int_t)v.results));
	json_object_set_new(o, "arp_requests", json_integer((json_int_t)v.arp_sent));
	return o;
}

/* Each job's quorum as the control lcore ranks it, and how long partial results waited. */
static json_t *
job_json(const struct ainftp_runtime *rt, uint16_t j)
{
	const struct ainftp_job_conf *jc = &rt->cfg->jobs[j];
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(jc->id));
	json_object_set_new(o, "workers", json_integer(jc->n_workers));
	json_object_set_new(o, "min_quorum", json_integer(jc->straggler.min_quorum));
	json_object_set_new(o, "threshold_ms", json_integer(jc->straggler.threshold_ms));
	json_object_set_new(o, "sentry", json_string(ainftp_sentry_name(jc->sentry.policy)));
	if (rt->quorum != NULL) {
		const struct ainftp_quorum_job *q = &rt->quorum->jobs[j];

		json_object_set_new(o, "quorum_version", json_integer((json_int_t)rd(&q->version)));
		json_object_set_new(o, "quorum_size", json_integer((json_int_t)rd(&q->n_members)));
	}
	json_object_set_new(o, "max_step", json_integer((json_int_t)ainftp_dp_job_max_step(rt, j)));
	json_object_set_new(o, "partial_wait_max_ms",
			    json_real(cycles_ms(ainftp_dp_job_partial_wait(rt, j))));
	json_object_set_new(o, "chunk_latency", latency_json(rt, j));
	if (jc->role != AINFTP_ROLE_BOX)
		json_object_set_new(o, "tree", tree_json(rt, j));
	return o;
}

static json_t *
jobs_json(const struct ainftp_runtime *rt)
{
	json_t *a = json_array();
	uint16_t j;

	for (j = 0; j < rt->cfg->n_jobs; j++)
		json_array_append_new(a, job_json(rt, j));
	return a;
}

/* The result sink: the backend in use (and the one asked for), results put, fallbacks. */
static json_t *
sink_json(const struct ainftp_runtime *rt)
{
	const struct ainftp_sink *s = rt->sink;
	json_t *o = json_object();

	json_object_set_new(o, "backend", json_string(s != NULL ? s->ops->name : "off"));
	json_object_set_new(o, "requested",
			    json_string(ainftp_sink_backend_name(rt->cfg->sink.backend)));
	if (s != NULL) {
		json_object_set_new(o, "path", json_string(s->path));
		json_object_set_new(o, "bytes", json_integer((json_int_t)s->size));
	}
	json_object_set_new(o, "written", json_integer((json_int_t)ainftp_dp_sink_written(rt)));
	json_object_set_new(o, "fallbacks", json_integer(s != NULL && s->fell_back));
	return o;
}

json_t *
ainftp_stats_json(const struct ainftp_runtime *rt, int final)
{
	json_t *o = json_object(), *lcores = json_array(), *ports = json_array();
	unsigned int lcore;
	uint16_t i;

	RTE_LCORE_FOREACH(lcore)
	if (rt->role[lcore] != NULL)
		json_array_append_new(lcores, lcore_json(rt, lcore));
	for (i = 0; i < rt->n_ports; i++)
		json_array_append_new(ports, port_json(rt, i));
	json_object_set_new(o, "ainftp_stats", json_true());
	json_object_set_new(o, "final", json_boolean(final));
	json_object_set_new(o, "start_time_s", json_real(rt->start_time));
	json_object_set_new(o, "uptime_s",
			    json_real((double)(rte_get_tsc_cycles() - rt->start_tsc) /
				      (double)rte_get_tsc_hz()));
	json_object_set_new(o, "lcores", lcores);
	json_object_set_new(o, "ports", ports);
	json_object_set_new(o, "jobs", jobs_json(rt));
	json_object_set_new(o, "workers", workers_json(rt));
	json_object_set_new(o, "sink", sink_json(rt));
	return o;
}

int
ainftp_stats_print(FILE *out, const struct ainftp_runtime *rt, int final)
{
	json_t *o = ainftp_stats_json(rt, final);
	int ret = json_dumpf(o, out, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(o);
	if (ret == 0 && (fputc('\n', out) == EOF || fflush(out) != 0))
		ret = -1;
	return ret;
}

/* Copy a jansson object into a telemetry dict: integers, strings and nested dicts. */
static int tel_from_json(struct rte_tel_data *d, json_t *o);

static int
tel_add(struct rte_tel_data *d, const char *key, json_t *v)
{
	struct rte_tel_data *sub;
	char num[32];

	switch (json_typeof(v)) {
	case JSON_INTEGER:
		/* Counters are u64; a few values (last_seen_ms) can be -1. */
		if (json_integer_value(v) < 0)
			return rte_tel_data_add_dict_int(
				d, key, (int)RTE_MAX(json_integer_value(v), (json_int_t)INT_MIN));
		return rte_tel_data_add_dict_u64(d, key, (uint64_t)json_integer_value(v));
	case JSON_STRING:
		return rte_tel_data_add_dict_string(d, key, json_string_value(v));
	case JSON_REAL:
		/* DPDK 22.11 telemetry has no floating-point values: a decimal string. */
		snprintf(num, sizeof(num), "%.6g", json_real_value(v));
		return rte_tel_data_add_dict_string(d, key, num);
	case JSON_OBJECT:
		sub = rte_tel_data_alloc();
		if (sub == NULL)
			return -ENOMEM;
		if (tel_from_json(sub, v) != 0) {
			rte_tel_data_free(sub);
			return -ENOMEM;
		}
		return rte_tel_data_add_dict_container(d, key, sub, 0);
	case JSON_TRUE:
	case JSON_FALSE:
		/* No booleans in DPDK 22.11 telemetry: 1 and 0. */
		return rte_tel_data_add_dict_u64(d, key, json_is_true(v));
	default:
		return 0;
	}
}

static int
tel_from_json(struct rte_tel_data *d, json_t *o)
{
	const char *key;
	json_t *v;

	rte_tel_data_start_dict(d);
	json_object_foreach(o, key, v) if (tel_add(d, key, v) != 0) return -1;
	return 0;
}

static int
tel_stats(const char *cmd __rte_unused, const char *params __rte_unused, struct rte_tel_data *d)
{
	const struct ainftp_runtime *rt = telemetry_rt;
	struct ainftp_port_ctr total;
	json_t *o, *lcores = json_object();
	unsigned int lcore;
	char name[16];
	uint16_t i;
	int ret;

	/* Totals over every port, then one nested dict per active lcore. */
	memset(&total, 0, sizeof(total));
	RTE_LCORE_FOREACH(lcore)
	{
		if (rt->role[lcore] == NULL)
			continue;
		for (i = 0; i < rt->n_ports; i++)
			ainftp_counters_accumulate(&total, &ainftp_stats[lcore].port[i]);
		snprintf(name, sizeof(name), "lcore%u", lcore);
		json_object_set_new(lcores, name, lcore_json(rt, lcore));
	}
	o = ctr_json(&total);
	json_object_set_new(o, "uptime_ms",
			    json_integer((json_int_t)((rte_get_tsc_cycles() - rt->start_tsc) *
						      1000 / rte_get_tsc_hz())));
	json_object_set_new(o, "lcores", lcores);
	ret = tel_from_json(d, o);
	json_decref(o);
	return ret;
}

static int
tel_ports(const char *cmd __rte_unused, const char *params __rte_unused, struct rte_tel_data *d)
{
	const struct ainftp_runtime *rt = telemetry_rt;
	json_t *o = json_object();
	char name[16];
	uint16_t i;
	int ret;

	for (i = 0; i < rt->n_ports; i++) {
		snprintf(name, sizeof(name), "port%u", i);
		json_object_set_new(o, name, port_json(rt, i));
	}
	ret = tel_from_json(d, o);
	json_decref(o);
	return ret;
}

/* {"job<id>": {"w<id>": {...}}}: telemetry has no arrays of dicts, and a dict holds 256. */
static int
tel_workers(const char *cmd __rte_unused, const char *params __rte_unused, struct rte_tel_data *d)
{
	json_t *o = json_object(), *a = workers_json(telemetry_rt), *v;
	char job[24], w[16];
	size_t i;
	int ret;

	json_array_foreach(a, i, v)
	{
		json_t *jo;

		snprintf(job, sizeof(job), "job%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(v, "job")));
		snprintf(w, sizeof(w), "w%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(v, "id")));
		jo = json_object_get(o, job);
		if (jo == NULL) {
			jo = json_object();
			json_object_set_new(o, job, jo);
		}
		json_object_set(jo, w, v);
	}
	ret = tel_from_json(d, o);
	json_decref(a);
	json_decref(o);
	return ret;
}

/* One job's sentry: its rule and parameters, its drops, and per worker what it judged. */
json_t *
ainftp_stats_sentry_json(const struct ainftp_runtime *rt, uint16_t j)
{
	const struct ainftp_job_conf *jc = &rt->cfg->jobs[j];
	const struct ainftp_sentry_conf *sc = &jc->sentry;
	json_t *o = json_object(), *workers = json_object();
	struct ainftp_port_ctr sum;
	char name[16];
	uint16_t w;

	json_object_set_new(o, "policy", json_string(ainftp_sentry_name(sc->policy)));
	json_object_set_new(o, "k", json_real(sc->zscore_k));
	json_object_set_new(o, "f", json_integer(sc->trim_f));
	json_object_set_new(o, "clip_norm", json_real(sc->clip_norm));
	json_object_set_new(o, "suspicion_threshold", json_real(sc->suspicion_threshold));
	/* Drops are counted per port: a port's jobs share them. */
	ainftp_counters_port_sum(jc->port, &sum);
	json_object_set_new(o, "port_sentry_dropped",
			    json_integer((json_int_t)sum.drops[AINFTP_DROP_SENTRY]));
	json_object_set_new(o, "port_quarantined_dropped",
			    json_integer((json_int_t)sum.drops[AINFTP_DROP_QUARANTINED]));
	for (w = 0; rt->quorum != NULL && w < jc->n_workers; w++) {
		const struct ainftp_member *m = &rt->quorum->jobs[j].m[w];
		json_t *wo = json_object();

		json_object_set_new(wo, "seen", json_integer((json_int_t)rd(&m->sentry_seen)));
		json_object_set_new(wo, "flagged",
				    json_integer((json_int_t)rd(&m->sentry_flagged)));
		json_object_set_new(wo, "suspicion",
				    json_real((double)rd(&m->suspicion) / AINFTP_QUORUM_Q16));
		json_object_set_new(wo, "quarantined", json_boolean(rd(&m->quarantined) != 0));
		json_object_set_new(wo, "quarantines",
				    json_integer((json_int_t)rd(&m->quarantines)));
		json_object_set_new(wo, "readmits", json_integer((json_int_t)rd(&m->readmits)));
		snprintf(name, sizeof(name), "w%u", jc->workers[w].id);
		json_object_set_new(workers, name, wo);
	}
	json_object_set_new(o, "workers", workers);
	return o;
}

/* {"job<id>": {...}}: each job's sentry. */
int
ainftp_tel_sentry(const char *cmd __rte_unused, const char *params __rte_unused,
		  struct rte_tel_data *d)
{
	const struct ainftp_runtime *rt = telemetry_rt;
	json_t *o;
	char name[24];
	uint16_t j;
	int ret;

	if (rt == NULL)
		return -EINVAL;
	o = json_object();
	for (j = 0; j < rt->cfg->n_jobs; j++) {
		snprintf(name, sizeof(name), "job%u", rt->cfg->jobs[j].id);
		json_object_set_new(o, name, ainftp_stats_sentry_json(rt, j));
	}
	ret = tel_from_json(d, o);
	json_decref(o);
	return ret;
}

/* "JOB_ID,WORKER_ID": {"readmit": "requested", ...} or {"error": why}. */
int
ainftp_tel_readmit(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	char err[128];

	rte_tel_data_start_dict(d);
	if (telemetry_rt == NULL)
		return rte_tel_data_add_dict_string(d, "error", "no appliance running");
	if (ainftp_ctrl_readmit_request(telemetry_rt, params, err, sizeof(err)) != 0)
		return rte_tel_data_add_dict_string(d, "error", err);
	/* At the control lcore's next tick (10 ms). */
	return rte_tel_data_add_dict_string(d, "readmit", "requested");
}

/* {"job<id>": {...}}: each job's quorum. */
static int
tel_jobs(const char *cmd __rte_unused, const char *params __rte_unused, struct rte_tel_data *d)
{
	const struct ainftp_runtime *rt = telemetry_rt;
	json_t *o = json_object();
	char name[24];
	uint16_t j;
	int ret;

	for (j = 0; j < rt->cfg->n_jobs; j++) {
		snprintf(name, sizeof(name), "job%u", rt->cfg->jobs[j].id);
		json_object_set_new(o, name, job_json(rt, j));
	}
	ret = tel_from_json(d, o);
	json_decref(o);
	return ret;
}

static void
mempool_json(struct rte_mempool *mp, void *arg)
{
	json_t *o = json_object();
	unsigned int avail = rte_mempool_avail_count(mp);

	json_object_set_new(o, "size", json_integer(mp->size));
	json_object_set_new(o, "avail", json_integer(avail));
	/* As rte_mempool_in_use_count(): objects in the lcores' caches count as free. */
	json_object_set_new(o, "in_use", json_integer(mp->size - avail));
	json_object_set_new(arg, mp->name, o);
}

/* {"<pool>": {"size", "avail", "in_use"}}: every mempool of the process
 * (DPDK 22.11's /mempool/info has no counts); a soak compares them idle. */
static int
tel_mempools(const char *cmd __rte_unused, const char *params __rte_unused, struct rte_tel_data *d)
{
	json_t *o = json_object();
	int ret;

	rte_mempool_walk(mempool_json, o);
	ret = tel_from_json(d, o);
	json_decref(o);
	return ret;
}

int
ainftp_stats_telemetry_register(const struct ainftp_runtime *rt)
{
	int ret;

	telemetry_rt = rt;
	ret = rte_telemetry_register_cmd("/ainftp/stats", tel_stats,
					 "ainftp totals and per-lcore counters. No parameters");
	if (ret == 0)
		ret = rte_telemetry_register_cmd("/ainftp/ports", tel_ports,
						 "ainftp per-port counters. No parameters");
	if (ret == 0)
		ret = rte_telemetry_register_cmd("/ainftp/workers", tel_workers,
						 "ainftp workers by job: state, RTT, jitter, loss, "
						 "heartbeats, quorum, suspicion. No parameters");
	if (ret == 0)
		ret = rte_telemetry_register_cmd("/ainftp/jobs", tel_jobs,
						 "ainftp jobs: quorum version and size, partial "
						 "results. No parameters");
	if (ret == 0)
		ret = rte_telemetry_register_cmd("/ainftp/sentry", ainftp_tel_sentry,
						 "ainftp sentry by job: policy, parameters, drops, "
						 "per worker seen, flagged, suspicion, quarantine. "
						 "No parameters");
	if (ret == 0)
		ret = rte_telemetry_register_cmd(
			"/ainftp/mempools", tel_mempools,
			"ainftp mempools: size, available and in use "
			"(lcore caches count as available). No parameters");
	if (ret == 0)
		ret = rte_telemetry_register_cmd(
			"/ainftp/readmit", ainftp_tel_readmit,
			"Readmit a worker the sentry quarantined. Parameters: JOB_ID,WORKER_ID");
	return ret;
}
