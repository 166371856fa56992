#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the seed corpora of the libFuzzer harnesses (tests/fuzz/corpus/).

Usage: tests/fuzz/make_corpus.py [OUT_DIR]   (default: tests/fuzz/corpus)

rx/      inputs of fuzz_rx: records of ctrl (1 byte) | len (2 bytes BE) | frame,
         frames of every message type of fuzz_rx.c's four jobs, ARP and ICMP.
         Tags and checksums are left to the harness (ctrl bits), so no MAC here.
client/  inputs of fuzz_client: an options byte, then records as rx's of UDP
         payloads: RESULT, STATE, HEARTBEAT, HELLO_ACK for its requests.
config/  cluster.json texts: the shipped configs, fuzz_rx's and a few small ones.

Deterministic: the same files every run, so the committed corpus is this
script's output.
"""
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))

# enum ainftp_msg_type, ainftp_encoding, ainftp_flags (lib/wire)
DATA, RESULT, HEARTBEAT, HB_ACK, HELLO, HELLO_ACK, STATE, PROBE = range(1, 9)
F32, I16, I8 = 0, 1, 2
F_AUTH, F_OVERFLOW, F_AGGREGATE = 1, 2, 4

# fuzz_rx.c's ctrl bits and jobs: id -> (encoding, elems, slots, auth, result encoding)
FIX_L3, TAG_APPEND, TAG_FIX = 1, 2, 4
JOBS = {1: (I16, 64, 4, True, I16), 2: (I8, 64, 2, False, I8),
        3: (F32, 32, 4, True, F32), 4: (I16, 32, 1, False, F32)}
# The hierarchy's jobs: 5, this box the spine (leaves at workers 0 and 1's
# addresses); 6, this box leaf 0 (workers 0, 1) under a spine at worker 4's.
SPINE_JOB, LEAF_JOB, SPINE_W = 5, 6, 4
HIER = {SPINE_JOB: (I16, 64, 4, True, I16), LEAF_JOB: (I16, 64, 4, True, I16)}
APPLIANCE_MAC = bytes([2, 0, 0, 0, 0, 2])
APPLIANCE_IP = bytes([198, 18, 0, 2])
UDP_PORT = 47474

# fuzz_client.c's bits and its client: job 9, worker 2, 64 elements, 4 slots, step 5
FIX_HDR, TAG, FOREIGN, TO_HELLO = 1, 2, 4, 8
SEL_AUTH, SEL_RESULT_TAGS, SEL_MEAN, SEL_SHORT = 16, 32, 64, 128
CLIENT_JOB, CLIENT_WORKER, CLIENT_ELEMS, CLIENT_SLOTS, CLIENT_STEP = 9, 2, 64, 4, 5
CLIENT_NONCE = 0x0123456789abcdef


def payload_len(enc, n):
    return {F32: 4 * n, I16: 2 * n, I8: n + n // 32}[enc]


def payload(enc, n, seed):
    """A small, finite contribution in the encoding."""
    if enc == F32:
        return b"".join(struct.pack("<f", ((i * 7 + seed) % 13 - 6) / 4.0)
                        for i in range(n))
    if enc == I16:
        return b"".join(struct.pack("<h", (i * 97 + seed * 31) % 2001 - 1000) for i in range(n))
    exps = bytes([0xfd] * (n // 32))
    return exps + bytes(((i * 5 + seed) % 41 - 20) & 0xff for i in range(n))


def hdr(typ, enc, flags, job, worker, elems=0, step=0, chunk=0, slot=0, exp=0, contrib=0,
        bitmap=0):
    return struct.pack(">BBBBIHHIIHbBQ", 2, typ, enc, flags, job, worker, elems, step, chunk,
                       slot, exp, contrib, bitmap)


def hello_body(slots, lanes, renc, status, step, auth):
    return struct.pack(">IHBBIB3x", slots, lanes, renc, status, step, auth)


def state_body(slot_step, slot_chunk, next_step, reason, slot_state):
    return struct.pack(">IIIBB2x", slot_step, slot_chunk, next_step, reason, slot_state)


def ipv4(src, proto, l4):
    """IPv4 header with lengths; the checksum is the harness's (FIX_L3)."""
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0, 64, proto, 0, src,
                       APPLIANCE_IP) + l4


