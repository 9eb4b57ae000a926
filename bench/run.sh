#!/usr/bin/env bash
# bench/run.sh [TREE] — how fast is `pitfall check` on a large Go tree, next to
# gofmt (a pure parse of the same files) and golangci-lint (a type-checking linter
# run with the linters that overlap pitfall's rules)?
#
# TREE defaults to the Go standard library, $(go env GOROOT)/src.
# Environment knobs (all optional):
#   RUNS=5 WARMUP=1      hyperfine runs and warmup runs per command
#   SKIP_BUILD=1         use the existing target/release/pitfall
#   SKIP_GCL=1           do not run golangci-lint
#   GCL_TARGET=DIR       module directory for golangci-lint (default: TREE when it
#                        holds a go.mod, else examples/orders-service)
#   GCL_TIMEOUT=30m      golangci-lint --timeout
# Missing tools are skipped with a message; only a failed pitfall build stops the run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
GCL_TIMEOUT=${GCL_TIMEOUT:-30m}
GCL_CONFIG="$ROOT/bench/golangci.yml"
PITFALL="$ROOT/target/release/pitfall"

have() { command -v "$1" >/dev/null 2>&1; }
say() { printf '%s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }
skip() { printf 'SKIP: %s\n' "$*"; }

# golangci-lint installed with `go install` lands in $(go env GOPATH)/bin.
if have go; then
    PATH="$PATH:$(go env GOPATH)/bin"
fi

if [[ $# -ge 1 ]]; then
    TREE=$1
elif have go; then
    TREE="$(go env GOROOT)/src"
else
    say "error: no TREE given and no go toolchain to find GOROOT" >&2
    exit 2
fi
TREE=$(cd "$TREE" && pwd)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pitfall-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- helpers

# seconds from /usr/bin/time's "h:mm:ss" or "m:ss.ss"
to_seconds() {
    awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else if (NF == 2) print $1*60 + $2; else print $1 }' <<<"$1"
}

# div A B [DECIMALS] — floating point division that tolerates empty input
div() {
    awk -v a="${1:-}" -v b="${2:-}" -v d="${3:-2}" \
        'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.*f\n", d, a / b }'
}

# mbps BYTES SECONDS — throughput in MB/s (10^6 bytes)
mbps() {
    awk -v a="${1:-}" -v b="${2:-}" \
        'BEGIN { if (a == "" || b == "" || b == "n/a" || b + 0 == 0) print "n/a"; else printf "%.1f\n", a / 1e6 / b }'
}

# timev NAME OK_CODES CMD... — one run under /usr/bin/time -v.
# Sets TV_WALL (s), TV_RSS_MB, TV_CPU (user+sys s), TV_RC; stderr of CMD in $WORK/NAME.stderr.
# An exit code listed in OK_CODES (e.g. "0 1") is not an error.
timev() {
    local name=$1 ok=$2
    shift 2
    TV_WALL="" TV_RSS_MB="" TV_CPU="" TV_RC=0
    if [[ -z "$TIME_BIN" ]]; then
        skip "/usr/bin/time not installed (Debian package 'time'): no wall/RSS for $name"
        return 0
    fi
    "$TIME_BIN" -v -o "$WORK/$name.time" "$@" >"$WORK/$name.stdout" 2>"$WORK/$name.stderr" || TV_RC=$?
    local wall rss user sys
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$WORK/$name.time")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/$name.time")
    user=$(sed -n 's/.*User time (seconds): //p' "$WORK/$name.time")
    sys=$(sed -n 's/.*System time (seconds): //p' "$WORK/$name.time")
    TV_WALL=$(to_seconds "$wall")
    TV_RSS_MB=$(div "$rss" 1024 1)
    TV_CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f\n", u + s }')
    if [[ " $ok " != *" $TV_RC "* ]]; then
        say "WARNING: $name exited with $TV_RC (expected one of: $ok); last stderr lines:"
        tail -n 5 "$WORK/$name.stderr" | sed 's/^/    /'
    fi
    say "$(printf '%-24s wall %8.3f s   cpu %8.2f s   peak RSS %8s MB   exit %s' \
        "$name" "$TV_WALL" "$TV_CPU" "$TV_RSS_MB" "$TV_RC")"
}

# hf NAME CMDSTRING — hyperfine (warmup + RUNS); sets HF_MEAN, HF_STDDEV and HF_CPU
# (mean user+system CPU seconds) — CPU time is the steadier number on a busy machine.
# Without hyperfine, falls back to the /usr/bin/time wall time measured before.
hf() {
    local name=$1 cmd=$2
    HF_MEAN="" HF_STDDEV="" HF_CPU=""
    if [[ -z "$HYPERFINE" ]]; then
        HF_MEAN=$TV_WALL HF_CPU=$TV_CPU
        return 0
    fi
    # -i: pitfall exits 1 when it has findings, gofmt 2 on unparsable testdata files
    if ! hyperfine -N -i --style basic --warmup "$WARMUP" --runs "$RUNS" \
        --command-name "$name" --export-json "$WORK/$name.json" "$cmd" \
        >"$WORK/$name.hyperfine" 2>&1; then
        # -N (no shell) needs hyperfine >= 1.13; retry through the shell
        hyperfine -i --style basic --warmup "$WARMUP" --runs "$RUNS" \
            --command-name "$name" --export-json "$WORK/$name.json" "$cmd" \
            >"$WORK/$name.hyperfine" 2>&1 || true
    fi
    sed -n '/Time (mean/,/Range/p' "$WORK/$name.hyperfine" | sed 's/^/    /'
    if [[ -s "$WORK/$name.json" ]] && have jq; then
        HF_MEAN=$(jq -r '.results[0].mean' "$WORK/$name.json")
        HF_STDDEV=$(jq -r '.results[0].stddev // 0' "$WORK/$name.json")
        HF_CPU=$(jq -r '.results[0].user + .results[0].system' "$WORK/$name.json")
    elif [[ -s "$WORK/$name.json" ]] && have python3; then
        HF_MEAN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["mean"])' "$WORK/$name.json")
        HF_STDDEV=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0].get("stddev") or 0)' "$WORK/$name.json")
        HF_CPU=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["user"]+r["system"])' "$WORK/$name.json")
    else
        HF_MEAN=$TV_WALL HF_CPU=$TV_CPU
    fi
}

