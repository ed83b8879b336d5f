#!/usr/bin/env bash
# run_fuzz.sh TARGET CORPUS_DIR SEEDS_DIR RUNS [SECONDS]: a bounded libFuzzer run
# (RUNS iterations or SECONDS, default 300, whichever ends first).
# Seeds: every request in shared/vectors (one file each), plus the target's
# own SEEDS_DIR/<target name>/ if there is one.
set -euo pipefail
target=$1 corpus=$2 seeds=$3 runs=$4 secs=${5:-300}
mkdir -p "$corpus"
if [ -n "${IDN_SHARED:-}" ] && [ -f "$IDN_SHARED/vectors/vectors.json" ]; then
	python3 - "$IDN_SHARED/vectors/vectors.json" "$corpus" <<'PY'
import json, sys, os
for i, v in enumerate(json.load(open(sys.argv[1]))):
    with open(os.path.join(sys.argv[2], "vec-%03d" % i), "wb") as f:
        f.write(bytes.fromhex(v["hex"]))
PY
fi
extra=()
[ -d "$seeds/$(basename "$target")" ] && extra+=("$seeds/$(basename "$target")")
# fontconfig's caches (QR label captions) are not leaks of ours: lsan.supp
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
exec "$target" -runs="$runs" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 "$corpus" "${extra[@]}"
