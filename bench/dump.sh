#!/usr/bin/env bash
# Benchmark of `pitfall dump` on a generated debug=2 dump (default 1,000,000
# goroutines): wall time, CPU and peak memory with /usr/bin/time -v.
#   bench/dump.sh                 # N=1000000 PROFILE=release
#   N=200000 PROFILE=quick bench/dump.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
PROFILE=${PROFILE:-release}
OUT=${OUT:-$(mktemp -d)}
cargo build -q --profile "$PROFILE" -p pitfall_cli
cargo build -q --profile "$PROFILE" -p pitfall_dump --example gen_dump
dir=target/$PROFILE
[ "$PROFILE" = dev ] && dir=target/debug
"$dir/examples/gen_dump" "$N" > "$OUT/dump.txt"
gzip -1 -c "$OUT/dump.txt" > "$OUT/dump.txt.gz"
echo "dump: $N goroutines, $(stat -c %s "$OUT/dump.txt") bytes ($(stat -c %s "$OUT/dump.txt.gz") gzipped); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
for src in "$OUT/dump.txt" "$OUT/dump.txt.gz"; do
  /usr/bin/time -v "$dir/pitfall" dump --no-config --format json "$src" > /dev/null 2> "$OUT/time.txt" || [ $? -eq 1 ]
  printf '%s: ' "$(basename "$src")"
  awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} /Elapsed/ {e=$2} /Maximum resident/ {m=$2}
    END { printf "wall %s, user %s s, sys %s s, peak RSS %.1f MB\n", e, u, s, m/1024 }' "$OUT/time.txt"
done
rm -rf "$OUT"
