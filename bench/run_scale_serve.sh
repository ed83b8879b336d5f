#!/usr/bin/env bash
# run_scale_serve.sh - resolution and writes at scale (issue 15, points 2 and
# 4): one store of N identifiers (default 100 M), served by `idnode serve
# --threads 1` pinned to SERVER_CPU, hdlblast / hdladmin on CLIENT_CPU.
#
#   bench/run_scale_serve.sh [BUILD_DIR [N]]
#
# Phases (PHASES, default all of "sizes warm cold writes"):
#   sizes  stores of 1 M and 10 M identifiers (SIZES): bytes per identifier on
#          disk and the server's anonymous RSS after a warm run, beside N's
#   warm   uniform and Zipf (s = ZIPF) queries over the N identifiers, once the
#          node is warm: closed loop (answers/s, p50/p99) and open loop at
#          RATE requests/s (p50/p99), with answers per server CPU-second
#   cold   for each warm-up mode in COLD_MODES (`serve --warm`): stop the
#          node, drop the page cache (sync; echo 3 > drop_caches: root), start
#          it, and run 1-second closed-loop steps (a fresh slice of the query
#          file each) until WARM_FRAC of the warm rate is reached for 3 steps
#          in a row, or COLD_MAX seconds from the start (each step takes 1-3 s:
#          the client's start-up and drain); the time to warm is from the start
#          of the node to the first of those 3 steps. Uniform queries for every
#          mode, Zipf for the first mode
#   writes authenticated creates (bench/hdladmin, CLIENTS clients with
#          sessions, WRITES creates) into the N store and into an empty one
#          (both with the search index off): the ratio
#
# Environment (defaults in brackets):
#   N [100000000]  WORK [/tmp/idn-scale-serve]  PREFIX [88.100.1]
#   STORE []       an existing store of N identifiers (from an earlier KEEP=1
#                  run, or run_scale.sh's), used as is; else one is built
#                  (gendata, then `idnode load` with the index off)
#   KEEP [0]       1: keep the store built here ($WORK/store) for the next run
#                  (it is reused when present)
#   SIZES ["1000000 10000000"]  QUERIES [4000000] per query file
#   ZIPF [1]  RATE [5000]  DUR [20] seconds per warm run
#   COLD_MODES ["off tree all"]  WARM_FRAC [0.9]  COLD_MAX [300]
#   CLIENTS [16]  WRITES [100000]
#   SERVER_CPU [1]  CLIENT_CPU [0]  PORT [27641]
#
# The disk needed is printed first, and the run stops when WORK's file system
# has less. Everything it made is removed on exit (the store too unless
# KEEP=1; a STORE given is never removed, but the writes phase adds its
# creates to it). Results: lines on stderr, $WORK/scale_serve.tsv, and a
# summary on stdout. The load average is printed at every phase: other
# processes on the machine move the rates, less so the answers per CPU-second.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${1:-${BUILD:-$repo/build}}
N=${2:-${N:-100000000}}
WORK=${WORK:-/tmp/idn-scale-serve}
PREFIX=${PREFIX:-88.100.1}
STORE=${STORE:-}
KEEP=${KEEP:-0}
PHASES=${PHASES:-"sizes warm cold writes"}
SIZES=${SIZES:-"1000000 10000000"}
QUERIES=${QUERIES:-4000000}
ZIPF=${ZIPF:-1}
RATE=${RATE:-5000}
DUR=${DUR:-20}
COLD_MODES=${COLD_MODES:-"off tree all"}
WARM_FRAC=${WARM_FRAC:-0.9}
COLD_MAX=${COLD_MAX:-300}
CLIENTS=${CLIENTS:-16}
WRITES=${WRITES:-100000}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
PORT=${PORT:-27641}

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD" >&2; exit 2; }
IDNODE=$BUILD/idnode
GENDATA=$BUILD/bench/gendata
HDLBLAST=$BUILD/bench/hdlblast
HDLADMIN=$BUILD/bench/hdladmin
need=()
for t in idnode bench/gendata bench/hdlblast bench/hdladmin; do
  [ -x "$BUILD/$t" ] || need+=("${t#bench/}")
