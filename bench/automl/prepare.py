"""Builds the AutoML benchmark's datasets and their outer folds: bench/automl/work/<dataset>/fold<k>/{train,test}.csv + meta.json.

Reference tooling only (scikit-learn from Debian, R's mlbench); the product never depends on it.
"""
import json, os, subprocess, sys
import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.model_selection import KFold, StratifiedKFold

work = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "work")
raw = os.path.join(work, "raw")
os.makedirs(raw, exist_ok=True)
subprocess.run(["Rscript", os.path.join(os.path.dirname(__file__), "export_mlbench.R"), raw], check=True)


def sk(loader, target="target", names=None):
    d = loader()
    frame = pd.DataFrame(d.data, columns=[f"x{i}" for i in range(d.data.shape[1])] if names is None else names)
    frame[target] = d.target if names is None or d.target.dtype.kind == "f" else d.target
    return frame


def classes(frame, target, mapping):
    frame[target] = frame[target].map(lambda v: mapping[int(v)])
    return frame


sets = {}
sets["breast_cancer"] = (classes(sk(datasets.load_breast_cancer), "target", {0: "malignant", 1: "benign"}), "target", "binary")
sets["iris"] = (classes(sk(datasets.load_iris), "target", {0: "setosa", 1: "versicolor", 2: "virginica"}), "target", "multiclass")
sets["wine"] = (classes(sk(datasets.load_wine), "target", {0: "a", 1: "b", 2: "c"}), "target", "multiclass")
sets["digits"] = (classes(sk(datasets.load_digits), "target", {i: f"d{i}" for i in range(10)}), "target", "multiclass")
sets["diabetes"] = (sk(datasets.load_diabetes), "target", "regression")
x, y = datasets.make_classification(n_samples=4000, n_features=20, n_informative=8, n_redundant=4, flip_y=0.05, random_state=7)
synth = pd.DataFrame(x, columns=[f"x{i}" for i in range(20)]); synth["target"] = np.where(y == 1, "yes_", "no_")
sets["synthetic_classification"] = (synth, "target", "binary")
x, y = datasets.make_friedman1(n_samples=3000, noise=1.0, random_state=7)
fried = pd.DataFrame(x, columns=[f"x{i}" for i in range(10)]); fried["target"] = y
sets["friedman1"] = (fried, "target", "regression")
# The R packages' sets (export_mlbench.R): name, target, task.
for name, target, task in [("pima", "diabetes", "binary"), ("sonar", "Class", "binary"), ("ionosphere", "Class", "binary"),
                           ("glass", "Type", "multiclass"), ("vehicle", "Class", "multiclass"), ("boston", "medv", "regression"),
                           ("votes", "Class", "binary"), ("satellite", "classes", "multiclass"), ("soybean", "Class", "multiclass"),
                           ("breast_cancer_wisconsin", "Class", "binary"), ("vowel", "Class", "multiclass"), ("zoo", "type", "multiclass"),
                           ("letter", "lettr", "multiclass"), ("dna", "Class", "multiclass"), ("shuttle", "Class", "multiclass"),
                           ("servo", "Class", "regression"), ("ozone", "V4", "regression"),
                           ("credit", "Status", "binary"), ("attrition", "Attrition", "binary"), ("churn", "churn", "binary"),
                           ("ames", "Sale_Price", "regression"), ("hpc", "class", "multiclass"), ("concrete", "compressive_strength", "regression"),
                           ("lending_club", "Class", "binary"), ("cells", "class", "binary"),
                           ("spam", "type", "binary"), ("musk", "Class", "binary"), ("ticdata", "CARAVAN", "binary"),
                           ("fertility", "morekids", "binary"), ("nmes", "visits", "regression"),
                           ("diamonds", "price", "regression"), ("mdrr", "Activity", "binary")]:
    frame = pd.read_csv(os.path.join(raw, name + ".csv"))
    if task != "regression":
        frame[target] = "c_" + frame[target].astype(str)  # labels stay text, never read as booleans or numbers
    sets[name] = (frame, target, task)

for name, (frame, target, task) in sets.items():
    frame = frame.dropna(subset=[target]).reset_index(drop=True)
    frame.columns = [c.replace(".", "_") for c in frame.columns]
    target = target.replace(".", "_")
    # Rare classes (fewer rows than folds) cannot be stratified: they are dropped, as any user would have to.
    if task != "regression":
        counts = frame[target].value_counts()
        frame = frame[frame[target].isin(counts[counts >= 5].index)].reset_index(drop=True)
    split = (StratifiedKFold(5, shuffle=True, random_state=0).split(frame, frame[target]) if task != "regression"
             else KFold(5, shuffle=True, random_state=0).split(frame))
    for k, (train, test) in enumerate(split):
        d = os.path.join(work, name, f"fold{k}")
        os.makedirs(d, exist_ok=True)
        frame.iloc[train].to_csv(os.path.join(d, "train.csv"), index=False)
        frame.iloc[test].to_csv(os.path.join(d, "test.csv"), index=False)
    metric = {"binary": "auc", "multiclass": "log_loss", "regression": "r2"}[task]
    with open(os.path.join(work, name, "meta.json"), "w") as f:
        json.dump({"target": target, "task": task, "metric": metric, "rows": len(frame), "columns": frame.shape[1] - 1}, f)
    print(f"{name}: {len(frame)} rows, {frame.shape[1] - 1} columns, {task}")
