"""Hiding ratings: three strategies, one seeded RNG, the same three outputs (train, val, test).

Every function assigns each rating row to exactly one part, so no (user, item) pair can be in two.
Users with fewer than ``min_ratings`` ratings are never held out: all their ratings stay in train.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import columns as C
from .errors import PipelineError

TRAIN, VAL, TEST = 0, 1, 2


def _eligible(ratings: pd.DataFrame, min_ratings: int) -> np.ndarray:
    counts = np.bincount(ratings[C.USER].to_numpy())
    return counts[ratings[C.USER].to_numpy()] >= min_ratings


def _rank_within_user(ratings: pd.DataFrame, rng: np.random.Generator, latest_first: bool) -> tuple[np.ndarray,
                                                                                                     np.ndarray]:
    """Each rating's 0-based rank inside its user (random order, or newest first) and its user's count."""
    users = ratings[C.USER].to_numpy()
    tiebreak = rng.random(len(ratings))
    keys = [tiebreak, users] if not latest_first else [tiebreak, -ratings[C.TIMESTAMP].to_numpy(), users]
    order = np.lexsort(keys)  # last key is primary: by user, then time (newest first), then at random
    sorted_users = users[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_users)) + 1]
    lengths = np.diff(np.r_[starts, len(order)])
    rank_sorted = np.arange(len(order)) - np.repeat(starts, lengths)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = rank_sorted
    counts = np.bincount(users)[users]
    return rank, counts


def _n_hidden(counts: np.ndarray, fraction: float) -> np.ndarray:
    """At least one hidden rating per held-out user, and at least one left visible."""
    return np.clip(np.round(counts * fraction).astype(np.int64), 1, np.maximum(counts - 1, 0))


def split_users(ratings: pd.DataFrame, rng: np.random.Generator, min_ratings: int, val_users: float,
                test_users: float, holdout_fraction: float, holdout_order: str) -> np.ndarray:
    """Hold-out users: pick val and test users; hide a fraction of each one's ratings."""
    part = np.full(len(ratings), TRAIN, dtype=np.int8)
    eligible_rows = _eligible(ratings, min_ratings)
    candidates = np.unique(ratings[C.USER].to_numpy()[eligible_rows])
    shuffled = rng.permutation(candidates)
    n_test = int(round(test_users * len(candidates)))
    n_val = int(round(val_users * len(candidates)))
    role = np.full(int(ratings[C.USER].max()) + 1, TRAIN, dtype=np.int8)
    role[shuffled[:n_test]] = TEST
    role[shuffled[n_test:n_test + n_val]] = VAL
    rank, counts = _rank_within_user(ratings, rng, latest_first=holdout_order == "latest")
    hidden = rank < _n_hidden(counts, holdout_fraction)
    user_role = role[ratings[C.USER].to_numpy()]
    part[hidden & (user_role != TRAIN)] = user_role[hidden & (user_role != TRAIN)]
    return part


def split_random(ratings: pd.DataFrame, rng: np.random.Generator, min_ratings: int, test_fraction: float,
                 val_fraction: float) -> np.ndarray:
    """Rating-level: test is a random fraction of eligible ratings, val a fraction of the rest."""
    part = np.full(len(ratings), TRAIN, dtype=np.int8)
    rows = rng.permutation(np.flatnonzero(_eligible(ratings, min_ratings)))
    n_test = int(round(test_fraction * len(rows)))
    n_val = int(round(val_fraction * (len(rows) - n_test)))
    part[rows[:n_test]] = TEST
    part[rows[n_test:n_test + n_val]] = VAL
    return part


def split_temporal(ratings: pd.DataFrame, rng: np.random.Generator, min_ratings: int, test_fraction: float,
                   val_fraction: float) -> np.ndarray:
    """Each eligible user's latest ratings are test, the ones just before are val."""
    part = np.full(len(ratings), TRAIN, dtype=np.int8)
    eligible = _eligible(ratings, min_ratings)
    rank, counts = _rank_within_user(ratings, rng, latest_first=True)
    n_test = _n_hidden(counts, test_fraction)
    n_val = np.clip(np.round(counts * val_fraction).astype(np.int64), 1, None)
    n_val = np.minimum(n_val, np.maximum(counts - n_test - 1, 0))
    part[eligible & (rank < n_test)] = TEST
    part[eligible & (rank >= n_test) & (rank < n_test + n_val)] = VAL
    return part


def split_predefined(ratings: pd.DataFrame, rng: np.random.Generator, test: np.ndarray,
                     val_fraction: float) -> np.ndarray:
    """A predefined fold: test is exactly the fold's test ratings; val a seeded fraction of the rest (its base)."""
    part = np.full(len(ratings), TRAIN, dtype=np.int8)
    part[test] = TEST
    base = rng.permutation(np.flatnonzero(~test))
    part[base[:int(round(val_fraction * len(base)))]] = VAL
    return part


def split(ratings: pd.DataFrame, params: dict, fold_test: np.ndarray | None = None) -> dict[str, pd.DataFrame]:
    """Apply ``params['strategy']`` with its own sub-section; return the three parts, each in input order.

    ``fold_test``: for the predefined strategy, the fold's test mask over ``ratings`` (see folds.py)."""
    rng = np.random.default_rng(params["seed"])
    strategy, min_ratings = params["strategy"], params["min_ratings"]
    if ratings.empty:
        raise PipelineError("no ratings to split")
    if strategy == "predefined":
        part = split_predefined(ratings, rng, fold_test, params["predefined"]["val_fraction"])
    elif strategy == "users":
        part = split_users(ratings, rng, min_ratings, **params["users"])
    elif strategy == "random":
        part = split_random(ratings, rng, min_ratings, **params["random"])
    elif strategy == "temporal":
        part = split_temporal(ratings, rng, min_ratings, **params["temporal"])
    else:  # the params schema already refuses this; kept for library callers
        raise PipelineError(f"split.strategy must be one of users, random, temporal, predefined, got {strategy!r}")
    return {name: ratings[part == code].reset_index(drop=True) for code, name in enumerate(C.PARTS)}


def summarise(parts: dict[str, pd.DataFrame], strategy: str, seed: int) -> dict:
    train = parts["train"]
    summary: dict = {"strategy": strategy, "seed": seed}
    for name, frame in parts.items():
        users, items = np.unique(frame[C.USER]), np.unique(frame[C.ITEM])
        summary[name] = {"ratings": len(frame), "users": len(users), "items": len(items)}
        if name != "train":
            summary[name]["cold_users"] = len(np.setdiff1d(users, train[C.USER], assume_unique=False))
            summary[name]["cold_items"] = len(np.setdiff1d(items, train[C.ITEM], assume_unique=False))
    return summary
