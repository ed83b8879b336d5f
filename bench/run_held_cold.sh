#!/usr/bin/env bash
# run_held_cold.sh - what a node's start costs a cold store when nothing
# queries it: the store's data file is dropped from the page cache
# (posix_fadvise DONTNEED, this file only; no node maps it), `idnode serve
# --threads 1 --warm off` starts on it, and its major faults and CPU seconds
# (user + system, /proc/PID/stat) are sampled once a second for SECS
# seconds; then it is stopped (SIGTERM) and its statistics' log line (how
# the identifiers held were counted: docs/statistics.md) is shown. The
# statistics' first flush comes STATS_FLUSH_S (5) seconds after the start.
#
#   STORE=DIR bench/run_held_cold.sh [BUILD_DIR]
#
# Environment: PORT [9940], SECS [30], PREFIX [88.100.1], SERVER_CPU [1],
# WORK [/tmp/idn-held-cold]. Output: "t majflt cpu_s" lines, then the
# totals with the load average before and after.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../build}" && pwd)
: "${STORE:?STORE=an LMDB store directory}"
PORT=${PORT:-9940}
SECS=${SECS:-30}
PREFIX=${PREFIX:-88.100.1}
SERVER_CPU=${SERVER_CPU:-1}
WORK=${WORK:-/tmp/idn-held-cold}
mkdir -p "$WORK"
tck=$(getconf CLK_TCK)

python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$STORE/data.mdb"
cached0=$(fincore -b -n -o RES "$STORE/data.mdb" | tr -d ' ')
la0=$(cut -d' ' -f1-3 /proc/loadavg)
setsid taskset -c "$SERVER_CPU" "$BUILD/idnode" serve --data "$STORE" --listen "127.0.0.1:$PORT" \
  --home "$PREFIX" --threads 1 --warm off >"$WORK/serve.log" 2>&1 </dev/null &
pid=$!
stat_of() { awk -v t="$tck" '{printf "%d %.2f", $12, ($14 + $15) / t}' "/proc/$pid/stat"; }
echo "# cached before: $cached0 bytes; load average $la0"
for t in $(seq 0 "$SECS"); do
  echo "$t $(stat_of)"
  [ "$t" -lt "$SECS" ] && sleep 1
done
last=$(stat_of)
kill -TERM "$pid"
wait "$pid" || true
echo "# after ${SECS} s: majflt cpu_s = $last; load average $(cut -d' ' -f1-3 /proc/loadavg)"
grep -E "statistics|warm" "$WORK/serve.log" || true
