#!/usr/bin/env bash
# run_repl_lag.sh - how far a mirror trails its primary under a sustained
# write load: a primary (LMDB) and a mirror (`serve --mirror-of`, its own LMDB
# store) on loopback; bench/hdladmin creates identifiers on the primary at RATE
# authenticated creates/s for SECONDS (open loop); the mirror logs its lag
# every second (`--mirror-lag-log 1`: "lag N transactions, T s", see
# docs/replication.md) and this script reports p50/p99/max of those samples,
# the time the mirror took to catch up once the writes stopped, and checks
# that both stores end equal (`idnode dump`, line by line).
#
# Lag is counted in the primary's transactions (a group commit may hold many
# creates), and T in whole seconds since the mirror was last caught up: both
# as the mirror itself reports them, sampled once a second. The mirror computes
# its lag right after applying an answer, so it misses the time spent waiting
# for the next poll; hence a second, end-to-end measure: once a second a probe
# create (`idnode create`) goes to the primary, and the time from its
# acknowledgement until the mirror resolves it (UDP, polled every 2 ms) is the
# visibility lag, reported in ms.
#
#   bench/run_repl_lag.sh [BUILD_DIR [SECONDS [RATE]]]
#
# Environment (defaults in brackets): SECONDS [60]  RATE [5000]  CLIENTS [8]
#   WINDOW [16]  THREADS [2] primary threads  WORK [/tmp/idn-bench-repl]
#   PORT [26430] primary, PORT+1 mirror
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${1:-${BUILD:-$repo/build}}
SECONDS_=${2:-${SECONDS_RUN:-60}}
RATE=${3:-${RATE:-5000}}
CLIENTS=${CLIENTS:-8}
WINDOW=${WINDOW:-16}
THREADS=${THREADS:-2}
WORK=${WORK:-/tmp/idn-bench-repl}
PORT=${PORT:-26430}

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD" >&2; exit 2; }
IDNODE=$BUILD/idnode
HDLADMIN=$BUILD/bench/hdladmin
[ -x "$IDNODE" ] && [ -x "$HDLADMIN" ] || cmake --build "$BUILD" --target idnode hdladmin -j2 >/dev/null

rm -rf "$WORK"
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
primary=127.0.0.1:$PORT
id=300:0.NA/88.100.1
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { printf '%s\n' "$*" >&2; }

# The prefix record: HS_ADMIN for the identity, and its HS_SECKEY (HMAC).
secret=bench-secret-$RANDOM$RANDOM
printf '%s\n' "$secret" >"$WORK/secret"
hex() { od -An -v -tx1 | tr -d ' \n'; }
admin_hex=$( { printf '\x0f\xff'; printf '\x00\x00\x00\x0d0.NA/88.100.1'; printf '\x00\x00\x01\x2c'; } | hex)
secret_hex=$(printf '%s' "$secret" | hex)
cat >"$WORK/prefix.jsonl" <<EOF
{"handle":"0.NA/88.100.1","values":[{"index":100,"type":"HS_ADMIN","data":{"format":"hex","value":"$admin_hex"}},{"index":300,"type":"HS_SECKEY","data":{"format":"hex","value":"$secret_hex"},"perms":12}]}
EOF

wait_up() {  # PORT PID LOG
	for _ in $(seq 100); do
		"$IDNODE" resolve --server "127.0.0.1:$1" 0.NA/88.100.1 >/dev/null 2>&1 && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	log "idnode on port $1 did not start:"
	cat "$3" >&2
	exit 1
}

"$IDNODE" load --data "$WORK/primary" -q "$WORK/prefix.jsonl" >/dev/null
"$IDNODE" serve --data "$WORK/primary" --threads "$THREADS" --listen "$primary" \
	--home 88.100.1 --home 0.NA --server-admin "$id" >"$WORK/primary.log" 2>&1 </dev/null &
pids+=($!)
wait_up "$PORT" "${pids[-1]}" "$WORK/primary.log"
# Polled every 2 ms from one source: over the default UDP rate per source network.
"$IDNODE" serve --data "$WORK/mirror" --threads 1 --listen "127.0.0.1:$((PORT + 1))" \
	--mirror-of "$primary" --id "$id" --secret-file "$WORK/secret" --mirror-lag-log 1 \
	--udp-rate-limit 100000000 >"$WORK/mirror.log" 2>&1 </dev/null &
pids+=($!)
mirror_pid=${pids[-1]}
wait_up "$((PORT + 1))" "$mirror_pid" "$WORK/mirror.log"
for _ in $(seq 200); do
	grep -q "bootstrap complete" "$WORK/mirror.log" && break
	sleep 0.1
done
grep -q "bootstrap complete" "$WORK/mirror.log" || { log "the mirror did not bootstrap:"; cat "$WORK/mirror.log" >&2; exit 1; }

