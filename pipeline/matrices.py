"""Stage matrices: the user x item CSR matrix (scipy .npz) of the train ratings (val and test are never needed
as matrices: models and metrics read them as (user, movie, rating) rows).

    python -m pipeline.matrices --prepared data/prepared --split data/split --out data/matrices
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from .lib.errors import stage_main
from .lib.io import atomic_dir, read_json, require, write_npz
from .lib.matrices import rating_matrix


@stage_main("matrices")
def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--split", default="data/split")
    parser.add_argument("--out", default="data/matrices")
    args = parser.parse_args(argv)
    meta = read_json(require(Path(args.prepared) / "meta.json"))
    shape = (meta["users"], meta["items"])
    train = pd.read_parquet(require(Path(args.split) / "train.parquet"))
    with atomic_dir(args.out) as tmp:
        write_npz(rating_matrix(train, *shape), tmp / "train.npz")
    return f"train matrix of {shape[0]} x {shape[1]}, {len(train)} ratings"


if __name__ == "__main__":
    sys.exit(main())
