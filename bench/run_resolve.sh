#!/usr/bin/env bash
# run_resolve.sh - resolution throughput and latency of idnode against Knot DNS
# (the anchor), in one run, on the same number of records, with the same
# client (bench/hdlblast: Handle for idnode, DNS for Knot), the same client
# settings, threads and CPU pinning: server on SERVER_CPU, client on CLIENT_CPU.
#
#   bench/run_resolve.sh [BUILD_DIR [N [SECONDS]]]
#
# Environment (defaults in brackets):
#   PROFILE [minimal]  the records (bench/gendata --profile minimal|template|
#                    mixed). minimal: Knot serves the anchors' zone (~212-byte
#                    answers, as idnode's 150-250); any other: Knot serves
#                    gendata's zone of the same N, one TXT record per
#                    identifier with a DNS answer as long as that identifier's
#                    Handle answer, and answers over 512 bytes are allowed on
#                    both sides over UDP (Knot udp-max-payload 4096 with EDNS
#                    queries, hdlblast -e 4096; idnode --udp-answer-max 4096
#                    --udp-amplification 100: a Handle answer goes out as
#                    512-byte datagrams, a DNS answer as one)
#   BUILD [./build]  N [1000000]  DUR [20] seconds per client run
#   REPEAT [1]       runs per server and mode; the two servers alternate, and
#                    which goes first alternates too; medians are reported
#   MODES ["udp tcp"]  udp: Handle/UDP vs DNS/UDP; tcp: persistent pipelined
#                    connections, Handle/TCP vs DNS/TCP; tcp1 (idnode only):
#                    one connection per request, the reference client's way
#   UDP_ARGS ["-k 16 -w 8 -b 32"]  (= udpblast -c 16 -w 8 -b 32, the anchors' setting)
#   TCP_ARGS ["-k 8 -w 8 -b 8"]    8 connections x 8 pipelined requests
#   TCP1_ARGS ["-c 32"]
#   WORK [/tmp/idn-bench]  zone, data and logs (reused when N matches)
#   SHARED [<repo>/../shared]  CLIENT_CPU [0]  SERVER_CPU [1]
#   KNOT_PORT [5300]  IDN_PORT [2641]  PREFIX [88.100.1]
#   SKIP_KNOT / SKIP_IDNODE [0]  UDPBLAST [1]: also run the anchors' udpblast
#   on Knot once, to show hdlblast is not the bottleneck
#   STATS_OFF [0]: 1 also starts a second idnode on the same store with
#   --no-stats (IDN_PORT + 1, same CPU) and runs it beside the first (whose
#   statistics are on, the default), alternating which goes first: the cost
#   of the statistics, each run and the medians (SKIP_KNOT=1 to leave Knot out)
#   B_ARGS [none]: a second idnode on the same store with these serve options
#   added (e.g. "--no-udp-gso"), run beside the first as STATS_OFF=1 runs
#   "--no-stats" (which is B_ARGS="--no-stats"): each run, the medians, and the
#   ratio per CPU-second of the first to the second
#
# Every client run is bounded (timeout), servers are stopped on exit (trap).
# Results: a table on stdout and $WORK/resolve_results.tsv.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${1:-${BUILD:-$repo/build}}
N=${2:-${N:-1000000}}
DUR=${3:-${DUR:-20}}
REPEAT=${REPEAT:-1}
MODES=${MODES:-"udp tcp"}
UDP_ARGS=${UDP_ARGS:-"-k 16 -w 8 -b 32"}
TCP_ARGS=${TCP_ARGS:-"-k 8 -w 8 -b 8"}
TCP1_ARGS=${TCP1_ARGS:-"-c 32"}
WORK=${WORK:-/tmp/idn-bench}
SHARED=${SHARED:-$repo/../shared}
CLIENT_CPU=${CLIENT_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
KNOT_PORT=${KNOT_PORT:-5300}
IDN_PORT=${IDN_PORT:-2641}
PREFIX=${PREFIX:-88.100.1}
SKIP_KNOT=${SKIP_KNOT:-0}
SKIP_IDNODE=${SKIP_IDNODE:-0}
STATS_OFF=${STATS_OFF:-0}
B_ARGS=${B_ARGS:-}
[ "$STATS_OFF" = 1 ] && B_ARGS="--no-stats"
UDPBLAST=${UDPBLAST:-1}
PROFILE=${PROFILE:-minimal}
case $PROFILE in minimal | template | mixed) ;; *) echo "PROFILE=$PROFILE: minimal, template or mixed" >&2; exit 2 ;; esac
big=$([ "$PROFILE" = minimal ] && echo 0 || echo 1)
# where each profile's data and zone live (minimal: the paths of older runs)
sfx=$([ "$PROFILE" = minimal ] && echo "" || echo "-$PROFILE")

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD (cmake -B build && cmake --build build)" >&2; exit 2; }
anchors=$SHARED/bench/anchors.sh
HDLBLAST=$BUILD/bench/hdlblast
GENDATA=$BUILD/bench/gendata
IDNODE=$BUILD/idnode
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
TSV=$WORK/resolve_results.tsv
CLK_TCK=$(getconf CLK_TCK)

