# SPDX-License-Identifier: BSD-3-Clause
"""A DistributedDataParallel communication hook that all-reduces through ainftp.

DDP calls a communication hook once per gradient bucket, when the bucket's
gradients are ready, and waits on the Future the hook returns before the
optimizer step. allreduce_hook starts an asynchronous MEAN all-reduce of the
bucket through the appliance and returns at once, so backward keeps running
while the bucket is on the wire; one waiter thread per client completes the
Futures in the order the buckets were started.

A training script, one process per worker (rank r is worker r of the job):

    import torch, torch.distributed as dist, ainftp, ainftp.torch
    # DDP still needs a process group: its constructor broadcasts rank 0's
    # parameters and syncs bucket order through it. Gloo is enough, since no
    # gradient goes through it (GLOO_SOCKET_IFNAME=lo for 127.0.0.1, or a
    # FileStore: init_method="file:///shared/store").
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:29500",
                            rank=r, world_size=n)
    model = torch.nn.parallel.DistributedDataParallel(net)
    state = ainftp.torch.hook_state(ainftp.Client("cluster.json", job=4, worker=r))
    model.register_comm_hook(state=state, hook=ainftp.torch.allreduce_hook)
    ...                                   # train as usual
    print(state.allreduces, state.seconds)
    state.close()                         # stops the waiter, closes the client

register_comm_hook(state=client, ...) with a bare ainftp.Client works too: a
HookState is then made for the client on the first call.

Every rank must register the hook on the same model, so that every worker of
the job starts the same all-reduces in the same order (DDP starts buckets in
index order, and rebuilds them the same way on every rank). The gradient
buffer is float32 on the CPU in the common case and is all-reduced in place;
any other bucket (on a GPU, or of another dtype) goes through a CPU float32
copy that is copied back before the Future completes.
"""

import queue
import threading
import time

import torch

from . import E_OVERFLOW, E_SKIPPED, Client, Error

__all__ = ["HookState", "allreduce_hook", "hook_state"]


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
