"""Try hyperparameters by validation RMSE only (test is never read here).

    python bench/tune.py --model mf --data /tmp/ml100k --set l2=0.02 --set factors=64 [--set ...]

--data is a folder holding the prepared/ and split/ (and features/) artifacts of a pipeline run, e.g. the
`data` folder of the repository after `dvc repro` (the default). Each --set overrides one of params.yaml's train.<model> keys; several
values separated by '|' make a grid.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", default="data", help="folder with prepared/, split/, features/ (default: data)")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args()

    from pipeline.lib.models import build
    from pipeline.lib.models.keras_base import seed_everything
    from pipeline.lib.params import load_params
    from pipeline.lib.training import load_train_data

    params = load_params(args.params)["train"]
    grid = {}
    for item in args.set:
        key, values = item.split("=", 1)
        grid[key] = [yaml.safe_load(v) for v in values.split("|")]
    data_dir = Path(args.data)
    for combo in itertools.product(*grid.values()) if grid else [()]:
        hp = {**params[args.model], **dict(zip(grid, combo))}
        seed_everything(params["seed"])
        data = load_train_data(data_dir / "prepared", data_dir / "split", data_dir / "features", params["baseline"])
        model = build(args.model, **hp)
        start = time.perf_counter()
        model.fit(data)
        seconds = time.perf_counter() - start
        vals = model.history["val_rmse"]
        print(json.dumps({"model": args.model, **dict(zip(grid, combo)), "val_rmse": round(min(vals), 4),
                          "best_epoch": model.best_epoch, "epochs": len(vals), "seconds": round(seconds, 1)}),
              flush=True)


if __name__ == "__main__":
    main()
