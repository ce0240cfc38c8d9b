"""Stage split: hide ratings for validation and test with the strategy in params.

    python -m pipeline.split --prepared data/prepared --out data/split
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from .lib.errors import PipelineError, stage_main, warn
from .lib.io import atomic_dir, write_json, write_parquet
from .lib.sections import load_section
from .lib.split import split, summarise


@stage_main("split")
def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--out", default="data/split")
    args = parser.parse_args(argv)
    params = load_section("split", args.params)
    ratings = pd.read_parquet(Path(args.prepared) / "ratings.parquet")
    parts = split(ratings, params)
    for name in ("val", "test"):
        if parts[name].empty:
            raise PipelineError(f"split.{params['strategy']}: the {name} part is empty; "
                                f"lower split.min_ratings or raise the {params['strategy']} fractions")
    summary = summarise(parts, params["strategy"], params["seed"])
    held_out_users = summary["val"]["users"] + summary["test"]["users"]
    if held_out_users == 0:
        warn("no user was held out")
    with atomic_dir(args.out) as tmp:
        for name, frame in parts.items():
            write_parquet(frame, tmp / f"{name}.parquet")
        write_json(summary, tmp / "summary.json")
    return (f"{params['strategy']}: train {summary['train']['ratings']}, val {summary['val']['ratings']} "
            f"({summary['val']['users']} users), test {summary['test']['ratings']} ({summary['test']['users']} users)")


if __name__ == "__main__":
    sys.exit(main())
