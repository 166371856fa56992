/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client's XDP program (client/ainftp_client_xdp.c loads it from the
 * library itself): UDP datagrams to the worker's own address and port go to
 * its AF_XDP socket; everything else (ARP, ICMP, fragments, other ports) goes
 * on to the kernel, so the host keeps working on that interface. Steering by
 * address and port, not the whole queue as libxdp's default program does.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "ainftp_xdp_dst.h"

/* The socket of each RX queue (a veth has one). */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} ainftp_xsks SEC(".maps");

/* Key 0: the worker's address and port (set before attaching). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ainftp_xdp_dst);
} ainftp_dst SEC(".maps");

SEC("xdp.frags")
int
ainftp_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	struct ainftp_xdp_dst *dst;
	__u32 zero = 0;

	/* Options are rare and the kernel handles them: only a 20-byte header here. */
	if ((void *)(udp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_UDP || (ip->frag_off & bpf_htons(0x3fff)) != 0)
		return XDP_PASS;
	dst = bpf_map_lookup_elem(&ainftp_dst, &zero);
	if (dst == 0 || ip->daddr != dst->addr || udp->dest != dst->port)
		return XDP_PASS;
	return bpf_redirect_map(&ainftp_xsks, ctx->rx_queue_index, XDP_PASS);
}

char _license[] SEC("license") = "Dual BSD/GPL";
