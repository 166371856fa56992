# SPDX-License-Identifier: BSD-3-Clause
"""PyTorch through ainftp: a torch.distributed backend, and a DDP comm hook.

The backend. Importing this module registers "ainftp" with torch.distributed,
so a training script under its usual launcher needs two lines more:

    import torch.distributed as dist, ainftp.torch
    dist.init_process_group("ainftp")     # env:// (RANK, WORLD_SIZE, MASTER_ADDR, ...)
    model = torch.nn.parallel.DistributedDataParallel(net)   # no hook, no Gloo group

with the appliance's cluster.json in AINFTP_CONFIG and the job in AINFTP_JOB
(or pg_options=ainftp.torch.Options(config=..., job=...); a cluster.json of
one job needs no job). Rank r is the job's r-th worker in ascending id order,
and the group must be the whole job: its world size is the job's worker count.

all_reduce with SUM or AVG of floating-point tensors goes through the
appliance (float32 CPU tensors in place, other floating dtypes and GPU
tensors through a float32 host copy); every other collective, reduce op, and
integer or bool tensors (a count must be exact, and the appliance's sums are
of quantized floats) go to a Gloo group the backend makes over the same store
(set GLOO_SOCKET_IFNAME as for Gloo). The C++ side is ainftp._c10d, built by
meson against Debian's libtorch-dev; AINFTP_C10D names the module's file for
a copy of this package that has none beside it (pip's).

Launchers: Debian's torchrun (torch 1.13) fails at start on Python 3.11 (an
enum bug in its log redirection) unless given --redirects 1 --tee 1:

    torchrun --standalone --nproc_per_node 4 --redirects 1 --tee 1 train.py

The hook. A DDP communication hook for a job of its own beside any process
group, when the group must stay Gloo's:

    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:29500",
                            rank=r, world_size=n)
    model = torch.nn.parallel.DistributedDataParallel(net)
    state = ainftp.torch.hook_state(ainftp.Client("cluster.json", job=4, worker=r))
    model.register_comm_hook(state=state, hook=ainftp.torch.allreduce_hook)
    ...                                   # train as usual
    state.close()                         # stops the waiter, closes the client

allreduce_hook starts an asynchronous MEAN all-reduce of each bucket through
the appliance and returns at once, so backward keeps running while the bucket
is on the wire; one waiter thread per client completes the Futures in the
order the buckets were started. register_comm_hook(state=client, ...) with a
bare ainftp.Client works too. Every rank must register the hook on the same
model, so that every worker of the job starts the same all-reduces in the
same order. The gradient buffer is all-reduced in place when it is float32 on
the CPU, else through a CPU float32 copy.
"""

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import queue
import threading
import time
import weakref

import torch

from . import E_OVERFLOW, E_SKIPPED, Client, Error

__all__ = ["HookState", "Options", "allreduce_hook", "hook_state"]


class HookState:
    """A client, its waiter thread, and counters of what the hook did.

    allreduces: buckets all-reduced; elements: their float32 elements;
    seconds: the sum of each bucket's time from start to completion (the
    buckets overlap with backward and with each other, so this is not wall
    time saved or spent).

    overflows: buckets whose result the appliance flagged OVERFLOW (some
    block's contributions spread over more than the exact-sum span, as when
    one worker's gradients there are 2^26 times smaller than another's; late
    in training they are). Such a result is the sum rounded to 2^-57 of the
    block's largest value, far below float32's own precision, so the hook
    takes it unless accept_overflow is False (then the Future fails with the
    ainftp.Error).

    skips: buckets the job completed partly without this rank (it fell more
    than a slot's turn behind; the appliance's default quorum is a majority).
    Their elements hold the mean where results came and this rank's own
    gradient where the job went on without it: still a gradient, so the hook
    takes it unless accept_skip is False. The client rejoins the job by
    itself at its next step.
    """

    def __init__(self, client, accept_overflow=True, accept_skip=True):
        self.client = client
        self.accept_overflow = accept_overflow
        self.accept_skip = accept_skip
        self.overflows = 0
        self.skips = 0
        self.allreduces = 0
        self.elements = 0
        self.seconds = 0.0
        self.closed = False
        self._lock = threading.Lock()
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._wait_loop, name="ainftp-hook-waiter",
                                        daemon=True)
        self._thread.start()

    def submit(self, grad):
        """Start all-reducing grad (MEAN); a Future completed with grad."""
        done = torch.futures.Future()
        work = _cpu_float32(grad)
        try:
            with self._lock:  # nothing queued behind close()'s stop marker
                if self.closed:
                    raise RuntimeError("ainftp.torch: the HookState is closed")
                req = self.client.allreduce_async(work, op="mean")
                self._queue.put((req, grad, work, done, time.perf_counter()))
        except Exception as e:  # noqa: BLE001 - DDP sees it through the Future
            done.set_result(e)
        # DDP's C++ side reads the value without Future.set_exception's Python
        # unwrapping: an exception raised in a then() callback is what it sees
        # as an error (and raises from backward with the message).
        return done.then(_result)

    def _wait_loop(self):
        """Complete Futures in start order: the engine finishes requests in that order."""
        while True:
            item = self._queue.get()
            if item is None:
                return
            req, grad, work, done, started = item
            try:
                self._wait_one(req)
                if work is not grad:
                    grad.copy_(work)
            except Exception as e:  # noqa: BLE001 - handed to the training thread
                done.set_result(e)
                continue
            self.allreduces += 1
            self.elements += grad.numel()
            self.seconds += time.perf_counter() - started
            done.set_result(grad)

    def _wait_one(self, req):
        """Wait for req; an OVERFLOW or a skipped bucket is a gradient too, when accepted."""
        try:
            req.wait()
        except Error as e:
            if e.status == E_OVERFLOW and self.accept_overflow:
                self.overflows += 1
            elif e.status == E_SKIPPED and self.accept_skip:
                self.skips += 1
            else:
                raise

    def close(self, close_client=True):
        """Stop the waiter once the Futures already started are complete."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self._queue.put(None)
        self._thread.join()
        if close_client:
            self.client.close()


def _result(fut):
    """The bucket's all-reduced buffer, or the exception that stopped it, raised."""
    value = fut.value()
    if isinstance(value, BaseException):
        raise value
    return value


