/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client's AF_XDP path (ainftp_client_xdp.h). One UMEM per engine: its
 * first half RX frames, always on the fill or RX ring; its second half TX
 * frames on a free stack, back from the completion ring once the kernel has
 * sent them. The program is attached through a BPF link, so a worker that
 * dies without closing takes it off the interface with it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "ainftp_client_xdp.h"
#include "ainftp_xdp_dst.h"

/* The program's object, compiled with clang -target bpf and embedded by meson. */
extern const unsigned char ainftp_xdp_obj[];
extern const size_t ainftp_xdp_obj_len;

#define FRAME_SIZE 4096u
#define RX_FRAMES 2048u /* = the fill ring: every RX frame is on one ring or the other */
#define TX_FRAMES 2048u
#define RING 2048u
#define L2L4 (sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr))
/*
 * A received frame starts XDP_PACKET_HEADROOM (256) bytes after its UMEM
 * frame's headroom, and a sent one where we put it: 22 bytes in, so that the
 * IP header is 4-byte aligned and the UDP payload (the ainftp datagram) 64.
 */
#define FRAME_HEADROOM 22u
#define FRAME_DATA_MAX (FRAME_SIZE - 256u - FRAME_HEADROOM)
/*
 * Multi-buffer (Linux 6.6): a frame over several UMEM frames, each but the
 * last marked XDP_PKT_CONTD. Four hold a 9000-byte MTU's frame either way.
 */
#define FRAGS_MAX 4u
#define TX_FRAG (FRAME_SIZE - FRAME_HEADROOM) /* bytes of a frame per sent UMEM frame */
#define JOIN_STRIDE 16384u		      /* a received multi-buffer frame, joined */
#define RX_DGRAMS_MAX 32u		      /* ainftp_xdp_recv's n at most */
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif

struct ainftp_xdp {
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	uint8_t *area;
	struct bpf_object *obj;
	int link_fd;
	int ifindex;
	char ifname[IF_NAMESIZE];
	uint8_t mac[ETH_ALEN], peer_mac[ETH_ALEN];
	uint32_t local, peer;
	uint16_t port;
	uint64_t tx_free[TX_FRAMES];
	uint32_t n_free;
	uint32_t rx_peeked; /* RX descriptors read by the last recv, not yet given back */
	uint32_t rx_idx;
	unsigned int frags_max; /* UMEM frames per frame: FRAGS_MAX with multi-buffer, else 1 */
	uint8_t *joined;	/* RX_DGRAMS_MAX frames of several UMEM frames, made whole */
	bool native;		/* the program runs in the driver, not on the generic path */
};

size_t
ainftp_xdp_dgram_limit(void)
{
	return FRAGS_MAX * FRAME_DATA_MAX - L2L4;
}

/* why = fmt with arg, then err's name where there is one; false. */
static bool
refuse(char *why, size_t n, const char *fmt, const char *arg, int err)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	if (err != 0)
		snprintf(why, n, "%s: %s", msg, strerror(err));
	else
		snprintf(why, n, "%s", msg);
	return false;
}

/* The interface holding addr (or, addr 0, the one the kernel would send to peer from). */
static bool
find_iface(struct ainftp_xdp *x, uint32_t addr, uint32_t peer, char *why, size_t n)
{
	struct ifaddrs *ifa, *i;

	if (addr == 0) {
		struct sockaddr_in sa = {
			.sin_family = AF_INET, .sin_addr.s_addr = peer, .sin_port = htons(9)};
		socklen_t len = sizeof(sa);
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
			int err = errno;

			if (fd >= 0)
				close(fd);
			return refuse(why, n, "no route to the appliance%s", "", err);
		}
		close(fd);
		addr = sa.sin_addr.s_addr;
	}
	x->local = addr;
	if (getifaddrs(&ifa) < 0)
		return refuse(why, n, "getifaddrs%s", "", errno);
	for (i = ifa; i != NULL; i = i->ifa_next)
		if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == addr) {
			snprintf(x->ifname, sizeof(x->ifname), "%s", i->ifa_name);
			break;
		}
	freeifaddrs(ifa);
	if (x->ifname[0] == '\0')
		return refuse(why, n, "no interface holds the worker's address%s", "", 0);
	x->ifindex = (int)if_nametoindex(x->ifname);
	if (x->ifindex == 0)
		return refuse(why, n, "%s has gone", x->ifname, 0);
	return true;
}

