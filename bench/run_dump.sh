#!/usr/bin/env bash
# run_dump.sh - backup speed: `idnode dump` and `idnode restore` of N
# identifiers on LMDB and on PostgreSQL (a private cluster from scripts/pg.sh),
# records per second for each; each restored store is dumped again and must
# give the same file byte for byte (a fast restore that loses data is not one).
#
#   bench/run_dump.sh [BUILD_DIR [N]]
#
# Environment (defaults in brackets): N [1000000]  WORK [/tmp/idn-bench-dump]
#   PREFIX [88.100.1]
# The cluster is stopped on exit. Results on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${1:-${BUILD:-$repo/build}}
N=${2:-${N:-1000000}}
WORK=${WORK:-/tmp/idn-bench-dump}
PREFIX=${PREFIX:-88.100.1}

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD" >&2; exit 2; }
IDNODE=$BUILD/idnode
GENDATA=$BUILD/bench/gendata
[ -x "$IDNODE" ] && [ -x "$GENDATA" ] || cmake --build "$BUILD" --target idnode gendata -j2 >/dev/null

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
pgdir=$WORK/pg
trap '"$repo/scripts/pg.sh" stop "$pgdir" >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM
now() { date +%s.%N; }

rm -rf "$WORK/a" "$WORK/b" "$WORK"/*.jsonl "$pgdir"
"$GENDATA" -n "$N" -p "$PREFIX" -o "$WORK/ids.jsonl" >/dev/null
uri=$("$repo/scripts/pg.sh" start "$pgdir" 2>/dev/null)
db() { printf '%s\n' "${uri%/*}/$1"; }
psql -qAtX "$uri" -c "CREATE DATABASE idn_a" -c "CREATE DATABASE idn_b"

# timed LABEL COMMAND...: runs it, prints "LABEL records/s (seconds)"
timed() {
	local label=$1 t0 t1
	shift
	t0=$(now)
	"$@" >/dev/null 2>"$WORK/err" || { echo "$label failed:" >&2; cat "$WORK/err" >&2; exit 1; }
	t1=$(now)
	awk -v l="$label" -v n="$N" -v a="$t0" -v b="$t1" \
		'BEGIN{printf "%-24s %10.0f records/s  (%.2f s)\n", l, n / (b - a), b - a}'
}

echo "dump and restore of $N identifiers"
# the source stores, not timed here (bench/run_load.sh): LMDB by `idnode load`,
# PostgreSQL restored from its dump, so both hold the same bytes (a load
# stamps values with the time it runs)
"$IDNODE" load --data "$WORK/a" -H "$PREFIX" -q "$WORK/ids.jsonl" >/dev/null
"$IDNODE" dump --data "$WORK/a" -q -o "$WORK/source.jsonl"
"$IDNODE" restore --store "$(db idn_a)" "$WORK/source.jsonl" >/dev/null
for kind in lmdb pg; do
	if [ $kind = lmdb ]; then src=(--data "$WORK/a") dst=(--data "$WORK/b"); else
		src=(--store "$(db idn_a)") dst=(--store "$(db idn_b)"); fi
	timed "$kind dump" "$IDNODE" dump "${src[@]}" -q -o "$WORK/$kind.jsonl"
	timed "$kind restore" "$IDNODE" restore "${dst[@]}" "$WORK/$kind.jsonl"
	"$IDNODE" dump "${dst[@]}" -q -o "$WORK/$kind-again.jsonl"
	cmp -s "$WORK/$kind.jsonl" "$WORK/$kind-again.jsonl" ||
		{ echo "$kind: the restored store dumps differently" >&2; exit 1; }
done
cmp -s "$WORK/lmdb.jsonl" "$WORK/pg.jsonl" || { echo "LMDB and PostgreSQL dumps differ" >&2; exit 1; }
echo "(every restored store dumped again byte for byte equal; LMDB and PostgreSQL dumps equal)"
