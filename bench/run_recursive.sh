#!/usr/bin/env bash
# run_recursive.sh - the recursive node against an authoritative node, in one
# run, with the same client (bench/hdlblast) and CPU pinning:
#   auth     UDP throughput of the enterprise node itself (closed loop)
#   cached   UDP throughput of a recursive node answering from its cache
#            (REC set; a warm-up pass first fills the cache)
#   cold     latency of resolutions through root -> secondary -> enterprise:
#            a fresh recursive node, open loop at COLD_RATE/s over identifiers
#            it has not seen (queries are drawn from N, so a few repeat late
#            in the run; see `hits=` in the statistics line)
#
#   bench/run_recursive.sh [BUILD_DIR [N [SECONDS]]]
#
# Environment: BUILD [./build] N [100000] DUR [10] COLD_RATE [2000]
#   WORK [/tmp/idn-bench-rec] CLIENT_CPU [0] SERVER_CPU [1] BASE_PORT [26641]
#   UDP_ARGS ["-k 16 -w 8 -b 32"]
#   PROFILE [minimal]  the enterprise node's records (bench/gendata --profile
#   minimal|template|mixed); any but minimal lets UDP answers up to 4096
#   bytes through (--udp-answer-max 4096 --udp-amplification 100 on the
#   enterprise and the recursive node), as run_resolve.sh does
# Every client run is bounded; servers are stopped on exit (trap).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${1:-${BUILD:-$repo/build}}
N=${2:-${N:-100000}}
DUR=${3:-${DUR:-10}}
COLD_RATE=${COLD_RATE:-2000}
WORK=${WORK:-/tmp/idn-bench-rec}
CLIENT_CPU=${CLIENT_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
BASE_PORT=${BASE_PORT:-26641}
UDP_ARGS=${UDP_ARGS:-"-k 16 -w 8 -b 32"}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD" >&2; exit 2; }
IDN=$BUILD/idnode
BLAST=$BUILD/bench/hdlblast

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
. "$here/hier.sh"
hier_gendata
hier_load
hier_start "${big[@]}"
# The client asks from one loopback address, far over the recursive node's
# default UDP rate limit per source (200/s: every other answer would be an
# error or a slip); a high limit keeps its cost on every request, as
# run_resolve.sh does for the authoritative node.
recursive() {
	serve "$1" --recursive --root 127.0.0.1:$root_port --listen 127.0.0.1:$rec_port \
		--cache-mb 1024 --udp-rate-limit 100000000 "${big[@]}"
	rec_pid=$!
}
recursive rec.log
first=$(head -n1 queries.txt)
for _ in $(seq 1 100); do
	"$IDN" resolve "$first" --server 127.0.0.1:$rec_port >/dev/null 2>&1 && break
	sleep 0.1
done

blast() { # blast PORT ARGS...
	local port=$1
	shift
	timeout $((DUR * 3 + 30)) taskset -c "$CLIENT_CPU" "$BLAST" -m udp -p "$port" \
		-f queries.txt -l "$DUR" -q "$@" | tail -n1
}
stats() { rec_stats "$@"; }

echo "N=$N DUR=$DUR s, server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU"
auth=$(blast $ent_port $UDP_ARGS)
echo "auth    $auth"
# Warm-up: passes until (almost) every query is cached - the upstream count
# stops growing - so the measured pass is answered from the cache.
prev=-1
for _ in $(seq 1 20); do
	blast $rec_port $UDP_ARGS -F 0x10000000 >/dev/null
	up=$(stats rec.log | sed -n 's/.* upstream=\([0-9]*\).*/\1/p')
	[ "$up" -le $((prev + prev / 200)) ] && break
	prev=$up
done
cached=$(blast $rec_port $UDP_ARGS -F 0x10000000)
echo "cached  $cached"
echo "        $(stats rec.log)"
qa=$(sed -n 's/.* qps=\([0-9.]*\).*/\1/p' <<<"$auth")
qc=$(sed -n 's/.* qps=\([0-9.]*\).*/\1/p' <<<"$cached")
awk -v a="$qa" -v c="$qc" 'BEGIN { printf "cached/auth throughput: %.2fx (goal >= 0.9x)\n", c / a }'

# Cold: a fresh recursive node (empty cache), paced below its miss capacity.
kill "$rec_pid"
wait "$rec_pid" 2>/dev/null || true
recursive rec-cold.log
sleep 0.5
cold=$(blast $rec_port -r "$COLD_RATE" -t 1 -k 4 -T 1000 -F 0x10000000)
echo "cold    $cold"
echo "        $(stats rec-cold.log)"
echo "cold p99: $(sed -n 's/.* p99_us=\([0-9.]*\).*/\1/p' <<<"$cold") us (goal <= 2000)"
