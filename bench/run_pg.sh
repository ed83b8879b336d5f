#!/usr/bin/env bash
# run_pg.sh - resolution throughput of idnode on LMDB (`serve --data`) against
# the same node on PostgreSQL (`serve --store postgresql://`, a private
# cluster from scripts/pg.sh), same N identifiers, same client (bench/hdlblast)
# and settings; then where the time goes on the PostgreSQL side:
#
#   - CPU seconds per answer of idnode, of the PostgreSQL server processes
#     (every process of the private cluster, from /proc) and of the client,
#     measured over the run: the split says whether the node or the database
#     is the limit;
#   - with perf (PERF=1, the default when `perf` works): a sampled profile of
#     the idnode process by shared object (idnode itself, libpq, libc, the
#     kernel: socket round trips to PostgreSQL show up as kernel + libpq).
#
#   bench/run_pg.sh [BUILD_DIR [N [SECONDS]]]
#
# Environment (defaults in brackets):
#   N [1000000]  DUR [20] seconds per client run  THREADS [2] server threads
#   MODE [udp]   hdlblast mode; ARGS ["-k 16 -w 8 -b 32"] its options
#   WORK [/tmp/idn-bench-pg]  PORT [26420]  PREFIX [88.100.1]  PERF [auto]
#   SERVER_CPUS / CLIENT_CPU [unset]: taskset lists for the servers (idnode and
#   PostgreSQL) and the client; unset = no pinning
#
# Every client run is bounded (timeout); the cluster and the servers this
# script started are stopped on exit. Results on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${1:-${BUILD:-$repo/build}}
N=${2:-${N:-1000000}}
DUR=${3:-${DUR:-20}}
THREADS=${THREADS:-2}
MODE=${MODE:-udp}
ARGS=${ARGS:-"-k 16 -w 8 -b 32"}
WORK=${WORK:-/tmp/idn-bench-pg}
PORT=${PORT:-26420}
PREFIX=${PREFIX:-88.100.1}
SERVER_CPUS=${SERVER_CPUS:-}
CLIENT_CPU=${CLIENT_CPU:-}

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD" >&2; exit 2; }
IDNODE=$BUILD/idnode
HDLBLAST=$BUILD/bench/hdlblast
GENDATA=$BUILD/bench/gendata
[ -x "$IDNODE" ] && [ -x "$HDLBLAST" ] && [ -x "$GENDATA" ] ||
	cmake --build "$BUILD" --target idnode hdlblast gendata -j2 >/dev/null
if [ -z "${PERF:-}" ]; then
	PERF=0
	command -v perf >/dev/null && perf stat -e task-clock true >/dev/null 2>&1 && PERF=1
