/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The join handshake (docs/PROTOCOL.md, "Joining"): before its engine starts,
 * a client sends HELLO with its view of the job and takes the appliance's
 * HELLO_ACK: the step to start at, or the first field where the two views
 * differ, named in the error, instead of a timeout later.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <sodium.h>

#include "ainftp_client_private.h"

#define HELLO_RESEND_MS 200 /* a HELLO or its ack lost: ask again */
#define HELLO_LEN (sizeof(struct ainftp_hdr) + AINFTP_BODY_LEN)

static void
hello_build(const struct ainftp_opts *o, const struct ainftp_mac_key *mk, uint64_t nonce,
	    uint8_t *pkt, size_t *len)
{
	struct ainftp_msg m = {
		.type = AINFTP_MSG_HELLO,
		.encoding = (uint8_t)o->encoding,
		.flags = o->auth ? AINFTP_F_AUTH : 0,
		.job = o->job,
		.worker = (uint16_t)o->worker,
		.elems = (uint16_t)o->elems,
		.bitmap = nonce,
	};
	struct ainftp_hello_info hi = {
		.slots = o->slots,
		.lanes = o->lanes,
		.result_encoding = (uint8_t)o->result_encoding,
		.auth = o->auth ? AINFTP_HELLO_AUTH_DATA | AINFTP_HELLO_AUTH_POLYVAL : 0,
		.shard = o->shard,
		.shards = o->shards,
	};

	ainftp_hdr_write((struct ainftp_hdr *)pkt, &m);
	ainftp_hello_write((struct ainftp_hello *)(pkt + sizeof(struct ainftp_hdr)), &hi);
	*len = HELLO_LEN;
	if (o->auth) {
		ainftp_mac_as(mk, AINFTP_MAC_SIPHASH, pkt, HELLO_LEN, pkt + HELLO_LEN);
		*len += AINFTP_TAG_LEN;
	}
}

/* What the client has for a field the appliance named, for the message. */
static void
view_of(const struct ainftp_opts *o, const struct ainftp_hdr *h, const struct ainftp_hello_info *a,
	unsigned int status, char *mine, char *theirs, size_t n)
{
	struct ainftp_msg m;

	ainftp_hdr_read(h, &m);
	switch (status) {
	case AINFTP_HELLO_ELEMS:
		snprintf(mine, n, "%u", o->elems);
		snprintf(theirs, n, "%u", m.elems);
		break;
	case AINFTP_HELLO_ENCODING:
		snprintf(mine, n, "%s", ainftp_encoding_name((unsigned int)o->encoding));
		snprintf(theirs, n, "%s", ainftp_encoding_name(m.encoding));
		break;
	case AINFTP_HELLO_RESULT_ENC:
		snprintf(mine, n, "%s", ainftp_encoding_name((unsigned int)o->result_encoding));
		snprintf(theirs, n, "%s", ainftp_encoding_name(a->result_encoding));
		break;
	case AINFTP_HELLO_SLOTS:
		snprintf(mine, n, "%u", o->slots);
		snprintf(theirs, n, "%u", a->slots);
		break;
	case AINFTP_HELLO_LANES:
		snprintf(mine, n, "%u", o->lanes);
		snprintf(theirs, n, "%u", a->lanes);
		break;
	default: /* auth */
		snprintf(mine, n, "%s", o->auth ? "true" : "false");
		snprintf(theirs, n, "%s", a->auth & AINFTP_HELLO_AUTH_DATA ? "true" : "false");
		break;
	}
}

/* The ack's verdict: 0 and the step, or the error that names the difference. */
static int
hello_verdict(const struct ainftp_opts *o, const struct ainftp_hdr *h,
	      const struct ainftp_hello_info *a, struct ainftp_join *j)
{
	char mine[32], theirs[32];

	/*
	 * A box from before shards answers OK with "shard 0 of 1" whatever the
	 * worker's view: a worker of several boxes must not take that as joined.
	 */
	bool same_shard = a->shard == o->shard && a->shards == o->shards;

	if (a->status == AINFTP_HELLO_OK && same_shard) {
		j->step = a->step;
		j->result_tags = o->auth && (a->auth & AINFTP_HELLO_AUTH_RESULTS) != 0;
		j->mac_alg = o->auth && (a->auth & AINFTP_HELLO_AUTH_POLYVAL) != 0
				     ? AINFTP_MAC_POLYVAL_AES
				     : AINFTP_MAC_SIPHASH;
		return 0;
	}
	if (a->status == AINFTP_HELLO_JOB)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "join: the appliance has no job %u on port %u",
						   o->job, o->port);
	if (a->status == AINFTP_HELLO_WORKER)
		return ainftp_client_seterr_status(
			AINFTP_E_INVAL,
			"join: worker %d is not a worker of job %u on the appliance", o->worker,
			o->job);
	if (a->status == AINFTP_HELLO_SHARD || a->status == AINFTP_HELLO_OK) {
		char ip[INET_ADDRSTRLEN];
		struct in_addr box = {.s_addr = o->appliance};

		return ainftp_client_seterr_status(
			AINFTP_E_INVAL,
			"join: box %s is shard %u of %u here, the box says shard %u of %u: the "
			"cluster.json files differ (job %u's \"appliances\", or option "
			"\"appliance\")",
			inet_ntop(AF_INET, &box, ip, sizeof(ip)), o->shard, o->shards, a->shard,
			a->shards, o->job);
	}
	if (a->status >= AINFTP_HELLO_MAX)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "join: the appliance refused job %u with "
						   "status %u",
						   o->job, a->status);
	view_of(o, h, a, a->status, mine, theirs, sizeof(mine));
	return ainftp_client_seterr_status(
		AINFTP_E_INVAL,
		"join: job %u's %s is %s on the appliance, %s here (option "
		"\"%s\", or cluster.json)",
		o->job, ainftp_hello_status_names[a->status], theirs, mine,
		a->status == AINFTP_HELLO_ELEMS	       ? "elems"
		: a->status == AINFTP_HELLO_RESULT_ENC ? "result_encoding"
						       : ainftp_hello_status_names[a->status]);
}

