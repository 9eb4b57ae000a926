#!/usr/bin/env bash
# Runs pitfall's manifest rules and kube-score's overlapping checks on the same
# manifests (each manifest rule's fixture folder) and prints, per folder, how
# many problems each tool reports. kube-score: `go install
# github.com/zegl/kube-score/cmd/kube-score@latest`. Not part of the tests.
#   bench/compare-kube-score.sh [PITFALL_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
pitfall=${1:-target/release/pitfall}
ks=${KUBE_SCORE:-$(command -v kube-score || echo "$HOME/go/bin/kube-score")}
# pitfall rule -> kube-score checks that look at the same thing
declare -A overlap=(
  [missing-readiness-probe]="pod-probes"
  [missing-liveness-probe]="pod-probes"
  [identical-probes]="pod-probes"
  [missing-resources]="container-resources"
  [unpinned-image]="container-image-tag"
  [missing-security-context]="container-security-context-user-group-id container-security-context-privileged container-security-context-readonlyrootfilesystem"
  [world-writable-volume]=""
  [pprof-port-exposed]=""
  [debug-settings]=""
)
printf '%-26s %8s  %-70s\n' "fixture / pitfall rule" "pitfall" "kube-score (overlapping checks: comments)"
for rule in missing-readiness-probe missing-liveness-probe identical-probes missing-resources \
            unpinned-image missing-security-context world-writable-volume pprof-port-exposed debug-settings; do
  dir=tests/fixtures/$rule
  n=$({ "$pitfall" check --no-config --select "$rule" --format json "$dir" 2>/dev/null || true; } |
      python3 -c 'import json,sys; print(len(json.load(sys.stdin)["findings"]))')
  ks_out=$(find "$dir" -name '*.yaml' -print0 | xargs -0 "$ks" score -o json 2>/dev/null || true)
  summary=$(OVERLAP="${overlap[$rule]}" python3 -c '
import json, os, sys
want = os.environ["OVERLAP"].split()
try:
    objs = json.loads(sys.stdin.read() or "[]")
except ValueError:
    objs = []
counts = {w: 0 for w in want}
for o in objs or []:
    for c in o.get("checks") or []:
        cid = c["check"]["id"]
        if cid in counts and not c.get("skipped") and c.get("grade", 10) < 10:
            counts[cid] += len(c.get("comments") or []) or 1
print(", ".join(f"{k}: {v}" for k, v in counts.items()) or "(no overlapping check)")
' <<<"$ks_out")
  printf '%-26s %8s  %-70s\n' "$rule" "$n" "$summary"
done