fi
CLK_TCK=$(getconf CLK_TCK)
# taskset execs the server, so $! is the server's pid
pin=()
[ -z "$SERVER_CPUS" ] || pin=(taskset -c "$SERVER_CPUS")

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
pgdir=$WORK/pg
pid=
cleanup() {
	[ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; }
	"$repo/scripts/pg.sh" stop "$pgdir" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { printf '%s\n' "$*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }

# The cluster's processes: the postmaster (first line of postmaster.pid) and its children.
pg_ticks() {
	local pm t=0 p
	pm=$(head -1 "$pgdir/data/postmaster.pid")
	for p in $pm $(pgrep -P "$pm" || true); do
		[ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$t"
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }

log "== run_pg: N=$N DUR=${DUR}s THREADS=$THREADS MODE=$MODE ARGS='$ARGS' PERF=$PERF"
rm -rf "$WORK/data" "$pgdir"
"$GENDATA" -n "$N" -p "$PREFIX" -o "$WORK/ids.jsonl" -q "$WORK/queries.txt" \
	-Q $((N < 1000000 ? N : 1000000)) >/dev/null
uri=$("$repo/scripts/pg.sh" start "$pgdir" 2>/dev/null)
[ -n "$SERVER_CPUS" ] && taskset -a -p -c "$SERVER_CPUS" "$(head -1 "$pgdir/data/postmaster.pid")" >/dev/null

t0=$(now)
"$IDNODE" load --data "$WORK/data" -H "$PREFIX" -q "$WORK/ids.jsonl" >&2
t1=$(now)
"$IDNODE" load --store "$uri" -H "$PREFIX" -q "$WORK/ids.jsonl" >&2
t2=$(now)
log "   load: LMDB $(secs "$t0" "$t1") s, PostgreSQL $(secs "$t1" "$t2") s"

# run LABEL STORE-ARGS...: starts idnode on the store, runs the client, prints a summary line
run() {
	local label=$1 out res c0 c1 p0 p1 t0 t1 perfpid=
	shift
	# One source sends every request: a limit per source network high enough for them all.
	"${pin[@]}" "$IDNODE" serve "$@" --listen "127.0.0.1:$PORT" --home "$PREFIX" \
		--threads "$THREADS" --udp-rate-limit 100000000 >"$WORK/serve-$label.log" 2>&1 </dev/null &
	pid=$!
	local first
	first=$(head -1 "$WORK/queries.txt")
	for i in $(seq 100); do
		"$IDNODE" resolve "$first" --server "127.0.0.1:$PORT" >/dev/null 2>&1 && break
		kill -0 "$pid" 2>/dev/null || { log "idnode exited:"; cat "$WORK/serve-$label.log" >&2; exit 1; }
		[ "$i" = 100 ] && { log "idnode does not answer"; exit 1; }
		sleep 0.1
	done
	if [ "$PERF" = 1 ] && [ "$label" = pg ]; then
		perf record -q -F 499 -g -p "$pid" -o "$WORK/perf-$label.data" -- sleep "$DUR" \
			>/dev/null 2>&1 &
		perfpid=$!
	fi
	c0=$(ticks "$pid")
	p0=$(pg_ticks)
	t0=$(now)
	local client=("$HDLBLAST")
	[ -n "$CLIENT_CPU" ] && client=(taskset -c "$CLIENT_CPU" "$HDLBLAST")
	# shellcheck disable=SC2086
	out=$(timeout $((DUR + 60)) "${client[@]}" -m "$MODE" -p "$PORT" -f "$WORK/queries.txt" \
		-l "$DUR" $ARGS 2>&1) || true
	t1=$(now)
	c1=$(ticks "$pid")
	p1=$(pg_ticks)
	[ -z "$perfpid" ] || wait "$perfpid" || true
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
	res=$(grep '^RESULT' <<<"$out" || true)
	[ -n "$res" ] || { log "$label: no result:"; log "$out"; exit 1; }
	local qps answers
	qps=$(field qps "$res")
	answers=$(awk -v q="$qps" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", q*(b-a)}')
	awk -v l="$label" -v q="$qps" -v n="$answers" -v c="$((c1 - c0))" -v p="$((p1 - p0))" \
		-v hz="$CLK_TCK" -v ok="$(field ok "$res")" -v nf="$(field notfound "$res")" \
		-v err="$(field errors "$res")" -v p99="$(field p99_us "$res")" \
		-v cc="$(field client_cpu_pct "$res")" 'BEGIN{
		us = n > 0 ? 1e6 / hz / n : 0
		printf "%-6s %10.0f answers/s  p99 %6s us  ok=%s notfound=%s errors=%s | CPU per answer: idnode %.1f us, postgres %.1f us | client cpu %s%%\n",
			l, q, p99, ok, nf, err, c * us, p * us, cc }' | tee "$WORK/result-$label"
}

echo "resolution, $N identifiers, $DUR s, $MODE ($ARGS), $THREADS server threads"
run lmdb --data "$WORK/data"
run pg --store "$uri"
awk -v a="$(awk '{print $2}' "$WORK/result-lmdb")" -v b="$(awk '{print $2}' "$WORK/result-pg")" \
	'BEGIN{if (b > 0) printf "LMDB / PostgreSQL: %.2f\n", a / b}'
if [ "$PERF" = 1 ] && [ -s "$WORK/perf-pg.data" ]; then
	echo "idnode on PostgreSQL, samples by shared object (perf; kernel = syscalls, mostly socket I/O to clients and to PostgreSQL):"
	perf report -i "$WORK/perf-pg.data" --stdio --no-children --sort dso 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -8
	echo "top symbols:"
	perf report -i "$WORK/perf-pg.data" --stdio --no-children --sort dso,sym -g none 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -12
fi
