#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The Prometheus endpoint of a running app: ainftp-app --emulate with 4
# emulated workers answering heartbeats (some of their packets duplicated, so
# that drops by reason show), --metrics 127.0.0.1:0 (a free port, read back
# from the app's log). Scraped twice while the workers linger: the page must
# parse as exposition format 0.0.4, give every family a HELP of its own words
# and a TYPE, pass `promtool check metrics` without a warning, show every
# worker up with an RTT, a chunk latency histogram whose buckets are
# cumulative, counters that only go up between scrapes, and figures no larger
# than the final stats line's (whose histogram counts every chunk done). The
# Grafana dashboard (contrib/grafana/ainftp.json) is JSON and names only
# metrics of the live page, in queries promtool parses. Then the command-line
# mistakes: a bad --metrics, and a port already taken, each a clear error and
# a non-zero exit. Only hang bounds are timed.
#
#   test_metrics.sh APP SRCDIR
set -euo pipefail

app=$1
src=$2
. "$src/tests/emu_lib.sh"

work=$(mktemp -d)
prefix="ainftp-test-metrics-$$"
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$work" /var/run/dpdk/"$prefix"-* 2>/dev/null || true
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

cfg="$work/m.json"
"$src/tests/emu_config.py" "$cfg" --heartbeat-ms 20

lcores=$(eal_lcores 3)
# shellcheck disable=SC2086
eal=($lcores --no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level=lib.eal:error)

# The app, in the background, its workers lingering 4 s after their last result.
timeout 120 "$app" "${eal[@]}" --file-prefix "$prefix-run" -- -c "$cfg" --stats-interval 0 \
	--emulate 500 --emu-lcore 2 --emu-dup 0.02 --emu-linger 4000 --metrics 127.0.0.1:0 \
	>"$work/run.out" 2>"$work/run.err" &
pid=$!
port=
for _ in $(seq 1 200); do
	port=$(sed -n 's|.*metrics: http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$work/run.err" 2>/dev/null || true)
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || fail "the app ended early: $(tail -n 5 "$work/run.err")"
	sleep 0.05
done
[ -n "$port" ] || fail "no metrics line in the app's log: $(tail -n 5 "$work/run.err")"

# Two scrapes half a second apart, once every worker has been acked (or give up).
/usr/bin/python3 - "$port" "$work" <<'PY' || fail "scrapes"
import re, sys, time, urllib.request
port, work = sys.argv[1], sys.argv[2]
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')

def scrape():
    with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=10) as r:
        assert r.status == 200, r.status
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
        text = r.read().decode()
    samples, types, helps = {}, {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            _, _, name, words = line.split(" ", 3)
            helps[name] = words
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in types, "family %s twice" % name
            assert name in helps, "no HELP for %s" % name
            # A HELP the renderer made up from the key: a new stats key without its words.
            assert not helps[name].startswith("stats line field"), (name, helps[name])
            types[name] = kind
            continue
        m = SAMPLE.match(line)
        assert m, "malformed: %r" % line
        base = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
        assert m.group(1) in types or types.get(base) == "histogram", \
            "sample before its TYPE: %r" % line
        labels = tuple(LABEL.findall(m.group(3) or ""))
        samples[(m.group(1), labels)] = float(m.group(4))
    return text, samples, types

def workers_up(samples):
    return {dict(l)["id"] for (n, l), v in samples.items()
            if n == "ainftp_worker_state" and dict(l).get("state") == "up"}

deadline = time.time() + 20
while True:
    text, first, types = scrape()
    if workers_up(first) == {"0", "1", "2", "3"} or time.time() > deadline:
        break
    time.sleep(0.1)
time.sleep(0.5)
text2, second, _ = scrape()
open(work + "/scrape.txt", "w").write(text2)
bad = []
if workers_up(second) != {"0", "1", "2", "3"}:
    bad.append("workers up: %s" % sorted(workers_up(second)))
rtts = {dict(l)["id"]: v for (n, l), v in second.items() if n == "ainftp_worker_rtt_seconds"}
if len(rtts) != 4 or not all(0 < v < 1 for v in rtts.values()):
    bad.append("rtt_seconds: %s" % rtts)
for key, v in first.items():
    if types.get(key[0]) == "counter" and second.get(key, 0) < v:
        bad.append("counter %s went down: %s -> %s" % (key, v, second.get(key)))
acks = [v for (n, l), v in second.items() if n == "ainftp_port_heartbeat_acks_total"]
if not acks or acks[0] <= 0:
    bad.append("no heartbeat acks counted")
if types.get("ainftp_port_rx_packets_total") != "counter":
    bad.append("rx_packets is not a counter")
if not any(n == "ainftp_port_drops_total" and dict(l).get("reason") == "duplicate"
           for (n, l) in second):
    bad.append("no duplicate drops on the page")
# The chunk latency histogram: buckets cumulative in le, +Inf the count, chunks counted.
H = "ainftp_job_chunk_latency_seconds"
buckets = sorted((float(dict(l)["le"]), v) for (n, l), v in second.items() if n == H + "_bucket")
count = [v for (n, l), v in second.items() if n == H + "_count"]
if types.get(H) != "histogram" or len(buckets) != 25 or len(count) != 1:
    bad.append("histogram: %s, %d buckets, count %s" % (types.get(H), len(buckets), count))
elif (any(a[1] > b[1] for a, b in zip(buckets, buckets[1:])) or count[0] <= 0
      or buckets[-1] != (float("inf"), count[0])):
    bad.append("histogram not cumulative or empty: %s, count %s" % (buckets, count))
if bad:
    sys.exit("; ".join(bad))
print("ok   two scrapes: %d samples, %d families, 4 workers up, rtt %s us, %d chunks timed" % (
    len(second), len(types), sorted(round(v * 1e6) for v in rtts.values()), count[0]))
PY

# Prometheus' own linter on the live page: any problem it names fails the test.
promtool check metrics <"$work/scrape.txt" >"$work/promtool.out" 2>&1 ||
	fail "promtool check metrics: exit $?: $(head -n 20 "$work/promtool.out")"
[ ! -s "$work/promtool.out" ] || fail "promtool check metrics: $(head -n 20 "$work/promtool.out")"
echo "ok   promtool check metrics: no problem on the live page"

# The dashboard: JSON, every panel with a query, every metric it names on the live page.
/usr/bin/python3 - "$src/contrib/grafana/ainftp.json" "$work/scrape.txt" \
	"$work/dashboard-rules.yml" <<'PY' ||
import json, re, sys
dash = json.load(open(sys.argv[1]))
page = open(sys.argv[2]).read()
types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", page, re.M))
exprs = []
for p in dash["panels"]:
    if p.get("type") == "row":
        continue
    assert p.get("targets") and all(t.get("expr") for t in p["targets"]), p.get("title")
    exprs += [t["expr"] for t in p["targets"]]
# Its variables' queries are Grafana's (label_values(...)): their metrics count, not their syntax.
variables = [v["query"]["query"] if isinstance(v.get("query"), dict) else v.get("query", "")
             for v in dash.get("templating", {}).get("list", []) if v.get("type") == "query"]
# Metric names only: not the label names of by (...) clauses or {...} matchers.
text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)|\{[^}]*\}", " ",
              " ".join(exprs + variables))
