"""Original MovieLens ids to contiguous 0-based indices, with validation of the ratings themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import columns as C
from .datasets import DATASETS, Dataset, ReleaseCounts
from .errors import PipelineError, warn


@dataclass
class Prepared:
    ratings: pd.DataFrame  # user, item, rating, timestamp
    users: pd.DataFrame  # user, user_id [, gender, age, occupation, zip]
    items: pd.DataFrame  # item, item_id, title, year, genres, genre_* multi-hot
    stats: dict = field(default_factory=dict)


def release_counts(ratings: pd.DataFrame) -> ReleaseCounts:
    """Ratings, distinct users and distinct rated movies, as the releases' known counts are given."""
    return ReleaseCounts(len(ratings), int(ratings[C.USER_ID].nunique()), int(ratings[C.ITEM_ID].nunique()))


def check_release(counts: ReleaseCounts, dataset: Dataset, path: Path) -> None:
    """Refuse a ratings file that is exactly another fixed release; warn when it is not the labelled one.

    Subsets and edited copies are legitimate (and tests use tiny fixtures), so differing counts only warn.
    """
    others = [d.name for d in DATASETS.values() if d.counts == counts and d.name != dataset.name]
    if others:
        raise PipelineError(f"{path} holds exactly {others[0]}'s ratings ({counts}), but data.dataset is "
                            f"{dataset.describe()}: set data.dataset: {others[0]}")
    if dataset.counts is not None and counts != dataset.counts:
        warn(f"{path} holds {counts}, not the {dataset.counts} of {dataset.name} as released "
             "(a subset or an edited copy?)")


def _scale_hint(dataset: Dataset, value: float) -> str:
    """Why a rating off the labelled scale may be there: a half star in a whole-star release points at a
    half-star release under the wrong data.dataset."""
    if dataset.half_stars or not (0.5 <= value <= 5.0 and value * 2 == round(value * 2)):
        return ""
    halves = [d.name for d in DATASETS.values() if d.half_stars]
    alike = [name for name in halves if DATASETS[name].layout == dataset.layout]
    if alike:
        return f"; half stars suggest {' or '.join(alike)}, not {dataset.name}: check data.dataset"
    return f"; {dataset.name} has only whole stars, half stars come from {halves[0]} and later: check data.dataset"


def validate_ratings(ratings: pd.DataFrame, dataset: Dataset, path: Path, first_line: int) -> ReleaseCounts:
    """The ratings must be the labelled release (or a part of it), on its scale, each (user, item) pair once.

    Returns the counts found. The release is checked first: a mislabelled release is the better explanation
    of the scale errors that would follow.
    """
    counts = release_counts(ratings)
    check_release(counts, dataset, path)
    lo, hi = dataset.scale
    values = ratings[C.RATING].to_numpy()
    steps = values * 2 if dataset.half_stars else values
    bad = (values < lo) | (values > hi) | (steps != np.round(steps))
    if bad.any():
        row = int(bad.argmax())
        allowed = "0.5 to 5 in half stars" if dataset.half_stars else "whole stars 1 to 5"
        raise PipelineError(f"{path}:{row + first_line + 1}: rating {values[row]:g} is outside {dataset.name}'s "
                            f"scale ({allowed}){_scale_hint(dataset, float(values[row]))}")
    dup = ratings.duplicated([C.USER_ID, C.ITEM_ID]).to_numpy()
    if dup.any():
        row = int(dup.argmax())
        raise PipelineError(f"{path}:{row + first_line + 1}: user {ratings[C.USER_ID].iat[row]} rated movie "
                            f"{ratings[C.ITEM_ID].iat[row]} a second time (duplicate ratings are not allowed)")
    return counts


def _drop_unknown(ratings: pd.DataFrame, known: pd.Series | None, column: str, what: str, file: str,
                  on_unknown: str) -> tuple[pd.DataFrame, int]:
    if known is None:
        return ratings, 0
    unknown = ~ratings[column].isin(known)
    n = int(unknown.sum())
    if n:
        example = ratings[column][unknown].iat[0]
        message = (f"{n} rating(s) refer to a {what} absent from {file} (e.g. id {example})")
        if on_unknown == "error":
            raise PipelineError(f"{message}; set reindex.unknown_ids: drop to drop them")
        warn(f"{message}: dropped")
        ratings = ratings[~unknown]
    return ratings, n


def genre_matrix(genres: pd.Series) -> pd.DataFrame:
    """'|'-joined genre strings to a multi-hot int8 frame with columns genre_<name>, in sorted order."""
    hot = genres.str.get_dummies(sep="|").astype(np.int8)
    hot = hot[sorted(hot.columns)]
    hot.columns = [C.GENRE_PREFIX + g for g in hot.columns]
    return hot


