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
#   PREFIX [88.100.1]
#
# The nginx body is a real answer of idnode's of the median size of 200
# sampled answers (the sampled answer nearest the median, padded inside the
# JSON up to it), so both send the same bytes for the profile. The profile and
# its answer-size distributions (gendata's over all records, and the sample's)
# are printed with the result. Every run is bounded
# (timeout); servers are stopped on exit. Results: stdout and
# $WORK/http_results.tsv.
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

# ---- the nginx body: an idnode answer of the median answer size ----
head -200 "$ddir/queries.txt" | while read -r h; do
  curl -sf "http://127.0.0.1:$IDN_PORT/api/handles/$h" >"$WORK/a.json" && printf '%s\t%s\n' "$(wc -c <"$WORK/a.json")" "$h"
done >"$WORK/sample.tsv"
python3 - "$WORK/sample.tsv" "$WORK/body.json" "http://127.0.0.1:$IDN_PORT/api/handles/" <<'PY'
import json, statistics, sys, urllib.request
rows = [l.split('\t') for l in open(sys.argv[1]).read().splitlines()]
sizes = sorted(int(n) for n, _ in rows)
med = int(statistics.median_low(sizes))
n, h = min(((int(n), h) for n, h in rows), key=lambda x: (abs(x[0] - med), x[0]))
doc = json.loads(urllib.request.urlopen(sys.argv[3] + h).read())
body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
if len(body.encode()) < med:  # pad inside the JSON so it stays valid
    doc["pad"] = ""
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    doc["pad"] = "x" * max(0, med - len(body.encode()))
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
open(sys.argv[2], "w").write(body)
p90 = sizes[len(sizes) * 9 // 10]
print(f"   sampled JSON answers (200): min {sizes[0]} median {med} p90 {p90} max {sizes[-1]};"
      f" nginx body {len(body.encode())} bytes", file=sys.stderr)
PY
NGINX_PID=$("$anchors" nginx "$WORK" "$NGINX_PORT" "$SERVER_CPU" "$WORK/body.json")
pids+=("$NGINX_PID")

# ---- runs ----
run() {  # label port extra-args... -> requests/s
  local label=$1 port=$2; shift 2
  local out
  out=$(timeout $((DUR + 30)) taskset -c "$CLIENT_CPU" wrk "$@" -d "${DUR}s" --latency \
    -s "$here/http_random.lua" "http://127.0.0.1:$port" -- "$ddir/queries.txt" \
    ${BATCH_MODE:+batch $BATCH})
  local rps p99 errs
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  log "   $label: $rps req/s p99 $p99 ${errs}"
  printf '%s\t%s\t%s\t%s\n' "$label" "$rps" "$p99" "$errs" >>"$TSV"
  echo "$rps"
}

printf 'run\trequests_per_s\tp99\terrors\n' >"$TSV"
log "== run_http: PROFILE=$PROFILE N=$N DUR=${DUR}s wrk $WRK_ARGS, server CPU $SERVER_CPU, client CPU $CLIENT_CPU; load average $(cut -d' ' -f1-3 /proc/loadavg)"
ratios=()
for r in $(seq "$REPEAT"); do
  # alternate which server goes first
  if [ $((r % 2)) -eq 1 ]; then
    ng=$(run "nginx#$r" "$NGINX_PORT" $WRK_ARGS); id=$(run "idnode#$r" "$IDN_PORT" $WRK_ARGS)
  else
    id=$(run "idnode#$r" "$IDN_PORT" $WRK_ARGS); ng=$(run "nginx#$r" "$NGINX_PORT" $WRK_ARGS)
  fi
  ratios+=("$(awk -v a="$id" -v b="$ng" 'BEGIN{printf "%.2f", a/b}')")
done
log "== profile $PROFILE, $(grep -o 'JSON answer bytes:.*' "$ddir/sizes.txt")"
log "== GET /api/handles/{random}: idnode/nginx = ${ratios[*]}"

BATCH_MODE=1
b=$(run "idnode-batch$BATCH" "$IDN_PORT" $BATCH_ARGS)
log "== POST /api/resolve x$BATCH: $(awk -v a="$b" -v n="$BATCH" 'BEGIN{printf "%.0f", a*n}') identifiers/s"