/*
 * Both ends' MACs: the interface's own, and the appliance's from the kernel's
 * neighbour table, which the join (over the kernel socket) has just filled. No
 * entry means the appliance is not on this link (routed): not this path's case.
 */
static bool
find_macs(struct ainftp_xdp *x, char *why, size_t n)
{
	struct ifreq ifr;
	struct arpreq ar;
	struct sockaddr_in *pa = (struct sockaddr_in *)&ar.arp_pa;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok = false;

	if (fd < 0)
		return refuse(why, n, "socket%s", "", errno);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", x->ifname);
	memset(&ar, 0, sizeof(ar));
	pa->sin_family = AF_INET;
	pa->sin_addr.s_addr = x->peer;
	snprintf(ar.arp_dev, sizeof(ar.arp_dev), "%s", x->ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0 || ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		refuse(why, n, "%s is not an Ethernet interface", x->ifname, 0);
	else if (ioctl(fd, SIOCGARP, &ar) < 0 || !(ar.arp_flags & ATF_COM))
		refuse(why, n, "no ARP entry for the appliance on %s (is it on this link?)",
		       x->ifname, 0);
	else
		ok = true;
	memcpy(x->mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	memcpy(x->peer_mac, ar.arp_ha.sa_data, ETH_ALEN);
	close(fd);
	return ok;
}

static bool
umem_open(struct ainftp_xdp *x, char *why, size_t n)
{
	size_t size = (size_t)(RX_FRAMES + TX_FRAMES) * FRAME_SIZE;
	struct xsk_umem_config uc = {.fill_size = RING,
				     .comp_size = RING,
				     .frame_size = FRAME_SIZE,
				     .frame_headroom = FRAME_HEADROOM};
	uint32_t idx = 0;
	int rc;

	x->area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x->area == MAP_FAILED) {
		x->area = NULL;
		return refuse(why, n, "UMEM of %s", "16 MB", errno);
	}
	rc = xsk_umem__create(&x->umem, x->area, size, &x->fill, &x->comp, &uc);
	if (rc != 0)
		return refuse(why, n, "UMEM%s", "", -rc);
	/* Every RX frame on the fill ring now; TX frames on the free stack. */
	if (xsk_ring_prod__reserve(&x->fill, RX_FRAMES, &idx) != RX_FRAMES)
		return refuse(why, n, "fill ring%s", "", ENOSPC);
	for (uint32_t i = 0; i < RX_FRAMES; i++)
		*xsk_ring_prod__fill_addr(&x->fill, idx + i) = (uint64_t)i * FRAME_SIZE;
	xsk_ring_prod__submit(&x->fill, RX_FRAMES);
	for (uint32_t i = 0; i < TX_FRAMES; i++)
		x->tx_free[x->n_free++] = (uint64_t)(RX_FRAMES + i) * FRAME_SIZE;
	return true;
}

/* The program, its destination set, attached natively where the driver can, else generic. */
static bool
prog_attach(struct ainftp_xdp *x, char *why, size_t n, uint32_t *mode)
{
	struct bpf_program *prog;
	struct ainftp_xdp_dst dst = {.addr = x->local, .port = x->port};
	uint32_t zero = 0;
	int err, map_fd;

	/*
	 * With frags (multi-buffer frames, and native XDP on a veth above a 3.5 KB
	 * MTU), or, where the kernel does not know them, without.
	 */
	for (int frags = 1; frags >= 0; frags--) {
		x->obj = bpf_object__open_mem(ainftp_xdp_obj, ainftp_xdp_obj_len, NULL);
		if (x->obj == NULL)
			return refuse(why, n, "the XDP program%s", "", errno);
		prog = bpf_object__find_program_by_name(x->obj, "ainftp_xdp");
		if (prog == NULL)
			return refuse(why, n, "the XDP program%s", "", ENOENT);
		if (!frags)
			bpf_program__set_flags(prog,
					       bpf_program__flags(prog) & ~BPF_F_XDP_HAS_FRAGS);
		err = bpf_object__load(x->obj);
		if (err == 0)
			break;
		bpf_object__close(x->obj);
		x->obj = NULL;
		if (err == -EPERM || err == -EACCES || !frags)
			return refuse(why, n, "loading the XDP program (root, or CAP_BPF and %s)",
				      "CAP_NET_ADMIN", -err);
	}
	map_fd = bpf_object__find_map_fd_by_name(x->obj, "ainftp_dst");
	if (map_fd < 0 || bpf_map_update_elem(map_fd, &zero, &dst, 0) != 0)
		return refuse(why, n, "the XDP program's maps%s", "", errno);
	map_fd = bpf_object__find_map_fd_by_name(x->obj, "ainftp_xsks");
	if (map_fd < 0 || xsk_socket__update_xskmap(x->xsk, map_fd) != 0)
		return refuse(why, n, "the XDP socket map%s", "", errno);
	/* Native where the driver has XDP and takes this program, else generic. */
	const uint32_t modes[] = {XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE};

	for (unsigned int i = 0; i < 2; i++) {
		LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = modes[i]);

		x->link_fd = bpf_link_create(bpf_program__fd(prog), x->ifindex, BPF_XDP, &lo);
		if (x->link_fd >= 0) {
			*mode = modes[i];
			return true;
		}
		err = errno;
		if (err == EBUSY || err == EEXIST)
			break;
	}
	return refuse(why, n,
		      err == EBUSY || err == EEXIST ? "%s has an XDP program already"
						    : "attaching the XDP program to %s",
		      x->ifname, err);
}

