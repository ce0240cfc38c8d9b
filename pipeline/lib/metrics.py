"""Metrics as plain functions over arrays: rating error and top-k ranking quality."""

from __future__ import annotations

import numpy as np


def rmse(truth: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(truth, np.float64) - pred) ** 2)))


def mae(truth: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(truth, np.float64) - pred)))


def mape(truth: np.ndarray, pred: np.ndarray) -> float:
    """Mean absolute percentage error, in percent (ratings are never zero)."""
    truth = np.asarray(truth, np.float64)
    return float(np.mean(np.abs(truth - pred) / np.abs(truth)) * 100.0)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's k highest scores, best first (ties broken by lower index)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.lexsort((part, -np.take_along_axis(scores, part, axis=1)), axis=1)
    return np.take_along_axis(part, order, axis=1)


def per_user_ranking(scores: np.ndarray, relevant: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """precision@k, recall@k and NDCG@k (binary relevance) of each row, and ``ranked``: whether the row has a
    relevant item at all (rows without one have 0 and are left out of averages).

    scores: (n_users, n_items), with excluded items (e.g. rated in train) set to -inf.
    relevant: (n_users, n_items) bool.
    """
    n_relevant = relevant.sum(axis=1)
    top = top_k(scores, k)
    hits = np.take_along_axis(relevant, top, axis=1).astype(np.float64)
    discounts = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    ideal = np.cumsum(discounts)[np.clip(np.minimum(n_relevant, top.shape[1]) - 1, 0, None)]
    ranked = n_relevant > 0
    safe = np.maximum(n_relevant, 1)
    return {"precision": np.where(ranked, hits.sum(axis=1) / k, 0.0),
            "recall": np.where(ranked, hits.sum(axis=1) / safe, 0.0),
            "ndcg": np.where(ranked, (hits @ discounts) / ideal, 0.0),
            "ranked": ranked}


def ranking_metrics(scores: np.ndarray, relevant: np.ndarray, k: int) -> dict[str, float]:
    """precision@k, recall@k and NDCG@k averaged over rows with at least one relevant item (see per_user_ranking)."""
    per_user = per_user_ranking(scores, relevant, k)
    ranked = per_user["ranked"]
    if not ranked.any():
        return {"precision": 0.0, "recall": 0.0, "ndcg": 0.0, "users": 0}
    return {**{key: float(per_user[key][ranked].mean()) for key in ("precision", "recall", "ndcg")},
            "users": int(ranked.sum())}


# --- confidence intervals by a bootstrap over users ------------------------------------------------------------

def bootstrap_counts(n_units: int, resamples: int, seed: int, chunk: int = 100):
    """Yield (rows, n_units) arrays: how often each unit (test user) is drawn in each resample, drawn with
    replacement, ``chunk`` resamples at a time (memory: chunk x n_units). The same (n_units, resamples, seed)
    always gives the same resamples, so two models scored on the same users share them (paired bootstrap)."""
    rng = np.random.default_rng(seed)
    p = np.full(n_units, 1.0 / n_units)
    for start in range(0, resamples, chunk):
        yield rng.multinomial(n_units, p, size=min(chunk, resamples - start))


def ratio_of_sums(totals: np.ndarray, counts: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """sum(totals) / sum(counts) over users, in each bootstrap resample of the users: one value per resample.

    ``totals`` may be (n_users,) or (n_users, m) for m statistics at once (same resamples for each)."""
    out = []
    for draws in bootstrap_counts(len(counts), resamples, seed):
        with np.errstate(invalid="ignore", divide="ignore"):  # a resample may draw no counted user: NaN, skipped
            out.append((draws @ totals) / (draws @ counts).reshape(-1, *[1] * (totals.ndim - 1)))
    return np.concatenate(out)


def interval(samples: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """The percentile interval holding ``confidence`` of the bootstrap ``samples`` (resamples without a value,
    e.g. no ranked user drawn, are left out)."""
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.nanpercentile(samples, [tail, 100.0 - tail])
    return float(low), float(high)
