#!/usr/bin/env bash
# run_gs1.sh - GS1 Digital Link redirects per second on the public gateway
# (a recursive node with --gs1-registry, every answer from its cache) against
# plain proxy redirects (GET /{handle}) of the same records on the same
# gateway, in one run, same load generator (wrk, keep-alive) and CPU pinning
# (servers on SERVER_CPU, wrk on CLIENT_CPU):
#   proxy   GET /88.100.1/01.{gtin}.21.{serial}  -> 302 to the record's URL
#   gs1     GET /01/{gtin}/21/{serial}           -> 307 to the same URL: the
#           registry record (88/GS1-REGISTRY) and the GTIN-level identifier
#           resolved too (both cached), the rule applied, the links chosen
# The two alternate ROUNDS times (a machine shared with other work drifts);
# each also measures the gateway's own CPU time (/proc: user + system), so the
# cost per request compares even when other work takes the CPU away;
# each round's ratio gs1 / proxy, and their median, are printed (goal >= 0.9).
#
#   bench/run_gs1.sh [BUILD_DIR [N [SECONDS]]]
#
# Environment: BUILD [./build] N [20000] DUR [10] ROUNDS [3] WRK_ARGS ["-t1 -c64"]
#   WORK [/tmp/idn-bench-gs1] CLIENT_CPU [0] SERVER_CPU [1] BASE_PORT [28741]
#   INSTR [0]: 1 runs the gateway under valgrind's callgrind and prints, per
#   round, the user-space instructions per request of each route (the counters
#   zeroed before and dumped after each wrk run: a count the machine's load
#   does not move; rates under callgrind mean nothing). WRK_ARGS default then
#   "-t1 -c8".
# Every client run is bounded; servers are stopped on exit (trap).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${1:-${BUILD:-$repo/build}}
N=${2:-${N:-20000}}
DUR=${3:-${DUR:-10}}
ROUNDS=${ROUNDS:-3}
INSTR=${INSTR:-0}
if [ "$INSTR" = 1 ]; then
	WRK_ARGS=${WRK_ARGS:-"-t1 -c8"}
	command -v callgrind_control >/dev/null || { echo "INSTR=1 needs valgrind" >&2; exit 2; }
else
	WRK_ARGS=${WRK_ARGS:-"-t1 -c64"}
fi
WORK=${WORK:-/tmp/idn-bench-gs1}
CLIENT_CPU=${CLIENT_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
BASE_PORT=${BASE_PORT:-28741}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD" >&2; exit 2; }
IDN=$BUILD/idnode
for c in wrk taskset curl python3; do
	command -v $c >/dev/null || { echo "missing $c: ../shared/bench/anchors.sh setup" >&2; exit 2; }
done

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
. "$here/hier.sh"
gw_http=$((BASE_PORT + 5))
# N serials over N/100 GTINs of company prefix 0614141: each with a URL value.
python3 - "$N" <<'PY'
import json, sys
n = int(sys.argv[1])
def gtin(b):
    t = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(b)))
    return b + str((10 - t % 10) % 10)
