#!/usr/bin/env bash
# run_trusted.sh - trusted resolution (HS_SIGNATURE / HS_CERT, auth/trust.h)
# through a recursive node, against plain resolution on the same node, in one
# short run with the same client (bench/hdlblast, TCP: a signed record is over
# the UDP answer budget) and CPU pinning:
#   plain-cold    a fresh recursive node, REC only, open loop at RATE/s, each
#                 signed identifier asked once, so every question is a miss
#                 resolved root -> secondary -> enterprise
#   trusted-cold  a fresh recursive node (the trust root configured), REC and
#                 the trusted-query bit (0x2): each miss is resolved, then its
#                 HS_SIGNATURE, digests and two-link HS_CERT chain verified
#                 (certificates fetched through the node's cache: after the
#                 first miss they are hits)
#   plain-cached, trusted-cached  the same questions again, closed loop, from
#                 the cache (the verdict is cached with the answer)
# The statistics lines show verified= / unverified= (every signed identifier
# must verify, none fail) and the cache's hits and upstream questions.
#
#   bench/run_trusted.sh [BUILD_DIR [M [SECONDS]]]
#
# Environment: BUILD [./build] M [300] signed identifiers (N [5000] in all)
#   DUR [5] RATE [100] WORK [/tmp/idn-bench-trust] CLIENT_CPU [0] SERVER_CPU [1]
#   BASE_PORT [27641]
# Every client run is bounded; servers are stopped on exit (trap).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${1:-${BUILD:-$repo/build}}
M=${2:-${M:-300}}
DUR=${3:-${DUR:-5}}
N=${N:-5000}
RATE=${RATE:-100}
WORK=${WORK:-/tmp/idn-bench-trust}
CLIENT_CPU=${CLIENT_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
BASE_PORT=${BASE_PORT:-27641}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD" >&2; exit 2; }
IDN=$BUILD/idnode
BLAST=$BUILD/bench/hdlblast
[ -x "$IDN" ] && [ -x "$BLAST" ] && [ -x "$BUILD/bench/gendata" ] ||
	cmake --build "$BUILD" --target idnode hdlblast gendata -j2 >/dev/null

pubhex() { "$IDN" keygen --type sm2 --out "$1"; } # writes the key, prints HS_PUBKEY hex
cert() { # cert ISSUER_KEY ISSUER SUBJECT SUBJECT_KEY PERM...
	local ik=$1 iss=$2 sub=$3 sk=$4
	shift 4
	local perms=()
	for p in "$@"; do perms+=(--perm "$p"); done
	"$IDN" cert --issuer-key "$ik" --issuer "$iss" --subject "$sub" --subject-key "$sk" \
		"${perms[@]}"
}

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
. "$here/hier.sh"
pubhex root.pem >/dev/null
openssl pkey -in root.pem -pubout -out root.pub
pubhex sec.pem >/dev/null
ent_pub=$(pubhex ent.pem)
sec_cert=$(cert root.pem 300:88.111.1/0.0 300:0.NA/88.100 sec.pem \
	0.NA/88.100:derivedPrefixes 0.NA/88.100:handlesUnderThisPrefix)
ent_cert=$(cert sec.pem 300:0.NA/88.100 300:0.NA/88.100.1 ent.pem \
	0.NA/88.100.1:handlesUnderThisPrefix)
"$BUILD/bench/gendata" -n "$N" -p 88.100.1 -o ent.jsonl -q all_queries.txt >/dev/null
printf '{"handle":"88.100.1/admin","values":[{"index":300,"type":"HS_PUBKEY","data":{"format":"hex","value":"%s"}}]}\n' \
	"$ent_pub" >>ent.jsonl
hier_load "{\"index\":400,\"type\":\"HS_CERT\",\"data\":\"$sec_cert\"}" \
	"{\"index\":400,\"type\":\"HS_CERT\",\"data\":\"$ent_cert\"}"
hier_start --server-admin 300:88.100.1/admin
for _ in $(seq 1 100); do
	"$IDN" resolve 88.100.1/admin --server 127.0.0.1:$ent_port >/dev/null 2>&1 && break
	sleep 0.1
done

# Sign M distinct identifiers (the enterprise's admin adds each HS_SIGNATURE).
sort -u all_queries.txt | grep -v '^88.100.1/admin$' >distinct.txt || true
head -n "$M" distinct.txt >queries.txt
t0=$(date +%s.%N)
while read -r h; do
	"$IDN" sign "$h" --key ent.pem --signer 300:0.NA/88.100.1 --server 127.0.0.1:$ent_port \
		--id 300:88.100.1/admin --no-session >/dev/null
done <queries.txt
t1=$(date +%s.%N)
m=$(wc -l <queries.txt)
awk -v m="$m" -v a="$t0" -v b="$t1" 'BEGIN { printf "signed %d identifiers with `idnode sign` in %.1f s\n", m, b - a }'
"$IDN" resolve "$(head -n1 queries.txt)" --root 127.0.0.1:$root_port --tcp --trusted \
	--trust-root root.pub | tail -n1

recursive() { # recursive LOG [ARGS...]
	local log=$1
	shift
	serve "$log" --recursive --root 127.0.0.1:$root_port --listen 127.0.0.1:$rec_port "$@"
	rec_pid=$!
	for _ in $(seq 1 100); do
		"$IDN" resolve 88.100.1/admin --server 127.0.0.1:$rec_port --tcp >/dev/null 2>&1 &&
			return
		sleep 0.1
	done
}
blast() { # blast SECONDS ARGS...
	local secs=$1
	shift
	timeout $((secs * 3 + 30)) taskset -c "$CLIENT_CPU" "$BLAST" -m tcp -p "$rec_port" \
		-f queries.txt -l "$secs" -q "$@" | tail -n1
}
# The cold run asks each signed identifier once: every question a miss.
COLD=$((M / RATE))
[ "$COLD" -ge 1 ] || { echo "M ($M) must be at least RATE ($RATE)" >&2; exit 2; }
stats() { rec_stats "$@"; }
stop_rec() {
	kill "$rec_pid"
	wait "$rec_pid" 2>/dev/null || true
}

echo "M=$M signed identifiers, cold: each once at $RATE/s ($COLD s), cached: DUR=$DUR s," \
	"server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU"
for kind in plain trusted; do
	flags=0x10000000
	extra=()
	if [ $kind = trusted ]; then
		flags=0x10000002
		extra=(--trust-root root.pub)
	fi
	recursive "rec-$kind.log" "${extra[@]}"
	cold=$(blast "$COLD" -r "$RATE" -t 1 -k 4 -T 2000 -F $flags)
	printf '%-15s %s\n' "$kind-cold" "$cold"
	printf '%-15s %s\n' "" "$(stats "rec-$kind.log")"
	# Fill what the paced run did not ask, then measure from the cache.
	blast 1 -t 1 -k 4 -c 16 -F $flags >/dev/null
	cached=$(blast "$DUR" -t 1 -k 4 -c 64 -F $flags)
	printf '%-15s %s\n' "$kind-cached" "$cached"
	printf '%-15s %s\n' "" "$(stats "rec-$kind.log")"
	stop_rec
	declare "${kind}_cold=$cold" "${kind}_cached=$cached"
done
# The ratios: trusted against plain, on the same node in this run.
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
awk -v pc="$(field p50_us "$plain_cold")" -v tc="$(field p50_us "$trusted_cold")" \
	-v pq="$(field qps "$plain_cached")" -v tq="$(field qps "$trusted_cached")" 'BEGIN {
	printf "ratio cold p50 latency, trusted/plain: %.2f (%.0f / %.0f us)\n", tc / pc, tc, pc
	printf "ratio cached answers/s, trusted/plain: %.2f (%.0f / %.0f)\n", tq / pq, tq, pq
}' 
