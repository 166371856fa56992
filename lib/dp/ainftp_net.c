/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "ainftp_net.h"

/* Frames shorter than this (without FCS) must be padded on the wire. */
#define AINFTP_MIN_FRAME (RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN)

void
ainftp_net_init(struct ainftp_net *net, const struct ainftp_config *cfg,
		const struct rte_ether_addr *port_macs, uint16_t n_ports)
{
	memset(net, 0, sizeof(*net));
	net->ipv4 = cfg->ipv4;
	net->udp_port = rte_cpu_to_be_16(cfg->udp_port);
	net->n_ports = n_ports;
	memcpy(net->mac, port_macs, n_ports * sizeof(*port_macs));
}

static inline uint64_t
mac_pack(const struct rte_ether_addr *mac)
{
	uint64_t v = 0;

	memcpy(&v, mac->addr_bytes, RTE_ETHER_ADDR_LEN);
	return v;
}

static inline uint32_t
neigh_hash(uint32_t ipv4)
{
	/* Fibonacci hashing spreads consecutive addresses over the table. */
	return (uint32_t)(ipv4 * 2654435761u) >> (32 - 10);
}

_Static_assert(AINFTP_NEIGH_SIZE == 1 << 10, "neigh_hash assumes 1024 entries");

void
ainftp_neigh_learn(struct ainftp_neigh_table *t, uint32_t ipv4, const struct rte_ether_addr *mac,
		   uint16_t port_idx)
{
	uint32_t h = neigh_hash(ipv4), i, empty = UINT32_MAX;
	struct ainftp_neigh *e;

	for (i = 0; i < AINFTP_NEIGH_PROBE; i++) {
		e = &t->e[(h + i) & (AINFTP_NEIGH_SIZE - 1)];
		if (e->ipv4 == ipv4) {
			/* Same address: only the value changes; skip the store if equal. */
			if (e->mac != mac_pack(mac) || e->port_idx != port_idx)
				goto replace;
			return;
		}
		if (e->ipv4 == 0 && empty == UINT32_MAX)
			empty = i;
	}
	/* Full neighbourhood: evict the home entry (the table is sized so this is rare). */
	e = &t->e[(h + (empty == UINT32_MAX ? 0 : empty)) & (AINFTP_NEIGH_SIZE - 1)];
replace:
	/* Seqlock-style: readers see the address change around the value. */
	__atomic_store_n(&e->ipv4, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&e->mac, mac_pack(mac), __ATOMIC_RELAXED);
	__atomic_store_n(&e->port_idx, port_idx, __ATOMIC_RELAXED);
	__atomic_store_n(&e->ipv4, ipv4, __ATOMIC_RELEASE);
}

int
ainftp_neigh_lookup(const struct ainftp_neigh_table *t, uint32_t ipv4, struct rte_ether_addr *mac,
		    uint16_t *port_idx)
{
	uint32_t h = neigh_hash(ipv4), i;
	const struct ainftp_neigh *e;
	uint64_t v;
	uint32_t p;

	if (ipv4 == 0)
		return -1;
	for (i = 0; i < AINFTP_NEIGH_PROBE; i++) {
		e = &t->e[(h + i) & (AINFTP_NEIGH_SIZE - 1)];
		if (__atomic_load_n(&e->ipv4, __ATOMIC_ACQUIRE) != ipv4)
			continue;
		v = __atomic_load_n(&e->mac, __ATOMIC_RELAXED);
		p = __atomic_load_n(&e->port_idx, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&e->ipv4, __ATOMIC_RELAXED) != ipv4)
			return -1; /* rewritten under us */
		memcpy(mac->addr_bytes, &v, RTE_ETHER_ADDR_LEN);
		*port_idx = (uint16_t)p;
		return 0;
	}
	return -1;
}

/* A peer address worth remembering: unicast, not zero. */
static inline int
ipv4_is_unicast(uint32_t be_addr)
{
	uint32_t a = rte_be_to_cpu_32(be_addr);

	return a != 0 && a != UINT32_MAX && (a >> 28) != 0xe;
}

/* Set the frame to exactly len bytes, zero-padding runts to the Ethernet minimum. */
static inline void
frame_set_len(struct rte_mbuf *m, uint32_t len)
{
	uint32_t have = rte_pktmbuf_data_len(m);
	char *pad;

	if (have > len) {
		rte_pktmbuf_trim(m, have - len);
		have = len;
	}
	if (have < AINFTP_MIN_FRAME) {
		pad = rte_pktmbuf_append(m, AINFTP_MIN_FRAME - have);
		if (pad != NULL)
			memset(pad, 0, AINFTP_MIN_FRAME - have);
	}
	m->ol_flags = 0;
}

