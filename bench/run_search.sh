#!/usr/bin/env bash
# run_search.sh - the search index (docs/search.md): search latency over N
# identifiers, and what the index costs writes, in one run:
#
#   1. `idnode load` of N identifiers (gendata -S: URL, EMAIL, DESC, a batch
#      shared by 1,000 records, a production date) into a store with the
#      index on (a new store's default) and into one with it off: the ratio
#   2. search latency, one keep-alive connection (wrk -t1 -c1 --latency), per
#      kind of query: an exact URL, the same by /hrls/handles, a batch (first
#      page of 100 of its 1,000), a URL prefix, one day's dates (first 100 of
#      ~2,700), a batch AND a date range; p50 and p99
#   3. authenticated creates (bench/run_admin.sh's hdladmin: CLIENTS clients,
#      sessions, group commit; each create a URL and a DESC) into a store with
#      the index on and one with it off: the ratio
#
#   bench/run_search.sh [BUILD_DIR [N]]
#
# Environment (defaults in brackets):
#   N [1000000]  DUR [10] seconds per latency run  N_CREATES [50000]
#   CLIENTS [16]  WINDOW [16]  THREADS [2] server threads
#   WORK [/tmp/idn-bench]  PORT [26440]
# Results: a table on stdout and $WORK/search_results.tsv.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${1:-${BUILD:-$repo/build}}
N=${2:-${N:-1000000}}
DUR=${DUR:-10}
N_CREATES=${N_CREATES:-50000}
CLIENTS=${CLIENTS:-16}
WINDOW=${WINDOW:-16}
THREADS=${THREADS:-2}
WORK=${WORK:-/tmp/idn-bench}
PORT=${PORT:-26440}
HPORT=$((PORT + 1))

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD" >&2; exit 2; }
IDNODE=$BUILD/idnode
GENDATA=$BUILD/bench/gendata
HDLADMIN=$BUILD/bench/hdladmin
[ -x "$IDNODE" ] && [ -x "$GENDATA" ] && [ -x "$HDLADMIN" ] ||
	cmake --build "$BUILD" --target idnode gendata hdladmin -j2 >/dev/null
command -v wrk >/dev/null || { echo "run_search.sh needs wrk" >&2; exit 2; }