names = set(re.findall(r"\bainftp_[a-z0-9_]+", text))
missing = sorted(n for n in names if n not in types and
                 types.get(re.sub(r"_(bucket|sum|count)$", "", n)) != "histogram")
assert names and not missing, "not on the live page: %s" % missing
# Every query as a recording rule (JSON is YAML), Grafana's variables given values, for
# promtool to parse as PromQL.
rules = [{"record": "ainftp:dashboard_%d" % i,
          "expr": e.replace("$__rate_interval", "1m").replace("$instance", ".*")}
         for i, e in enumerate(exprs)]
json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[3], "w"))
print("ok   dashboard: %d panels, %d metric names, all on the live page" % (
    len([p for p in dash["panels"] if p.get("type") != "row"]), len(names)))
PY
	fail "dashboard"
promtool check rules "$work/dashboard-rules.yml" >"$work/rules.out" 2>&1 ||
	fail "the dashboard's queries are not PromQL: $(head -n 20 "$work/rules.out")"
echo "ok   the dashboard's queries parse (promtool check rules)"

wait "$pid" || fail "the app's exit status $?: $(tail -n 5 "$work/run.err")"
pid=
# The final line counts at least what the last scrape saw.
/usr/bin/python3 - "$work/run.out" "$work/scrape.txt" <<'PY' || fail "final line vs scrape"
import json, re, sys
final = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{") and '"final":true' in l][0]
text = open(sys.argv[2]).read()
m = re.search(r'^ainftp_port_rx_packets_total\{[^}]*\} (\S+)$', text, re.M)
assert m and final["ports"][0]["rx_pkts"] >= float(m.group(1)) > 0, (m and m.group(1))
print("ok   final rx_pkts %d >= scraped %s" % (final["ports"][0]["rx_pkts"], m.group(1)))
# Once the lcores have stopped, every chunk done is in the histogram, once.
timed = sum(j["chunk_latency"]["count"] for j in final["jobs"])
done = sum(p["chunks_done"] for p in final["ports"])
counts = sum(sum(j["chunk_latency"]["counts"]) for j in final["jobs"])
assert timed == done > 0 and timed == counts, (timed, done, counts)
print("ok   final chunk_latency count %d == chunks_done" % timed)
PY

# Mistakes: a port that is not one (exit 2, before EAL), and one already taken (exit 1).
rc=0
"$app" "${eal[@]}" --file-prefix "$prefix-bad" -- -c "$cfg" --metrics 127.0.0.1:65536 \
	>/dev/null 2>"$work/bad.err" || rc=$?
[ "$rc" = 2 ] || fail "--metrics 127.0.0.1:65536: exit $rc, want 2"
grep -q -- '--metrics: "127.0.0.1:65536": the port is not a whole number in 0..65535' "$work/bad.err" ||
	fail "--metrics 127.0.0.1:65536: $(cat "$work/bad.err")"
echo "ok   bad --metrics: $(cat "$work/bad.err")"

/usr/bin/python3 -c '
import socket, subprocess, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
cmd = sys.argv[1:] + ["--metrics", "127.0.0.1:%d" % s.getsockname()[1]]
r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
err = r.stderr.decode()
assert r.returncode == 1 and "metrics: cannot listen on 127.0.0.1:" in err, (r.returncode, err)
print("ok   port taken: exit 1:", [l for l in err.splitlines() if "metrics" in l][0])
' "$app" "${eal[@]}" --file-prefix "$prefix-taken" -- -c "$cfg" --stats-interval 0 ||
	fail "port taken"
echo "metrics: ok"
