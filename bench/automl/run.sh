#!/usr/bin/env bash
# The AutoML benchmark: datasets and outer folds, Stratus, the references, and the table in docs/benchmarks.md (its AutoML section).
# Needs Debian's python3-sklearn python3-xgboost python3-optuna python3-pandas r-cran-mlbench r-cran-modeldata r-cran-kernlab (reference tooling only).
#   bench/automl/run.sh [budget-seconds-per-fold]   (default 10)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
budget="${1:-10}"
work="${WORK:-$(mktemp -d /tmp/stratus-automl-bench-XXXXXX)}"
/usr/bin/python3 "$here/prepare.py" "$work"
dotnet run -c Release --project "$root/bench/Stratus.Bench" -- automl "$work" "$budget"
/usr/bin/python3 "$here/references.py" "$work" "$budget"
/usr/bin/python3 "$here/report.py" "$work" "$budget" "$root/docs/benchmarks.md"
