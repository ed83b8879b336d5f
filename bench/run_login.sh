#!/usr/bin/env bash
# run_login.sh - national logins (op 2001) per second on an idnode node, with
# CLIENTS (16) concurrent clients, for an RSA-2048 and an SM2 identity. Each
# login is a new TCP connection, 2001, the 402 challenge, op 200 signed with
# the identity's key, rc 1 (bench/login_bench.c); every login must succeed.
#
#   bench/run_login.sh [BUILD_DIR]
#
# Besides logins per second it prints the node's CPU per login (user + system
# from /proc) and, as the anchor, openssl speed's verifications per second on
# one core: the ratio is logins per node-CPU-second over that, 1.00 when a
# login costs the node no more than its one signature check.
#
# Environment (defaults in brackets): SECONDS_EACH [3] per key type,
# CLIENTS [16], THREADS [2] server threads, WORK [/tmp/idn-bench], PORT [26420].
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${1:-${BUILD:-$repo/build}}
SECONDS_EACH=${SECONDS_EACH:-3}
CLIENTS=${CLIENTS:-16}
THREADS=${THREADS:-2}
WORK=${WORK:-/tmp/idn-bench}
PORT=${PORT:-26420}

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD" >&2; exit 2; }
IDNODE=$BUILD/idnode
BENCH=$BUILD/bench/login_bench
[ -x "$BENCH" ] && [ -x "$IDNODE" ] || cmake --build "$BUILD" --target idnode login_bench -j2 >/dev/null

dir=$WORK/login
rm -rf "$dir"
mkdir -p "$dir"
server=127.0.0.1:$PORT

# Two identities under 88.100.1, each with its key at index 300 (idnode keygen's HS_PUBKEY).
rsa_hex=$("$IDNODE" keygen --type rsa --out "$dir/rsa.pem")
sm2_hex=$("$IDNODE" keygen --type sm2 --out "$dir/sm2.pem")
cat >"$dir/ids.jsonl" <<EOF2
{"handle":"88.100.1/rsa","values":[{"index":300,"type":"HS_PUBKEY","data":{"format":"hex","value":"$rsa_hex"}}]}
{"handle":"88.100.1/sm2","values":[{"index":300,"type":"HS_PUBKEY","data":{"format":"hex","value":"$sm2_hex"}}]}
EOF2
"$IDNODE" load --data "$dir/data" -q "$dir/ids.jsonl" >/dev/null
"$IDNODE" serve --data "$dir/data" --threads "$THREADS" --listen "$server" --home 88.100.1 \
	>"$dir/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
	"$IDNODE" resolve --server "$server" --tcp 88.100.1/rsa >/dev/null 2>&1 && break
	sleep 0.1
done

# The server's CPU time so far (user + system), in clock ticks, from /proc.
server_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
# The anchor: what one core of this machine verifies per second (openssl speed),
# the one public-key operation a login costs the node.
verify_rate() {
	openssl speed -seconds 2 "$1" 2>/dev/null | awk '/bits/ {print $NF}' | tail -1
}

echo "national logins (2001, 402, op 200, rc 1; a new connection each): $CLIENTS clients," \
	"$SECONDS_EACH s each, server threads=$THREADS"
echo "(the clients' signing shares the machine with the node: logins/s is bound by it;"
echo " the node's own cost is its CPU per login, against openssl's verify on one core)"
for kind in rsa sm2; do
	t0=$(server_ticks)
	out=$("$BENCH" --server "$server" --id "300:88.100.1/$kind" --key "$dir/$kind.pem" \
		--clients "$CLIENTS" --seconds "$SECONDS_EACH") || {
		echo "login_bench ($kind) failed: $out" >&2
		exit 1
	}
	t1=$(server_ticks)
	n=$(sed -n 's/.*logins=\([0-9]*\).*/\1/p' <<<"$out")
	alg=$([ "$kind" = rsa ] && echo rsa2048 || echo sm2)
	vr=$(verify_rate "$alg")
	awk -v k="$kind" -v out="$out" -v n="$n" -v t="$((t1 - t0))" -v hz="$hz" -v vr="$vr" -v alg="$alg" 'BEGIN {
		cpu = t / hz; per = cpu > 0 ? n / cpu : 0
		printf "%-4s %s\n", k, out
		printf "     node CPU %.2f s: %.0f us per login, %.0f logins per node CPU second\n", cpu, n ? cpu * 1e6 / n : 0, per
		printf "     anchor: openssl speed %s verify %.0f/s on one core (%.0f us); ratio %.2f\n", alg, vr, 1e6 / vr, per / vr
	}'
done
