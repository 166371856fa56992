/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_packet.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <rte_flow.h>

#include "ainftp_dp.h"
#include "ainftp_log.h"
#include "ainftp_port.h"
#include "ainftp_proto.h"
#include "ainftp_tx.h"

#define POOL_CACHE 256
#define POOL_SPARE 1024 /* packets in flight between stages beyond the rings */
/* Room for the largest frame: MTU plus Ethernet header, two VLAN tags and FCS. */
#define FRAME_OVERHEAD (RTE_ETHER_HDR_LEN + 2 * RTE_VLAN_HLEN + RTE_ETHER_CRC_LEN)

/*
 * net_af_packet moves each frame through a TPACKET_V2 ring slot of framesz
 * bytes (its framesz= argument, 2048 by default) but reports a 1518-byte
 * max_rx_pktlen whatever framesz is. The kernel writes a received frame
 * AFP_FRAME_OFF bytes into its slot and cuts what does not fit, so the slot,
 * not the report, bounds the MTU. The PMD copies a slot less its first
 * AFP_MBUF_OFF bytes into one mbuf (no scatter) and refuses a pool whose data
 * room is smaller.
 */
#define AFP_DRIVER "net_af_packet"
#define AFP_FRAMESZ_ARG ",framesz="
#define AFP_FRAMESZ_DEFAULT 2048
#define AFP_FRAME_OFF (TPACKET_ALIGN(TPACKET2_HDRLEN + 16) - RTE_ETHER_HDR_LEN)
#define AFP_MBUF_OFF (TPACKET2_HDRLEN - sizeof(struct sockaddr_ll))

static int
port_socket(uint16_t port_id)
{
	int s = rte_eth_dev_socket_id(port_id);

	/* Virtual devices have no NUMA node: use the main lcore's. */
	return s < 0 ? (int)rte_socket_id() : s;
}

/* Find the ethdev a config entry names, hot-plugging it when it is a vdev string. */
static int
port_resolve(struct ainftp_runtime *rt, uint16_t idx, char *err, size_t errlen)
{
	const struct ainftp_config *cfg = rt->cfg;
	const char *device = cfg->ports[idx].device;
	struct ainftp_port *p = &rt->ports[idx];
	char name[RTE_ETH_NAME_MAX_LEN];
	size_t n = strcspn(device, ",");
	int ret;

	if (n >= sizeof(name)) {
		snprintf(err, errlen, "%s: ports[%u].device: name too long for an ethdev",
			 cfg->source, idx);
		return AINFTP_ERR_CONFIG;
	}
	memcpy(name, device, n);
	name[n] = '\0';
	if (p->preset || rte_eth_dev_get_port_by_name(name, &p->port_id) == 0)
		return 0;
	if (device[n] == ',' || strncmp(device, "net_", 4) == 0) {
		ret = rte_dev_probe(device);
		if (ret != 0) {
			snprintf(err, errlen,
				 "%s: ports[%u].device: cannot create \"%s\": no driver of that "
				 "name, or wrong arguments (EAL's log line above says which)",
				 cfg->source, idx, device);
			return AINFTP_ERR_CONFIG;
		}
		p->probed = true;
		if (rte_eth_dev_get_port_by_name(name, &p->port_id) == 0)
			return 0;
		snprintf(err, errlen, "%s: ports[%u].device: \"%s\" made no ethdev named \"%s\"",
			 cfg->source, idx, device, name);
		return AINFTP_ERR_CONFIG;
	}
	snprintf(err, errlen,
		 "%s: ports[%u].device: no ethdev \"%s\" (bound to vfio-pci with dpdk-devbind.py? "
		 "not excluded by -a/-b/--no-pci?)",
		 cfg->source, idx, device);
	return AINFTP_ERR_CONFIG;
}

static bool
port_is_afp(const struct rte_eth_dev_info *info)
{
	return strcmp(info->driver_name, AFP_DRIVER) == 0;
}

