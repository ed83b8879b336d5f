#!/usr/bin/env bash
# run_admin.sh - authenticated creates per second on an idnode node, each
# create durable (LMDB commit) before its answer, and `idnode batch` of a
# GenericBatch file; in one run:
#
#   1. hdladmin, 1 client: one session over one persistent TCP connection
#      (WINDOW creates in flight)
#   2. hdladmin, CLIENTS clients (16), a session each on its own connection
#   3. the same without sessions: a 402 challenge and op 200 per create
#   4. as 2 against a node with --no-group-commit: the anchor, one commit
#      (fsync) per create, i.e. what group commit buys
#   5. `idnode batch` of N_BATCH CREATE records (one identity, one session)
#
# Every create is authenticated (HS_SECKEY: the session's HS_MAC, or the
# challenge's HMAC-SHA256), durable before its answer, and checked: the run
# fails if any create is refused, and a sample of the created identifiers
# is resolved afterwards.
#
#   bench/run_admin.sh [BUILD_DIR [N]]
#
# Environment (defaults in brackets):
#   N [100000] creates per hdladmin run   N_BATCH [100000] records in the batch file
#   CLIENTS [16]  WINDOW [16]  THREADS [2] server threads
#   WORK [/tmp/idn-bench]  PORT [26410]
# Results: a table on stdout and $WORK/admin_results.tsv.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${1:-${BUILD:-$repo/build}}
N=${2:-${N:-100000}}
N_BATCH=${N_BATCH:-100000}
CLIENTS=${CLIENTS:-16}
WINDOW=${WINDOW:-16}
THREADS=${THREADS:-2}
WORK=${WORK:-/tmp/idn-bench}
PORT=${PORT:-26410}

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD" >&2; exit 2; }
IDNODE=$BUILD/idnode
HDLADMIN=$BUILD/bench/hdladmin
[ -x "$HDLADMIN" ] && [ -x "$IDNODE" ] || cmake --build "$BUILD" --target idnode hdladmin -j2 >/dev/null

dir=$WORK/admin
rm -rf "$dir"
mkdir -p "$dir"
TSV=$WORK/admin_results.tsv
server=127.0.0.1:$PORT
id=300:0.NA/88.100.1

# The prefix record: HS_ADMIN for 300:0.NA/88.100.1, and that identity's secret.
secret=bench-secret-$RANDOM$RANDOM
printf '%s\n' "$secret" >"$dir/secret"
hex() { od -An -v -tx1 | tr -d ' \n'; }
admin_hex=$( { printf '\x0f\xff'; printf '\x00\x00\x00\x0d0.NA/88.100.1'; printf '\x00\x00\x01\x2c'; } | hex)
secret_hex=$(printf '%s' "$secret" | hex)
cat >"$dir/prefix.jsonl" <<EOF
{"handle":"0.NA/88.100.1","values":[{"index":100,"type":"HS_ADMIN","data":{"format":"hex","value":"$admin_hex"}},{"index":300,"type":"HS_SECKEY","data":{"format":"hex","value":"$secret_hex"},"perms":12}]}
EOF

pid=
stop_node() { [ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; }; }
trap stop_node EXIT

# start_node DATA_DIR [serve flags...]: a fresh store holding the prefix record
start_node() {
	local data=$1
	shift
	rm -rf "$data"
	"$IDNODE" load --data "$data" -q "$dir/prefix.jsonl" >/dev/null
	"$IDNODE" serve --data "$data" --threads "$THREADS" --listen "$server" \
		--home 88.100.1 --home 0.NA "$@" >"$dir/serve.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		"$IDNODE" resolve --server "$server" --tcp 0.NA/88.100.1 >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "idnode serve did not start:" >&2
	cat "$dir/serve.log" >&2
	exit 1
}

# creates TAG CLIENTS WINDOW [hdladmin flags]: runs hdladmin, prints its RESULT line
creates() {
	local out tag=$1 clients=$2 window=$3
	shift 3
	out=$("$HDLADMIN" --server "$server" --id "$id" --secret-file "$dir/secret" \
		--prefix 88.100.1 --clients "$clients" --window "$window" --count "$N" --tag "$tag" \
		-q "$@") || {
		echo "hdladmin failed ($1): $out" >&2
		exit 1
	}
	echo "$out" | grep '^RESULT'
}

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

# A sample of what was created must resolve.
check_created() {
	local tag=$1 clients=$2
	for c in 0 $((clients - 1)); do
		"$IDNODE" resolve --server "$server" --tcp "88.100.1/$tag-$c-0" >/dev/null || {
			echo "88.100.1/$tag-$c-0 was acknowledged but does not resolve" >&2
			exit 1
		}
	done
}

echo "authenticated creates: N=$N per run, server threads=$THREADS, window=$WINDOW per connection"
start_node "$dir/data"
one=$(creates one 1 "$WINDOW" --session)
check_created one 1
many=$(creates many "$CLIENTS" "$WINDOW" --session)
check_created many "$CLIENTS"
chal=$(creates chal "$CLIENTS" "$WINDOW")
check_created chal "$CLIENTS"
stop_node

start_node "$dir/data-nogroup" --no-group-commit
anchor=$(creates anchor "$CLIENTS" "$WINDOW" --session)
check_created anchor "$CLIENTS"
stop_node

# idnode batch: N_BATCH CREATEs in one GenericBatch file.
start_node "$dir/data-batch"
{
	echo "AUTHENTICATE SECKEY:$id"
	echo "$secret"
	echo
	for ((i = 0; i < N_BATCH; i++)); do
		echo "CREATE 88.100.1/batch-$i"
		echo "1 URL 86400 1110 UTF8 https://example.com/p/batch-$i"
		echo "2 DESC 86400 1110 UTF8 batch item $i"
		echo
	done
} >"$dir/batch.txt"
t0=$(date +%s.%N)
"$IDNODE" batch --server "$server" "$dir/batch.txt" >"$dir/batch.out" 2>&1 || {
	echo "idnode batch failed:" >&2
	tail -5 "$dir/batch.out" >&2
	exit 1
}
t1=$(date +%s.%N)
"$IDNODE" resolve --server "$server" --tcp "88.100.1/batch-$((N_BATCH - 1))" >/dev/null
stop_node
batch_rate=$(awk -v n="$N_BATCH" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')

r1=$(field "$one" rate)
r16=$(field "$many" rate)
ra=$(field "$anchor" rate)
ratio=$(awk -v a="$r16" -v b="$ra" 'BEGIN { printf "%.2f", a / b }')
rc=$(field "$chal" rate)
row() { printf '%-52s %10s %9s %9s\n' "$1" "$(field "$2" rate)" "$(field "$2" p50_ms)" "$(field "$2" p99_ms)"; }
printf '\n%-52s %10s %9s %9s\n' "run" "creates/s" "p50 ms" "p99 ms"
row "1 session, 1 connection, window $WINDOW" "$one"
row "$CLIENTS clients, a session each, group commit" "$many"
row "$CLIENTS clients, challenge-response per create" "$chal"
row "$CLIENTS clients, sessions, one commit per create (anchor)" "$anchor"
printf '%-52s %10s\n' "idnode batch, $N_BATCH records (one session)" "$batch_rate"
echo "ratio group commit / one commit per create: ${ratio}x"
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$r1" "$r16" "$rc" "$ra" "$batch_rate" "$ratio" >>"$TSV"
