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


def ranking_metrics(scores: np.ndarray, relevant: np.ndarray, k: int) -> dict[str, float]:
    """precision@k, recall@k and NDCG@k (binary relevance), averaged over rows with at least one relevant item.

    scores: (n_users, n_items), with excluded items (e.g. rated in train) set to -inf.
    relevant: (n_users, n_items) bool.
    """
    n_relevant = relevant.sum(axis=1)
    rows = n_relevant > 0
    if not rows.any():
        return {"precision": 0.0, "recall": 0.0, "ndcg": 0.0, "users": 0}
    scores, relevant, n_relevant = scores[rows], relevant[rows], n_relevant[rows]
    top = top_k(scores, k)
    hits = np.take_along_axis(relevant, top, axis=1).astype(np.float64)
    discounts = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    dcg = hits @ discounts
    ideal = np.cumsum(discounts)[np.minimum(n_relevant, top.shape[1]) - 1]
    return {
        "precision": float(np.mean(hits.sum(axis=1) / k)),
        "recall": float(np.mean(hits.sum(axis=1) / n_relevant)),
        "ndcg": float(np.mean(dcg / ideal)),
        "users": int(rows.sum()),
    }
