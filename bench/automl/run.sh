#!/usr/bin/env bash
# The AutoML benchmark: datasets and outer folds, Stratus, the references, and the table in docs/benchmarks.md (its AutoML section).
# Needs Debian's python3-sklearn python3-xgboost python3-optuna python3-pandas r-cran-mlbench r-cran-modeldata r-cran-kernlab
# r-cran-aer r-cran-ggplot2 r-cran-caret (reference tooling only).
#   bench/automl/run.sh [--stratus-only] [budget-seconds-per-fold] [dataset ...]   (default 10 s; every dataset when none is named)
# --stratus-only runs Stratus alone and keeps the references' scores recorded for the same folds and budget (they do not
# depend on Stratus's code), where they are recorded: a change to the search is measured in a third of the time.
# Dataset by dataset: each one's scores are recorded in bench/automl/results/ as it ends, so the 39 sets (about 4 minutes
# each at 20 s) can be run in parts; the table holds every recorded dataset.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
stratus_only=false
if [ "${1:-}" = "--stratus-only" ]; then stratus_only=true; shift; fi
budget="${1:-10}"
shift || true
work="${WORK:-$(mktemp -d /tmp/stratus-automl-bench-XXXXXX)}"
/usr/bin/python3 "$here/prepare.py" "$work"
dotnet build -c Release "$root/bench/Stratus.Bench" >/dev/null
sets=("$@")
if [ ${#sets[@]} -eq 0 ]; then
  for d in "$work"/*/; do [ -f "$d/meta.json" ] && sets+=("$(basename "$d")"); done
fi
for set in "${sets[@]}"; do
  dotnet run -c Release --no-build --project "$root/bench/Stratus.Bench" -- automl "$work" "$budget" "$set"
  if ! $stratus_only || ! grep -qs "\"budget\": $budget.0," "$here/results/$set.json"; then
    /usr/bin/python3 "$here/references.py" "$work" "$budget" "$set"
  fi
  /usr/bin/python3 "$here/report.py" "$work" "$budget" "$root/docs/benchmarks.md" "$set" | grep -E "^\| $set |^On "
done