/* The framesz= of a net_af_packet vdev string; the PMD's default without one. */
static uint32_t
afp_framesz(const char *device)
{
	const char *arg = strstr(device, AFP_FRAMESZ_ARG);

	if (arg == NULL)
		return AFP_FRAMESZ_DEFAULT;
	/* The PMD read it with atoi() and refused 0 when it created the port. */
	return (uint32_t)strtoul(arg + strlen(AFP_FRAMESZ_ARG), NULL, 10);
}

/*
 * What a port really carries, per PMD: net_af_packet its ring slot (see
 * AFP_FRAME_OFF), every other PMD the max_rx_pktlen it reports (net_tap 1522
 * in DPDK 22.11, so MTU 1500 with room for VLAN tags). Also the mbuf data room
 * its RX queues need: one whole frame, or net_af_packet's slot.
 */
static void
port_frame_limits(struct ainftp_runtime *rt, uint16_t idx, const struct rte_eth_dev_info *info)
{
	const struct ainftp_port_conf *pc = &rt->cfg->ports[idx];
	struct ainftp_port *p = &rt->ports[idx];
	uint32_t framesz;

	p->rx_room = (uint32_t)pc->mtu + FRAME_OVERHEAD;
	p->max_frame = info->max_rx_pktlen;
	if (!port_is_afp(info))
		return;
	framesz = afp_framesz(pc->device);
	p->max_frame = framesz > AFP_FRAME_OFF ? framesz - (uint32_t)AFP_FRAME_OFF : 0;
	if (framesz > AFP_MBUF_OFF)
		p->rx_room = RTE_MAX(p->rx_room, framesz - (uint32_t)AFP_MBUF_OFF);
}

/*
 * The largest MTU the config may ask of a port: what its frames hold, less the
 * overhead rte_eth_dev_configure() counts (the gap between the max frame and
 * max MTU the PMD reports, else Ethernet header and CRC), so that a port the
 * PMD would refuse is refused here, naming the config's key.
 */
static uint32_t
port_mtu_max(const struct ainftp_port *p, const struct rte_eth_dev_info *info)
{
	uint32_t overhead = RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;

	if (port_is_afp(info))
		return p->max_frame > FRAME_OVERHEAD ? p->max_frame - FRAME_OVERHEAD : 0;
	if (info->max_mtu != UINT16_MAX && info->max_rx_pktlen > info->max_mtu)
		overhead = info->max_rx_pktlen - info->max_mtu;
	if (p->max_frame <= overhead)
		return 0;
	return RTE_MIN((uint32_t)info->max_mtu, p->max_frame - overhead);
}

/* The config against what the device offers. */
static int
port_check(struct ainftp_runtime *rt, uint16_t idx, const struct rte_eth_dev_info *info, char *err,
	   size_t errlen)
{
	const struct ainftp_config *cfg = rt->cfg;
	const struct ainftp_port_conf *pc = &cfg->ports[idx];
	const struct ainftp_port *p = &rt->ports[idx];
	uint16_t j;

	for (j = 0; j < idx; j++) {
		if (rt->ports[j].port_id == p->port_id) {
			snprintf(err, errlen, "%s: ports[%u].device: same device as ports[%u]",
				 cfg->source, idx, j);
			return AINFTP_ERR_CONFIG;
		}
	}
	if (p->n_rxq > info->max_rx_queues) {
		snprintf(err, errlen, "%s: ports[%u].rx_queues: %u exceeds the %u RX queues of %s",
			 cfg->source, idx, p->n_rxq, info->max_rx_queues, p->name);
		return AINFTP_ERR_CONFIG;
	}
	if (p->n_txq > info->max_tx_queues) {
		snprintf(err, errlen,
			 "%s: ports[%u].tx_queues: %u needed (one per RX lcore and one for the "
			 "control lcore), more than the %u TX queues of %s",
			 cfg->source, idx, p->n_txq, info->max_tx_queues, p->name);
		return AINFTP_ERR_CONFIG;
	}
	if (pc->mtu < info->min_mtu || pc->mtu > port_mtu_max(p, info)) {
		snprintf(err, errlen, "%s: ports[%u].mtu: %u is outside what %s takes (%u..%u%s)",
			 cfg->source, idx, pc->mtu, p->name, info->min_mtu, port_mtu_max(p, info),
			 port_is_afp(info) ? ": its framesz= less the ring's header and "
					     "the frame's overhead"
					   : "");
		return AINFTP_ERR_CONFIG;
	}
	return 0;
}

