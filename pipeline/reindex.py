"""Stage reindex: parse and validate the raw files; write ratings, users and items with 0-based indices.

    python -m pipeline.reindex --raw data/raw --out data/prepared
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .lib import formats
from .lib.datasets import DATASETS, LAYOUT_FILES
from .lib.errors import stage_main
from .lib.io import atomic_dir, read_json, require, write_json, write_parquet
from .lib.sections import load_section
from .lib.reindex import reindex, validate_ratings


@stage_main("reindex")
def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--raw", default="data/raw")
    parser.add_argument("--out", default="data/prepared")
    args = parser.parse_args(argv)
    params = load_section("reindex", args.params)
    raw = Path(args.raw)
    manifest = read_json(require(raw / "manifest.json"))
    dataset, layout = DATASETS[manifest["dataset"]], manifest["layout"]

    ratings = formats.read_ratings(raw, layout)
    ratings_file = raw / LAYOUT_FILES[layout]["ratings"]
    validate_ratings(ratings, dataset, ratings_file, formats.header_lines(layout))
    items = formats.read_items(raw, layout)
    users = formats.read_users(raw, layout)
    files = {role: str(raw / name) for role, name in LAYOUT_FILES[layout].items()}
    prepared = reindex(ratings, items, users, params["unknown_ids"], files, dataset=dataset,
                       top_users=params["top_users"])

    meta = {"dataset": dataset.name, "source": manifest["source"], "rating_scale": list(dataset.scale),
            **prepared.stats}
    with atomic_dir(args.out) as tmp:
        write_parquet(prepared.ratings, tmp / "ratings.parquet")
        write_parquet(prepared.users, tmp / "users.parquet")
        write_parquet(prepared.items, tmp / "items.parquet")
        write_json(meta, tmp / "meta.json")
    s = prepared.stats
    n_dropped = s["dropped_unknown_movie"] + s["dropped_unknown_user"]
    dropped = f", {n_dropped} dropped for unknown ids" if n_dropped else ""
    if "top_users" not in s:
        return f"{s['ratings']} ratings, {s['users']} users, {s['items']} movies{dropped}"
    n_before = s["users_kept"] + s["users_not_kept"]
    return (f"kept the {s['users_kept']} most active of {n_before} users (reindex.top_users: {s['top_users']}): "
            f"{s['ratings_kept']} ratings, {s['users_kept']} users, {s['movies_kept']} movies "
            f"({s['ratings_not_kept']} ratings and {s['movies_not_kept']} movies left out){dropped}")


if __name__ == "__main__":
    sys.exit(main())