static enum ainftp_verdict
arp_input(struct ainftp_net *net, uint16_t port_idx, struct rte_mbuf *m,
	  struct ainftp_port_ctr *ctr)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	struct rte_arp_ipv4 *a = &arp->arp_data;
	uint32_t sip, tip;

	if (rte_pktmbuf_data_len(m) < sizeof(*eth) + sizeof(*arp) ||
	    arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != sizeof(uint32_t)) {
		ainftp_drop(ctr, AINFTP_DROP_ARP_MALFORMED);
		return AINFTP_VERDICT_DROP;
	}
	sip = a->arp_sip;
	tip = a->arp_tip;
	if (tip != net->ipv4) {
		ainftp_drop(ctr, AINFTP_DROP_ARP_NOT_OURS);
		return AINFTP_VERDICT_DROP;
	}
	if (ipv4_is_unicast(sip))
		ainftp_neigh_learn(&net->neigh, sip, &a->arp_sha, port_idx);
	if (arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST)) {
		ainftp_ctr_add(&ctr->arp_learnt, 1);
		return AINFTP_VERDICT_CONSUMED;
	}

	/* Turn the request into our reply, in place. */
	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(&net->mac[port_idx], &eth->src_addr);
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	rte_ether_addr_copy(&a->arp_sha, &a->arp_tha);
	a->arp_tip = sip;
	rte_ether_addr_copy(&net->mac[port_idx], &a->arp_sha);
	a->arp_sip = net->ipv4;
	frame_set_len(m, sizeof(*eth) + sizeof(*arp));
	ainftp_ctr_add(&ctr->arp_replies, 1);
	return AINFTP_VERDICT_REPLY;
}

static enum ainftp_verdict
icmp_input(struct ainftp_net *net, uint16_t port_idx, struct rte_mbuf *m, struct rte_ipv4_hdr *ip,
	   uint32_t ihl, uint32_t ip_len, struct ainftp_port_ctr *ctr)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)((char *)ip + ihl);
	uint32_t len = ip_len - ihl;

	if (len < sizeof(*icmp) || rte_raw_cksum(icmp, len) != 0xffff) {
		ainftp_drop(ctr, AINFTP_DROP_ICMP_MALFORMED);
		return AINFTP_VERDICT_DROP;
	}
	if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0) {
		ainftp_drop(ctr, AINFTP_DROP_ICMP_TYPE);
		return AINFTP_VERDICT_DROP;
	}

	/* Echo reply in place: same identifier, sequence and data. */
	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(&net->mac[port_idx], &eth->src_addr);
	ip->dst_addr = ip->src_addr;
	ip->src_addr = net->ipv4;
	ip->time_to_live = AINFTP_REPLY_TTL;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	icmp->icmp_cksum = 0;
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp, len);
	frame_set_len(m, sizeof(*eth) + ip_len);
	ainftp_ctr_add(&ctr->icmp_replies, 1);
	return AINFTP_VERDICT_REPLY;
}

static enum ainftp_verdict
udp_input(struct ainftp_net *net, uint16_t port_idx, struct rte_ipv4_hdr *ip, uint32_t ihl,
	  uint32_t ip_len, struct ainftp_port_ctr *ctr)
{
	const struct rte_udp_hdr *udp = (const struct rte_udp_hdr *)((char *)ip + ihl);
	uint32_t len = ip_len - ihl;

	if (len < sizeof(*udp) || rte_be_to_cpu_16(udp->dgram_len) < sizeof(*udp) ||
	    rte_be_to_cpu_16(udp->dgram_len) > len) {
		ainftp_drop(ctr, AINFTP_DROP_UDP_MALFORMED);
		return AINFTP_VERDICT_DROP;
	}
	if ((uint16_t)(rte_be_to_cpu_16(udp->dst_port) - rte_be_to_cpu_16(net->udp_port)) >=
	    net->lanes[port_idx]) {
		ainftp_drop(ctr, AINFTP_DROP_UDP_PORT);
		return AINFTP_VERDICT_DROP;
	}
	return AINFTP_VERDICT_DATA;
}

