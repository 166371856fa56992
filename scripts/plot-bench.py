#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Bench results as PNGs, from the benches' saved outputs (or stdin).

    plot-bench.py [-o DIR] [FILE...]

Reads what the benches print:
  ainftp-bench (scripts/bench.sh)   its table, "encoding payload_B Mpps ... iofwd_Mpps ...":
                                    rate.png, contributions per second and Gbit/s per
                                    payload size, one line per encoding, each against its
                                    io-forward ceiling (iofwd: rx_burst/tx_burst, no work)
  scripts/bench-allreduce.sh        its "== N workers, SIZE of float32 each" blocks, one
                                    per run (run it at several --size, save each, give
                                    them all): allreduce.png, the median step time of
                                    ainftp (per wire encoding) and of Gloo by tensor size
  scripts/bench-gloo.py             its JSON lines, Gloo alone, in allreduce.png too
Writes the PNGs into DIR (default .) and names each on stdout. Exits 1 with
the file and line when a table is cut or a row does not parse, or when no
input holds a bench's output; 2 on a usage error. Needs python3-matplotlib.
"""

import argparse
import json
import math
import os
import re
import sys

BENCH_HEADER = re.compile(r"^encoding\s+payload_B\s+Mpps\b")
BLOCK = re.compile(r"^== (\d+) workers, (\d+)([KMG]?) of float32 each, (\d+) steps")
AR_ROW = re.compile(r"^(ainftp-\S+|gloo \([^)]*\))\s+([0-9.]+)\s")
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


class ParseError(Exception):
    pass


class Results:
    def __init__(self):
        self.rate = []  # dicts of an ainftp-bench table's columns, numbers or None
        self.allreduce = {}  # label -> {bytes: median ms}
        self.workers = set()
        self.machine = None


def number(v):
    return None if v == "-" else float(v)


def parse_bench_table(lines, i, name, res):
    """The table from its header at lines[i] to the first blank line; the index after it."""
    cols = lines[i].split()
    start = len(res.rate)
    i += 1
    while i < len(lines) and lines[i].strip():
        f = lines[i].split()
        if len(f) >= 3 and f[2] == "skipped:":
            i += 1
            continue
        if len(f) != len(cols):
            raise ParseError("%s:%d: %d fields, the table has %d columns: %r"
                             % (name, i + 1, len(f), len(cols), lines[i]))
        try:
            row = {c: (v if c == "encoding" else number(v)) for c, v in zip(cols, f)}
        except ValueError:
            raise ParseError("%s:%d: not a number in %r" % (name, i + 1, lines[i])) from None
        res.rate.append(row)
        i += 1
    if i == len(lines) and len(res.rate) == start:
        raise ParseError("%s: the table ends before its first row" % name)
    return i


def parse(text, name, res):
    """Every bench output in text into res; the number of tables and blocks found."""
    lines = text.splitlines()
    found = 0
    i = 0
    size = None
    while i < len(lines):
        line = lines[i]
        if line.startswith("machine: ") and res.machine is None:
            res.machine = line[len("machine: "):].strip()
        if BENCH_HEADER.match(line):
            for col in ("payload_B", "iofwd_Mpps", "Gbit/s"):
                if col not in line.split():
                    raise ParseError("%s:%d: the table has no %s column (run it without "
                                     "--no-ceilings)" % (name, i + 1, col))
            i = parse_bench_table(lines, i, name, res)
            found += 1
            continue
        m = BLOCK.match(line)
        if m:
            size = int(m.group(2)) * UNITS[m.group(3)]
            res.workers.add(int(m.group(1)))
            found += 1
        elif AR_ROW.match(line):
            if size is None:
                raise ParseError("%s:%d: an all-reduce row before its \"== N workers\" line"
                                 % (name, i + 1))
            m = AR_ROW.match(line)
            res.allreduce.setdefault(m.group(1), {})[size] = float(m.group(2))
        elif line.startswith("{") and '"gloo"' in line:
            try:
                g = json.loads(line)
                res.allreduce.setdefault("gloo (bench-gloo.py)", {})[g["elems"] * 4] = (
                    g["median_s"] * 1e3)
                res.workers.add(g["workers"])
            except (ValueError, KeyError, TypeError) as e:
                raise ParseError("%s:%d: a bench-gloo.py line that does not parse (%s): %r"
                                 % (name, i + 1, e, line)) from None
            found += 1
        i += 1
    return found


def size_label(b):
    for u in ("G", "M", "K"):
        if b >= UNITS[u] and b % UNITS[u] == 0:
            return "%d%s" % (b // UNITS[u], u)
    return str(b)


def log_axes(ax, ticks, labels, xlabel, ylabel, ticker):
    """Both plots' axes: log-log, powers of two along x, 1-2-5 along y."""
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels)
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: "%g" % v))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)


