"""Scoring a trained model on the hidden test ratings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import columns as C
from . import metrics as M
from .errors import PipelineError

USERS_PER_CHUNK = 512


def _with_predictions(test: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    merged = test[[C.USER, C.ITEM, C.RATING]].merge(predictions, on=[C.USER, C.ITEM], how="left", validate="1:1")
    missing = int(merged[C.PREDICTION].isna().sum())
    if missing:
        raise PipelineError(f"{missing} test pairs have no prediction")
    return merged


def ranking(model, known: pd.DataFrame, test: pd.DataFrame, users: np.ndarray, n_items: int, k: int,
            threshold: float) -> dict[str, np.ndarray]:
    """Per-user precision, recall and NDCG at k for ``users`` (sorted), and whether each has a relevant movie.

    Candidates: every movie the user has not rated outside test (``known``: the train and val pairs), as the
    common evaluation libraries do; relevant: a hidden test rating >= threshold. Users are scored in chunks,
    so memory is USERS_PER_CHUNK x n_items whatever the number of users.
    """
    position = np.full(int(max(users.max(), known[C.USER].max())) + 1, -1)
    parts = []
    known_users, test_users = known[C.USER].to_numpy(), test[C.USER].to_numpy()
    for start in range(0, len(users), USERS_PER_CHUNK):
        block = users[start:start + USERS_PER_CHUNK]
        position[block] = np.arange(len(block))
        scores = model.score_users(block).astype(np.float64)
        seen = known[np.isin(known_users, block)]
        scores[position[seen[C.USER].to_numpy()], seen[C.ITEM].to_numpy()] = -np.inf
        hidden = test[np.isin(test_users, block) & (test[C.RATING].to_numpy() >= threshold)]
        relevant = np.zeros((len(block), n_items), dtype=bool)
        relevant[position[hidden[C.USER].to_numpy()], hidden[C.ITEM].to_numpy()] = True
        parts.append(M.per_user_ranking(scores, relevant, k))
        position[block] = -1
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def per_user_errors(merged: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Test users (sorted), their number of test ratings, and per user the sums of squared and of absolute errors
    (an (n_users, 2) array), from test ratings merged with their predictions."""
    users, inverse = np.unique(merged[C.USER].to_numpy(), return_inverse=True)
    error = merged[C.PREDICTION].to_numpy(np.float64) - merged[C.RATING].to_numpy(np.float64)
    sums = np.column_stack([np.bincount(inverse, error ** 2), np.bincount(inverse, np.abs(error))])
    return users, np.bincount(inverse).astype(np.float64), sums


def score(model, predictions: pd.DataFrame, known: pd.DataFrame, test: pd.DataFrame, n_items: int, k: int,
          threshold: float, bootstrap: dict) -> dict:
    """Every test metric of one scorer (a model or the blend), each of RMSE, MAE and NDCG@k with a confidence
    interval from a bootstrap over test users (resampling users keeps each user's ratings together).

    ``bootstrap``: resamples, seed, confidence (params evaluate.bootstrap)."""
    merged = _with_predictions(test, predictions)
    truth, pred = merged[C.RATING].to_numpy(np.float64), merged[C.PREDICTION].to_numpy(np.float64)
    users, n, errors = per_user_errors(merged)
    ranked = ranking(model, known, test, users, n_items, k, threshold)
    draws = (bootstrap["resamples"], bootstrap["seed"])
    by_users = M.ratio_of_sums(errors, n, *draws)
    ndcg = M.ratio_of_sums(ranked["ndcg"] * ranked["ranked"], ranked["ranked"].astype(np.float64), *draws)
    ci = {"rmse": M.interval(np.sqrt(by_users[:, 0]), bootstrap["confidence"]),
          "mae": M.interval(by_users[:, 1], bootstrap["confidence"]),
          f"ndcg_at_{k}": M.interval(ndcg, bootstrap["confidence"])}
    n_ranked = int(ranked["ranked"].sum())
    mean = (lambda v: float(v[ranked["ranked"]].mean())) if n_ranked else (lambda v: 0.0)
    metrics = {"rmse": M.rmse(truth, pred), "mae": M.mae(truth, pred), "mape": M.mape(truth, pred),
               "n_test": len(merged), "n_cold": int(merged["cold"].sum()),
               f"precision_at_{k}": mean(ranked["precision"]), f"recall_at_{k}": mean(ranked["recall"]),
               f"ndcg_at_{k}": mean(ranked["ndcg"]), "n_ranked_users": n_ranked}
    out = {}
    for key, value in metrics.items():  # each interval right after its metric, so `dvc metrics diff` pairs them
        out[key] = value
        if key in ci:
            out[f"{key}_ci_low"], out[f"{key}_ci_high"] = ci[key]
    return out


def user_squared_errors(test: pd.DataFrame, predictions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per test user (sorted): number of test ratings and sum of squared errors, for ``predictions`` aligned with
    the rows of ``test``."""
    merged = test[[C.USER, C.RATING]].assign(**{C.PREDICTION: predictions})
    _, n, sums = per_user_errors(merged)
    return n, sums[:, 0]


def paired_rmse_difference(sse_a: np.ndarray, sse_b: np.ndarray, n: np.ndarray, bootstrap: dict) -> tuple:
    """RMSE(a) - RMSE(b) on the same test users, and its bootstrap interval (the same resamples for both)."""
    both = M.ratio_of_sums(np.column_stack([sse_a, sse_b]), n, bootstrap["resamples"], bootstrap["seed"])
    diff = np.sqrt(both[:, 0]) - np.sqrt(both[:, 1])
    point = float(np.sqrt(sse_a.sum() / n.sum()) - np.sqrt(sse_b.sum() / n.sum()))
    return (point, *M.interval(diff, bootstrap["confidence"]))


def versus(errors: dict[str, tuple[np.ndarray, np.ndarray]], reference: str, bootstrap: dict) -> dict:
    """Each scorer's paired test-RMSE difference to the ``reference`` scorer, (difference, low, high), on the same
    resampled test users; ``errors`` maps each scorer to its user_squared_errors. The reference itself is left
    out."""
    n_ratings, sse_ref = errors[reference]
    return {n: paired_rmse_difference(sse, sse_ref, n_ratings, bootstrap)
            for n, (_, sse) in errors.items() if n != reference}


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


def predicted_vs_actual(test: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per test rating: the true rating and the prediction rounded to the nearest half star (for plots)."""
    merged = _with_predictions(test, predictions)
    return pd.DataFrame({"actual": merged[C.RATING].to_numpy(np.float64),
                         "predicted": np.round(merged[C.PREDICTION].to_numpy(np.float64) * 2) / 2})


def rounded(metrics: dict, digits: int = 5) -> dict:
    return {key: round(value, digits) if isinstance(value, float) else value for key, value in metrics.items()}
