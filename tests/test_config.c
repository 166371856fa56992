/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cluster.json: valid files fill every field, and every malformed file gets its
 * own one-line message. The malformed table also drives the real binary (env
 * AINFTP_APP), so the app is held to the same messages and to exit code 2.
 */

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ainftp_config.h"

#ifndef AINFTP_SRCDIR
#error "AINFTP_SRCDIR must name the source root"
#endif

#define ERR_LEN 1024
#define APP_TIMEOUT_S 20
#define APP_STDERR_MAX (64 * 1024)
#define APP_MAX_ARGS 64

/*
 * JSON in this file is written with ' where JSON has ", so that it reads
 * without escapes; json_of() swaps them back. No case needs a literal '.
 */
#define KEY "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_A "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"
#define KEY_B "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
/* A key pasted where it does not belong: whole, halved, cut to 8 digits, in groups. */
#define KEY_C "6b6ed970a17aa1a6a33547cc78eb6be9c13e32d8339ea4d8b054c02e384cc644"
#define KEY_C_HALF "6b6ed970a17aa1a6a33547cc78eb6be9"
#define KEY_C_8 "6b6ed970"
#define KEY_C_GROUPS "6b6e d970 a17a a1a6 a335 47cc 78eb 6be9"
#define NOT_HEX "QZJXQZJXQZJXQZJXQZJXQZJXQZJXQZJXQZJXQZJXQZJXQZJXQZJXQZJXQZJXQZJX"

#define APPLIANCE "'appliance':{'ipv4':'198.18.0.2'}"
#define PORTS "'ports':[{'device':'net_ring0'}]"
#define BIND(l, p, q) "{'lcore':" #l ",'port':" #p ",'queue':" #q "}"
#define LCORES "'lcores':{'control':0,'rx':[" BIND(1, 0, 0) "]}"
#define WORKER_KEY(id, ip, key) "{'id':" #id ",'ipv4':'198.18.0." #ip "','key':'" key "'}"
#define WORKER(id, ip) WORKER_KEY(id, ip, KEY)
#define WORKERS "'workers':[" WORKER(0, 11) "," WORKER(1, 12) "]"
#define LEAF(ip, w) "{'appliance':'198.18.0." #ip "','key':'" KEY_B "','workers':[" #w "]}"
#define JOB_FULL(head, workers) "{" head "," workers "}"
#define JOB_HEAD "'id':1,'elems_per_packet':256,'encoding':'int16'"
#define JOB_WITH(extra) JOB_FULL(JOB_HEAD extra, WORKERS)
#define JOBS "'jobs':[" JOB_WITH("") "]"
#define CFG(appliance, ports, lcores, jobs) "{" appliance "," ports "," lcores "," jobs "}"
#define WITH_APPLIANCE(a) CFG(a, PORTS, LCORES, JOBS)
#define WITH_PORTS(p) CFG(APPLIANCE, p, LCORES, JOBS)
#define WITH_PORTS_LCORES(p, l) CFG(APPLIANCE, p, l, JOBS)
#define WITH_LCORES(l) CFG(APPLIANCE, PORTS, l, JOBS)
#define WITH_JOB(extra) CFG(APPLIANCE, PORTS, LCORES, "'jobs':[" JOB_WITH(extra) "]")
#define WITH_JOB_FULL(head, workers) \
	CFG(APPLIANCE, PORTS, LCORES, "'jobs':[" JOB_FULL(head, workers) "]")
#define WITH_WORKERS(w) WITH_JOB_FULL(JOB_HEAD, "'workers':[" w "]")
#define MINIMAL CFG(APPLIANCE, PORTS, LCORES, JOBS)
#define WITH_TELEMETRY(t) CFG(APPLIANCE, PORTS, LCORES, JOBS "," t)

#define E8 "{},{},{},{},{},{},{},{},"
/* int8 contributions of 8 KB and more (8640 + 270 exponents + 76 of headers: 8986 bytes). */
#define JUMBO "'ports':[{'device':'net_ring0','mtu':9000}]"
#define JOB_8K "'id':1,'elems_per_packet':8640,'encoding':'int8'"
#define SIXTEEN_QUEUES "'ports':[{'device':'net_ring0','rx_queues':16}]"
#define BINDS_1_4 BIND(1, 0, 0) "," BIND(2, 0, 1) "," BIND(3, 0, 2) "," BIND(4, 0, 3)
#define BINDS_5_8 BIND(5, 0, 4) "," BIND(6, 0, 5) "," BIND(7, 0, 6) "," BIND(8, 0, 7)
#define BINDS_9_12 BIND(9, 0, 8) "," BIND(10, 0, 9) "," BIND(11, 0, 10) "," BIND(12, 0, 11)
#define BINDS_13_16 BIND(13, 0, 12) "," BIND(14, 0, 13) "," BIND(15, 0, 14) "," BIND(16, 0, 15)
#define SIXTEEN_LCORES \
	"'lcores':{'control':0,'rx':[" BINDS_1_4 "," BINDS_5_8 "," BINDS_9_12 "," BINDS_13_16 "]}"

struct bad_case {
	const char *name;
	const char *json;
	const char *expected; /* the whole message, for source "cluster.json" */
	const char *secret;   /* key text of which no 4 characters may show in the message */
	/*
	 * Set for the app's run-time cases (an lcore outside the EAL core list, more
	 * queues than the device has): space-separated EAL arguments replacing the
	 * default ones. The parser must accept such a case's JSON; only the app fails.
	 */
	const char *eal_args;
};

/* Designated initializers: the fields a case leaves out are NULL. */
#define BAD(n, j, e)                                      \
	{                                                 \
		.name = (n), .json = (j), .expected = (e) \
	}
/* Run-time cases: the JSON is valid; EAL or the device finds the problem. */
#define RT_EAL \
	"-l 0-1 --no-huge -m 64 --no-pci --no-shconf --no-telemetry --log-level=lib.eal:error"
/* A one-queue device: AF_PACKET on the loopback interface, never started by these cases. */
#define RT_EAL_1Q RT_EAL " --file-prefix ainftp-cfgtest-rt --vdev=net_af_packet0,iface=lo,qpairs=1"
#define RT(n, j, e, eal)                                                     \
	{                                                                    \
		.name = (n), .json = (j), .expected = (e), .eal_args = (eal) \
	}
#define BAD_KEY(n, j, e, k)                                              \
	{                                                                \
		.name = (n), .json = (j), .expected = (e), .secret = (k) \
	}

