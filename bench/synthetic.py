"""Synthetic MovieLens-shaped data in the ml-20m CSV layout, for benchmarking the data stages.

    python bench/synthetic.py --ratings 20000000 --users 138000 --items 27000 --seed 0 --out DIR

Writes DIR/ratings.csv (``userId,movieId,rating,timestamp``, sorted by user then movie like ml-20m) and
DIR/movies.csv (``movieId,title,genres``). What is modelled on ml-20m:

* user activity: every user has at least ``--min-per-user`` (20) ratings, the rest lognormal (heavy tail,
  mean/median about 2), at most ``--max-user-fraction`` of all movies per user;
* movie popularity: lognormal weights (a few blockbusters, a long tail), each movie's expected count capped at
  half the users; no (user, movie) pair twice;
* ratings: half stars 0.5..5 with ml-20m's marginal distribution (mode 4.0, mean about 3.5, whole stars more
  common than half stars), from a latent user + movie + noise score so users and movies have biases;
* timestamps: 1995-01-09 .. 2015-03-31, each user active over a lognormal span (many within a day);
* movie ids: sorted and non-contiguous (about 4.8 x the movie count, like ml-20m's 131262 for 27278 movies);
  titles ``Movie 123 (1994)``, some ``"Movie 123, The (1994)"`` (quoted), a few without a year; genres
  pipe-separated from ml-20m's list, about 1% ``(no genres listed)``.

Everything is vectorised numpy (Python loops only over sampling rounds and, for the alias table, movies);
20M ratings take about 10 s and 1 GB of memory on 2 cores, writing the 515 MB CSV included.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

ML20M_GENRES = ["Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
                "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]
# Relative frequency of each genre among ml-20m movies (rounded), used as sampling weights.
GENRE_WEIGHTS = [3520, 2329, 1027, 1139, 8374, 2939, 2471, 13344, 1412, 330, 2611, 196, 1036, 1514, 4127, 1743,
                 4178, 1194, 676]
NO_GENRES = "(no genres listed)"

# ml-20m's share of each half-star value 0.5, 1.0, ..., 5.0 (mean 3.53, mode 4.0).
STARS = ["0.5", "1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0", "4.5", "5.0"]
STAR_SHARES = np.array([0.011, 0.034, 0.012, 0.072, 0.044, 0.214, 0.105, 0.277, 0.077, 0.154])

T_START = 789_652_009  # 1995-01-09, ml-20m's first rating
T_END = 1_427_784_002  # 2015-03-31, its last


def user_counts(rng: np.random.Generator, n_ratings: int, n_users: int, min_per_user: int, cap: int) -> np.ndarray:
    """Ratings per user summing to n_ratings: min_per_user each plus a lognormal share, none above cap."""
    if n_ratings < n_users * min_per_user:
        raise SystemExit(f"--ratings {n_ratings} is less than {min_per_user} per user for {n_users} users")
    if n_ratings > n_users * cap:
        raise SystemExit(f"--ratings {n_ratings} is more than {cap} per user (the cap) for {n_users} users")
    weights = rng.lognormal(0.0, 1.4, n_users)
    counts = np.full(n_users, min_per_user, dtype=np.int64)
    extra = n_ratings - counts.sum()
    while extra > 0:  # a few rounds: hand out the extra by weight, capped, and re-hand what the cap cut off
        open_ = counts < cap
        share = np.zeros(n_users)
        share[open_] = weights[open_] / weights[open_].sum() * extra
        add = np.minimum(np.floor(share).astype(np.int64), cap - counts)
        if add.sum() == 0:  # only remainders left: one each to the heaviest open users
            heaviest = np.flatnonzero(open_)[np.argsort(-weights[open_], kind="stable")][:extra]
            add[heaviest] = 1
        counts += add
        extra = n_ratings - counts.sum()
    return counts


def item_probabilities(rng: np.random.Generator, n_items: int, n_users: int, n_ratings: int) -> np.ndarray:
    """Lognormal popularity; no movie's expected count above half the users (nobody rates a movie twice)."""
    p = rng.lognormal(0.0, 2.6, n_items)
    p /= p.sum()
    cap = 0.5 * n_users / n_ratings
    for _ in range(50):
        over = p > cap
        if not over.any():
            break
        p[over] = cap
        p[~over] *= (1 - over.sum() * cap) / p[~over].sum()
    return p