/*
 * The socket first, then the program: the program attaches last (its
 * socket map filled), so no datagram is redirected to a missing socket.
 * Zero-copy where the driver has it, else (a veth, generic XDP) the kernel
 * binds in copy mode.
 */
static bool
xsk_open(struct ainftp_xdp *x, char *why, size_t n)
{
	struct xsk_socket_config sc = {.rx_size = RING,
				       .tx_size = RING,
				       .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
				       .bind_flags = XDP_USE_NEED_WAKEUP | XDP_USE_SG};
	int rc = xsk_socket__create(&x->xsk, x->ifname, 0, x->umem, &x->rx, &x->tx, &sc);

	x->frags_max = FRAGS_MAX;
	if (rc == -EINVAL || rc == -EOPNOTSUPP) {
		/* A kernel before 6.6, or a driver without multi-buffer: one UMEM frame each. */
		sc.bind_flags = XDP_USE_NEED_WAKEUP;
		x->frags_max = 1;
		rc = xsk_socket__create(&x->xsk, x->ifname, 0, x->umem, &x->rx, &x->tx, &sc);
	}

	if (rc != 0)
		return refuse(
			why, n,
			rc == -EBUSY ? "%s queue 0 has an AF_XDP socket already (one per interface)"
				     : "an AF_XDP socket on %s",
			x->ifname, -rc);
	if (x->frags_max > 1) {
		x->joined = aligned_alloc(64, (size_t)RX_DGRAMS_MAX * JOIN_STRIDE);
		if (x->joined == NULL)
			return refuse(why, n, "out of memory%s", "", 0);
	}
	return true;
}

/*
 * The job's datagrams against what the socket takes (one UMEM frame each, or
 * several with multi-buffer) and what the interface carries.
 */
static bool
fits(struct ainftp_xdp *x, size_t dgram, char *why, size_t n)
{
	struct ifreq ifr;
	char what[96];
	int fd;

	if (L2L4 + dgram > x->frags_max * FRAME_DATA_MAX) {
		snprintf(what, sizeof(what), "%zu", dgram);
		return refuse(why, n,
			      "datagrams of %s bytes need multi-buffer AF_XDP (Linux 6.6), which "
			      "this kernel or driver does not have",
			      what, 0);
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", x->ifname);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && ioctl(fd, SIOCGIFMTU, &ifr) == 0 &&
	    dgram + sizeof(struct iphdr) + sizeof(struct udphdr) > (size_t)ifr.ifr_mtu) {
		close(fd);
		snprintf(what, sizeof(what), "datagrams of %zu bytes do not fit %s's MTU of %d",
			 dgram, x->ifname, ifr.ifr_mtu);
		return refuse(why, n, "%s", what, 0);
	}
	if (fd >= 0)
		close(fd);
	return true;
}

/*
 * Opened with libbpf's and libxdp's own messages off: what failed is said
 * once, in why (their printers are the process's: put back after).
 */