# ---------------------------------------------------------------- tools

TIME_BIN=""
if [[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1; then
    TIME_BIN=/usr/bin/time
fi
HYPERFINE=""
have hyperfine && HYPERFINE=hyperfine

section "machine"
say "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
say "cpus:     $(nproc 2>/dev/null || echo '?')  ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1))"
say "load:     $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null) (1/5/15 min; other work on the machine skews timings)"
say "memory:   $(awk '/^MemTotal/ { printf "%.1f GiB\n", $2 / 1048576 }' /proc/meminfo 2>/dev/null)"
say "go:       $(have go && go version || echo 'not installed')"
if [[ -n "$HYPERFINE" ]]; then
    say "hyperfine: $(hyperfine --version)"
else
    say "hyperfine: not installed (apt-get install -y hyperfine); single /usr/bin/time runs only"
fi
say "time:     ${TIME_BIN:-not installed (apt-get install -y time)}"

# ---------------------------------------------------------------- build

section "build"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    say "\$ cargo build --release -p pitfall_cli"
    (cd "$ROOT" && nice cargo build --release -p pitfall_cli)
fi
if [[ ! -x "$PITFALL" ]]; then
    say "error: $PITFALL was not built" >&2
    exit 1
fi
say "pitfall:  $PITFALL ($("$PITFALL" --version 2>/dev/null || echo 'version unknown'))"

# ---------------------------------------------------------------- the tree

section "tree: $TREE"
# all .go files (what `gofmt -l TREE` reads) ...
find "$TREE" -type f -name '*.go' -print0 >"$WORK/all.list"
# ... and those pitfall walks: like the go tool it skips testdata/, vendor/ and
# directories whose name starts with "." or "_" (it also skips generated files,
# which are counted here; pitfall's own summary line on stderr has its exact count)
find "$TREE" -mindepth 1 \( -type d \( -name testdata -o -name vendor -o -name '.*' -o -name '_*' \) -prune \) -o \
    -type f -name '*.go' -print0 >"$WORK/checked.list"

tree_stats() { # LIST -> "files lines bytes"
    local files lines bytes
    files=$(tr -cd '\0' <"$1" | wc -c)
    if [[ "$files" -eq 0 ]]; then
        echo "0 0 0"
        return
    fi
    lines=$(xargs -0 cat <"$1" | wc -l)
    bytes=$(xargs -0 cat <"$1" | wc -c)
    echo "$files $lines $bytes"
}
read -r ALL_FILES ALL_LINES ALL_BYTES < <(tree_stats "$WORK/all.list")
read -r CHK_FILES CHK_LINES CHK_BYTES < <(tree_stats "$WORK/checked.list")
ALL_MB=$(div "$ALL_BYTES" 1000000 2)
CHK_MB=$(div "$CHK_BYTES" 1000000 2)
say "all .go files:                   $ALL_FILES files, $ALL_LINES lines, $ALL_BYTES bytes ($ALL_MB MB)"
say "without testdata/ vendor/ .* _*: $CHK_FILES files, $CHK_LINES lines, $CHK_BYTES bytes ($CHK_MB MB)"
if [[ "$ALL_FILES" -eq 0 ]]; then
    say "error: no .go files under $TREE" >&2
    exit 1
fi

# ---------------------------------------------------------------- pitfall

section "pitfall check --format json $TREE"
timev pitfall "0 1" "$PITFALL" check --format json "$TREE"
P_WALL=$TV_WALL P_RSS=$TV_RSS_MB P_CPU=$TV_CPU P_RC=$TV_RC
if [[ -s "$WORK/pitfall.stdout" ]] && have jq; then
    say "findings: $(jq '.findings | length' "$WORK/pitfall.stdout" 2>/dev/null || echo '? (stdout is not the expected JSON)')"
    jq -r '[.findings[].rule] | group_by(.) | map("    \(.[0]): \(length)") | .[]' \
        "$WORK/pitfall.stdout" 2>/dev/null || true
fi
say "stderr: $(grep -c '' "$WORK/pitfall.stderr" || true) lines; the last ones:"
if [[ -s "$WORK/pitfall.stderr" ]]; then
    tail -n 5 "$WORK/pitfall.stderr" | sed 's/^/    /'
else
    say "    (empty)"
fi
# the summary line `pitfall: checked N files (E with syntax errors) in T s`, when printed;
# otherwise count the per-file "syntax error" warnings
P_SUMMARY=$(grep -E '^pitfall: checked' "$WORK/pitfall.stderr" | tail -n 1 || true)
P_SYNTAX=$(sed -n 's/.*(\([0-9][0-9]*\) with syntax errors).*/\1/p' <<<"$P_SUMMARY" | tail -n 1)
if [[ -n "$P_SUMMARY" ]]; then
    say "summary line: $P_SUMMARY"
fi
if [[ -z "$P_SYNTAX" ]]; then
    P_SYNTAX="$(grep -c 'syntax error' "$WORK/pitfall.stderr" || true) (warning lines on stderr; no summary line)"
    if [[ $(grep -c '' "$WORK/pitfall.stderr" || true) -gt 5 ]]; then
        grep 'syntax error' "$WORK/pitfall.stderr" | sed 's/^/    /' | head -n 20 || true
    fi
fi
say "files with syntax errors: $P_SYNTAX"
hf pitfall "$PITFALL check --format json $TREE"
P_MEAN=$HF_MEAN P_SD=$HF_STDDEV P_HCPU=$HF_CPU
P_MBS=$(mbps "$CHK_BYTES" "$P_MEAN")

# ---------------------------------------------------------------- gofmt

G_MEAN="" G_SAME_MEAN=""
if have gofmt; then
    section "gofmt -l $TREE   (pure parse + print, every .go file incl. testdata)"
    timev gofmt "0 2" gofmt -l "$TREE"
    G_WALL=$TV_WALL G_RSS=$TV_RSS_MB G_CPU=$TV_CPU
    say "files gofmt could not parse: $(grep -c '' "$WORK/gofmt.stderr" || true) stderr lines"
    hf gofmt "gofmt -l $TREE"
    G_MEAN=$HF_MEAN G_SD=$HF_STDDEV G_HCPU=$HF_CPU
    G_MBS=$(mbps "$ALL_BYTES" "$G_MEAN")

    section "gofmt -l on exactly the files pitfall checks (xargs, testdata/vendor pruned)"
    timev gofmt-same "0 2 123" xargs -0 -a "$WORK/checked.list" gofmt -l
    GS_RSS=$TV_RSS_MB GS_CPU=$TV_CPU
    hf gofmt-same "xargs -0 -a $WORK/checked.list gofmt -l"
    G_SAME_MEAN=$HF_MEAN G_SAME_SD=$HF_STDDEV GS_HCPU=$HF_CPU
    G_SAME_MBS=$(mbps "$CHK_BYTES" "$G_SAME_MEAN")
else
    section "gofmt"
    skip "gofmt not found (install Go)"
fi

# ---------------------------------------------------------------- golangci-lint

GCL_WALL=""
GCL_VERSION=""
if [[ "${SKIP_GCL:-0}" == 1 ]]; then
    section "golangci-lint"
    skip "SKIP_GCL=1"
elif ! have golangci-lint; then
    section "golangci-lint"
    skip "golangci-lint not found; install with:"
    say "      go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@latest"
else
    GCL_VERSION=$(golangci-lint --version 2>/dev/null | head -n 1)
    if [[ -n "${GCL_TARGET:-}" ]]; then
        GCL_DIR=$GCL_TARGET
    elif [[ -f "$TREE/go.mod" ]]; then
        GCL_DIR=$TREE
    else
        GCL_DIR="$ROOT/examples/orders-service"
        say "note: $TREE has no go.mod; golangci-lint needs a module, using $GCL_DIR"
    fi
    GCL_DIR=$(cd "$GCL_DIR" && pwd)
    GCL_LINTERS=$(sed -n '/^  enable:/,/^  [a-z]/s/^    - //p' "$GCL_CONFIG" | paste -sd, -)
    section "golangci-lint run in $GCL_DIR"
    say "version: $GCL_VERSION"
    say "config:  $GCL_CONFIG (linters: $GCL_LINTERS)"
    say "cold run: 'golangci-lint cache clean' first (its result cache would make a rerun instant);"
    say "          Go's build cache (GOCACHE) is left warm. One run, no hyperfine: it takes minutes."
    GCL_PATTERNS=(./...)
    if [[ -f "$GCL_DIR/go.mod" ]] && grep -qx 'module std' "$GCL_DIR/go.mod"; then
        # The standard library: analysing package unsafe (pseudo-source) as a root
        # makes govet's printf pass panic ("Finder.Find: one of info.{Defs,Uses,
        # Selections.Types} is not populated", golangci-lint v2.15 / x/tools v0.52),
        # and the run then fails with exit 3. List the other top-level directories
        # instead, cmd/ included (the go tool resolves GOROOT's nested cmd module):
        # the same Go files pitfall checks, minus unsafe/ and builtin/ (no real code),
        # vendor/ and testdata/ (pitfall skips them too).
        GCL_PATTERNS=()
        for d in "$GCL_DIR"/*/; do
            d=$(basename "$d")
            case $d in unsafe | builtin | vendor | testdata) continue ;; esac
            GCL_PATTERNS+=("./$d/...")
        done
        say "module std: running on ${#GCL_PATTERNS[@]} top-level directories (all but unsafe/ builtin/ vendor/ testdata/; see run.sh)"
    fi
    golangci-lint cache clean >/dev/null 2>&1 || true
    # exit 1 = issues found; anything else is a failure
    timev golangci-lint "0 1" env -C "$GCL_DIR" golangci-lint run --timeout "$GCL_TIMEOUT" \
        -c "$GCL_CONFIG" "${GCL_PATTERNS[@]}"
    GCL_WALL=$TV_WALL GCL_RSS=$TV_RSS_MB GCL_CPU=$TV_CPU GCL_RC=$TV_RC
    if [[ "$GCL_RC" != 0 && "$GCL_RC" != 1 ]]; then
        say "golangci-lint failed (exit $GCL_RC) on $GCL_DIR; its numbers are not comparable."
        GCL_WALL=""
    fi
    say "issues: $(grep -cE '^[^[:space:]]+\.go:[0-9]+:' "$WORK/golangci-lint.stdout" || true)"
    sed -n '/^[0-9][0-9]* issues:/,$p' "$WORK/golangci-lint.stdout" | sed 's/^/    /'
    # pitfall on exactly the golangci-lint target, when that is not the tree above
    if [[ -n "$GCL_WALL" ]]; then
        if [[ "$GCL_DIR" == "$TREE" && "${GCL_PATTERNS[*]}" == "./..." ]]; then
            PG_MEAN=$P_MEAN PG_HCPU=$P_HCPU
        else
            PG_DIRS=()
            for p in "${GCL_PATTERNS[@]}"; do PG_DIRS+=("$GCL_DIR/${p%/...}"); done
            say "pitfall on the same target (${#PG_DIRS[@]} path(s) under $GCL_DIR):"
            timev pitfall-gcl-target "0 1" "$PITFALL" check --format json "${PG_DIRS[@]}"
            hf pitfall-gcl-target "$PITFALL check --format json ${PG_DIRS[*]}"
            PG_MEAN=$HF_MEAN PG_HCPU=$HF_CPU
        fi
    fi
fi

# ---------------------------------------------------------------- summary

section "summary ($TREE)"
num3() { awk -v x="${1:-}" 'BEGIN { if (x == "" || x == "n/a") print "n/a"; else printf "%.3f\n", x }'; }
row() { # LABEL MEAN SD MBS CPU BYTES RSS
    printf '%-30s %9s %8s %8s %9s %10s %8s\n' "$1" "$(num3 "$2")" "$(num3 "${3:-}")" "$4" \
        "$(num3 "${5:-}")" "$(mbps "$6" "${5:-}")" "${7:-n/a}"
}
printf '%-30s %9s %8s %8s %9s %10s %8s\n' "command" "mean s" "± s" "MB/s" "CPU s" "MB/CPU-s" "RSS MB"
row "pitfall check --format json" "$P_MEAN" "${P_SD:-}" "$P_MBS" "${P_HCPU:-}" "$CHK_BYTES" "${P_RSS:-}"
if [[ -n "$G_MEAN" ]]; then
    row "gofmt -l TREE" "$G_MEAN" "${G_SD:-}" "$G_MBS" "${G_HCPU:-}" "$ALL_BYTES" "${G_RSS:-}"
    row "gofmt -l (pitfall's files)" "$G_SAME_MEAN" "${G_SAME_SD:-}" "$G_SAME_MBS" "${GS_HCPU:-}" "$CHK_BYTES" "${GS_RSS:-}"
fi
say "MB/s = bytes of the files each command reads / mean wall time ($CHK_MB MB for pitfall and"
say "'pitfall's files', $ALL_MB MB for gofmt -l TREE)."
say "CPU s = mean user+system seconds (hyperfine); MB/CPU-s = bytes / CPU s. On a machine"
say "shared with other work, CPU seconds are the steadier number; wall time includes waiting."
if [[ -n "$G_MEAN" ]]; then
    say "ratio pitfall / gofmt -l TREE (wall):          $(div "$P_MEAN" "$G_MEAN" 2)x"
    say "ratio pitfall / gofmt on the same files (wall): $(div "$P_MEAN" "$G_SAME_MEAN" 2)x"
    say "ratio pitfall / gofmt on the same files (CPU):  $(div "${P_HCPU:-}" "${GS_HCPU:-}" 2)x"
fi
if [[ -n "$GCL_WALL" ]]; then
    say "golangci-lint (${GCL_VERSION%% built*}) on $GCL_DIR: $GCL_WALL s wall, $GCL_CPU s CPU, $GCL_RSS MB peak RSS"
    say "pitfall on the same target: $(num3 "$PG_MEAN") s (hyperfine mean)"
    say "ratio golangci-lint / pitfall (wall, same packages): $(div "$GCL_WALL" "$PG_MEAN" 1)x"
    say "ratio golangci-lint / pitfall (CPU, same packages):  $(div "$GCL_CPU" "${PG_HCPU:-}" 1)x"
fi
say "pitfall syntax-error files: ${P_SYNTAX:-not reported}; pitfall exit code: $P_RC"
