#!/usr/bin/env bash
# run_http.sh - REST resolution throughput of idnode against nginx returning a
# fixed JSON body of the same size (the HTTP ceiling: no lookup at all), in
# one run, same load generator (wrk, keep-alive), same pinning: server on
# SERVER_CPU, wrk on CLIENT_CPU. Then batch resolution (POST /api/resolve,
# BATCH identifiers per request): identifiers per second.
#
#   bench/run_http.sh [BUILD_DIR [N [SECONDS]]]
#
# Environment (defaults in brackets):
#   PROFILE [minimal]  the records (bench/gendata --profile): minimal, template
#                  or mixed
#   BUILD [./build]  N [1000000]  DUR [20] seconds per wrk run  REPEAT [1]
#   WRK_ARGS ["-t1 -c64"] (the anchors' nginx setting)  BATCH [1000]
#   BATCH_ARGS ["-t1 -c4"]  WORK [/tmp/idn-bench-http]  SHARED [<repo>/../shared]
#   CLIENT_CPU [0]  SERVER_CPU [1]  NGINX_PORT [8300]  IDN_PORT [8301]
#   PREFIX [88.100.1]  WARM [5] seconds of unmeasured load on each server first (0: none)
#   STRACE [0]  seconds: after the runs, each server under wrk that long with
#                  strace -c -f attached: its syscalls per request (0: skip)
#   PERF [0]  seconds: after the runs, each server under wrk that long with
#                  perf stat -p attached: PERF_EVENTS per request (0: skip)
#   PERF_EVENTS [task-clock,context-switches,page-faults,cycles,instructions,cache-misses,
#                  dTLB-load-misses] (a VM without a PMU: the hardware ones "<not supported>")
#
# The nginx body is a real answer of idnode's of the mean JSON answer size
# over all the profile's records (gendata's exact figure; the largest of 200
# sampled answers not over it, padded inside the JSON up to it), so both send
# the same bytes on average. (The mean, not the median: the minimal profile's
# sizes are bimodal, its median 347 bytes against a mean of 307, and a body
# of the median would have nginx send 13% more than idnode.) The profile and
# its answer-size distributions (gendata's over all records, and the sample's)
# are printed with the result. Every run is bounded
# (timeout); servers are stopped on exit. Results: stdout and
# $WORK/http_results.tsv. BATCH=0 skips the batch run.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${1:-${BUILD:-$repo/build}}
N=${2:-${N:-1000000}}
DUR=${3:-${DUR:-20}}
REPEAT=${REPEAT:-1}
WRK_ARGS=${WRK_ARGS:-"-t1 -c64"}
BATCH=${BATCH:-1000}
BATCH_ARGS=${BATCH_ARGS:-"-t1 -c4"}
WORK=${WORK:-/tmp/idn-bench-http}
SHARED=${SHARED:-$repo/../shared}
CLIENT_CPU=${CLIENT_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
NGINX_PORT=${NGINX_PORT:-8300}
IDN_PORT=${IDN_PORT:-8301}
PREFIX=${PREFIX:-88.100.1}
PROFILE=${PROFILE:-minimal}
WARM=${WARM:-5}

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD" >&2; exit 2; }
GENDATA=$BUILD/bench/gendata
IDNODE=$BUILD/idnode
anchors=$SHARED/bench/anchors.sh
for x in "$GENDATA" "$IDNODE"; do [ -x "$x" ] || { echo "missing $x: build first" >&2; exit 2; }; done
for c in wrk nginx curl taskset; do
  command -v $c >/dev/null || { echo "missing $c: $anchors setup" >&2; exit 2; }
done
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
TSV=$WORK/http_results.tsv
log() { echo "$@" >&2; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# ---- data ----
ddir=$WORK/$PROFILE-n$N
[ "$PROFILE" = minimal ] && [ -f "$WORK/n$N/loaded" ] && [ ! -e "$ddir" ] && ddir=$WORK/n$N # older runs
if [ ! -f "$ddir/loaded" ]; then
  log "-- $N identifiers, profile $PROFILE: generate, load"
  rm -rf "$ddir"; mkdir -p "$ddir"
  "$GENDATA" -n "$N" --profile "$PROFILE" -p "$PREFIX" -o "$ddir/ids.jsonl" -q "$ddir/queries.txt" \
    -Q 1000000 2>"$ddir/sizes.txt" >/dev/null
  "$IDNODE" load --data "$ddir/data" -H "$PREFIX" "$ddir/ids.jsonl" >&2
  rm -f "$ddir/ids.jsonl"
  touch "$ddir/loaded"
fi
[ -f "$ddir/sizes.txt" ] || "$GENDATA" -n "$N" --profile "$PROFILE" -p "$PREFIX" -o /dev/null 2>"$ddir/sizes.txt" >/dev/null
sed 's/^/   /' "$ddir/sizes.txt" >&2

# ---- idnode ----
setsid taskset -c "$SERVER_CPU" "$IDNODE" serve --data "$ddir/data" --threads 1 \
  --listen "127.0.0.1:$((IDN_PORT + 1))" --http "127.0.0.1:$IDN_PORT" --home "$PREFIX" \
  >"$WORK/idnode.log" 2>&1 </dev/null &
IDN_PID=$!; pids+=("$IDN_PID")
first=$(head -1 "$ddir/queries.txt")
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$IDN_PORT/api/handles/$first" >/dev/null && break; sleep 0.1
done

# ---- the nginx body: an idnode answer of the profile's mean JSON answer size ----
head -200 "$ddir/queries.txt" | while read -r h; do
  curl -sf "http://127.0.0.1:$IDN_PORT/api/handles/$h" >"$WORK/a.json" && printf '%s\t%s\n' "$(wc -c <"$WORK/a.json")" "$h"
done >"$WORK/sample.tsv"
mean=$(grep -o 'JSON answer bytes:.*' "$ddir/sizes.txt" | sed 's/.*mean \([0-9]*\).*/\1/')
python3 - "$WORK/sample.tsv" "$WORK/body.json" "http://127.0.0.1:$IDN_PORT/api/handles/" "$mean" <<'PY'
import json, sys, urllib.request
rows = [l.split('\t') for l in open(sys.argv[1]).read().splitlines()]
target = int(sys.argv[4])
sizes = sorted(int(n) for n, _ in rows)
# the largest sampled answer with room for ',"pad":""' under the target, padded up to it
n, h = max(((int(n), h) for n, h in rows if int(n) + 9 <= target),
           default=min((int(n), h) for n, h in rows))
doc = json.loads(urllib.request.urlopen(sys.argv[3] + h).read())
body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
if len(body.encode()) < target:  # pad inside the JSON so it stays valid
    doc["pad"] = ""
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    doc["pad"] = "x" * max(0, target - len(body.encode()))
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
open(sys.argv[2], "w").write(body)
print(f"   sampled JSON answers (200): min {sizes[0]} median {sizes[len(sizes) // 2]} max {sizes[-1]};"
      f" nginx body {len(body.encode())} bytes (the profile's mean JSON answer: {target})",
      file=sys.stderr)
PY
NGINX_PID=$("$anchors" nginx "$WORK" "$NGINX_PORT" "$SERVER_CPU" "$WORK/body.json")
pids+=("$NGINX_PID")

# ---- runs ----
# Besides requests/s, requests per second of the server's own CPU time (user
# + system, /proc): on a machine other jobs share, a server that got less of
# its core serves fewer requests/s but not fewer per CPU-second.
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sys_ticks() { awk '{print $15}' "/proc/$1/stat"; }
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
run() {  # label port pid extra-args... -> "requests/s requests-per-cpu-second"
  local label=$1 port=$2 pid=$3; shift 3
  local out c0 c1 s0 s1
  c0=$(cpu_ticks "$pid") s0=$(sys_ticks "$pid")
  out=$(timeout $((DUR + 30)) taskset -c "$CLIENT_CPU" wrk "$@" -d "${DUR}s" --latency \
    -s "$here/http_random.lua" "http://127.0.0.1:$port" -- "$ddir/queries.txt" \
    ${BATCH_MODE:+batch $BATCH})
  c1=$(cpu_ticks "$pid") s1=$(sys_ticks "$pid")
  local rps p99 errs reqs percpu cpu split
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  cpu=$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" 'BEGIN{printf "%.2f", (b-a)/t}')
  percpu=$(awk -v n="$reqs" -v c="$cpu" 'BEGIN{printf "%.0f", (c > 0 ? n / c : 0)}')
  # the server's CPU per request, user and kernel (system) apart
  split=$(awk -v n="$reqs" -v c=$((c1 - c0)) -v s=$((s1 - s0)) -v t="$CLK_TCK" \
    'BEGIN{printf "user %.2f + system %.2f us/req", (c-s)/t/n*1e6, s/t/n*1e6}')
  log "   $label: $rps req/s p99 $p99, server CPU ${cpu} s: $percpu req per CPU-second ($split) ${errs}"
  printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$rps" "$p99" "$percpu" "$errs" >>"$TSV"
  echo "$rps $percpu"
}

# Unmeasured first: the node reads its data file into the page cache at start
# (a thread of its own, counted in its CPU) and maps the pages its lookups touch.
if [ "$WARM" != 0 ]; then
  for port in "$IDN_PORT" "$NGINX_PORT"; do
    timeout $((WARM + 30)) taskset -c "$CLIENT_CPU" wrk $WRK_ARGS -d "${WARM}s" \
      -s "$here/http_random.lua" "http://127.0.0.1:$port" -- "$ddir/queries.txt" >/dev/null
  done
fi
printf 'run\trequests_per_s\tp99\trequests_per_cpu_s\terrors\n' >"$TSV"
log "== run_http: PROFILE=$PROFILE N=$N DUR=${DUR}s wrk $WRK_ARGS, server CPU $SERVER_CPU, client CPU $CLIENT_CPU; load average $(cut -d' ' -f1-3 /proc/loadavg)"
ratios=() cratios=()
for r in $(seq "$REPEAT"); do
  # alternate which server goes first
  if [ $((r % 2)) -eq 1 ]; then
    read -r ng ngc <<<"$(run "nginx#$r" "$NGINX_PORT" "$NGINX_WORKER" $WRK_ARGS)"
    read -r id idc <<<"$(run "idnode#$r" "$IDN_PORT" "$IDN_PID" $WRK_ARGS)"
  else
    read -r id idc <<<"$(run "idnode#$r" "$IDN_PORT" "$IDN_PID" $WRK_ARGS)"
    read -r ng ngc <<<"$(run "nginx#$r" "$NGINX_PORT" "$NGINX_WORKER" $WRK_ARGS)"
  fi
  ratios+=("$(awk -v a="$id" -v b="$ng" 'BEGIN{printf "%.2f", a/b}')")
  cratios+=("$(awk -v a="$idc" -v b="$ngc" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')")
done
log "== profile $PROFILE, $(grep -o 'JSON answer bytes:.*' "$ddir/sizes.txt"); load average $(cut -d' ' -f1-3 /proc/loadavg)"
log "== GET /api/handles/{random}: idnode/nginx = ${ratios[*]} (requests/s); ${cratios[*]} (requests per CPU-second)"

# A tool attached to the server (the command after SECONDS PORT) while wrk
# runs SECONDS against PORT; prints wrk's request count.
attached() {
  local secs=$1 port=$2 st; shift 2
  timeout $((secs + 30)) "$@" 2>/dev/null &
  st=$!; sleep 0.5
  timeout $((secs + 30)) taskset -c "$CLIENT_CPU" wrk $WRK_ARGS -d "${secs}s" \
    -s "$here/http_random.lua" "http://127.0.0.1:$port" -- "$ddir/queries.txt" |
    awk '/requests in/ {print $1}'
  kill -INT "$st" 2>/dev/null || true; wait "$st" 2>/dev/null || true
}

# Syscalls per request: strace -c on the server for the length of a wrk run.
STRACE=${STRACE:-0}
if [ "$STRACE" != 0 ] && command -v strace >/dev/null; then
  for s in "nginx $NGINX_PORT $NGINX_WORKER" "idnode $IDN_PORT $IDN_PID"; do
    read -r label port pid <<<"$s"
    n=$(attached "$STRACE" "$port" strace -c -f -p "$pid" -o "$WORK/strace_$label.txt")
    log "== $label under strace -c, $n requests: syscalls per request"
    awk -v n="$n" '$NF ~ /^[a-z_0-9]+$/ && $NF != "syscall" && $NF != "total" {
      e = (NF == 6) ? $5 : 0  # strace -c: % seconds usecs/call calls [errors] syscall
      printf "   %-16s %8.4f per request (%s calls, %s errors)\n", $NF, $4 / n, $4, e }' \
      "$WORK/strace_$label.txt" >&2
  done
fi

# Counters per request: perf stat on the server (all its threads) for the
# length of a wrk run. A VM without a PMU (this one) has the software events
# only (task-clock, context switches, page faults); the hardware ones print
# "<not supported>".
PERF=${PERF:-0}
PERF_EVENTS=${PERF_EVENTS:-task-clock,context-switches,page-faults,cycles,instructions,cache-misses,dTLB-load-misses}
if [ "$PERF" != 0 ] && command -v perf >/dev/null; then
  for s in "nginx $NGINX_PORT $NGINX_WORKER" "idnode $IDN_PORT $IDN_PID"; do
    read -r label port pid <<<"$s"
    n=$(attached "$PERF" "$port" perf stat -x, -e "$PERF_EVENTS" -p "$pid" -o "$WORK/perf_$label.txt")
    log "== $label under perf stat, $n requests (load average $(cut -d' ' -f1-3 /proc/loadavg)): per request"
    awk -F, -v n="$n" '$1 ~ /^[0-9.]+$/ && $2 == "msec" { printf "   %-22s %10.3f us per request (%s ms)\n", $3, $1 * 1000 / n, $1 }
      $1 ~ /^[0-9.]+$/ && $2 != "msec" { printf "   %-22s %10.4f per request (%s)\n", $3, $1 / n, $1 }
      $1 ~ /^<not/ { printf "   %-22s %s\n", $3, $1 }' "$WORK/perf_$label.txt" >&2
  done
fi

[ "$BATCH" = 0 ] && exit 0
BATCH_MODE=1
read -r b _ <<<"$(run "idnode-batch$BATCH" "$IDN_PORT" "$IDN_PID" $BATCH_ARGS)"
log "== POST /api/resolve x$BATCH: $(awk -v a="$b" -v n="$BATCH" 'BEGIN{printf "%.0f", a*n}') identifiers/s"
