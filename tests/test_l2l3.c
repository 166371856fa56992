/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP, ICMP echo and the drop reasons, byte by byte through a net_ring port and
 * the RX lcore's real poll. Expected frames are written out here by hand, with
 * this file's own checksum, not built with the code under test.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

#include "ainftp_net.h"
#include "ainftp_rx.h"
#include "ainftp_stats.h"
#include "fixture.h"

static struct fixture fx;

static const uint8_t our_mac[6] = FIX_MAC;
static const uint8_t peer_mac[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01};
static const uint8_t our_ip[4] = {198, 18, 0, 2};
static const uint8_t peer_ip[4] = {198, 18, 0, 1};

static void
setup(void)
{
	fixture_up(&fx);
}

static void
teardown(void)
{
	fixture_down(&fx);
}

static uint64_t
drops(enum ainftp_drop why)
{
	struct ainftp_port_ctr sum;

	ainftp_counters_port_sum(0, &sum);
	return sum.drops[why];
}

/* RFC 1071, written independently of rte_raw_cksum. */
static uint16_t
csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static size_t
eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
	return 14;
}

/* IPv4 header with a correct checksum; returns its length. */
static size_t
ipv4(uint8_t *p, const uint8_t *src, const uint8_t *dst, uint8_t proto, uint16_t payload,
     uint8_t ttl)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	put16(p + 2, (uint16_t)(20 + payload));
	put16(p + 4, 0x1234);
	p[8] = ttl;
	p[9] = proto;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	put16(p + 10, csum(p, 20));
	return 20;
}

static size_t
arp(uint8_t *f, uint16_t op, const uint8_t *sha, const uint8_t *sip, const uint8_t *tha,
    const uint8_t *tip)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	size_t n = eth(f, op == 1 ? bcast : our_mac, sha, 0x0806);
	uint8_t *a = f + n;

	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	memcpy(a + 14, sip, 4);
	memcpy(a + 18, tha, 6);
	memcpy(a + 24, tip, 4);
	memset(a + 28, 0xee, 18); /* sender's padding: must not leak into the reply */
	return 60;
}

/* Echo request with `data` bytes of payload, addressed to dst_ip. */
static size_t
echo(uint8_t *f, uint8_t type, const uint8_t *src_mac, const uint8_t *dst_mac,
     const uint8_t *src_ip, const uint8_t *dst_ip, uint16_t data, uint8_t ttl)
{
	size_t n = eth(f, dst_mac, src_mac, 0x0800);
	uint8_t *icmp;
	uint16_t i;

	n += ipv4(f + n, src_ip, dst_ip, 1, (uint16_t)(8 + data), ttl);
	icmp = f + n;
	memset(icmp, 0, 8);
	icmp[0] = type;
	put16(icmp + 4, 0x4242); /* identifier */
	put16(icmp + 6, 7);	 /* sequence */
	for (i = 0; i < data; i++)
		icmp[8 + i] = (uint8_t)(i * 7 + 1);
	put16(icmp + 2, csum(icmp, 8u + data));
	return n + 8 + data;
}

START_TEST(arp_request_is_answered_byte_by_byte)
{
	uint8_t req[64], want[64], got[2048];
	static const uint8_t zero[6] = {0};
	struct rte_ether_addr mac;
	uint16_t len = 0, port;

	arp(req, 1, peer_mac, peer_ip, zero, our_ip);
	ck_assert_uint_eq(fixture_roundtrip(&fx, req, 60, got, &len), 1);

	/* The reply, by hand: to the asker, from us, opcode 2, zero padding to 60 bytes. */
	memset(want, 0, sizeof(want));
	memcpy(want, peer_mac, 6);
	memcpy(want + 6, our_mac, 6);
	want[12] = 0x08, want[13] = 0x06;
	want[14] = 0x00, want[15] = 0x01, want[16] = 0x08, want[17] = 0x00;
	want[18] = 6, want[19] = 4, want[20] = 0x00, want[21] = 0x02;
	memcpy(want + 22, our_mac, 6);
	memcpy(want + 28, our_ip, 4);
	memcpy(want + 32, peer_mac, 6);
	memcpy(want + 38, peer_ip, 4);
	ck_assert_uint_eq(len, 60);
	ck_assert_mem_eq(got, want, 60);

	/* The asker was learnt. */
	ck_assert_int_eq(ainftp_neigh_lookup(&fx.rt.rx[FIX_RX_LCORE]->net.neigh,
					     *(const uint32_t *)peer_ip, &mac, &port),
			 0);
	ck_assert_mem_eq(mac.addr_bytes, peer_mac, 6);
	ck_assert_uint_eq(port, 0);
}
END_TEST

