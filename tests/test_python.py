#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The Python binding (python/ainftp), with unittest.

1. Without an appliance: options the library refuses, buffers the binding
   refuses, n = 0, an appliance that refuses datagrams (closed port) or never
   answers (a silent socket), close() with a request pending, the module-level
   client, the DDP hook's failures, a library that is not there; no key in
   any message. Opening a client joins the job (protocol v2: HELLO, then
   HELLO_ACK), so a FakeJoin thread answers the join and then closes its
   port (refuses) or stays silent.
2. End to end in a lab (scripts/lab.sh): four worker processes in the lab's
   workers' namespace all-reduce NumPy arrays and torch tensors (sum and mean,
   sizes from 1 element to 100,003), overlap several asynchronous requests,
   and go through the DDP hook, on job 1 (float32); every result is checked
   bit for bit against the appliance's arithmetic of docs/QUANTIZATION.md
   redone here with NumPy, and against the true sum within the documented
   error bound; past the exact-sum span, E_OVERFLOW with a result within the
   bound of the rounding.

Usage: test_python.py --app BUILDDIR/app/ainftp-app [--srcdir SRC] [unittest args]
with PYTHONPATH=BUILDDIR/python. Needs root for the lab. The same file is the
lab's worker program: test_python.py worker --config F --worker W --out DIR.
"""

import argparse
import ctypes
import ctypes.util
import importlib.util
import json
import os
import pathlib
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import numpy as np

import ainftp

SRCDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = None  # set from --app

JOB = 1  # config/lab.json: float32, its elements per packet
with open(os.path.join(SRCDIR, "config", "lab.json")) as _f:
    ELEMS = next(j for j in json.load(_f)["jobs"] if j["id"] == JOB)["elems_per_packet"]
WORKERS = 4
BLOCK = 32
KEY = "0123456789abcdef" * 4
SEED = 20240611

# What every worker runs, in this order: (name, elements, op, kind). kind is
# "numpy", "torch" or "zeros"; the asynchronous batch comes after these.
CASES = [
    ("one", 1, "sum", "numpy"),
    ("chunk", ELEMS, "sum", "numpy"),
    ("odd", 1000, "sum", "numpy"),
    ("large", 100003, "sum", "numpy"),
    ("mean", 5000, "mean", "numpy"),
    ("zeros", 700, "sum", "zeros"),
    ("overflow", 1000, "sum", "overflow"),
    ("torch_sum", 4096, "sum", "torch"),
    ("torch_mean", 20000, "mean", "torch"),
]
# Started together, then waited for in reverse order.
ASYNC = [("a0", 10, "sum", "numpy"), ("a1", 356, "mean", "torch"),
         ("a2", 5000, "sum", "numpy"), ("a3", 1, "mean", "numpy"),
         ("a4", 40000, "sum", "torch"), ("a5", 777, "mean", "numpy")]
# After those, the module-level client (ainftp.init) on fresh steps.
MODULE_CASE = ("module", 2000, "sum", "numpy")
ASYNC_NAMES = {c[0] for c in ASYNC}
# With torch, after the asynchronous batch: buckets through ainftp.torch.allreduce_hook
# (always MEAN), then the OVERFLOW case again with accept_overflow=False.
# hook_double's bucket is float64: the hook goes through a float32 copy.
HOOK = [("hook", 3000, "mean", "torch"), ("hook_overflow", 1000, "mean", "overflow"),
        ("hook_double", 800, "mean", "torch")]
HOOK_REFUSED = ("hook_refused", 1000, "mean", "overflow")
MODULE_FIRST_STEP = 1000


def gradient(worker, name, n, kind):
    """Worker `worker`'s input for case `name`: a function of its arguments alone.

    Magnitudes spread over 2^-12..2^12 inside each block of 32, so the
    appliance's 31-bit conversion of float32 really rounds the small ones.
    """
    if kind == "zeros":
        return np.zeros(n, np.float32)
    rng = np.random.default_rng([SEED, worker, sum(map(ord, name)), n])
    if kind == "overflow":  # worker 0 2^40 below the others: past the span
        return (rng.standard_normal(n) * (2.0 ** -40 if worker == 0 else 1)).astype(np.float32)
    x = rng.standard_normal(n) * np.exp2(rng.integers(-12, 13, n))
    return x.astype(np.float32)


def has_torch():
    return importlib.util.find_spec("torch") is not None


# --- the appliance's arithmetic (docs/QUANTIZATION.md) ------------------------------


def _blocks(x):
    """x as (chunks, blocks, 32) float64, each chunk of ELEMS zero-padded to whole blocks."""
    chunks = -(-len(x) // ELEMS)
    per_chunk = -(-ELEMS // BLOCK) * BLOCK
    a = np.zeros((chunks, per_chunk), np.float64)
    flat = np.zeros(chunks * ELEMS, np.float64)
    flat[:len(x)] = x
    a[:, :ELEMS] = flat.reshape(chunks, ELEMS)
    return a.reshape(chunks, per_chunk // BLOCK, BLOCK)


def _unblock(a, n):
    return a.reshape(a.shape[0], -1)[:, :ELEMS].reshape(-1)[:n]


NONE = np.iinfo(np.int64).max  # the exponent of an all-zero block
SPAN = 26  # bits of exponent spread a float32 block sums exactly


def _contributions(x):
    """A worker's integers c and block exponents e: x = c * 2^e, |c| < 2^31."""
    b = _blocks(x)
    m = np.abs(b).max(axis=2, keepdims=True)
    e = np.where(m > 0, np.frexp(m)[1].astype(np.int64) - 31, NONE)
    c = np.rint(np.ldexp(b, -np.minimum(e, 1000))).astype(np.int64)
    return c, e


