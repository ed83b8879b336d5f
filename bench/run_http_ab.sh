#!/usr/bin/env bash
# run_http_ab.sh - two builds of idnode on the same store, GET /api/handles/{random}
# under the same wrk load, alternating: what a change did to the REST path.
# Beside requests/s, requests per second of each server's own CPU time (user +
# system, /proc), which holds on a machine other jobs share, and that time per
# request split into user and system microseconds (a change to the request's
# own code moves the user part).
#
#   bench/run_http_ab.sh BEFORE_BUILD AFTER_BUILD DATA_DIR QUERIES [SECONDS [ROUNDS]]
#
# DATA_DIR and QUERIES as run_http.sh leaves them ($WORK/$PROFILE-n$N/data and
# queries.txt). Environment: WRK_ARGS ["-t1 -c64"] CLIENT_CPU [0] SERVER_CPU [1]
# PORT [18450] (PORT+1 for the second build, PORT+10.. for their Handle ports)
# WARM [5] seconds of unmeasured load on each first (0: none).
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,14p' "$0"; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
A=$(cd "$1" && pwd)/idnode B=$(cd "$2" && pwd)/idnode DATA=$3 Q=$4 DUR=${5:-10} ROUNDS=${6:-3}
WRK_ARGS=${WRK_ARGS:-"-t1 -c64"} CLIENT_CPU=${CLIENT_CPU:-0} SERVER_CPU=${SERVER_CPU:-1}
PORT=${PORT:-18450}
WARM=${WARM:-5}
CLK_TCK=$(getconf CLK_TCK)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
cpu_ticks() { awk '{print $14 + $15, $14}' "/proc/$1/stat"; } # user + system, user
start() { # binary http-port handle-port -> pid
  setsid taskset -c "$SERVER_CPU" "$1" serve --data "$DATA" --threads 1 --home 88.100.1 \
    --listen "127.0.0.1:$3" --http "127.0.0.1:$2" >/dev/null 2>&1 </dev/null &
  echo $!
}
pa=$(start "$A" "$PORT" $((PORT + 10))); pids+=("$pa")
pb=$(start "$B" $((PORT + 1)) $((PORT + 11))); pids+=("$pb")
first=$(head -1 "$Q")
for port in "$PORT" $((PORT + 1)); do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/handles/$first" >/dev/null && break; sleep 0.1; done
done
# Unmeasured first: each node reads its data file into the page cache at start
# (a thread of its own, counted in its CPU) and maps the pages its lookups touch.
if [ "$WARM" != 0 ]; then
  for port in "$PORT" $((PORT + 1)); do
    # shellcheck disable=SC2086
    timeout $((WARM + 30)) taskset -c "$CLIENT_CPU" wrk $WRK_ARGS -d "${WARM}s" \
      -s "$here/http_random.lua" "http://127.0.0.1:$port" -- "$Q" >/dev/null
  done
fi
echo "== run_http_ab: $A against $B, $DUR s runs, wrk $WRK_ARGS; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
  for x in "before $pa $PORT" "after $pb $((PORT + 1))"; do
    read -r label pid port <<<"$x"
    read -r c0 u0 < <(cpu_ticks "$pid")
    # shellcheck disable=SC2086
    out=$(timeout $((DUR + 30)) taskset -c "$CLIENT_CPU" wrk $WRK_ARGS -d "${DUR}s" \
      -s "$here/http_random.lua" "http://127.0.0.1:$port" -- "$Q")
    read -r c1 u1 < <(cpu_ticks "$pid")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    awk -v r="$r" -v l="$label" -v rps="$rps" -v n="$n" -v a="$c0" -v b="$c1" -v ua="$u0" -v ub="$u1" -v t="$CLK_TCK" \
      'BEGIN { c = (b - a) / t; u = (ub - ua) / t
        printf "round %d %-6s %9.0f req/s, CPU %.2f s, %7.0f req per CPU-second, user %.2f + system %.2f us/req\n",
          r, l, rps, c, (c > 0 ? n / c : 0), (n > 0 ? u * 1e6 / n : 0), (n > 0 ? (c - u) * 1e6 / n : 0) }'
  done
done
echo "   load average $(cut -d' ' -f1-3 /proc/loadavg)"
