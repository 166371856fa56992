/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_CONFIG_H
#define AINFTP_CONFIG_H

/*
 * cluster.json: what the appliance runs. Parsed and validated once at start-up
 * (jansson); the result is a plain struct with fixed arrays so the lcores can
 * read it without pointers into JSON memory. config/README.md documents every
 * field; keep the two in step.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ainftp_codec.h"
#include "ainftp_proto.h"
#include "ainftp_sentry_policy.h"

#define AINFTP_MAX_PORTS 8
#define AINFTP_MAX_QUEUES 16	  /* RX or TX queues per port */
#define AINFTP_MAX_RX_BINDINGS 64 /* (lcore, port, queue) triples */
#define AINFTP_MAX_JOBS 16
#define AINFTP_MAX_SHARDS 8  /* appliances a job's chunks are shared out over */
#define AINFTP_MAX_LEAVES 16 /* leaf boxes of a hierarchical job */
#define AINFTP_MAX_PARTS 32  /* frames of one partial sum, leaf to spine */
#define AINFTP_DEVICE_LEN 256
#define AINFTP_MTU_MIN 576
#define AINFTP_MTU_MAX 9000
#define AINFTP_DEFAULT_UDP_PORT 47474
#define AINFTP_DEFAULT_DESC 1024
#define AINFTP_DEFAULT_SLOTS 256
#define AINFTP_DEFAULT_HEARTBEAT_MS 100
#define AINFTP_HEARTBEAT_MS_MIN 10 /* the control lcore's tick: it cannot send faster */
#define AINFTP_HEARTBEAT_MS_MAX 10000
/*
 * Bytes of an MTU that are not gradient payload: IPv4 (20) + UDP (8) + the
 * ainftp header (32) and authentication tag (16); docs/PROTOCOL.md.
 */
#define AINFTP_PKT_OVERHEAD 76

/* Exit code for anything wrong with cluster.json or the command line. */
#define AINFTP_EXIT_CONFIG 2

struct ainftp_port_conf {
	char device[AINFTP_DEVICE_LEN]; /* PCI address, ethdev name or vdev string */
	uint16_t rx_queues;
	uint16_t tx_queues; /* 0: derived, one per RX lcore plus the control lcore */
	uint16_t mtu;
	uint16_t rx_desc;
	uint16_t tx_desc;
};

/* One RX lcore polls one (port, queue); an lcore may appear in several. */
struct ainftp_rx_binding {
	unsigned int lcore;
	uint16_t port; /* index into ainftp_config.ports */
	uint16_t queue;
};

struct ainftp_worker_conf {
	uint16_t id;		       /* 0 .. AINFTP_MAX_WORKERS-1, unique in its job */
	uint32_t ipv4;		       /* network byte order */
	uint8_t key[AINFTP_KEY_BYTES]; /* secret: never print */
};

struct ainftp_straggler_conf {
	uint32_t threshold_ms; /* lag beyond which a worker leaves the quorum */
	uint16_t min_quorum;   /* results wait below this many contributors */
};

/* A leaf box of a hierarchical job (docs/SCALEOUT.md): its address, its key
 * with the spine, and its workers (bit = worker id). */
struct ainftp_leaf_conf {
	uint32_t ipv4;		       /* network byte order */
	uint8_t key[AINFTP_KEY_BYTES]; /* secret: never print */
	uint64_t workers;
};

/* What this box is for a job. */
enum ainftp_job_role {
	AINFTP_ROLE_BOX,   /* sums the workers' data and answers them (one box, or a shard) */
	AINFTP_ROLE_LEAF,  /* sums its own workers, sends the partial sum to the spine */
	AINFTP_ROLE_SPINE, /* sums the leaves' partial sums, answers the leaves */
};

struct ainftp_job_conf {
	uint32_t id;
	uint16_t port;	/* index into ports: where its workers' packets arrive */
	uint32_t slots; /* slot pool size, a power of two */
	uint32_t elems_per_packet;
	enum ainftp_encoding encoding;
	enum ainftp_encoding result_encoding; /* float32 or int16 */
	bool auth;			      /* authenticate every packet (default true) */
	bool result_tags; /* with auth, results tagged too (default true; false: benchmarks) */
	enum ainftp_mac_alg auth_mac; /* with auth, the tags' MAC (default SipHash) */
	uint16_t quorum;	      /* contributors that complete a slot */
	struct ainftp_straggler_conf straggler;
	struct ainftp_sentry_conf sentry;
	uint16_t n_workers;
	struct ainftp_worker_conf workers[AINFTP_MAX_WORKERS];
	/*
	 * The boxes the job's chunks are shared out over (docs/PROTOCOL.md,
	 * "Shards"), network byte order; without "appliances", just this box's
	 * appliance.ipv4. This box is shard_index of shard_count.
	 */
	uint8_t shard_count;
	uint8_t shard_index;
	uint32_t appliances[AINFTP_MAX_SHARDS];
	/*
	 * A hierarchy ("spine" and "leaves"): every worker in one leaf, this box
	 * the spine or one of the leaves (leaf_index). As parsed, workers are
	 * all of the job's; ainftp_config_box_view() makes them this box's own.
	 */
	enum ainftp_job_role role;
	uint32_t spine; /* network byte order; 0: no hierarchy */
	uint8_t n_leaves;
	uint8_t leaf_index;
	struct ainftp_leaf_conf leaves[AINFTP_MAX_LEAVES];
};

