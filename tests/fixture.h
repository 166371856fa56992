/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_TEST_FIXTURE_H
#define AINFTP_TEST_FIXTURE_H

/*
 * One EAL per test process, and an appliance built through the app's own path
 * (config parse, ports setup, lcores setup) on a net_ring port whose rings the
 * test holds: frames enqueued on `in` are what the port receives, and what the
 * RX lcore transmits lands on `out`.
 */

#include <stdint.h>

#include <rte_mempool.h>
#include <rte_ring.h>

#include "ainftp_config.h"
#include "ainftp_proto.h"
#include "ainftp_ringpair.h"
#include "ainftp_runtime.h"

#define FIX_RX_LCORE 1
#define FIX_IP "198.18.0.2"
#define FIX_MAC                                    \
	{                                          \
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02 \
	}
#define FIX_UDP_PORT 47474

struct fixture {
	struct ainftp_config cfg;
	struct ainftp_runtime rt;
	struct ainftp_ringpair rp; /* the port's rings (no peer port: the test is the peer) */
	struct rte_ring *in;	   /* RX queue 0 */
	struct rte_ring *in1;	   /* RX queue 1, when the config's port has two */
	struct rte_ring *out, *ctrl_out;
	struct rte_mempool *pool; /* the test's own, for frames it injects */
};

/* EAL with --no-huge, lcores 0-1; telemetry on when asked. Aborts on failure. */
void fixture_eal_init(const char *prog, int telemetry);

/*
 * Run a Check suite in this process, in the EAL it already has (one per
 * process: not in forked children), then clean EAL up. The exit status.
 */
struct Suite;
int fixture_run(struct Suite *s);

/* Build the appliance on a fresh ring port. Aborts on failure. */
void fixture_up(struct fixture *f);
/* The same with a cluster.json of the test's own (its port must be "net_ring_fix"). */
void fixture_up_json(struct fixture *f, const char *json);
/* Tear it down; fails the test if a frame the lcores took in is in no outcome or in two. */
void fixture_down(struct fixture *f);
/* Port 0's frames in no outcome, summed over the lcores (0: all accounted for). */
int64_t fixture_unaccounted(void);

/* Inject a frame, run one RX poll, return how many frames came out (copied to out). */
unsigned int fixture_roundtrip(struct fixture *f, const void *frame, uint16_t len, uint8_t *reply,
			       uint16_t *reply_len);

/* Inject a frame and run one RX poll; what came out stays on f->out. */
void fixture_inject(struct fixture *f, const void *frame, uint16_t len);
/* The same on RX queue 1 (a two-lane port). */
void fixture_inject_q1(struct fixture *f, const void *frame, uint16_t len);

/* Big-endian 16 bits at p; the RFC 1071 checksum of the 20 bytes of an IPv4 header. */
void fixture_put16(uint8_t *p, uint16_t v);
uint16_t fixture_ip_csum(const uint8_t *p);

/*
 * A DATA (or other ainftp) frame from worker m->worker to the fixture's
 * appliance: Ethernet / IPv4 / UDP / header / payload (already in wire order)
 * / tag under key. The worker is at 198.18.0.(11 + worker), MAC
 * 02:00:00:00:00:(10 + worker), UDP port 40000 + worker. Returns its length.
 */
size_t fixture_data_frame(uint8_t *f, const struct ainftp_msg *m, const void *payload,
			  uint16_t payload_len, const uint8_t *key);

#endif