need_targets=()
[ -x "$HDLBLAST" ] || need_targets+=(hdlblast)
[ -x "$GENDATA" ] || need_targets+=(gendata)
[ "$SKIP_IDNODE" = 1 ] || [ -x "$IDNODE" ] || need_targets+=(idnode)
if [ ${#need_targets[@]} -gt 0 ]; then
  cmake --build "$BUILD" --target "${need_targets[@]}" -j2 >/dev/null
fi

# ---- process bookkeeping: only what this script started ----
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  pids=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }
mem() {  # "rss=..MB hwm=..MB anon=..MB file=..MB" of a pid
  awk '/^VmRSS/{r=$2} /^VmHWM/{h=$2} /^RssAnon/{a=$2} /^RssFile/{f=$2}
       END{printf "rss=%.0fMB hwm=%.0fMB anon=%.0fMB file=%.0fMB", r/1024, h/1024, a/1024, f/1024}' "/proc/$1/status"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }

# ---- one client run: server label, pid, mode, args ----
run_client() {  # label pid mode port queries args...
  local label=$1 pid=$2 mode=$3 port=$4 qf=$5; shift 5
  local c0 c1 out res
  c0=$(cpu_ticks "$pid")
  out=$(timeout $((DUR + 60)) taskset -c "$CLIENT_CPU" "$HDLBLAST" -m "$mode" -p "$port" -f "$qf" -l "$DUR" "$@" 2>&1) || true
  c1=$(cpu_ticks "$pid")
  res=$(grep '^RESULT' <<<"$out" || true)
  if [ -z "$res" ]; then
    log "  $label $mode: no result:"; log "$out"; return 0
  fi
  local scpu
  scpu=$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" -v d="$DUR" 'BEGIN{printf "%.0f", 100*(b-a)/t/d}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$label" "$mode" "$(field qps "$res")" \
    "$(field p50_us "$res")" "$(field p99_us "$res")" "$(field p999_us "$res")" "$(field lost "$res")" \
    "$(( $(field errors "$res") + $(field bad "$res") + $(field mismatch "$res") ))" "$scpu" "$(field client_cpu_pct "$res")" >>"$TSV"
  log "  $(printf '%-6s %-7s' "$label" "$mode") qps=$(field qps "$res") p50=$(field p50_us "$res")us p99=$(field p99_us "$res")us p99.9=$(field p999_us "$res")us lost=$(field lost "$res") ok=$(field ok "$res") notfound=$(field notfound "$res") errors=$(field errors "$res") mismatch=$(field mismatch "$res") server_cpu=${scpu}% client_cpu=$(field client_cpu_pct "$res")%"
}

log "== run_resolve: PROFILE=$PROFILE N=$N DUR=${DUR}s REPEAT=$REPEAT MODES='$MODES' server CPU $SERVER_CPU, client CPU $CLIENT_CPU; load average $(cut -d' ' -f1-3 /proc/loadavg)"
log "   udp: $UDP_ARGS   tcp: $TCP_ARGS   tcp1: $TCP1_ARGS   (hdlblast options, same for both servers)"
printf 'repeat\tserver\tmode\tqps\tp50_us\tp99_us\tp999_us\tlost\terrors\tserver_cpu_pct\tclient_cpu_pct\n' >"$TSV"

# ---- data: idnode's identifiers (and, for a profile other than minimal, Knot's zone) ----
ddir=$WORK/idnode$sfx
zdir=$WORK/anchor$sfx
mkdir -p "$ddir"
if [ "$SKIP_IDNODE" != 1 ] || [ "$big" = 1 ]; then
  if [ "$(cat "$ddir/n" 2>/dev/null)" != "$N" ] || [ ! -d "$ddir/data" ]; then
    log "-- $N identifiers, profile $PROFILE: generate, load"
    rm -rf "$ddir/data" "$ddir/n"
    zargs=()
    [ "$big" = 1 ] && { rm -rf "$zdir"; zargs=(-Z "$zdir"); }
    "$GENDATA" -n "$N" --profile "$PROFILE" -p "$PREFIX" -o "$ddir/ids.jsonl" -q "$ddir/queries.txt" \
      -Q 1000000 "${zargs[@]}" 2>"$ddir/sizes.txt" >/dev/null
    [ "$big" = 1 ] && echo "$N" >"$zdir/n"
    "$IDNODE" load --data "$ddir/data" -H "$PREFIX" "$ddir/ids.jsonl" >&2
    rm -f "$ddir/ids.jsonl"
    echo "$N" >"$ddir/n"
  fi
  [ -f "$ddir/sizes.txt" ] || "$GENDATA" -n "$N" --profile "$PROFILE" -p "$PREFIX" -o /dev/null 2>"$ddir/sizes.txt" >/dev/null
  sed 's/^/   /' "$ddir/sizes.txt" >&2
fi

# ---- Knot ----
KNOT_PID=
if [ "$SKIP_KNOT" != 1 ]; then
  if ! command -v knotd >/dev/null || ! command -v kdig >/dev/null; then "$anchors" setup >&2; fi
  if [ "$big" != 1 ] && [ "$(cat "$zdir/n" 2>/dev/null)" != "$N" ]; then
    log "-- zone of $N TXT records"
    rm -rf "$zdir"
    "$anchors" zone "$zdir" "$N" >&2
    echo "$N" >"$zdir/n"
  fi
  log "-- starting Knot on CPU $SERVER_CPU"
  t0=$(date +%s.%N)
  KNOT_PID=$("$anchors" knot "$zdir" "$KNOT_PORT" "$SERVER_CPU")
  pids+=("$KNOT_PID")
  if [ "$big" = 1 ]; then
    # the anchors' configuration, with UDP answers up to 4096 bytes (EDNS)
    kill "$KNOT_PID"
    for _ in $(seq 50); do kill -0 "$KNOT_PID" 2>/dev/null || break; sleep 0.1; done
    grep -q udp-max-payload "$zdir/knot/knot.conf" ||
      sed -i 's/^server:$/server:\n    udp-max-payload: 4096/' "$zdir/knot/knot.conf"
    setsid taskset -c "$SERVER_CPU" knotd -c "$zdir/knot/knot.conf" -s "$zdir/knot/run/knot.sock" \
      >"$zdir/knot/log" 2>&1 </dev/null &
    KNOT_PID=$!
    pids+=("$KNOT_PID")
    q1=$(head -1 "$zdir/queries.txt" | cut -d' ' -f1)
    for i in $(seq 300); do
      kdig +retry=0 +timeout=1 +bufsize=4096 @127.0.0.1 -p "$KNOT_PORT" "$q1" TXT 2>/dev/null | grep -q NOERROR && break
      [ "$i" = 300 ] && { log "knot does not answer"; exit 1; }
      sleep 0.1
    done
    taskset -a -p -c "$SERVER_CPU" "$KNOT_PID" >/dev/null
    log "   knot: $(kdig +bufsize=4096 @127.0.0.1 -p "$KNOT_PORT" "$q1" TXT | grep -o 'Received [0-9]* B')"
  fi
  log "   knot pid $KNOT_PID answering after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s; memory after zone load: $(mem "$KNOT_PID")"
fi

# ---- idnode ----
IDN_PID=
if [ "$SKIP_IDNODE" != 1 ]; then
  log "-- starting idnode on CPU $SERVER_CPU"
  udp_big=()
  [ "$big" = 1 ] && udp_big=(--udp-answer-max 4096 --udp-amplification 100)
  # The client sends ~200k requests/s from one loopback source: over the
  # default UDP rate limit per source network (200/s). An explicit high limit
  # keeps every answer while the limit still runs per packet (its cost is
  # measured); the UDP answer budget keeps its default (the bench's answers,
  # 160-250 bytes to ~85-byte requests, are within 10x).
  setsid taskset -c "$SERVER_CPU" "$IDNODE" serve --data "$ddir/data" --listen "127.0.0.1:$IDN_PORT" \
    --home "$PREFIX" --threads 1 --udp-rate-limit 100000000 "${udp_big[@]}" >"$WORK/idnode.log" 2>&1 </dev/null &
  IDN_PID=$!
  pids+=("$IDN_PID")
  first=$(head -1 "$ddir/queries.txt")
  for i in $(seq 100); do
    "$IDNODE" resolve "$first" --server "127.0.0.1:$IDN_PORT" --timeout 300 >/dev/null 2>&1 && break
    kill -0 "$IDN_PID" 2>/dev/null || { log "idnode exited:"; cat "$WORK/idnode.log" >&2; exit 1; }
    [ "$i" = 100 ] && { log "idnode does not answer"; exit 1; }
    sleep 0.1
  done
  taskset -a -p -c "$SERVER_CPU" "$IDN_PID" >/dev/null
  # The node reads its data file into the page cache at start (store warm, on
  # a thread of its own): CPU time and disk reads that are not answering.
  # Measure after it: when in a second the node's CPU time grows by under 3
  # ticks and it reads under 1 MB (/proc/PID/io rchar), at most 300 s.
  rchar() { awk '/^rchar/{print $2}' "/proc/$1/io"; }
  for i in $(seq 300); do
    c0=$(cpu_ticks "$IDN_PID") r0=$(rchar "$IDN_PID"); sleep 1
    c1=$(cpu_ticks "$IDN_PID") r1=$(rchar "$IDN_PID")
    [ $((c1 - c0)) -lt 3 ] && [ $((r1 - r0)) -lt 1048576 ] && break
  done
  log "   idnode pid $IDN_PID idle after ${i} s; memory after start: $(mem "$IDN_PID")"
fi
OFF_PID=
if [ -n "$B_ARGS" ] && [ -n "$IDN_PID" ]; then
  # the same node and store with B_ARGS, idle while the other runs
  setsid taskset -c "$SERVER_CPU" "$IDNODE" serve --data "$ddir/data" --listen "127.0.0.1:$((IDN_PORT + 1))" \
    --home "$PREFIX" --threads 1 --udp-rate-limit 100000000 "${udp_big[@]}" $B_ARGS \
    >"$WORK/idnode-b.log" 2>&1 </dev/null &
  OFF_PID=$!
  pids+=("$OFF_PID")
  for i in $(seq 100); do
    "$IDNODE" resolve "$first" --server "127.0.0.1:$((IDN_PORT + 1))" --timeout 300 >/dev/null 2>&1 && break
    [ "$i" = 100 ] && { log "idnode $B_ARGS does not answer"; exit 1; }
    sleep 0.1
  done
  taskset -a -p -c "$SERVER_CPU" "$OFF_PID" >/dev/null
  log "   idnode $B_ARGS pid $OFF_PID on port $((IDN_PORT + 1))"
fi

# ---- the runs, alternating servers ----
dns_extra=$([ "$big" = 1 ] && echo "-e 4096" || true)
for rep in $(seq "$REPEAT"); do
  log "-- repeat $rep/$REPEAT"
  for m in $MODES; do
    case $m in
      udp) args=$UDP_ARGS dmode=dnsudp ;;
      tcp) args=$TCP_ARGS dmode=dnstcp ;;
      tcp1) args=$TCP1_ARGS dmode= ;;
      *) log "unknown mode $m"; exit 2 ;;
    esac
    order="knot idnode nostats"
    [ $((rep % 2)) = 0 ] && order="nostats idnode knot"
    for s in $order; do
      # shellcheck disable=SC2086
      if [ "$s" = knot ] && [ -n "$KNOT_PID" ] && [ -n "$dmode" ]; then
        run_client knot "$KNOT_PID" "$dmode" "$KNOT_PORT" "$zdir/queries.txt" $args $dns_extra
      elif [ "$s" = idnode ] && [ -n "$IDN_PID" ]; then
        run_client idnode "$IDN_PID" "$m" "$IDN_PORT" "$ddir/queries.txt" $args
      elif [ "$s" = nostats ] && [ -n "$OFF_PID" ]; then
        run_client nostats "$OFF_PID" "$m" "$((IDN_PORT + 1))" "$ddir/queries.txt" $args
      fi
    done
  done
