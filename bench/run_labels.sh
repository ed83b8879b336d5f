#!/usr/bin/env bash
# run_labels.sh - QR labels per second: a 1000-label PDF batch (POST
# /api/labels over loopback, ROUNDS rounds, the best and the median), a
# 1000-label ZIP of PNGs, and single PNG labels (GET /api/labels/{h}.png,
# SINGLE of them over one keep-alive connection), against an anchor run in
# the same script: the qrencode command-line tool (Debian's qrencode) writing
# the same number of PNG codes of the same URLs and module size, one process
# each, as a shell loop would. Prints labels/s and the ratios.
#
#   bench/run_labels.sh [BUILD_DIR]
#
# Environment (defaults in brackets): BUILD [./build]  N [1000] labels per
# batch  ROUNDS [3]  SINGLE [1000]  SIZE [512] pixels of a PNG label
# PORT [8311]  WORK [/tmp/idn-bench-labels]  THREADS [1] HTTP workers.
# Every step is bounded (timeout); the node is stopped on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${1:-${BUILD:-$repo/build}}
N=${N:-1000}
ROUNDS=${ROUNDS:-3}
SINGLE=${SINGLE:-1000}
SIZE=${SIZE:-512}
PORT=${PORT:-8311}
WORK=${WORK:-/tmp/idn-bench-labels}
THREADS=${THREADS:-1}

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD" >&2; exit 2; }
IDNODE=$BUILD/idnode
[ -x "$IDNODE" ] || { echo "missing $IDNODE: build first" >&2; exit 2; }
for c in curl qrencode python3; do
  command -v $c >/dev/null || { echo "missing $c: scripts/deps.sh installs it" >&2; exit 2; }
done
rm -rf "$WORK"
mkdir -p "$WORK"

pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

udp=$((PORT + 1))
"$IDNODE" serve --data "$WORK/data" --home 88.100.1 --threads "$THREADS" \
  --listen "127.0.0.1:$udp" --http "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/api/prefixes" && break
  sleep 0.05
done
base="http://127.0.0.1:$PORT"

now() { date +%s.%N; }
rate() { python3 -c "import sys; print('%.0f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$@"; }

python3 - "$N" >"$WORK/pdf.json" <<'EOF'
import json, sys
n = int(sys.argv[1])
print(json.dumps({"handles": ["88.100.1/MOTOR-2026-%06d" % i for i in range(n)]}))
EOF
python3 - "$N" "$SIZE" >"$WORK/zip.json" <<'EOF'
import json, sys
n, size = int(sys.argv[1]), int(sys.argv[2])
print(json.dumps({"handles": ["88.100.1/MOTOR-2026-%06d" % i for i in range(n)],
                  "format": "zip", "image": "png", "size": size}))
EOF

# warm up (fonts, first allocations)
curl -s -o /dev/null --max-time 60 -X POST --data-binary @"$WORK/pdf.json" "$base/api/labels"

pdf_times=()
for r in $(seq "$ROUNDS"); do
  t=$(curl -s -o "$WORK/labels.pdf" -w '%{time_total}' --max-time 300 -X POST \
    --data-binary @"$WORK/pdf.json" "$base/api/labels")
  pdf_times+=("$t")
done
pdf_bytes=$(stat -c %s "$WORK/labels.pdf")
read -r pdf_best pdf_median < <(python3 -c "
import sys, statistics
t = sorted(float(x) for x in sys.argv[1:]); print(min(t), statistics.median(t))" "${pdf_times[@]}")

zip_t=$(curl -s -o "$WORK/labels.zip" -w '%{time_total}' --max-time 600 -X POST \
  --data-binary @"$WORK/zip.json" "$base/api/labels")
zip_bytes=$(stat -c %s "$WORK/labels.zip")

# single PNG labels: one curl, one keep-alive connection, SINGLE URLs
last=$(printf '%06d' "$SINGLE")
t0=$(now)
curl -s --max-time 600 -o /dev/null \
  "$base/api/labels/88.100.1/MOTOR-2026-[000001-$last].png?size=$SIZE"
t1=$(now)
single_s=$(python3 -c "print($t1 - $t0)")

# the anchor: qrencode, one process per code, the same URLs and module size
# our module size: the code's width (one pixel a module, no margin) into SIZE with 4 a side
qrencode -l M -m 0 -s 1 -o "$WORK/w.png" "$base/88.100.1/MOTOR-2026-000001"
modules=$(python3 -c "
import sys
w = int.from_bytes(open(sys.argv[1], 'rb').read()[16:20], 'big')
print(max(1, int(sys.argv[2]) // (w + 8)))" "$WORK/w.png" "$SIZE")
t0=$(now)
for i in $(seq -f '%06g' 1 "$SINGLE"); do
  qrencode -l M -m 4 -s "$modules" -o "$WORK/q.png" "$base/88.100.1/MOTOR-2026-$i"
done
t1=$(now)
qr_s=$(python3 -c "print($t1 - $t0)")

pdf_rate=$(rate "$N" "$pdf_median")
zip_rate=$(rate "$N" "$zip_t")
single_rate=$(rate "$SINGLE" "$single_s")
qr_rate=$(rate "$SINGLE" "$qr_s")
echo "labels: $N-label PDF batch, $ROUNDS rounds: best ${pdf_best}s median ${pdf_median}s" \
  "= $pdf_rate labels/s ($pdf_bytes bytes, $((pdf_bytes / N)) a label)"
echo "labels: $N-label ZIP of ${SIZE}px PNGs: ${zip_t}s = $zip_rate labels/s ($zip_bytes bytes)"
echo "labels: $SINGLE single ${SIZE}px PNG labels (GET, keep-alive): ${single_s}s = $single_rate labels/s"
echo "anchor: qrencode CLI, $SINGLE PNGs (-s $modules, a process each): ${qr_s}s = $qr_rate codes/s"
python3 -c "
import sys
p, z, s, q = (float(x) for x in sys.argv[1:])
print('ratio: PDF batch / qrencode = %.2f; ZIP batch / qrencode = %.2f; single GET / qrencode = %.2f'
      % (p / q, z / q, s / q))" "$pdf_rate" "$zip_rate" "$single_rate" "$qr_rate"
