#!/usr/bin/env bash
# run_http_instructions.sh - user-space instructions per GET /api/handles/{random}
# of one or more idnode builds, counted by valgrind's callgrind: a count, not a
# time, so it shows what a change costs on the REST path where requests/s on a
# shared machine cannot tell it from noise (run_instructions.sh is the same for
# UDP and TCP).
#
#   bench/run_http_instructions.sh DATA_DIR QUERIES BUILD_DIR [BUILD_DIR...]
#
# DATA_DIR and QUERIES as run_http.sh leaves them ($WORK/$PROFILE-n$N/data and
# queries.txt). Each build serves DATA_DIR under callgrind, one worker thread;
# wrk (keep-alive, CONNS connections, http_random.lua) runs SHORT and then LONG
# seconds against two server runs. Instructions per request =
# (Ir(LONG) - Ir(SHORT)) / (requests(LONG) - requests(SHORT)), counted inside
# the event loops only (the requests' whole path; not start-up, not the
# statistics' threads). The kernel's share (syscalls) is not counted. With
# KEEP=DIR the LONG run's callgrind file is kept there (callgrind_annotate it).
#
# Environment (defaults in brackets): CONNS [8] SHORT [3] LONG [13]
# PREFIX [88.100.1] KEEP []
set -euo pipefail

[ $# -ge 3 ] || { sed -n '2,18p' "$0" >&2; exit 2; }
for c in valgrind wrk curl; do
	command -v $c >/dev/null || { echo "missing $c" >&2; exit 2; }
done
here=$(cd "$(dirname "$0")" && pwd)
DATA=$(cd "$1" && pwd) Q=$2
shift 2
CONNS=${CONNS:-8}
SHORT=${SHORT:-3}
LONG=${LONG:-13}
PREFIX=${PREFIX:-88.100.1}
KEEP=${KEEP:-}
[ -f "$Q" ] || { echo "no query file $Q" >&2; exit 2; }
tmp=$(mktemp -d /tmp/idn-http-instr.XXXXXX)
vpid=
cleanup() {
	[ -n "$vpid" ] && kill "$vpid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# run BUILD SECONDS TAG -> "requests instructions"
run() {
	local build=$1 secs=$2 tag=$3 port=$((30000 + RANDOM % 20000)) out reqs
	rm -f "$tmp"/cg.*
	# Counted inside the event loops only (net_loop_run): start-up (which reads
	# /proc/net/tcp, as long as the machine has sockets) and the statistics'
	# threads, whose work goes by time, not by requests, stay out.
	valgrind --tool=callgrind --toggle-collect=net_loop_run --callgrind-out-file="$tmp/cg.%p" \
		"$build/idnode" serve \
		--data "$DATA" --listen "127.0.0.1:$((port + 1))" --http "127.0.0.1:$port" \
		--home "$PREFIX" --threads 1 >"$tmp/server.log" 2>&1 &
	vpid=$!
	# ready when it answers (callgrind starts slowly, the more on a loaded machine); bounded
	local ready=0
	for _ in $(seq 120); do
		curl -sf -m 5 "http://127.0.0.1:$port/api/handles/$(head -1 "$Q")" >/dev/null && ready=1 && break
		sleep 1
	done
	[ "$ready" = 1 ] || { echo "$tag: the node did not answer within 120 tries" >&2; exit 1; }
	out=$(timeout $((secs + 30)) wrk -t1 -c"$CONNS" -d "${secs}s" -s "$here/http_random.lua" \
		"http://127.0.0.1:$port" -- "$Q")
	reqs=$(awk '/requests in/ {print $1}' <<<"$out")
	grep -q 'Non-2xx\|Socket errors' <<<"$out" && echo "$tag: $(grep 'Non-2xx\|Socket errors' <<<"$out")" >&2
	kill -INT "$vpid"
	wait "$vpid" || true
	vpid=
	[ -n "$KEEP" ] && mkdir -p "$KEEP" && cp "$tmp"/cg.* "$KEEP/callgrind.$tag" 2>/dev/null
	echo "$reqs $(grep -h '^summary:\|^totals:' "$tmp"/cg.* | head -1 | awk '{print $2}')"
}

printf '%-40s %10s %14s %12s\n' build requests instructions "per request"
i=0
for b in "$@"; do
	build=$(cd "$b" && pwd)
	i=$((i + 1))
	read -r a1 i1 < <(run "$build" "$SHORT" "$i-short")
	read -r a2 i2 < <(run "$build" "$LONG" "$i-long")
	per=$(awk -v a1="$a1" -v a2="$a2" -v i1="$i1" -v i2="$i2" \
		'BEGIN{ if (a2 > a1) printf "%.0f", (i2 - i1) / (a2 - a1); else print "n/a" }')
	printf '%-40s %10s %14s %12s\n' "$build" "$((a2 - a1))" "$((i2 - i1))" "$per"
done
