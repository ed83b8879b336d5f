#!/usr/bin/env bash
# run_scale.sh - the bulk load at scale, end to end: generate N identifiers
# (bench/gendata, streamed to the file), load them into an empty store with
# `idnode load`, and report the rate over the whole run, the peak RSS (total,
# and anonymous: what the loader itself holds, beside the store's mapped
# pages), the store's bytes per identifier on disk, and the load average.
#
#   bench/run_scale.sh [BUILD_DIR [N]]
#
# Environment (defaults in brackets):
#   N [100000000]  WORK [/tmp/idn-scale]  PREFIX [88.100.1]  PROFILE [minimal]
#   MEMORY []      --load-memory MiB (empty: the loader's default, 1/4 of RAM)
#   INDEX [on]     on: the search index is made during the load and written
#                  at its end, as for a new store; off: the store's index is
#                  turned off first
#   VERIFY [1]     run `idnode verify` on the result (not timed)
#   LOAD_ARGS []   more options for `idnode load` (e.g. --no-passes: spill
#                  sorted runs rather than read a big file in key-range passes)
#   KEEP [0]       1: keep the input file for the next run (the store is
#                  always removed)
#
# The disk needed is printed first, and the run stops when the file system of
# WORK has less. Everything it made is removed on exit (the input too unless
# KEEP=1). Results: a table on stdout and $WORK/scale_results.tsv.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${1:-${BUILD:-$repo/build}}
N=${2:-${N:-100000000}}
WORK=${WORK:-/tmp/idn-scale}
PREFIX=${PREFIX:-88.100.1}
PROFILE=${PROFILE:-minimal}
MEMORY=${MEMORY:-}
INDEX=${INDEX:-on}
VERIFY=${VERIFY:-1}
KEEP=${KEEP:-0}
LOAD_ARGS=${LOAD_ARGS:-}

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD" >&2; exit 2; }
IDNODE=$BUILD/idnode
GENDATA=$BUILD/bench/gendata
need=()
[ -x "$IDNODE" ] || need+=(idnode)
[ -x "$GENDATA" ] || need+=(gendata)
[ ${#need[@]} -eq 0 ] || cmake --build "$BUILD" --target "${need[@]}" -j2 >/dev/null
case $INDEX in on|off) ;; *) echo "INDEX: on or off" >&2; exit 2 ;; esac

log() { printf '%s\n' "$*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

mkdir -p "$WORK"
input=$WORK/ids-$PROFILE-$N.jsonl
store=$WORK/store
spill=$WORK/spill
cleanup() {
  rm -rf "$store" "$spill"
  [ "$KEEP" = 1 ] || rm -f "$input"
}
trap cleanup EXIT

# Disk: measured at 1 M (minimal profile): 182 B of JSON a line; the store
# 170 B an identifier with the index off, 324-346 B with it on; spill files
# as big as the input when it does not fit in memory, plus the index's
# entries (~130 B an identifier) spilled the same way (they are deleted as
# they are made, so they never show in ls).
in_b=$((N * 185))
[ "$INDEX" = on ] && st_b=$((N * 350)) || st_b=$((N * 175))
sp_b=$in_b
[ "$INDEX" = on ] && sp_b=$((sp_b + N * 130))
[ -s "$input" ] && in_b=0
need_b=$((in_b + st_b + sp_b))
avail_b=$(( $(df -Pk "$WORK" | awk 'NR==2{print $4}') * 1024 ))
log "== run_scale: N=$N profile=$PROFILE index=$INDEX memory=${MEMORY:-default}"
log "   disk needed: $(awk -v b="$need_b" 'BEGIN{printf "%.1f", b/1e9}') GB (input $((N * 185 / 1000000)) MB, spill up to as much, store ~$((st_b / 1000000)) MB); free in $WORK: $(awk -v b="$avail_b" 'BEGIN{printf "%.1f", b/1e9}') GB"
if [ "$avail_b" -lt "$need_b" ]; then
  log "not enough disk in $WORK"; exit 2
fi

if [ ! -s "$input" ]; then
  log "-- generating $N identifiers (load average $(loadavg))"
  t0=$(now)
  "$GENDATA" -n "$N" -p "$PREFIX" --profile "$PROFILE" -o "$input" >/dev/null
  log "   $(secs "$t0" "$(now)") s, $(stat -c %s "$input") bytes"
fi

rm -rf "$store" "$spill"
mkdir -p "$spill"
if [ "$INDEX" = off ]; then
  "$IDNODE" load -q --data "$store" /dev/null
  "$IDNODE" index off --data "$store" >/dev/null
fi

# The peak anonymous RSS, sampled every 0.2 s from /proc while the load runs.
peak_anon() {
  local pid=$1 peak=0 v
  while kill -0 "$pid" 2>/dev/null; do
    v=$(awk '/^RssAnon:/{print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$v" ] && [ "$v" -gt "$peak" ] && peak=$v
    sleep 0.2
  done
  echo "$peak"
}

la0=$(loadavg)
log "-- loading (load average $la0)"
t0=$(now)
/usr/bin/time -f '%M %U %S' -o "$WORK/time.out" \
  "$IDNODE" load --data "$store" --tmp "$spill" ${MEMORY:+--load-memory "$MEMORY"} \
  $LOAD_ARGS "$input" >"$WORK/load.out" 2>"$WORK/load.err" &
tpid=$!
sleep 0.1
lpid=$(pgrep -P "$tpid" -x idnode || true)
anon=0
[ -n "$lpid" ] && anon=$(peak_anon "$lpid")
wait "$tpid"
t1=$(now)
la1=$(loadavg)
wall=$(secs "$t0" "$t1")
read -r rss ucpu scpu <"$WORK/time.out"
disk=$(du -sb "$store" | cut -f1)
# how it went: passes, or runs spilled and merged; the summary line
grep -h 'passes\|spilled\|^loaded' "$WORK/load.out" "$WORK/load.err" >&2 || true
rate=$(awk -v n="$N" -v w="$wall" 'BEGIN{printf "%.0f", n/w}')
bpi=$(awk -v d="$disk" -v n="$N" 'BEGIN{printf "%.0f", d/n}')
if [ "$VERIFY" = 1 ]; then
  log "-- verifying"
  "$IDNODE" verify --data "$store" | tail -1 >&2
fi

TSV=$WORK/scale_results.tsv
[ -s "$TSV" ] || printf 'n\tprofile\tindex\tmemory_mib\twall_s\tids_per_s\tpeak_rss_mb\tpeak_anon_mb\tcpu_user_s\tcpu_sys_s\tdisk_bytes\tbytes_per_id\tloadavg_before\tloadavg_after\n' >"$TSV"
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$PROFILE" "$INDEX" \
  "${MEMORY:-default}" "$wall" "$rate" "$((rss / 1024))" "$((anon / 1024))" "$ucpu" "$scpu" \
  "$disk" "$bpi" "$la0" "$la1" >>"$TSV"
printf '| N | index | --load-memory | whole run | identifiers/s | peak RSS | peak anon RSS | on disk | bytes/id | load avg before / after |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
printf '| %s | %s | %s | %s s | %s | %s MB | %s MB | %s MB | %s | %s / %s |\n' "$N" "$INDEX" \
  "${MEMORY:-default}" "$wall" "$rate" "$((rss / 1024))" "$((anon / 1024))" \
  "$((disk / 1000000))" "$bpi" "$la0" "$la1"