def eth(src_mac, ethertype, body, dst=APPLIANCE_MAC):
    return dst + src_mac + struct.pack(">H", ethertype) + body


def worker_frame(w, msg):
    """Worker w's UDP datagram to the appliance (fixture_data_frame's addresses)."""
    udp = struct.pack(">HHHH", 40000 + w, UDP_PORT, 8 + len(msg), 0) + msg
    return eth(bytes([2, 0, 0, 0, 0, 0x10 + w]), 0x0800, ipv4(bytes([198, 18, 0, 11 + w]), 17, udp))


def rec(ctrl, frame):
    return struct.pack(">BH", ctrl, len(frame)) + frame


def ainftp_rec(job, w, msg):
    """A record of an ainftp message: checksums fixed, tagged when the job has auth."""
    auth = JOBS.get(job, (0, 0, 0, True, 0))[3]
    return rec(FIX_L3 | (TAG_APPEND if auth else 0), worker_frame(w, msg))


def data_msg(job, w, step, chunk, seed=0, flags=None, enc=None, elems=None):
    e, n, slots, auth, _ = JOBS[job]
    e = e if enc is None else enc
    n = n if elems is None else elems
    f = (F_AUTH if auth else 0) if flags is None else flags
    return hdr(DATA, e, f, job, w, n, step, chunk, chunk % slots, -3 if e == I16 else 0) + \
        payload(e, n, seed + w)