static struct ainftp_xdp *
xdp_open(const struct ainftp_xdp_params *p, char *why, size_t n)
{
	struct ainftp_xdp *x;
	uint32_t mode = 0;

	if (p->dgram_max > ainftp_xdp_dgram_limit()) {
		char sz[32];

		snprintf(sz, sizeof(sz), "%zu", p->dgram_max);
		refuse(why, n,
		       "datagrams of %s bytes do not fit an AF_XDP frame, even multi-buffer", sz,
		       0);
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL) {
		refuse(why, n, "out of memory%s", "", 0);
		return NULL;
	}
	x->link_fd = -1;
	x->peer = p->peer;
	x->port = p->port;
	if (!find_iface(x, p->local, p->peer, why, n) || !find_macs(x, why, n) ||
	    !umem_open(x, why, n) || !xsk_open(x, why, n) || !fits(x, p->dgram_max, why, n) ||
	    !prog_attach(x, why, n, &mode)) {
		ainftp_xdp_close(x);
		return NULL;
	}
	x->native = mode == XDP_FLAGS_DRV_MODE;
	return x;
}

struct ainftp_xdp *
ainftp_xdp_open(const struct ainftp_xdp_params *p, char *why, size_t n)
{
	libbpf_print_fn_t bpf_print = libbpf_set_print(NULL);
	libxdp_print_fn_t xdp_print = libxdp_set_print(NULL);
	struct ainftp_xdp *x = xdp_open(p, why, n);

	libbpf_set_print(bpf_print);
	libxdp_set_print(xdp_print);
	return x;
}

bool
ainftp_xdp_native(const struct ainftp_xdp *x)
{
	return x->native;
}

void
ainftp_xdp_close(struct ainftp_xdp *x)
{
	if (x == NULL)
		return;
	if (x->link_fd >= 0)
		close(x->link_fd); /* detaches the program */
	if (x->xsk != NULL)
		xsk_socket__delete(x->xsk);
	if (x->umem != NULL)
		xsk_umem__delete(x->umem);
	if (x->obj != NULL)
		bpf_object__close(x->obj);
	if (x->area != NULL)
		munmap(x->area, (size_t)(RX_FRAMES + TX_FRAMES) * FRAME_SIZE);
	free(x->joined);
	free(x);
}

int
ainftp_xdp_fd(const struct ainftp_xdp *x)
{
	return xsk_socket__fd(x->xsk);
}

/* ------------------------------------------------------------ sending */

static uint16_t
csum_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The ones' complement sum of n bytes, as 16-bit words in network order read natively. */
static uint64_t
csum_add(const uint8_t *p, size_t n)
{
	uint64_t s = 0;
	uint32_t w;

	for (; n >= 4; p += 4, n -= 4) {
		memcpy(&w, p, 4);
		s += w;
	}
	if (n >= 2) {
		uint16_t h;

		memcpy(&h, p, 2);
		s += h;
		p += 2;
		n -= 2;
	}
	if (n == 1)
		s += *p; /* the low byte of a native word: the high one in network order */
	return s;
}

/* Frames the kernel has sent, back on the free stack. */
static void
tx_reclaim(struct ainftp_xdp *x)
{
	uint32_t idx = 0, got = xsk_ring_cons__peek(&x->comp, RING, &idx);

	for (uint32_t i = 0; i < got; i++)
		x->tx_free[x->n_free++] =
			*xsk_ring_cons__comp_addr(&x->comp, idx + i) / FRAME_SIZE * FRAME_SIZE;
	if (got > 0)
		xsk_ring_cons__release(&x->comp, got);
}

/* Ethernet, IPv4 (DF: an ID of 0 is allowed, RFC 6864) and UDP, checksum 0. */
static void
headers(const struct ainftp_xdp *x, uint8_t *f, size_t len, uint16_t dport)
{
	struct ethhdr eth;
	struct iphdr ip = {.version = 4,
			   .ihl = 5,
			   .ttl = 64,
			   .protocol = IPPROTO_UDP,
			   .tot_len = htons((uint16_t)(sizeof(ip) + sizeof(struct udphdr) + len)),
			   .frag_off = htons(IP_DF),
			   .saddr = x->local,
			   .daddr = x->peer};
	struct udphdr udp = {
		.source = x->port, .dest = dport, .len = htons((uint16_t)(sizeof(udp) + len))};

	/* Copied in whole: the frame's headers need not be aligned for their structs. */
	memcpy(eth.h_dest, x->peer_mac, ETH_ALEN);
	memcpy(eth.h_source, x->mac, ETH_ALEN);
	eth.h_proto = htons(ETH_P_IP);
	ip.check = csum_fold(csum_add((const uint8_t *)&ip, sizeof(ip)));
	memcpy(f, &eth, sizeof(eth));
	memcpy(f + sizeof(eth), &ip, sizeof(ip));
	memcpy(f + sizeof(eth) + sizeof(ip), &udp, sizeof(udp));
}

