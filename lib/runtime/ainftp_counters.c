/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "ainftp_counters.h"

struct ainftp_lcore_stats ainftp_stats[RTE_MAX_LCORE];

const char *const ainftp_drop_names[AINFTP_DROP_MAX] = {
	[AINFTP_DROP_RUNT] = "runt",
	[AINFTP_DROP_L2_NOT_OURS] = "l2_not_ours",
	[AINFTP_DROP_ETHERTYPE] = "ethertype",
	[AINFTP_DROP_ARP_MALFORMED] = "arp_malformed",
	[AINFTP_DROP_ARP_NOT_OURS] = "arp_not_ours",
	[AINFTP_DROP_IP_MALFORMED] = "ip_malformed",
	[AINFTP_DROP_IP_CHECKSUM] = "ip_checksum",
	[AINFTP_DROP_IP_FRAGMENT] = "ip_fragment",
	[AINFTP_DROP_IP_NOT_OURS] = "ip_not_ours",
	[AINFTP_DROP_IP_PROTO] = "ip_proto",
	[AINFTP_DROP_ICMP_MALFORMED] = "icmp_malformed",
	[AINFTP_DROP_ICMP_TYPE] = "icmp_type",
	[AINFTP_DROP_UDP_MALFORMED] = "udp_malformed",
	[AINFTP_DROP_UDP_PORT] = "udp_port",
	[AINFTP_DROP_HB_RING_FULL] = "hb_ring_full",
	[AINFTP_DROP_SENTRY] = "sentry_dropped",
	[AINFTP_DROP_QUARANTINED] = "quarantined",
	[AINFTP_DROP_RESULT_NOMBUF] = "result_nombuf",
	[AINFTP_DROP_TX_FULL] = "tx_full",
	[AINFTP_DROP_NOMBUF] = "nombuf",
};

int64_t
ainftp_counters_unaccounted(const struct ainftp_port_ctr *c)
{
	uint64_t n = ainftp_ctr_read(&c->data_pkts) + ainftp_ctr_read(&c->data_answered) +
		     ainftp_ctr_read(&c->heartbeat_acks) + ainftp_ctr_read(&c->probes) +
		     ainftp_ctr_read(&c->hellos) + ainftp_ctr_read(&c->arp_replies) +
		     ainftp_ctr_read(&c->spine_results) + ainftp_ctr_read(&c->spine_heartbeats) +
		     ainftp_ctr_read(&c->spine_states) + ainftp_ctr_read(&c->arp_learnt) +
		     ainftp_ctr_read(&c->icmp_replies);
	unsigned int i;

	for (i = 0; i < AINFTP_DROP_FRAME_MAX; i++)
		n += ainftp_ctr_read(&c->drops[i]);
	for (i = 1; i < AINFTP_BAD_MAX; i++)
		n += ainftp_ctr_read(&c->proto_drops[i]);
	return (int64_t)(ainftp_ctr_read(&c->rx_pkts) - n);
}

void
ainftp_counters_reset(void)
{
	memset(ainftp_stats, 0, sizeof(ainftp_stats));
}

void
ainftp_counters_accumulate(struct ainftp_port_ctr *sum, const struct ainftp_port_ctr *c)
{
	unsigned int i;

	sum->rx_pkts += ainftp_ctr_read(&c->rx_pkts);
	sum->rx_bytes += ainftp_ctr_read(&c->rx_bytes);
	sum->tx_pkts += ainftp_ctr_read(&c->tx_pkts);
	sum->tx_bytes += ainftp_ctr_read(&c->tx_bytes);
	sum->arp_replies += ainftp_ctr_read(&c->arp_replies);
	sum->icmp_replies += ainftp_ctr_read(&c->icmp_replies);
	sum->arp_learnt += ainftp_ctr_read(&c->arp_learnt);
	sum->data_pkts += ainftp_ctr_read(&c->data_pkts);
	sum->data_answered += ainftp_ctr_read(&c->data_answered);
	sum->chunks_done += ainftp_ctr_read(&c->chunks_done);
	sum->chunks_partial += ainftp_ctr_read(&c->chunks_partial);
	sum->chunks_abandoned += ainftp_ctr_read(&c->chunks_abandoned);
	sum->chunks_early += ainftp_ctr_read(&c->chunks_early);
	sum->probes += ainftp_ctr_read(&c->probes);
	sum->states_sent += ainftp_ctr_read(&c->states_sent);
	sum->hellos += ainftp_ctr_read(&c->hellos);
	sum->results_sent += ainftp_ctr_read(&c->results_sent);
	sum->results_resent += ainftp_ctr_read(&c->results_resent);
	sum->overflows += ainftp_ctr_read(&c->overflows);
	sum->heartbeats_sent += ainftp_ctr_read(&c->heartbeats_sent);
	sum->heartbeat_acks += ainftp_ctr_read(&c->heartbeat_acks);
	sum->spine_results += ainftp_ctr_read(&c->spine_results);
	sum->spine_heartbeats += ainftp_ctr_read(&c->spine_heartbeats);
	sum->spine_states += ainftp_ctr_read(&c->spine_states);
	for (i = 0; i < AINFTP_DROP_MAX; i++)
		sum->drops[i] += ainftp_ctr_read(&c->drops[i]);
	for (i = 1; i < AINFTP_BAD_MAX; i++)
		sum->proto_drops[i] += ainftp_ctr_read(&c->proto_drops[i]);
}

void
ainftp_counters_port_sum(uint16_t port_idx, struct ainftp_port_ctr *sum)
{
	unsigned int lcore;

	memset(sum, 0, sizeof(*sum));
	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++)
		ainftp_counters_accumulate(sum, &ainftp_stats[lcore].port[port_idx]);
}

void
ainftp_lat_hist_init(struct ainftp_lat_hist *h, uint64_t hz)
{
	unsigned int i;

	for (i = 0; i < AINFTP_LAT_BUCKETS; i++)
		h->le[i] =
			(uint64_t)((double)hz * 1e-6 * (double)((uint64_t)AINFTP_LAT_LE0_US << i));
}
