#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Sentry attackers for scripts/soak.sh: one round of a robust job's workers.

    soak_sentry.py --config CLUSTER --job ID [--attackers 6,7] [--steps K]
                   [--elems N] [--seed S] [--scale X]

Every worker of the job runs in a thread of this process (one client each,
through the Python binding: PYTHONPATH=<builddir>/python). The honest ones
send a gradient of their own in [-1, 1] (a function of seed and worker id);
the attackers send SCALE times it, half of them negated, so there are
attackers on both sides. Each worker all-reduces with op "mean" (the client
divides by the contributors in the result's bitmap) until the job's step the
round started at plus K.

What the robust policies promise (docs/SENTRY.md, "trimmed_mean and
median"): with at most f attackers among the contributors (trimmed_mean) or
fewer than half (median), every coordinate of the mean is an order statistic
average of honest values, so it lies between the smallest and the largest
honest value of that coordinate. An honest worker checks that of every
result it gets (a float tolerance of 1e-5 of the honest spread covers the
float sum's rounding); a skipped request (the job went on without it) is a
clean skip. Attackers check nothing. The gradient does not depend on the
step: a worker that skipped a step and rejoined checks the same bound.

Prints one JSON line: results (honest results checked), exact (within the
bound), wrong, skipped, errors, and the first wrong result's worst excess.
Exit 0 when every honest worker ended without error and wrong is 0, 3 on a
wrong result, 1 otherwise.
"""

import argparse
import ctypes
import json
import sys
import threading

import numpy as np

import ainftp


def gradient(seed, w, elems):
    return np.random.default_rng([seed, w]).uniform(-1.0, 1.0, elems).astype(np.float32)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True)
    p.add_argument("--job", type=int, required=True)
    p.add_argument("--attackers", default="6,7")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--elems", type=int, default=356 * 32)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scale", type=float, default=1000.0)
    a = p.parse_args()

    with open(a.config) as f:
        job = [j for j in json.load(f)["jobs"] if j["id"] == a.job][0]
    ids = [w["id"] for w in job["workers"]]
    attackers = {int(x) for x in a.attackers.split(",") if x}
    honest = [w for w in ids if w not in attackers]
    grads = {w: gradient(a.seed, w, a.elems) for w in ids}
    for k, w in enumerate(sorted(attackers)):
        grads[w] = grads[w] * np.float32(a.scale * (1 if k % 2 == 0 else -1))
    stack = np.stack([grads[w] for w in honest])
    lo, hi = stack.min(axis=0), stack.max(axis=0)
    tol = np.float32(1e-5) * (hi - lo) + np.float32(1e-6)

    # Every client opens before any all-reduce: they all join at the same step.
    clients = {w: ainftp.Client(a.config, job=a.job, worker=w) for w in ids}
    lib = ainftp._lib()
    lib.ainftp_client_next_step.restype = ctypes.c_int
    lib.ainftp_client_next_step.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]

    def next_step(c):
        s = ctypes.c_uint32()
        if lib.ainftp_client_next_step(c._handle, ctypes.byref(s)) < 0:
            raise RuntimeError("ainftp_client_next_step failed")
        return s.value

    end = max(next_step(c) for c in clients.values()) + a.steps
    lock = threading.Lock()
    tot = {"results": 0, "exact": 0, "wrong": 0, "skipped": 0, "errors": 0,
           "attacker_errors": 0, "worst_excess": 0.0, "error": ""}

    def run(w):
        c = clients[w]
        mine = {k: 0 for k in ("results", "exact", "wrong", "skipped")}
        err = ""
        try:
            while next_step(c) < end:
                x = grads[w].copy()
                try:
                    c.allreduce(x, op="mean")
                except ainftp.Error as e:
                    if e.status == ainftp.E_SKIPPED:
                        mine["skipped"] += 1
                        continue
                    raise
                if w in attackers:
                    continue
                mine["results"] += 1
                excess = np.maximum(lo - tol - x, x - hi - tol)
                if np.all(np.isfinite(x)) and float(excess.max()) <= 0:
                    mine["exact"] += 1
                else:
                    mine["wrong"] += 1
                    with lock:
                        tot["worst_excess"] = max(tot["worst_excess"], float(np.nanmax(excess)))
        except Exception as e:  # noqa: BLE001 - reported, the round fails
            err = "worker %d: %s" % (w, e)
        with lock:
            for k, v in mine.items():
                tot[k] += v
            if err and w in attackers:
                tot["attacker_errors"] += 1
            elif err:
                tot["errors"] += 1
                tot["error"] = tot["error"] or err

    threads = [threading.Thread(target=run, args=(w,)) for w in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in clients.values():
        c.close()
    print(json.dumps(tot))
    sys.exit(3 if tot["wrong"] else 1 if tot["errors"] else 0)


if __name__ == "__main__":
    main()