def rx_corpus():
    seeds = {}
    for job, (enc, n, slots, auth, renc) in JOBS.items():
        fl = F_AUTH if auth else 0
        # A chunk from every worker (a result), then the next chunk from two.
        seeds["data_job%d" % job] = b"".join(
            ainftp_rec(job, w, data_msg(job, w, 1, 0)) for w in range(4)) + b"".join(
            ainftp_rec(job, w, data_msg(job, w, 1, 1)) for w in range(2))
        # The same chunk twice, then a stale one and a chunk ahead of the slot.
        seeds["dup_job%d" % job] = b"".join(ainftp_rec(job, 0, data_msg(job, 0, 2, c))
                                            for c in (0, 0, slots, 0))
        seeds["hello_job%d" % job] = ainftp_rec(job, 1, hdr(HELLO, enc, fl, job, 1, n, bitmap=77)
                                                + hello_body(slots, 1, renc, 0, 0,
                                                             1 if auth else 0))
        seeds["hello_bad_job%d" % job] = ainftp_rec(
            job, 1, hdr(HELLO, enc, fl, job, 1, n, bitmap=78) + hello_body(slots * 2, 1, renc, 0,
                                                                           0, 0))
        seeds["probe_job%d" % job] = ainftp_rec(job, 0, data_msg(job, 0, 3, 1)) + b"".join(
            ainftp_rec(job, w, hdr(PROBE, 0, fl, job, w, 0, 3, 1, 1 % slots)) for w in range(3))
        seeds["hback_job%d" % job] = ainftp_rec(job, 3, hdr(HB_ACK, 0, fl, job, 3, 0, 4, 0, 0,
                                                            bitmap=12345))
        # Messages a worker never sends, and a leaf's aggregate: refused.
        seeds["refused_job%d" % job] = b"".join(
            ainftp_rec(job, 0, hdr(t, enc if t == RESULT else 0, fl, job, 0,
                                   n if t == RESULT else 0, 1, 0, 0) +
                       (payload(enc, n, 0) if t == RESULT else b"") +
                       (bytes(16) if t in (HELLO_ACK, STATE) else b""))
            for t in (RESULT, HEARTBEAT, HELLO_ACK, STATE)) + ainftp_rec(
            job, 0, data_msg(job, 0, 1, 0, flags=fl | F_AGGREGATE))
    seeds.update(hier_corpus())
    # Wrong job, worker, encoding, elements, slot; untagged on an auth job; NaN.
    seeds["bad_fields"] = b"".join([
        ainftp_rec(5, 0, hdr(DATA, I16, 0, 5, 0, 64, 1, 0, 0) + payload(I16, 64, 0)),
        ainftp_rec(1, 0, hdr(DATA, I16, F_AUTH, 1, 9, 64, 1, 0, 0) + payload(I16, 64, 0)),
        ainftp_rec(1, 0, data_msg(1, 0, 1, 0, enc=F32)),
        ainftp_rec(2, 0, data_msg(2, 0, 1, 0, elems=32)),
        ainftp_rec(1, 0, hdr(DATA, I16, F_AUTH, 1, 0, 64, 1, 1, 0) + payload(I16, 64, 0)),
        rec(FIX_L3, worker_frame(0, data_msg(1, 0, 1, 0, flags=0))),
        ainftp_rec(3, 1, hdr(DATA, F32, F_AUTH, 3, 1, 32, 1, 0, 0) +
                   struct.pack("<f", float("nan")) * 32),
    ])
    seeds["reserved_tag"] = b"".join([
        # The reserved chunk (step and chunk 0xffffffff): once a NULL result resent.
        ainftp_rec(4, 0, hdr(DATA, I16, 0, 4, 0, 32, 0xffffffff, 0xffffffff, 0) +
                   payload(I16, 32, 0)),
        ainftp_rec(1, 0, hdr(PROBE, 0, F_AUTH, 1, 0, 0, 0xffffffff, 0xffffffff, 3)),
        # A tag of the wrong key (all zero): refused as `tag`.
        rec(FIX_L3, worker_frame(1, data_msg(1, 1, 1, 0) + bytes(16))),
    ])
    # A float32 job's outlier for the sentry, among three honest workers.
    seeds["sentry_job3"] = b"".join(
        ainftp_rec(3, w, data_msg(3, w, 6, 2, seed=0)) for w in range(3)) + ainftp_rec(
        3, 3, hdr(DATA, F32, F_AUTH, 3, 3, 32, 6, 2, 2) + struct.pack("<f", 1e30) * 32)
    # ARP request, announcement, one for another address, a truncated one.
    peer = bytes([2, 0, 0, 0, 0, 0x11])
    arp = lambda op, tip: struct.pack(">HHBBH", 1, 0x0800, 6, 4, op) + peer + \
        bytes([198, 18, 0, 12]) + bytes(6) + tip
    bcast = b"\xff" * 6
    seeds["arp"] = b"".join([rec(0, eth(peer, 0x0806, arp(1, APPLIANCE_IP), bcast)),
                             rec(0, eth(peer, 0x0806, arp(2, APPLIANCE_IP), bcast)),
                             rec(0, eth(peer, 0x0806, arp(1, bytes([198, 18, 0, 77])), bcast)),
                             rec(0, eth(peer, 0x0806, arp(1, APPLIANCE_IP)[:20], bcast))])
    icmp = lambda t: struct.pack(">BBHHH", t, 0, 0, 0x1234, 1) + b"ping" * 8
    seeds["icmp"] = b"".join([rec(FIX_L3, eth(peer, 0x0800, ipv4(bytes([198, 18, 0, 12]), 1,
                                                                  icmp(t)))) for t in (8, 0, 13)])
    # Not ours: IPv6, a fragment, UDP to another port, a runt, TCP.
    frag = bytearray(worker_frame(0, data_msg(1, 0, 1, 0)))
    frag[20] = 0x20
    other_port = bytearray(worker_frame(0, data_msg(1, 0, 1, 0)))
    other_port[36:38] = struct.pack(">H", 9)
    seeds["other"] = b"".join([rec(0, eth(peer, 0x86dd, bytes(40))), rec(FIX_L3, bytes(frag)),
                               rec(FIX_L3, bytes(other_port)), rec(0, bytes(10)),
                               rec(FIX_L3, eth(peer, 0x0800, ipv4(bytes([198, 18, 0, 12]), 6,
                                                                  bytes(20))))])
    return seeds