def appliance_result(xs, op):
    """(the appliance's float32 result, the true sum, the error bound) for inputs xs.

    Per block of 32 within each chunk, a worker's float32 values become
    integers c = rne(x * 2^-e), e = (frexp exponent of the block's max |x|)
    - 31; the integers are summed exactly at the smallest e; the sum goes to
    double (rne), then to float32 (rne). MEAN divides by the contributors in
    float32. Where the workers' e spread by more than SPAN bits the appliance
    rounds instead (OVERFLOW): the result is None then, and the bound covers
    that rounding (one unit of 2^(max e - SPAN) per worker).
    """
    n = len(xs[0])
    cs, es = zip(*map(_contributions, xs))
    emin = np.minimum.reduce(es)
    present = emin != NONE
    emax = np.maximum.reduce([np.where(e == NONE, emin, e) for e in es])
    bound = sum(np.where(e == NONE, 0.0, np.ldexp(1.0, np.minimum(e, 1000))) for e in es)
    want = None
    if np.all(emax - emin <= SPAN):
        shifted = [np.where(e == NONE, 0, c << np.where(e == NONE, 0, e - emin))
                   for c, e in zip(cs, es)]
        total = np.ldexp(sum(shifted).astype(np.float64), np.where(present, emin, 0))
        want = _unblock(np.where(present, total, 0.0), n).astype(np.float32)
    else:
        bound = bound + len(xs) * np.ldexp(1.0, np.where(present, emax - SPAN, 0))
    exact = np.sum([x.astype(np.float64) for x in xs], axis=0)
    bound = _unblock(bound * np.ones((1, 1, BLOCK)), n)
    if op == "mean":
        want = None if want is None else want / np.float32(len(xs))
        exact, bound = exact / len(xs), bound / len(xs)
    return want, exact, bound + np.abs(exact) * 2.0 ** -23


# --- the lab's worker program ---------------------------------------------------------


def as_kind(x, kind):
    """A fresh buffer of the case's kind holding x."""
    if kind == "torch":
        import torch
        return torch.tensor(x)
    return x.copy()


def case_input(worker, case, kind=None):
    """The worker's input for case, as a fresh buffer of kind (default: the case's)."""
    name, n, _, data = case
    return as_kind(gradient(worker, name, n, data), kind or data)


def as_numpy(buf):
    return buf.numpy() if hasattr(buf, "numpy") and not isinstance(buf, np.ndarray) else buf