START_TEST(arp_for_another_address_is_dropped)
{
	static const uint8_t zero[6] = {0}, other_ip[4] = {198, 18, 0, 99};
	uint8_t req[64];

	arp(req, 1, peer_mac, peer_ip, zero, other_ip);
	ck_assert_uint_eq(fixture_roundtrip(&fx, req, 60, NULL, NULL), 0);
	ck_assert_uint_eq(drops(AINFTP_DROP_ARP_NOT_OURS), 1);
}
END_TEST

START_TEST(arp_reply_is_learnt_not_answered)
{
	uint8_t rep[64];
	struct rte_ether_addr mac;
	struct ainftp_port_ctr sum;
	uint16_t port;

	arp(rep, 2, peer_mac, peer_ip, our_mac, our_ip);
	ck_assert_uint_eq(fixture_roundtrip(&fx, rep, 60, NULL, NULL), 0);
	ainftp_counters_port_sum(0, &sum);
	ck_assert_uint_eq(sum.arp_learnt, 1);
	ck_assert_int_eq(ainftp_neigh_lookup(&fx.rt.rx[FIX_RX_LCORE]->net.neigh,
					     *(const uint32_t *)peer_ip, &mac, &port),
			 0);
	ck_assert_mem_eq(mac.addr_bytes, peer_mac, 6);
}
END_TEST

START_TEST(arp_malformed_is_dropped)
{
	static const uint8_t zero[6] = {0};
	uint8_t req[64];

	arp(req, 1, peer_mac, peer_ip, zero, our_ip);
	req[14 + 4] = 8; /* hardware address length */
	ck_assert_uint_eq(fixture_roundtrip(&fx, req, 60, NULL, NULL), 0);
	ck_assert_uint_eq(fixture_roundtrip(&fx, req, 30, NULL, NULL), 0); /* truncated */
	ck_assert_uint_eq(drops(AINFTP_DROP_ARP_MALFORMED), 2);
}
END_TEST

START_TEST(ping_is_answered_byte_by_byte)
{
	uint8_t req[256], want[256], got[2048];
	uint16_t len = 0;
	size_t n;

	n = echo(req, 8, peer_mac, our_mac, peer_ip, our_ip, 56, 17);
	ck_assert_uint_eq(fixture_roundtrip(&fx, req, (uint16_t)n, got, &len), 1);
	/* Reply: swapped addresses, TTL 64, type 0, same id/seq/data, fresh checksums. */
	ck_assert_uint_eq(echo(want, 0, our_mac, peer_mac, our_ip, peer_ip, 56, 64), n);
	ck_assert_uint_eq(len, n);
	ck_assert_mem_eq(got, want, n);
	ck_assert_uint_eq(csum(got + 14, 20), 0);
	ck_assert_uint_eq(csum(got + 34, n - 34), 0);
}
END_TEST

START_TEST(tiny_ping_reply_is_padded)
{
	uint8_t req[64], want[64], got[2048];
	uint16_t len = 0;
	size_t n;

	n = echo(req, 8, peer_mac, our_mac, peer_ip, our_ip, 0, 64);
	memset(req + n, 0x55, 60 - n); /* padding the sender put on the wire */
	ck_assert_uint_eq(fixture_roundtrip(&fx, req, 60, got, &len), 1);
	memset(want, 0, sizeof(want));
	echo(want, 0, our_mac, peer_mac, our_ip, peer_ip, 0, 64);
	ck_assert_uint_eq(len, 60);
	ck_assert_mem_eq(got, want, 60);
}
END_TEST