static const struct bad_case bad_cases[] = {
	BAD("syntax error", "{'appliance': }",
	    "cluster.json:1:15: JSON syntax error: unexpected token"),
	BAD("duplicate JSON key",
	    "{'appliance':{'ipv4':'198.18.0.2'},'appliance':{'ipv4':'198.18.0.2'}}",
	    "cluster.json:1:46: JSON syntax error: duplicate object key"),
	BAD_KEY("control character in a key",
		WITH_WORKERS("{'id':0,'ipv4':'198.18.0.11','key':'QZJXQZJX\x01'}"),
		"cluster.json:1:242: JSON syntax error: control character 0x1", "QZJXQZJX"),
	BAD("top level not an object", "[1,2]",
	    "cluster.json: (top level): expected an object, got array"),
	BAD("missing appliance", "{" PORTS "," LCORES "," JOBS "}",
	    "cluster.json: (top level): missing required key \"appliance\""),
	BAD("unknown top-level key", "{" APPLIANCE "," PORTS "," LCORES "," JOBS ",'extra':1}",
	    "cluster.json: extra: unknown key"),
	BAD("unknown port key", WITH_PORTS("'ports':[{'device':'net_ring0','speed':100}]"),
	    "cluster.json: ports[0].speed: unknown key"),
	BAD("unknown job key", WITH_JOB(",'color':1"), "cluster.json: jobs[0].color: unknown key"),
	BAD("unknown worker key",
	    WITH_WORKERS("{'id':0,'ipv4':'198.18.0.11','key':'" KEY "','name':'w0'}"),
	    "cluster.json: jobs[0].workers[0].name: unknown key"),
	BAD("unknown sentry key", WITH_JOB(",'sentry':{'policy':'zscore','sigma':3}"),
	    "cluster.json: jobs[0].sentry.sigma: unknown key"),
	BAD("string for an integer", WITH_PORTS("'ports':[{'device':'net_ring0','mtu':'1500'}]"),
	    "cluster.json: ports[0].mtu: expected an integer, got string"),
	BAD("job on a port that does not exist", WITH_JOB(",'port':1"),
	    "cluster.json: jobs[0].port: 1 is out of range (0..0)"),
	BAD("real for an integer", WITH_JOB(",'slots':256.0"),
	    "cluster.json: jobs[0].slots: expected an integer, got real"),
	BAD("boolean for an integer",
	    WITH_PORTS("'ports':[{'device':'net_ring0','rx_queues':true}]"),
	    "cluster.json: ports[0].rx_queues: expected an integer, got boolean"),
	BAD("string for a boolean", WITH_JOB(",'auth':'yes'"),
	    "cluster.json: jobs[0].auth: expected a boolean, got string"),
	BAD("string for a number", WITH_JOB(",'sentry':{'k':'3'}"),
	    "cluster.json: jobs[0].sentry.k: expected a number, got string"),
	BAD("array for an object", WITH_APPLIANCE("'appliance':['198.18.0.2']"),
	    "cluster.json: appliance: expected an object, got array"),
	BAD("string for a port object", WITH_PORTS("'ports':['net_ring0']"),
	    "cluster.json: ports[0]: expected an object, got string"),
	BAD("null for a string", WITH_PORTS("'ports':[{'device':null}]"),
	    "cluster.json: ports[0].device: expected a string, got null"),
	BAD("empty device", WITH_PORTS("'ports':[{'device':''}]"),
	    "cluster.json: ports[0].device: must not be empty"),
	BAD("no ports", WITH_PORTS("'ports':[]"),
	    "cluster.json: ports: expected 1..8 entries, got 0"),
	BAD("mtu out of range", WITH_PORTS("'ports':[{'device':'net_ring0','mtu':9001}]"),
	    "cluster.json: ports[0].mtu: 9001 is out of range (576..9000)"),
	BAD("udp_port out of range",
	    WITH_APPLIANCE("'appliance':{'ipv4':'198.18.0.2','udp_port':0}"),
	    "cluster.json: appliance.udp_port: 0 is out of range (1..65535)"),
	BAD("rx_queues out of range", WITH_PORTS("'ports':[{'device':'net_ring0','rx_queues':17}]"),
	    "cluster.json: ports[0].rx_queues: 17 is out of range (1..16)"),
	BAD("rx_desc not a power of two",
	    WITH_PORTS("'ports':[{'device':'net_ring0','rx_desc':1000}]"),
	    "cluster.json: ports[0].rx_desc: 1000 is not a power of two"),
	BAD("tx_desc out of range", WITH_PORTS("'ports':[{'device':'net_ring0','tx_desc':32}]"),
	    "cluster.json: ports[0].tx_desc: 32 is out of range (64..16384)"),
	BAD("slots not a power of two", WITH_JOB(",'slots':100"),
	    "cluster.json: jobs[0].slots: 100 is not a power of two"),
	BAD("threshold_ms out of range", WITH_JOB(",'straggler':{'threshold_ms':0}"),
	    "cluster.json: jobs[0].straggler.threshold_ms: 0 is out of range (1..60000)"),
	BAD("stats_interval_s out of range",
	    WITH_TELEMETRY("'telemetry':{'stats_interval_s':3601}"),
	    "cluster.json: telemetry.stats_interval_s: 3601 is out of range (0..3600)"),
	BAD("sink not an object", WITH_TELEMETRY("'sink':'gpu'"),
	    "cluster.json: sink: expected an object, got string"),
	BAD("sink unknown key", WITH_TELEMETRY("'sink':{'backend':'host','size':1}"),
	    "cluster.json: sink.size: unknown key"),
	BAD("sink unknown backend", WITH_TELEMETRY("'sink':{'backend':'nvlink'}"),
	    "cluster.json: sink.backend: \"nvlink\" is not one of \"auto\", \"off\", \"host\", "
	    "\"gpudev\", \"cuda\""),
	BAD("sink device out of range", WITH_TELEMETRY("'sink':{'device':1024}"),
	    "cluster.json: sink.device: 1024 is out of range (0..1023)"),
	BAD("sink device not an integer", WITH_TELEMETRY("'sink':{'device':'0'}"),
	    "cluster.json: sink.device: expected an integer, got string"),
	BAD("sink path relative", WITH_TELEMETRY("'sink':{'path':'results'}"),
	    "cluster.json: sink.path: must be an absolute path"),
	BAD("heartbeat_interval_ms below the tick",
	    WITH_TELEMETRY("'control':{'heartbeat_interval_ms':9}"),
	    "cluster.json: control.heartbeat_interval_ms: 9 is out of range (0 for none, or "
	    "10..10000)"),
	BAD("heartbeat_interval_ms too long",
	    WITH_TELEMETRY("'control':{'heartbeat_interval_ms':10001}"),
	    "cluster.json: control.heartbeat_interval_ms: 10001 is out of range (0..10000)"),
	BAD("heartbeat_interval_ms not an integer",
	    WITH_TELEMETRY("'control':{'heartbeat_interval_ms':'fast'}"),
	    "cluster.json: control.heartbeat_interval_ms: expected an integer, got string"),
	BAD("prometheus port out of range", WITH_TELEMETRY("'telemetry':{'prometheus':'70000'}"),
	    "cluster.json: telemetry.prometheus: \"70000\": the port is not a whole number in "
	    "0..65535"),
	BAD("prometheus port 0", WITH_TELEMETRY("'telemetry':{'prometheus':'127.0.0.1:0'}"),
	    "cluster.json: telemetry.prometheus: \"127.0.0.1:0\": port 0 is not a port to scrape"),
	BAD("prometheus bad address", WITH_TELEMETRY("'telemetry':{'prometheus':'10.0.0:9464'}"),
	    "cluster.json: telemetry.prometheus: \"10.0.0:9464\": the address is not an IPv4 "
	    "address"),
	BAD("prometheus no address", WITH_TELEMETRY("'telemetry':{'prometheus':':9464'}"),
	    "cluster.json: telemetry.prometheus: \":9464\": expected ADDR:PORT or PORT, ADDR an "
	    "IPv4 address"),
	BAD("prometheus not a string", WITH_TELEMETRY("'telemetry':{'prometheus':9464}"),
	    "cluster.json: telemetry.prometheus: expected a string, got integer"),
	BAD("unknown key in control", WITH_TELEMETRY("'control':{'heartbeat_ms':50}"),
	    "cluster.json: control.heartbeat_ms: unknown key"),
	BAD("control not an object", WITH_TELEMETRY("'control':[]"),
	    "cluster.json: control: expected an object, got array"),
	BAD("k not positive", WITH_JOB(",'sentry':{'policy':'zscore','k':0}"),
	    "cluster.json: jobs[0].sentry.k: 0 is out of range (0, 100]"),
	BAD("suspicion_threshold above 1", WITH_JOB(",'sentry':{'suspicion_threshold':1.5}"),
	    "cluster.json: jobs[0].sentry.suspicion_threshold: 1.5 is out of range (0, 1]"),
	BAD("unknown sentry policy", WITH_JOB(",'sentry':{'policy':'krum'}"),
	    "cluster.json: jobs[0].sentry.policy: \"krum\" is not one of \"none\", \"zscore\", "
	    "\"trimmed_mean\", \"median\", \"clip\""),
	BAD("unknown encoding",
	    WITH_JOB_FULL("'id':1,'elems_per_packet':256,'encoding':'int4'", WORKERS),
	    "cluster.json: jobs[0].encoding: \"int4\" is not one of \"int16\", \"int8\", "
	    "\"float32\""),
	BAD("unknown auth_mac", WITH_JOB(",'auth_mac':'hmac-md5'"),
	    "cluster.json: jobs[0].auth_mac: \"hmac-md5\" is not one of \"siphash\", "
	    "\"polyval-aes\""),
	BAD("auth_mac not a string", WITH_JOB(",'auth_mac':1"),
	    "cluster.json: jobs[0].auth_mac: expected a string, got integer"),
	BAD("unknown result encoding", WITH_JOB(",'result_encoding':'int4'"),
	    "cluster.json: jobs[0].result_encoding: \"int4\" is not one of \"float32\", "
	    "\"int16\", \"int8\""),
	BAD("int8 results with the sink on",
	    CFG(APPLIANCE, PORTS, LCORES,
		"'jobs':[" JOB_WITH(",'result_encoding':'int8'") "],'sink':{}"),
	    "cluster.json: jobs[0].result_encoding: \"int8\" results have an exponent per "
	    "block, which the result sink's consumers do not read: \"float32\" or \"int16\" "
	    "with \"sink\", or no \"sink\""),
	BAD("bad IPv4", WITH_APPLIANCE("'appliance':{'ipv4':'10.0.0.300'}"),
	    "cluster.json: appliance.ipv4: \"10.0.0.300\" is not an IPv4 address"),
	BAD("unspecified IPv4", WITH_APPLIANCE("'appliance':{'ipv4':'0.0.0.0'}"),
	    "cluster.json: appliance.ipv4: \"0.0.0.0\" is the unspecified address"),
	BAD("broadcast IPv4",
	    WITH_WORKERS(WORKER(0, 11) ",{'id':1,'ipv4':'255.255.255.255','key':'" KEY "'}"),
	    "cluster.json: jobs[0].workers[1].ipv4: \"255.255.255.255\" is the broadcast address"),
	BAD("multicast IPv4",
	    WITH_WORKERS(WORKER(0, 11) ",{'id':1,'ipv4':'224.0.0.1','key':'" KEY "'}"),
	    "cluster.json: jobs[0].workers[1].ipv4: \"224.0.0.1\" is a multicast address"),
	BAD("bad MAC", WITH_APPLIANCE("'appliance':{'ipv4':'198.18.0.2','mac':'02:00:00:00:00'}"),
	    "cluster.json: appliance.mac: \"02:00:00:00:00\" is not a MAC address (six hex pairs "
	    "separated by ':')"),
	BAD("multicast MAC",
	    WITH_APPLIANCE("'appliance':{'ipv4':'198.18.0.2','mac':'01:00:5e:00:00:01'}"),
	    "cluster.json: appliance.mac: \"01:00:5e:00:00:01\" is a multicast MAC address"),
	BAD("all-zero MAC",
	    WITH_APPLIANCE("'appliance':{'ipv4':'198.18.0.2','mac':'00:00:00:00:00:00'}"),
	    "cluster.json: appliance.mac: \"00:00:00:00:00:00\" is the all-zero MAC address"),
	BAD("duplicate port device",
	    WITH_PORTS("'ports':[{'device':'net_ring0'},{'device':'net_ring0'}]"),
	    "cluster.json: ports[1].device: \"net_ring0\" duplicates ports[0].device"),
	BAD("duplicate job id",
	    CFG(APPLIANCE, PORTS, LCORES, "'jobs':[" JOB_WITH("") "," JOB_WITH("") "]"),
	    "cluster.json: jobs[1].id: 1 duplicates jobs[0].id"),
	BAD("duplicate worker id", WITH_WORKERS(WORKER(0, 11) "," WORKER(0, 12)),
	    "cluster.json: jobs[0].workers[1].id: 0 duplicates jobs[0].workers[0].id"),
	BAD("duplicate worker IPv4", WITH_WORKERS(WORKER(0, 11) "," WORKER(1, 11)),
	    "cluster.json: jobs[0].workers[1].ipv4: \"198.18.0.11\" duplicates "
	    "jobs[0].workers[0].ipv4"),
	BAD("appliances not an array", WITH_JOB(",'appliances':'198.18.0.2'"),
	    "cluster.json: jobs[0].appliances: expected an array, got string"),
	BAD("appliances empty", WITH_JOB(",'appliances':[]"),
	    "cluster.json: jobs[0].appliances: expected 1..8 entries, got 0"),
	BAD("appliances more than 8",
	    WITH_JOB(",'appliances':['198.18.0.2','198.18.0.3','198.18.0.4','198.18.0.5',"
		     "'198.18.0.6','198.18.0.7','198.18.0.8','198.18.0.9','198.18.0.10']"),
	    "cluster.json: jobs[0].appliances: expected 1..8 entries, got 9"),
	BAD("appliance not a string", WITH_JOB(",'appliances':['198.18.0.2',3]"),
	    "cluster.json: jobs[0].appliances[1]: expected an IPv4 string, got integer"),
	BAD("appliance not an address", WITH_JOB(",'appliances':['198.18.0.2','198.18.0.300']"),
	    "cluster.json: jobs[0].appliances[1]: \"198.18.0.300\" is not an IPv4 address"),
	BAD("appliance listed twice",
	    WITH_JOB(",'appliances':['198.18.0.2','198.18.0.3','198.18.0.2']"),
	    "cluster.json: jobs[0].appliances[2]: \"198.18.0.2\" duplicates "
	    "jobs[0].appliances[0]"),
	BAD("appliances without this box", WITH_JOB(",'appliances':['198.18.0.3','198.18.0.4']"),
	    "cluster.json: jobs[0].appliances: does not list this appliance (appliance.ipv4 "
	    "\"198.18.0.2\"): each box runs its own cluster.json, with its own address among the "
	    "job's appliances"),
	BAD("spine without leaves", WITH_JOB(",'spine':'198.18.0.9'"),
	    "cluster.json: jobs[0].leaves: missing: a hierarchy needs both \"spine\" and "
	    "\"leaves\""),
	BAD("leaves and shards",
	    WITH_JOB(",'spine':'198.18.0.9','appliances':['198.18.0.2'],"
		     "'leaves':[" LEAF(2, 0) "," LEAF(3, 1) "]"),
	    "cluster.json: jobs[0].appliances: a job with leaves and a spine is not sharded too"),
	BAD("one leaf", WITH_JOB(",'spine':'198.18.0.9','leaves':[" LEAF(2, 0) "]"),
	    "cluster.json: jobs[0].leaves: expected 2..16 entries, got 1"),
	BAD("leaf worker unknown",
	    WITH_JOB(",'spine':'198.18.0.9','leaves':[" LEAF(2, 0) "," LEAF(3, 5) "]"),
	    "cluster.json: jobs[0].leaves[1].workers[0]: expected the id of one of the job's "
	    "workers"),
	BAD("leaf worker twice",
	    WITH_JOB(",'spine':'198.18.0.9','leaves':[" LEAF(2, 0) "," LEAF(3, 0) "]"),
	    "cluster.json: jobs[0].leaves[1].workers[0]: worker 0 is in another leaf already"),
	BAD("worker in no leaf",
	    WITH_JOB_FULL(JOB_HEAD ",'spine':'198.18.0.9','leaves':[" LEAF(2, 0) "," LEAF(3, 1) "]",
			  "'workers':[" WORKER(0, 11) "," WORKER(1, 12) "," WORKER(2, 13) "]"),
	    "cluster.json: jobs[0].leaves: worker 2 is in no leaf"),
	BAD("spine is a worker",
	    WITH_JOB(",'spine':'198.18.0.12','leaves':[" LEAF(2, 0) "," LEAF(3, 1) "]"),
	    "cluster.json: jobs[0].spine: \"198.18.0.12\" is worker 1's address"),
	BAD("leaf is spine",
	    WITH_JOB(",'spine':'198.18.0.3','leaves':[" LEAF(2, 0) "," LEAF(3, 1) "]"),
	    "cluster.json: jobs[0].leaves[1].appliance: \"198.18.0.3\" is the job's spine"),
	BAD("leaf twice",
	    WITH_JOB(",'spine':'198.18.0.9','leaves':[" LEAF(2, 0) "," LEAF(2, 1) "]"),
	    "cluster.json: jobs[0].leaves[1].appliance: \"198.18.0.2\" duplicates "
	    "jobs[0].leaves[0].appliance"),
	BAD("box not in tree",
	    WITH_JOB(",'spine':'198.18.0.9','leaves':[" LEAF(4, 0) "," LEAF(3, 1) "]"),
	    "cluster.json: jobs[0].leaves: this appliance (appliance.ipv4 \"198.18.0.2\") is "
	    "neither "
	    "the job's spine nor one of its leaves: each box runs its own cluster.json"),
	BAD("tree quorum",
	    WITH_JOB(",'quorum':1,'spine':'198.18.0.9','leaves':[" LEAF(2, 0) "," LEAF(3, 1) "]"),
	    "cluster.json: jobs[0].quorum: not for a job with leaves: each leaf waits for its own "
	    "workers (straggler.min_quorum counts them)"),
	BAD("tree min_quorum past a leaf",
	    WITH_JOB_FULL(JOB_HEAD ",'straggler':{'min_quorum':3},'spine':'198.18.0.9','leaves':["
				   "{'appliance':'198.18.0.2','key':'" KEY_B
				   "','workers':[0,2]}," LEAF(3, 1) "]",
			  "'workers':[" WORKER(0, 11) "," WORKER(1, 12) "," WORKER(2, 13) "]"),
	    "cluster.json: jobs[0].straggler.min_quorum: 3 is out of range (1..1)"),
	BAD("tree median",
	    WITH_JOB(",'sentry':{'policy':'median'},'spine':'198.18.0.9','leaves':[" LEAF(
		    2, 0) "," LEAF(3, 1) "]"),
	    "cluster.json: jobs[0].sentry: policy median is not for a job with leaves (none or "
	    "zscore: "
	    "each leaf judges its own workers)"),
	BAD("leaf key missing",
	    WITH_JOB(",'spine':'198.18.0.9','leaves':[{'appliance':'198.18.0.2','workers':[0]}"
		     "," LEAF(3, 1) "]"),
	    "cluster.json: jobs[0].leaves[0]: missing required key \"key\""),
	BAD("worker IPv4 is the appliance's", WITH_WORKERS(WORKER(0, 2)),
	    "cluster.json: jobs[0].workers[0].ipv4: \"198.18.0.2\" is the appliance's address"),
	BAD("worker id out of range", WITH_WORKERS(WORKER(64, 11)),
	    "cluster.json: jobs[0].workers[0].id: 64 is out of range (0..63)"),
	BAD_KEY("key too short", WITH_WORKERS(WORKER_KEY(0, 11, "0123456789")),
		"cluster.json: jobs[0].workers[0].key: must be 64 hex digits (32 bytes), got 10 "
		"characters",
		"0123456789"),
	BAD_KEY("key not hexadecimal", WITH_WORKERS(WORKER_KEY(0, 11, NOT_HEX)),
		"cluster.json: jobs[0].workers[0].key: is not hexadecimal", NOT_HEX),
	/*
	 * A key in another field, or as a member name, is named by its length only:
	 * the messages name the field and show none of the key.
	 */
	BAD_KEY("key as a worker's ipv4",
		WITH_WORKERS("{'id':0,'ipv4':'" KEY_C "','key':'" KEY "'}"),
		"cluster.json: jobs[0].workers[0].ipv4: a string of 64 characters is not an IPv4 "
		"address",
		KEY_C),
	BAD_KEY("half a key as a worker's ipv4",
		WITH_WORKERS("{'id':0,'ipv4':'" KEY_C_HALF "','key':'" KEY "'}"),
		"cluster.json: jobs[0].workers[0].ipv4: a string of 32 characters is not an IPv4 "
		"address",
		KEY_C_HALF),
	BAD_KEY("8 digits of a key as a worker's ipv4",
		WITH_WORKERS("{'id':0,'ipv4':'" KEY_C_8 "','key':'" KEY "'}"),
		"cluster.json: jobs[0].workers[0].ipv4: a string of 8 characters is not an IPv4 "
		"address",
		KEY_C_8),
	BAD_KEY("a key in groups as a worker's ipv4",
		WITH_WORKERS("{'id':0,'ipv4':'" KEY_C_GROUPS "','key':'" KEY "'}"),
		"cluster.json: jobs[0].workers[0].ipv4: a string of 39 characters is not an IPv4 "
		"address",
		KEY_C_GROUPS),
	BAD_KEY("key as the appliance's mac",
		WITH_APPLIANCE("'appliance':{'ipv4':'198.18.0.2','mac':'" KEY_C "'}"),
		"cluster.json: appliance.mac: a string of 64 characters is not a MAC address (six "
		"hex pairs separated by ':')",
		KEY_C),
	BAD_KEY("key as an encoding",
		WITH_JOB_FULL("'id':1,'elems_per_packet':256,'encoding':'" KEY_C "'", WORKERS),
		"cluster.json: jobs[0].encoding: a string of 64 characters is not one of "
		"\"int16\", \"int8\", \"float32\"",
		KEY_C),
	BAD_KEY("key as a duplicate device",
		WITH_PORTS("'ports':[{'device':'" KEY_C "'},{'device':'" KEY_C "'}]"),
		"cluster.json: ports[1].device: a string of 64 characters duplicates "
		"ports[0].device",
		KEY_C),
	BAD_KEY("key as prometheus", WITH_TELEMETRY("'telemetry':{'prometheus':'" KEY_C "'}"),
		"cluster.json: telemetry.prometheus: a string of 64 characters: the port is not a "
		"whole number in 0..65535",
		KEY_C),
	BAD_KEY("key as a worker's member name",
		WITH_WORKERS("{'id':0,'ipv4':'198.18.0.11','key':'" KEY "','" KEY_C "':1}"),
		"cluster.json: jobs[0].workers[0]: unknown key: a name of 64 characters", KEY_C),
	BAD_KEY("key as a top-level member name",
		"{" APPLIANCE "," PORTS "," LCORES "," JOBS ",'" KEY_C "':1}",
		"cluster.json: (top level): unknown key: a name of 64 characters", KEY_C),
	BAD("key missing with auth on", WITH_WORKERS("{'id':0,'ipv4':'198.18.0.11'}"),
	    "cluster.json: jobs[0].workers[0]: missing required key \"key\""),
	BAD("missing workers", WITH_JOB_FULL(JOB_HEAD, "'auth':true"),
	    "cluster.json: jobs[0]: missing required key \"workers\""),
	BAD("empty workers", WITH_WORKERS(""),
	    "cluster.json: jobs[0].workers: expected 1..64 entries, got 0"),
	BAD("65 workers", WITH_WORKERS(E8 E8 E8 E8 E8 E8 E8 E8 "{}"),
	    "cluster.json: jobs[0].workers: expected 1..64 entries, got 65"),
	BAD("quorum above the worker count", WITH_JOB(",'quorum':3"),
	    "cluster.json: jobs[0].quorum: 3 is out of range (1..2)"),
	BAD("min_quorum above quorum", WITH_JOB(",'quorum':1,'straggler':{'min_quorum':2}"),
	    "cluster.json: jobs[0].straggler.min_quorum: 2 is out of range (1..1)"),
	BAD("trimmed_mean f too large", WITH_JOB(",'sentry':{'policy':'trimmed_mean','f':1}"),
	    "cluster.json: jobs[0].sentry.f: 1 is too large for 2 workers: trimmed_mean needs 2f < "
	    "2"),
	BAD("int8 elements not a multiple of 32",
	    WITH_JOB_FULL("'id':1,'elems_per_packet':100,'encoding':'int8'", WORKERS),
	    "cluster.json: jobs[0].elems_per_packet: 100 is not a multiple of 32, the int8 block "
	    "size"),
	BAD("results too big for the MTU",
	    WITH_JOB_FULL("'id':1,'elems_per_packet':712,'encoding':'int16'", WORKERS),
	    "cluster.json: jobs[0].elems_per_packet: 712 elements make float32 results of 2924 "
	    "bytes with headers, more than the smallest port MTU (1500): fewer elements, or "
	    "\"result_encoding\": \"int16\" or \"int8\""),
	BAD("int16 results of 8 KB of int8 too big for MTU 9000",
	    CFG(APPLIANCE, JUMBO, LCORES,
		"'jobs':[" JOB_FULL(JOB_8K ",'result_encoding':'int16'", WORKERS) "]"),
	    "cluster.json: jobs[0].elems_per_packet: 8640 elements make int16 results of 17356 "
	    "bytes with headers, more than the smallest port MTU (9000): fewer elements, or "
	    "\"result_encoding\": \"int8\""),
	BAD("elements too big for the MTU",
	    WITH_JOB_FULL("'id':1,'elems_per_packet':1024,'encoding':'int16'", WORKERS),
	    "cluster.json: jobs[0].elems_per_packet: 1024 int16 elements need 2124 bytes with "
	    "headers, "
	    "more than the smallest port MTU (1500)"),
	BAD("missing rx", WITH_LCORES("'lcores':{'control':0}"),
	    "cluster.json: lcores: missing required key \"rx\""),
	BAD("binding without a queue",
	    WITH_LCORES("'lcores':{'control':0,'rx':[{'lcore':1,'port':0}]}"),
	    "cluster.json: lcores.rx[0]: missing required key \"queue\""),
	BAD("RX binding on the control lcore",
	    WITH_LCORES("'lcores':{'control':0,'rx':[" BIND(0, 0, 0) "]}"),
	    "cluster.json: lcores.rx[0].lcore: 0 is the control lcore"),
	BAD("no such port", WITH_LCORES("'lcores':{'control':0,'rx':[" BIND(1, 1, 0) "]}"),
	    "cluster.json: lcores.rx[0].port: no such port: 1 port is configured"),
	BAD("no such queue", WITH_LCORES("'lcores':{'control':0,'rx':[" BIND(1, 0, 1) "]}"),
	    "cluster.json: lcores.rx[0].queue: no such queue: port 0 has 1 RX queue"),
	BAD("queue polled twice",
	    WITH_PORTS_LCORES("'ports':[{'device':'net_ring0','rx_queues':2}]",
			      "'lcores':{'control':0,'rx':[" BIND(1, 0, 0) "," BIND(2, 0, 0) "]}"),
	    "cluster.json: lcores.rx[1]: port 0 queue 0 duplicates lcores.rx[0]"),
	BAD("queue polled by no lcore",
	    WITH_PORTS_LCORES("'ports':[{'device':'net_ring0','rx_queues':2}]", LCORES),
	    "cluster.json: ports[0].rx_queues: queue 1 is polled by no lcore"),
	BAD("too few tx_queues",
	    WITH_PORTS_LCORES("'ports':[{'device':'net_ring0','rx_queues':3,'tx_queues':3}]",
			      "'lcores':{'control':0,'rx':[" BIND(1, 0, 0) "," BIND(
				      2, 0, 1) "," BIND(3, 0, 2) "]}"),
	    "cluster.json: ports[0].tx_queues: 3 TX queues are too few: the 3 RX lcores and the "
	    "control "
	    "lcore need 4"),
	BAD("more RX lcores than TX queues", WITH_PORTS_LCORES(SIXTEEN_QUEUES, SIXTEEN_LCORES),
	    "cluster.json: lcores.rx: 16 RX lcores and the control lcore need 17 TX queues per "
	    "port, "
	    "more than 16"),
	RT("lcore outside the EAL core list",
	   WITH_PORTS_LCORES(PORTS, "'lcores':{'control':0,'rx':[" BIND(3, 0, 0) "]}"),
	   "cluster.json: lcores.rx[0].lcore: lcore 3 is not in the EAL core list (-l/-c/--lcores)",
	   RT_EAL " --file-prefix ainftp-cfgtest-rt"),
	RT("control lcore outside the EAL core list",
	   WITH_PORTS_LCORES(PORTS, "'lcores':{'control':5,'rx':[" BIND(1, 0, 0) "]}"),
	   "cluster.json: lcores.control: lcore 5 is not in the EAL core list (-l/-c/--lcores)",
	   RT_EAL " --file-prefix ainftp-cfgtest-rt"),
	RT("more RX queues than the device has",
	   WITH_PORTS_LCORES("'ports':[{'device':'net_af_packet0','rx_queues':2}]",
			     "'lcores':{'control':0,'rx':[" BIND(1, 0, 0) "," BIND(1, 0, 1) "]}"),
	   "cluster.json: ports[0].rx_queues: 2 exceeds the 1 RX queues of net_af_packet0",
	   RT_EAL_1Q),
	RT("more TX queues than the device has",
	   WITH_PORTS_LCORES("'ports':[{'device':'net_af_packet0'}]", LCORES),
	   "cluster.json: ports[0].tx_queues: 2 needed (one per RX lcore and one for the control "
	   "lcore), more than the 1 TX queues of net_af_packet0",
	   RT_EAL_1Q),
	RT("no such PCI device", WITH_PORTS_LCORES("'ports':[{'device':'0000:99:00.0'}]", LCORES),
	   "cluster.json: ports[0].device: no ethdev \"0000:99:00.0\" (bound to vfio-pci with "
	   "dpdk-devbind.py? not excluded by -a/-b/--no-pci?)",
	   RT_EAL " --file-prefix ainftp-cfgtest-rt"),
	RT("vdev that cannot be created",
	   WITH_PORTS_LCORES("'ports':[{'device':'net_bogus0'}]", LCORES),
	   "cluster.json: ports[0].device: cannot create \"net_bogus0\": no driver of that name, "
	   "or "
	   "wrong arguments (EAL's log line above says which)",
	   RT_EAL " --file-prefix ainftp-cfgtest-rt"),
};

