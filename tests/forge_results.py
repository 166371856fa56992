#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Forged RESULTs for test_catchup.sh: ainftp v2 RESULT datagrams spoofed from
the appliance's address and port to a worker, for every (step, chunk) of a job
in turn, each with the AUTH flag and a random tag, and a payload of large
values. Right job, step, chunk, slot and length; only the tag is wrong, which
a worker must notice. Raw IPv4 (IP_HDRINCL): run it as root, in the lab's
workers' namespace. Prints how many it sent."""
import argparse
import os
import socket
import struct
import time

HDR = struct.Struct("!BBBBIHHIIHbBQ")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def datagram(a, step, chunk):
    hdr = HDR.pack(2, 2, 0, 1, a.job, 0xFFFF, a.elems, step, chunk, chunk % a.slots, 0, 4,
                   (1 << 4) - 1)
    body = hdr + os.urandom(16) + struct.pack("<f", 1e6) * a.elems
    udp = struct.pack("!HHHH", a.sport, a.dport, 8 + len(body), 0) + body
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     socket.inet_aton(a.src), socket.inet_aton(a.dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + udp


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--src", required=True)
    p.add_argument("--sport", type=int, default=47474)
    p.add_argument("--dst", required=True)
    p.add_argument("--dport", type=int, required=True)
    p.add_argument("--job", type=int, required=True)
    p.add_argument("--elems", type=int, required=True)
    p.add_argument("--slots", type=int, default=256)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--chunks", type=int, required=True)
    p.add_argument("--seconds", type=float, default=3)
    a = p.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    sent, end = 0, time.monotonic() + a.seconds
    # The early steps and chunks first and most often: where the workers are.
    while time.monotonic() < end:
        for step in range(a.steps):
            for chunk in range(0, a.chunks, 7):
                try:
                    s.sendto(datagram(a, step, chunk), (a.dst, 0))
                    sent += 1
                except OSError:
                    pass
            if time.monotonic() >= end:
                break
    print("%d forged RESULTs sent" % sent)


if __name__ == "__main__":
    main()
