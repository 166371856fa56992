/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client's AF_XDP path without a socket: the frames it builds against an
 * RFC 1071 checksum written out here byte by byte, every way a received frame
 * can be wrong (each refused), UDP checksums of odd and even lengths, and the
 * refusals of ainftp_xdp_open that need no interface (tests/test_xdp.sh runs
 * the path itself in the lab).
 */
#include <check.h>

#include "../client/ainftp_client_xdp.c"

#define PAYLOAD 1001 /* odd: the checksum's last byte alone */
/* A frame as the UMEM has them: its IP header 4-byte aligned, for the test's own casts. */
#define FRAME(f)                                \
	_Alignas(16) uint8_t f##_buf[2048 + 2]; \
	uint8_t *f = f##_buf + 2

static const uint8_t worker_mac[ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x11};
static const uint8_t box_mac[ETH_ALEN] = {0x02, 0, 0xc6, 0x12, 0, 0x01};

/* The worker's side (198.18.0.11:40000) and the box's as if it were a client too. */
static void
ends(struct ainftp_xdp *w, struct ainftp_xdp *b)
{
	memset(w, 0, sizeof(*w));
	memset(b, 0, sizeof(*b));
	memcpy(w->mac, worker_mac, ETH_ALEN);
	memcpy(w->peer_mac, box_mac, ETH_ALEN);
	memcpy(b->mac, box_mac, ETH_ALEN);
	memcpy(b->peer_mac, worker_mac, ETH_ALEN);
	w->local = b->peer = htonl(0xc612000b);
	w->peer = b->local = htonl(0xc6120001);
	w->port = htons(40000);
	b->port = htons(9000);
}

/* RFC 1071 over big-endian 16-bit words, the odd byte padded with a zero. */
static uint16_t
ref_csum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A result frame from the box to the worker, payload bytes i * 7. */
static size_t
box_frame(uint8_t *f)
{
	struct ainftp_xdp w, b;

	ends(&w, &b);
	for (size_t i = 0; i < PAYLOAD; i++)
		f[L2L4 + i] = (uint8_t)(i * 7);
	headers(&b, f, PAYLOAD, w.port);
	return L2L4 + PAYLOAD;
}

static struct iphdr *
ip_of(uint8_t *f)
{
	return (struct iphdr *)(f + sizeof(struct ethhdr));
}

static struct udphdr *
udp_of(uint8_t *f)
{
	return (struct udphdr *)(f + sizeof(struct ethhdr) + sizeof(struct iphdr));
}

/* The UDP checksum as a sender that fills it sets it (0 sent as 0xffff). */
static void
set_udp_csum(uint8_t *f)
{
	struct iphdr *ip = ip_of(f);
	struct udphdr *udp = udp_of(f);
	uint8_t *a = (uint8_t *)&ip->saddr, *b = (uint8_t *)&ip->daddr;
	uint32_t pseudo = (uint32_t)(a[0] << 8 | a[1]) + (uint32_t)(a[2] << 8 | a[3]) +
			  (uint32_t)(b[0] << 8 | b[1]) + (uint32_t)(b[2] << 8 | b[3]) +
			  IPPROTO_UDP + ntohs(udp->len);
	uint16_t c;

	udp->check = 0;
	c = ref_csum((const uint8_t *)udp, ntohs(udp->len), pseudo);
	udp->check = htons(c == 0 ? 0xffff : c);
}

static void
fix_ip_csum(uint8_t *f)
{
	ip_of(f)->check = 0;
	ip_of(f)->check = htons(ref_csum((const uint8_t *)ip_of(f), sizeof(struct iphdr), 0));
}

START_TEST(frames_built_as_the_rfcs_say)
{
	FRAME(f);
	struct ainftp_xdp w, b;
	const struct ethhdr *eth = (const struct ethhdr *)f;

	ends(&w, &b);
	headers(&w, f, PAYLOAD, htons(9001));
	ck_assert_mem_eq(eth->h_dest, box_mac, ETH_ALEN);
	ck_assert_mem_eq(eth->h_source, worker_mac, ETH_ALEN);
	ck_assert_uint_eq(ntohs(eth->h_proto), ETH_P_IP);
	ck_assert_uint_eq(ip_of(f)->version, 4);
	ck_assert_uint_eq(ip_of(f)->ihl, 5);
	ck_assert_uint_eq(ntohs(ip_of(f)->tot_len), 20 + 8 + PAYLOAD);
	ck_assert_uint_eq(ntohs(ip_of(f)->frag_off), IP_DF);
	ck_assert_uint_eq(ip_of(f)->protocol, IPPROTO_UDP);
	ck_assert_uint_eq(ip_of(f)->saddr, w.local);
	ck_assert_uint_eq(ip_of(f)->daddr, w.peer);
	/* A header with its checksum sums to zero, and the checksum is the reference's. */
	ck_assert_uint_eq(ref_csum((const uint8_t *)ip_of(f), 20, 0), 0);
	{
		uint16_t got = ntohs(ip_of(f)->check);

		fix_ip_csum(f);
		ck_assert_uint_eq(got, ntohs(ip_of(f)->check));
	}
	ck_assert_uint_eq(ntohs(udp_of(f)->source), 40000);
	ck_assert_uint_eq(ntohs(udp_of(f)->dest), 9001);
	ck_assert_uint_eq(ntohs(udp_of(f)->len), 8 + PAYLOAD);
	ck_assert_uint_eq(udp_of(f)->check, 0);
}
END_TEST

