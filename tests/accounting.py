#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Every frame accounted for, from ainftp-app's final stats line.

    accounting.py FILE...   (ainftp-app's stdout, or anything holding its stats lines)

Reads the stats lines marked "final": true (one per app: a lab of several
boxes prints one for each) and checks, for every port and every lcore of each,
that `unaccounted` is 0: each frame received is in exactly one outcome
(docs/CONTROL.md, "Every frame accounted for"). Prints one line: the frames and
their outcomes in brief, or what does not add up. Exit 0 when it holds, 1 when
it does not, 2 when there is no final stats line.
"""
import json
import sys


def final_lines(paths):
    found = []
    for p in paths:
        with open(p, errors="replace") as f:
            for line in f:
                i = line.find('{"ainftp_stats"')
                if i < 0:
                    continue
                try:
                    o = json.loads(line[i:])
                except ValueError:
                    continue
                if o.get("final") is True:
                    found.append(o)
    return found


def unaccounted(o, app):
    """What does not add up in one app's final line."""
    bad = []
    for kind, key in (("port", "port"), ("lcore", "lcore")):
        for e in o.get(kind + "s", []):
            if "unaccounted" not in e:
                bad.append("%s%s %s: no unaccounted field" % (app, kind, e.get(key)))
            elif e["unaccounted"] != 0:
                bad.append("%s%s %s: %d of %d frames unaccounted (negative: counted twice)"
                           % (app, kind, e.get(key), e["unaccounted"], e.get("rx_pkts", -1)))
    return bad


def main():
    finals = final_lines(sys.argv[1:])
    if not finals:
        print("accounting: no final stats line in %s" % " ".join(sys.argv[1:]))
        return 2
    bad = []
    for i, o in enumerate(finals):
        bad += unaccounted(o, "app %d: " % i if len(finals) > 1 else "")
    ports = [p for o in finals for p in o.get("ports", [])]
    rx = sum(p.get("rx_pkts", 0) for p in ports)
    if bad:
        print("accounting: FAIL: " + "; ".join(bad))
        return 1
    print("accounting: ok: %d frames on %d port(s)%s, each in one outcome (%d summed)"
          % (rx, len(ports), " of %d apps" % len(finals) if len(finals) > 1 else "",
             sum(p.get("data_pkts", 0) for p in ports)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
