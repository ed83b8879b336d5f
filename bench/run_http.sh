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
#   BUILD [./build]  N [1000000]  DUR [20] seconds per wrk run  REPEAT [1]
#   WRK_ARGS ["-t1 -c64"] (the anchors' nginx setting)  BATCH [1000]
#   BATCH_ARGS ["-t1 -c4"]  WORK [/tmp/idn-bench-http]  SHARED [<repo>/../shared]
#   CLIENT_CPU [0]  SERVER_CPU [1]  NGINX_PORT [8300]  IDN_PORT [8301]
#   PREFIX [88.100.1]
#
# The nginx body is a real answer of idnode's, padded to the mean size of
# 200 sampled answers, so both send the same bytes. Every run is bounded
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
ddir=$WORK/n$N
if [ ! -f "$ddir/loaded" ]; then
  log "-- $N identifiers: generate, load"
  rm -rf "$ddir"; mkdir -p "$ddir"
  "$GENDATA" -n "$N" -p "$PREFIX" -o "$ddir/ids.jsonl" -q "$ddir/queries.txt" -Q 1000000 >/dev/null
  "$IDNODE" load --data "$ddir/data" -H "$PREFIX" "$ddir/ids.jsonl" >&2
  touch "$ddir/loaded"
fi

# ---- idnode ----
setsid taskset -c "$SERVER_CPU" "$IDNODE" serve --data "$ddir/data" --threads 1 \
  --listen "127.0.0.1:$((IDN_PORT + 1))" --http "127.0.0.1:$IDN_PORT" --home "$PREFIX" \
  >"$WORK/idnode.log" 2>&1 </dev/null &
IDN_PID=$!; pids+=("$IDN_PID")
first=$(head -1 "$ddir/queries.txt")
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$IDN_PORT/api/handles/$first" >/dev/null && break; sleep 0.1
done

# ---- the nginx body: an idnode answer padded to the mean answer size ----
total=0
while read -r h; do
  n=$(curl -sf "http://127.0.0.1:$IDN_PORT/api/handles/$h" | wc -c); total=$((total + n))
done < <(head -200 "$ddir/queries.txt")
mean=$((total / 200))
curl -sf "http://127.0.0.1:$IDN_PORT/api/handles/$first" >"$WORK/body.json"
python3 - "$WORK/body.json" "$mean" <<'PY'
import json, sys
path, size = sys.argv[1], int(sys.argv[2])
doc = json.load(open(path))
body = json.dumps(doc, separators=(",", ":"))
if len(body) < size:  # pad inside the JSON so it stays valid
    doc["pad"] = ""
    body = json.dumps(doc, separators=(",", ":"))
    doc["pad"] = "x" * max(0, size - len(body))
    body = json.dumps(doc, separators=(",", ":"))
open(path, "w").write(body)
PY
log "   answer size: mean $mean bytes; nginx body $(wc -c <"$WORK/body.json") bytes"
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
log "== run_http: N=$N DUR=${DUR}s wrk $WRK_ARGS, server CPU $SERVER_CPU, client CPU $CLIENT_CPU"
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
log "== GET /api/handles/{random}: idnode/nginx = ${ratios[*]}"

BATCH_MODE=1
b=$(run "idnode-batch$BATCH" "$IDN_PORT" $BATCH_ARGS)
log "== POST /api/resolve x$BATCH: $(awk -v a="$b" -v n="$BATCH" 'BEGIN{printf "%.0f", a*n}') identifiers/s"