def part(p, bpp, n, exp, seed, desc=0):
    """Part p of a partial sum of n elements at bpp blocks (ainftp_partial.h):
    every block at exp, small sums."""
    blocks = (n + 31) // 32
    first, k = p * bpp, min(bpp, blocks - p * bpp)
    out = struct.pack("<BBHHHQ", p, bpp, first, k, 0, desc)
    for b in range(first, first + k):
        m = min(32, n - 32 * b)
        out += struct.pack("<ii", exp, exp + 1)
        out += b"".join(struct.pack("<q", (j * 13 + seed) % 401 - 200) for j in range(m))
    return out


def agg_msg(leaf, chunk, p, bpp, seed=0, bitmap=None, desc=0):
    e, n, slots, _, _ = HIER[SPINE_JOB]
    bm = (0x3 if leaf == 0 else 0xc) if bitmap is None else bitmap
    return hdr(DATA, e, F_AUTH | F_AGGREGATE, SPINE_JOB, leaf, n, 1, chunk, chunk % slots,
               0, bin(bm).count("1"), bm) + part(p, bpp, n, -3, seed + leaf, desc)


def spine_rec(ctrl, msg):
    """A message of job 6's spine (198.18.0.15, the appliance's worker id) to this leaf."""
    return rec(ctrl, worker_frame(SPINE_W, msg))


def hier_corpus():
    seeds = {}
    e, n, slots, _, renc = HIER[SPINE_JOB]
    # Two leaves' partial sums in two parts each (a result), interleaved.
    seeds["spine_parts"] = b"".join(
        ainftp_rec(SPINE_JOB, l, agg_msg(l, 0, p, 1)) for p in (1, 0) for l in (0, 1))
    # A part twice, a probe of a chunk summing and of one complete, another bpp, a
    # stranger's worker in the bitmap, another request.
    seeds["spine_refused"] = b"".join([
        ainftp_rec(SPINE_JOB, 0, agg_msg(0, 1, 0, 1)),
        ainftp_rec(SPINE_JOB, 0, agg_msg(0, 1, 0, 1)),
        ainftp_rec(SPINE_JOB, 0, hdr(PROBE, e, F_AUTH, SPINE_JOB, 0, 0, 1, 1, 1)),
        ainftp_rec(SPINE_JOB, 0, agg_msg(0, 1, 0, 2)),
        ainftp_rec(SPINE_JOB, 1, agg_msg(1, 1, 0, 1, bitmap=0x5)),
        ainftp_rec(SPINE_JOB, 1, agg_msg(1, 1, 1, 1, desc=0x1000000000040)),
        ainftp_rec(SPINE_JOB, 1, hdr(PROBE, e, F_AUTH, SPINE_JOB, 1, 0, 1, 1, 1,
                                     bitmap=0x1000000000040)),
        ainftp_rec(SPINE_JOB, 0, hdr(DATA, e, F_AUTH, SPINE_JOB, 0, n, 1, 1, 1, -3) +
                   payload(e, n, 0)),
    ])
    # This box as leaf 0: its workers complete a chunk (its partial sum goes up once
    # the spine answers ARP), the spine's heartbeat, STATE missing, then its result.
    spine_mac = bytes([2, 0, 0, 0, 0, 0x10 + SPINE_W])
    arp_reply = struct.pack(">HHBBH", 1, 0x0800, 6, 4, 2) + spine_mac + \
        bytes([198, 18, 0, 15]) + APPLIANCE_MAC + APPLIANCE_IP
    res = hdr(RESULT, renc, 0, LEAF_JOB, 0xffff, n, 1, 0, 0, -2, 4, 0xf) + payload(renc, n, 3)
    seeds["leaf_up_and_back"] = b"".join([
        rec(0, eth(spine_mac, 0x0806, arp_reply)),
        ainftp_rec(LEAF_JOB, 0, hdr(DATA, e, F_AUTH, LEAF_JOB, 0, n, 1, 0, 0, -3) +
                   payload(e, n, 0)),
        ainftp_rec(LEAF_JOB, 1, hdr(DATA, e, F_AUTH, LEAF_JOB, 1, n, 1, 0, 0, -3) +
                   payload(e, n, 1)),
        spine_rec(FIX_L3, hdr(HEARTBEAT, 0, 0, LEAF_JOB, 0xffff, 0, 9, bitmap=99)),
        spine_rec(FIX_L3 | TAG_APPEND, hdr(STATE, 0, F_AUTH, LEAF_JOB, 0xffff, 0, 1, 0, 0,
                                           bitmap=1) + state_body(1, 0, 1, 3, 1)),
        ainftp_rec(LEAF_JOB, 0, hdr(PROBE, 0, F_AUTH, LEAF_JOB, 0, 0, 1, 0, 0)),
        spine_rec(FIX_L3, res),
        spine_rec(FIX_L3, res),
    ])
    return seeds