def plot_rate(res, out, plt, ticker):
    encs = []
    for r in res.rate:
        if r["encoding"] not in encs:
            encs.append(r["encoding"])
    fig, (ax_pps, ax_bps) = plt.subplots(1, 2, figsize=(11, 4.5))
    for k, enc in enumerate(encs):
        rows = sorted((r for r in res.rate if r["encoding"] == enc and r["Mpps"] is not None),
                      key=lambda r: r["payload_B"])
        x = [r["payload_B"] for r in rows]
        color = "C%d" % k
        ax_pps.plot(x, [r["Mpps"] for r in rows], "o-", color=color, label="%s ainftp" % enc)
        ax_pps.plot(x, [r["iofwd_Mpps"] for r in rows], "s--", color=color, alpha=0.6,
                    label="%s iofwd ceiling" % enc)
        ax_bps.plot(x, [r["Gbit/s"] for r in rows], "o-", color=color, label="%s ainftp" % enc)
        ax_bps.plot(x, [r["iofwd_Mpps"] * r["payload_B"] * 8e-3 for r in rows], "s--",
                    color=color, alpha=0.6, label="%s iofwd ceiling" % enc)
    sizes = [r["payload_B"] for r in res.rate if r["Mpps"] is not None]
    # Powers of two across the sizes: int8's payloads (n + n/32) sit just below them.
    lo, hi = int(math.log2(min(sizes))), int(math.ceil(math.log2(max(sizes))))
    ticks = [1 << k for k in range(lo, hi + 1)]
    for ax, what in ((ax_pps, "contributions, Mpps"), (ax_bps, "payload, Gbit/s")):
        log_axes(ax, ticks, [str(b) for b in ticks], "payload per packet, bytes", what, ticker)
    ax_bps.legend(fontsize=7, loc="best")
    fig.suptitle("ainftp-bench: one RX lcore against its io-forward ceiling"
                 + (" (%s)" % res.machine if res.machine else ""), fontsize=10)
    fig.tight_layout()
    path = os.path.join(out, "rate.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_allreduce(res, out, plt, ticker):
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for k, (label, pts) in enumerate(sorted(res.allreduce.items())):
        x = sorted(pts)
        style = "s--" if label.startswith("gloo") else "o-"
        ax.plot(x, [pts[b] for b in x], style, color="C%d" % k, label=label)
    sizes = sorted({b for pts in res.allreduce.values() for b in pts})
    log_axes(ax, sizes, [size_label(b) for b in sizes], "tensor, float32 bytes per worker",
             "all-reduce median step time, ms", ticker)
    ax.legend(fontsize=8)
    workers = ", ".join(str(w) for w in sorted(res.workers))
    ax.set_title("all-reduce by %s workers: ainftp against Gloo" % workers, fontsize=10)
    fig.tight_layout()
    path = os.path.join(out, "allreduce.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                usage="%(prog)s [-o DIR] [FILE...]")
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="saved bench output; - or none: stdin")
    p.add_argument("-o", "--out", default=".", metavar="DIR",
                   help="where the PNGs go (made if missing)")
    a = p.parse_args()

    res = Results()
    try:
        for f in a.files or ["-"]:
            if f == "-":
                text, name = sys.stdin.read(), "<stdin>"
            else:
                with open(f, encoding="utf-8", errors="replace") as fh:
                    text, name = fh.read(), f
            if parse(text, name, res) == 0:
                raise ParseError("%s: no bench output in it (ainftp-bench's table \"encoding "
                                 "payload_B Mpps ...\", bench-allreduce.sh's \"== N workers, "
                                 "SIZE of float32 each\" or bench-gloo.py's JSON)" % name)
    except (ParseError, OSError) as e:
        sys.exit("plot-bench: %s" % e)
    if res.rate == [] and not any(res.allreduce.values()):
        sys.exit("plot-bench: the bench output has headers but no results to plot")

    import matplotlib
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    os.makedirs(a.out, exist_ok=True)
    if res.rate:
        print(plot_rate(res, a.out, plt, ticker))
    if any(res.allreduce.values()):
        print(plot_allreduce(res, a.out, plt, ticker))


if __name__ == "__main__":
    main()
