#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""torch.distributed's "ainftp" backend, one rank of it under torchrun.

tests/test_torch.sh runs it in a lab's workers' namespace with Debian's
torchrun, 4 ranks, env:// (RANK, WORLD_SIZE, MASTER_ADDR from torchrun):

    torchrun --standalone --nproc_per_node 4 --redirects 1 --tee 1 \\
        tests/torch_c10d.py --config config/lab.json --job 10

Without --fault, every rank (rank 0 checks and reports what all of them saw,
gathered through the backend's all_gather_object, which is Gloo's):
  1. init_process_group("ainftp"), no other group, no hook; a second
     ainftp group on the same job is refused (it would be a second client of
     the same worker);
  2. all_reduce of several sizes (0 to 2^20 elements, across chunk edges),
     dtypes (float32, float64, float16, bfloat16 through the appliance;
     int64, int32 to Gloo) and ops (SUM, AVG, MAX), a non-contiguous
     tensor, async_op with wait() and get_future(), and all_reduce_coalesced:
     each result against the sum computed here from every rank's inputs;
  3. DDP training (tests/torch_ddp.py's MLP on digits, the same seeds)
     twice: on a Gloo group of the same ranks, and on the default group with
     no comm hook. The accuracies must agree within --max-gap points, Gloo's
     be at least --min-accuracy, every rank end with the same weights, and
     the gradients go through the appliance (its all-reduce count).
Exit 1 on rank 0 when a check fails (torchrun then fails).

--fault key|job: rank 2 joins with a wrong key (a copy of the config with its
key changed) or on another job of 4 workers; every rank must fail at
init_process_group with an exception that says what is wrong, and print it
as "FAULT rank R: message" (exit 0 then).
"""

import argparse
import json
import os
import sys
import tempfile
import time
import zlib

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ddp  # noqa: E402 - the DDP run's data, model and loop

import ainftp.torch  # noqa: E402 - registers the backend

SIZES = (0, 1, 355, 356, 357, 4096, 100003, 1 << 20)
# The tolerance of a float result through the float32 job (one float32 sum
# of exact block sums, then the dtype's own rounding), relative to the
# largest element of the reference.
FLOATS = {torch.float32: 1e-6, torch.float64: 1e-6, torch.float16: 2e-3,
          torch.bfloat16: 1.6e-2}
INTS = (torch.int64, torch.int32)
OP_NAMES = {dist.ReduceOp.SUM: "SUM", dist.ReduceOp.AVG: "AVG", dist.ReduceOp.MAX: "MAX"}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True)
    p.add_argument("--job", type=int, required=True, help="a job of WORLD_SIZE workers")
    p.add_argument("--fault", choices=("key", "job"))
    p.add_argument("--other-job", type=int, default=1, help="--fault job: rank 2's job")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--min-accuracy", type=float, default=90.0)
    p.add_argument("--max-gap", type=float, default=1.0)
    args = p.parse_args(argv)
    # What tests/torch_ddp.py's train() reads besides these.
    args.rank = int(os.environ["RANK"])
    args.world = int(os.environ["WORLD_SIZE"])
    args.lr_decay, args.first_step = False, 0
    return args


def inputs(rank, n, dtype, salt):
    """Rank's input: the same on every rank that asks for it."""
    key = "%d %d %s %s" % (rank, n, dtype, salt)  # hash() of a str differs by process
    g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    if dtype in INTS:
        return torch.randint(-1000, 1000, (n,), generator=g, dtype=dtype)
    return (torch.randn(n, generator=g, dtype=torch.float64) * 4).to(dtype)


def reference(world, n, dtype, op, salt):
    xs = [inputs(r, n, dtype, salt).to(torch.float64) for r in range(world)]
    if op == dist.ReduceOp.MAX:
        ref = torch.stack(xs).max(0).values if n else torch.zeros(0, dtype=torch.float64)
    else:
        ref = sum(xs)
        if op == dist.ReduceOp.AVG:
            ref = ref / world
    return ref


def compare(what, got, ref, dtype):
    """'' when got matches ref for dtype, else what differs."""
    got = got.to(torch.float64)
    if dtype in INTS or got.numel() == 0:
        ok = torch.equal(got, ref)
        err = 0.0 if ok else (got - ref).abs().max().item()
    else:
        scale = max(ref.abs().max().item(), 1e-30)
        err = (got - ref).abs().max().item() / scale
        ok = err <= FLOATS[dtype]
    return "" if ok else "%s: off by %.3g (relative to the largest element)" % (what, err)


def check_allreduces(world, rank):
    """Every all_reduce case; a list of what failed."""
    bad = []
    for dtype in list(FLOATS) + list(INTS):
        for op in OP_NAMES:
            if op == dist.ReduceOp.AVG and dtype in INTS:
                continue  # Gloo has no AVG, and an integer mean is not one
            if op == dist.ReduceOp.MAX and dtype == torch.bfloat16:
                continue  # Gloo's MAX (1.13) has no bfloat16
            for n in SIZES if dtype == torch.float32 else SIZES[:6]:
                salt = OP_NAMES[op]
                t = inputs(rank, n, dtype, salt)
                what = "all_reduce %s %s of %d" % (dtype, salt, n)
                try:
                    dist.all_reduce(t, op=op)
                except RuntimeError as e:
                    raise RuntimeError("%s: %s" % (what, e)) from e
                bad.append(compare(what, t, reference(world, n, dtype, op, salt), dtype))
    # A non-contiguous view (through a host copy, copied back into the view).
    base = inputs(rank, 2 * 357, torch.float32, "strided").view(357, 2)
    view = base[:, 1]
    dist.all_reduce(view)
    ref = reference(world, 2 * 357, torch.float32, dist.ReduceOp.SUM, "strided").view(357, 2)
    bad.append(compare("all_reduce of a strided view", view, ref[:, 1], torch.float32))
    bad.append(compare("the other column, untouched", base[:, 0],
                       inputs(rank, 2 * 357, torch.float32, "strided").view(357, 2)[:, 0]
                       .to(torch.float64), torch.float32))
    # Asynchronous: Work.wait() and the Work's Future.
    a = inputs(rank, 5000, torch.float32, "async")
    b = inputs(rank, 7000, torch.float32, "async")
    wa = dist.all_reduce(a, async_op=True)
    fb = dist.all_reduce(b, async_op=True).get_future()
    wa.wait()
    got_b = fb.wait()[0]
    bad.append(compare("async_op wait()", a,
                       reference(world, 5000, torch.float32, dist.ReduceOp.SUM, "async"),
                       torch.float32))
    bad.append(compare("async_op get_future()", got_b,
                       reference(world, 7000, torch.float32, dist.ReduceOp.SUM, "async"),
                       torch.float32))
    # Coalesced: several tensors in one call.
    ts = [inputs(rank, n, torch.float32, "coalesced") for n in (10, 400, 3000)]
    dist.all_reduce_coalesced(ts)
    for t, n in zip(ts, (10, 400, 3000)):
        bad.append(compare("all_reduce_coalesced %d" % n, t,
                           reference(world, n, torch.float32, dist.ReduceOp.SUM, "coalesced"),
                           torch.float32))
    return [b for b in bad if b]


def ddp_runs(args):
    """{mode: this rank's report} of the Gloo run and the backend's own."""
    data = torch_ddp.load_shard(args.rank, args.world)
    gloo = dist.new_group(backend="gloo")
    pg = dist.group.WORLD
    out = {"gloo": torch_ddp.train(args, "gloo", data, group=gloo)}
    before = pg.stats()["allreduces"]
    rep = torch_ddp.train(args, "c10d", data)
    rep["allreduces"] = pg.stats()["allreduces"] - before
    out["c10d"] = rep
    return out


def report(args, reps):
    """Rank 0: the lines and verdict; a list of what failed."""
    bad = []
    for r, rep in enumerate(reps):
        bad += ["rank %d: %s" % (r, b) for b in rep["collectives"]]
    print("all_reduce cases: %d failed over %d ranks" % (len(bad), len(reps)))
    for mode in ("gloo", "c10d"):
        runs = [rep["ddp"][mode] for rep in reps]
        bad += torch_ddp.check_run(mode, runs)
    gloo, ours = reps[0]["ddp"]["gloo"]["accuracy"], reps[0]["ddp"]["c10d"]["accuracy"]
    for r, rep in enumerate(reps):
        c = rep["ddp"]["c10d"]
        print("  rank %d: %d steps, %d all-reduces through the appliance, stats %s"
              % (r, c["steps"], c["allreduces"], json.dumps(rep["stats"], sort_keys=True)))
        if c["allreduces"] < c["steps"]:
            bad.append("rank %d: %d all-reduces through the appliance for %d steps"
                       % (r, c["allreduces"], c["steps"]))
    return bad + torch_ddp.check_gap(args, gloo, ours, 'init_process_group("ainftp")')


def fault_options(args, tmp):
    """Options for this rank under --fault: rank 2's are wrong."""
    if args.rank != 2:
        return ainftp.torch.Options(config=args.config, job=args.job, timeout_ms=2000)
    if args.fault == "job":
        return ainftp.torch.Options(config=args.config, job=args.other_job, timeout_ms=2000)
    with open(args.config) as f:
        cfg = json.load(f)
    for job in cfg["jobs"]:
        if job["id"] == args.job:
            for w in job["workers"]:
                if w["id"] == sorted(x["id"] for x in job["workers"])[2] and "key" in w:
                    w["key"] = "%064x" % (int(w["key"], 16) ^ 1)
    path = os.path.join(tmp, "wrong-key.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return ainftp.torch.Options(config=path, job=args.job, timeout_ms=2000)


def fault_main(args):
    """Every rank fails at init with a message that names what is wrong."""
    with tempfile.TemporaryDirectory(prefix="torch_c10d.") as tmp:
        t0 = time.monotonic()
        try:
            dist.init_process_group("ainftp", pg_options=fault_options(args, tmp))
        except Exception as e:  # noqa: BLE001 - the exception is the result
            msg = str(e)
        else:
            print("rank %d: init_process_group succeeded with rank 2's %s wrong"
                  % (args.rank, args.fault), file=sys.stderr)
            return 1
    if args.fault == "job":
        want = ("job %d" % args.other_job, "job %d" % args.job)
    elif args.rank == 2:
        want = ("key agrees",)  # the client's own message
    else:
        want = ("rank 2 could not join job %d" % args.job, "key agrees")
    missing = [w for w in want if w not in msg]
    print("FAULT rank %d: %s (%.1f s)" % (args.rank, msg, time.monotonic() - t0), flush=True)
    if missing:
        print("rank %d: the message does not say %s" % (args.rank, missing), file=sys.stderr)
        return 1
    return 0


def main(argv):
    args = parse_args(argv)
    torch.set_num_threads(1)
    if args.fault:
        return fault_main(args)
    dist.init_process_group("ainftp", pg_options=ainftp.torch.Options(config=args.config,
                                                                       job=args.job))
    assert dist.get_backend() == "ainftp", dist.get_backend()
    try:  # a second group on the job would be a second client of this worker
        dist.new_group(backend="ainftp",
                       pg_options=ainftp.torch.Options(config=args.config, job=args.job))
        raise SystemExit("rank %d: a second ainftp group on job %d was made" % (args.rank, args.job))
    except ValueError as e:
        if "already has a process group" not in str(e):
            raise
    mine = {"collectives": check_allreduces(args.world, args.rank), "ddp": ddp_runs(args),
            "stats": dist.group.WORLD.stats()}
    reps = [None] * args.world
    dist.all_gather_object(reps, mine)
    rc = 0
    if args.rank == 0:
        bad = report(args, reps)
        for b in bad:
            print("FAIL: " + b, file=sys.stderr)
        rc = 1 if bad else 0
    dist.destroy_process_group()
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
