# hier.sh - sourced by the benchmarks that run a resolution hierarchy on
# loopback (run_recursive.sh, run_trusted.sh, run_gateway.sh): the ports, the
# server processes and their cleanup, the site records, and the plain
# three-level hierarchy root (88, 0.NA) -> secondary (88.100) -> enterprise
# (88.100.1). Needs IDN (the idnode binary), BASE_PORT and SERVER_CPU set, and
# runs in the benchmark's work directory.

root_port=$BASE_PORT sec_port=$((BASE_PORT + 1)) ent_port=$((BASE_PORT + 2))
rec_port=$((BASE_PORT + 3))
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

site() { # site PORT [INDEX TYPE]: the HS_SITE value `idnode load` takes
	"$IDN" siteinfo --json --listen "127.0.0.1:$1" --index "${2:-1}" --type "${3:-HS_SITE}"
}

serve() { # serve LOG ARGS...: one server thread pinned to SERVER_CPU; $! is its pid
	local log=$1
	shift
	taskset -c "$SERVER_CPU" "$IDN" serve --threads 1 "$@" 2>"$log" &
	pids+=($!)
}

# hier_gendata: ent.jsonl and queries.txt, N identifiers of 88.100.1 of
# PROFILE (bench/gendata --profile; default minimal), their answer sizes
# printed; sets big, the serve options a profile other than minimal needs
# (UDP answers up to 4096 bytes). Needs BUILD and N.
hier_gendata() {
	PROFILE=${PROFILE:-minimal}
	big=()
	[ "$PROFILE" = minimal ] || big=(--udp-answer-max 4096 --udp-amplification 100)
	"$BUILD/bench/gendata" -n "$N" --profile "$PROFILE" -p 88.100.1 -o ent.jsonl \
		-q queries.txt 2>sizes.txt >/dev/null
	echo "profile $PROFILE, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	sed 's/^gendata: /  /' sizes.txt
}

# hier_load [ROOT_EXTRA SEC_EXTRA]: the prefix records of the plain hierarchy
# (extra values, JSON, appended to 0.NA/88.100 and 0.NA/88.100.1), and the
# three stores root, sec, ent (ent.jsonl written by the caller).
hier_load() {
	printf '{"handle":"0.NA/88.100","values":[%s,%s%s]}\n' "$(site $sec_port)" \
		"$(site $sec_port 2 HS_SITE.PREFIX)" "${1:+,$1}" >root.jsonl
	printf '{"handle":"0.NA/88.100.1","values":[%s%s]}\n' "$(site $ent_port)" \
		"${2:+,$2}" >sec.jsonl
	"$IDN" load --data root -q root.jsonl
	"$IDN" load --data sec -q sec.jsonl
	"$IDN" load --data ent -q ent.jsonl
}

# hier_start [ENT_ARGS...]: the root, secondary and enterprise servers. Their
# UDP rate limit exempts loopback, where the recursive node asks from: as an
# operator exempts the resolvers and gateways it serves (docs/gateway.md);
# else the limit, meant for strangers, paces the recursive node's misses.
hier_start() {
	local ex=(--udp-rate-exempt 127.0.0.0/8)
	serve root.log --data root --home 88 --home 0.NA --listen 127.0.0.1:$root_port "${ex[@]}"
	serve sec.log --data sec --home 88.100 --home 0.NA --listen 127.0.0.1:$sec_port "${ex[@]}"
	serve ent.log --data ent --home 88.100.1 --listen 127.0.0.1:$ent_port "${ex[@]}" "$@"
}

# rec_stats LOG: the recursive node's (rec_pid) statistics line, asked with SIGUSR1.
rec_stats() {
	kill -USR1 "$rec_pid"
	sleep 0.3
	grep 'resolver:' "$1" | tail -n1 | sed 's/^idnode: //'
}
