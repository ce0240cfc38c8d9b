"""Stage recommend, and a command for one user.

Stage (every user, the model in params recommend.model, k = recommend.k), written to Parquet with original ids:
    python -m pipeline.recommend --out data/recommendations.parquet
One user, printed as a table after the movies they rated highest:
    python -m pipeline.recommend --user 196 [--model mf] [-k 10]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .lib import columns as C
from .lib import recommend as R
from .lib.errors import PipelineError, stage_main
from .lib.io import read_json, require, write_parquet
from .lib.models import load_scorer
from .lib.params import load_params, scorer_names


def table(frame: pd.DataFrame, columns: dict[str, str]) -> str:
    shown = frame[list(columns)].rename(columns=columns)
    shown["year"] = shown["year"].map(lambda y: "" if pd.isna(y) else str(int(y)))
    return shown.to_string(index=False, float_format=lambda v: f"{v:.2f}")


@stage_main("recommend")
def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--user", default=None, help="original user id: print this user's recommendations")
    parser.add_argument("--model", default=None, help="default: params recommend.model")
    parser.add_argument("-k", type=int, default=None, help="movies per user (default: params recommend.k)")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--models", default="models", help="folder of saved scorers (models/<model>)")
    parser.add_argument("--out", default="data/recommendations.parquet", help="(stage) Parquet for every user")
    args = parser.parse_args(argv)
    all_params = load_params(args.params)
    params = all_params["recommend"]
    name = args.model or params["model"]
    if name not in scorer_names(all_params):
        raise PipelineError(f"unknown model {name!r}; known models: {', '.join(scorer_names(all_params))}")
    k = params["k"] if args.k is None else args.k
    if k < 1:
        raise PipelineError(f"-k must be at least 1, got {k}")
    prepared = Path(args.prepared)
    users = pd.read_parquet(require(prepared / "users.parquet"), columns=[C.USER, C.USER_ID])
    items = pd.read_parquet(require(prepared / "items.parquet"), columns=[C.ITEM, C.ITEM_ID, "title", "year"])
    ratings = pd.read_parquet(require(prepared / "ratings.parquet"), columns=[C.USER, C.ITEM, C.RATING, C.TIMESTAMP])
    meta = read_json(require(prepared / "meta.json"))
    which = None if args.user is None else R.find_user(users, args.user, str(prepared / "users.parquet"))
    model = load_scorer(Path(args.models) / name)
    rated = R.rated_matrix(ratings, meta["users"], meta["items"])

    if which is not None:
        recs = R.with_ids(R.top_n(model, np.array([which]), rated, k), users, items)
        liked = R.favourites(ratings, items, which, 5)
        n_rated = int(rated[which].nnz)
        print(f"User {args.user} rated {n_rated} movies; the highest rated:")
        print(table(liked, {C.ITEM_ID: "movie", "title": "title", "year": "year", C.RATING: "rating"}))
        print(f"\nTop {len(recs)} unseen movies from {name}:")
        print(table(recs, {"rank": "rank", C.ITEM_ID: "movie", "title": "title", "year": "year",
                           C.PREDICTION: "predicted"}))
        return f"{name}, user {args.user}"

    from tqdm import tqdm

    with tqdm(total=meta["users"], desc=f"recommend {name}", unit="user", disable=None) as bar:
        recs = R.with_ids(R.top_n(model, np.arange(meta["users"]), rated, k, progress=bar), users, items)
    write_parquet(recs, Path(args.out))
    return f"{name}: top {k} unseen movies for {recs[C.USER_ID].nunique()} users ({len(recs)} rows) in {args.out}"


if __name__ == "__main__":
    sys.exit(main())
