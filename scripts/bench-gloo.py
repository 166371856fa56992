#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The baseline of scripts/bench-allreduce.sh: torch.distributed's Gloo
all-reduce of the same float32 tensor by the same number of processes on this
machine, over 127.0.0.1. Prints one JSON line: per-step seconds of rank 0 (the
slowest rank decides a collective's time, and every rank leaves it together)."""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def rank_main(rank, world, elems, steps, init, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    x = torch.ones(elems, dtype=torch.float32)
    dist.all_reduce(x)  # warm-up: connections, buffers
    lat = []
    for _ in range(steps):
        x.fill_(1.0)
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(x)
        lat.append(time.perf_counter() - t0)
    if x[0].item() != world:
        raise SystemExit("gloo: wrong sum %r" % x[0].item())
    if rank == 0:
        with open(out, "w") as f:
            json.dump(lat, f)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--elems", type=int, default=16 << 20)
    ap.add_argument("--steps", type=int, default=5)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "lat.json")
        init = "file://" + os.path.join(d, "store")
        mp.spawn(rank_main, args=(a.workers, a.elems, a.steps, init, out), nprocs=a.workers)
        lat = json.load(open(out))
    med = statistics.median(lat)
    print(json.dumps({"gloo": True, "workers": a.workers, "elems": a.elems,
                      "steps": a.steps, "median_s": med,
                      "gbps": a.elems * 32 / med / 1e9, "lat_s": lat}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
