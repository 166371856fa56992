#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""DistributedDataParallel through ainftp, next to Gloo: the acceptance test.

An MLP (64-64-10) learns scikit-learn's digits with DDP on WORLD processes,
each on its own shard of the training set, twice from the same initial
weights: once with Gloo's own all-reduce, once with ainftp.torch.allreduce_hook
on a job of the appliance (worker id = rank). Both must reach the same test
accuracy within --max-gap points, Gloo at least --min-accuracy, and every rank
must end with the same weights as the others.

Run in a lab's workers' namespace (tests/test_torch.sh does), where the
job's worker addresses are:

    torch_ddp.py --config config/lab.json --job 4

This launcher starts the ranks (this file with --rank), checks what they
report and exits non-zero, with the reason, when a check or a rank fails.

Both runs are deterministic (the appliance's sums do not depend on the order
of arrival, and Gloo's ring is fixed): the same weights every time, so the
gap between them is a fixed number, not noise. At the default learning rate a
few late buckets come back flagged OVERFLOW (some worker's gradient block 2^26
smaller than another's), which the hook takes as the gradient.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

MODES = ("gloo", "ainftp")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help="the appliance's cluster.json")
    p.add_argument("--job", type=int, default=4, help="a float32 job with WORLD workers")
    p.add_argument("--world", type=int, default=4)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch", type=int, default=32, help="per rank")
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--lr-decay", action=argparse.BooleanOptionalAction, default=False,
                   help="the learning rate down linearly to 0 over the run")
    p.add_argument("--first-step", type=int, default=0,
                   help="the ainftp clients' first step (above any the job used)")
    p.add_argument("--min-accuracy", type=float, default=90.0)
    p.add_argument("--max-gap", type=float, default=1.0, help="points")
    p.add_argument("--timeout", type=float, default=240, help="seconds for all ranks")
    p.add_argument("--rank", type=int, help=argparse.SUPPRESS)
    p.add_argument("--store", help=argparse.SUPPRESS)
    return p.parse_args(argv)


# --- a rank ----------------------------------------------------------------------------


def load_shard(rank, world):
    """This rank's training shard and the whole test set, as float32 tensors in [0, 1].

    Every shard has the same size, so every rank runs the same number of
    steps (each step is a collective).
    """
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x / 16.0, y, test_size=0.25, random_state=0)
    per = len(x_tr) // world
    idx = slice(rank * per, (rank + 1) * per)

    def t(a, dtype):
        return torch.tensor(a, dtype=dtype)

    return (t(x_tr[idx], torch.float32), t(y_tr[idx], torch.long),
            t(x_te, torch.float32), t(y_te, torch.long))


def build_model():
    import torch

    torch.manual_seed(0)  # the same initial weights in every run and rank
    return torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(),
                               torch.nn.Linear(64, 64), torch.nn.ReLU(),
                               torch.nn.Linear(64, 10))


def batches(args, n):
    """This rank's minibatches of its n samples: index tensors, epoch after epoch."""
    import torch

    for epoch in range(args.epochs):
        g = torch.Generator().manual_seed(1000 * epoch + args.rank)
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, args.batch):
            yield perm[i:i + args.batch]


def finite_everywhere(loss):
    """Whether every rank's loss is finite: a Gloo all-reduce, so all ranks agree."""
    import torch
    import torch.distributed as dist

    bad = torch.tensor([0.0 if torch.isfinite(loss).item() else 1.0])
    dist.all_reduce(bad, op=dist.ReduceOp.MAX)
    return bad.item() == 0


