"""Side information for hybrid models: item genres, users' genre affinity (train only), demographics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import columns as C


def genre_columns(items: pd.DataFrame) -> list[str]:
    return [c for c in items.columns if c.startswith(C.GENRE_PREFIX)]


def item_features(items: pd.DataFrame) -> pd.DataFrame:
    return items[[C.ITEM, *genre_columns(items)]].astype({c: np.float32 for c in genre_columns(items)})


def genre_affinity(train: sp.csr_matrix, items: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """How many movies of each genre each user rated at or above ``threshold`` in train."""
    liked = (train >= threshold).astype(np.float32)
    counts = liked @ items[genre_columns(items)].to_numpy(np.float32)
    names = [C.AFFINITY_PREFIX + c[len(C.GENRE_PREFIX):] for c in genre_columns(items)]
    return pd.DataFrame(np.asarray(counts, dtype=np.float32), columns=names)


def demographics(users: pd.DataFrame) -> pd.DataFrame | None:
    """Gender one-hot, age scaled to [0, 1], occupation one-hot; None where the dataset has no user file."""
    if C.GENDER not in users.columns:
        return None
    gender = pd.get_dummies(users[C.GENDER].fillna("?"), prefix=C.GENDER, prefix_sep="_", dtype=np.float32)
    age = users[C.AGE].astype("float64")
    lo, hi = age.min(), age.max()
    age_scaled = ((age - lo) / (hi - lo) if hi > lo else age * 0).fillna(0.0).astype(np.float32)
    occupation = pd.get_dummies(users[C.OCCUPATION].fillna("?"), prefix=C.OCCUPATION, prefix_sep="_",
                                dtype=np.float32)
    return pd.concat([gender, age_scaled.rename(f"{C.AGE}_scaled"), occupation], axis=1)


def user_features(users: pd.DataFrame, train: sp.csr_matrix, items: pd.DataFrame, threshold: float
                  ) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Per-user side features and the names of each group of columns."""
    affinity = genre_affinity(train, items, threshold)
    demo = demographics(users)
    parts = [users[[C.USER]].reset_index(drop=True), affinity]
    groups = {"affinity": list(affinity.columns), "demographics": []}
    if demo is not None:
        parts.append(demo.reset_index(drop=True))
        groups["demographics"] = list(demo.columns)
    return pd.concat(parts, axis=1), groups
