"""Reference runs for the AutoML benchmark, fold by fold: XGBoost defaults, scikit-learn HistGradientBoosting defaults,
a linear model at its defaults (median imputation and standard scaling, then logistic regression or ridge), and
Optuna's TPE search over XGBoost with the same wall-clock budget as Stratus. Writes <fold>/<method>_pred.csv (class
probabilities, or predictions) next to the fold's data; report.py scores every method the same way.

usage: references.py WORK BUDGET_SECONDS [DATASET ...]   (every dataset in WORK when none is named)
"""
import json, os, sys, time, warnings
import numpy as np
import pandas as pd
import optuna
import xgboost as xgb
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.metrics import log_loss, r2_score, roc_auc_score
from sklearn.model_selection import train_test_split

warnings.filterwarnings("ignore")
optuna.logging.set_verbosity(optuna.logging.WARNING)
work, budget, only = sys.argv[1], float(sys.argv[2]), set(sys.argv[3:])


def matrices(train, test, target):
    x = pd.get_dummies(pd.concat([train.drop(columns=[target]), test.drop(columns=[target])]), dummy_na=False).astype(float)
    return x.iloc[: len(train)].to_numpy(), x.iloc[len(train):].to_numpy()


def write(path, task, classes, predicted):
    if task == "regression":
        pd.DataFrame({"prediction": predicted}).to_csv(path, index=False)
    else:
        pd.DataFrame(predicted, columns=classes).to_csv(path, index=False)


def xgb_model(task, n_classes, **params):
    if task == "regression":
        return xgb.XGBRegressor(n_jobs=2, **params)
    return xgb.XGBClassifier(n_jobs=2, **params)


def score(task, y, p):
    if task == "binary":
        return roc_auc_score(y, p[:, 1])
    if task == "multiclass":
        return -log_loss(y, p, labels=list(range(p.shape[1])))
    return r2_score(y, p)


def predict(model, task, x):
    return model.predict(x) if task == "regression" else model.predict_proba(x)


class Deadline(xgb.callback.TrainingCallback):
    """Stops boosting when the budget is spent, as Stratus stops a trial: no method may run past its budget."""

    def __init__(self, at):
        self.at = at

    def after_iteration(self, model, epoch, evals_log):
        return time.time() >= self.at


def optuna_xgb(task, n_classes, x, y, seconds):
    started = time.time()
    # The refit on all rows comes out of the same budget: stop searching at 85% of it.
    search_end, end = started + seconds * 0.85, started + seconds
    xt, xv, yt, yv = train_test_split(x, y, test_size=0.2, random_state=0, stratify=None if task == "regression" else y)

    def objective(trial):
        params = dict(
            n_estimators=trial.suggest_int("n_estimators", 20, 1000, log=True),
            max_depth=trial.suggest_int("max_depth", 2, 10),
            learning_rate=trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            subsample=trial.suggest_float("subsample", 0.5, 1.0),
            colsample_bytree=trial.suggest_float("colsample_bytree", 0.3, 1.0),
            min_child_weight=trial.suggest_float("min_child_weight", 0.5, 20, log=True),
            reg_lambda=trial.suggest_float("reg_lambda", 1e-3, 10, log=True),
        )
        # A trial still boosting when the search's time is up keeps the trees it has (Optuna's timeout alone only
        # stops starting trials: on the larger sets one trial ran past the whole budget).
        model = xgb_model(task, n_classes, callbacks=[Deadline(search_end)], **params).fit(xt, yt)
        trial.set_user_attr("rounds", model.get_booster().num_boosted_rounds())
        return score(task, yv, predict(model, task, xv))

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, timeout=max(1.0, search_end - time.time()))
    best = dict(study.best_params, n_estimators=study.best_trial.user_attrs["rounds"])
    return xgb_model(task, n_classes, callbacks=[Deadline(end)], **best).fit(x, y), len(study.trials)


for name in sorted(os.listdir(work)):
    meta_path = os.path.join(work, name, "meta.json")
    if not os.path.exists(meta_path) or (only and name not in only):
        continue
    meta = json.load(open(meta_path))
    task, target = meta["task"], meta["target"]
    for fold in sorted(d for d in os.listdir(os.path.join(work, name)) if d.startswith("fold")):
        d = os.path.join(work, name, fold)
        train, test = pd.read_csv(os.path.join(d, "train.csv")), pd.read_csv(os.path.join(d, "test.csv"))
        x, xtest = matrices(train, test, target)
        if task == "regression":
            y, classes = train[target].to_numpy(), None
        else:
            classes = sorted(train[target].astype(str).unique())
            y = train[target].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy()
        n = len(classes) if classes else 0
        times = {}
        started = time.time()
        write(os.path.join(d, "xgboost_pred.csv"), task, classes, predict(xgb_model(task, n).fit(x, y), task, xtest))
        times["xgboost"] = time.time() - started
        started = time.time()
        hgb = HistGradientBoostingRegressor() if task == "regression" else HistGradientBoostingClassifier()
        write(os.path.join(d, "histgb_pred.csv"), task, classes, predict(hgb.fit(x, y), task, xtest))
        times["histgb"] = time.time() - started
        started = time.time()
        linear = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                               Ridge() if task == "regression" else LogisticRegression(max_iter=1000))
        write(os.path.join(d, "linear_pred.csv"), task, classes, predict(linear.fit(x, y), task, xtest))
        times["linear"] = time.time() - started
        started = time.time()
        model, trials = optuna_xgb(task, n, x, y, budget)
        write(os.path.join(d, "optuna_pred.csv"), task, classes, predict(model, task, xtest))
        times["optuna"] = time.time() - started
        json.dump({"seconds": times, "optuna_trials": trials}, open(os.path.join(d, "references.json"), "w"))
        print(f"{name}/{fold}: " + ", ".join(f"{k} {v:.1f}s" for k, v in times.items()) + f", optuna {trials} trials", flush=True)
