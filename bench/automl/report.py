"""Scores every method's test-fold predictions the same way and writes the comparison table: the "## AutoML" section
of OUT_MARKDOWN (docs/benchmarks.md), replaced in place, the file's other sections kept.

usage: report.py WORK BUDGET_SECONDS OUT_MARKDOWN
"""
import json, os, sys
import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, r2_score, roc_auc_score

work, budget, out = sys.argv[1], sys.argv[2], sys.argv[3]
methods = ["stratus", "xgboost", "histgb", "optuna"]
names = {"stratus": "Stratus AutoML", "xgboost": "XGBoost defaults", "histgb": "HistGB defaults", "optuna": "Optuna TPE + XGBoost"}


def score(task, metric, test, target, path):
    p = pd.read_csv(path)
    if task == "regression":
        return r2_score(test[target], p.iloc[:, 0])
    classes = sorted(test[target].astype(str).unique().tolist() + [c for c in p.columns if c != "label"])
    classes = sorted(set(c for c in p.columns if c != "label"))
    y = test[target].astype(str)
    probs = p[classes].to_numpy()
    if task == "binary":
        return roc_auc_score((y == classes[1]).astype(int), probs[:, 1])
    probs = np.clip(probs, 1e-15, 1)
    probs = probs / probs.sum(axis=1, keepdims=True)
    return log_loss(y, probs, labels=classes)


rows, wins, close = [], 0, 0
for name in sorted(os.listdir(work)):
    meta_path = os.path.join(work, name, "meta.json")
    if not os.path.exists(meta_path):
        continue
    meta = json.load(open(meta_path))
    task, metric, target = meta["task"], meta["metric"], meta["target"]
    per = {m: [] for m in methods}
    seconds, optuna_seconds = [], []
    for fold in sorted(d for d in os.listdir(os.path.join(work, name)) if d.startswith("fold")):
        d = os.path.join(work, name, fold)
        info = os.path.join(d, "stratus.json")
        if os.path.exists(info):
            seconds.append(json.load(open(info))["seconds"])
        references = os.path.join(d, "references.json")
        if os.path.exists(references):
            optuna_seconds.append(json.load(open(references))["seconds"]["optuna"])
        test = pd.read_csv(os.path.join(d, "test.csv"))
        for m in methods:
            path = os.path.join(d, f"{m}_pred.csv")
            per[m].append(score(task, metric, test, target, path) if os.path.exists(path) else np.nan)
    mean = {m: float(np.mean(v)) for m, v in per.items()}
    lower = metric == "log_loss"
    refs = [mean[m] for m in methods[1:]]
    best_ref = min(refs) if lower else max(refs)
    s = mean["stratus"]
    good = s <= min(refs) + 1e-12 if lower else s >= max(refs) - 1e-12
    # "within 1%": relative to the best reference's score (log-loss: 1% higher at most).
    near = s <= best_ref * 1.01 + 1e-12 if lower else s >= best_ref - abs(best_ref) * 0.01 - 1e-12
    wins += good
    close += near
    rows.append((name, meta["rows"], task, metric, mean, good, near, max(seconds) if seconds else float("nan"),
                 max(optuna_seconds) if optuna_seconds else float("nan")))

lines = [f"## AutoML ({budget} s per fold, 5-fold outer cross-validation)", "",
         "Mean test score over the outer folds (AUC and R²: higher is better; log-loss: lower is better). "
         "Each method sees the same training rows and the same budget; Stratus ran in-process (`AutoMlSearch`), the "
         "references from Debian's Python packages. Both searches stop boosting when the budget is spent (Optuna through an "
         "XGBoost callback in its trials and its refit, as Stratus stops its trials); the last column shows how long each "
         "took at most. Produced by `bench/automl/run.sh`.", "",
         "| dataset | rows | task | metric | " + " | ".join(names[m] for m in methods) + " | Stratus ≥ every reference | within 1% of the best | longest fold (s): Stratus, Optuna |",
         "|---|---|---|---|" + "---|" * len(methods) + "---|---|---|"]
for name, n, task, metric, mean, good, near, longest, optuna_longest in rows:
    lines.append(f"| {name} | {n} | {task} | {metric} | " + " | ".join(f"{mean[m]:.4f}" for m in methods)
                 + f" | {'yes' if good else 'no'} | {'yes' if near else 'no'} | {longest:.1f}, {optuna_longest:.1f} |")
lines += ["", f"Stratus at least as good as every reference on {wins} of {len(rows)} datasets ({100 * wins / len(rows):.0f}%, aim 80%); "
          f"within 1% of the best reference on {close} of {len(rows)}.", ""]
section = "\n".join(lines)
print(section)
# Replace this section of the file (up to the next "## " heading), or add it; the other sections stay.
text = open(out).read() if os.path.exists(out) else "# Benchmarks\n\n"
start = text.find("## AutoML")
if start < 0:
    text = text.rstrip("\n") + "\n\n" + section
else:
    end = text.find("\n## ", start + 1)
    text = text[:start] + section + ("" if end < 0 else "\n" + text[end + 1:])
with open(out, "w") as f:
    f.write(text)
