#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The Wireshark dissector (contrib/wireshark/ainftp.lua) under tshark:
#  1. ainftp-pcap-gen's capture (every message type, v1 and v2, every encoding,
#     with and without tags, broken ones) decodes to the fields the generator
#     expects, frame by frame and field by field;
#  2. the Info column, and the preferences moving the ports.
# Usage: test_dissector.sh PCAP_GEN LUA. Exit 77 (skipped) without tshark;
# scripts/deps.sh installs it.
set -euo pipefail

gen=$1
lua=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

command -v tshark >/dev/null || {
	echo "SKIP: no tshark (scripts/deps.sh installs it)"
	exit 77
}
# No user's preferences or plugins: an ainftp.base_port of theirs would move the ports.
export WIRESHARK_CONFIG_DIR=$work/config
mkdir "$work/config"

# tshark FILE [OPTIONS...]: the capture through the dissector. tshark says on stderr
# that it runs as root (Wireshark 4.0's init.lua still runs Lua scripts for root);
# Lua errors go there too, so it is kept for a failure's message.
ts() {
	local f=$1
	shift
	tshark -r "$f" -X "lua_script:$lua" "$@" 2>"$work/tshark.err" ||
		fail "tshark $*: $(cat "$work/tshark.err")"
	! grep -qi "lua.*error\|error.*lua" "$work/tshark.err" || fail "Lua: $(cat "$work/tshark.err")"
}

# --- 1. every field of every frame ----------------------------------------------

"$gen" "$work/cap.pcap" >"$work/expected.tsv" || fail "ainftp-pcap-gen"
mapfile -t fields < <(head -1 "$work/expected.tsv" | tr '\t' '\n')
args=()
for fl in "${fields[@]}"; do args+=(-e "$fl"); done
ts "$work/cap.pcap" -T fields -E separator=/t "${args[@]}" >"$work/got.tsv"
tail -n +2 "$work/expected.tsv" >"$work/want.tsv"

awk -F '\t' -v hdr="$(head -1 "$work/expected.tsv")" '
	BEGIN { n = split(hdr, name, "\t"); bad = 0 }
	NR == FNR { want[FNR] = $0; rows = FNR; next }
	{
		got[FNR] = $0; grows = FNR
	}
	END {
		if (grows != rows) {
			printf "FAIL: %d frames decoded, %d expected\n", grows, rows
			exit 1
		}
		for (i = 1; i <= rows; i++) {
			split(want[i], w, "\t")
			split(got[i], g, "\t")
			for (c = 1; c <= n; c++)
				if (w[c] != g[c]) {
					printf "FAIL: frame %d, %s: expected \"%s\", got \"%s\"\n", i, name[c], w[c], g[c]
					bad++
				}
		}
		exit bad > 0
	}' "$work/want.tsv" "$work/got.tsv" >&2 || fail "decoded fields differ (above)"
echo "ok: $(wc -l <"$work/want.tsv") frames x ${#fields[@]} fields as expected"

# --- 2. the Info column and the preferences --------------------------------------

ts "$work/cap.pcap" -Y "frame.number == 1" -T fields -e _ws.col.Info >"$work/info"
[ "$(cat "$work/info")" = "DATA job=1 w=0 step=3 chunk=17 slot=17" ] ||
	fail "frame 1's Info column: \"$(cat "$work/info")\""
# Frame 25 is not ainftp, on UDP port 50001: the heuristic leaves it, but with the
# base port moved there the port table hands it over (an unknown version 0x45).
ts "$work/cap.pcap" -o ainftp.base_port:50001 -o ainftp.lanes:1 -Y "frame.number == 25" \
	-T fields -e ainftp.version -e ainftp.expert.version >"$work/pref"
[ "$(cat "$work/pref")" = "$(printf '69\t1')" ] ||
	fail "base_port 50001: frame 25 decoded as \"$(cat "$work/pref")\", not version 69 flagged unknown"
# With the heuristic ("ainftp_udp") off, only that port is ainftp any more.
ts "$work/cap.pcap" -o ainftp.base_port:50001 -o ainftp.lanes:1 --disable-heuristic ainftp_udp \
	-Y ainftp -T fields -e frame.number >"$work/pref"
[ "$(cat "$work/pref")" = 25 ] ||
	fail "base_port 50001, no heuristic: frames $(tr '\n' ' ' <"$work/pref")decoded as ainftp, not frame 25 alone"
echo "ok: Info column and port preferences"
