"""The Python serving stack most teams use, as the reference for `Stratus.Bench serve-python`.

FastAPI + uvicorn serving a scikit-learn pipeline (one-hot encoding of the categories, then XGBoost with the same
100 trees Stratus trains) on the same transactions, one JSON request per prediction, as the FastAPI and XGBoost
tutorials write it. All from Debian's packages (python3-fastapi, python3-uvicorn with python3-httptools and python3-uvloop as
uvicorn[standard] installs them, python3-xgboost, python3-sklearn, python3-pandas).

    /usr/bin/python3 bench/serving/fastapi_app.py TRAIN_CSV PORT WORKERS
"""
import os
import sys
from typing import Dict, List, Union

import pandas as pd
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from xgboost import XGBClassifier

FEATURES = ["amount", "merchant_category", "hour", "distance_km", "card_present", "customer_age"]


def train(csv: str) -> Pipeline:
    data = pd.read_csv(csv)
    pipeline = Pipeline([
        ("encode", ColumnTransformer([("category", OneHotEncoder(handle_unknown="ignore"), ["merchant_category"])], remainder="passthrough")),
        ("model", XGBClassifier(n_estimators=100, n_jobs=1, tree_method="hist")),
    ])
    pipeline.fit(data[FEATURES], data["fraud"])
    return pipeline


class PredictRequest(BaseModel):
    instances: List[Dict[str, Union[float, int, str]]]


app = FastAPI()
model: Pipeline = None  # trained at start-up in each worker


@app.on_event("startup")
def load() -> None:
    global model
    model = train(os.environ["STRATUS_BENCH_CSV"])


@app.get("/health")
def health() -> Dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
def predict(request: PredictRequest) -> Dict[str, list]:
    frame = pd.DataFrame(request.instances, columns=FEATURES)
    probabilities = model.predict_proba(frame)
    return {"predictions": [{"label": str(int(p[1] >= 0.5)), "probabilities": {"0": float(p[0]), "1": float(p[1])}} for p in probabilities]}


if __name__ == "__main__":
    os.environ["STRATUS_BENCH_CSV"] = sys.argv[1]
    uvicorn.run("fastapi_app:app", host="127.0.0.1", port=int(sys.argv[2]), workers=int(sys.argv[3]), log_level="warning", timeout_keep_alive=60,
                app_dir=os.path.dirname(os.path.abspath(__file__)))
