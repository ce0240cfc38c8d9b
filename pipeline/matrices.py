"""Stage matrices: user x item CSR matrices (scipy .npz) for train, val and test.

    python -m pipeline.matrices --prepared data/prepared --split data/split --out data/matrices
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from .lib import columns as C
from .lib.errors import stage_main
from .lib.io import atomic_dir, read_json, write_npz
from .lib.matrices import rating_matrix


@stage_main("matrices")
def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--split", default="data/split")
    parser.add_argument("--out", default="data/matrices")
    args = parser.parse_args(argv)
    meta = read_json(Path(args.prepared) / "meta.json")
    shape = (meta["users"], meta["items"])
    with atomic_dir(args.out) as tmp:
        for name in C.PARTS:
            part = pd.read_parquet(Path(args.split) / f"{name}.parquet")
            write_npz(rating_matrix(part, *shape), tmp / f"{name}.npz")
    return f"3 matrices of {shape[0]} x {shape[1]}"


if __name__ == "__main__":
    sys.exit(main())
