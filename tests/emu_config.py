#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A cluster.json for the tests that run ainftp-app --emulate: one job of
emulated workers on the emulator's ring port, random keys, the file 0600.

    emu_config.py OUT [--workers N] [--job ID] [--encoding E] [--result-encoding E]
                  [--lanes L] [--rx-lcores R] [--heartbeat-ms MS]
                  [--threshold-ms MS] [--min-quorum N] [--sink JSON]

Lane q is polled by RX lcore 1 + q % R (R defaults to L); the emulator takes
the lcore after them.
"""

import argparse
import json
import os
import secrets


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--job", type=int, default=7)
    p.add_argument("--encoding", default="int16")
    p.add_argument("--result-encoding")
    p.add_argument("--lanes", type=int, default=1)
    p.add_argument("--rx-lcores", type=int)
    p.add_argument("--heartbeat-ms", type=int)
    p.add_argument("--threshold-ms", type=int)
    p.add_argument("--min-quorum", type=int)
    p.add_argument("--sink", type=json.loads)
    a = p.parse_args()

    rx_lcores = a.rx_lcores or a.lanes
    workers = [{"id": i, "ipv4": "10.1.%d.%d" % (i // 200, 10 + i % 200),
                "key": secrets.token_hex(32)} for i in range(a.workers)]
    job = {"id": a.job, "slots": 64, "elems_per_packet": 256, "encoding": a.encoding,
           "auth": True, "workers": workers}
    if a.result_encoding:
        job["result_encoding"] = a.result_encoding
    # Every result from every worker unless a test says otherwise: the emulated
    # workers check each result over the full job, and a loaded machine must not
    # turn a slow emulated worker into a partial result (the default is a majority).
    min_quorum = a.min_quorum if a.min_quorum is not None else a.workers
    straggler = {k: v for k, v in (("threshold_ms", a.threshold_ms),
                                   ("min_quorum", min_quorum)) if v is not None}
    job["straggler"] = straggler
    cfg = {
        "appliance": {"ipv4": "198.18.0.2"},
        "ports": [{"device": "net_ring_emu_app", "rx_queues": a.lanes}],
        "lcores": {"control": 0,
                   "rx": [{"lcore": 1 + q % rx_lcores, "port": 0, "queue": q}
                          for q in range(a.lanes)]},
        "jobs": [job],
        "telemetry": {"enabled": False, "stats_interval_s": 0},
    }
    if a.heartbeat_ms is not None:
        cfg["control"] = {"heartbeat_interval_ms": a.heartbeat_ms}
    if a.sink is not None:
        cfg["sink"] = a.sink
    fd = os.open(a.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f, indent=1)
    os.chmod(a.out, 0o600)


if __name__ == "__main__":
    main()