unsigned int
ainftp_pool_size(const struct ainftp_runtime *rt, int socket)
{
	const struct ainftp_config *cfg = rt->cfg;
	unsigned int n = POOL_SPARE, lcores = ainftp_config_rx_lcore_count(cfg) + 1;
	uint16_t i;

	for (i = 0; i < rt->n_ports; i++) {
		if (rt->ports[i].socket != socket)
			continue;
		n += (unsigned int)rt->ports[i].n_rxq * cfg->ports[i].rx_desc;
		n += (unsigned int)rt->ports[i].n_txq * cfg->ports[i].tx_desc;
	}
	/* Every lcore may hold its per-lcore cache plus a burst per port in its TX buffers. */
	n += lcores * (POOL_CACHE + AINFTP_BURST * rt->n_ports);
	/* A ring-backed mempool is most efficient at 2^k - 1 elements. */
	return rte_align32pow2(n + 1) - 1;
}

/* TX descriptors of the ports on a socket: what results can have in flight there. */
static unsigned int
tx_in_flight(const struct ainftp_runtime *rt, int socket)
{
	unsigned int n = 0;
	uint16_t i;

	for (i = 0; i < rt->n_ports; i++)
		if (rt->ports[i].socket == socket)
			n += (unsigned int)rt->ports[i].n_txq *
			     RTE_MAX(rt->cfg->ports[i].tx_desc, AINFTP_RING_TX_DESC);
	return n;
}

static struct rte_mempool *
result_pools_create(struct ainftp_runtime *rt, int socket, char *err, size_t errlen)
{
	const struct ainftp_config *cfg = rt->cfg;
	unsigned int n_hdr, n_res, stash, room = 0;
	char name[RTE_MEMPOOL_NAMESIZE];
	uint16_t j;

	for (j = 0; j < cfg->n_jobs; j++) {
		room = RTE_MAX(room, (unsigned int)ainftp_payload_len(
					     AINFTP_ENC_FLOAT32, cfg->jobs[j].elems_per_packet));
		/* A leaf's partial sums go up in frames as large as its port carries. */
		if (cfg->jobs[j].role == AINFTP_ROLE_LEAF)
			room = RTE_MAX(room, (unsigned int)cfg->ports[cfg->jobs[j].port].mtu +
						     RTE_ETHER_HDR_LEN);
	}
	/* A port without chained TX gets whole copies: headers and payload in one mbuf. */
	room += RTE_PKTMBUF_HEADROOM + 128;
	/* Each RX lcore keeps a stash of each taken ahead (ainftp_mstash.h). */
	stash = ainftp_config_rx_lcore_count(cfg) * AINFTP_MSTASH_SIZE;
	n_hdr = rte_align32pow2(tx_in_flight(rt, socket) + stash + POOL_SPARE + 1) - 1;
	n_res = rte_align32pow2(ainftp_dp_result_pool_size(cfg) + tx_in_flight(rt, socket) + stash +
				POOL_SPARE + 1) -
		1;
	snprintf(name, sizeof(name), "ainftp_hdr_s%d", socket);
	rt->hdr_pool[socket] = rte_pktmbuf_pool_create(name, n_hdr, POOL_CACHE, 0,
						       RTE_PKTMBUF_HEADROOM + 128, socket);
	snprintf(name, sizeof(name), "ainftp_res_s%d", socket);
	rt->result_pool[socket] =
		rte_pktmbuf_pool_create(name, n_res, POOL_CACHE, 0, (uint16_t)room, socket);
	if (rt->hdr_pool[socket] == NULL || rt->result_pool[socket] == NULL) {
		snprintf(err, errlen,
			 "cannot create the result pools on socket %d (%u + %u mbufs): %s "
			 "(reserve more hugepages, or raise -m with --no-huge)",
			 socket, n_res, n_hdr, rte_strerror(rte_errno));
		return NULL;
	}
	return rt->result_pool[socket];
}

