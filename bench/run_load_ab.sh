#!/usr/bin/env bash
# run_load_ab.sh - `idnode load` of one file by several idnode binaries,
# alternating, each into a new store with the search index off: wall time,
# CPU user and system (/usr/bin/time), peak RSS, the passes, and the load
# average before and after each load. For A/B runs on a shared machine,
# where CPU-seconds mean more than wall time.
#
#   bench/run_load_ab.sh FILE IDNODE [IDNODE ...]
#
# Environment (defaults in brackets):
#   ROUNDS [2]  MEMORY [512] (--load-memory MiB)  WORK [/tmp/idn-load-ab]
#   LOAD_ARGS [] more options for every load
# Results: one line per load on stdout and in $WORK/load_ab.tsv; the stores
# are removed after each load.
set -euo pipefail

[ $# -ge 2 ] || { sed -n '2,16p' "$0" >&2; exit 2; }
file=$1
shift
ROUNDS=${ROUNDS:-2}
MEMORY=${MEMORY:-512}
WORK=${WORK:-/tmp/idn-load-ab}
LOAD_ARGS=${LOAD_ARGS:-}
[ -s "$file" ] || { echo "no input $file" >&2; exit 2; }
mkdir -p "$WORK"
store=$WORK/store
trap 'rm -rf "$store" "$WORK/spill"' EXIT
cat "$file" >/dev/null # in the page cache for every load
TSV=$WORK/load_ab.tsv
[ -s "$TSV" ] || printf 'round\tbinary\twall_s\tuser_s\tsys_s\tpeak_rss_mb\tpasses\tloadavg_before\tloadavg_after\n' >"$TSV"
for r in $(seq 1 "$ROUNDS"); do
  for bin in "$@"; do
    rm -rf "$store" "$WORK/spill"
    mkdir -p "$WORK/spill"
    "$bin" load -q --data "$store" /dev/null
    "$bin" index off --data "$store" >/dev/null
    la0=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/time.out" "$bin" load --data "$store" \
      --tmp "$WORK/spill" --load-memory "$MEMORY" $LOAD_ARGS "$file" >/dev/null 2>"$WORK/load.err"
    la1=$(cut -d' ' -f1 /proc/loadavg)
    read -r wall u s m <"$WORK/time.out"
    passes=$(grep -o 'in [0-9]* passes' "$WORK/load.err" | grep -o '[0-9]*' || echo 1)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$bin" "$wall" "$u" "$s" "$((m / 1024))" \
      "$passes" "$la0" "$la1" | tee -a "$TSV"
  done
done
