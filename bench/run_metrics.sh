#!/usr/bin/env bash
# run_metrics.sh - time of GET /metrics with P prefixes tracked by the
# statistics (docs/statistics.md): one node (--metrics, --stats-flush-s 1),
# one UDP resolution for an identifier of each of P prefixes (88.200.0 ...,
# not homed: answered 301 and counted as referred for that prefix), a wait
# for the flush, then SCRAPES scrapes one after another: the median, p90 and
# largest time, the body's bytes and lines, and the prefixes tracked.
#
#   bench/run_metrics.sh [BUILD_DIR [P [SCRAPES]]]
#
# Environment: BUILD [./build]  P [10000]  SCRAPES [20]  SERVER_CPU [1]
#   WORK [/tmp/idn-bench-metrics]  PORT [2741] (UDP/TCP; HTTP is PORT + 1)
# Every wait is bounded; the node is stopped on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${1:-${BUILD:-$repo/build}}
P=${2:-${P:-10000}}
SCRAPES=${3:-${SCRAPES:-20}}
SERVER_CPU=${SERVER_CPU:-1}
WORK=${WORK:-/tmp/idn-bench-metrics}
PORT=${PORT:-2741}
IDNODE=$BUILD/idnode
[ -x "$IDNODE" ] || { echo "no $IDNODE (cmake -B build && cmake --build build)" >&2; exit 2; }

rm -rf "$WORK"
mkdir -p "$WORK"
pid=
cleanup() {
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
trap cleanup EXIT

taskset -c "$SERVER_CPU" "$IDNODE" serve --data "$WORK/data" --home 88.100.1 \
  --listen "127.0.0.1:$PORT" --http "127.0.0.1:$((PORT + 1))" --threads 1 --metrics \
  --stats-flush-s 1 --stats-prefixes "$P" --udp-rate-limit 100000000 >"$WORK/idnode.log" 2>&1 &
pid=$!

python3 - "$PORT" "$P" "$SCRAPES" "$repo/tests/system" <<'PY'
import socket, statistics, sys, time, urllib.request
port, p, scrapes = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
sys.path.insert(0, sys.argv[4])
from idnlib import request  # the tests' Handle request builder
http = "http://127.0.0.1:%d/metrics" % (port + 1)

deadline = time.time() + 30
while True:  # the node answers
    try:
        urllib.request.urlopen(http, timeout=1).read()
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("the node does not answer /metrics")
        time.sleep(0.1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
t0, answered = time.time(), 0
for i in range(p):
    s.sendto(request("88.200.%d/x" % i), ("127.0.0.1", port))
    try:
        s.recv(65536)
        answered += 1
    except TimeoutError:
        pass
print("%d resolutions over %d prefixes in %.1f s (%d answered)" % (p, p, time.time() - t0, answered))
deadline = time.time() + 30
tracked = 0
while time.time() < deadline:  # the flush (every second) has them all
    body = urllib.request.urlopen(http, timeout=30).read().decode()
    tracked = int([l for l in body.splitlines() if l.startswith("idnode_stats_prefixes_tracked ")][0].split()[1])
    if tracked >= p:
        break
    time.sleep(0.5)
times = []
for _ in range(scrapes):
    t = time.perf_counter()
    body = urllib.request.urlopen(http, timeout=30).read()
    times.append(time.perf_counter() - t)
times.sort()
print("prefixes tracked %d; /metrics %d bytes, %d lines; %d scrapes: median %.1f ms, p90 %.1f ms, max %.1f ms"
      % (tracked, len(body), body.count(b"\n"), scrapes, 1000 * statistics.median(times),
         1000 * times[int(0.9 * (len(times) - 1))], 1000 * times[-1]))
PY