#define N_BAD_CASES ((int)(sizeof(bad_cases) / sizeof(bad_cases[0])))

/* A malloc'd copy of src with every ' turned into ". */
static char *
json_of(const char *src)
{
	char *json = strdup(src);
	char *p;

	ck_assert_ptr_nonnull(json);
	for (p = json; *p != '\0'; p++) {
		if (*p == '\'')
			*p = '"';
	}
	return json;
}

/* Parse src (with ' for "); returns the parser's status, err holds its message. */
static int
parse(const char *src, struct ainftp_config *cfg, char *err)
{
	char *json = json_of(src);
	int rc;

	err[0] = '\0';
	rc = ainftp_config_parse(json, "cluster.json", cfg, err, ERR_LEN);
	free(json);
	return rc;
}

static void
parse_ok(const char *src, struct ainftp_config *cfg)
{
	char err[ERR_LEN];

	ck_assert_msg(parse(src, cfg, err) == 0, "unexpected error: %s", err);
}

static void
assert_key(const uint8_t *key, const char *hex)
{
	unsigned int byte;
	int i;

	for (i = 0; i < AINFTP_KEY_BYTES; i++) {
		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &byte), 1);
		ck_assert_uint_eq(key[i], byte);
	}
}

static void
assert_zero_key(const uint8_t *key)
{
	int i;

	for (i = 0; i < AINFTP_KEY_BYTES; i++)
		ck_assert_uint_eq(key[i], 0);
}