def most_active_users(ratings: pd.DataFrame, n: int) -> np.ndarray:
    """Boolean mask of the ratings of the ``n`` users with the most ratings, ties broken by the smaller original
    user id (every rating when ``n`` is at least the number of users). Vectorised: one factorize, one bincount."""
    codes, ids = pd.factorize(ratings[C.USER_ID], sort=True)
    if n >= len(ids):
        return np.ones(len(ratings), dtype=bool)
    counts = np.bincount(codes, minlength=len(ids))
    order = np.lexsort((np.asarray(ids), -counts))  # the last key is the primary one: count desc, then id asc
    keep = np.zeros(len(ids), dtype=bool)
    keep[order[:n]] = True
    return keep[codes]


def reindex(ratings: pd.DataFrame, items: pd.DataFrame | None, users: pd.DataFrame | None,
            on_unknown: str, files: dict[str, str], dataset: Dataset | None = None, top_users: int = 0) -> Prepared:
    """Drop (or refuse) ratings of unknown ids, keep the ``top_users`` most active users (0: all), then index the
    users and movies that still have ratings, 0..n-1 by original id.

    The subset is taken after the unknown ids are dropped and before indexing, so the item table holds only the
    movies the kept users rated (movies of the metadata without a rating are never indexed, with or without it),
    and the user table only the kept users. With ``dataset``, the stats also give its known counts, to set beside
    those read (the whole file: the subset does not change what was read).
    """
    n_read, read_ratings = len(ratings), ratings
    ratings, dropped_items = _drop_unknown(ratings, None if items is None else items[C.ITEM_ID], C.ITEM_ID,
                                           "movie", files.get("items", "the movies file"), on_unknown)
    ratings, dropped_users = _drop_unknown(ratings, None if users is None else users[C.USER_ID], C.USER_ID,
                                           "user", files.get("users", "the users file"), on_unknown)
    if ratings.empty:
        raise PipelineError(f"{files['ratings']}: no ratings left to index")

    before = None  # the ratings, users and rated movies the subset chose from (after the unknown ids)
    if top_users:
        keep = most_active_users(ratings, top_users)
        if not keep.all():
            before = release_counts(ratings)
            ratings = ratings[keep]

    user_codes, user_ids = pd.factorize(ratings[C.USER_ID], sort=True)
    item_codes, item_ids = pd.factorize(ratings[C.ITEM_ID], sort=True)
    indexed = ReleaseCounts(len(ratings), len(user_ids), len(item_ids))
    if before is None:
        before = indexed
    # Without drops the indexed users and movies are those read: no second pass over 25M+ ids to count them.
    read = before if before.ratings == n_read else release_counts(read_ratings)
    out = pd.DataFrame({
        C.USER: user_codes.astype(np.int32),
        C.ITEM: item_codes.astype(np.int32),
        C.RATING: ratings[C.RATING].to_numpy(np.float32),
        C.TIMESTAMP: ratings[C.TIMESTAMP].to_numpy(np.int64),
    })

    user_table = pd.DataFrame({C.USER: np.arange(len(user_ids), dtype=np.int32),
                               C.USER_ID: np.asarray(user_ids, dtype=np.int64)})
    if users is not None:
        user_table = user_table.merge(users, on=C.USER_ID, how="left", validate="one_to_one")

    item_table = pd.DataFrame({C.ITEM: np.arange(len(item_ids), dtype=np.int32),
                               C.ITEM_ID: np.asarray(item_ids, dtype=np.int64)})
    if items is not None:
        item_table = item_table.merge(items, on=C.ITEM_ID, how="left", validate="one_to_one")
    else:
        item_table[C.TITLE] = "movie " + item_table[C.ITEM_ID].astype(str)
        item_table[C.YEAR] = pd.array([pd.NA] * len(item_table), dtype="Int16")
        item_table[C.GENRES] = "unknown"
    item_table = pd.concat([item_table, genre_matrix(item_table[C.GENRES])], axis=1)

    stats = {
        "ratings_read": read.ratings,
        "users_read": read.users,
        "movies_read": read.movies,
        "ratings": len(out),
        "users": len(user_table),
        "items": len(item_table),
        "dropped_unknown_movie": dropped_items,
        "dropped_unknown_user": dropped_users,
        "unrated_movies_not_indexed": 0 if items is None else int(len(items) - before.movies),
        "has_demographics": users is not None,
        "genres": [c[len(C.GENRE_PREFIX):] for c in item_table.columns if c.startswith(C.GENRE_PREFIX)],
    }
    if top_users:  # absent when off, so that meta.json stays byte-identical to the one written without the key
        stats.update({
            "top_users": top_users,
            "ratings_kept": indexed.ratings, "users_kept": indexed.users, "movies_kept": indexed.movies,
            "ratings_not_kept": before.ratings - indexed.ratings, "users_not_kept": before.users - indexed.users,
            "movies_not_kept": before.movies - indexed.movies,
        })
    if dataset is not None:
        stats["release_counts"] = dataset.counts._asdict() if dataset.counts else None
        stats["matches_release"] = None if dataset.counts is None else read == dataset.counts
    return Prepared(out, user_table, item_table, stats)