/*
 * A datagram that answers our HELLO: a well-formed HELLO_ACK of this job and
 * worker echoing the nonce, tagged unless it refuses the job or the worker
 * (the appliance has no key to tag those with), or says that the job has no
 * auth (the appliance tags nothing of such a job: a client with auth on
 * would otherwise drop the one answer that names its mistake, and time out).
 * Like the other two, such an untagged refusal can only come from whoever saw
 * the nonce. 1 with its body in a, else 0.
 */
static int
hello_ack_take(const struct ainftp_opts *o, const struct ainftp_mac_key *mk, uint64_t nonce,
	       const uint8_t *p, size_t len, struct ainftp_hello_info *a)
{
	const struct ainftp_hdr *h = (const struct ainftp_hdr *)p;
	struct ainftp_msg m;

	if (len < sizeof(*h) || ainftp_hdr_check(h, len) != AINFTP_OK)
		return 0;
	ainftp_hdr_read(h, &m);
	if (m.type != AINFTP_MSG_HELLO_ACK || m.job != o->job || m.worker != o->worker ||
	    m.bitmap != nonce)
		return 0;
	ainftp_hello_read((const struct ainftp_hello *)(h + 1), a);
	if (a->status == AINFTP_HELLO_JOB || a->status == AINFTP_HELLO_WORKER)
		return 1;
	if (a->status == AINFTP_HELLO_AUTH && !(a->auth & AINFTP_HELLO_AUTH_DATA) &&
	    !(m.flags & AINFTP_F_AUTH))
		return 1;
	if (o->auth && (!(m.flags & AINFTP_F_AUTH) ||
			!ainftp_mac_verify_as(mk, AINFTP_MAC_SIPHASH, p, HELLO_LEN, p + HELLO_LEN)))
		return 0;
	return 1;
}

int
ainftp_client_hello(const struct ainftp_opts *o, const struct ainftp_mac_key *mk, int fd,
		    struct ainftp_join *j)
{
	struct sockaddr_in to = {
		.sin_family = AF_INET, .sin_addr.s_addr = o->appliance, .sin_port = htons(o->port)};
	uint8_t pkt[HELLO_LEN + AINFTP_TAG_LEN], rx[9216];
	uint64_t nonce, start = ainftp_client_now_ns() / 1000000, next = 0, now;
	struct ainftp_hello_info a;
	char ip[INET_ADDRSTRLEN];
	size_t len;

	randombytes_buf(&nonce, sizeof(nonce));
	hello_build(o, mk, nonce, pkt, &len);
	while ((now = ainftp_client_now_ns() / 1000000) - start < o->timeout_ms) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t got;

		if (now >= next) {
			if (sendto(fd, pkt, len, 0, (const struct sockaddr *)&to, sizeof(to)) < 0 &&
			    errno != EAGAIN && errno != ENOBUFS)
				break;
			next = now + HELLO_RESEND_MS;
		}
		if (poll(&pf, 1, (int)(next - now)) <= 0)
			continue;
		got = recvfrom(fd, rx, sizeof(rx), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (got < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			break;
		}
		if (from.sin_addr.s_addr == o->appliance &&
		    hello_ack_take(o, mk, nonce, rx, (size_t)got, &a))
			return hello_verdict(o, (const struct ainftp_hdr *)rx, &a, j);
	}
	inet_ntop(AF_INET, &o->appliance, ip, sizeof(ip));
	if (ainftp_client_now_ns() / 1000000 - start < o->timeout_ms)
		return ainftp_client_seterr_status(
			errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH
				? AINFTP_E_UNREACHABLE
				: AINFTP_E_SYSTEM,
			"join: appliance %s:%u: %s", ip, o->port, strerror(errno));
	return ainftp_client_seterr_status(
		AINFTP_E_TIMEOUT,
		"join: no HELLO_ACK from appliance %s:%u in %u ms (job %u, "
		"worker %d); check that it runs and speaks protocol "
		"version %d, and that the key agrees with cluster.json",
		ip, o->port, o->timeout_ms, o->job, o->worker, AINFTP_PROTO_VERSION);
}
