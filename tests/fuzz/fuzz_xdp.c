/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness of the frames the client's AF_XDP path takes from its RX
 * ring (client/ainftp_client_xdp.c, rx_check): any bytes as a frame of any
 * length, the first two bytes of the input picking whether the IP and UDP
 * checksums are fixed up (so that the checks behind them are reached too).
 * A frame it takes must be a datagram inside the frame, to this worker.
 */
#include "../../client/ainftp_client_xdp.c"

#define FZ_FIX_IP 1
#define FZ_FIX_UDP 2

static void
fz_fix(uint8_t *f, size_t n, uint8_t how)
{
	struct iphdr *ip = (struct iphdr *)(f + sizeof(struct ethhdr));
	struct udphdr *udp = (struct udphdr *)(ip + 1);

	if (n < L2L4)
		return;
	if (how & FZ_FIX_UDP) {
		size_t ulen = ntohs(udp->len);

		if (ulen >= sizeof(*udp) && ulen <= n - sizeof(struct ethhdr) - sizeof(*ip)) {
			uint64_t s =
				(uint64_t)ip->saddr + ip->daddr + htons(IPPROTO_UDP) + udp->len;

			udp->check = 0;
			udp->check = csum_fold(s + csum_add((const uint8_t *)udp, ulen));
		}
	}
	if (how & FZ_FIX_IP) {
		ip->check = 0;
		ip->check = csum_fold(csum_add((const uint8_t *)ip, sizeof(*ip)));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x11};
	struct ainftp_xdp x = {.local = htonl(0xc612000b), .port = htons(40000)};
	struct ainftp_xdp_dgram d;
	uint8_t *buf, *f;
	uint8_t how;

	if (size < 1 || size > FRAME_DATA_MAX + 1)
		return 0;
	how = data[0];
	size--;
	/*
	 * Its own allocation, ending with the frame: ASan sees any read past it.
	 * Two bytes in, as in the UMEM, the IP header is aligned for fz_fix's casts.
	 */
	buf = malloc(size + 2);
	if (buf == NULL)
		return 0;
	f = buf + 2;
	memcpy(f, data + 1, size);
	memcpy(x.mac, mac, ETH_ALEN);
	if (size >= ETH_ALEN && (how & 4))
		memcpy(f, mac, ETH_ALEN); /* to this worker, so the checks go on */
	fz_fix(f, size, how);
	if (rx_check(&x, f, size, &d) != NULL) {
		if (d.p < f + L2L4 || d.p + d.len > f + size)
			__builtin_trap();
		if (((struct iphdr *)(f + sizeof(struct ethhdr)))->daddr != x.local)
			__builtin_trap();
	}
	free(buf);
	return 0;
}