def _cpu_float32(grad):
    """grad itself when the library can write it, else a CPU float32 copy."""
    if grad.device.type == "cpu" and grad.dtype == torch.float32 and grad.is_contiguous():
        return grad
    return grad.detach().to(device="cpu", dtype=torch.float32).contiguous()


_states = {}
_states_lock = threading.Lock()


def hook_state(client):
    """The HookState of client: one per client, so one waiter thread per client.

    It is kept for the life of the process (DDP holds the state as long);
    close() it to stop its thread, and a later call makes a new one.
    """
    if isinstance(client, HookState):
        return client
    if not isinstance(client, Client):
        raise TypeError("ainftp.torch: the hook's state must be an ainftp.Client or a "
                        "HookState, not %s" % type(client).__name__)
    with _states_lock:
        state = _states.get(id(client))
        if state is None or state.client is not client or state.closed:
            state = _states[id(client)] = HookState(client)
        return state


def allreduce_hook(state, bucket):
    """DDP communication hook: the MEAN of the bucket over the job's workers.

    state is an ainftp.Client or a HookState (register_comm_hook's state);
    bucket is DDP's torch.distributed.GradBucket. Returns a
    torch.futures.Future holding the averaged bucket buffer, or the
    ainftp.Error that stopped it.
    """
    return hook_state(state).submit(bucket.buffer())


# --- the torch.distributed backend ---------------------------------------------------


class Options:
    """init_process_group("ainftp", pg_options=Options(...)): what the backend uses.

    config: the appliance's cluster.json (default: $AINFTP_CONFIG); job: the
    job id (default: $AINFTP_JOB, or the file's only job); accept_overflow:
    take a result flagged OVERFLOW (a sum rounded to 2^-57 of its block's
    largest value, see HookState) as the sum, as DDP's gradients can;
    accept_partial: take a result some rank is not in (the job's quorum left
    a straggler out: its elements there keep its own values, the others'
    lack its addend). Off: all_reduce promises the sum over every rank, so
    the call fails instead, naming who was left out. A job for this backend
    should have "straggler": {"min_quorum": <its worker count>} in
    cluster.json, so that the appliance waits for every rank. Any other
    keyword is a client option of client/ainftp_client.h (timeout_ms=...,
    window=..., gso=..., xdp="on" for the AF_XDP path: docs/CLIENT.md).
    """

    def __init__(self, config=None, job=None, accept_overflow=True, accept_partial=False,
                 **client_options):
        self.config = config
        self.job = job
        self.accept_overflow = bool(accept_overflow)
        self.accept_partial = bool(accept_partial)
        self.client_options = client_options


def _c10d():
    """The extension module ainftp._c10d; ImportError that says how to get one."""
    path = os.environ.get("AINFTP_C10D")
    try:
        if not path:
            from . import _c10d as mod
            return mod
        loader = importlib.machinery.ExtensionFileLoader("ainftp._c10d", path)
        spec = importlib.util.spec_from_file_location("ainftp._c10d", path, loader=loader)
        mod = importlib.util.module_from_spec(spec)
        loader.exec_module(mod)
        return mod
    except ImportError as e:
        raise ImportError("ainftp: the torch.distributed backend's module ainftp._c10d %s (%s). "
                          "meson builds it where g++, libtorch-dev, pybind11-dev and python3-dev "
                          "are installed (scripts/deps.sh); a copy of the package without it "
                          "(pip's) finds it through AINFTP_C10D=<build>/python/ainftp/_c10d*.so"
                          % ("at " + path + " does not load" if path else "is not built", e)) \
            from e