/* Where finished results land besides the wire (lib/sink/ainftp_sink.h, docs/SINK.md). */
enum ainftp_sink_backend {
	AINFTP_SINK_OFF, /* no arena (also when "sink" is absent) */
	AINFTP_SINK_AUTO,
	AINFTP_SINK_HOST,
	AINFTP_SINK_GPUDEV,
	AINFTP_SINK_CUDA,
};

#define AINFTP_SINK_PATH_LEN 256

struct ainftp_sink_conf {
	enum ainftp_sink_backend backend;
	uint16_t device;		 /* GPU: gpudev device id or CUDA ordinal */
	char path[AINFTP_SINK_PATH_LEN]; /* the arena's file; "": hugetlbfs or /dev/shm */
};

struct ainftp_config {
	char source[256]; /* file name, used as the prefix of every error */

	uint32_t ipv4;	   /* appliance address, network byte order */
	uint16_t udp_port; /* host byte order */
	bool has_mac;
	uint8_t mac[6]; /* override of the ports' own addresses */

	uint16_t n_ports;
	struct ainftp_port_conf ports[AINFTP_MAX_PORTS];

	unsigned int control_lcore;
	uint16_t n_rx;
	struct ainftp_rx_binding rx[AINFTP_MAX_RX_BINDINGS];

	uint16_t n_jobs;
	struct ainftp_job_conf jobs[AINFTP_MAX_JOBS];

	bool telemetry;		   /* register the /ainftp/... rte_telemetry commands */
	uint32_t stats_interval_s; /* 0: no periodic stats line */
	bool prometheus;	   /* serve /metrics (telemetry.prometheus) */
	uint32_t prometheus_ipv4;  /* network order */
	uint16_t prometheus_port;

	uint32_t heartbeat_interval_ms; /* control.heartbeat_interval_ms; 0: no heartbeats */

	struct ainftp_sink_conf sink;
};

/*
 * Parse and validate. On failure return -1 and write one line into err:
 * "<source>: <json.path>: <problem>" (no trailing newline). Never prints.
 */
int ainftp_config_parse(const char *json, const char *source, struct ainftp_config *cfg, char *err,
			size_t errlen);
int ainftp_config_load(const char *path, struct ainftp_config *cfg, char *err, size_t errlen);

/*
 * The box's own view of its hierarchical jobs, once after loading (the app;
 * a client keeps the whole view): a leaf's workers become its own, with the
 * straggler rules over them; the spine's "workers" become the leaves (id =
 * leaf index, their addresses and keys), all of them in every result.
 */
void ainftp_config_box_view(struct ainftp_config *cfg);

/*
 * A leaf's partial sums at this MTU: blocks per frame (0: not even one), and
 * frames per chunk of the job (docs/SCALEOUT.md, "Partial sums").
 */
uint32_t ainftp_hier_bpp(uint16_t mtu);
uint32_t ainftp_hier_parts(const struct ainftp_job_conf *job, uint16_t mtu);

/* The leaf of a hierarchical job that worker id belongs to, or -1. */
int ainftp_config_leaf_of(const struct ainftp_job_conf *job, uint16_t worker);

/* Number of distinct RX lcores, and the TX queues each port needs for them. */
unsigned int ainftp_config_rx_lcore_count(const struct ainftp_config *cfg);
/* An RX lcore's rank among the RX lcores, in lcore order (its TX queue, its doorbells). */
unsigned int ainftp_config_rx_lcore_rank(const struct ainftp_config *cfg, unsigned int lcore);
/* The lcore polls a queue (lcores.rx). */
bool ainftp_config_is_rx_lcore(const struct ainftp_config *cfg, unsigned int lcore);
uint16_t ainftp_config_tx_queues_needed(const struct ainftp_config *cfg);

/* Two hex digits at s into *out; s[1] is not read when s[0] is the terminator. */
bool ainftp_hex_byte(const char *s, uint8_t *out);
/*
 * A listening address, "ADDR:PORT" or "PORT" (then 127.0.0.1: metrics stay on
 * the box unless an operator says otherwise). ipv4 in network order. 0, or -1
 * with the reason in why (which does not repeat s).
 */
int ainftp_listen_parse(const char *s, uint32_t *ipv4, uint16_t *port, char *why, size_t len);

const char *ainftp_sink_backend_name(enum ainftp_sink_backend backend);

#endif
