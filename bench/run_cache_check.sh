#!/usr/bin/env bash
# run_cache_check.sh - checks bench/scale_model.py's page-cache model on a
# real node (docs/scale.md, "Memory for a hit rate"): a store's data file is
# dropped from the page cache (posix_fadvise DONTNEED, this file only; the
# node is stopped, so nothing maps it), the node starts with `--warm off` and
# no lookup cache, and closed-loop UDP steps of STEP seconds run while the
# cache fills. Each step gives the node's major faults per answer (its
# /proc/PID/stat) and the file's cached fraction (fincore) before and after:
# nothing is evicted while the file fits, so the model's cold-fill hit rate
# applies (scale_model.py check). Uniform queries, then Zipf s=1. The
# statistics' first flush, which counts the identifiers of every homed prefix
# (a scan of the store, reading it in), is put off (--stats-flush-s 3600) and
# the node is killed, not stopped, for the same reason.
#
#   STORE=DIR N=IDENTIFIERS bench/run_cache_check.sh [BUILD_DIR]
#
# Environment: PORT [9930], STEP [1] seconds (each step has its own slice of
# 100,000 queries, more than a cold step answers), STEPS [40] a set (at most 79), UNTIL [0.85]
# cached fraction to stop at, SERVER_CPU [1], CLIENT_CPU [0], WORK
# [/tmp/idn-cache-check], PREFIX [88.100.1]. Output: lines on stderr and
# $WORK/steps.tsv (set, mean cached fraction, majflt per answer, answers/s,
# cached fraction before, after, majflt, answers, load average).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../build}" && pwd)
: "${STORE:?STORE=an LMDB store directory (run_scale.sh KEEP=1 makes one)}" "${N:?N=its identifiers}"
PORT=${PORT:-9930}
STEP=${STEP:-1}
STEPS=${STEPS:-40}
UNTIL=${UNTIL:-0.85}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
WORK=${WORK:-/tmp/idn-cache-check}
PREFIX=${PREFIX:-88.100.1}
[ -f "$STORE/data.mdb" ] || { echo "$STORE: no data.mdb" >&2; exit 2; }
mkdir -p "$WORK"
pid=
trap '[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null; rm -f "$WORK"/q.*' EXIT

cached() { # fraction of data.mdb in the page cache
  fincore -b -n -o RES,SIZE "$STORE/data.mdb" | awk '{printf "%.4f", $1 / $2}'
}
majflt() { awk '{print $12}' "/proc/$pid/stat"; }
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }

printf 'set\tmean_cached\tmajflt_per_answer\tqps\tcached0\tcached1\tmajflt\tanswers\tloadavg\n' >"$WORK/steps.tsv"
for set in uniform zipf; do
  z=()
  [ "$set" = zipf ] && z=(-z 1)
  "$BUILD/bench/gendata" -n "$N" -p "$PREFIX" --queries-only -q "$WORK/q.all" -Q 8000000 "${z[@]}"
  # each step reads its own slice: a step asking the queries of the one before
  # would find their pages cached and count too few misses
  (cd "$WORK" && rm -f q.s.* && split -l 100000 -d -a 3 q.all q.s.)
  python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$STORE/data.mdb"
  echo "-- $set: cached before the start $(cached); load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  setsid taskset -c "$SERVER_CPU" "$BUILD/idnode" serve --data "$STORE" --listen "127.0.0.1:$PORT" \
    --home "$PREFIX" --threads 1 --warm off --lookup-cache-mb 0 --udp-rate-limit 100000000 --stats-flush-s 3600 \
    >"$WORK/serve.log" 2>&1 </dev/null &
  pid=$!
  for _ in $(seq 300); do
    "$BUILD/idnode" resolve "$(head -1 "$WORK/q.all")" --server "127.0.0.1:$PORT" --timeout 1000 \
      >/dev/null 2>&1 && break
    sleep 0.1
  done
  for s in $(seq "$STEPS"); do
    c0=$(cached) f0=$(majflt)
    sl=$(printf '%s/q.s.%03d' "$WORK" "$s")
    [ -f "$sl" ] || { echo "   out of query slices" >&2; break; }
    out=$(taskset -c "$CLIENT_CPU" "$BUILD/bench/hdlblast" -m udp -p "$PORT" -f "$sl" \
      -l "$STEP" -k 16 -w 8 -b 32 -T 2000 -q 2>&1 | grep '^RESULT' || true)
    c1=$(cached) f1=$(majflt)
    ans=$(field answered "$out")
    [ -n "$ans" ] && [ "$ans" -gt 0 ] || { echo "   step $s: no answers: $out" >&2; continue; }
    row=$(awk -v a="$c0" -v b="$c1" -v f0="$f0" -v f1="$f1" -v n="$ans" -v q="$(field qps "$out")" \
      'BEGIN{printf "%.4f\t%.4f\t%s\t%s\t%s\t%d\t%d", (a+b)/2, (f1-f0)/n, q, a, b, f1-f0, n}')
    printf '%s\t%s\t%s\n' "$set" "$row" "$(cut -d' ' -f1 /proc/loadavg)" >>"$WORK/steps.tsv"
    echo "   step $s: $row" >&2
    awk -v b="$c1" -v u="$UNTIL" 'BEGIN{exit !(b >= u)}' && break
  done
  kill -9 "$pid" # a stop flushes the statistics: a count of every homed prefix's records
  wait "$pid" 2>/dev/null || true
  pid=
done
echo "(steps: $WORK/steps.tsv)" >&2
