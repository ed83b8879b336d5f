#!/usr/bin/env bash
# run_snms.sh - SNMS batchCreate throughput: identifiers per second created
# through POST /identityv2/data/batchCreate in batches of 2,000 (the SNMS
# maximum), on LMDB (or PostgreSQL: STORE=pg), logged in with a bearer token
# as an enterprise account, each identifier naming a template
# (templateVersion, two checked fields) and a URL: with the search index on (a new store's default) and off (idnode
# index off), same data, same node settings.
#
#   bench/run_snms.sh [BUILD_DIR]
#
# Environment (defaults in brackets):
#   BUILD [./build]  BATCHES [25] batches of 2,000 per run  CONC [2] connections
#   SEARCH ["on off"]  THREADS [2] node threads  WORK [/tmp/idn-bench-snms-$STORE]
#   SERVER_CPU [""]  CLIENT_CPU [""]  (taskset cores, empty: not pinned)
#   TMPL [1]: 0 sends no templateVersion (the fields are then not checked)
#   PERF [""]: set, the node runs under `perf record -g` ($WORK/perf-MODE.data)
#   STORE [lmdb]: pg runs the node on a private PostgreSQL cluster
#     (scripts/pg.sh, under $WORK/pg; a database per mode) with --store, and
#     adds the cluster's CPU (postmaster and its children) to the figures
#
# The bodies are made before the clock starts; the client only sends them
# and reads the answers (every item's code is checked to be 1). Besides the
# wall-clock rate, the node's own CPU time over the run (utime + stime of
# /proc/PID/stat) gives identifiers per CPU-second: on a machine shared with
# other work that figure is the steadier one. Results: stdout and
# $WORK/snms_results.tsv.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${1:-${BUILD:-$repo/build}}
BATCHES=${BATCHES:-25}
CONC=${CONC:-2}
SEARCH=${SEARCH:-"on off"}
THREADS=${THREADS:-2}
STORE=${STORE:-lmdb}
WORK=${WORK:-/tmp/idn-bench-snms-$STORE}
SERVER_CPU=${SERVER_CPU:-}
CLIENT_CPU=${CLIENT_CPU:-}

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD" >&2; exit 2; }
IDNODE=$BUILD/idnode
[ -x "$IDNODE" ] || { echo "missing $IDNODE: build first" >&2; exit 2; }
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
TSV=$WORK/snms_results.tsv
# exec: run in the background, $! is then the program itself (cleanup kills it)
pin() { local cpu=$1; shift; if [ -n "$cpu" ]; then exec taskset -c "$cpu" "$@"; else exec "$@"; fi; }

pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill -INT "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	pid=""
}
pgdir=$WORK/pg
pguri=""
if [ "$STORE" = pg ]; then
	rm -rf "$pgdir"
	pguri=$("$repo/scripts/pg.sh" start "$pgdir" 2>/dev/null)
	trap 'cleanup; "$repo/scripts/pg.sh" stop "$pgdir" >/dev/null 2>&1 || true' EXIT
else
	trap cleanup EXIT
