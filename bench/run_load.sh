#!/usr/bin/env bash
# run_load.sh - bulk-load speed of `idnode load` against a bare LMDB insert of
# the same data (bench/lmdb_insert: same keys and records, sorted, MDB_APPEND,
# durable commit), in one run.
#
#   bench/run_load.sh [BUILD_DIR [N]]
#
# Environment (defaults in brackets):
#   BUILD [./build]  N [1000000]  REPEAT [1] (the two alternate; medians reported)
#   WORK [/tmp/idn-bench]  PREFIX [88.100.1]
#   CPUS []   e.g. 1: run both loaders under taskset -c CPUS
#
# Both read the same file, already in the page cache (it is read once first).
# Results: a table on stdout and $WORK/load_results.tsv.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${1:-${BUILD:-$repo/build}}
N=${2:-${N:-1000000}}
REPEAT=${REPEAT:-1}
WORK=${WORK:-/tmp/idn-bench}
PREFIX=${PREFIX:-88.100.1}
CPUS=${CPUS:-}

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD" >&2; exit 2; }
IDNODE=$BUILD/idnode
GENDATA=$BUILD/bench/gendata
LMDB_INSERT=$BUILD/bench/lmdb_insert
need=()
[ -x "$IDNODE" ] || need+=(idnode)
[ -x "$GENDATA" ] || need+=(gendata)
[ -x "$LMDB_INSERT" ] || need+=(lmdb_insert)
[ ${#need[@]} -eq 0 ] || cmake --build "$BUILD" --target "${need[@]}" -j2 >/dev/null

dir=$WORK/load
mkdir -p "$dir"
TSV=$WORK/load_results.tsv
pin=()
[ -z "$CPUS" ] || pin=(taskset -c "$CPUS")
log() { printf '%s\n' "$*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }
cleanup() { rm -rf "$dir/idnode" "$dir/lmdb"; }
trap cleanup EXIT

if [ "$(cat "$dir/n" 2>/dev/null)" != "$N" ]; then
  log "-- generating $N identifiers"
  "$GENDATA" -n "$N" -p "$PREFIX" -o "$dir/ids.jsonl" >/dev/null
  echo "$N" >"$dir/n"
fi
cat "$dir/ids.jsonl" >/dev/null   # both loaders read it from the page cache
size=$(stat -c %s "$dir/ids.jsonl")
log "== run_load: N=$N ($(awk -v s="$size" 'BEGIN{printf "%.0f", s/1e6}') MB of JSON Lines) REPEAT=$REPEAT ${CPUS:+CPUs $CPUS}"
printf 'repeat\tloader\twall_s\trecords_per_s\tinsert_records_per_s\tpeak_rss_mb\tdisk_mb\n' >"$TSV"

run_idnode() {
  rm -rf "$dir/idnode"
  local t0 t1 out rss
  t0=$(now)
  out=$(timeout 600 /usr/bin/time -f 'PEAKRSS %M' "${pin[@]}" "$IDNODE" load --data "$dir/idnode" -H "$PREFIX" "$dir/ids.jsonl" 2>&1) || { log "idnode load failed: $out"; return 0; }
  t1=$(now)
  rss=$(sed -n 's/^PEAKRSS \([0-9]*\)/\1/p' <<<"$out")
  local wall own disk
  wall=$(secs "$t0" "$t1")
  own=$(grep -o '[0-9]* identifiers/s' <<<"$out" | awk '{print $1}' | tail -1)
  disk=$(du -sm "$dir/idnode" | cut -f1)
  log "  idnode load:  $(grep -v PEAKRSS <<<"$out" | tail -1)"
  log "                wall ${wall} s = $(awk -v n="$N" -v w="$wall" 'BEGIN{printf "%.0f", n/w}') records/s, peak RSS $((rss / 1024)) MB, ${disk} MB on disk"
  printf '%s\tidnode\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$wall" "$(awk -v n="$N" -v w="$wall" 'BEGIN{printf "%.0f", n/w}')" "${own:-}" "$((rss / 1024))" "$disk" >>"$TSV"
}

run_lmdb() {
  rm -rf "$dir/lmdb"
  local t0 t1 out res rss wall disk
  t0=$(now)
  out=$(timeout 600 /usr/bin/time -f 'PEAKRSS %M' "${pin[@]}" "$LMDB_INSERT" -d "$dir/lmdb" "$dir/ids.jsonl" 2>&1) || { log "lmdb_insert failed: $out"; return 0; }
  t1=$(now)
  res=$(grep '^RESULT' <<<"$out")
  rss=$(sed -n 's/^PEAKRSS \([0-9]*\)/\1/p' <<<"$out")
  wall=$(secs "$t0" "$t1")
  disk=$(du -sm "$dir/lmdb" | cut -f1)
  log "  lmdb_insert:  $(grep -E '^  (parse|insert)' <<<"$out" | sed 's/^  //' | paste -sd ';' -)"
  log "                wall ${wall} s = $(awk -v n="$N" -v w="$wall" 'BEGIN{printf "%.0f", n/w}') records/s, peak RSS $((rss / 1024)) MB, ${disk} MB on disk"
  printf '%s\tlmdb_insert\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$wall" "$(awk -v n="$N" -v w="$wall" 'BEGIN{printf "%.0f", n/w}')" \
    "$(sed -n 's/.*insert_rps=\([0-9]*\).*/\1/p' <<<"$res")" "$((rss / 1024))" "$disk" >>"$TSV"
}

for rep in $(seq "$REPEAT"); do
  log "-- repeat $rep/$REPEAT"
  if [ $((rep % 2)) = 1 ]; then run_idnode; run_lmdb; else run_lmdb; run_idnode; fi
done

python3 - "$TSV" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter='\t'))
def med(loader, key):
    v = [float(r[key]) for r in rows if r['loader'] == loader and r[key]]
    return statistics.median(v) if v else None
i_wall, l_wall = med('idnode', 'records_per_s'), med('lmdb_insert', 'records_per_s')
l_ins, i_own = med('lmdb_insert', 'insert_records_per_s'), med('idnode', 'insert_records_per_s')
print(f"{'loader':12} {'whole run rec/s':>16} {'own figure rec/s':>17} {'peak RSS MB':>12} {'disk MB':>8}")
for name, w, own in (('idnode', i_wall, i_own), ('lmdb_insert', l_wall, l_ins)):
    if w:
        print(f"{name:12} {w:16.0f} {own or 0:17.0f} {med(name, 'peak_rss_mb') or 0:12.0f} {med(name, 'disk_mb') or 0:8.0f}")
if i_wall and l_wall:
    print(f"whole run, idnode / bare LMDB: {i_wall / l_wall:.2f}")
if i_wall and l_ins:
    print(f"idnode whole run / bare LMDB insert phase alone (parse and sort excluded): {i_wall / l_ins:.2f}")
PY
echo "(per run: $TSV)"
