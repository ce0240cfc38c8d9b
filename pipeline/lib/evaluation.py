"""Scoring a trained model on the hidden test ratings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import columns as C
from . import metrics as M
from .errors import PipelineError

USERS_PER_CHUNK = 512


def rating_metrics(test: pd.DataFrame, predictions: pd.DataFrame) -> dict:
    merged = test[[C.USER, C.ITEM, C.RATING]].merge(predictions, on=[C.USER, C.ITEM], how="left", validate="1:1")
    if merged[C.PREDICTION].isna().any():
        missing = int(merged[C.PREDICTION].isna().sum())
        raise ValueError(f"{missing} test pairs have no prediction")
    truth, pred = merged[C.RATING].to_numpy(), merged[C.PREDICTION].to_numpy(np.float64)
    return {"rmse": M.rmse(truth, pred), "mae": M.mae(truth, pred), "mape": M.mape(truth, pred),
            "n_test": len(merged), "n_cold": int(merged["cold"].sum())}


def ranking(model, train: pd.DataFrame, test: pd.DataFrame, n_items: int, k: int, threshold: float) -> dict:
    """Rank every movie a test user did not rate in train; relevant = hidden test rating >= threshold."""
    users = np.unique(test[C.USER].to_numpy())
    position = np.full(int(max(users.max(), train[C.USER].max())) + 1, -1)
    totals = {"precision": 0.0, "recall": 0.0, "ndcg": 0.0, "users": 0}
    for start in range(0, len(users), USERS_PER_CHUNK):
        block = users[start:start + USERS_PER_CHUNK]
        position[block] = np.arange(len(block))
        scores = model.score_users(block).astype(np.float64)
        seen = train[np.isin(train[C.USER].to_numpy(), block)]
        scores[position[seen[C.USER].to_numpy()], seen[C.ITEM].to_numpy()] = -np.inf
        hidden = test[np.isin(test[C.USER].to_numpy(), block) & (test[C.RATING].to_numpy() >= threshold)]
        relevant = np.zeros((len(block), n_items), dtype=bool)
        relevant[position[hidden[C.USER].to_numpy()], hidden[C.ITEM].to_numpy()] = True
        part = M.ranking_metrics(scores, relevant, k)
        for key in ("precision", "recall", "ndcg"):
            totals[key] += part[key] * part["users"]
        totals["users"] += part["users"]
    n = max(totals["users"], 1)
    return {f"precision_at_{k}": totals["precision"] / n, f"recall_at_{k}": totals["recall"] / n,
            f"ndcg_at_{k}": totals["ndcg"] / n, "n_ranked_users": totals["users"]}


def aligned_predictions(pairs: pd.DataFrame, frames: dict[str, pd.DataFrame], label: str) -> np.ndarray:
    """(len(pairs), n_models) predictions in ``frames`` order, matched on (user, item)."""
    keys = pairs[[C.USER, C.ITEM]]
    columns = []
    for name, frame in frames.items():
        merged = keys.merge(frame[[C.USER, C.ITEM, C.PREDICTION]], on=[C.USER, C.ITEM], how="left", validate="1:1")
        missing = int(merged[C.PREDICTION].isna().sum())
        if missing:
            raise PipelineError(f"{label}: {name} has no prediction for {missing} pairs; re-run train@{name}")
        columns.append(merged[C.PREDICTION].to_numpy(np.float64))
    return np.column_stack(columns)


def score(model, predictions: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame, n_items: int, k: int,
          threshold: float) -> dict:
    """Every test metric of one model (or the blend): rating error on its test predictions, then ranking."""
    metrics = rating_metrics(test, predictions)
    metrics.update(ranking(model, train, test, n_items, k, threshold))
    return metrics


def predicted_vs_actual(test: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per test rating: the true rating and the prediction rounded to the nearest half star (for plots)."""
    merged = test[[C.USER, C.ITEM, C.RATING]].merge(predictions, on=[C.USER, C.ITEM], how="left", validate="1:1")
    return pd.DataFrame({"actual": merged[C.RATING].to_numpy(np.float64),
                         "predicted": np.round(merged[C.PREDICTION].to_numpy(np.float64) * 2) / 2})


def rounded(metrics: dict, digits: int = 5) -> dict:
    return {key: round(value, digits) if isinstance(value, float) else value for key, value in metrics.items()}
