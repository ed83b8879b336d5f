#!/usr/bin/env bash
# run_instructions.sh - user-space instructions per resolution of one or more
# idnode builds, counted by valgrind's callgrind: a count, not a time, so it
# shows what a code change costs on the resolution path even where throughput
# runs cannot tell it from noise. Compare builds in one run on an otherwise
# idle machine: on a loaded one, more requests share a wake-up of the event
# loop and every build's count drops (seen: 7,970 idle, 6,681 beside a CI run).
#
#   bench/run_instructions.sh BUILD_DIR [BUILD_DIR...]
#
# Each build serves the same data (run_resolve.sh's, made with that script's
# gendata and `idnode load` when missing) under callgrind, one worker thread;
# hdlblast sends RATE requests/s, one per datagram, for SHORT and then LONG
# seconds in two server runs. Instructions per answer =
# (Ir(LONG) - Ir(SHORT)) / (answers(LONG) - answers(SHORT)), so start-up and
# shutdown cancel out. The kernel's share (syscalls) is not counted.
#
# Environment (defaults in brackets): N [1000000] identifiers, MODE [udp|tcp: udp]
# RATE [1500] SHORT [2] LONG [12] WORK [/tmp/idn-bench] PREFIX [88.100.1]
# STATS_OFF [0]: 1 runs each build also with --no-stats (the statistics'
# cost: docs/statistics.md), the two alternating
set -euo pipefail

[ $# -ge 1 ] || { sed -n '2,11p' "$0" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
N=${N:-1000000}
MODE=${MODE:-udp}
RATE=${RATE:-1500}
SHORT=${SHORT:-2}
LONG=${LONG:-12}
WORK=${WORK:-/tmp/idn-bench}
PREFIX=${PREFIX:-88.100.1}
ddir=$WORK/idnode
tmp=$(mktemp -d /tmp/idn-instr.XXXXXX)
vpid=
cleanup() {
	[ -n "$vpid" ] && kill "$vpid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

first=$(cd "$1" && pwd)
if [ "$(cat "$ddir/n" 2>/dev/null)" != "$N" ] || [ ! -d "$ddir/data" ]; then
	echo "-- $N identifiers: generate, load (with $first)" >&2
	mkdir -p "$ddir"
	rm -rf "$ddir/data" "$ddir/n"
	"$first/bench/gendata" -n "$N" -p "$PREFIX" -o "$ddir/ids.jsonl" -q "$ddir/queries.txt" \
		-Q 1000000 >/dev/null
	"$first/idnode" load --data "$ddir/data" -H "$PREFIX" "$ddir/ids.jsonl" >&2
	echo "$N" >"$ddir/n"
fi

# run BUILD SECONDS -> "answers instructions"
run() {
	local build=$1 secs=$2 port=$((30000 + RANDOM % 20000)) out answers
	local extra=(${3:-})
	rm -f "$tmp"/cg.*
	# All requests come from one source: a build with a UDP rate limit per
	# source network gets one high enough to answer them all (the limit still
	# runs per packet, so its instructions are counted).
	local limit=()
	if "$build/idnode" serve --help 2>&1 | grep -q -- --udp-rate-limit; then
		limit=(--udp-rate-limit 100000000)
	fi
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" "$build/idnode" serve \
		--data "$ddir/data" --listen "127.0.0.1:$port" --home "$PREFIX" --threads 1 \
		"${limit[@]}" "${extra[@]}" >"$tmp/server.log" 2>&1 &
	vpid=$!
	# ready when it answers (callgrind starts slowly); bounded
	for _ in $(seq 60); do
		if timeout 5 "$build/idnode" resolve "$(head -1 "$ddir/queries.txt")" \
			--server "127.0.0.1:$port" >/dev/null 2>&1; then
			break
		fi
		sleep 1
	done
	out=$(timeout $((secs + 30)) "$build/bench/hdlblast" -m "$MODE" -p "$port" \
		-f "$ddir/queries.txt" -l "$secs" -r "$RATE" -k 4 -w 4 -b 1 2>&1)
	answers=$(grep -o 'ok=[0-9]*' <<<"$out" | head -1 | cut -d= -f2)
	kill -INT "$vpid"
	wait "$vpid" || true
	vpid=
	echo "$answers $(grep -h '^summary:\|^totals:' "$tmp"/cg.* | head -1 | awk '{print $2}')"
}

printf '%-40s %10s %14s %12s\n' build answers instructions "per answer"
variants=("")
[ "${STATS_OFF:-0}" = 1 ] && variants=("" "--no-stats")
for b in "$@"; do
	build=$(cd "$b" && pwd)
	for v in "${variants[@]}"; do
		read -r a1 i1 < <(run "$build" "$SHORT" "$v")
		read -r a2 i2 < <(run "$build" "$LONG" "$v")
		per=$(awk -v a1="$a1" -v a2="$a2" -v i1="$i1" -v i2="$i2" \
			'BEGIN{ if (a2 > a1) printf "%.0f", (i2 - i1) / (a2 - a1); else print "n/a" }')
		printf '%-40s %10s %14s %12s\n' "$build ($MODE${v:+ $v})" "$((a2 - a1))" \
			"$((i2 - i1))" "$per"
	done
done