def client_rec(ctrl, msg):
    return rec(ctrl, msg)


def client_result(enc, chunk, auth, contrib=4, flags=0):
    n = CLIENT_ELEMS
    tag = bytes(16) if auth else b""
    return hdr(RESULT, enc, flags | (F_AUTH if auth else 0), CLIENT_JOB, 0xffff, n,
               CLIENT_STEP, chunk, chunk % CLIENT_SLOTS, -2 if enc != F32 else 0, contrib,
               (1 << contrib) - 1) + tag + payload(enc, n, chunk)


def client_corpus():
    seeds = {}
    # Options byte: contributions int16/int8/float32 (bits 0-1), results
    # float32/int16/int8 (bits 2-3), auth, result tags, mean, short last chunk.
    for sel in (0x00, SEL_AUTH | SEL_RESULT_TAGS, 0x01 | 0x04 | SEL_AUTH, 0x02 | 0x08 | SEL_MEAN,
                0x08 | SEL_SHORT | SEL_AUTH | SEL_RESULT_TAGS, SEL_AUTH | SEL_SHORT):
        auth = bool(sel & SEL_AUTH)
        renc = [F32, I16, I8, F32][(sel >> 2) & 3]
        ctrl = FIX_HDR | TAG
        st = lambda chunk, reason, nxt=CLIENT_STEP: hdr(
            STATE, 0, F_AUTH if auth else 0, CLIENT_JOB, 0xffff, 0, CLIENT_STEP, chunk,
            chunk % CLIENT_SLOTS, 0, 2, 3) + state_body(CLIENT_STEP, chunk, nxt, reason, 1) + \
            (bytes(16) if auth else b"")
        # Every chunk's result (the second request's need the slots freed first).
        seeds["results_%02x" % sel] = bytes([sel]) + b"".join(
            client_rec(ctrl, client_result(renc, k, auth)) for k in (0, 1, 2, 0, 1, 2))
        seeds["states_%02x" % sel] = bytes([sel]) + b"".join(
            client_rec(ctrl, st(k, reason, CLIENT_STEP + 3))
            for k, reason in ((0, 3), (1, 4), (2, 2), (0, 1), (3, 1), (1, 9)))
        seeds["mixed_%02x" % sel] = bytes([sel]) + b"".join([
            client_rec(ctrl, hdr(HEARTBEAT, 0, F_AUTH if auth else 0, CLIENT_JOB, 0xffff, 0,
                                 CLIENT_STEP, 0, 0, bitmap=42) + (bytes(16) if auth else b"")),
            client_rec(ctrl, client_result(renc, 0, auth, flags=F_OVERFLOW)),
            client_rec(ctrl | FOREIGN, client_result(renc, 1, auth)),
            client_rec(0, client_result(renc, 1, auth)),
            client_rec(ctrl, client_result(renc, 1, auth, contrib=1)),
        ])
    for status in (0, 1, 2, 3, 4, 5, 6, 7, 8, 12):
        sel = SEL_AUTH if status % 2 else 0
        body = hello_body(CLIENT_SLOTS, 1, F32, status, 11, 3 if sel else 0)
        msg = hdr(HELLO_ACK, I16, F_AUTH if sel else 0, CLIENT_JOB, CLIENT_WORKER, CLIENT_ELEMS,
                  bitmap=CLIENT_NONCE) + body + (bytes(16) if sel else b"")
        seeds["hello_ack_%d" % status] = bytes([sel]) + client_rec(FIX_HDR | TAG | TO_HELLO, msg)
    return seeds