with open("ent.jsonl", "w") as ent, open("proxy.txt", "w") as px, \
        open("dl.txt", "w") as dl, open("handles.txt", "w") as hs:
    for i in range(n):
        g = gtin("006141410%04d" % (i // 100))
        h = "88.100.1/01.%s.21.S%06d" % (g, i)
        ent.write(json.dumps({"handle": h, "values": [
            {"index": 1, "type": "URL", "data": "https://motor.example/%s/S%06d" % (g, i)}]})
            + "\n")
        px.write("/%s\n" % h)
        dl.write("/01/%s/21/S%06d\n" % (g, i))
        hs.write(h + "\n")
        if i % 100 == 0:  # the GTIN-level identifiers the resolver also asks for
            hs.write("88.100.1/01.%s\n" % g)
with open("reg.jsonl", "w") as f:
    f.write(json.dumps({"handle": "88/GS1-REGISTRY", "values": [
        {"index": 1, "type": "GS1.RULE", "data": "0614141 88.100.1/01.{01}.21.{21}"},
        {"index": 2, "type": "GS1.RULE", "data": "0614141 88.100.1/01.{01}"}]}) + "\n")
PY
hier_load
# The registry lives under 88, on the root: 0.NA/88 says where 88's identifiers are.
printf '{"handle":"0.NA/88","values":[%s]}\n' "$(site $root_port)" >>reg.jsonl
"$IDN" load --data root -q reg.jsonl
hier_start
gw=()
[ "$INSTR" = 1 ] && gw=(valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out")
taskset -c "$SERVER_CPU" "${gw[@]}" "$IDN" serve --threads 1 --recursive \
	--root 127.0.0.1:$root_port --listen 127.0.0.1:$rec_port --http 127.0.0.1:$gw_http \
	--cache-mb 1024 --neg-ttl 3600 --gs1-registry 88/GS1-REGISTRY 2>gw.log &
rec_pid=$!
pids+=($rec_pid)
first=$(head -n1 proxy.txt)
for _ in $(seq 1 300); do
	curl -s -o /dev/null "http://127.0.0.1:$gw_http$first" && break
	sleep 0.1
done

# Fill the cache through HTTP: every identifier (the GTIN-level ones, not
# registered, are cached as not found), and the registry, once.
echo 88/GS1-REGISTRY >>handles.txt
split -l 1000 handles.txt fill.
for f in fill.*; do
	python3 -c 'import json,sys; print(json.dumps({"handles": sys.stdin.read().split()}))' \
		<"$f" >"$f.json"
	curl -sf -m 120 -H 'Content-Type: application/json' --data-binary "@$f.json" \
		"http://127.0.0.1:$gw_http/api/resolve" -o /dev/null
done
# One of each, checked: the same target.
sizes='header %{size_header} + body %{size_download} bytes'
p=$(curl -s -o /dev/null -w "%{http_code} %{redirect_url} ($sizes)" "http://127.0.0.1:$gw_http$first")
d=$(curl -s -o /dev/null -w "%{http_code} %{redirect_url} ($sizes)" \
	"http://127.0.0.1:$gw_http$(head -n1 dl.txt)")
echo "proxy: $p"
echo "gs1:   $d"
p=${p% (*} d=${d% (*}
[ "${p#* }" = "${d#* }" ] || { echo "the two redirects differ" >&2; exit 1; }

cpu_ticks() { # the gateway's CPU time so far (user + system), in clock ticks
	awk '{ print $14 + $15 }' "/proc/$rec_pid/stat"
}
instr_total() { # the instructions callgrind counted since the last zeroing (dumped now)
	rm -f "$WORK"/cg.out.*
	callgrind_control -d "$rec_pid" >/dev/null
	for _ in $(seq 1 100); do
		ls "$WORK"/cg.out.* >/dev/null 2>&1 && break
		sleep 0.1
	done
	sleep 0.5
	grep -h '^summary:\|^totals:' "$WORK"/cg.out.* | head -1 | awk '{print $2}'
}
wrk_run() { # wrk_run PATHS -> "req/s p50 p99 status-counts req-per-cpu-second [instr/req]"
	local out t0 t1 n i1=
	[ "$INSTR" = 1 ] && callgrind_control -z "$rec_pid" >/dev/null
	t0=$(cpu_ticks)
	out=$(timeout $((DUR + 30)) taskset -c "$CLIENT_CPU" wrk $WRK_ARGS -d "${DUR}s" --latency \
		-s "$here/gs1_paths.lua" "http://127.0.0.1:$gw_http" -- "$WORK/$1")
	t1=$(cpu_ticks)
	n=$(awk '/requests in/ {print $1}' <<<"$out")
	[ "$INSTR" = 1 ] && i1=$(awk -v i="$(instr_total)" -v n="$n" 'BEGIN { printf "%.0f", i / n }')
	printf '%s %s %s %s %s %s\n' "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")" \
		"$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")" \
		"$(sed -n 's/^status: //p' <<<"$out" | tr ' ' ',')" \
		"$(awk -v n="$n" -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
			'BEGIN { printf "%.0f", t ? n / (t / hz) : 0 }')" "$i1"
}

echo "N=$N DUR=$DUR s x $ROUNDS rounds (alternating; medians), wrk $WRK_ARGS," \
	"server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU"
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
pxs=() gss=() ratios=() cratios=()
for round in $(seq 1 "$ROUNDS"); do
	read -r px p50 p99 pcodes pcpu pins <<<"$(wrk_run proxy.txt)"
	echo "proxy    GET /{handle}, 302:                  $px req/s p50 $p50 p99 $p99 ($pcodes)" \
		"$pcpu req/CPU-s${pins:+, $pins instructions/req}"
	read -r gs g50 g99 gcodes gcpu gins <<<"$(wrk_run dl.txt)"
	[ -n "$gins" ] && echo "         instructions per request: proxy $pins, gs1 $gins," \
		"gs1 / proxy $(awk -v p="$pins" -v g="$gins" 'BEGIN { printf "%.2f", g / p }')"
	echo "gs1      GET /01/{gtin}/21/{serial}, 307:      $gs req/s p50 $g50 p99 $g99 ($gcodes)" \
		"$gcpu req/CPU-s; ratio $(awk -v p="$px" -v g="$gs" 'BEGIN { printf "%.2f", g / p }')," \
		"per CPU-s $(awk -v p="$pcpu" -v g="$gcpu" 'BEGIN { printf "%.2f", p ? g / p : 0 }')"
	cratios+=("$(awk -v p="$pcpu" -v g="$gcpu" 'BEGIN { print p ? g / p : 0 }')")
	case "$pcodes" in 302=*) ;; *) echo "proxy answers other than 302: $pcodes" >&2; exit 1 ;; esac
	case "$gcodes" in 307=*) ;; *) echo "gs1 answers other than 307: $gcodes" >&2; exit 1 ;; esac
	pxs+=("$px") gss+=("$gs") ratios+=("$(awk -v p="$px" -v g="$gs" 'BEGIN { print g / p }')")
done
echo "         $(rec_stats gw.log)"
px=$(printf '%s\n' "${pxs[@]}" | median) gs=$(printf '%s\n' "${gss[@]}" | median)
ratio=$(printf '%s\n' "${ratios[@]}" | median)
cratio=$(printf '%s\n' "${cratios[@]}" | median)
awk -v p="$px" -v g="$gs" -v r="$ratio" 'BEGIN { printf "median proxy %.0f req/s, gs1 " \
	"%.0f req/s; median of the rounds'"'"' ratios gs1 / proxy: %.2fx (goal >= 0.9x)\n", p, g, r }'
echo "median ratio of requests per second of the gateway's CPU (user + system), gs1 / proxy:" \
	"$(awk -v c="$cratio" 'BEGIN { printf "%.2f", c }')x"
