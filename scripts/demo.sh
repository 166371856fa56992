#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The appliance on its built-in default: config/loopback.json, with the job's
# workers emulated in the same process over a net_ring port pair. Every result
# is checked bit for bit against a reference; 1% loss, duplication and
# reordering are injected both ways. Usage: scripts/demo.sh [CHUNKS] (default 200000).
# Ends with a summary in words of what the emulator's and the app's counters say.
set -euo pipefail
cd "$(dirname "$0")/.."

chunks=${1:-200000}
./scripts/deps.sh
# The first build takes a minute or more: ninja's progress is shown (one updating
# line on a terminal), not a silent minute.
if [ ! -f build/build.ninja ]; then
	echo "demo: configuring build/ (meson setup)"
	setup_log=$(mktemp)
	meson setup build >"$setup_log" 2>&1 || {
		tail -n 20 "$setup_log" >&2
		exit 1
	}
	rm -f "$setup_log"
fi
echo "demo: building (ninja; about a minute on 2 cores the first time, seconds after)"
ninja -C build
chmod 600 config/loopback.json # its (throwaway) keys: the app warns about readable key files

# Hugepages when at least 1 GiB is free, otherwise ordinary memory.
free_kb=$(awk '/HugePages_Free/ {f=$2} /Hugepagesize/ {s=$2} END {print f*s}' /proc/meminfo)
if [ "${free_kb:-0}" -ge $((1024 * 1024)) ]; then
	mem=(--in-memory)
else
	mem=(--no-huge -m 1024 --no-shconf --file-prefix "ainftp-demo-$$")
fi
# lcore 0: control, 1: RX, 2: emulated workers. On a 2-core machine the emulator
# shares CPU 0 with the control lcore, which mostly sleeps.
cpus=$(nproc)
lcores="0@0,1@1,2@$((cpus > 2 ? 2 : 0))"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "demo: ainftp-app on config/loopback.json, 4 emulated workers, $chunks chunks each"
rc=0
# tee -i: a Ctrl-C stops the app cleanly and its last lines still reach the log.
./build/app/ainftp-app --lcores "$lcores" "${mem[@]}" --no-pci -- \
	-c config/loopback.json --stats-interval 1 \
	--emulate "$chunks" --emu-loss 0.01 --emu-dup 0.01 --emu-reorder 0.01 2>&1 |
	tee -i "$log" || rc=${PIPESTATUS[0]}

# The summary: the emulator's last line (key=value) and the app's final stats line.
/usr/bin/python3 - "$log" "$rc" "$cpus" <<'PY'
import json, re, sys, textwrap
log, rc, cpus = sys.argv[1], int(sys.argv[2]), sys.argv[3]
emu, details, final = {}, {}, None
for line in open(log, errors="replace"):
    if line.startswith("emulator: workers="):
        emu = dict(re.findall(r"(\w+)=(\S+)", line))
        emu["verdict"] = line.rsplit(": ", 1)[1].strip()
    elif line.startswith("emulator: details: "):
        details = dict(re.findall(r"(\w+)=(\S+)", line))
    elif '"final"' in line and "{" in line:
        final = json.loads(line[line.index("{"):])
if not emu:
    print("\ndemo: the app stopped before the emulator's summary (exit %d): see the lines above" % rc)
    sys.exit(0)
n = lambda k, d=emu: int(float(d.get(k, 0)))
results = n("results_checked") or 1
resent = sum(p.get("results_resent", 0) for p in (final or {}).get("ports", []))
rows = [
    ("retransmits=%d" % n("retransmits"),
     "data sent again, by the one worker whose data packet was lost (%d data packets "
     "lost: %.2f per loss; the other losses were results, probes or the box's answers, "
     "which a probe recovers without data)"
     % (n("data_lost", details), float(details.get("retx_per_data_loss", 0)))),
    ("probes=%d" % n("probes"),
     '"is my chunk in?" (a header and a tag, no data), sent when a worker\'s timer ran '
     "out before the chunk's result came: %.2f per result" % (n("probes") / results)),
    ("results_resent=%d" % resent,
     "the box sent a result again, to a probe or a duplicated packet for a chunk it had "
     "finished: %.2f per result; the workers ignored %d results they had already"
     % (resent / results, n("duplicates_ignored", details))),
]
print("\ndemo: summary (exit %d)" % rc)
print("  %s: %d workers x %d chunks: all %d results checked bit for bit, %d exact, in %s s"
      % (emu["verdict"], n("workers"), n("chunks"), n("results_checked"), n("exact"),
         emu.get("seconds", "?")))
print("  injected on purpose, both ways: %d packets lost, %d duplicated, %d reordered"
      % (n("loss"), n("dup"), n("reorder")))
for label, text in rows:
    lines = textwrap.wrap(text, 70)
    print("  %-22s%s" % (label, lines[0]))
    for line in lines[1:]:
        print("  %-22s%s" % ("", line))
print(textwrap.fill(
    "Why probes and resent results are this many here: each worker keeps a window of "
    "chunks in flight on the %s CPUs it shares with the appliance, so a result often comes "
    "back after the worker's timer (2 ms at first, --emu-timeout): the worker probes, the box "
    "answers with the result once more, and the worker ignores the copy it gets second. "
    "Each costs a header, not data; the client library of real workers sets its timer "
    "from the round trip it measures." % cpus, 92, initial_indent="  ",
    subsequent_indent="  "))
PY
exit "$rc"