def outcome(req):
    """(the request's buffer as a NumPy copy, its status): E_OVERFLOW still has a result."""
    try:
        req.wait()
        rc = 0
    except ainftp.Error as e:
        if e.status != ainftp.E_OVERFLOW:
            raise
        rc = e.status
    return as_numpy(req.buffer).copy(), rc


class Bucket:
    """What allreduce_hook uses of DDP's GradBucket."""

    def __init__(self, tensor):
        self._tensor = tensor

    def buffer(self):
        return self._tensor


def run_hook(client, worker, results, status):
    """The HOOK cases through the DDP hook, then HOOK_REFUSED; the requests made."""
    import ainftp.torch
    state = ainftp.torch.HookState(client)
    try:
        for case in HOOK:
            before = state.overflows
            grad = case_input(worker, case, "torch")
            if case[0] == "hook_double":
                grad = grad.double()
            got = ainftp.torch.allreduce_hook(state, Bucket(grad)).wait()
            if got is not grad:
                raise AssertionError("%s: the Future's value is not the bucket" % case[0])
            results[case[0]] = got.float().numpy().copy()
            status[case[0]] = ainftp.E_OVERFLOW if state.overflows > before else 0
    finally:
        state.close(close_client=False)
    state = ainftp.torch.HookState(client, accept_overflow=False)
    name = HOOK_REFUSED[0]
    try:
        bucket = Bucket(case_input(worker, HOOK_REFUSED, "torch"))
        ainftp.torch.allreduce_hook(state, bucket).wait()
        status[name] = 0
    except RuntimeError as e:
        status[name] = ainftp.E_OVERFLOW if "[inexact sum (overflow)]" in str(e) else str(e)
    finally:
        state.close(close_client=False)
    return len(HOOK) + 1


