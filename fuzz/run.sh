#!/usr/bin/env bash
# Seeds each fuzz target's corpus from the repository's fixtures and runs it.
#   fuzz/run.sh [TARGET...]     (default: every target)   SECONDS_PER_TARGET=600
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Crashes land in fuzz/artifacts/<target>/; turn each into a regression test
# (see fuzz/README.md) before fixing it.
set -euo pipefail
cd "$(dirname "$0")"
root=..
secs=${SECONDS_PER_TARGET:-600}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
seed() { # target, then find(1) arguments selecting the seed files
  local t=$1; shift
  mkdir -p "corpus/$t"
  find "$@" -type f -size -256k -print0 2>/dev/null | while IFS= read -r -d '' f; do
    cp "$f" "corpus/$t/$(sha1sum "$f" | cut -c1-16)"
  done
}
for t in "${targets[@]}"; do
  case $t in
    go_frontend) seed "$t" "$root/tests/fixtures" "$root/examples" -name '*.go' ;;
    config) seed "$t" "$root/tests/fixtures" "$root/examples" seeds/config -name '*.toml' ;;
    manifests) seed "$t" "$root/tests/fixtures" "$root/examples" \( -name '*.yaml' -o -name '*.yml' \) ;;
    dump) seed "$t" "$root/crates/pitfall_dump/tests/samples" seeds/dump -type f ;;
  esac
  echo "== $t: ${secs}s"
  cargo +nightly fuzz run -O "$t" "corpus/$t" -- \
    -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    2>&1 | tee "fuzz-$t.log" | grep -E '^(#[0-9]+ +DONE|stat::|==[0-9]+== ERROR|SUMMARY|Done )' || true
done