static int
pool_create(struct ainftp_runtime *rt, int socket, char *err, size_t errlen)
{
	unsigned int n = ainftp_pool_size(rt, socket);
	uint32_t room = RTE_MBUF_DEFAULT_DATAROOM;
	char name[RTE_MEMPOOL_NAMESIZE];
	uint16_t i;

	if (rt->pool[socket] != NULL)
		return 0;
	/* One mbuf per frame on RX: no port on this socket needs scatter. */
	for (i = 0; i < rt->n_ports; i++)
		if (rt->ports[i].socket == socket)
			room = RTE_MAX(room, rt->ports[i].rx_room);
	room += RTE_PKTMBUF_HEADROOM;
	if (room > UINT16_MAX) {
		snprintf(err, errlen, "socket %d: mbufs of %u bytes: more than an mbuf holds",
			 socket, room);
		return AINFTP_ERR_CONFIG;
	}
	snprintf(name, sizeof(name), "ainftp_mbuf_s%d", socket);
	rt->pool[socket] = rte_pktmbuf_pool_create(name, n, POOL_CACHE, 0, (uint16_t)room, socket);
	if (rt->pool[socket] == NULL) {
		snprintf(err, errlen,
			 "cannot create %u mbufs of %u bytes on socket %d: %s (reserve more "
			 "hugepages, or raise -m with --no-huge)",
			 n, room, socket, rte_strerror(rte_errno));
		return AINFTP_ERR_SYSTEM;
	}
	AINFTP_LOG(INFO, "socket %d: %u mbufs of %u bytes", socket, n, room);
	return result_pools_create(rt, socket, err, errlen) == NULL ? AINFTP_ERR_SYSTEM : 0;
}

static void
port_conf_fill(const struct ainftp_port_conf *pc, const struct rte_eth_dev_info *info,
	       struct rte_eth_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->rxmode.mtu = pc->mtu;
	/*
	 * rte_eth_dev_configure() holds net_af_packet to its reported 1518-byte
	 * frame, but the PMD never uses the MTU it is given: its ring slot bounds
	 * the frames (port_frame_limits), the interface's own MTU the kernel's.
	 */
	if (port_is_afp(info))
		conf->rxmode.mtu = RTE_MIN(pc->mtu, (uint16_t)RTE_ETHER_MTU);
	/* Checksums in hardware where the NIC has them; the software check covers the rest. */
	conf->rxmode.offloads = info->rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	/* Results are a header mbuf chained to a payload shared by every worker's copy. */
	conf->txmode.offloads = info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	if (pc->rx_queues > 1) {
		conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf->rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info->flow_type_rss_offloads;
	}
}

/* Our source MAC on this port: the override, else the device's, else a random local one. */
static int
port_mac_setup(struct ainftp_runtime *rt, uint16_t idx, char *err, size_t errlen)
{
	struct ainftp_port *p = &rt->ports[idx];
	struct rte_ether_addr want;
	int ret;

	if (rte_eth_macaddr_get(p->port_id, &p->mac) != 0)
		memset(&p->mac, 0, sizeof(p->mac));
	if (rt->cfg->has_mac)
		memcpy(want.addr_bytes, rt->cfg->mac, RTE_ETHER_ADDR_LEN);
	else if (rte_is_zero_ether_addr(&p->mac))
		rte_eth_random_addr(want.addr_bytes);
	else
		return 0;
	ret = rte_eth_dev_default_mac_addr_set(p->port_id, &want);
	if (ret != 0) {
		/* The device cannot filter on it: accept everything, net_input filters. */
		ret = rte_eth_promiscuous_enable(p->port_id);
		if (ret != 0) {
			snprintf(err, errlen, "%s: cannot set the MAC address: %s", p->name,
				 rte_strerror(-ret));
			return AINFTP_ERR_SYSTEM;
		}
		AINFTP_LOG(INFO, "%s: MAC not settable, promiscuous mode on", p->name);
	}
	p->mac = want;
	return 0;
}

static void lanes_steer(struct ainftp_runtime *rt, uint16_t idx);