/* The n bytes of src at offset off of a frame laid over UMEM frames f[], TX_FRAG each. */
static void
frame_put(uint8_t *const *f, size_t off, const uint8_t *src, size_t n)
{
	while (n > 0) {
		size_t at = off % TX_FRAG, k = TX_FRAG - at < n ? TX_FRAG - at : n;

		memcpy(f[off / TX_FRAG] + at, src, k);
		src += k;
		off += k;
		n -= k;
	}
}

int
ainftp_xdp_send(struct ainftp_xdp *x, const uint8_t *const *pl, const uint16_t *dport, size_t len,
		unsigned int n)
{
	size_t flen = L2L4 + len;
	unsigned int frags = (unsigned int)((flen + TX_FRAG - 1) / TX_FRAG), i, j;
	const size_t dport_at =
		sizeof(struct ethhdr) + sizeof(struct iphdr) + offsetof(struct udphdr, dest);
	uint8_t hdr[L2L4];
	uint32_t idx = 0;

	/* One length for the call: every frame's headers alike but for the UDP port. */
	headers(x, hdr, len, 0);
	tx_reclaim(x);
	if (n > x->n_free / frags)
		n = x->n_free / frags;
	/* The ring has TX_FRAMES entries: at least one free per free frame. */
	if (n == 0 || xsk_ring_prod__reserve(&x->tx, n * frags, &idx) != n * frags)
		return 0;
	for (i = 0; i < n; i++) {
		uint8_t *f[FRAGS_MAX];

		for (j = 0; j < frags; j++) {
			struct xdp_desc *d = xsk_ring_prod__tx_desc(&x->tx, idx + i * frags + j);
			size_t left = flen - (size_t)j * TX_FRAG;

			d->addr = x->tx_free[--x->n_free] + FRAME_HEADROOM;
			d->len = (uint32_t)(left < TX_FRAG ? left : TX_FRAG);
			d->options = j + 1 < frags ? XDP_PKT_CONTD : 0;
			f[j] = xsk_umem__get_data(x->area, d->addr);
		}
		memcpy(hdr + dport_at, &dport[i], sizeof(dport[i]));
		frame_put(f, 0, hdr, L2L4);
		frame_put(f, L2L4, pl[i], len);
	}
	xsk_ring_prod__submit(&x->tx, n * frags);
	/*
	 * Copy mode sends at most 32 descriptors per call (EAGAIN: more left):
	 * a kick per 32, or a jumbo batch's tail would wait for the next one.
	 */
	for (j = 0; j < (n * frags + 31) / 32 && xsk_ring_prod__needs_wakeup(&x->tx); j++) {
		if (sendto(ainftp_xdp_fd(x), NULL, 0, MSG_DONTWAIT, NULL, 0) == 0)
			break; /* all of it sent */
		if (errno == EAGAIN)
			continue; /* 32 sent, more left */
		if (errno == EBUSY || errno == ENOBUFS || errno == EINTR)
			break; /* the device is busy: the next kick or poll sends the rest */
		return -1;
	}
	return (int)n;
}

/* ------------------------------------------------------------ receiving */

/* A frame's UDP payload, or NULL when it is not a well-formed datagram for us. */
static uint8_t *
rx_check(const struct ainftp_xdp *x, uint8_t *f, size_t flen, struct ainftp_xdp_dgram *d)
{
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;
	uint8_t *l3 = f + sizeof(eth), *l4 = l3 + sizeof(ip);
	size_t tot, ulen;

	if (flen < L2L4)
		return NULL;
	/* Read into aligned copies: a frame need not be aligned for these structs. */
	memcpy(&eth, f, sizeof(eth));
	memcpy(&ip, l3, sizeof(ip));
	memcpy(&udp, l4, sizeof(udp));
	if (memcmp(eth.h_dest, x->mac, ETH_ALEN) != 0 || eth.h_proto != htons(ETH_P_IP) ||
	    ip.version != 4 || ip.ihl != 5 || ip.protocol != IPPROTO_UDP ||
	    (ip.frag_off & htons(IP_MF | IP_OFFMASK)) != 0 || ip.daddr != x->local ||
	    udp.dest != x->port || csum_fold(csum_add(l3, sizeof(ip))) != 0)
		return NULL;
	tot = ntohs(ip.tot_len);
	ulen = ntohs(udp.len);
	if (tot > flen - sizeof(eth) || ulen < sizeof(udp) || ulen != tot - sizeof(ip))
		return NULL;
	if (udp.check != 0) {
		/* The pseudo-header, then the datagram with its checksum: all ones. */
		uint64_t s = (uint64_t)ip.saddr + ip.daddr + htons(IPPROTO_UDP) + udp.len;

		if (csum_fold(s + csum_add(l4, ulen)) != 0)
			return NULL;
	}
	d->p = l4 + sizeof(udp);
	d->len = ulen - sizeof(udp);
	d->from = ip.saddr;
	d->from_port = udp.source;
	return d->p;
}