def worker_main(argv):
    """One worker: every case in order on one client, results into OUT/worker<W>.npz."""
    p = argparse.ArgumentParser(prog="test_python.py worker")
    p.add_argument("--config", required=True)
    p.add_argument("--worker", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--no-torch", action="store_true")
    a = p.parse_args(argv)
    results, status, requests = {}, {}, 0
    run = [c for c in CASES + ASYNC if not (a.no_torch and c[3] == "torch")]
    with ainftp.Client(a.config, job=JOB, worker=a.worker) as client:
        for case in [c for c in run if c[0] not in ASYNC_NAMES]:
            req = client.allreduce_async(case_input(a.worker, case), op=case[2])
            results[case[0]], status[case[0]] = outcome(req)
            requests += 1
        pending = [(c[0], client.allreduce_async(case_input(a.worker, c), op=c[2]))
                   for c in run if c[0] in ASYNC_NAMES]
        for name, req in reversed(pending):
            results[name], status[name] = outcome(req)
            requests += 1
            if not req.test():
                raise AssertionError("%s: test() is not true after wait()" % name)
        if not a.no_torch:
            requests += run_hook(client, a.worker, results, status)
        stats = client.stats()
    ainftp.init(a.config, JOB, a.worker, first_step=MODULE_FIRST_STEP, timeout_ms=5000)
    try:
        x = case_input(a.worker, MODULE_CASE)
        results[MODULE_CASE[0]] = ainftp.allreduce(x, op=MODULE_CASE[2]).copy()
    finally:
        ainftp.finalize()
    np.savez(os.path.join(a.out, "worker%d.npz" % a.worker), **results)
    with open(os.path.join(a.out, "worker%d.json" % a.worker), "w") as f:
        json.dump({"stats": stats, "requests": requests, "status": status}, f)
    return 0


# --- 1. without an appliance ---------------------------------------------------------


def local_options(**extra):
    """Options of a client for an appliance on 127.0.0.1 (no cluster file)."""
    opts = dict(appliance="127.0.0.1", bind="127.0.0.1", job=JOB, worker=0, elems=ELEMS,
                encoding="float32", key=KEY, timeout_ms=300)
    opts.update(extra)
    return opts


def closed_udp_port():
    """A UDP port on 127.0.0.1 that nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# lib/wire/ainftp_proto.h, protocol version 2: the header, the HELLO body.
_HDR = struct.Struct(">BBBBIHHIIHbBQ")
_HELLO = struct.Struct(">IHBBIB3x")
_MSG_HELLO, _MSG_HELLO_ACK, _F_AUTH = 5, 6, 1
_MAC_CONTEXT = b"ainftp v2 SipHash-2-4-128 key"


def _tag(key_hex, msg):
    """The v2 tag of msg under a worker's key, with libsodium as the library does it."""
    sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    mk = ctypes.create_string_buffer(16)
    key = bytes.fromhex(key_hex)
    sodium.crypto_generichash(mk, ctypes.c_size_t(16), _MAC_CONTEXT,
                              ctypes.c_ulonglong(len(_MAC_CONTEXT)), key,
                              ctypes.c_size_t(len(key)))
    tag = ctypes.create_string_buffer(16)
    sodium.crypto_shorthash_siphashx24(tag, msg, ctypes.c_ulonglong(len(msg)), mk)
    return tag.raw


class FakeJoin:
    """An appliance that only lets clients join: it answers each HELLO on a
    port of 127.0.0.1 with a HELLO_ACK that takes the client's view of the job
    (status OK, step 0, tagged with KEY when the HELLO is), and nothing else.

    After the first join, "refuse" closes the port (the network then says
    port unreachable); "silent" keeps it and answers no DATA or PROBE.
    """

    def __init__(self, after="refuse"):
        self.after = after
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.joined = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def ack(self, p):
        h = list(_HDR.unpack_from(p))
        if len(p) < _HDR.size + _HELLO.size or h[0] != 2 or h[1] != _MSG_HELLO:
            return None
        slots, lanes, renc, _, _, auth = _HELLO.unpack_from(p, _HDR.size)
        h[1] = _MSG_HELLO_ACK
        h[7:12] = [0, 0, 0, 0, 0]  # step, chunk, slot, scale_exp, contributors
        a = _HDR.pack(*h) + _HELLO.pack(slots, lanes, renc, 0, 0, auth)
        return a + _tag(KEY, a) if h[3] & _F_AUTH else a

    def run(self):
        while not self.stop.is_set():
            try:
                p, src = self.sock.recvfrom(9216)
            except socket.timeout:
                continue
            except OSError:
                return
            a = self.ack(p)
            if a is not None:
                self.sock.sendto(a, src)
                if not self.joined.is_set():
                    self.joined.set()
                    if self.after == "refuse":
                        self.sock.close()
                        return

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ApiTest(unittest.TestCase):
    """The binding's and the library's errors, no appliance needed."""

    def assertError(self, status, fn, *args, **kw):
        """fn(*args, **kw) raises ainftp.Error with status; no key in its text."""
        with self.assertRaises(ainftp.Error) as cm:
            fn(*args, **kw)
        e = cm.exception
        self.assertEqual(e.status, status, str(e))
        self.assertEqual(e.name, ainftp.status_name(status))
        self.assertNotIn(KEY[:16], str(e))
        return e

    def fake(self, after="refuse"):
        """A FakeJoin's port, closed when the test ends."""
        f = FakeJoin(after)
        self.addCleanup(f.close)
        return f.port

    def client(self, **extra):
        """A client joined to a FakeJoin whose port is closed then: its requests fail."""
        c = ainftp.Client(**local_options(port=self.fake(), **extra))
        self.addCleanup(c.close)
        return c

    def test_unknown_option(self):
        """an unknown option: E_INVAL naming it"""
        e = self.assertError(ainftp.E_INVAL, ainftp.Client, **local_options(colour="blue"))
        self.assertIn('"colour"', e.message)

    def test_bad_values(self):
        """bad values: E_INVAL naming the option; a bad key is not echoed"""
        for name, value in [("timeout_ms", "soon"), ("appliance", "127.0.0.300"),
                            ("auth", "maybe"), ("slots", 3), ("encoding", "float64"),
                            ("key", KEY[:-1]), ("key", KEY[:40] + "zz" + KEY[42:])]:
            with self.subTest(option=name, value=value):
                e = self.assertError(ainftp.E_INVAL, ainftp.Client,
                                     **local_options(**{name: value}))
                self.assertIn('"%s"' % name, e.message)
                self.assertNotIn(KEY[:20], e.message)

    def test_option_types(self):
        """options from Python values: bools, ints, paths; None leaves the default"""
        with tempfile.NamedTemporaryFile("w") as f:
            f.write(KEY + "\n")
            f.flush()
            for extra in [dict(auth=False, key=None),
                          dict(auth=True, key=None, key_file=pathlib.Path(f.name)),
                          dict(window=16, first_step=2**32 - 1, gso=None)]:
                with self.subTest(**{k: str(v) for k, v in extra.items()}):
                    c = self.client(**extra)
                    self.assertGreater(c.local_port, 0)
        self.assertError(ainftp.E_INVAL, ainftp.Client, **local_options(key=None))

    def test_cluster_file(self):
        """a cluster file: unknown job or worker refused, ids never truncated, key not echoed"""
        lab = os.path.join(SRCDIR, "config", "lab.json")
        self.assertError(ainftp.E_INVAL, ainftp.Client, lab, job=99, worker=0)
        self.assertError(ainftp.E_INVAL, ainftp.Client, lab, job=1, worker=63)
        for job, worker in [(1, 65536 + 1), (-1, 0), (2**32, 0), (1, True), (1, "0")]:
            with self.subTest(job=job, worker=worker):
                self.assertRaises(ValueError, ainftp.Client, lab, job=job, worker=worker)
        self.assertRaises(ValueError, ainftp.Client, lab, job=1)
        with open(lab) as f:
            cfg = json.load(f)
        cfg["jobs"][0]["workers"][0]["key"] = KEY[:63]
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump(cfg, f)
            f.flush()
            self.assertError(ainftp.E_INVAL, ainftp.Client, f.name, job=1, worker=0)

    def test_refused_buffers(self):
        """buffers the library cannot write: TypeError or ValueError, nothing sent"""
        c = self.client()
        x = np.zeros(1000, np.float32)
        ro = np.zeros(10, np.float32)
        ro.flags.writeable = False
        for what, buf, exc in [("float64", np.zeros(10), TypeError),
                               ("int32", np.zeros(10, np.int32), TypeError),
                               ("big-endian", np.zeros(10, ">f4"), TypeError),
                               ("list", [1.0, 2.0], TypeError),
                               ("read-only", ro, ValueError),
                               ("non-contiguous", x[::2], ValueError),
                               ("Fortran order", np.zeros((4, 4), np.float32, order="F"),
                                ValueError)]:
            with self.subTest(buffer=what):
                self.assertRaises(exc, c.allreduce, buf)
        self.assertRaises(ValueError, c.allreduce, x, op="max")
        self.assertEqual(c.stats()["packets_sent"], 0)
        # UDP sockets alone (option xdp off): nothing through AF_XDP.
        self.assertEqual(c.xdp_stats(), {"boxes": 0, "native": 0, "sent": 0, "received": 0,
                                         "bad": 0})

    def test_misaligned_array(self):
        """an array at an odd byte address: ValueError, never a misaligned load"""
        c = self.client()
        odd = np.frombuffer(bytearray(4 * 1000 + 1), np.float32, offset=1)
        self.assertTrue(odd.flags.writeable)  # refused for its address alone
        self.assertNotEqual(odd.ctypes.data % 4, 0)
        self.assert_misaligned_refused(c, odd)

    def assert_misaligned_refused(self, c, odd):
        """every way to start an all-reduce of odd: ValueError, and nothing sent"""
        for op in ("sum", "mean"):
            with self.subTest(op=op):
                with self.assertRaisesRegex(ValueError, "not aligned"):
                    c.allreduce(odd, op=op)
                with self.assertRaisesRegex(ValueError, "not aligned"):
                    c.allreduce_async(odd, op=op)
        self.assertEqual(c.stats()["packets_sent"], 0)

    @unittest.skipUnless(has_torch(), "no torch")
    def test_refused_tensors(self):
        """tensors the library cannot write: TypeError or ValueError"""
        import torch
        c = self.client()
        for what, buf, exc in [("float64", torch.zeros(10, dtype=torch.float64), TypeError),
                               ("float16", torch.zeros(10, dtype=torch.float16), TypeError),
                               ("non-contiguous", torch.zeros(4, 4).t(), ValueError),
                               ("sparse", torch.zeros(4).to_sparse(), TypeError)]:
            with self.subTest(tensor=what):
                self.assertRaises(exc, c.allreduce, buf)
        if torch.cuda.is_available():
            self.assertRaises(ValueError, c.allreduce, torch.zeros(4, device="cuda"))

    @unittest.skipUnless(has_torch(), "no torch")
    def test_misaligned_tensor(self):
        """a tensor at an odd byte address: ValueError, never a misaligned load"""
        import torch
        c = self.client()
        odd = torch.frombuffer(bytearray(4 * 1000 + 1), dtype=torch.float32, offset=1)
        self.assertNotEqual(odd.data_ptr() % 4, 0)
        self.assert_misaligned_refused(c, odd)

    @unittest.skipUnless(has_torch(), "no torch")
    def test_hook_errors(self):
        """the DDP hook: a failed all-reduce or a closed state fails the Future, never hangs"""
        import torch
        import ainftp.torch
        state = ainftp.torch.hook_state(self.client())
        self.assertIs(ainftp.torch.hook_state(state.client), state)
        for want in ["[appliance unreachable]", "[client failed earlier]"]:
            fut = ainftp.torch.allreduce_hook(state, Bucket(torch.ones(1000)))
            with self.assertRaises(RuntimeError) as cm:
                fut.wait()
            self.assertIn(want, str(cm.exception))
        state.close()
        self.assertTrue(state.client.closed)
        fut = ainftp.torch.allreduce_hook(state, Bucket(torch.ones(10)))
        self.assertRaisesRegex(RuntimeError, "HookState is closed", fut.wait)
        self.assertRaises(TypeError, ainftp.torch.hook_state, object())

    def test_library_misuse(self):
        """n = 0 and NaN reach the library, which refuses them (E_INVAL, E_VALUE)"""
        c = self.client()
        e = self.assertError(ainftp.E_INVAL, c.allreduce, np.zeros(0, np.float32))
        self.assertIn("length", e.message)
        x = np.ones(100, np.float32)
        x[42] = np.nan
        e = self.assertError(ainftp.E_VALUE, c.allreduce, x)
        self.assertIn("42", e.message)
        self.assertEqual(c.stats()["packets_sent"], 0)

    def test_unreachable(self):
        """a closed port: E_UNREACHABLE within 2 s, then E_FAILED at once; the join too"""
        c = self.client()
        t = time.monotonic()
        self.assertError(ainftp.E_UNREACHABLE, c.allreduce, np.ones(1000, np.float32))
        self.assertLess(time.monotonic() - t, 2.0)
        self.assertError(ainftp.E_FAILED, c.allreduce, np.ones(10, np.float32))
        e = self.assertError(ainftp.E_UNREACHABLE, ainftp.Client,
                             **local_options(port=closed_udp_port()))
        self.assertIn("join", e.message)

    def test_join_timeout(self):
        """nothing answers the join: E_TIMEOUT from Client() after timeout_ms (300 ms)"""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(("127.0.0.1", 0))
            t = time.monotonic()
            e = self.assertError(ainftp.E_TIMEOUT, ainftp.Client,
                                 **local_options(port=silent.getsockname()[1]))
            self.assertGreaterEqual(time.monotonic() - t, 0.25)
            self.assertIn("HELLO_ACK", e.message)

    def test_timeout(self):
        """an appliance that never answers: E_TIMEOUT after timeout_ms (300 ms), within 3 s"""
        with FakeJoin("silent") as silent:
            with ainftp.Client(**local_options(port=silent.port)) as c:
                self.assertGreater(c.local_port, 0)
                t = time.monotonic()
                self.assertError(ainftp.E_TIMEOUT, c.allreduce, np.ones(5000, np.float32))
                took = time.monotonic() - t
                self.assertGreaterEqual(took, 0.25)
                self.assertLess(took, 3.0)
                self.assertGreater(c.stats()["packets_sent"], 0)

    def test_close_pending(self):
        """close() with a request pending: it fails with E_CLOSED; the client then refuses"""
        with FakeJoin("silent") as silent:
            c = ainftp.Client(**local_options(port=silent.port, timeout_ms=10000))
            x = np.ones(1000, np.float32)
            req = c.allreduce_async(x)
            self.assertFalse(req.test())
            self.assertIs(req.buffer, x)
            t = time.monotonic()
            c.close()
            self.assertError(ainftp.E_CLOSED, req.wait)
            self.assertLess(time.monotonic() - t, 2.0)
            c.close()  # idempotent
            self.assertTrue(c.closed)
            self.assertError(ainftp.E_CLOSED, c.allreduce, x)
            self.assertError(ainftp.E_CLOSED, c.stats)

    def test_module_client(self):
        """ainftp.allreduce needs init(); init() twice is refused; finalize() twice is fine"""
        self.assertRaises(RuntimeError, ainftp.allreduce, np.ones(4, np.float32))
        c = ainftp.init(**local_options(port=self.fake()))
        try:
            self.assertRaises(RuntimeError, ainftp.init, **local_options())
            self.assertError(ainftp.E_INVAL, ainftp.allreduce, np.zeros(0, np.float32))
        finally:
            ainftp.finalize()
        ainftp.finalize()
        self.assertTrue(c.closed)

    def test_no_library(self):
        """AINFTP_CLIENT_LIB naming a missing file: import works, use raises OSError naming it"""
        code = ("import ainftp\ntry:\n    ainftp.Client()\nexcept OSError as e:\n"
                "    print(e)\n    raise SystemExit(0)\nraise SystemExit(1)\n")
        env = dict(os.environ, AINFTP_CLIENT_LIB="/nonexistent/libainftp-client.so.1")
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=60, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("/nonexistent/libainftp-client.so.1", r.stdout)


# --- 2. end to end in a lab -------------------------------------------------------------


def lab(*args, check=True, timeout=60):
    return subprocess.run([os.path.join(SRCDIR, "scripts", "lab.sh")] + list(args),
                          capture_output=True, text=True, timeout=timeout, check=check)


class LabTest(unittest.TestCase):
    """Four workers in a lab all-reduce through the appliance; checked here."""

    name = "tpy%d" % os.getpid()
    torch = has_torch()

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise AssertionError("the lab needs root (network namespaces, /dev/net/tun)")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.addClassCleanup(lab, "down", "--name", cls.name, check=False)
        up = lab("up", "--name", cls.name, "--app", APP, check=False)
        if up.returncode != 0:
            raise AssertionError("lab.sh up failed:\n" + up.stdout + up.stderr)
        cls.run_workers()
        cls.results = [np.load(os.path.join(cls.tmp.name, "worker%d.npz" % w))
                       for w in range(WORKERS)]
        cls.reports = []
        for w in range(WORKERS):
            with open(os.path.join(cls.tmp.name, "worker%d.json" % w)) as f:
                cls.reports.append(json.load(f))

    @classmethod
    def run_workers(cls):
        """The four workers at once; every one must exit 0 within 120 s."""
        cmd = [os.path.join(SRCDIR, "scripts", "lab.sh"), "exec", "--name", cls.name, "--",
               sys.executable, os.path.abspath(__file__), "worker",
               "--config", os.path.join(SRCDIR, "config", "lab.json"), "--out", cls.tmp.name]
        cmd += [] if cls.torch else ["--no-torch"]
        procs = [subprocess.Popen(cmd + ["--worker", str(w)], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
                 for w in range(WORKERS)]
        failed = []
        deadline = time.monotonic() + 120
        for w, p in enumerate(procs):
            try:
                out, _ = p.communicate(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
                out += "\n(killed after 120 s)"
            if p.returncode != 0:
                failed.append("worker %d: exit %s\n%s" % (w, p.returncode, out))
        if failed:
            raise AssertionError("\n".join(failed))

    def check_case(self, name, n, op, kind):
        """Every worker has the appliance's bits; they are within the bound of the true sum.

        Past the exact-sum span (kind "overflow") every worker's request says
        E_OVERFLOW and the result is within the bound of the rounding.
        """
        if kind == "torch" and not self.torch:
            self.skipTest("no torch")
        xs = [gradient(w, name, n, kind) for w in range(WORKERS)]
        want, exact, bound = appliance_result(xs, op)
        self.assertEqual(want is None, kind == "overflow", "%s: the test's data" % name)
        for w in range(WORKERS):
            got = self.results[w][name]
            self.assertEqual(got.dtype, np.float32)
            self.assertEqual(got.shape, (n,))
            status = self.reports[w]["status"].get(name, 0)
            self.assertEqual(status, ainftp.E_OVERFLOW if want is None else 0,
                             "%s, worker %d: status" % (name, w))
            if want is not None:
                self.assertSameBits(name, w, got, want)
            excess = np.abs(got.astype(np.float64) - exact) - bound
            self.assertLessEqual(np.max(excess), 0.0, "%s, worker %d: beyond the error "
                                 "bound at element %d" % (name, w, np.argmax(excess)))
        for w in range(1, WORKERS):
            self.assertSameBits(name, w, self.results[w][name], self.results[0][name])

    def assertSameBits(self, name, w, got, want):
        diff = np.flatnonzero(got.view(np.uint32) != want.view(np.uint32))
        if diff.size:
            i = diff[0]
            self.fail("%s, worker %d: %d of %d elements differ; first: element %d is %r, "
                      "want %r" % (name, w, diff.size, len(got), i, got[i], want[i]))

    def test_numpy(self):
        """NumPy sum and mean, 1 to 100,003 elements, zeros, past the span: the appliance's bits"""
        for case in [c for c in CASES if c[3] != "torch"] + [MODULE_CASE]:
            with self.subTest(case=case[0]):
                self.check_case(*case)

    def test_torch(self):
        """torch tensors, sum and mean: the appliance's exact bits"""
        for case in [c for c in CASES if c[3] == "torch"]:
            with self.subTest(case=case[0]):
                self.check_case(*case)

    def test_async(self):
        """six overlapping asynchronous requests, waited for in reverse order"""
        for case in ASYNC:
            with self.subTest(case=case[0]):
                self.check_case(*case)

    def test_hook(self):
        """the DDP hook: MEAN buckets; OVERFLOW taken, or refused with accept_overflow=False"""
        if not self.torch:
            self.skipTest("no torch")
        for case in HOOK:
            with self.subTest(case=case[0]):
                self.check_case(*case)
        for w in range(WORKERS):
            self.assertEqual(self.reports[w]["status"][HOOK_REFUSED[0]], ainftp.E_OVERFLOW,
                             "worker %d: the hook's Future did not fail with the "
                             "ainftp.Error of the OVERFLOW" % w)

    def test_stats(self):
        """each client counted its requests and chunks, and saw no bad packet"""
        cases = [c for c in CASES + ASYNC if self.torch or c[3] != "torch"]
        cases += HOOK + [HOOK_REFUSED] if self.torch else []
        chunks = sum(-(-n // ELEMS) for _, n, _, _ in cases)
        for w, rep in enumerate(self.reports):
            s = rep["stats"]
            with self.subTest(worker=w):
                self.assertEqual(rep["requests"], len(cases))
                self.assertEqual(s["requests"], len(cases))
                self.assertEqual(s["chunks"], chunks)
                self.assertEqual(s["bad_packets"], 0)
                self.assertGreaterEqual(s["packets_sent"], chunks)
                self.assertGreater(s["bytes_received"], 0)


def main():
    global APP, SRCDIR
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        return worker_main(sys.argv[2:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--app", required=True, help="the ainftp-app to run in the lab")
    p.add_argument("--srcdir", default=SRCDIR)
    a, rest = p.parse_known_args()
    APP, SRCDIR = os.path.abspath(a.app), os.path.abspath(a.srcdir)
    print("ainftp from %s; torch %s" % (ainftp.__file__,
                                        "found" if has_torch() else "not found: skipped"))
    prog = unittest.main(argv=[sys.argv[0], "-v"] + rest, exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