done

# (udpblast sends no EDNS: on a profile's long answers Knot would only say TC)
if [ -n "$KNOT_PID" ] && [ "$UDPBLAST" = 1 ] && [ "$big" != 1 ]; then
  ub=$("$anchors" udpblast "$zdir")
  # the anchors' own client, same setting, as a check that hdlblast is not the limit
  ubargs=${UDP_ARGS//-k /-c }
  # shellcheck disable=SC2086
  out=$(timeout $((DUR + 60)) taskset -c "$CLIENT_CPU" "$ub" -p "$KNOT_PORT" -f "$zdir/queries.txt" -l "$DUR" $ubargs 2>&1 | tail -1) || true
  log "  knot   udpblast $ubargs: $out"
  printf '0\tknot\tudpblast\t%s\t%s\t%s\t%s\t\t\t\t\n' "$(sed -n 's/.*QPS \([0-9]*\).*/\1/p' <<<"$out")" \
    "$(sed -n 's/.*p50_us \([0-9]*\).*/\1/p' <<<"$out")" "$(sed -n 's/.*p99_us \([0-9]*\).*/\1/p' <<<"$out")" \
    "$(sed -n 's/.*p99.9_us \([0-9]*\).*/\1/p' <<<"$out")" >>"$TSV"
fi

[ -n "$KNOT_PID" ] && log "   knot memory after the runs: $(mem "$KNOT_PID")"
[ -n "$IDN_PID" ] && log "   idnode memory after the runs: $(mem "$IDN_PID")"
cleanup

# ---- summary: medians per server and mode ----
python3 - "$TSV" "$B_ARGS" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter='\t'))
b_args = sys.argv[2]
def vals(srv, mode, key):
    return [float(r[key]) for r in rows if r['server'] == srv and r['mode'] == mode and r[key] != '']