done
[ ${#need[@]} -eq 0 ] || cmake --build "$BUILD" --target "${need[@]}" -j2 >/dev/null
CLK_TCK=$(getconf CLK_TCK)

log() { printf '%s\n' "$*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
anon_mb() { awk '/^RssAnon:/{printf "%.0f", $2/1024}' "/proc/$1/status"; }
file_mb() { awk '/^RssFile:/{printf "%.0f", $2/1024}' "/proc/$1/status"; }
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
TSV=$WORK/scale_serve.tsv
printf 'phase\tset\tmode\tt_s\tqps\tper_cpu_s\tp50_us\tp99_us\tserver_cpu_pct\tanon_mb\tloadavg\n' >"$TSV"
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" "$(loadavg)" >>"$TSV"; }

# ---- disk: measured at 1 M (run_scale.sh): 182 B of JSON a line, 170 B a
# stored identifier with the index off; the input is deleted once loaded ----
store=${STORE:-$WORK/store}
big_b=0
if [ -z "$STORE" ] && [ ! -f "$WORK/store/data.mdb" ] && [[ " $PHASES " =~ \ (warm|cold|writes)\  ]]; then
  big_b=$((N * 185 + N * 180))
fi
small_b=0
for n in $SIZES; do small_b=$((small_b + n * 365)); done
need_b=$((big_b + small_b + QUERIES * 80 + WRITES * 2000 + (1 << 30)))
avail_b=$(($(df -Pk "$WORK" | awk 'NR==2{print $4}') * 1024))
log "== run_scale_serve: N=$N store=$store phases='$PHASES' server CPU $SERVER_CPU, client CPU $CLIENT_CPU"
log "   disk needed: $(awk -v b="$need_b" 'BEGIN{printf "%.1f", b/1e9}') GB (the N store and its input while it loads: $((big_b / 1000000)) MB; the SIZES stores: $((small_b / 1000000)) MB); free in $WORK: $(awk -v b="$avail_b" 'BEGIN{printf "%.1f", b/1e9}') GB"
[ "$avail_b" -ge "$need_b" ] || { log "not enough disk in $WORK"; exit 2; }

pid=
made=()
stop_node() {
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
}
cleanup() {
  stop_node
  rm -rf "${made[@]}" "$WORK/q" "$WORK/admin"
  [ -n "$STORE" ] || [ "$KEEP" = 1 ] || rm -rf "$WORK/store"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# build_store DIR N: gendata, then `idnode load` into an empty store, index off
build_store() {
  local dir=$1 n=$2 t0
  made+=("$dir.jsonl" "$dir.spill")
  rm -rf "$dir"
  log "-- $n identifiers: generating (load average $(loadavg))"
  t0=$(now)
  "$GENDATA" -n "$n" -p "$PREFIX" -o "$dir.jsonl" >/dev/null 2>&1
  log "   $(secs "$t0" "$(now)") s; loading (load average $(loadavg))"
  "$IDNODE" load -q --data "$dir" /dev/null
  "$IDNODE" index off --data "$dir" >/dev/null
  mkdir -p "$dir.spill"
  t0=$(now)
  "$IDNODE" load -q --data "$dir" --tmp "$dir.spill" "$dir.jsonl"
  log "   loaded in $(secs "$t0" "$(now)") s ($(awk -v n="$n" -v w="$(secs "$t0" "$(now)")" 'BEGIN{printf "%.0f", n/w}') identifiers/s); load average $(loadavg)"
  rm -rf "$dir.jsonl" "$dir.spill"
}
bytes_per_id() { awk -v d="$(du -sb "$1" | cut -f1)" -v n="$2" 'BEGIN{printf "%.0f", d/n}'; }

# start_node DIR [serve options...]: pinned, waits until it answers (at most 120 s)
start_node() {
  local dir=$1 q1
  shift
  q1=$(head -1 "${PROBE:-$WORK/q/uniform.txt}")
  setsid taskset -c "$SERVER_CPU" "$IDNODE" serve --data "$dir" --listen "127.0.0.1:$PORT" \
    --home "$PREFIX" --threads 1 --udp-rate-limit 100000000 "$@" >"$WORK/serve.log" 2>&1 </dev/null &
  pid=$!
  for i in $(seq 1200); do
    "$IDNODE" resolve "$q1" --server "127.0.0.1:$PORT" --timeout 1000 >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { log "idnode exited:"; cat "$WORK/serve.log" >&2; exit 1; }
    [ "$i" = 1200 ] && { log "idnode does not answer"; exit 1; }
    sleep 0.1
  done
  taskset -a -p -c "$SERVER_CPU" "$pid" >/dev/null
}

# blast LABEL QUERYFILE SECS [hdlblast options]: one client run; prints
# "qps per_cpu_s p50 p99 cpu_pct" and adds a row
blast() {
  local label=$1 set=$2 qf=$3 d=$4 c0 c1 w0 out res qps cpu per
  shift 4
  c0=$(cpu_ticks "$pid")
  w0=$(now)
  out=$(timeout $((d + 30)) taskset -c "$CLIENT_CPU" "$HDLBLAST" -m udp -p "$PORT" -f "$qf" -l "$d" \
    -k 16 -w 8 -b 32 -T 2000 -q "$@" 2>&1) || true
  c1=$(cpu_ticks "$pid")
  res=$(grep '^RESULT' <<<"$out" || true)
  [ -n "$res" ] || { log "   $label: no result: $out"; echo "0 0 0 0 0"; return 0; }
  qps=$(field qps "$res")
  # the server's CPU over the client's whole run (start-up and drain
  # included, when the server is idle): per CPU-second is then the answers
  # (qps over the measured d seconds, those after it) over all of that CPU
  cpu=$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" -v w="$(secs "$w0" "$(now)")" 'BEGIN{printf "%.0f", 100*(b-a)/t/w}')
  per=$(awk -v q="$qps" -v d="$d" -v a="$c0" -v b="$c1" -v t="$CLK_TCK" 'BEGIN{printf "%.0f", (b > a ? q * d * t / (b - a) : 0)}')
  row "$label" "$set" "${MODE:-}" "${T:-}" "$qps" "$per" "$(field p50_us "$res")" "$(field p99_us "$res")" "$cpu" "$(anon_mb "$pid")"
  echo "$qps $per $(field p50_us "$res") $(field p99_us "$res") $cpu"
}

# ---- query files: uniform and Zipf over the N identifiers ----
mkdir -p "$WORK/q"
"$GENDATA" -n "$N" -p "$PREFIX" --queries-only -q "$WORK/q/uniform.txt" -Q "$QUERIES"
"$GENDATA" -n "$N" -p "$PREFIX" --queries-only -q "$WORK/q/zipf.txt" -Q "$QUERIES" -z "$ZIPF"
# 1-second slices for the cold steps: each step asks identifiers not asked before
(cd "$WORK/q" && split -l 250000 -d -a 3 uniform.txt u. && split -l 250000 -d -a 3 zipf.txt z.)

# ---- the N store ----
bpi_n=-
if [[ " $PHASES " =~ \ (warm|cold|writes)\  ]]; then
  if [ -z "$STORE" ] && [ ! -f "$store/data.mdb" ]; then build_store "$store" "$N"; fi
  [ -f "$store/data.mdb" ] || { log "$store: no LMDB store there"; exit 2; }
  bpi_n=$(bytes_per_id "$store" "$N")
  log "   store $store: $(du -sb "$store" | cut -f1) bytes, $bpi_n bytes per identifier"
fi

declare -A warm_qps
summary=()

# ---- sizes: bytes per identifier and anonymous RSS at smaller stores ----
if [[ " $PHASES " == *" sizes "* ]]; then
  for n in $SIZES; do
    d=$WORK/store-$n
    made+=("$d")
    build_store "$d" "$n"
    bpi=$(bytes_per_id "$d" "$n")
    # queries over this store's identifiers (the same names as the N store's first n)
    "$GENDATA" -n "$n" -p "$PREFIX" --queries-only -q "$WORK/q/small.txt" -Q 1000000
    PROBE=$WORK/q/small.txt start_node "$d"
    read -r q per p50 p99 cpu < <(blast sizes "n=$n" "$WORK/q/small.txt" 10)
    a=$(anon_mb "$pid")
    stop_node
    rm -rf "$d"
    log "   n=$n: $bpi bytes/identifier on disk; warm uniform $q answers/s ($per per server CPU-s), anonymous RSS $a MB; load average $(loadavg)"
    summary+=("| N=$n: $bpi bytes/identifier, anonymous RSS $a MB, warm uniform | $q | $per | $p50 | $p99 |")
  done
fi

# ---- warm ----
if [[ " $PHASES " == *" warm "* ]]; then
  start_node "$store"
  log "-- warm: getting the node warm: its warm-up done, then uniform runs until two 5-second runs agree within 5% (at most 40)"
  for i in $(seq 1200); do
    grep -q 'warm-up (all) done' "$WORK/serve.log" && break
    sleep 0.5
  done
  log "   $(grep 'warm-up' "$WORK/serve.log" | tail -1)"
  prev=0
  for i in $(seq 40); do
    read -r q _ < <(MODE=warming blast warming uniform "$WORK/q/uniform.txt" 5)
    log "   warming run $i: $q answers/s, server file RSS $(file_mb "$pid") MB; load average $(loadavg)"
    awk -v a="$prev" -v b="$q" 'BEGIN{exit !(a > 0 && b > 0 && (b - a) / a < 0.05 && (a - b) / a < 0.05)}' && break
    prev=$q
  done
  for set in uniform zipf; do
    read -r q per p50 p99 cpu < <(MODE=closed blast warm "$set" "$WORK/q/$set.txt" "$DUR")
    warm_qps[$set]=$q
    log "   warm $set closed loop: $q answers/s, $per per server CPU-s, p50 $p50 us, p99 $p99 us, server CPU $cpu%; load average $(loadavg)"
    summary+=("| warm $set closed loop | $q | $per | $p50 | $p99 |")
    read -r q per p50 p99 cpu < <(MODE=rate$RATE blast warm "$set" "$WORK/q/$set.txt" "$DUR" -r "$RATE")
    log "   warm $set at $RATE/s: $q answers/s, $per per server CPU-s, p50 $p50 us, p99 $p99 us, server CPU $cpu%; load average $(loadavg)"
    summary+=("| warm $set at $RATE/s | $q | $per | $p50 | $p99 |")
  done
  log "   server anonymous RSS at N=$N: $(anon_mb "$pid") MB (file-backed: $(file_mb "$pid") MB)"
  summary+=("| anonymous RSS at $N | $(anon_mb "$pid") MB | | | |")
fi

# ---- cold: restart with the page cache dropped, 1-second steps ----
if [[ " $PHASES " == *" cold "* ]]; then
  first=1
  for mode in $COLD_MODES; do
    sets=uniform
    [ "$first" = 1 ] && sets="uniform zipf"
    first=0
    for set in $sets; do
      target=$(awk -v w="${warm_qps[$set]:-0}" -v f="$WARM_FRAC" 'BEGIN{printf "%.0f", w*f}')
      stop_node
      sync
      echo 3 >/proc/sys/vm/drop_caches
      log "-- cold: --warm $mode, $set queries, page cache dropped; target $target answers/s ($WARM_FRAC of warm); load average $(loadavg)"
      t0=$(now)
      start_node "$store" --warm "$mode"
      log "   answering after $(secs "$t0" "$(now)") s"
      pfx=u
      [ "$set" = zipf ] && pfx=z
      streak=0 warm_at=
      for step in $(seq 0 $((COLD_MAX - 1))); do
        awk -v a="$t0" -v b="$(now)" -v m="$COLD_MAX" 'BEGIN{exit !(b - a >= m)}' && break
        sl=$(printf '%s/q/%s.%03d' "$WORK" "$pfx" $((step % 1000)))
        [ -f "$sl" ] || sl=$WORK/q/$set.txt
        T=$(secs "$t0" "$(now)")
        read -r q per p50 p99 cpu < <(MODE=$mode T=$T blast cold "$set" "$sl" 1)
        log "   t=${T}s: $q answers/s, $per per server CPU-s, p50 $p50 us, p99 $p99 us, server CPU $cpu%"
        if [ "$target" -gt 0 ] && [ "${q%.*}" -ge "$target" ]; then
          streak=$((streak + 1))
          [ "$streak" = 1 ] && warm_at=$T
          [ "$streak" -ge 3 ] && break
        else
          streak=0 warm_at=
        fi
      done
      [ "$streak" -ge 3 ] || warm_at=">$COLD_MAX"
      log "   --warm $mode, $set: warm after $warm_at s; $(grep 'warm-up' "$WORK/serve.log" | tail -1); load average $(loadavg)"
      summary+=("| cold --warm $mode $set: time to warm | $warm_at s | | | |")
      row time_to_warm "$set" "$mode" "$warm_at" "" "" "" "" "" ""
    done
  done
fi
stop_node

# ---- writes: authenticated creates into the N store and into an empty one ----
if [[ " $PHASES " == *" writes "* ]]; then
  adm=$WORK/admin
  mkdir -p "$adm"
  secret=bench-secret-$RANDOM$RANDOM
  printf '%s\n' "$secret" >"$adm/secret"
  hex() { od -An -v -tx1 | tr -d ' \n'; }
  admin_hex=$( { printf '\x0f\xff'; printf '\x00\x00\x00\x0d0.NA/%s' "$PREFIX"; printf '\x00\x00\x01\x2c'; } | hex)
  printf '{"handle":"0.NA/%s","values":[{"index":100,"type":"HS_ADMIN","data":{"format":"hex","value":"%s"}},{"index":300,"type":"HS_SECKEY","data":{"format":"hex","value":"%s"},"perms":12}]}\n' \
    "$PREFIX" "$admin_hex" "$(printf '%s' "$secret" | hex)" >"$adm/prefix.jsonl"
  "$IDNODE" load -q --data "$adm/empty" /dev/null
  "$IDNODE" index off --data "$adm/empty" >/dev/null
  declare -A wrate
  for target in empty big; do
    d=$adm/empty
    [ "$target" = big ] && d=$store
    "$IDNODE" load -q --data "$d" "$adm/prefix.jsonl"
    echo "0.NA/$PREFIX" >"$adm/probe"
    PROBE=$adm/probe start_node "$d" --home 0.NA
    tag=w$(date +%s)$target
    out=$(timeout 600 taskset -c "$CLIENT_CPU" "$HDLADMIN" --server "127.0.0.1:$PORT" --id "300:0.NA/$PREFIX" \
      --secret-file "$adm/secret" --prefix "$PREFIX" --clients "$CLIENTS" --window 16 --count "$WRITES" \
      --tag "$tag" --session -q) || { log "hdladmin failed: $out"; exit 1; }
    "$IDNODE" resolve --server "127.0.0.1:$PORT" "$PREFIX/$tag-0-0" >/dev/null ||
      { log "$PREFIX/$tag-0-0 acknowledged but does not resolve"; exit 1; }
    stop_node
    res=$(grep '^RESULT' <<<"$out")
    wrate[$target]=$(field rate "$res")
    log "   creates into the $target store: $(field rate "$res")/s, p50 $(field p50_ms "$res") ms, p99 $(field p99_ms "$res") ms, errors $(field errors "$res"); load average $(loadavg)"
    row writes "$target" "$CLIENTS clients" "" "$(field rate "$res")" "" "$(field p50_ms "$res")ms" "$(field p99_ms "$res")ms" "" ""
  done
  ratio=$(awk -v a="${wrate[big]}" -v b="${wrate[empty]}" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')
  summary+=("| creates/s, $CLIENTS clients: N store / empty store | ${wrate[big]} / ${wrate[empty]} = $ratio | | | |")
fi

printf '| N=%s, %s bytes per identifier on disk | answers/s | per server CPU-s | p50 us | p99 us |\n|---|---|---|---|---|\n' "$N" "$bpi_n"
printf '%s\n' "${summary[@]}"
echo "(per run: $TSV)"
