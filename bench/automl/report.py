"""Scores every method's test-fold predictions the same way, records each dataset's scores in
bench/automl/results/DATASET.json (with the commit Stratus ran from), and writes the comparison table of every recorded
dataset: the "## AutoML (BUDGET s per fold ...)" section of OUT_MARKDOWN (docs/benchmarks.md), replaced in place, the file's other sections
kept. A benchmark of many datasets can so be run in parts (run.sh DATASET ...); the table says when its rows come from
different commits.

usage: report.py WORK BUDGET_SECONDS OUT_MARKDOWN [DATASET ...]   (every dataset in WORK when none is named)
"""
import json, os, subprocess, sys
import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, r2_score, roc_auc_score

work, budget, out, only = sys.argv[1], sys.argv[2], sys.argv[3], set(sys.argv[4:])
here = os.path.dirname(os.path.abspath(__file__))
results = os.path.join(here, "results")
methods = ["stratus", "xgboost", "histgb", "linear", "optuna"]
defaults = ["xgboost", "histgb", "linear"]
names = {"stratus": "Stratus AutoML", "xgboost": "XGBoost defaults", "histgb": "HistGB defaults", "linear": "linear defaults",
         "optuna": "Optuna TPE + XGBoost"}


def score(task, test, target, path):
    p = pd.read_csv(path)
    if task == "regression":
        return r2_score(test[target], p.iloc[:, 0])
    classes = sorted(set(c for c in p.columns if c != "label"))
    y = test[target].astype(str)
    probs = p[classes].to_numpy()
    if task == "binary":
        return roc_auc_score((y == classes[1]).astype(int), probs[:, 1])
    probs = np.clip(probs, 1e-15, 1)
    probs = probs / probs.sum(axis=1, keepdims=True)
    return log_loss(y, probs, labels=classes)


def commit():
    root = os.path.dirname(os.path.dirname(here))
    head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "src"], capture_output=True, text=True).stdout.strip()
    return head + ("+changes" if dirty else "")


# 1. Score the datasets run this time and record them.
os.makedirs(results, exist_ok=True)
for name in sorted(os.listdir(work)):
    meta_path = os.path.join(work, name, "meta.json")
    if not os.path.exists(meta_path) or (only and name not in only):
        continue
    meta = json.load(open(meta_path))
    task, target = meta["task"], meta["target"]
    # A run of Stratus alone (run.sh --stratus-only) keeps the references' recorded scores of the same folds: they do
    # not depend on Stratus's code, and the folds are prepare.py's, seeded.
    path = os.path.join(results, f"{name}.json")
    recorded = json.load(open(path)) if os.path.exists(path) else None
    recorded = recorded if recorded and recorded["budget"] == float(budget) else None
    folds, references_from = [], recorded.get("references_from", recorded["commit"]) if recorded else None
    for k, fold in enumerate(sorted(d for d in os.listdir(os.path.join(work, name)) if d.startswith("fold"))):
        d = os.path.join(work, name, fold)
        test = pd.read_csv(os.path.join(d, "test.csv"))
        record = {m: score(task, test, target, os.path.join(d, f"{m}_pred.csv")) if os.path.exists(os.path.join(d, f"{m}_pred.csv")) else None
                  for m in methods}
        if os.path.exists(os.path.join(d, "stratus.json")):
            record["stratus_seconds"] = json.load(open(os.path.join(d, "stratus.json")))["seconds"]
        if os.path.exists(os.path.join(d, "references.json")):
            record["optuna_seconds"] = json.load(open(os.path.join(d, "references.json")))["seconds"]["optuna"]
            references_from = None
        elif recorded:
            for key in methods[1:] + ["optuna_seconds"]:
                if record.get(key) is None and key in recorded["folds"][k]:
                    record[key] = recorded["folds"][k][key]
        folds.append(record)
    with open(path, "w") as f:
        json.dump({"rows": meta["rows"], "columns": meta.get("columns"), "task": task, "metric": meta["metric"], "budget": float(budget),
                   "commit": commit(), **({"references_from": references_from} if references_from else {}), "folds": folds}, f, indent=1)
        f.write("\n")