static int
port_start(struct ainftp_runtime *rt, uint16_t idx, const struct rte_eth_dev_info *info, char *err,
	   size_t errlen)
{
	const struct ainftp_port_conf *pc = &rt->cfg->ports[idx];
	struct ainftp_port *p = &rt->ports[idx];
	uint16_t nb_rxd = pc->rx_desc, nb_txd = pc->tx_desc, q;
	struct rte_eth_rxconf rxconf = info->default_rxconf;
	struct rte_eth_txconf txconf = info->default_txconf;
	struct rte_eth_conf conf;
	const char *step;
	int ret;

	port_conf_fill(pc, info, &conf);
	rxconf.offloads = conf.rxmode.offloads;
	txconf.offloads = conf.txmode.offloads;
	/* Drivers that do not list the capability (net_ring, net_null) pass chains as they are. */
	p->multiseg = conf.txmode.offloads != 0 || strncmp(info->driver_name, "net_ring", 8) == 0;
	step = "configure";
	ret = rte_eth_dev_configure(p->port_id, p->n_rxq, p->n_txq, &conf);
	if (ret == 0) {
		step = "adjust descriptors";
		ret = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nb_rxd, &nb_txd);
	}
	for (q = 0; ret == 0 && q < p->n_rxq; q++) {
		step = "set up an RX queue";
		ret = rte_eth_rx_queue_setup(p->port_id, q, nb_rxd, p->socket, &rxconf,
					     rt->pool[p->socket]);
	}
	for (q = 0; ret == 0 && q < p->n_txq; q++) {
		step = "set up a TX queue";
		ret = rte_eth_tx_queue_setup(p->port_id, q, nb_txd, p->socket, &txconf);
	}
	if (ret == 0)
		ret = port_mac_setup(rt, idx, err, errlen);
	if (ret == AINFTP_ERR_SYSTEM)
		return ret;
	if (ret == 0) {
		step = "start";
		ret = rte_eth_dev_start(p->port_id);
	}
	if (ret != 0) {
		snprintf(err, errlen,
			 "%s (ports[%u]): cannot %s: %s (the driver's log line above "
			 "says why)",
			 p->name, idx, step, rte_strerror(-ret));
		return AINFTP_ERR_SYSTEM;
	}
	p->started = true;
	lanes_steer(rt, idx);
	return 0;
}

/*
 * Lane q of a port is RX queue q: aggregation packets for it carry UDP
 * destination port udp_port + q. Where the NIC has rte_flow, a rule per lane
 * puts them on their queue; elsewhere the NIC's hash picks (net_tap), or the
 * sender (net_ring), and a packet that reaches an lcore that does not own its
 * slot is dropped as `lane`: poll such a port's queues from one lcore.
 */
static void
lanes_steer(struct ainftp_runtime *rt, uint16_t idx)
{
	const struct ainftp_config *cfg = rt->cfg;
	struct ainftp_port *p = &rt->ports[idx];
	struct rte_flow_attr attr = {.ingress = 1};
	struct rte_flow_item_ipv4 ip_spec = {.hdr.dst_addr = cfg->ipv4};
	struct rte_flow_item_ipv4 ip_mask = {.hdr.dst_addr = UINT32_MAX};
	struct rte_flow_item_udp udp_spec, udp_mask = {.hdr.dst_port = UINT16_MAX};
	struct rte_flow_action_queue queue;
	struct rte_flow_item pattern[] = {
		{.type = RTE_FLOW_ITEM_TYPE_ETH},
		{.type = RTE_FLOW_ITEM_TYPE_IPV4, .spec = &ip_spec, .mask = &ip_mask},
		{.type = RTE_FLOW_ITEM_TYPE_UDP, .spec = &udp_spec, .mask = &udp_mask},
		{.type = RTE_FLOW_ITEM_TYPE_END},
	};
	struct rte_flow_action actions[] = {
		{.type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &queue},
		{.type = RTE_FLOW_ACTION_TYPE_END},
	};
	struct rte_flow_error ferr;
	uint16_t q;

	if (p->n_rxq < 2)
		return;
	for (q = 0; q < p->n_rxq; q++) {
		memset(&udp_spec, 0, sizeof(udp_spec));
		udp_spec.hdr.dst_port = rte_cpu_to_be_16((uint16_t)(cfg->udp_port + q));
		queue.index = q;
		if (rte_flow_validate(p->port_id, &attr, pattern, actions, &ferr) != 0 ||
		    rte_flow_create(p->port_id, &attr, pattern, actions, &ferr) == NULL) {
			AINFTP_LOG(
				NOTICE,
				"%s: no rte_flow steering by UDP port (%s): senders must pick the "
				"lane's queue; other packets are dropped as \"lane\"",
				p->name, ferr.message != NULL ? ferr.message : "unsupported");
			rte_flow_flush(p->port_id, &ferr);
			return;
		}
	}
	AINFTP_LOG(INFO, "%s: %u lanes steered by rte_flow on UDP ports %u..%u", p->name, p->n_rxq,
		   cfg->udp_port, cfg->udp_port + p->n_rxq - 1);
}

