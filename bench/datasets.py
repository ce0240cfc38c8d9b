"""Datasets for benchmarks that real ml-100k does not cover: a random part of its ratings, written as a local
ml-latest-small-style folder (ratings.csv, movies.csv), for a sparser matrix at ml-latest-small's density.

    python bench/datasets.py --fraction 0.3 --out /tmp/ml-100k-30
    python bench/accuracy.py --strategy random --set data.source=/tmp/ml-100k-30 --set data.dataset=ml-latest-small

Real ml-latest-small (100,836 ratings of 9,724 movies by 610 users) fills 1.7% of its matrix; ml-100k fills 6.3%,
and 30% of its ratings about 1.9%, with many movies left with one or two ratings: the regime in which models that
beat the bias baseline on ml-100k were reported to lose to it on ml-latest-small. The ratings stay whole stars; the
ml-latest-small label (the csv layout) only widens the clipping scale to 0.5..5. The counts differ from every
release's, so the pipeline takes the folder (with a warning that it is not ml-latest-small as released).

ml-100k comes from the PyPI mirror (data.source pypi-mirror), read by the pipeline's own readers.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.lib import columns as C  # noqa: E402
from pipeline.lib.fetch import fetch  # noqa: E402
from pipeline.lib.formats import read_items, read_ratings  # noqa: E402


def subsample(fraction: float, seed: int, out: Path) -> tuple[int, int, int]:
    """Write ``fraction`` of ml-100k's ratings (drawn uniformly, seeded) and the movies they rate to ``out``;
    return (ratings, users, movies)."""
    with tempfile.TemporaryDirectory(prefix="ml-100k-") as tmp:
        raw = Path(tmp)
        layout = fetch("ml-100k", "pypi-mirror", raw)["layout"]
        ratings, items = read_ratings(raw, layout), read_items(raw, layout)
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(ratings), size=round(fraction * len(ratings)), replace=False))
    part = ratings.iloc[keep].sort_values([C.USER_ID, C.TIMESTAMP, C.ITEM_ID], kind="stable")
    items = items[items[C.ITEM_ID].isin(part[C.ITEM_ID])]
    out.mkdir(parents=True, exist_ok=True)
    part = part[[C.USER_ID, C.ITEM_ID, C.RATING, C.TIMESTAMP]].rename(
        columns={C.USER_ID: "userId", C.ITEM_ID: "movieId", C.RATING: "rating", C.TIMESTAMP: "timestamp"})
    part.to_csv(out / "ratings.csv", index=False, float_format="%.1f")
    years = items[C.YEAR].astype("Int64")
    titles = items[C.TITLE].astype(str) + np.where(years.isna(), "", " (" + years.astype(str) + ")")
    genres = items[C.GENRES].replace("unknown", "(no genres listed)")
    movies = items.assign(title=titles, genres=genres)[[C.ITEM_ID, "title", C.GENRES]]
    movies.rename(columns={C.ITEM_ID: "movieId", C.GENRES: "genres"}).to_csv(out / "movies.csv", index=False)
    return len(part), int(part["userId"].nunique()), int(part["movieId"].nunique())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fraction", type=float, default=0.3, help="share of ml-100k's ratings kept (default 0.3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="the folder to write (data.source)")
    args = parser.parse_args()
    if not 0 < args.fraction < 1:
        parser.error("--fraction must be between 0 and 1")
    n, users, movies = subsample(args.fraction, args.seed, args.out)
    print(f"{args.out}: {n:,} ratings, {users:,} users, {movies:,} movies "
          f"(density {n / (users * movies):.2%}); use --set data.source={args.out} --set data.dataset=ml-latest-small")


if __name__ == "__main__":
    main()