# 2. The table of every recorded dataset.
rows, wins, wins_optuna, close, commits, reused = [], 0, 0, 0, set(), []
for file in sorted(os.listdir(results)):
    r = json.load(open(os.path.join(results, file)))
    if r["budget"] != float(budget):
        continue
    name, metric = file[:-5], r["metric"]
    mean = {m: float(np.mean([f[m] for f in r["folds"] if f.get(m) is not None])) if any(f.get(m) is not None for f in r["folds"]) else float("nan")
            for m in methods}
    lower = metric == "log_loss"
    better = (lambda a, b: a <= b + 1e-12) if lower else (lambda a, b: a >= b - 1e-12)
    refs = [mean[m] for m in methods[1:] if not np.isnan(mean[m])]
    best_ref = min(refs) if lower else max(refs)
    s = mean["stratus"]
    good = all(better(s, mean[m]) for m in defaults if not np.isnan(mean[m]))
    good_optuna = better(s, mean["optuna"])
    # "within 1%": relative to the best reference's score (log-loss: 1% higher at most).
    near = s <= best_ref * 1.01 + 1e-12 if lower else s >= best_ref - abs(best_ref) * 0.01 - 1e-12
    wins, wins_optuna, close = wins + good, wins_optuna + good_optuna, close + near
    commits.add(r["commit"])
    if r.get("references_from"):
        reused.append(r["references_from"])
    longest = lambda key: max((f[key] for f in r["folds"] if key in f), default=float("nan"))
    rows.append((name, r["rows"], r["task"], metric, mean, good, good_optuna, near, longest("stratus_seconds"), longest("optuna_seconds"), r["commit"]))

n = len(rows)
lines = [f"## AutoML ({budget} s per fold, 5-fold outer cross-validation)", "",
         "Mean test score over the outer folds (AUC and R²: higher is better; log-loss: lower is better). "
         "Each method sees the same training rows; the searches the same budget. Stratus ran in-process (`AutoMlSearch`, "
         "its test rows scored by the batch-scoring path), the references from Debian's Python packages. Both searches stop "
         "boosting when the budget is spent (Optuna through an XGBoost callback in its trials and its refit, as Stratus stops "
         "its trials); the last columns show how long each took at most and the commit Stratus ran from. Produced by "
         "`bench/automl/run.sh`, which may run the datasets in parts (their scores are kept in `bench/automl/results/`).", "",
         "| dataset | rows | task | metric | " + " | ".join(names[m] for m in methods)
         + " | Stratus ≥ every default | Stratus ≥ Optuna | within 1% of the best | longest fold (s): Stratus, Optuna | commit |",
         "|---|---|---|---|" + "---|" * len(methods) + "---|---|---|---|---|"]
for name, rows_, task, metric, mean, good, good_optuna, near, longest, optuna_longest, at in rows:
    lines.append(f"| {name} | {rows_} | {task} | {metric} | " + " | ".join(f"{mean[m]:.4f}" for m in methods)
                 + f" | {'yes' if good else 'no'} | {'yes' if good_optuna else 'no'} | {'yes' if near else 'no'} | {longest:.1f}, {optuna_longest:.1f} | {at} |")
pct = lambda k: f"{100 * k / n:.0f}%" if n else "-"
lines += ["", f"On {n} datasets: Stratus at least as good as every default reference on {wins} ({pct(wins)}, aim 80%), "
          f"as Optuna's search on {wins_optuna} ({pct(wins_optuna)}, aim 60%); within 1% of the best reference on {close}."
          + (f" The rows come from {len(commits)} commits." if len(commits) > 1 else "")
          + (f" On {len(reused)} of them Stratus ran alone (run.sh --stratus-only), beside the references' scores recorded for"
             f" the same folds and budget at {', '.join(sorted(set(reused)))}." if reused else ""), ""]
section = "\n".join(lines)
print(section)
# Replace this budget's section of the file (up to the next "## " heading), or add it; the other sections stay.
text = open(out).read() if os.path.exists(out) else "# Benchmarks\n\n"
start = text.find(f"## AutoML ({budget} s per fold")
if start < 0:
    text = text.rstrip("\n") + "\n\n" + section
else:
    end = text.find("\n## ", start + 1)
    text = text[:start] + section + ("" if end < 0 else "\n" + text[end + 1:])
with open(out, "w") as f:
    f.write(text)