def draw_pairs(rng: np.random.Generator, counts: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Sorted unique keys user * n_items + item with exactly counts[u] distinct items per user.

    Items are drawn by popularity with replacement, duplicates dropped and each user's shortfall drawn again;
    after a few rounds the last shortfalls are drawn uniformly so that heavy users finish quickly.
    """
    n_users, n_items = len(counts), len(p)
    accept, alias = _alias_table(p)

    def draw(users: np.ndarray, weighted: bool) -> np.ndarray:
        items = rng.integers(0, n_items, len(users))
        if weighted:  # Walker's alias method: O(1) per draw
            items = np.where(rng.random(len(users), dtype=np.float32) < accept[items], items, alias[items])
        return users * n_items + items

    keys = _unique(draw(np.repeat(np.arange(n_users, dtype=np.int64), counts), weighted=True))
    extras = np.empty(0, dtype=np.int64)
    have = np.bincount(keys // n_items, minlength=n_users)
    for round_ in range(200):
        deficit = counts - have
        if not deficit.any():
            break
        new = _unique(draw(np.repeat(np.arange(n_users, dtype=np.int64), deficit), weighted=round_ < 6))
        new = new[~_member(new, keys) & ~_member(new, extras)]
        # keep at most deficit[u] of the new keys per user (in random order)
        new = new[rng.permutation(len(new))]
        users = new // n_items
        order = np.argsort(users, kind="stable")
        new, users = new[order], users[order]
        starts = np.searchsorted(users, users, side="left")
        rank = np.arange(len(new)) - starts
        new = new[rank < deficit[users]]
        extras = _unique(np.concatenate([extras, new]))
        have += np.bincount(new // n_items, minlength=n_users)
    else:
        raise RuntimeError("could not draw distinct movies for every user; lower --max-user-fraction")
    if len(extras):
        keys = np.concatenate([keys, extras])
        keys.sort(kind="stable")
    assert np.array_equal(np.bincount(keys // n_items, minlength=n_users), counts)
    return keys


def _alias_table(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vose's alias table for sampling 0..n-1 with probabilities p (a loop over items, not draws)."""
    n = len(p)
    scaled = p * n / p.sum()
    accept, alias = np.ones(n, dtype=np.float32), np.arange(n, dtype=np.int64)
    small, large = list(np.flatnonzero(scaled < 1)), list(np.flatnonzero(scaled >= 1))
    while small and large:
        s, g = small.pop(), large[-1]
        accept[s], alias[s] = scaled[s], g
        scaled[g] -= 1 - scaled[s]
        if scaled[g] < 1:
            small.append(large.pop())
    return accept, alias


def _unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique's hash path is several times slower on 20M int64 in numpy 2.x)."""
    values = np.sort(values)
    keep = np.empty(len(values), dtype=bool)
    keep[:1] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[pos] == values


def star_indices(rng: np.random.Generator, users: np.ndarray, items: np.ndarray, n_users: int,
                 p: np.ndarray, tastes: int = 0, taste_rng: np.random.Generator | None = None) -> np.ndarray:
    """0..9 (index into STARS): latent score user bias + movie bias (+ taste) + noise, cut at ml-20m's quantiles.

    With ``tastes`` k > 0 the score also has a user x movie term p_u . q_i whose standard deviation is a bias's
    (0.45), drawn from ``taste_rng`` so that the rest of the data is the same as without it. Without it there is
    nothing but biases to learn, and no model can beat the bias baseline by more than noise."""
    n_items = len(p)
    logp = np.log(p)
    item_bias = rng.normal(0.0, 0.45, n_items) + 0.15 * (logp - logp.mean()) / logp.std()
    user_bias = rng.normal(0.0, 0.45, n_users)
    score = (item_bias[items] + user_bias[users]).astype(np.float32)
    if tastes:
        scale = np.float32(np.sqrt(0.45) / tastes ** 0.25)  # var(p . q) = k scale^4 = 0.45^2
        pu = taste_rng.standard_normal((n_users, tastes), dtype=np.float32) * scale
        qi = taste_rng.standard_normal((n_items, tastes), dtype=np.float32) * scale
        for start in range(0, len(users), 1 << 20):  # bounded memory at 20M ratings
            end = start + (1 << 20)
            score[start:end] += np.einsum("nk,nk->n", pu[users[start:end]], qi[items[start:end]])
    score += rng.standard_normal(len(users), dtype=np.float32) * np.float32(0.8)
    sample = score[rng.integers(0, len(score), min(len(score), 2_000_000))]
    cuts = np.quantile(sample, np.cumsum(STAR_SHARES)[:-1])
    return np.searchsorted(cuts, score).astype(np.int8)


def timestamps(rng: np.random.Generator, users: np.ndarray, n_users: int) -> np.ndarray:
    span = np.exp(rng.normal(np.log(3 * 86400), 2.5, n_users)).clip(60, T_END - T_START)
    start = T_START + rng.random(n_users) * (T_END - T_START - span)
    ts = start[users] + rng.random(len(users)) * span[users]
    return ts.astype(np.int64)


def movies_table(rng: np.random.Generator, movie_ids: np.ndarray) -> pd.DataFrame:
    n = len(movie_ids)
    years = np.clip(np.round(2015 - rng.gamma(1.6, 14.0, n)), 1902, 2015).astype(np.int64)
    ids = movie_ids.astype(str).astype(object)
    kind = rng.random(n)
    comma = kind < 0.05  # "Movie 12, The (1999)": needs quoting in the CSV
    no_year = kind > 0.998
    titles = np.where(comma, "Movie " + ids + ", The", "Movie " + ids)
    titles = np.where(no_year, titles, titles + " (" + years.astype(str).astype(object) + ")")

    # 1-4 genres per movie, drawn without replacement by weight (Gumbel top-k), in ml-20m's alphabetical order
    n_genres = rng.choice([1, 2, 3, 4], n, p=[0.35, 0.35, 0.2, 0.1])
    w = np.log(np.asarray(GENRE_WEIGHTS, dtype=float))
    keys = w + rng.gumbel(size=(n, len(ML20M_GENRES)))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    chosen = rank < n_genres[:, None]
    labels = np.array([g + "|" for g in ML20M_GENRES], dtype=object)
    genres = pd.Series(np.where(chosen, labels, "").sum(axis=1), dtype=object).str.rstrip("|")
    genres[rng.random(n) < 0.01] = NO_GENRES
    return pd.DataFrame({"movieId": movie_ids, "title": titles, "genres": genres.to_numpy()})


def generate(n_ratings: int, n_users: int, n_items: int, seed: int, out: Path, min_per_user: int = 20,
             max_user_fraction: float = 0.35, id_spread: float = 4.8, verbose: bool = True, tastes: int = 0) -> dict:
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    cap = max(min_per_user, int(max_user_fraction * n_items))
    counts = user_counts(rng, n_ratings, n_users, min_per_user, cap)
    p = item_probabilities(rng, n_items, n_users, n_ratings)
    keys = draw_pairs(rng, counts, p)
    users, items = np.divmod(keys, n_items)
    del keys
    movie_ids = np.sort(rng.choice(np.arange(1, int(id_spread * n_items) + 2), n_items, replace=False))
    stars = star_indices(rng, users, items, n_users, p, tastes, np.random.default_rng([seed, 1]))
    ts = timestamps(rng, users, n_users)
    t_gen = time.perf_counter() - t0

    out.mkdir(parents=True, exist_ok=True)
    table = pa.table({
        "userId": pa.array((users + 1).astype(np.int32)),
        "movieId": pa.array(movie_ids[items].astype(np.int32)),
        "rating": pa.DictionaryArray.from_arrays(pa.array(stars), pa.array(STARS)),
        "timestamp": pa.array(ts),
    })
    del users, items, ts
    with open(out / "ratings.csv", "wb") as fh:
        fh.write(b"userId,movieId,rating,timestamp\n")
        pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False, quoting_style="none",
                                                      batch_size=1 << 20))
    movies_table(rng, movie_ids).to_csv(out / "movies.csv", index=False, lineterminator="\n")
    t_all = time.perf_counter() - t0

    shares = np.bincount(stars, minlength=len(STARS)) / len(stars)
    values = np.array([float(s) for s in STARS])
    stats = {
        "ratings": int(n_ratings), "users": int(n_users), "movies": int(n_items),
        "movies_rated": int((np.bincount(table["movieId"].to_numpy(), minlength=1) > 0).sum()),
        "max_movie_id": int(movie_ids[-1]),
        "per_user_min": int(counts.min()), "per_user_median": float(np.median(counts)),
        "per_user_max": int(counts.max()),
        "rating_mean": float(shares @ values), "rating_mode": STARS[int(shares.argmax())],
        "seconds_generate": round(t_gen, 2), "seconds_total": round(t_all, 2),
        "ratings_csv_mb": round((out / "ratings.csv").stat().st_size / 2**20, 1),
    }
    if verbose:
        print(" ".join(f"{k}={v}" for k, v in stats.items()))
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=int, default=20_000_000)
    parser.add_argument("--users", type=int, default=138_000)
    parser.add_argument("--items", type=int, default=27_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-per-user", type=int, default=20)
    parser.add_argument("--max-user-fraction", type=float, default=0.35,
                        help="most movies one user rates, as a fraction of all movies (ml-20m: about 0.35)")
    parser.add_argument("--tastes", type=int, default=0,
                        help="k > 0 adds a rank-k user x movie taste term to the scores (default 0: biases only)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    generate(args.ratings, args.users, args.items, args.seed, args.out, args.min_per_user, args.max_user_fraction,
             tastes=args.tastes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
