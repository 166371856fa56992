#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The house's rules, checked on the source tree (docs/ARCHITECTURE.md):

1. A folder includes only its own headers and those of folders below it in
   LAYERS (so no folder calls up: a call needs a declaration).
2. No include loop between modules (a module: a .c and its .h).
3. Nothing the RX lcores compile (lib/dp) reaches <jansson.h> or a telemetry
   header through its includes.

Usage: test_layers.py SRCDIR. Prints every violation; exit 1 if any.
"""
import os
import re
import sys

# Lowest first. Each entry may include itself and anything before it.
LAYERS = [
    "lib/wire", "lib/sentry", "lib/config", "lib/runtime", "lib/sink", "lib/dp",
    "lib/ctrl", "lib/telemetry", "lib/appliance",
]
# Outside the appliance's library: what each may include besides its own folder.
OUTSIDE = {
    "client": ["lib/wire", "lib/sentry", "lib/config"],
    "tests/harness": ["lib/wire", "lib/sentry", "lib/config"],
    "app/emu": LAYERS,
    "app": LAYERS + ["app/emu"],
}
# A module is a .c and its .h; X_private.h and X_ops.h (a backend's interface) are X's too.
PRIVATE = re.compile(r"_(private|ops)$")
INCLUDE = re.compile(r'^\s*#\s*include\s+([<"])([^>"]+)[>"]', re.M)


def sources(root):
    folders = LAYERS + list(OUTSIDE)
    files = {}
    for d in folders:
        full = os.path.join(root, d)
        for name in sorted(os.listdir(full)):
            if name.endswith((".c", ".h")):
                files[os.path.join(d, name)] = open(os.path.join(full, name)).read()
    return files


def main():
    root = sys.argv[1]
    files = sources(root)
    by_name = {}
    for path in files:
        by_name.setdefault(os.path.basename(path), path)
    bad = []
    allowed = {d: LAYERS[: i + 1] for i, d in enumerate(LAYERS)}
    for d, below in OUTSIDE.items():
        allowed[d] = [d] + below
    deps = {}
    for path, text in files.items():
        folder = os.path.dirname(path)
        mod = PRIVATE.sub("", os.path.splitext(path)[0])
        for kind, inc in INCLUDE.findall(text):
            if kind != '"':
                continue
            target = by_name.get(inc)
            if target is None:
                continue  # a header of another tree (gpu/, tests/): not ours to layer
            tfolder = os.path.dirname(target)
            if tfolder not in allowed[folder]:
                bad.append("%s includes %s: %s is not below %s" % (path, inc, tfolder, folder))
            tmod = PRIVATE.sub("", os.path.splitext(target)[0])
            if tmod != mod:
                deps.setdefault(mod, set()).add(tmod)
    # 2. loops between modules
    state = {}

    def visit(m, stack):
        state[m] = 1
        for n in sorted(deps.get(m, ())):
            if state.get(n) == 1:
                bad.append("include loop: " + " -> ".join(stack[stack.index(n):] + [n]))
            elif n not in state:
                visit(n, stack + [n])
        state[m] = 2

    for m in sorted(deps):
        if m not in state:
            visit(m, [m])
    # 3. the hot path's include closure
    def closure(path, seen):
        for kind, inc in INCLUDE.findall(files[path]):
            key = (kind, inc)
            if key in seen:
                continue
            seen.add(key)
            if kind == '"' and inc in by_name:
                closure(by_name[inc], seen)
        return seen

    for path in files:
        if not path.startswith("lib/dp/"):
            continue
        for kind, inc in closure(path, set()):
            if inc == "jansson.h" or (kind == '"' and by_name.get(inc, "").startswith("lib/telemetry/")):
                bad.append("%s reaches %s: the RX lcores' includes stay free of telemetry" % (path, inc))
    for line in bad:
        print(line)
    print("layers: %d files, %d modules, %d violation(s)" % (len(files), len(deps), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