def med(srv, mode, key):
    v = vals(srv, mode, key) if mode else []
    return statistics.median(v) if v else None
def per_core(srv, mode):
    # answers per second of server CPU: steadier than qps on a shared machine
    v = [float(r['qps']) * 100 / float(r['server_cpu_pct']) for r in rows
         if mode and r['server'] == srv and r['mode'] == mode and r['server_cpu_pct'] not in ('', '0')]
    return statistics.median(v) if v else None
f = lambda x: f'{x:.0f}' if x is not None else '-'
r = lambda a, b: f'{a / b:.2f}' if a and b else '-'
print(f"{'mode':5} {'knot qps':>9} {'idnode qps':>10} {'ratio':>5} | {'knot/core':>9} {'idnode/core':>11} {'ratio':>5} | "
      f"{'knot p99us':>10} {'idnode p99us':>12} | {'knot cpu%':>9} {'idnode cpu%':>11} {'client cpu% k/i':>15}")
for hm, dm in (('udp', 'dnsudp'), ('tcp', 'dnstcp'), ('tcp1', None)):
    iq, kq = med('idnode', hm, 'qps'), med('knot', dm, 'qps')
    if iq is None and kq is None:
        continue
    ic, kc = per_core('idnode', hm), per_core('knot', dm)
    print(f"{hm:5} {f(kq):>9} {f(iq):>10} {r(iq, kq):>5} | {f(kc):>9} {f(ic):>11} {r(ic, kc):>5} | "
          f"{f(med('knot', dm, 'p99_us')):>10} {f(med('idnode', hm, 'p99_us')):>12} | "
          f"{f(med('knot', dm, 'server_cpu_pct')):>9} {f(med('idnode', hm, 'server_cpu_pct')):>11} "
          f"{f(med('knot', dm, 'client_cpu_pct')) + '/' + f(med('idnode', hm, 'client_cpu_pct')):>15}")
