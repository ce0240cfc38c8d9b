"""ml-100k's predefined folds (u1..u5, ua, ub), from the archive's fold files or regenerated from u.data's order.

The GroupLens archive's README and mku.sh define them from the line order of u.data: u<k>.test is the k-th fifth
of the lines (lines (k-1)*20,000+1 to k*20,000), u<k>.base the rest; ua.test / ub.test hold each user's 1st-10th /
11th-20th ratings in file order (allbut.pl), ua.base / ub.base the rest. The PyPI mirror ships u.data's lines in
their original order but no fold files, so the folds are regenerated from that order; where the files are there
too, both are computed and must agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import columns as C
from .datasets import ML100K_FOLDS as FOLDS
from .errors import PipelineError

FILE_SUFFIXES = (".base", ".test")
PER_USER = {"ua": (0, 10), "ub": (10, 20)}  # each user's ratings [start, stop) in file order


def regenerate(user_ids: np.ndarray, fold: str) -> np.ndarray:
    """The test mask of ``fold`` for ratings given in u.data's line order (user ids of each line)."""
    n = len(user_ids)
    if fold in PER_USER:
        start, stop = PER_USER[fold]
        users = np.asarray(user_ids)
        order = np.argsort(users, kind="stable")  # stable: file order inside each user
        sorted_users = users[order]
        first = np.r_[0, np.flatnonzero(np.diff(sorted_users)) + 1]
        rank_sorted = np.arange(n) - np.repeat(first, np.diff(np.r_[first, n]))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = rank_sorted
        return (rank >= start) & (rank < stop)
    k = FOLDS.index(fold)
    bounds = np.round(np.arange(6) * n / 5).astype(np.int64)  # 20,000 lines each for ml-100k's 100,000
    mask = np.zeros(n, dtype=bool)
    mask[bounds[k]:bounds[k + 1]] = True
    return mask


def from_files(raw: Path, fold: str, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray | None:
    """The test mask that ``fold``'s .test file gives (None when the archive's fold files are not in ``raw``),
    after checking that .base and .test together hold exactly the ratings, each once."""
    paths = [Path(raw) / f"{fold}{suffix}" for suffix in FILE_SUFFIXES]
    if not all(p.exists() for p in paths):
        return None
    pairs = pd.DataFrame({C.USER_ID: user_ids, C.ITEM_ID: item_ids})
    parts = []
    for path in paths:
        frame = pd.read_csv(path, sep="\t", header=None, usecols=[0, 1], names=[C.USER_ID, C.ITEM_ID],
                            dtype="int64")
        parts.append(frame.assign(test=path.suffix == ".test"))
    listed = pd.concat(parts, ignore_index=True)
    merged = pairs.merge(listed, on=[C.USER_ID, C.ITEM_ID], how="left", validate="1:1", indicator=True)
    if len(listed) != len(pairs) or (merged["_merge"] != "both").any():
        raise PipelineError(f"{paths[0]} and {paths[1].name}: do not hold exactly the ratings of u.data "
                            f"({len(listed)} lines for {len(pairs)} ratings)")
    return merged["test"].to_numpy(bool)


def test_mask(raw: Path, fold: str, user_ids: np.ndarray, item_ids: np.ndarray) -> tuple[np.ndarray, str]:
    """``fold``'s test mask and where it came from ("files", or "regenerated" from u.data's line order)."""
    regenerated = regenerate(user_ids, fold)
    listed = from_files(raw, fold, user_ids, item_ids)
    if listed is None:
        return regenerated, "u.data's line order (no fold files to compare with)"
    if not np.array_equal(listed, regenerated):
        differ = int((listed != regenerated).sum())
        raise PipelineError(f"{Path(raw) / (fold + '.test')}: {differ} ratings differ from the fold regenerated "
                            "from u.data's line order (is u.data reordered?)")
    return listed, "the archive's fold files (they agree with u.data's line order)"
