"""Top-N recommendations: the highest-scored movies a user has not rated, mapped back to original ids and titles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import columns as C
from .errors import PipelineError
from .metrics import top_k

USERS_PER_CHUNK = 512


def rated_matrix(ratings: pd.DataFrame, n_users: int, n_items: int) -> sp.csr_matrix:
    """Which (user, movie) pairs have a rating anywhere (train, val or test): never recommended again."""
    ones = np.ones(len(ratings), dtype=bool)
    return sp.csr_matrix((ones, (ratings[C.USER].to_numpy(), ratings[C.ITEM].to_numpy())), shape=(n_users, n_items))


def top_n(model, users: np.ndarray, rated: sp.csr_matrix, k: int, progress=None) -> pd.DataFrame:
    """user, item, prediction, rank (1 = best) for each user's k best unrated movies (fewer if fewer are left)."""
    frames = []
    for start in range(0, len(users), USERS_PER_CHUNK):
        block = np.asarray(users[start:start + USERS_PER_CHUNK])
        scores = model.score_users(block).astype(np.float64)
        seen = rated[block].tocoo()
        scores[seen.row, seen.col] = -np.inf
        best = top_k(scores, k)
        values = np.take_along_axis(scores, best, axis=1)
        keep = np.isfinite(values)
        frames.append(pd.DataFrame({
            C.USER: np.repeat(block, best.shape[1])[keep.ravel()].astype(np.int32),
            C.ITEM: best[keep].astype(np.int32),
            C.PREDICTION: values[keep].astype(np.float32),
            "rank": np.tile(np.arange(1, best.shape[1] + 1), len(block))[keep.ravel()].astype(np.int16),
        }))
        if progress is not None:
            progress.update(len(block))
    return pd.concat(frames, ignore_index=True)


def with_ids(frame: pd.DataFrame, users: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Replace 0-based indices with the dataset's original ids, and add the title and year of each movie."""
    out = frame.merge(users[[C.USER, C.USER_ID]], on=C.USER).merge(items[[C.ITEM, C.ITEM_ID, "title", "year"]],
                                                                   on=C.ITEM)
    columns = [C.USER_ID, C.ITEM_ID, "title", "year", C.PREDICTION, "rank"]
    return out.sort_values([C.USER_ID, "rank"], ignore_index=True)[columns]


def find_user(users: pd.DataFrame, user_id: str, label: str) -> int:
    """The 0-based index of an original user id given on the command line; a clear error when it is unknown."""
    ids = users[C.USER_ID]
    match = users.loc[ids.astype(str) == str(user_id).strip(), C.USER]
    if match.empty:
        raise PipelineError(f"unknown user {user_id!r}: not in {label} ({len(users)} users, ids {ids.min()} to {ids.max()})")
    return int(match.iloc[0])


def favourites(ratings: pd.DataFrame, items: pd.DataFrame, user: int, n: int) -> pd.DataFrame:
    """The user's n highest-rated movies (latest first among ties), for context beside the recommendations."""
    mine = ratings[ratings[C.USER].to_numpy() == user]
    mine = mine.sort_values([C.RATING, C.TIMESTAMP], ascending=False).head(n)
    return mine.merge(items[[C.ITEM, C.ITEM_ID, "title", "year"]], on=C.ITEM, how="left")[
        [C.ITEM_ID, "title", "year", C.RATING]]