START_TEST(a_good_frame_is_taken)
{
	FRAME(f);
	size_t n = box_frame(f);
	struct ainftp_xdp w, b;
	struct ainftp_xdp_dgram d;

	ends(&w, &b);
	ck_assert_ptr_eq(rx_check(&w, f, n, &d), f + L2L4);
	ck_assert_uint_eq(d.len, PAYLOAD);
	ck_assert_uint_eq(d.from, b.local);
	ck_assert_uint_eq(d.from_port, htons(9000));
	for (size_t i = 0; i < PAYLOAD; i++)
		ck_assert_uint_eq(d.p[i], (uint8_t)(i * 7));
	/* Ethernet padding after the datagram is not payload. */
	ck_assert_ptr_nonnull(rx_check(&w, f, n + 9, &d));
	ck_assert_uint_eq(d.len, PAYLOAD);
}
END_TEST

START_TEST(udp_checksums_of_odd_and_even_lengths)
{
	FRAME(f);
	struct ainftp_xdp w, b;
	struct ainftp_xdp_dgram d;

	ends(&w, &b);
	for (size_t len = PAYLOAD - 1; len <= PAYLOAD; len++) {
		size_t n = L2L4 + len;

		box_frame(f);
		ip_of(f)->tot_len = htons((uint16_t)(20 + 8 + len));
		udp_of(f)->len = htons((uint16_t)(8 + len));
		fix_ip_csum(f);
		set_udp_csum(f);
		ck_assert_msg(rx_check(&w, f, n, &d) != NULL, "a right checksum, length %zu", len);
		f[L2L4 + len - 1] ^= 0x40; /* the last byte: the odd one when len is odd */
		ck_assert_msg(rx_check(&w, f, n, &d) == NULL, "a wrong checksum, length %zu", len);
		f[L2L4 + len - 1] ^= 0x40;
		udp_of(f)->check ^= htons(0x0100);
		ck_assert_ptr_null(rx_check(&w, f, n, &d));
	}
}
END_TEST

/* Each way a frame can be wrong, made on a good one (IP checksum fixed after, but #9). */
START_TEST(every_bad_frame_is_refused)
{
	struct ainftp_xdp w, b;
	struct ainftp_xdp_dgram d;
	unsigned int k = (unsigned int)_i;
	FRAME(f);
	size_t n = box_frame(f);
	struct ethhdr *eth = (struct ethhdr *)f;
	struct iphdr *ip = ip_of(f);
	struct udphdr *udp = udp_of(f);

	ends(&w, &b);
	switch (k) {
	case 0:
		eth->h_dest[5] ^= 1;
		break; /* another host's */
	case 1:
		eth->h_proto = htons(ETH_P_ARP);
		break; /* not IPv4 */
	case 2:
		ip->version = 6;
		break; /* not IPv4 either */
	case 3:
		ip->ihl = 6;
		break; /* options */
	case 4:
		ip->protocol = IPPROTO_TCP;
		break; /* not UDP */
	case 5:
		ip->frag_off = htons(IP_MF);
		break; /* a first fragment */
	case 6:
		ip->frag_off = htons(8);
		break; /* a later fragment */
	case 7:
		ip->daddr ^= htonl(1);
		break; /* another address */
	case 8:
		udp->dest = htons(40001);
		break; /* another port */
	case 9:
		ip->ttl ^= 1;
		break; /* IP checksum wrong */
	case 10:
		ip->tot_len = htons((uint16_t)(n - 13));
		break; /* longer than the frame */
	case 11:
		ip->tot_len = htons(20 + 7);
		break; /* shorter than its UDP */
	case 12:
		udp->len = htons(7);
		break; /* UDP length below 8 */
	case 13:
		udp->len = htons(8 + PAYLOAD + 2);
		break; /* UDP length past IP's */
	case 14:
		n = L2L4 - 1;
		break; /* a runt */
	default:
		ck_abort();
	}
	if (k != 9)
		fix_ip_csum(f);
	ck_assert_msg(rx_check(&w, f, n, &d) == NULL, "bad frame %u was taken", k);
}
END_TEST

START_TEST(open_refuses_what_it_cannot_do)
{
	char why[256];
	struct ainftp_xdp_params p = {.local = htonl(INADDR_LOOPBACK),
				      .port = htons(40000),
				      .peer = htonl(INADDR_LOOPBACK),
				      .dgram_max = ainftp_xdp_dgram_limit() + 1};

	ck_assert_uint_eq(ainftp_xdp_dgram_limit(), 4 * (4096 - 256 - 22) - 42);
	ck_assert_ptr_null(ainftp_xdp_open(&p, why, sizeof(why)));
	ck_assert_msg(strstr(why, "do not fit an AF_XDP frame") != NULL, "%s", why);
	p.dgram_max = 1000;
	ck_assert_ptr_null(ainftp_xdp_open(&p, why, sizeof(why)));
	ck_assert_msg(strstr(why, "lo is not an Ethernet interface") != NULL, "%s", why);
	p.local = htonl(INADDR_LOOPBACK + 1); /* 127.0.0.2: on no interface */
	ck_assert_ptr_null(ainftp_xdp_open(&p, why, sizeof(why)));
	ck_assert_msg(strstr(why, "no interface holds") != NULL, "%s", why);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("client_xdp");
	TCase *tc = tcase_create("frames");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, frames_built_as_the_rfcs_say);
	tcase_add_test(tc, a_good_frame_is_taken);
	tcase_add_test(tc, udp_checksums_of_odd_and_even_lengths);
	tcase_add_loop_test(tc, every_bad_frame_is_refused, 0, 15);
	tcase_add_test(tc, open_refuses_what_it_cannot_do);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