START_TEST(a_full_burst_of_requests_is_answered)
{
	static const uint8_t zero[6] = {0};
	struct rte_mbuf *m[40], *r[64];
	uint8_t req[64];
	unsigned int i, n = 0;

	arp(req, 1, peer_mac, peer_ip, zero, our_ip);
	for (i = 0; i < RTE_DIM(m); i++) {
		m[i] = rte_pktmbuf_alloc(fx.pool);
		ck_assert_ptr_nonnull(m[i]);
		memcpy(rte_pktmbuf_append(m[i], 60), req, 60);
	}
	ck_assert_uint_eq(rte_ring_enqueue_bulk(fx.in, (void **)m, RTE_DIM(m), NULL), RTE_DIM(m));
	ck_assert_uint_eq(ainftp_rx_poll(fx.rt.rx[FIX_RX_LCORE]), 32);
	ck_assert_uint_eq(ainftp_rx_poll(fx.rt.rx[FIX_RX_LCORE]), 8);
	n = rte_ring_dequeue_burst(fx.out, (void **)r, RTE_DIM(r), NULL);
	ck_assert_uint_eq(n, RTE_DIM(m));
	rte_pktmbuf_free_bulk(r, n);
}
END_TEST

/* One malformed frame, the drop reason it must be counted under, and no reply. */
static void
expect_drop(const uint8_t *frame, uint16_t len, enum ainftp_drop why)
{
	uint64_t before = drops(why);

	ck_assert_uint_eq(fixture_roundtrip(&fx, frame, len, NULL, NULL), 0);
	ck_assert_msg(drops(why) == before + 1, "drop reason %s not counted",
		      ainftp_drop_names[why]);
}

START_TEST(every_drop_reason_is_counted)
{
	static const uint8_t other_mac[6] = {0x02, 0, 0, 0, 0, 0x77};
	static const uint8_t other_ip[4] = {198, 18, 0, 77};
	uint8_t f[256];
	size_t n;

	memcpy(f, our_mac, 6);
	memset(f + 6, 0, 4);
	expect_drop(f, 10, AINFTP_DROP_RUNT);

	n = echo(f, 8, peer_mac, other_mac, peer_ip, our_ip, 8, 64);
	expect_drop(f, (uint16_t)n, AINFTP_DROP_L2_NOT_OURS);

	eth(f, our_mac, peer_mac, 0x86dd);
	memset(f + 14, 0, 46);
	expect_drop(f, 60, AINFTP_DROP_ETHERTYPE);

	n = echo(f, 8, peer_mac, our_mac, peer_ip, our_ip, 8, 64);
	f[14] = 0x65; /* version 6 in an IPv4 frame */
	expect_drop(f, (uint16_t)n, AINFTP_DROP_IP_MALFORMED);

	n = echo(f, 8, peer_mac, our_mac, peer_ip, our_ip, 8, 64);
	expect_drop(f, (uint16_t)(n - 4), AINFTP_DROP_IP_MALFORMED); /* total length > frame */

	n = echo(f, 8, peer_mac, our_mac, peer_ip, our_ip, 8, 64);
	f[14 + 10] ^= 0x01;
	expect_drop(f, (uint16_t)n, AINFTP_DROP_IP_CHECKSUM);

	n = echo(f, 8, peer_mac, our_mac, peer_ip, our_ip, 8, 64);
	f[14 + 6] = 0x20; /* more fragments */
	put16(f + 14 + 10, 0);
	put16(f + 14 + 10, csum(f + 14, 20));
	expect_drop(f, (uint16_t)n, AINFTP_DROP_IP_FRAGMENT);

	n = echo(f, 8, peer_mac, our_mac, peer_ip, other_ip, 8, 64);
	expect_drop(f, (uint16_t)n, AINFTP_DROP_IP_NOT_OURS);

	n = eth(f, our_mac, peer_mac, 0x0800);
	n += ipv4(f + n, peer_ip, our_ip, 6, 20, 64); /* TCP */
	memset(f + n, 0, 20);
	expect_drop(f, (uint16_t)(n + 20), AINFTP_DROP_IP_PROTO);

	n = echo(f, 8, peer_mac, our_mac, peer_ip, our_ip, 8, 64);
	f[34 + 8] ^= 0xff; /* payload changed under the checksum */
	expect_drop(f, (uint16_t)n, AINFTP_DROP_ICMP_MALFORMED);

	n = echo(f, 13, peer_mac, our_mac, peer_ip, our_ip, 8, 64); /* timestamp request */
	expect_drop(f, (uint16_t)n, AINFTP_DROP_ICMP_TYPE);
}
END_TEST