/* Every field set, none at its default, so a default leaking through shows. */
static const char full_config[] =
	"{'appliance':{'ipv4':'10.0.0.1','udp_port':5000,'mac':'02:aa:Bb:cc:dd:0e'},"
	" 'ports':["
	"  {'device':'0000:3b:00.0','rx_queues':2,'tx_queues':4,'mtu':9000,'rx_desc':2048,"
	"   'tx_desc':512},"
	"  {'device':'0000:3b:00.1','rx_queues':1,'tx_queues':3,'mtu':4000,'rx_desc':64,"
	"   'tx_desc':16384}],"
	" 'lcores':{'control':3,'rx':[" BIND(1, 0, 0) "," BIND(2, 0, 1) "," BIND(
		1, 1,
		0) "]},"
		   " 'jobs':["
		   "  {'id':4294967295,'slots':1024,'elems_per_packet':960,'encoding':'float32',"
		   "   'result_encoding':'int16','auth':true,'quorum':3,"
		   "   'straggler':{'threshold_ms':250,'min_quorum':2},"
		   "   'sentry':{'policy':'trimmed_mean','k':2,'f':1,'clip_norm':0.25,"
		   "             'suspicion_threshold':1},"
		   "   'workers':[{'id':5,'ipv4':'10.0.0.11','key':'" KEY_A "'},"
		   "              {'id':63,'ipv4':'10.0.0.12','key':'" KEY_B "'},"
		   "              {'id':0,'ipv4':'10.0.0.13','key':'" KEY_A "'}]},"
		   "  {'id':0,'slots':1,'elems_per_packet':928,'encoding':'int8','auth':false,"
		   "   'sentry':{'policy':'clip','k':7.25},"
		   "   'workers':[{'id':1,'ipv4':'10.0.0.11'}]}],"
		   " 'telemetry':{'enabled':false,'stats_interval_s':0},"
		   " 'control':{'heartbeat_interval_ms':0}}";

