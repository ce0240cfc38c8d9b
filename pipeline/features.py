"""Stage features: item genre multi-hot; user genre affinity (from train only) and demographics.

    python -m pipeline.features --prepared data/prepared --matrices data/matrices --out data/features
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import scipy.sparse as sp

from .lib.errors import stage_main
from .lib.features import item_features, user_features
from .lib.io import atomic_dir, write_json, write_parquet
from .lib.sections import load_section


@stage_main("features")
def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--matrices", default="data/matrices")
    parser.add_argument("--out", default="data/features")
    args = parser.parse_args(argv)
    params = load_section("features", args.params)
    prepared = Path(args.prepared)
    items = pd.read_parquet(prepared / "items.parquet")
    users = pd.read_parquet(prepared / "users.parquet")
    train = sp.load_npz(Path(args.matrices) / "train.npz")
    users_out, groups = user_features(users, train, items, params["affinity_threshold"])
    items_out = item_features(items)
    groups["genres"] = [c for c in items_out.columns if c != "item"]
    with atomic_dir(args.out) as tmp:
        write_parquet(items_out, tmp / "items.parquet")
        write_parquet(users_out, tmp / "users.parquet")
        write_json(groups, tmp / "columns.json")
    demo = len(groups["demographics"])
    return (f"{len(groups['genres'])} genres, {len(groups['affinity'])} affinity columns, "
            f"{demo if demo else 'no'} demographic columns")


if __name__ == "__main__":
    sys.exit(main())