def train(args, mode, data, name=None, job=None, attack=None, guard=False, group=None):
    """One DDP training run; what it measured, as a dict.

    mode: "gloo" (Gloo's all-reduce) or "ainftp" (on job, args.job by default)
    through the hook; anything else: the process group's own all-reduce, on
    group (the default group when None: tests/torch_c10d.py's "ainftp");
    name: the run's name in the report (mode by default); attack: None, or a
    function that rewrites the bucket's buffer in place before it is
    all-reduced (this rank's gradients as an attacker sends them); guard:
    stop, on every rank at the same step, once some rank's loss is not finite
    (a run diverged under attack: the appliance refuses NaN and infinity), and
    report that step as "diverged" (None when it ran to the end).
    """
    import torch
    from torch.nn.parallel import DistributedDataParallel as DDP

    import ainftp
    import ainftp.torch

    x_tr, y_tr, x_te, y_te = data
    model = DDP(build_model(), process_group=group)
    state = None
    if mode == "ainftp":
        client = ainftp.Client(args.config, job=args.job if job is None else job,
                               worker=args.rank, first_step=args.first_step)
        state = ainftp.torch.hook_state(client)
    if attack is not None:
        model.register_comm_hook(state=(attack, state), hook=attacked_hook)
    elif state is not None:
        model.register_comm_hook(state=state, hook=ainftp.torch.allreduce_hook)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    total = args.epochs * -(-len(x_tr) // args.batch)  # steps
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 1 - s / total if args.lr_decay else 1)
    loss_fn = torch.nn.CrossEntropyLoss()
    steps, diverged, t0 = 0, None, time.perf_counter()
    for b in batches(args, len(x_tr)):
        opt.zero_grad()
        loss = loss_fn(model(x_tr[b]), y_tr[b])
        if guard and not finite_everywhere(loss):
            diverged = steps
            break
        loss.backward()
        opt.step()
        sched.step()
        steps += 1
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        acc = (model(x_te).argmax(1) == y_te).float().mean().item() * 100
    weights = b"".join(p.detach().numpy().tobytes() for p in model.module.parameters())
    out = {"mode": name or mode, "accuracy": acc, "steps": steps, "seconds": seconds,
           "loss": loss.item(), "diverged": diverged,
           "weights": hashlib.sha256(weights).hexdigest()[:16]}
    if state is not None:
        out.update(allreduces=state.allreduces, allreduce_seconds=state.seconds,
                   elements=state.elements, overflows=state.overflows,
                   client=state.client.stats())
        state.close()
    return out


def attacked_hook(state, bucket):
    """DDP communication hook: attack(buffer), then ainftp's hook, or Gloo's.

    state is (attack, HookState or None: Gloo's all-reduce).
    """
    from torch.distributed.algorithms.ddp_comm_hooks import default_hooks

    import ainftp.torch

    attack, hook_state = state
    attack(bucket.buffer())
    if hook_state is None:
        return default_hooks.allreduce_hook(None, bucket)
    return ainftp.torch.allreduce_hook(hook_state, bucket)


def rank_main(args):
    """One rank: both runs in one process group; a JSON line per run on stdout."""
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    data = load_shard(args.rank, args.world)
    dist.init_process_group("gloo", init_method="file://" + args.store,
                            rank=args.rank, world_size=args.world)
    try:
        for mode in MODES:
            print(json.dumps(train(args, mode, data)), flush=True)
    finally:
        dist.destroy_process_group()
    return 0


# --- the launcher -----------------------------------------------------------------------