dir=$WORK/search
rm -rf "$dir"
mkdir -p "$dir"
TSV=$WORK/search_results.tsv
server=127.0.0.1:$PORT
log() { printf '%s\n' "$*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }

pid=
stop_node() { [ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; }; }
trap 'stop_node; rm -rf "$dir"' EXIT

# serve DATA [flags]: idnode serve on the store, UDP/TCP and HTTP
serve() {
	local data=$1
	shift
	"$IDNODE" serve --data "$data" --threads "$THREADS" --listen "$server" \
		--http "127.0.0.1:$HPORT" --home 88.100.1 --home 0.NA "$@" >"$dir/serve.log" 2>&1 &
	pid=$!
	for _ in $(seq 200); do
		curl -sf "http://127.0.0.1:$HPORT/hrls/ping" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	log "idnode serve did not start:"
	cat "$dir/serve.log" >&2
	exit 1
}

# ---- 1. bulk load, index on and off ----
log "-- generating $N identifiers with searchable fields"
"$GENDATA" -n "$N" -S -o "$dir/ids.jsonl" >/dev/null 2>&1
: >"$dir/empty.jsonl"
cat "$dir/ids.jsonl" >/dev/null
load() { # load DATA on|off: seconds
	local t0 t1
	rm -rf "$1"
	"$IDNODE" load --data "$1" -q "$dir/empty.jsonl" >/dev/null
	[ "$2" = on ] || "$IDNODE" index off --data "$1" >/dev/null
	t0=$(now)
	"$IDNODE" load --data "$1" -q "$dir/ids.jsonl" >/dev/null
	t1=$(now)
	secs "$t0" "$t1"
}
off_s=$(load "$dir/off" off)
on_s=$(load "$dir/on" on)
rm -rf "$dir/off"
entries=$("$IDNODE" index status --data "$dir/on" | sed -n 's/.*, \([0-9]*\) entries/\1/p')
disk_on=$(du -sm "$dir/on" | cut -f1)
log "load: index off ${off_s} s, on ${on_s} s ($entries entries, ${disk_on} MB)"

# ---- 2. search latency ----
python3 - "$dir" "$HPORT" <<'PY'
import json, random, sys, urllib.parse
d = sys.argv[1]
random.seed(7)
urls = []
with open(d + "/ids.jsonl") as f:
    for line in f:
        if random.random() < 0.02:
            urls.append(json.loads(line)["values"][0]["data"])
random.shuffle(urls)
urls = urls[:5000]
q = urllib.parse.quote
kinds = {
    "exact_url": ["/api/search?q=" + q("URL=" + u, safe="") for u in urls],
    "hrls_url": ["/hrls/handles?URL=" + q(u, safe="") for u in urls],
    "batch_page": ["/api/search?q=batch=LOT-%05d&limit=100" % random.randrange(1000)
                   for _ in range(5000)],
    "url_prefix": ["/api/search?q=" + q("URL=" + u.split("?")[0][:-1] + "*", safe="")
                   for u in urls],
    "one_day": ["/api/search?q=produced%%3E=2026-%02d-%02d&q=produced%%3C=2026-%02d-%02d"
                "&limit=100" % ((m, day) * 2) for m, day in
                ((random.randint(1, 12), random.randint(1, 28)) for _ in range(5000))],
    "batch_and_dates": ["/api/search?q=batch=LOT-%05d&q=produced%%3E=2026-06-01&limit=100"
                        % random.randrange(1000) for _ in range(5000)],
}
for k, v in kinds.items():
    with open("%s/paths_%s.txt" % (d, k), "w") as f:
        f.write("\n".join(v) + "\n")
PY
serve "$dir/on"
# every kind answers, and finds what it should, before it is timed
check=$(head -1 "$dir/paths_exact_url.txt")
curl -sf "http://127.0.0.1:$HPORT$check" | grep -q '"handles":\["88.100.1/' ||
	{ log "exact search found nothing: $check"; exit 1; }
printf 'kind\tvalue\n' >"$TSV"
printf 'load_off_s\t%s\nload_on_s\t%s\nindex_entries\t%s\n' "$off_s" "$on_s" "$entries" >>"$TSV"
declare -A p50 p99 rps
for k in exact_url hrls_url batch_page url_prefix one_day batch_and_dates; do
	c=$(head -1 "$dir/paths_$k.txt")
	st=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HPORT$c")
	[ "$st" = 200 ] || { log "$k: HTTP $st for $c"; exit 1; }
	out=$(wrk -t1 -c1 -d "${DUR}s" --latency -s "$here/search_paths.lua" \
		"http://127.0.0.1:$HPORT" -- "$dir/paths_$k.txt")
	if grep -q "Non-2xx" <<<"$out"; then log "$k: errors: $out"; exit 1; fi
	p50[$k]=$(awk '$1=="50%"{print $2}' <<<"$out")
	p99[$k]=$(awk '$1=="99%"{print $2}' <<<"$out")
	rps[$k]=$(awk '/Requests\/sec/{print $2}' <<<"$out")
	printf '%s_p50\t%s\n%s_p99\t%s\n' "$k" "${p50[$k]}" "$k" "${p99[$k]}" >>"$TSV"
	log "$k: p50 ${p50[$k]} p99 ${p99[$k]} (${rps[$k]} req/s)"
done
stop_node

# ---- 3. authenticated creates, index on and off ----
secret=bench-secret-$RANDOM$RANDOM
printf '%s\n' "$secret" >"$dir/secret"
hex() { od -An -v -tx1 | tr -d ' \n'; }
admin_hex=$( { printf '\x0f\xff'; printf '\x00\x00\x00\x0d0.NA/88.100.1'; printf '\x00\x00\x01\x2c'; } | hex)
secret_hex=$(printf '%s' "$secret" | hex)
cat >"$dir/prefix.jsonl" <<EOP
{"handle":"0.NA/88.100.1","values":[{"index":100,"type":"HS_ADMIN","data":{"format":"hex","value":"$admin_hex"}},{"index":300,"type":"HS_SECKEY","data":{"format":"hex","value":"$secret_hex"},"perms":12}]}
EOP
creates() { # creates DATA on|off: creates/s
	rm -rf "$1"
	"$IDNODE" load --data "$1" -q "$dir/prefix.jsonl" >/dev/null
	[ "$2" = on ] || "$IDNODE" index off --data "$1" >/dev/null
	serve "$1"
	local out
	out=$("$HDLADMIN" --server "$server" --id 300:0.NA/88.100.1 --secret-file "$dir/secret" \
		--prefix 88.100.1 --clients "$CLIENTS" --window "$WINDOW" --count "$N_CREATES" \
		--tag "c$2" --session -q) || { log "hdladmin failed: $out"; exit 1; }
	stop_node
	if [ "$2" = on ]; then
		"$IDNODE" index verify --data "$1" >/dev/null || { log "index differs after creates"; exit 1; }
	fi
	sed -n 's/.* rate=\([^ ]*\).*/\1/p' <<<"$(grep '^RESULT' <<<"$out")"
}
c_off=$(creates "$dir/c_off" off)
c_on=$(creates "$dir/c_on" on)
c_off2=$(creates "$dir/c_off" off)
c_on2=$(creates "$dir/c_on" on)
printf 'creates_off\t%s %s\ncreates_on\t%s %s\n' "$c_off" "$c_off2" "$c_on" "$c_on2" >>"$TSV"

echo
echo "search index: N=$N identifiers (gendata -S), $entries index entries"
echo
echo "| measure | index off | index on | on / off |"
echo "|---|---|---|---|"
awk -v a="$off_s" -v b="$on_s" 'BEGIN{printf "| idnode load, seconds | %.2f | %.2f | %.2f |\n", a, b, b/a}'
awk -v a="$c_off" -v b="$c_on" -v c="$c_off2" -v d="$c_on2" 'BEGIN{
	printf "| authenticated creates/s (%s, two runs each) | %.0f, %.0f | %.0f, %.0f | %.2f |\n",
	       "sessions", a, c, b, d, (b + d) / (a + c)}'
echo
echo "| query (one connection) | p50 | p99 | requests/s |"
echo "|---|---|---|---|"
for k in exact_url hrls_url batch_page url_prefix one_day batch_and_dates; do
	echo "| $k | ${p50[$k]} | ${p99[$k]} | ${rps[$k]} |"
done