static inline int
ipv4_checksum_ok(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip, uint32_t ihl)
{
	uint64_t flag = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;

	if (flag == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		return 1;
	if (flag == RTE_MBUF_F_RX_IP_CKSUM_BAD)
		return 0;
	return rte_raw_cksum(ip, ihl) == 0xffff;
}

static enum ainftp_verdict
ipv4_input(struct ainftp_net *net, uint16_t port_idx, struct rte_mbuf *m,
	   struct ainftp_port_ctr *ctr)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	uint32_t avail = rte_pktmbuf_data_len(m) - sizeof(*eth);
	uint32_t ihl, ip_len;

	if (avail < sizeof(*ip) || (ip->version_ihl >> 4) != 4) {
		ainftp_drop(ctr, AINFTP_DROP_IP_MALFORMED);
		return AINFTP_VERDICT_DROP;
	}
	ihl = rte_ipv4_hdr_len(ip);
	ip_len = rte_be_to_cpu_16(ip->total_length);
	if (ihl < sizeof(*ip) || ihl > avail || ip_len < ihl || ip_len > avail) {
		ainftp_drop(ctr, AINFTP_DROP_IP_MALFORMED);
		return AINFTP_VERDICT_DROP;
	}
	if (!ipv4_checksum_ok(m, ip, ihl)) {
		ainftp_drop(ctr, AINFTP_DROP_IP_CHECKSUM);
		return AINFTP_VERDICT_DROP;
	}
	if (ip->fragment_offset &
	    rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) {
		ainftp_drop(ctr, AINFTP_DROP_IP_FRAGMENT);
		return AINFTP_VERDICT_DROP;
	}
	if (ip->dst_addr != net->ipv4) {
		ainftp_drop(ctr, AINFTP_DROP_IP_NOT_OURS);
		return AINFTP_VERDICT_DROP;
	}
	switch (ip->next_proto_id) {
	case IPPROTO_UDP:
		/* Workers are learnt by the data path, from authenticated packets only. */
		return udp_input(net, port_idx, ip, ihl, ip_len, ctr);
	case IPPROTO_ICMP:
		if (ipv4_is_unicast(ip->src_addr))
			ainftp_neigh_learn(&net->neigh, ip->src_addr, &eth->src_addr, port_idx);
		return icmp_input(net, port_idx, m, ip, ihl, ip_len, ctr);
	default:
		ainftp_drop(ctr, AINFTP_DROP_IP_PROTO);
		return AINFTP_VERDICT_DROP;
	}
}

enum ainftp_verdict
ainftp_net_input(struct ainftp_net *net, uint16_t port_idx, struct rte_mbuf *m,
		 struct ainftp_port_ctr *ctr)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);

	/* Headers are read from the first segment only: ports run without scatter. */
	if (unlikely(rte_pktmbuf_data_len(m) < sizeof(*eth))) {
		ainftp_drop(ctr, AINFTP_DROP_RUNT);
		return AINFTP_VERDICT_DROP;
	}
	if (rte_is_unicast_ether_addr(&eth->dst_addr) &&
	    !rte_is_same_ether_addr(&eth->dst_addr, &net->mac[port_idx])) {
		ainftp_drop(ctr, AINFTP_DROP_L2_NOT_OURS);
		return AINFTP_VERDICT_DROP;
	}
	if (likely(eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)))
		return ipv4_input(net, port_idx, m, ctr);
	if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
		return arp_input(net, port_idx, m, ctr);
	ainftp_drop(ctr, AINFTP_DROP_ETHERTYPE);
	return AINFTP_VERDICT_DROP;
}

void
ainftp_udp_headers(void *p, const struct rte_ether_addr *src, const struct rte_ether_addr *dst,
		   uint32_t src_ip, uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
		   uint16_t udp_payload)
{
	struct rte_ether_hdr *eth = p;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	uint16_t udp_len = (uint16_t)(sizeof(*udp) + udp_payload);

	rte_ether_addr_copy(dst, &eth->dst_addr);
	rte_ether_addr_copy(src, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + udp_len));
	ip->packet_id = 0;
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = AINFTP_REPLY_TTL;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = src_ip;
	ip->dst_addr = dst_ip;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = src_port;
	udp->dst_port = dst_port;
	udp->dgram_len = rte_cpu_to_be_16(udp_len);
	udp->dgram_cksum = 0;
}

void
ainftp_arp_request(void *p, const struct rte_ether_addr *src, uint32_t src_ip, uint32_t tip)
{
	struct rte_ether_hdr *eth = p;
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);

	memset(p, 0, AINFTP_ARP_FRAME_LEN); /* the Ethernet minimum's padding too */
	memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
	rte_ether_addr_copy(src, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = sizeof(uint32_t);
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	rte_ether_addr_copy(src, &arp->arp_data.arp_sha);
	arp->arp_data.arp_sip = src_ip;
	arp->arp_data.arp_tip = tip;
}