/*
 * Frame k of a recv from descriptors idx..idx+cnt-1: where it lies, or, over
 * several UMEM frames, joined in x->joined (as in the UMEM: FRAME_HEADROOM in,
 * so that its payload is aligned alike). NULL when it is longer than that holds.
 */
static uint8_t *
rx_frame(struct ainftp_xdp *x, uint32_t idx, uint32_t cnt, unsigned int k, size_t *flen)
{
	const struct xdp_desc *rd = xsk_ring_cons__rx_desc(&x->rx, idx);
	uint8_t *f;

	if (cnt == 1) {
		*flen = rd->len;
		return xsk_umem__get_data(x->area, rd->addr);
	}
	if (x->joined == NULL) /* chained frames on a socket bound without multi-buffer */
		return NULL;
	f = x->joined + (size_t)k * JOIN_STRIDE + FRAME_HEADROOM;
	*flen = 0;
	for (uint32_t i = 0; i < cnt; i++) {
		rd = xsk_ring_cons__rx_desc(&x->rx, idx + i);
		if (*flen + rd->len > JOIN_STRIDE - FRAME_HEADROOM)
			return NULL;
		memcpy(f + *flen, xsk_umem__get_data(x->area, rd->addr), rd->len);
		*flen += rd->len;
	}
	return f;
}

unsigned int
ainftp_xdp_recv(struct ainftp_xdp *x, struct ainftp_xdp_dgram *d, unsigned int n, uint64_t *bad)
{
	uint32_t idx = 0, got, i = 0;
	unsigned int k = 0;

	if (n > RX_DGRAMS_MAX)
		n = RX_DGRAMS_MAX;
	/* All there is: a frame's descriptors end within what was peeked (or wait). */
	got = xsk_ring_cons__peek(&x->rx, RING, &idx);
	/* Whole frames only, at most n: a frame's first descriptor to its last. */
	while (i < got && k < n) {
		uint32_t cnt = 1;
		size_t flen;
		uint8_t *f;

		while (i + cnt - 1 < got &&
		       (xsk_ring_cons__rx_desc(&x->rx, idx + i + cnt - 1)->options & XDP_PKT_CONTD))
			cnt++;
		if (i + cnt > got)
			break; /* its rest is not on the ring yet */
		f = rx_frame(x, idx + i, cnt, k, &flen);
		if (f != NULL && rx_check(x, f, flen, &d[k]) != NULL)
			k++;
		else
			(*bad)++;
		i += cnt;
	}
	xsk_ring_cons__cancel(&x->rx, got - i);
	x->rx_peeked = i;
	x->rx_idx = idx;
	return k;
}

void
ainftp_xdp_rx_done(struct ainftp_xdp *x)
{
	uint32_t got = x->rx_peeked, idx = 0;

	if (got == 0)
		return;
	/* The fill ring has room: it and the RX ring share RX_FRAMES frames. */
	xsk_ring_prod__reserve(&x->fill, got, &idx);
	for (uint32_t i = 0; i < got; i++) {
		uint64_t a = xsk_ring_cons__rx_desc(&x->rx, x->rx_idx + i)->addr;

		*xsk_ring_prod__fill_addr(&x->fill, idx + i) = a - a % FRAME_SIZE;
	}
	xsk_ring_prod__submit(&x->fill, got);
	xsk_ring_cons__release(&x->rx, got);
	x->rx_peeked = 0;
	if (xsk_ring_prod__needs_wakeup(&x->fill))
		recvfrom(ainftp_xdp_fd(x), NULL, 0, MSG_DONTWAIT, NULL, NULL);
}