count=$((SECONDS_ * RATE))
echo "replication lag: $count creates at $RATE/s ($CLIENTS clients x window $WINDOW) for ${SECONDS_} s"
mark=$(wc -l <"$WORK/mirror.log")
# the probe: runs until $WORK/stop exists
python3 - "$IDNODE" "$primary" "$((PORT + 1))" "$id" "$WORK" "$repo/tests/system" <<'PY' &
import os, subprocess, sys, time
idnode, primary, mport, ident, work, lib = sys.argv[1:7]
sys.path.insert(0, lib)
from idnlib import parse_answer, request, udp_exchange  # noqa: E402
out = open(os.path.join(work, "probe.txt"), "w")
i = 0
while not os.path.exists(os.path.join(work, "stop")):
    t_next = time.time() + 1
    h = "88.100.1/probe-%d" % i
    i += 1
    r = subprocess.run([idnode, "create", h, "--server", primary, "--id", ident,
                        "--secret-file", os.path.join(work, "secret"),
                        "--value", "1:URL:https://probe/"], capture_output=True, timeout=60)
    if r.returncode != 0:
        continue
    t_ack = time.time()
    seen = None
    while time.time() - t_ack < 60:
        try:
            if parse_answer(udp_exchange(int(mport), request(h), timeout=0.5)[0])[2] == 1:
                seen = time.time()
                break
        except (TimeoutError, OSError):
            pass
        time.sleep(0.002)
    out.write("%.1f\n" % ((seen - t_ack) * 1000 if seen else -1))
    out.flush()
    time.sleep(max(0, t_next - time.time()))
PY
probe=$!
pids+=("$probe")
out=$(timeout $((SECONDS_ * 3 + 120)) "$HDLADMIN" --server "$primary" --id "$id" \
	--secret-file "$WORK/secret" --prefix 88.100.1 --clients "$CLIENTS" --window "$WINDOW" \
	--count "$count" --rate "$RATE" --tag lag --session -q) || { log "hdladmin failed: $out"; exit 1; }
res=$(grep '^RESULT' <<<"$out")
touch "$WORK/stop"
wait "$probe" || true
end=$(wc -l <"$WORK/mirror.log")
echo "writes: $res"
# Caught up: a lag line with 0 transactions after the writes ended (bounded).
t0=$(date +%s.%N)
caught=
for _ in $(seq 600); do
	if tail -n +"$((end + 1))" "$WORK/mirror.log" | grep -q "streaming, primary at [0-9]*, lag 0 transactions"; then
		caught=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
		break
	fi
	sleep 0.1
done
sed -n "$((mark + 1)),${end}p" "$WORK/mirror.log" | grep -o 'lag [0-9]* transactions, [0-9]* s' |
	awk '{print $2, $4}' >"$WORK/lag.txt" || true
python3 - "$WORK/lag.txt" <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
if not rows:
    print("no lag samples (was the run shorter than a second?)")
    sys.exit(0)
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
for i, what in ((0, "transactions behind"), (1, "seconds since caught up")):
    v = [r[i] for r in rows]
    print(f"lag, {what:24}: p50 {pct(v, 50)}  p99 {pct(v, 99)}  max {max(v)}  ({len(v)} samples, one a second)")
PY
python3 - "$WORK/probe.txt" <<'PY'
import sys
v = [float(l) for l in open(sys.argv[1]) if l.strip()]
lost = sum(1 for x in v if x < 0)
v = sorted(x for x in v if x >= 0)
if not v:
    print("visibility lag: no probe samples")
    sys.exit(0)
pct = lambda p: v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
print(f"visibility lag (probe acked on the primary -> resolves on the mirror): p50 {pct(50):.0f} ms"
      f"  p99 {pct(99):.0f} ms  max {v[-1]:.0f} ms  ({len(v)} probes{', %d never seen' % lost if lost else ''})")
PY
if [ -n "$caught" ]; then
	echo "caught up ${caught} s after the writes ended (a lag line with 0 transactions)"
else
	echo "NOT caught up within 60 s after the writes ended" >&2
	exit 1
fi
"$IDNODE" dump --data "$WORK/primary" -q -o "$WORK/primary.jsonl"
for _ in $(seq 20); do
	"$IDNODE" dump --data "$WORK/mirror" -q -o "$WORK/mirror.jsonl"
	cmp -s "$WORK/primary.jsonl" "$WORK/mirror.jsonl" && break
	sleep 0.5
done
cmp -s "$WORK/primary.jsonl" "$WORK/mirror.jsonl" || { echo "the mirror's dump differs from the primary's" >&2; exit 1; }
echo "mirror equals primary: $(grep -c '"handle":"88.100.1/' "$WORK/primary.jsonl") identifiers created, dumps equal line by line"