START_TEST(test_full)
{
	static const uint8_t mac[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x0e};
	struct ainftp_config cfg;
	const struct ainftp_port_conf *p;
	const struct ainftp_job_conf *j;

	parse_ok(full_config, &cfg);
	ck_assert_str_eq(cfg.source, "cluster.json");
	ck_assert_uint_eq(cfg.ipv4, htonl(0x0a000001));
	ck_assert_uint_eq(((const uint8_t *)&cfg.ipv4)[0], 10);
	ck_assert_uint_eq(((const uint8_t *)&cfg.ipv4)[3], 1);
	ck_assert_uint_eq(cfg.udp_port, 5000);
	ck_assert(cfg.has_mac);
	ck_assert_mem_eq(cfg.mac, mac, sizeof(mac));

	ck_assert_uint_eq(cfg.n_ports, 2);
	p = &cfg.ports[0];
	ck_assert_str_eq(p->device, "0000:3b:00.0");
	ck_assert_uint_eq(p->rx_queues, 2);
	ck_assert_uint_eq(p->tx_queues, 4);
	ck_assert_uint_eq(p->mtu, 9000);
	ck_assert_uint_eq(p->rx_desc, 2048);
	ck_assert_uint_eq(p->tx_desc, 512);
	p = &cfg.ports[1];
	ck_assert_str_eq(p->device, "0000:3b:00.1");
	ck_assert_uint_eq(p->rx_queues, 1);
	ck_assert_uint_eq(p->tx_queues, 3);
	ck_assert_uint_eq(p->mtu, 4000);
	ck_assert_uint_eq(p->rx_desc, 64);
	ck_assert_uint_eq(p->tx_desc, 16384);

	ck_assert_uint_eq(cfg.control_lcore, 3);
	ck_assert_uint_eq(cfg.n_rx, 3);
	ck_assert_uint_eq(cfg.rx[0].lcore, 1);
	ck_assert_uint_eq(cfg.rx[0].port, 0);
	ck_assert_uint_eq(cfg.rx[0].queue, 0);
	ck_assert_uint_eq(cfg.rx[1].lcore, 2);
	ck_assert_uint_eq(cfg.rx[1].port, 0);
	ck_assert_uint_eq(cfg.rx[1].queue, 1);
	ck_assert_uint_eq(cfg.rx[2].lcore, 1);
	ck_assert_uint_eq(cfg.rx[2].port, 1);
	ck_assert_uint_eq(cfg.rx[2].queue, 0);
	ck_assert_uint_eq(ainftp_config_rx_lcore_count(&cfg), 2);
	ck_assert_uint_eq(ainftp_config_tx_queues_needed(&cfg), 3);

	ck_assert_uint_eq(cfg.n_jobs, 2);
	j = &cfg.jobs[0];
	ck_assert_uint_eq(j->id, 4294967295u);
	ck_assert_uint_eq(j->slots, 1024);
	ck_assert_uint_eq(j->elems_per_packet, 960);
	ck_assert_int_eq(j->encoding, AINFTP_ENC_FLOAT32);
	ck_assert_int_eq(j->result_encoding, AINFTP_ENC_INT16);
	ck_assert(j->auth);
	ck_assert_uint_eq(j->quorum, 3);
	ck_assert_uint_eq(j->straggler.threshold_ms, 250);
	ck_assert_uint_eq(j->straggler.min_quorum, 2);
	ck_assert_int_eq(j->sentry.policy, AINFTP_SENTRY_TRIMMED_MEAN);
	ck_assert_double_eq(j->sentry.zscore_k, 2.0);
	ck_assert_uint_eq(j->sentry.trim_f, 1);
	ck_assert_double_eq(j->sentry.clip_norm, 0.25);
	ck_assert_double_eq(j->sentry.suspicion_threshold, 1.0);
	ck_assert_uint_eq(j->n_workers, 3);
	ck_assert_uint_eq(j->workers[0].id, 5);
	ck_assert_uint_eq(j->workers[0].ipv4, htonl(0x0a00000b));
	assert_key(j->workers[0].key, KEY_A);
	ck_assert_uint_eq(j->workers[1].id, 63);
	ck_assert_uint_eq(j->workers[1].ipv4, htonl(0x0a00000c));
	assert_key(j->workers[1].key, KEY_B);
	ck_assert_uint_eq(j->workers[2].id, 0);
	ck_assert_uint_eq(j->workers[2].ipv4, htonl(0x0a00000d));
	assert_key(j->workers[2].key, KEY_A);

	j = &cfg.jobs[1];
	ck_assert_uint_eq(j->id, 0);
	ck_assert_uint_eq(j->slots, 1);
	ck_assert_uint_eq(j->elems_per_packet, 928);
	ck_assert_int_eq(j->encoding, AINFTP_ENC_INT8);
	ck_assert_int_eq(j->result_encoding, AINFTP_ENC_FLOAT32);
	ck_assert(!j->auth);
	ck_assert_uint_eq(j->quorum, 1);
	ck_assert_int_eq(j->sentry.policy, AINFTP_SENTRY_CLIP);
	ck_assert_double_eq(j->sentry.zscore_k, 7.25);
	ck_assert_uint_eq(j->n_workers, 1);
	ck_assert_uint_eq(j->workers[0].id, 1);
	assert_zero_key(j->workers[0].key);

	ck_assert(!cfg.telemetry);
	ck_assert_uint_eq(cfg.stats_interval_s, 0);
	ck_assert_uint_eq(cfg.heartbeat_interval_ms, 0);
}
END_TEST