fi
# The cluster's CPU ticks (postmaster and its children); 0 on LMDB.
pg_ticks() {
	local pm t=0 p
	[ -n "$pguri" ] || { echo 0; return; }
	pm=$(head -1 "$pgdir/data/postmaster.pid")
	for p in $pm $(pgrep -P "$pm" || true); do
		[ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$t"
}

# utime + stime of a process, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

[ -f "$TSV" ] || printf 'date\tstore\tsearch\tbatches\tconc\tidentifiers\tseconds\tids_per_s\tnode_cpu_s\tids_per_cpu_s\tpg_cpu_s\n' >"$TSV"

for mode in $SEARCH; do
	data=$WORK/data-$mode
	rm -rf "$data"
	where=(--data "$data")
	if [ -n "$pguri" ]; then
		psql -qAtX "$pguri" -c "DROP DATABASE IF EXISTS snms_$mode WITH (FORCE)" \
			-c "CREATE DATABASE snms_$mode" >/dev/null
		data=${pguri%/*}/snms_$mode
		where=(--store "$data")
	fi
	# The enterprise prefix with its identity's HS_ADMIN, and the template.
	python3 - "$WORK/seed.jsonl" <<'EOF'
import json, struct, sys
h = b"0.NA/88.100.1"
adm = struct.pack(">H", 0x0FFF) + struct.pack(">I", len(h)) + h + struct.pack(">I", 300)
tdef = {"name": "Motor", "fields": [
    {"name": "model", "type": "string", "required": True, "maxLength": 16},
    {"name": "made", "type": "date"}]}
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"handle": "0.NA/88.100.1", "values": [
        {"index": 100, "type": "HS_ADMIN", "data": {"format": "hex", "value": adm.hex()}}]}) + "\n")
    f.write(json.dumps({"handle": "88.100.1/TEMPLATE.1.0", "values": [
        {"index": 1, "type": "TEMPLATE.DEF", "data": json.dumps(tdef)}]}) + "\n")
EOF
	"$IDNODE" load "${where[@]}" -q "$WORK/seed.jsonl"
	echo "bench-pass-2026" | "$IDNODE" account add bench --data "$data" --role enterprise \
		--id 300:0.NA/88.100.1 --prefix 88.100.1 --password-stdin --kdf-mib 8 >/dev/null
	[ "$mode" = off ] && "$IDNODE" index off "${where[@]}" >/dev/null
	"$IDNODE" index status "${where[@]}" || true
	port=$(free_port)
	hport=$(free_port)
	prof=()
	[ -n "${PERF:-}" ] && prof=(perf record -q -g -o "$WORK/perf-$mode.data" --)
	pin "$SERVER_CPU" "${prof[@]}" "$IDNODE" serve "${where[@]}" --home 88.100.1 --threads "$THREADS" \
		--listen "127.0.0.1:$port" --http "127.0.0.1:$hport" >"$WORK/serve-$mode.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1',$hport),0.2)" 2>/dev/null && break
		sleep 0.1
	done
	cpu0=$(cpu_ticks "$pid")
	pg0=$(pg_ticks)
	line=$(pin "$CLIENT_CPU" timeout 600 python3 - "$hport" "$BATCHES" "$CONC" "$mode" "${TMPL:-1}" <<'EOF'
import http.client, json, sys, threading, time
port, batches, conc, mode = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
tmpl = sys.argv[5] != "0"
def call(method, path, body, token=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    d = json.loads(r.read())
    c.close()
    return d
tok = call("POST", "/identity/token",
           json.dumps({"username": "bench", "password": "bench-pass-2026"}))["data"]["token"]
bodies = []
for b in range(batches):
    items = []
    for i in range(b * 2000, (b + 1) * 2000):
        items.append({"handle": "88.100.1/SNMS-%08d" % i, "templateVersion": "1.0" if tmpl else None, "value": [
            {"index": 1, "type": "URL", "auth": 0,
             "data": {"format": "string", "value": "https://motor.example/p/%d" % i}},
            {"index": 2000, "type": "model", "data": {"format": "string", "value": "YE3-%d" % (i % 997)}},
            {"index": 2001, "type": "made", "data": {"format": "string", "value": "2026-%02d-%02d" % (i % 12 + 1, i % 28 + 1)}}]})
    bodies.append(json.dumps(items).encode())
errors = []
def worker(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    h = {"Content-Type": "application/json", "Authorization": "Bearer " + tok}
    for b in range(k, batches, conc):
        c.request("POST", "/identityv2/data/batchCreate", body=bodies[b], headers=h)
        d = json.loads(c.getresponse().read())
        bad = [x for x in d.get("data") or [] if x.get("code") != 1]
        if d.get("status") != 1 or bad:
            errors.append((d.get("message"), bad[:2]))
    c.close()
t0 = time.perf_counter()
ts = [threading.Thread(target=worker, args=(k,)) for k in range(conc)]
for t in ts: t.start()
for t in ts: t.join()
dt = time.perf_counter() - t0
if errors:
    print("errors: %r" % errors[:3], file=sys.stderr)
    sys.exit(1)
n = batches * 2000
print("%s%s\t%d\t%d\t%d\t%.3f\t%.0f" % (mode, "" if tmpl else "-notemplate", batches, conc, n, dt, n / dt))
EOF
)
	cpu1=$(cpu_ticks "$pid")
	pg1=$(pg_ticks)
	cleanup
	n=$((BATCHES * 2000))
	per_cpu=$(awk -v n=$n -v t=$((cpu1 - cpu0)) -v p=$((pg1 - pg0)) -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.2f\t%.0f\t%.2f", t / hz, t ? n * hz / t : 0, p / hz }')
	printf '%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$STORE" "$line" "$per_cpu" | tee -a "$TSV"
done
