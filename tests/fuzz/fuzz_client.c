/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness of the worker client's receive path (client/): the
 * datagrams the engine thread takes from the appliance (rx_one: RESULT,
 * STATE, HEARTBEAT, HELLO_ACK, anything) and the join's HELLO_ACK
 * (hello_ack_take, hello_verdict). Those are static in a library that
 * exports only its API, so this file compiles the client's sources into
 * itself; no engine thread and no socket (fd -1: what the client would send
 * fails with EBADF, and is dropped as a full socket buffer would be).
 *
 * An input is one byte that picks the client's options (fz_sel), then
 * records as fuzz_rx's:
 *
 *   ctrl (1 byte) | len (2 bytes, big-endian) | len bytes of UDP payload
 *
 * ctrl's bits: FZ_FIX_HDR sets version, job, worker, length and the fields
 * that name a chunk in flight (or the join's nonce), FZ_TAG tags the datagram
 * under the worker's key as the appliance would, FZ_FOREIGN has it come from
 * another address than the appliance's. Each request in flight is a few
 * chunks over a few slots; after each datagram the client sends what its
 * window allows, as the engine's loop does.
 */
#include "../../client/ainftp_client.c"
#include "../../client/ainftp_client_hello.c"

#define FZ_MAX_DGRAMS 16
#define FZ_SLOTS 4
#define FZ_ELEMS 64
#define FZ_STEP 5
#define FZ_NONCE 0x0123456789abcdefull
#define FZ_REQS 2

enum fz_ctrl {
	FZ_FIX_HDR = 1 << 0,
	FZ_TAG = 1 << 1,
	FZ_FOREIGN = 1 << 2,
	FZ_HELLO = 1 << 3, /* a HELLO_ACK goes to the join, not to the engine */
};

/* The first byte: the client's options. */
enum fz_sel {
	FZ_SEL_ENC = 3 << 0,  /* contributions: int16, int8, float32, int16 */
	FZ_SEL_RENC = 3 << 2, /* results: float32, int16, int8, float32 */
	FZ_SEL_AUTH = 1 << 4,
	FZ_SEL_RESULT_TAGS = 1 << 5,
	FZ_SEL_MEAN = 1 << 6,
	FZ_SEL_SHORT = 1 << 7, /* the last chunk of each request is short */
};

/* A throwaway key of a test, as make_corpus.py's. */
static const uint8_t fz_key[AINFTP_KEY_BYTES] = {0xf0, 0x0d, 1, 2, 3};
static const uint32_t fz_appliance = 0x010012c6; /* 198.18.0.1, network order */

struct fz_run {
	struct box *c;
	struct box_req *r[FZ_REQS];
	float *buf[FZ_REQS];
	struct txbatch tx;
	uint64_t now;
};

static void
fz_opts(struct ainftp_opts *o, uint8_t sel)
{
	static const int enc[4] = {AINFTP_ENC_INT16, AINFTP_ENC_INT8, AINFTP_ENC_FLOAT32,
				   AINFTP_ENC_INT16};
	static const int renc[4] = {AINFTP_ENC_FLOAT32, AINFTP_ENC_INT16, AINFTP_ENC_INT8,
				    AINFTP_ENC_FLOAT32};
	struct ainftp_opts *d = ainftp_opts_new();

	if (d == NULL)
		abort();
	*o = *d;
	ainftp_opts_free(d);
	o->appliance = o->appliances[0] = fz_appliance;
	o->has_appliance = true;
	o->job = 9;
	o->has_job = true;
	o->worker = 2;
	memcpy(o->key, fz_key, sizeof(fz_key));
	o->has_key = true;
	o->auth = (sel & FZ_SEL_AUTH) != 0;
	o->elems = FZ_ELEMS;
	o->encoding = enc[sel & FZ_SEL_ENC];
	o->result_encoding = renc[(sel & FZ_SEL_RENC) >> 2];
	o->slots = FZ_SLOTS;
	o->first_step = FZ_STEP;
	o->has_first_step = true;
}

/*
 * client_init without the socket and the eventfd (the engine's and the
 * join's I/O are not fuzzed), then the join's outcome.
 */
static struct box *
fz_client(uint8_t sel)
{
	struct box *c = calloc(1, sizeof(*c));
	struct ainftp_opts o;

	if (c == NULL)
		abort();
	fz_opts(&o, sel);
	if (ainftp_client_opts_check(&o) < 0)
		abort();
	c->fd = c->wake_fd = -1;
	pthread_mutex_init(&c->mu, NULL);
	c->o = o;
	c->payload_len = ainftp_payload_len((unsigned int)o.encoding, o.elems);
	c->pkt_len = sizeof(struct ainftp_hdr) + c->payload_len + (o.auth ? AINFTP_TAG_LEN : 0);
	c->result_len = sizeof(struct ainftp_hdr) +
			ainftp_payload_len((unsigned int)o.result_encoding, o.elems);
	c->window = o.slots;
	c->cwnd = c->window < CWND_INIT ? c->window : CWND_INIT;
	c->ssthresh = c->window;
	c->next_step = o.first_step;
	c->rto_ns = (uint64_t)o.rto_us * 1000;
	box_kernels(c, o.simd_bits);
	c->codec = ainftp_codec_get((unsigned int)o.encoding);
	c->rcodec = ainftp_codec_get((unsigned int)o.result_encoding);
	if (o.auth && ainftp_mac_key_init(&c->mk, o.key) < 0)
		abort();
	if (client_alloc(c) < 0)
		abort();
	c->result_tags = o.auth && (sel & FZ_SEL_RESULT_TAGS);
	return c;
}

/* Two requests of three chunks each over four slots: the second waits for slots. */
static void
fz_start(struct fz_run *run, uint8_t sel)
{
	size_t n = 3 * FZ_ELEMS - (sel & FZ_SEL_SHORT ? FZ_ELEMS / 2 + 1 : 0);
	int op = sel & FZ_SEL_MEAN ? AINFTP_OP_MEAN : AINFTP_OP_SUM;

	memset(run, 0, sizeof(*run));
	run->c = fz_client(sel);
	run->now = 1000000000u;
	for (int i = 0; i < FZ_REQS; i++) {
		run->buf[i] = calloc(n, sizeof(float));
		if (run->buf[i] == NULL)
			abort();
		for (size_t k = 0; k < n; k++)
			run->buf[i][k] = (float)((int)(k % 17) - 8) * 0.25f;
		/* One box of one: a request as the public client queues it. */
		run->r[i] = ainftp_box_req_new(run->c, run->buf[i], n, op, 0);
		if (run->r[i] == NULL || ainftp_box_submit(&run->c, &run->r[i], 1) != 0)
			abort();
	}
	take_submitted(run->c);
	send_new(run->c, run->now, &run->tx);
}

static void
fz_stop(struct fz_run *run)
{
	for (int i = 0; i < FZ_REQS; i++) {
		req_destroy(run->r[i]);
		free(run->buf[i]);
	}
	client_free(run->c);
}

/* What the header and the body or payload take, tag included, for the type. */
static size_t
fz_want_len(const struct ainftp_msg *m)
{
	size_t len = sizeof(struct ainftp_hdr) + ainftp_body_len(m->type);

	if (m->type == AINFTP_MSG_RESULT)
		len += ainftp_payload_len(m->encoding, m->elems);
	return len + (m->flags & AINFTP_F_AUTH ? AINFTP_TAG_LEN : 0);
}

/* Version, job, worker and the chunk in flight the datagram's slot holds. */
static size_t
fz_fix_hdr(struct box *c, uint8_t ctrl, uint8_t *p, size_t len)
{
	struct ainftp_msg m = {0};
	struct inflight *f;
	size_t want;

	if (len >= sizeof(struct ainftp_hdr))
		ainftp_hdr_read((const struct ainftp_hdr *)p, &m);
	m.job = c->o.job;
	m.worker = (uint16_t)c->o.worker;
	m.flags = (uint8_t)((m.flags & ~AINFTP_F_AUTH) |
			    (ctrl & FZ_TAG && c->o.auth ? AINFTP_F_AUTH : 0));
	if (m.type == AINFTP_MSG_HELLO_ACK) {
		m.bitmap = FZ_NONCE;
		m.encoding = (uint8_t)c->o.encoding;
		m.elems = (uint16_t)c->o.elems;
	} else if (m.type == AINFTP_MSG_RESULT || m.type == AINFTP_MSG_STATE) {
		m.encoding = m.type == AINFTP_MSG_RESULT ? (uint8_t)c->o.result_encoding : 0;
		m.elems = (uint16_t)c->o.elems;
		f = &c->slot[m.chunk & (c->o.slots - 1)];
		if (f->req != NULL) {
			m.step = f->req->step;
			m.chunk = f->chunk;
		}
		m.slot = (uint16_t)(m.chunk & (c->o.slots - 1));
	}
	if (ainftp_codec_get(m.encoding) == NULL)
		m.encoding = 0;
	want = fz_want_len(&m);
	if (want > RX_BUF)
		return len;
	if (want > len)
		memset(p + len, 0, want - len);
	ainftp_hdr_write((struct ainftp_hdr *)p, &m);
	p[0] = AINFTP_PROTO_VERSION;
	return want;
}

/* The tag the appliance would put: after the header in a RESULT, else at the end. */
static void
fz_tag(uint8_t *p, size_t len)
{
	static uint8_t tmp[RX_BUF];
	const size_t hl = sizeof(struct ainftp_hdr);
	struct ainftp_mac_key mk;

	if (len < hl + AINFTP_TAG_LEN || ainftp_mac_key_init(&mk, fz_key) < 0)
		return;
	if (p[1] != AINFTP_MSG_RESULT) {
		ainftp_mac(&mk, p, len - AINFTP_TAG_LEN, p + len - AINFTP_TAG_LEN);
		return;
	}
	memcpy(tmp, p, hl);
	memcpy(tmp + hl, p + hl + AINFTP_TAG_LEN, len - hl - AINFTP_TAG_LEN);
	ainftp_mac(&mk, tmp, len - AINFTP_TAG_LEN, p + hl);
}

/* The join's half: a HELLO_ACK to our HELLO, and its verdict. */
static void
fz_hello(struct box *c, const uint8_t *p, size_t len)
{
	struct ainftp_hello_info a;
	struct ainftp_join j;

	last_error[0] = '\0'; /* a refusal must write its own */
	if (hello_ack_take(&c->o, &c->mk, FZ_NONCE, p, len, &a) &&
	    hello_verdict(&c->o, (const struct ainftp_hdr *)p, &a, &j) < 0 &&
	    ainftp_last_error()[0] == '\0') {
		fprintf(stderr, "fuzz_client: a refused join without a message\n");
		abort();
	}
}

/* One datagram as receive() takes each of a batch: its header, the tags' pass, the message. */
static void
fz_rx(struct box *c, uint8_t *p, size_t len, const struct sockaddr_in *from, uint64_t now)
{
	struct rx_dgram d = {.p = p, .len = len};

	rx_parse(c, &d, from);
	rx_tags(c, &d, 1);
	rx_one(c, &d, from, now);
}

static void
fz_dgram(struct fz_run *run, uint8_t ctrl, const uint8_t *data, size_t len)
{
	/* As the engine's receive buffer: 64-aligned, so payloads are 2-aligned. */
	static _Alignas(64) uint8_t p[RX_BUF];
	struct sockaddr_in from = {.sin_family = AF_INET,
				   .sin_addr.s_addr = fz_appliance,
				   .sin_port = htons(AINFTP_DEFAULT_UDP_PORT)};

	memcpy(p, data, len);
	if (ctrl & FZ_FIX_HDR)
		len = fz_fix_hdr(run->c, ctrl, p, len);
	if (ctrl & FZ_TAG)
		fz_tag(p, len);
	if (ctrl & FZ_FOREIGN)
		from.sin_addr.s_addr = htonl(0xc6120063); /* 198.18.0.99 */
	run->now += 1000000; /* a millisecond between datagrams: timers fire now and then */
	if (ctrl & FZ_HELLO)
		fz_hello(run->c, p, len);
	else
		fz_rx(run->c, p, len, &from, run->now);
	/* The engine's loop: retransmit what is due, then fill the window. */
	retransmit(run->c, run->now, &run->tx);
	send_new(run->c, run->now, &run->tx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_run run;
	unsigned int n = 0;

	if (size < 1)
		return 0;
	fz_start(&run, data[0]);
	data++, size--;
	while (size >= 3 && n < FZ_MAX_DGRAMS) {
		uint8_t ctrl = data[0];
		size_t len = (size_t)(data[1] << 8 | data[2]);

		data += 3, size -= 3;
		len = len < size ? len : size;
		len = len < RX_BUF - AINFTP_TAG_LEN ? len : RX_BUF - AINFTP_TAG_LEN;
		fz_dgram(&run, ctrl, data, len);
		data += len, size -= len;
		n++;
	}
	fz_stop(&run);
	return 0;
}