START_TEST(test_defaults)
{
	struct ainftp_config cfg;
	const struct ainftp_port_conf *p = &cfg.ports[0];
	const struct ainftp_job_conf *j = &cfg.jobs[0];

	parse_ok(MINIMAL, &cfg);
	ck_assert_uint_eq(cfg.ipv4, htonl(0xc6120002));
	ck_assert_uint_eq(cfg.udp_port, AINFTP_DEFAULT_UDP_PORT);
	ck_assert(!cfg.has_mac);
	ck_assert_uint_eq(cfg.n_ports, 1);
	ck_assert_str_eq(p->device, "net_ring0");
	ck_assert_uint_eq(p->rx_queues, 1);
	ck_assert_uint_eq(p->tx_queues, 0);
	ck_assert_uint_eq(p->mtu, 1500);
	ck_assert_uint_eq(p->rx_desc, AINFTP_DEFAULT_DESC);
	ck_assert_uint_eq(p->tx_desc, AINFTP_DEFAULT_DESC);
	ck_assert_uint_eq(cfg.control_lcore, 0);
	ck_assert_uint_eq(cfg.n_rx, 1);
	ck_assert_uint_eq(ainftp_config_tx_queues_needed(&cfg), 2);
	ck_assert_uint_eq(cfg.n_jobs, 1);
	ck_assert_uint_eq(j->id, 1);
	ck_assert_uint_eq(j->slots, AINFTP_DEFAULT_SLOTS);
	ck_assert_uint_eq(j->elems_per_packet, 256);
	ck_assert_int_eq(j->encoding, AINFTP_ENC_INT16);
	ck_assert_int_eq(j->result_encoding, AINFTP_ENC_FLOAT32);
	ck_assert(j->auth);
	ck_assert_int_eq(j->auth_mac, AINFTP_MAC_SIPHASH);
	ck_assert_uint_eq(j->quorum, 2);
	ck_assert_uint_eq(j->straggler.threshold_ms, 500);
	ck_assert_uint_eq(j->straggler.min_quorum, 2);
	ck_assert_int_eq(j->sentry.policy, AINFTP_SENTRY_NONE);
	ck_assert_double_eq(j->sentry.zscore_k, 3.5);
	ck_assert_uint_eq(j->sentry.trim_f, 1);
	ck_assert_double_eq(j->sentry.clip_norm, 1.0);
	ck_assert_double_eq(j->sentry.suspicion_threshold, 0.5);
	ck_assert_uint_eq(j->n_workers, 2);
	assert_key(j->workers[1].key, KEY);
	ck_assert(cfg.telemetry);
	ck_assert_uint_eq(cfg.stats_interval_s, 1);
	ck_assert_uint_eq(cfg.heartbeat_interval_ms, AINFTP_DEFAULT_HEARTBEAT_MS);
}

/* Both ends of the heartbeat interval's range. */
START_TEST(test_heartbeat_interval)
{
	struct ainftp_config cfg;

	parse_ok(WITH_TELEMETRY("'control':{'heartbeat_interval_ms':10}"), &cfg);
	ck_assert_uint_eq(cfg.heartbeat_interval_ms, 10);
	parse_ok(WITH_TELEMETRY("'control':{'heartbeat_interval_ms':10000}"), &cfg);
	ck_assert_uint_eq(cfg.heartbeat_interval_ms, 10000);
	parse_ok(WITH_TELEMETRY("'control':{}"), &cfg);
	ck_assert_uint_eq(cfg.heartbeat_interval_ms, AINFTP_DEFAULT_HEARTBEAT_MS);
}
END_TEST

/* sink: off when absent; present, auto with the default path; every backend by name. */
START_TEST(test_sink)
{
	static const char *const names[] = {"off", "auto", "host", "gpudev", "cuda"};
	static const enum ainftp_sink_backend values[] = {AINFTP_SINK_OFF, AINFTP_SINK_AUTO,
							  AINFTP_SINK_HOST, AINFTP_SINK_GPUDEV,
							  AINFTP_SINK_CUDA};
	struct ainftp_config cfg;
	char json[512];
	unsigned int i;

	parse_ok(MINIMAL, &cfg);
	ck_assert_int_eq(cfg.sink.backend, AINFTP_SINK_OFF);
	parse_ok(WITH_TELEMETRY("'sink':{}"), &cfg);
	ck_assert_int_eq(cfg.sink.backend, AINFTP_SINK_AUTO);
	ck_assert_uint_eq(cfg.sink.device, 0);
	ck_assert_str_eq(cfg.sink.path, "");
	for (i = 0; i < 5; i++) {
		snprintf(json, sizeof(json),
			 WITH_TELEMETRY("'sink':{'backend':'%s','device':3,'path':'/dev/shm/r'}"),
			 names[i]);
		parse_ok(json, &cfg);
		ck_assert_int_eq(cfg.sink.backend, values[i]);
		ck_assert_str_eq(ainftp_sink_backend_name(cfg.sink.backend), names[i]);
		ck_assert_uint_eq(cfg.sink.device, 3);
		ck_assert_str_eq(cfg.sink.path, "/dev/shm/r");
	}
}
END_TEST

/*
 * int8 results: 8 KB of int8 contributions at MTU 9000 (their int16 results
 * would not fit), any element count with other contributions, the sink off.
 */
START_TEST(test_int8_results)
{
	struct ainftp_config cfg;

	parse_ok(CFG(APPLIANCE, JUMBO, LCORES,
		     "'jobs':[" JOB_FULL(JOB_8K ",'result_encoding':'int8'", WORKERS) "]"),
		 &cfg);
	ck_assert_uint_eq(cfg.jobs[0].elems_per_packet, 8640);
	ck_assert_int_eq(cfg.jobs[0].encoding, AINFTP_ENC_INT8);
	ck_assert_int_eq(cfg.jobs[0].result_encoding, AINFTP_ENC_INT8);
	ck_assert_uint_le(ainftp_payload_len(AINFTP_ENC_INT8, 8640) + AINFTP_PKT_OVERHEAD, 9000);
	parse_ok(WITH_JOB_FULL("'id':1,'elems_per_packet':100,'encoding':'float32',"
			       "'result_encoding':'int8'",
			       WORKERS),
		 &cfg);
	ck_assert_int_eq(cfg.jobs[0].result_encoding, AINFTP_ENC_INT8);
	parse_ok(CFG(APPLIANCE, PORTS, LCORES,
		     "'jobs':[" JOB_WITH(",'result_encoding':'int8'") "],'sink':{'backend':'off'}"),
		 &cfg);
	ck_assert_int_eq(cfg.jobs[0].result_encoding, AINFTP_ENC_INT8);
	ck_assert_int_eq(cfg.sink.backend, AINFTP_SINK_OFF);
}
END_TEST

/* auth_mac: SipHash unless given, POLYVAL-AES-128 by its name. */
START_TEST(test_auth_mac)
{
	struct ainftp_config cfg;

	parse_ok(WITH_JOB(",'auth_mac':'polyval-aes'"), &cfg);
	ck_assert_int_eq(cfg.jobs[0].auth_mac, AINFTP_MAC_POLYVAL_AES);
	parse_ok(WITH_JOB(",'auth_mac':'siphash'"), &cfg);
	ck_assert_int_eq(cfg.jobs[0].auth_mac, AINFTP_MAC_SIPHASH);
}
END_TEST

