/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_CLIENT_XDP_H
#define AINFTP_CLIENT_XDP_H

/*
 * One box engine's AF_XDP path (option xdp=on): an AF_XDP socket on RX queue 0
 * of the interface that holds the worker's address, fed by the library's own
 * XDP program (client/ainftp_xdp.bpf.c), which takes only UDP datagrams to
 * that address and port and leaves the rest to the kernel. The engine's kernel
 * UDP socket stays open: it holds the port, carries the join, and takes what
 * the program passes on. Datagrams go out as whole Ethernet frames built here
 * (IPv4, DF, UDP checksum 0) to the appliance's MAC as the kernel learnt it
 * during the join. Not thread-safe: the engine thread alone uses it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ainftp_xdp;

struct ainftp_xdp_params {
	uint32_t local;	  /* network byte order; 0: the address the kernel routes peer from */
	uint16_t port;	  /* network byte order: the engine's bound UDP port */
	uint32_t peer;	  /* network byte order: the appliance */
	size_t dgram_max; /* the largest UDP payload either way */
};

/* A datagram taken from the RX ring; p stays valid until ainftp_xdp_rx_done. */
struct ainftp_xdp_dgram {
	uint8_t *p; /* the UDP payload, writable */
	size_t len;
	uint32_t from;	    /* network byte order */
	uint16_t from_port; /* network byte order */
};

/* The largest UDP payload an AF_XDP frame of this path holds. */
size_t ainftp_xdp_dgram_limit(void);

/* NULL, with why set to a reason a person can act on, when the path cannot be used. */
struct ainftp_xdp *ainftp_xdp_open(const struct ainftp_xdp_params *p, char *why, size_t n);
void ainftp_xdp_close(struct ainftp_xdp *x);
/* POLLIN on it: the RX ring has datagrams. */
int ainftp_xdp_fd(const struct ainftp_xdp *x);
/* The program runs in the driver (native XDP), not on the kernel's generic path. */
bool ainftp_xdp_native(const struct ainftp_xdp *x);

/*
 * Queue n datagrams of len bytes each, pl[i] to UDP port dport[i] (network
 * byte order) of the appliance, and tell the kernel. Returns how many were
 * queued (from the first on): fewer when the TX ring or its frames are full,
 * and the rest are left to the engine's retransmission timers, as a full
 * socket buffer is. -1 with errno when the kernel refused the kick.
 */
int ainftp_xdp_send(struct ainftp_xdp *x, const uint8_t *const *pl, const uint16_t *dport,
		    size_t len, unsigned int n);

/*
 * Up to n datagrams from the RX ring, checked (Ethernet to this MAC, IPv4
 * without options or fragments, to this address and port, lengths and
 * checksums right); frames that fail are given back and counted in *bad.
 * Then ainftp_xdp_rx_done once the datagrams are read.
 */
unsigned int ainftp_xdp_recv(struct ainftp_xdp *x, struct ainftp_xdp_dgram *d, unsigned int n,
			     uint64_t *bad);
void ainftp_xdp_rx_done(struct ainftp_xdp *x);

#endif
