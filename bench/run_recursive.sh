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
IDN=$BUILD/idnode
BLAST=$BUILD/bench/hdlblast

root_port=$BASE_PORT sec_port=$((BASE_PORT + 1)) ent_port=$((BASE_PORT + 2))
rec_port=$((BASE_PORT + 3))
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

site() { # site PORT [INDEX TYPE]
	"$IDN" siteinfo --json --listen "127.0.0.1:$1" --index "${2:-1}" --type "${3:-HS_SITE}"
}

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
"$BUILD/bench/gendata" -n "$N" -p 88.100.1 -o ent.jsonl -q queries.txt >/dev/null
printf '{"handle":"0.NA/88.100","values":[%s,%s]}\n' "$(site $sec_port)" \
	"$(site $sec_port 2 HS_SITE.PREFIX)" >root.jsonl
printf '{"handle":"0.NA/88.100.1","values":[%s]}\n' "$(site $ent_port)" >sec.jsonl
"$IDN" load --data root -q root.jsonl
"$IDN" load --data sec -q sec.jsonl
"$IDN" load --data ent -q ent.jsonl

serve() { # serve LOG ARGS...
	local log=$1
	shift
	taskset -c "$SERVER_CPU" "$IDN" serve --threads 1 "$@" 2>"$log" &
	pids+=($!)
}
serve root.log --data root --home 88 --home 0.NA --listen 127.0.0.1:$root_port
serve sec.log --data sec --home 88.100 --home 0.NA --listen 127.0.0.1:$sec_port
serve ent.log --data ent --home 88.100.1 --listen 127.0.0.1:$ent_port
recursive() {
	serve "$1" --recursive --root 127.0.0.1:$root_port --listen 127.0.0.1:$rec_port \
		--cache-mb 1024
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
stats() {
	kill -USR1 "$rec_pid"
	sleep 0.3
	grep 'resolver:' "$1" | tail -n1 | sed 's/^idnode: //'
}

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
