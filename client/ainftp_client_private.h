/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_CLIENT_PRIV_H
#define AINFTP_CLIENT_PRIV_H

/* What the client library's files share; not installed. */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "ainftp_client.h"
#include "ainftp_config.h"
#include "ainftp_proto.h"

enum ainftp_gso_mode { AINFTP_GSO_OFF, AINFTP_GSO_ON, AINFTP_GSO_AUTO };

struct ainftp_opts {
	uint32_t appliance; /* network byte order */
	bool has_appliance;
	uint16_t port;
	uint16_t lanes;
	uint32_t bind; /* network byte order; 0: any */
	uint16_t bind_port;
	uint32_t job;
	bool has_job;
	int worker; /* -1: not set */
	uint8_t key[AINFTP_KEY_BYTES];
	bool has_key;
	bool auth;
	uint32_t elems;
	int encoding; /* enum ainftp_wire_encoding; -1: not set */
	int result_encoding;
	uint32_t slots;
	uint32_t window; /* 0: slots */
	uint32_t first_step;
	bool has_first_step; /* set: no step from the appliance's HELLO_ACK */
	uint32_t rto_us;
	uint32_t rto_min_us;
	uint32_t rto_max_us;
	uint32_t timeout_ms;
	uint32_t sockbuf;
	int gso; /* enum ainftp_gso_mode */
	uint32_t simd_bits;
};

/* CLOCK_MONOTONIC in nanoseconds: the engine's timers and the join's. */
static inline uint64_t
ainftp_client_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Set this thread's ainftp_last_error(); the _status form returns status. */
void ainftp_client_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int ainftp_client_seterr_status(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* What the join learnt from the appliance. */
struct ainftp_join {
	uint32_t step;	  /* where to start */
	bool result_tags; /* the job tags its results (auth on, cluster.json result_tags) */
};

/*
 * The join handshake on fd (bound, not connected): 0 and what the appliance
 * said, or a negative status with the error set.
 */
int ainftp_client_hello(const struct ainftp_opts *o, const struct ainftp_mac_key *mk, int fd,
			struct ainftp_join *j);

/* Zero memory that held a key, in a way the compiler keeps. */
void ainftp_client_wipe(void *p, size_t n);

#endif