static size_t
udp(uint8_t *f, uint16_t dport, uint16_t udp_len, uint16_t payload)
{
	size_t n = eth(f, our_mac, peer_mac, 0x0800);

	n += ipv4(f + n, peer_ip, our_ip, 17, (uint16_t)(8 + payload), 64);
	put16(f + n, 5000);
	put16(f + n + 2, dport);
	put16(f + n + 4, udp_len);
	put16(f + n + 6, 0);
	memset(f + n + 8, 0x11, payload);
	return n + 8 + payload;
}

START_TEST(udp_is_classified)
{
	struct ainftp_port_ctr sum;
	uint8_t f[256];
	size_t n;

	n = udp(f, 9, 8 + 16, 16);
	expect_drop(f, (uint16_t)n, AINFTP_DROP_UDP_PORT);
	n = udp(f, FIX_UDP_PORT, 8 + 17, 16); /* longer than the IP payload */
	expect_drop(f, (uint16_t)n, AINFTP_DROP_UDP_MALFORMED);
	/* To our port, the data path's: 16 bytes cannot hold an ainftp header. */
	n = udp(f, FIX_UDP_PORT, 8 + 16, 16);
	ck_assert_uint_eq(fixture_roundtrip(&fx, f, (uint16_t)n, NULL, NULL), 0);
	ainftp_counters_port_sum(0, &sum);
	ck_assert_uint_eq(sum.proto_drops[AINFTP_BAD_TRUNCATED], 1);
	/* Our port + 1 is a lane this one-queue port does not have. */
	n = udp(f, FIX_UDP_PORT + 1, 8 + 16, 16);
	expect_drop(f, (uint16_t)n, AINFTP_DROP_UDP_PORT);
}
END_TEST

START_TEST(no_mbuf_is_leaked)
{
	static const uint8_t zero[6] = {0};
	unsigned int before = rte_mempool_in_use_count(fx.pool);
	uint8_t f[256];
	size_t n;

	arp(f, 1, peer_mac, peer_ip, zero, our_ip);
	fixture_roundtrip(&fx, f, 60, NULL, NULL);
	n = echo(f, 8, peer_mac, our_mac, peer_ip, our_ip, 100, 64);
	fixture_roundtrip(&fx, f, (uint16_t)n, NULL, NULL);
	f[20] ^= 1;
	fixture_roundtrip(&fx, f, (uint16_t)n, NULL, NULL);
	fixture_roundtrip(&fx, f, 5, NULL, NULL);
	ck_assert_uint_eq(rte_mempool_in_use_count(fx.pool), before);
}
END_TEST

static Suite *
l2l3_suite(void)
{
	Suite *s = suite_create("l2l3");
	TCase *tc = tcase_create("net_ring");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, arp_request_is_answered_byte_by_byte);
	tcase_add_test(tc, arp_for_another_address_is_dropped);
	tcase_add_test(tc, arp_reply_is_learnt_not_answered);
	tcase_add_test(tc, arp_malformed_is_dropped);
	tcase_add_test(tc, ping_is_answered_byte_by_byte);
	tcase_add_test(tc, tiny_ping_reply_is_padded);
	tcase_add_test(tc, a_full_burst_of_requests_is_answered);
	tcase_add_test(tc, every_drop_reason_is_counted);
	tcase_add_test(tc, udp_is_classified);
	tcase_add_test(tc, no_mbuf_is_leaked);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	fixture_eal_init("test_l2l3", 0);
	return fixture_run(l2l3_suite());
}