def launch(args, argv, script=__file__):
    """Every rank of script at once; [(rank, exit status or None if stopped, stdout, stderr)].

    A rank that fails leaves the others waiting in a collective: they are
    stopped at once then, as they are all at the deadline.
    """
    with tempfile.TemporaryDirectory(prefix="torch_ddp.") as tmp:
        env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
        cmd = [sys.executable, os.path.abspath(script)] + argv
        procs = []
        for r in range(args.world):
            rank = ["--rank", str(r), "--store", tmp + "/store"]
            with open("%s/%d.out" % (tmp, r), "w") as out, \
                    open("%s/%d.err" % (tmp, r), "w") as err:
                procs.append(subprocess.Popen(cmd + rank, stdout=out, stderr=err, env=env))
        try:
            wait_all(procs, time.monotonic() + args.timeout)
            status = [p.poll() for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        return [(r, status[r], read(tmp, r, "out"), read(tmp, r, "err"))
                for r in range(args.world)]


def wait_all(procs, deadline):
    """Until every rank exits, one fails, or the deadline passes."""
    while any(p.poll() is None for p in procs):
        if any(p.poll() not in (None, 0) for p in procs) or time.monotonic() > deadline:
            return
        time.sleep(0.1)


def read(tmp, rank, what):
    with open("%s/%d.%s" % (tmp, rank, what)) as f:
        return f.read()


def collect(args, done, modes=MODES):
    """{mode: [each rank's report]}, or SystemExit naming the ranks that failed."""
    failed = ["rank %d exited %d:\n%s" % (r, rc, err[-3000:])
              for r, rc, _, err in done if rc not in (None, 0)]
    stopped = [r for r, rc, _, _ in done if rc is None]
    if stopped:
        failed.append("rank%s %s stopped: %s" % (
            "s" if len(stopped) > 1 else "", ", ".join(map(str, stopped)),
            "after the failure above" if failed else
            "still running after --timeout %.0f s" % args.timeout))
    if failed:
        raise SystemExit("FAIL: " + "\n".join(failed))
    runs = {m: [] for m in modes}
    for r, _, out, _ in done:
        for line in out.splitlines():
            rep = json.loads(line)
            runs[rep["mode"]].append(rep)
    for m in modes:
        if len(runs[m]) != args.world:
            raise SystemExit("FAIL: %s: %d of %d ranks reported" % (m, len(runs[m]), args.world))
    return runs


def check_run(m, reps):
    """One run's summary line; what failed in it (the ranks' weights must agree)."""
    r0 = reps[0]
    print("%-12s test accuracy %.2f%%, %d steps in %.1f s, final loss %.4f, weights %s"
          % (m, r0["accuracy"], r0["steps"], r0["seconds"], r0["loss"], r0["weights"]))
    if len({(r["weights"], r["accuracy"]) for r in reps}) != 1:
        return ["%s: the ranks ended with different weights" % m]
    return []


def check_clients(reps):
    """A line per rank of an ainftp run; what failed (a step without its all-reduce)."""
    bad = []
    for r, rep in enumerate(reps):
        c = rep["client"]
        print("  rank %d: %d gradient all-reduces through ainftp, %d elements, %.3f s "
              "(%.2f ms each), %d flagged OVERFLOW, %d retransmits, srtt %d us"
              % (r, rep["allreduces"], rep["elements"], rep["allreduce_seconds"],
                 1e3 * rep["allreduce_seconds"] / max(rep["allreduces"], 1),
                 rep["overflows"], c["retransmits"], c["srtt_us"]))
        if rep["allreduces"] < rep["steps"]:
            bad.append("rank %d: %d all-reduces for %d steps" % (r, rep["allreduces"],
                                                                 rep["steps"]))
    return bad


def check(args, runs):
    """The acceptance checks; a list of what failed."""
    bad = []
    for m, reps in runs.items():
        bad += check_run(m, reps)
    bad += check_clients(runs["ainftp"])
    return bad + check_gap(args, runs["gloo"][0]["accuracy"], runs["ainftp"][0]["accuracy"],
                           "ainftp")


def check_gap(args, gloo, ours, name):
    """Gloo's accuracy against ours (name's): what failed, after a line saying both."""
    bad = []
    print("gloo %.2f%% vs %s %.2f%%: gap %.2f points (at most %.1f)"
          % (gloo, name, ours, abs(gloo - ours), args.max_gap))
    if gloo < args.min_accuracy:
        bad.append("gloo accuracy %.2f%% is below %.1f%%" % (gloo, args.min_accuracy))
    if abs(gloo - ours) > args.max_gap:
        bad.append("accuracies differ by %.2f points" % abs(gloo - ours))
    return bad


def main(argv):
    args = parse_args(argv)
    if args.rank is not None:
        return rank_main(args)
    t0 = time.monotonic()
    runs = collect(args, launch(args, argv))
    bad = check(args, runs)
    print("%d ranks, %d epochs, batch %d per rank: %.1f s in all"
          % (args.world, args.epochs, args.batch, time.monotonic() - t0))
    for b in bad:
        print("FAIL: " + b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
