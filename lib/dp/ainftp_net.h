/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_NET_H
#define AINFTP_NET_H

/*
 * Just enough L2/L3 for kernel peers to reach the appliance: ARP and ICMP echo
 * for its address, answered in place in the received mbuf; peers' MACs learnt
 * from ARP and from pings addressed to us (workers: by the data path, from
 * authenticated packets); everything else dropped and
 * counted by reason. UDP to the appliance's port is handed to the data path.
 */

#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "ainftp_config.h"
#include "ainftp_counters.h"

#define AINFTP_NEIGH_SIZE 1024 /* power of two, > 2x the largest worker set */
#define AINFTP_NEIGH_PROBE 8
#define AINFTP_REPLY_TTL 64

/*
 * A learnt peer. One writer (the owning lcore); other lcores may read: the
 * address is cleared before the value changes and set after, so a reader that
 * sees the same address before and after reading the value has a consistent pair.
 */
struct ainftp_neigh {
	uint32_t ipv4; /* network byte order; 0 = empty */
	uint32_t port_idx;
	uint64_t mac; /* 48 bits, in wire order in the low bytes */
};

struct ainftp_neigh_table {
	struct ainftp_neigh e[AINFTP_NEIGH_SIZE];
};

/* What one RX lcore knows of the network; read-only after setup, but for neigh. */
struct ainftp_net {
	uint32_t ipv4;	   /* network byte order */
	uint16_t udp_port; /* network byte order: lane 0's port, lane q is udp_port + q */
	uint16_t n_ports;
	uint16_t lanes[AINFTP_MAX_PORTS];	     /* RX queues per port */
	struct rte_ether_addr mac[AINFTP_MAX_PORTS]; /* our source address per port */
	struct ainftp_neigh_table neigh;
};

enum ainftp_verdict {
	AINFTP_VERDICT_DROP,	 /* counted; the caller frees it */
	AINFTP_VERDICT_CONSUMED, /* learnt from, nothing to send; the caller frees it */
	AINFTP_VERDICT_REPLY,	 /* rewritten in place: send it back out the same port */
	AINFTP_VERDICT_DATA,	 /* UDP to one of our lanes' ports: for the data path */
};

void ainftp_net_init(struct ainftp_net *net, const struct ainftp_config *cfg,
		     const struct rte_ether_addr *port_macs, uint16_t n_ports);

enum ainftp_verdict ainftp_net_input(struct ainftp_net *net, uint16_t port_idx, struct rte_mbuf *m,
				     struct ainftp_port_ctr *ctr);

/* Frames ainftp builds: Ethernet, IPv4 without options, UDP, for UDP payload bytes after them. */
#define AINFTP_UDP_HDRS_LEN (RTE_ETHER_HDR_LEN + 20 + 8)

/*
 * Those headers at p: DF set, TTL 64, the IPv4 checksum computed, the UDP
 * checksum 0 (optional in IPv4; ainftp's MAC covers its own bytes). Addresses
 * and ports in network byte order.
 */
void ainftp_udp_headers(void *p, const struct rte_ether_addr *src, const struct rte_ether_addr *dst,
			uint32_t src_ip, uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
			uint16_t udp_payload);

/* An ARP request frame (broadcast, padded to the Ethernet minimum) for tip, from src. */
#define AINFTP_ARP_FRAME_LEN 60
void ainftp_arp_request(void *p, const struct rte_ether_addr *src, uint32_t src_ip, uint32_t tip);

void ainftp_neigh_learn(struct ainftp_neigh_table *t, uint32_t ipv4,
			const struct rte_ether_addr *mac, uint16_t port_idx);
/* 0 and the peer's MAC and port when known, -1 otherwise. */
int ainftp_neigh_lookup(const struct ainftp_neigh_table *t, uint32_t ipv4,
			struct rte_ether_addr *mac, uint16_t *port_idx);

#endif