/* telemetry.prometheus: off unless given; a port alone listens on 127.0.0.1. */
START_TEST(test_prometheus)
{
	struct ainftp_config cfg;

	parse_ok(WITH_TELEMETRY("'telemetry':{}"), &cfg);
	ck_assert(!cfg.prometheus);
	parse_ok(WITH_TELEMETRY("'telemetry':{'prometheus':'9464'}"), &cfg);
	ck_assert(cfg.prometheus);
	ck_assert_uint_eq(cfg.prometheus_ipv4, htonl(0x7f000001));
	ck_assert_uint_eq(cfg.prometheus_port, 9464);
	parse_ok(WITH_TELEMETRY("'telemetry':{'prometheus':'0.0.0.0:65535'}"), &cfg);
	ck_assert_uint_eq(cfg.prometheus_ipv4, 0);
	ck_assert_uint_eq(cfg.prometheus_port, 65535);
}
END_TEST

/* Keys are optional without authentication, and min_quorum follows a given quorum. */
START_TEST(test_auth_off)
{
	struct ainftp_config cfg;

	parse_ok(WITH_JOB_FULL(JOB_HEAD ",'auth':false,'quorum':1",
			       "'workers':[{'id':0,'ipv4':'198.18.0.11'}," WORKER(1, 12) "]"),
		 &cfg);
	ck_assert(!cfg.jobs[0].auth);
	assert_zero_key(cfg.jobs[0].workers[0].key);
	assert_key(cfg.jobs[0].workers[1].key, KEY);
	ck_assert_uint_eq(cfg.jobs[0].quorum, 1);
	ck_assert_uint_eq(cfg.jobs[0].straggler.min_quorum, 1);
}
END_TEST

/* min_quorum defaults to a majority of quorum: 3 of 5, 2 of 2. */
START_TEST(test_min_quorum_default)
{
#define FIVE                                                                        \
	"'workers':[" WORKER(0, 11) "," WORKER(1, 12) "," WORKER(2, 13) "," WORKER( \
		3, 14) "," WORKER(4, 15) "]"
	struct ainftp_config cfg;

	parse_ok(WITH_JOB_FULL(JOB_HEAD, FIVE), &cfg);
	ck_assert_uint_eq(cfg.jobs[0].quorum, 5);
	ck_assert_uint_eq(cfg.jobs[0].straggler.min_quorum, 3);
	parse_ok(WITH_JOB_FULL(JOB_HEAD ",'quorum':2", FIVE), &cfg);
	ck_assert_uint_eq(cfg.jobs[0].straggler.min_quorum, 2);
#undef FIVE
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(ainftp_encoding_name(AINFTP_ENC_INT16), "int16");
	ck_assert_str_eq(ainftp_encoding_name(AINFTP_ENC_INT8), "int8");
	ck_assert_str_eq(ainftp_encoding_name(AINFTP_ENC_FLOAT32), "float32");
	ck_assert_str_eq(ainftp_sentry_name(AINFTP_SENTRY_NONE), "none");
	ck_assert_str_eq(ainftp_sentry_name(AINFTP_SENTRY_ZSCORE), "zscore");
	ck_assert_str_eq(ainftp_sentry_name(AINFTP_SENTRY_TRIMMED_MEAN), "trimmed_mean");
	ck_assert_str_eq(ainftp_sentry_name(AINFTP_SENTRY_MEDIAN), "median");
	ck_assert_str_eq(ainftp_sentry_name(AINFTP_SENTRY_CLIP), "clip");
}
END_TEST