def core_runs(srv, mode):
    return [float(r['qps']) * 100 / float(r['server_cpu_pct']) for r in rows
            if r['server'] == srv and r['mode'] == mode and r['server_cpu_pct'] not in ('', '0')]
for hm, dm in (('udp', 'dnsudp'), ('tcp', 'dnstcp')):
    ki, ii = core_runs('knot', dm), core_runs('idnode', hm)
    if ki and ii:
        print(f"{hm:5} per CPU-second, each repeat (knot/idnode = ratio): " + ', '.join(
            f'{a:.0f}/{b:.0f} = {b / a:.2f}' for a, b in zip(ki, ii)))
for hm in ('udp', 'tcp', 'tcp1'):
    on, off = vals('idnode', hm, 'qps'), vals('nostats', hm, 'qps')
    if on and off:
        pairs = ' '.join(f'{a:.0f}/{b:.0f}' for a, b in zip(on, off))
        print(f"{hm:5} idnode / idnode {b_args}: answers/s per repeat: {pairs}; medians "
              f"{statistics.median(on):.0f}/{statistics.median(off):.0f} = "
              f"{statistics.median(on) / statistics.median(off):.3f}; per core "
              f"{f(per_core('idnode', hm))}/{f(per_core('nostats', hm))} = "
              f"{r(per_core('idnode', hm), per_core('nostats', hm))}")
ub = med('knot', 'udpblast', 'qps')
if ub:
    print(f"knot with the anchors' udpblast (same setting): {ub:.0f} qps")
print("(medians over repeats; /core = answers per second of server CPU time; a server below ~95% cpu"
      " with the client below ~95% too was short of CPU: another process held a core)")
PY
[ -f "$ddir/sizes.txt" ] && sed 's/^gendata: /profile '"$PROFILE"': /' "$ddir/sizes.txt" | grep bytes
echo "(per run: $TSV)"