def config_corpus():
    seeds = {}
    for name in sorted(os.listdir(os.path.join(SRC, "config"))):
        if name.endswith(".json"):
            with open(os.path.join(SRC, "config", name), "rb") as f:
                seeds[name[:-5]] = f.read()
    small = ('{"appliance": {"ipv4": "198.18.0.2", "mac": "02:00:00:00:00:02"},'
             ' "ports": [{"device": "net_ring_fix", "rx_queues": 1}],'
             ' "lcores": {"control": 0, "rx": [{"lcore": 1, "port": 0, "queue": 0}]},'
             ' "jobs": [{"id": 1, "elems_per_packet": 256, "encoding": "int16",'
             ' "auth": false, "workers": [{"id": 0, "ipv4": "198.18.0.11"}]}],'
             ' "telemetry": {"enabled": true, "stats_interval_s": 0}}')
    seeds["fixture"] = small.encode()
    seeds["sentry"] = small.replace(
        '"auth": false,', '"auth": false, "sentry": {"policy": "trimmed_mean", "f": 1},'
        ' "straggler": {"threshold_ms": 100, "min_quorum": 1}, "result_encoding": "int8",'
        ' "slots": 8, "quorum": 1,').encode()
    seeds["sink"] = small.replace('"telemetry"', '"sink": {"enabled": true}, "control":'
                                  ' {"heartbeat_interval_ms": 100}, "telemetry"').encode()
    seeds["nul"] = small.encode()[:60] + b"\0" + small.encode()[60:]
    seeds["not_object"] = b"[1, 2.5, \"x\", null, true]"
    seeds["dup_key"] = b'{"appliance": {}, "appliance": {}}'
    return seeds


def write(out, name, seeds):
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for k, v in sorted(seeds.items()):
        with open(os.path.join(d, k), "wb") as f:
            f.write(v)
    print("%s: %d files, %d bytes" % (d, len(seeds), sum(len(v) for v in seeds.values())))


def xdp_corpus():
    """fuzz_xdp: a first byte (bit 0 fixes the IP checksum, bit 1 the UDP one, bit 2
    addresses the frame to the worker's MAC), then a frame from the appliance to
    worker 0 (198.18.0.11:40000), as the client's AF_XDP path takes them."""
    def frame(msg, sport=UDP_PORT, frag=0, proto=17):
        udp = struct.pack(">HHHH", sport, 40000, 8 + len(msg), 0) + msg
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, frag, 64, proto, 0,
                         APPLIANCE_IP, bytes([198, 18, 0, 11])) + udp
        return eth(APPLIANCE_MAC, 0x0800, ip, dst=bytes([2, 0, 0, 0, 0, 0x11]))
    res = hdr(RESULT, I16, 0, 5, 0, 64, 1, 0, 0) + payload(I16, 64, 0)
    return {
        "result": b"\x07" + frame(res),
        "result_no_udp_csum": b"\x05" + frame(res),
        "odd_length": b"\x07" + frame(res[:-1]),
        "fragment": b"\x07" + frame(res, frag=0x2000),
        "tcp": b"\x07" + frame(res, proto=6),
        "ip_csum_unfixed": b"\x04" + frame(res),
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    write(out, "rx", rx_corpus())
    write(out, "client", client_corpus())
    write(out, "config", config_corpus())
    write(out, "xdp", xdp_corpus())


if __name__ == "__main__":
    main()