def _job_of(config, job):
    """From cluster.json: (job id, its workers in ascending id order, the job, the appliance)."""
    try:
        with open(config) as f:
            cfg = json.load(f)
        jobs = cfg.get("jobs", [])
    except (OSError, ValueError, AttributeError) as e:
        raise ValueError("ainftp: cannot read the jobs of %s: %s" % (config, e)) from e
    ids = [j.get("id") for j in jobs if isinstance(j, dict)]
    if job is None:
        if len(ids) != 1:
            raise ValueError("ainftp: %s has %d jobs (%s): say which in AINFTP_JOB or "
                             "ainftp.torch.Options(job=...)"
                             % (config, len(ids), ", ".join(map(str, ids))))
        job = ids[0]
    try:
        job = int(job)
    except ValueError:
        raise ValueError("ainftp: job %r is not an integer" % (job,)) from None
    for j in jobs:
        if isinstance(j, dict) and j.get("id") == job:
            workers = sorted(w.get("id") for w in j.get("workers", []))
            return job, workers, j, cfg.get("appliance")
    raise ValueError("ainftp: %s has no job %d (its jobs: %s)"
                     % (config, job, ", ".join(map(str, ids))))


def _fingerprint(appliance, spec):
    """What every rank of a group must agree on: the appliance and the job's geometry."""
    geometry = {k: v for k, v in spec.items() if k != "workers"}
    text = json.dumps({"appliance": appliance, "job": geometry}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _agree(store, rank, size, job, fingerprint):
    """Every rank on the same job of the same appliance, or ValueError on every rank.

    Caught here, a rank started on another job fails at init, naming both,
    instead of waiting out its timeout in all_reduce.
    """
    mine = "%d %s" % (job, fingerprint)
    store.set("ainftp/job/%d" % rank, mine)
    for r in range(size):
        theirs = store.get("ainftp/job/%d" % r).decode()
        if theirs != mine:
            tj, tf = theirs.split()
            why = ("job %s" % tj) if int(tj) != job else \
                "job %d of another appliance or geometry (%s, here %s)" % (job, tf, fingerprint)
            raise ValueError("ainftp: rank %d is on %s; this rank (%d) is on job %d: every "
                             "rank of the group must say the same cluster.json and job"
                             % (r, why, rank, job))


def _create_backend(dist_opts, pg_options):
    """torch.distributed's creator for "ainftp" (extended_api): the process group."""
    import torch.distributed as dist

    opts = Options() if pg_options is None else pg_options
    if not isinstance(opts, Options):
        raise TypeError("ainftp: pg_options must be an ainftp.torch.Options, not %s"
                        % type(opts).__name__)
    config = opts.config or os.environ.get("AINFTP_CONFIG")
    if not config:
        raise ValueError("ainftp: no cluster.json: set AINFTP_CONFIG or pass "
                         "pg_options=ainftp.torch.Options(config=...)")
    job = opts.job if opts.job is not None else os.environ.get("AINFTP_JOB")
    job, workers, spec, appliance = _job_of(config, job)
    rank, size = dist_opts.group_rank, dist_opts.group_size
    if size != len(workers):
        raise ValueError("ainftp: the process group has %d ranks but job %d of %s has %d "
                         "workers: an ainftp group is a whole job (rank r is its r-th worker)"
                         % (size, job, config, len(workers)))
    _claim(config, job)
    c10d = _c10d()
    store = dist_opts.store
    gloo = dist.ProcessGroupGloo(dist.PrefixStore("gloo", store), rank, size,
                                 dist_opts.timeout)
    _agree(store, rank, size, job, _fingerprint(appliance, spec))
    options = {k: _option_text(v) for k, v in opts.client_options.items() if v is not None}
    try:
        pg = c10d.ProcessGroupAinftp(rank, size, gloo, os.fspath(config), job, workers,
                                     int(spec.get("elems_per_packet", 0)), options,
                                     opts.accept_overflow, opts.accept_partial)
    except Exception as e:
        store.set("ainftp/open/%d" % rank, str(e) or type(e).__name__)
        raise
    store.set("ainftp/open/%d" % rank, "")
    _joined(store, size, job)
    _groups[(os.path.realpath(config), job)] = weakref.ref(pg)
    return pg


# (cluster.json, job) -> weakref to the live process group that is its worker.
_groups = {}


def _claim(config, job):
    """ValueError when this process already has a live group on the job.

    A second group would be a second client of the same worker: the appliance
    would take the two groups' all-reduces of a step as one worker's
    retransmissions and mix them.
    """
    live = _groups.get((os.path.realpath(config), job))
    if live is not None and live() is not None:
        raise ValueError("ainftp: job %d of %s already has a process group in this process "
                         "(a worker joins its job once): use that group, or give the new "
                         "one a job of its own" % (job, config))


def _joined(store, size, job):
    """RuntimeError on every rank when some rank's client could not join.

    Without it the ranks that joined would wait for that one in their first
    collective until the group's timeout (30 minutes by default).
    """
    for r in range(size):
        why = store.get("ainftp/open/%d" % r).decode()
        if why:
            raise RuntimeError("ainftp: rank %d could not join job %d: %s" % (r, job, why))


def _option_text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _register():
    import torch.distributed as dist

    if dist.is_available() and "AINFTP" not in dist.Backend._plugins:
        dist.Backend.register_backend("ainftp", _create_backend, extended_api=True)


_register()