int
ainftp_ports_setup(struct ainftp_runtime *rt, char *err, size_t errlen)
{
	const struct ainftp_config *cfg = rt->cfg;
	struct rte_eth_dev_info info[AINFTP_MAX_PORTS];
	uint16_t i, txq = ainftp_config_tx_queues_needed(cfg);
	int ret;

	/* All devices are found and checked before any memory is committed. */
	rt->n_ports = cfg->n_ports;
	for (i = 0; i < cfg->n_ports; i++) {
		struct ainftp_port *p = &rt->ports[i];

		ret = port_resolve(rt, i, err, errlen);
		if (ret != 0)
			return ret;
		ret = rte_eth_dev_info_get(p->port_id, &info[i]);
		if (ret != 0) {
			snprintf(err, errlen, "%s: ports[%u]: cannot query %s: %s", cfg->source, i,
				 cfg->ports[i].device, rte_strerror(-ret));
			return AINFTP_ERR_SYSTEM;
		}
		rte_eth_dev_get_name_by_port(p->port_id, p->name);
		p->socket = port_socket(p->port_id);
		p->n_rxq = cfg->ports[i].rx_queues;
		p->n_txq = RTE_MAX(cfg->ports[i].tx_queues, txq);
		port_frame_limits(rt, i, &info[i]);
		ret = port_check(rt, i, &info[i], err, errlen);
		if (ret != 0)
			return ret;
	}
	for (i = 0; i < rt->n_ports; i++) {
		ret = pool_create(rt, rt->ports[i].socket, err, errlen);
		if (ret != 0)
			return ret;
	}
	for (i = 0; i < rt->n_ports; i++) {
		ret = port_start(rt, i, &info[i], err, errlen);
		if (ret != 0)
			return ret;
		AINFTP_LOG(INFO, "port %u: %s socket %d, %u RX / %u TX queues, MTU %u", i,
			   rt->ports[i].name, rt->ports[i].socket, rt->ports[i].n_rxq,
			   rt->ports[i].n_txq, cfg->ports[i].mtu);
	}
	return 0;
}

void
ainftp_ports_close(struct ainftp_runtime *rt)
{
	struct rte_eth_dev_info info;
	struct rte_device *dev;
	unsigned int s;
	uint16_t i;

	for (i = 0; i < rt->n_ports; i++) {
		struct ainftp_port *p = &rt->ports[i];

		if (!rte_eth_dev_is_valid_port(p->port_id) || (!p->started && !p->probed))
			continue;
		dev = rte_eth_dev_info_get(p->port_id, &info) == 0 ? info.device : NULL;
		if (p->started)
			rte_flow_flush(p->port_id, NULL);
		if (p->started && rte_eth_dev_stop(p->port_id) != 0)
			AINFTP_LOG(WARNING, "%s: stop failed", p->name);
		rte_eth_dev_close(p->port_id);
		/* A vdev we created is removed too, so a restart in-process can create it again. */
		if (p->probed && dev != NULL)
			rte_dev_remove(dev);
		p->started = p->probed = false;
	}
	for (s = 0; s < RTE_MAX_NUMA_NODES; s++) {
		rte_mempool_free(rt->pool[s]);
		rte_mempool_free(rt->result_pool[s]);
		rte_mempool_free(rt->hdr_pool[s]);
		rt->pool[s] = rt->result_pool[s] = rt->hdr_pool[s] = NULL;
	}
}
