#!/usr/bin/env bash
# run_gateway.sh - the public gateway (HTTP on a recursive node without a
# store) against the enterprise node's own HTTP, in one run, with the same
# load generator (wrk, keep-alive) and CPU pinning (servers on SERVER_CPU,
# wrk on CLIENT_CPU):
#   auth     GET /api/handles/{random} on the enterprise node (the authority)
#   cached   the same on the gateway, every answer from its cache (filled
#            first with POST /api/resolve batches of every identifier)
#   cold     a fresh gateway, each identifier asked once (gateway_walk.lua),
#            resolved root -> secondary -> enterprise: latency percentiles
#
#   bench/run_gateway.sh [BUILD_DIR [N [SECONDS]]]
#
# Environment: BUILD [./build] N [100000] DUR [10] WRK_ARGS ["-t1 -c64"]
#   COLD_ARGS ["-t1 -c8"] COLD_DUR [3] WORK [/tmp/idn-bench-gw]
#   CLIENT_CPU [0] SERVER_CPU [1] BASE_PORT [28641]
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
WRK_ARGS=${WRK_ARGS:-"-t1 -c64"}
COLD_ARGS=${COLD_ARGS:-"-t1 -c8"}
COLD_DUR=${COLD_DUR:-3}
WORK=${WORK:-/tmp/idn-bench-gw}
CLIENT_CPU=${CLIENT_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
BASE_PORT=${BASE_PORT:-28641}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD" >&2; exit 2; }
IDN=$BUILD/idnode
BLAST=$BUILD/bench/hdlblast
for c in wrk taskset curl; do
	command -v $c >/dev/null || { echo "missing $c: ../shared/bench/anchors.sh setup" >&2; exit 2; }
done

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
. "$here/hier.sh"
ent_http=$((BASE_PORT + 4)) gw_http=$((BASE_PORT + 5))
hier_gendata
hier_load
hier_start --http 127.0.0.1:$ent_http "${big[@]}"
gateway() { # gateway LOG
	serve "$1" --recursive --root 127.0.0.1:$root_port --listen 127.0.0.1:$rec_port \
		--http 127.0.0.1:$gw_http --cache-mb 1024 "${big[@]}"
	rec_pid=$!
}
gateway gw.log
first=$(head -n1 queries.txt)
for port in $ent_http $gw_http; do
	for _ in $(seq 1 100); do
		curl -sf "http://127.0.0.1:$port/api/handles/$first" >/dev/null && break
		sleep 0.1
	done
done

wrk_run() { # wrk_run PORT SECONDS SCRIPT QUERIES ARGS... -> "req/s p50 p99"
	local port=$1 secs=$2 script=$3 queries=$4
	shift 4
	local out
	out=$(timeout $((secs + 30)) taskset -c "$CLIENT_CPU" wrk "$@" -d "${secs}s" --latency \
		-s "$here/$script" "http://127.0.0.1:$port" -- "$WORK/$queries")
	if grep -q 'Non-2xx' <<<"$out"; then
		echo "wrk on port $port: answers other than 2xx:" >&2
		grep -E 'Non-2xx|Socket errors' <<<"$out" >&2
	fi
	printf '%s %s %s\n' "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")" \
		"$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")"
}

echo "N=$N DUR=$DUR s, wrk $WRK_ARGS, server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU"
# Fill the gateway's cache through HTTP itself: every identifier once, in
# POST /api/resolve batches of 1000.
sort -u queries.txt | shuf >distinct.txt
split -l 1000 distinct.txt fill.
for f in fill.*; do
	python3 -c 'import json,sys; print(json.dumps({"handles": sys.stdin.read().split()}))' \
		<"$f" >"$f.json"
	curl -sf -m 120 -H 'Content-Type: application/json' --data-binary "@$f.json" \
		"http://127.0.0.1:$gw_http/api/resolve" -o /dev/null
done
echo "filled   $(rec_stats gw.log)"
read -r auth a50 a99 <<<"$(wrk_run $ent_http "$DUR" http_random.lua queries.txt $WRK_ARGS)"
echo "auth     GET /api/handles/{random} on the enterprise node: $auth req/s p50 $a50 p99 $a99"
read -r cached c50 c99 <<<"$(wrk_run $gw_http "$DUR" http_random.lua queries.txt $WRK_ARGS)"
echo "cached   the same on the gateway, from its cache:         $cached req/s p50 $c50 p99 $c99"
echo "         $(rec_stats gw.log)"
awk -v a="$auth" -v c="$cached" \
	'BEGIN { printf "ratio gateway cached / authoritative: %.2fx (goal >= 0.9x)\n", c / a }'

# Cold: a fresh gateway, each identifier asked once through the three levels
# (distinct identifiers in random order; the run stops before the walk wraps
# when COLD_DUR x rate < N: compare misses= with the requests).
kill "$rec_pid"
wait "$rec_pid" 2>/dev/null || true
gateway gw-cold.log
for _ in $(seq 1 100); do
	curl -sf "http://127.0.0.1:$gw_http/api/site" >/dev/null 2>&1 && break
	curl -s -o /dev/null "http://127.0.0.1:$gw_http/" && break
	sleep 0.1
done
read -r cold k50 k99 <<<"$(wrk_run $gw_http "$COLD_DUR" gateway_walk.lua distinct.txt $COLD_ARGS)"
echo "cold     wrk $COLD_ARGS, each identifier once:              $cold req/s p50 $k50 p99 $k99"
echo "         $(rec_stats gw-cold.log)"
