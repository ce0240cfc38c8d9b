"""Tiny MovieLens-shaped datasets, written by the tests themselves in every layout."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

GENRES = ["Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
          "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]
ML100K_GENRE_ORDER = ["unknown"] + GENRES
OCCUPATIONS_100K = ["technician", "writer", "student", "other", "educator"]


@dataclass
class Tiny:
    ratings: pd.DataFrame  # user_id, item_id, rating, timestamp (original ids)
    items: pd.DataFrame  # item_id, title, year, genres (list)
    users: pd.DataFrame  # user_id, age, gender, occupation (index into OCCUPATIONS_100K), zip


def make_tiny(n_users: int = 40, n_items: int = 60, density: float = 0.3, seed: int = 0,
              half_stars: bool = False) -> Tiny:
    """Users and movies with latent tastes, so that models can learn something; ids are not contiguous."""
    rng = np.random.default_rng(seed)
    user_ids = np.sort(rng.choice(np.arange(1, n_users * 5), n_users, replace=False))
    item_ids = np.sort(rng.choice(np.arange(1, n_items * 5), n_items, replace=False))
    pu, qi = rng.normal(size=(n_users, 3)), rng.normal(size=(n_items, 3))
    bu, bi = rng.normal(0, 0.4, n_users), rng.normal(0, 0.5, n_items)
    mask = rng.random((n_users, n_items)) < density
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    mask[:, :3] |= rng.random((n_users, 3)) < 0.5
    u, i = np.nonzero(mask)
    raw = 3.5 + bu[u] + bi[i] + 0.5 * (pu[u] * qi[i]).sum(1) + rng.normal(0, 0.3, len(u))
    step = 0.5 if half_stars else 1.0
    lo = 0.5 if half_stars else 1.0
    rating = np.clip(np.round(raw / step) * step, lo, 5.0)
    order = rng.permutation(len(u))
    ratings = pd.DataFrame({
        "user_id": user_ids[u][order], "item_id": item_ids[i][order], "rating": rating[order],
        "timestamp": (880000000 + rng.integers(0, 10_000_000, len(u)))[order],
    }).reset_index(drop=True)
    genres = [sorted(rng.choice(GENRES, rng.integers(1, 4), replace=False).tolist()) for _ in range(n_items)]
    items = pd.DataFrame({
        "item_id": item_ids, "title": [f"Movie {k}" for k in range(n_items)],
        "year": rng.integers(1950, 1999, n_items), "genres": genres,
    })
    users = pd.DataFrame({
        "user_id": user_ids, "age": rng.integers(18, 60, n_users), "gender": rng.choice(["M", "F"], n_users),
        "occupation": rng.integers(0, len(OCCUPATIONS_100K), n_users),
        "zip": [f"{z:05d}" for z in rng.integers(10000, 99999, n_users)],
    })
    return Tiny(ratings, items, users)


def _lines(path: Path, lines: list[str], encoding: str = "utf-8") -> None:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))


def write_ml100k(folder: Path, tiny: Tiny) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    r = tiny.ratings
    _lines(folder / "u.data", [f"{a}\t{b}\t{int(c)}\t{d}" for a, b, c, d in r.itertuples(index=False)])
    rows = []
    for item_id, title, year, genres in tiny.items.itertuples(index=False):
        flags = "|".join("1" if g in genres else "0" for g in ML100K_GENRE_ORDER)
        rows.append(f"{item_id}|{title} ({year})|01-Jan-{year}||http://example.org/{item_id}|{flags}")
    _lines(folder / "u.item", rows, "latin-1")
    _lines(folder / "u.user", [f"{u.user_id}|{u.age}|{u.gender}|{OCCUPATIONS_100K[u.occupation]}|{u.zip}"
                               for u in tiny.users.itertuples(index=False)], "latin-1")
    return folder


def write_recbole(folder: Path, tiny: Tiny) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    r = tiny.ratings
    _lines(folder / "ml-100k.inter", ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
           + [f"{a}\t{b}\t{int(c)}\t{d}" for a, b, c, d in r.itertuples(index=False)])
    _lines(folder / "ml-100k.item", ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"]
           + [f"{i}\t{t}\t{y}\t{' '.join(g)}" for i, t, y, g in tiny.items.itertuples(index=False)])
    _lines(folder / "ml-100k.user", ["user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token"]
           + [f"{u.user_id}\t{u.age}\t{u.gender}\t{OCCUPATIONS_100K[u.occupation]}\t{u.zip}"
              for u in tiny.users.itertuples(index=False)])
    return folder


def write_ml1m(folder: Path, tiny: Tiny) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    r = tiny.ratings
    _lines(folder / "ratings.dat", [f"{a}::{b}::{int(c)}::{d}" for a, b, c, d in r.itertuples(index=False)])
    _lines(folder / "movies.dat", [f"{i}::{t}: The Sequel ({y})::{'|'.join(g)}"
                                   for i, t, y, g in tiny.items.itertuples(index=False)], "latin-1")
    _lines(folder / "users.dat", [f"{u.user_id}::{u.gender}::{u.age}::{u.occupation}::{u.zip}"
                                  for u in tiny.users.itertuples(index=False)], "latin-1")
    return folder


def write_csv(folder: Path, tiny: Tiny) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    r = tiny.ratings
    _lines(folder / "ratings.csv", ["userId,movieId,rating,timestamp"]
           + [f"{a},{b},{c:g},{d}" for a, b, c, d in r.itertuples(index=False)])
    _lines(folder / "movies.csv", ["movieId,title,genres"]
           + [f'{i},"{t}, The ({y})",{"|".join(g) if k else "(no genres listed)"}'
              for k, (i, t, y, g) in enumerate(tiny.items.itertuples(index=False))])
    return folder


def zip_folder(folder: Path, archive: Path, prefix: str) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, f"{prefix}/{path.name}")
    return archive


def add_bom(path: Path) -> Path:
    """Prepend a UTF-8 byte-order mark, as some editors and spreadsheets do when saving."""
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    return path


def release_shaped_ratings(n_ratings: int, n_users: int, n_movies: int, half_stars: bool = True,
                           seed: int = 0) -> pd.DataFrame:
    """Ratings with exactly a release's counts (ratings, distinct users, distinct movies), ids from 1.

    The first max(users, movies) pairs (k mod users, k mod movies) are distinct and cover every user and movie;
    the rest are drawn without replacement from the grid, so that no pair repeats.
    """
    rng = np.random.default_rng(seed)
    k = np.arange(max(n_users, n_movies))
    cover = (k % n_users) * n_movies + k % n_movies
    extra = rng.choice(n_users * n_movies, n_ratings, replace=False)
    cells = pd.unique(np.concatenate([cover, extra]))[:n_ratings]
    step, lo = (0.5, 0.5) if half_stars else (1.0, 1.0)
    return pd.DataFrame({
        "user_id": cells // n_movies + 1, "item_id": cells % n_movies + 1,
        "rating": lo + step * rng.integers(0, round((5.0 - lo) / step) + 1, n_ratings),
        "timestamp": 1_100_000_000 + rng.integers(0, 10**8, n_ratings),
    })


def write_ratings_csv(folder: Path, ratings: pd.DataFrame) -> Path:
    """Only a ratings.csv (ml-20m and later layout), from a frame with user_id, item_id, rating, timestamp."""
    folder.mkdir(parents=True, exist_ok=True)
    ratings.rename(columns={"user_id": "userId", "item_id": "movieId"}).to_csv(
        folder / "ratings.csv", index=False, float_format="%g")
    return folder
