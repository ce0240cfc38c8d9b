"""Stage split: hide ratings for validation and test with the strategy in params.

    python -m pipeline.split --prepared data/prepared --raw data/raw --out data/split
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from .lib import columns as C
from .lib import folds
from .lib.errors import PipelineError, stage_main, warn
from .lib.io import atomic_dir, read_json, require, write_json, write_parquet
from .lib.sections import load_section
from .lib.split import split, summarise


def predefined_fold(prepared: Path, raw: Path, ratings: pd.DataFrame, fold: str):
    """The fold's test mask over ``ratings`` (u.data's lines, in order) and where it came from."""
    meta = read_json(require(prepared / "meta.json"))
    if meta["dataset"] != "ml-100k":
        raise PipelineError(f"split.strategy: predefined is ml-100k's folds ({', '.join(folds.FOLDS)}); "
                            f"data.dataset is {meta['dataset']}: use users, random or temporal")
    if meta["ratings"] != meta["ratings_read"]:
        raise PipelineError(f"split.strategy: predefined needs every line of the ratings file, but reindex kept "
                            f"{meta['ratings']} of {meta['ratings_read']} (reindex.unknown_ids, reindex.top_users)")
    users = pd.read_parquet(require(prepared / "users.parquet"), columns=[C.USER, C.USER_ID])
    items = pd.read_parquet(require(prepared / "items.parquet"), columns=[C.ITEM, C.ITEM_ID])
    user_ids = users.set_index(C.USER)[C.USER_ID].reindex(ratings[C.USER]).to_numpy()
    item_ids = items.set_index(C.ITEM)[C.ITEM_ID].reindex(ratings[C.ITEM]).to_numpy()
    return folds.test_mask(raw, fold, user_ids, item_ids)


@stage_main("split")
def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--raw", default="data/raw", help="the archive's fold files, where it has them")
    parser.add_argument("--out", default="data/split")
    args = parser.parse_args(argv)
    params = load_section("split", args.params)
    prepared = Path(args.prepared)
    ratings = pd.read_parquet(require(prepared / "ratings.parquet"))
    fold_test, source = None, None
    if params["strategy"] == "predefined":
        fold = params["predefined"]["fold"]
        fold_test, source = predefined_fold(prepared, Path(args.raw), ratings, fold)
    parts = split(ratings, params, fold_test)
    for name in ("val", "test"):
        if parts[name].empty:
            raise PipelineError(f"split.{params['strategy']}: the {name} part is empty; "
                                f"lower split.min_ratings or raise the {params['strategy']} fractions")
    summary = summarise(parts, params["strategy"], params["seed"])
    if source is not None:
        summary["predefined"] = {"fold": params["predefined"]["fold"], "test_from": source}
    held_out_users = summary["val"]["users"] + summary["test"]["users"]
    if held_out_users == 0:
        warn("no user was held out")
    with atomic_dir(args.out) as tmp:
        for name, frame in parts.items():
            write_parquet(frame, tmp / f"{name}.parquet")
        write_json(summary, tmp / "summary.json")
    fold = f" {summary['predefined']['fold']}, test from {source}" if source else ""
    return (f"{params['strategy']}{fold}: train {summary['train']['ratings']}, val {summary['val']['ratings']} "
            f"({summary['val']['users']} users), test {summary['test']['ratings']} ({summary['test']['users']} users)")


if __name__ == "__main__":
    sys.exit(main())