static void
load_ok(const char *name, struct ainftp_config *cfg)
{
	char path[512];
	char err[ERR_LEN];

	snprintf(path, sizeof(path), "%s/config/%s", AINFTP_SRCDIR, name);
	ck_assert_msg(ainftp_config_load(path, cfg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(cfg->source, path);
}

START_TEST(test_loopback_json)
{
	struct ainftp_config cfg;

	load_ok("loopback.json", &cfg);
	ck_assert_str_eq(cfg.ports[0].device, "net_ring0");
	ck_assert_uint_eq(cfg.n_rx, 1);
	ck_assert_uint_eq(cfg.n_jobs, 1);
	ck_assert_uint_eq(cfg.jobs[0].n_workers, 4);
	ck_assert_uint_eq(cfg.jobs[0].workers[3].ipv4, htonl(0xc612000e));
}
END_TEST

START_TEST(test_cluster_example_json)
{
	struct ainftp_config cfg;

	load_ok("cluster.example.json", &cfg);
	ck_assert_uint_eq(cfg.n_ports, 2);
	ck_assert_uint_eq(cfg.n_rx, 7);
	ck_assert_uint_eq(ainftp_config_rx_lcore_count(&cfg), 7);
	ck_assert_uint_eq(cfg.n_jobs, 2);
	ck_assert_uint_eq(cfg.jobs[0].n_workers + cfg.jobs[1].n_workers, 32);
	ck_assert_int_eq(cfg.sink.backend, AINFTP_SINK_AUTO);
	ck_assert(cfg.prometheus);
	ck_assert_uint_eq(cfg.prometheus_port, 9464);
	ck_assert_uint_eq(cfg.prometheus_ipv4, 0);
}
END_TEST

/* No 4 characters of the secret in a row may appear in the message. */
static void
assert_no_secret(const char *err, const char *secret)
{
	char window[5] = "";
	size_t i;

	for (i = 0; i + 4 <= strlen(secret); i++) {
		memcpy(window, secret + i, 4);
		ck_assert_msg(strstr(err, window) == NULL, "message shows key text: %s", err);
	}
}

START_TEST(test_bad_case)
{
	const struct bad_case *bc = &bad_cases[_i];
	struct ainftp_config cfg;
	char err[ERR_LEN];

	if (bc->eal_args != NULL) {
		ck_assert_msg(parse(bc->json, &cfg, err) == 0, "%s: %s", bc->name, err);
		return;
	}
	ck_assert_msg(parse(bc->json, &cfg, err) == -1, "%s: accepted", bc->name);
	ck_assert_msg(strcmp(err, bc->expected) == 0, "%s:\n got      \"%s\"\n expected \"%s\"",
		      bc->name, err, bc->expected);
	if (bc->secret != NULL)
		assert_no_secret(err, bc->secret);
}
END_TEST

START_TEST(test_messages_distinct)
{
	int i, j;

	for (i = 0; i < N_BAD_CASES; i++) {
		for (j = 0; j < i; j++)
			ck_assert_msg(strcmp(bad_cases[i].expected, bad_cases[j].expected) != 0,
				      "\"%s\" and \"%s\" expect the same message",
				      bad_cases[i].name, bad_cases[j].name);
	}
}
END_TEST

static void
write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void
assert_load_fails(const char *path, const char *problem)
{
	struct ainftp_config cfg;
	char err[ERR_LEN];
	char expected[ERR_LEN];

	snprintf(expected, sizeof(expected), "%s%s", path, problem);
	ck_assert_int_eq(ainftp_config_load(path, &cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, expected);
}

START_TEST(test_load_errors)
{
	char dir[] = "/tmp/ainftp-cfgtest-XXXXXX";
	char file[] = "/tmp/ainftp-cfgtest-XXXXXX";
	char missing[64];
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	fd = mkstemp(file);
	ck_assert_int_ge(fd, 0);
	close(fd);
	assert_load_fails(file, ":1:0: JSON syntax error: '[' or '{' expected near end of file");
	write_file(file, "{}\0{}", 5);
	assert_load_fails(file, ":1:3: JSON syntax error: end of file expected near end of file");
	assert_load_fails(dir, ": cannot read: Is a directory");
	snprintf(missing, sizeof(missing), "%s/none.json", dir);
	assert_load_fails(missing, ": cannot read: No such file or directory");
	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* Exactly 1 MiB loads; one byte more is refused before parsing. */
START_TEST(test_load_size_limit)
{
	char file[] = "/tmp/ainftp-cfgtest-XXXXXX";
	size_t max = 1024 * 1024;
	char *json = json_of(MINIMAL);
	char *buf = malloc(max + 1);
	struct ainftp_config cfg;
	char err[ERR_LEN];
	int fd;

	ck_assert_ptr_nonnull(buf);
	memset(buf, ' ', max + 1);
	memcpy(buf, json, strlen(json));
	fd = mkstemp(file);
	ck_assert_int_ge(fd, 0);
	close(fd);
	write_file(file, buf, max);
	ck_assert_msg(ainftp_config_load(file, &cfg, err, sizeof(err)) == 0, "%s", err);
	write_file(file, buf, max + 1);
	assert_load_fails(file, ": larger than 1 MiB");
	ck_assert_int_eq(unlink(file), 0);
	free(buf);
	free(json);
}
END_TEST

/* Split args at spaces into argv from *n on; args is modified. */
static void
split_args(char *args, char **argv, int *n)
{
	char *save = NULL;
	char *tok;

	for (tok = strtok_r(args, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
		ck_assert_int_lt(*n, APP_MAX_ARGS - 4);
		argv[(*n)++] = tok;
	}
}

static void
exec_app(char **argv, int stderr_fd)
{
	int null_fd = open("/dev/null", O_RDWR);

	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(null_fd, STDOUT_FILENO) < 0 ||
	    dup2(stderr_fd, STDERR_FILENO) < 0)
		_exit(127);
	/* The alarm survives exec: an app that hangs is killed, not waited on forever. */
	alarm(APP_TIMEOUT_S);
	execvp(argv[0], argv);
	fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Run argv; *out gets its stderr (cut at APP_STDERR_MAX), the result is its wait status. */
static int
run_app(char **argv, char *out)
{
	size_t len = 0;
	ssize_t got;
	char sink[4096];
	int fds[2];
	int status;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		exec_app(argv, fds[1]);
	}
	close(fds[1]);
	/* Read to the end even past the cap, so the app never blocks on a full pipe. */
	do {
		if (len < APP_STDERR_MAX)
			got = read(fds[0], out + len, APP_STDERR_MAX - len);
		else
			got = read(fds[0], sink, sizeof(sink));
		if (got > 0 && len < APP_STDERR_MAX)
			len += (size_t)got;
	} while (got > 0 || (got < 0 && errno == EINTR));
	out[len] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		ck_assert_int_eq(errno, EINTR);
	return status;
}

static bool
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *end;

	for (;;) {
		end = strchr(text, '\n');
		if ((end == NULL ? strlen(text) : (size_t)(end - text)) == n &&
		    strncmp(text, line, n) == 0)
			return true;
		if (end == NULL)
			return false;
		text = end + 1;
	}
}

START_TEST(test_app_case)
{
	const struct bad_case *bc = &bad_cases[_i];
	char dir[] = "/tmp/ainftp-cfgtest-XXXXXX";
	char path[64];
	char eal[512];
	char expected[ERR_LEN + 64];
	char *argv[APP_MAX_ARGS];
	char *json = json_of(bc->json);
	char *out = malloc(APP_STDERR_MAX + 1);
	int argc = 0;
	int status;

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cluster.json", dir);
	write_file(path, json, strlen(json));
	if (bc->eal_args != NULL)
		snprintf(eal, sizeof(eal), "%s", bc->eal_args);
	else
		snprintf(eal, sizeof(eal),
			 "-l 0-1 --no-huge -m 64 --no-pci --no-shconf --file-prefix "
			 "ainftp-cfgtest-%d --log-level=lib.eal:error",
			 (int)getpid());
	argv[argc++] = getenv("AINFTP_APP");
	split_args(eal, argv, &argc);
	argv[argc++] = "--";
	argv[argc++] = "-c";
	argv[argc++] = path;
	argv[argc] = NULL;

	status = run_app(argv, out);
	unlink(path);
	rmdir(dir);
	/* The table's messages name "cluster.json"; the app names the path it was given. */
	snprintf(expected, sizeof(expected), "%s/%s", dir, bc->expected);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == AINFTP_EXIT_CONFIG,
		      "%s: wait status 0x%x, expected exit code %d; stderr:\n%s", bc->name, status,
		      AINFTP_EXIT_CONFIG, out);
	ck_assert_msg(has_line(out, expected), "%s: stderr lacks the line\n%s\nstderr:\n%s",
		      bc->name, expected, out);
	free(out);
	free(json);
}
END_TEST

START_TEST(test_app_not_set)
{
	ck_abort_msg("AINFTP_APP is not set: set it to the ainftp-app binary so that the "
		     "malformed-config table also runs against the app");
}
END_TEST

/* A box is a leaf or the spine of a hierarchical job; its own view keeps its workers, or the
 * leaves. */
START_TEST(test_hierarchy)
{
	struct ainftp_config cfg;
	const struct ainftp_job_conf *j;

	parse_ok(WITH_JOB_FULL(JOB_HEAD ",'spine':'198.18.0.9','leaves':[{'appliance':'198.18.0.2',"
					"'key':'" KEY_B "','workers':[0,2]}," LEAF(3, 1) "]",
			       "'workers':[" WORKER(0, 11) "," WORKER(1, 12) "," WORKER(2, 13) "]"),
		 &cfg);
	j = &cfg.jobs[0];
	ck_assert_int_eq(j->role, AINFTP_ROLE_LEAF);
	ck_assert_uint_eq(j->leaf_index, 0);
	ck_assert_uint_eq(j->n_leaves, 2);
	ck_assert_uint_eq(j->leaves[0].workers, 0x5);
	ck_assert_uint_eq(j->leaves[1].workers, 0x2);
	ck_assert_uint_eq(j->n_workers, 3); /* the whole job, for clients */
	ck_assert_int_eq(ainftp_config_leaf_of(j, 1), 1);
	ck_assert_int_eq(ainftp_config_leaf_of(j, 2), 0);
	ck_assert_int_eq(ainftp_config_leaf_of(j, 7), -1);
	ainftp_config_box_view(&cfg);
	ck_assert_uint_eq(j->n_workers, 2);
	ck_assert_uint_eq(j->workers[0].id, 0);
	ck_assert_uint_eq(j->workers[1].id, 2);
	ck_assert_uint_eq(j->quorum, 2);
	ck_assert_uint_eq(j->straggler.min_quorum, 2);

	/* The spine's contributors are the leaves, all of them always. */
	parse_ok(WITH_JOB(",'spine':'198.18.0.2','sentry':{'policy':'zscore'},'leaves':[" LEAF(
			 4, 0) "," LEAF(3, 1) "]"),
		 &cfg);
	j = &cfg.jobs[0];
	ck_assert_int_eq(j->role, AINFTP_ROLE_SPINE);
	ainftp_config_box_view(&cfg);
	ck_assert_uint_eq(j->n_workers, 2);
	ck_assert_uint_eq(j->workers[1].id, 1);
	ck_assert_uint_eq(j->workers[1].ipv4, htonl(0xc6120003));
	ck_assert_uint_eq(j->quorum, 2);
	ck_assert_uint_eq(j->straggler.min_quorum, 2);
	ck_assert_int_eq(j->sentry.policy, AINFTP_SENTRY_NONE);

	/* At MTU 1500 a frame carries 5 blocks of a partial: the 256-element job's 8 take 2. */
	ck_assert_uint_eq(ainftp_hier_bpp(1500), 5);
	ck_assert_uint_eq(ainftp_hier_parts(j, 1500), 2);
}
END_TEST

/* A box finds its shard as its own place in the job's list; without a list it is the only one. */
START_TEST(test_appliances)
{
	struct ainftp_config cfg;
	const struct ainftp_job_conf *j;

	parse_ok(MINIMAL, &cfg);
	j = &cfg.jobs[0];
	ck_assert_uint_eq(j->shard_count, 1);
	ck_assert_uint_eq(j->shard_index, 0);
	ck_assert_uint_eq(j->appliances[0], cfg.ipv4);

	parse_ok(WITH_JOB(",'appliances':['198.18.0.7','198.18.0.2','198.18.0.9']"), &cfg);
	j = &cfg.jobs[0];
	ck_assert_uint_eq(j->shard_count, 3);
	ck_assert_uint_eq(j->shard_index, 1);
	ck_assert_uint_eq(j->appliances[0], htonl(0xc6120007));
	ck_assert_uint_eq(j->appliances[1], htonl(0xc6120002));
	ck_assert_uint_eq(j->appliances[2], htonl(0xc6120009));

	parse_ok(WITH_JOB(",'appliances':['198.18.0.2']"), &cfg);
	ck_assert_uint_eq(cfg.jobs[0].shard_count, 1);
	ck_assert_uint_eq(cfg.jobs[0].shard_index, 0);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("valid");
	TCase *bad = tcase_create("malformed");
	TCase *load = tcase_create("load");
	TCase *app = tcase_create("app");

	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_heartbeat_interval);
	tcase_add_test(tc, test_prometheus);
	tcase_add_test(tc, test_sink);
	tcase_add_test(tc, test_int8_results);
	tcase_add_test(tc, test_auth_mac);
	tcase_add_test(tc, test_auth_off);
	tcase_add_test(tc, test_min_quorum_default);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_loopback_json);
	tcase_add_test(tc, test_cluster_example_json);
	tcase_add_test(tc, test_appliances);
	tcase_add_test(tc, test_hierarchy);
	suite_add_tcase(s, tc);

	tcase_add_loop_test(bad, test_bad_case, 0, N_BAD_CASES);
	tcase_add_test(bad, test_messages_distinct);
	suite_add_tcase(s, bad);

	tcase_add_test(load, test_load_errors);
	tcase_add_test(load, test_load_size_limit);
	suite_add_tcase(s, load);

	/* Each app run gets its own timeout; the alarm in exec_app fires first. */
	tcase_set_timeout(app, APP_TIMEOUT_S + 10);
	if (getenv("AINFTP_APP") != NULL)
		tcase_add_loop_test(app, test_app_case, 0, N_BAD_CASES);
	else
		tcase_add_test(app, test_app_not_set);
	suite_add_tcase(s, app);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
