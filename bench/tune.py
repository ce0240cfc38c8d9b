"""Try hyperparameters by validation RMSE only (test is never read here), ranked best first.

    python bench/tune.py --model mf --data data --set "l2=0.03|0.1|0.3" --set "factors=32|64"

--data is a folder holding the prepared/, split/ (and features/) artifacts of a pipeline run, e.g. the
`data` folder of the repository after `dvc repro` (the default). Each --set overrides one of params.yaml's
train.<model> keys; several values separated by '|' make a grid, tried in full. Each trial prints one JSON line as
it ends; then a table of every trial sorted by val RMSE, and the `dvc exp run -S ...` command that runs the
pipeline with the best one (test RMSE comes from that run, after the choice). --out also writes the ranked trials
as JSON.
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", default="data", help="folder with prepared/, split/, features/ (default: data)")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--out", type=Path, help="write the ranked trials here as JSON")
    args = parser.parse_args(argv)

    from pipeline.lib.models import build
    from pipeline.lib.models.keras_base import seed_everything
    from pipeline.lib.params import load_params
    from pipeline.lib.training import load_train_data

    params = load_params(args.params)["train"]
    grid = {}
    for item in args.set:
        key, sep, values = item.partition("=")
        if not sep or key not in params.get(args.model, {}):
            sys.exit(f"--set {item}: expected KEY=V1|V2|... with KEY one of train.{args.model}'s keys: "
                     f"{', '.join(params.get(args.model, {}))}")
        grid[key] = [yaml.safe_load(v) for v in values.split("|")]
    data_dir = Path(args.data)
    trials = []
    for combo in itertools.product(*grid.values()) if grid else [()]:
        hp = tried(params[args.model], dict(zip(grid, combo)))
        seed_everything(params["seed"])
        data = load_train_data(data_dir / "prepared", data_dir / "split", data_dir / "features", params["baseline"])
        model = build(args.model, **hp)
        start = time.perf_counter()
        model.fit(data)
        seconds = time.perf_counter() - start
        vals = model.history["val_rmse"]
        trials.append({"model": args.model, **dict(zip(grid, combo)), "val_rmse": round(min(vals), 4),
                       "best_epoch": model.best_epoch, "epochs": len(vals), "seconds": round(seconds, 1)})
        print(json.dumps(trials[-1]), flush=True)
    ranked = rank(trials)
    print(table(ranked, list(grid)))
    print(f"\nbest by val RMSE: {best_command(args.model, ranked[0], list(grid))}")
    if args.out:
        args.out.write_text(json.dumps({"model": args.model, "grid": grid, "trials": ranked}, indent=2) + "\n")


def tried(section: dict, values: dict) -> dict:
    """A train.<model> section with ``values`` set, and taken out of every preset: a tried value must not be
    replaced by the data's preset for that key (ModelConfig.presets)."""
    presets = {ds: {k: v for k, v in preset.items() if k not in values} for ds, preset in section["presets"].items()}
    return {**section, **values, "presets": presets}


def rank(trials: list[dict]) -> list[dict]:
    """Trials by val RMSE, best first; ties keep the order they ran in (the grid's order)."""
    return sorted(trials, key=lambda t: t["val_rmse"])


def table(ranked: list[dict], keys: list[str]) -> str:
    head = ["rank", *keys, "val RMSE", "best epoch", "epochs", "seconds"]
    rows = [[str(i), *(json.dumps(t[k]) for k in keys), f"{t['val_rmse']:.4f}", str(t["best_epoch"]),
             str(t["epochs"]), str(t["seconds"])] for i, t in enumerate(ranked, 1)]
    return "\n".join("| " + " | ".join(r) + " |" for r in [head, ["---"] * len(head), *rows])


def best_command(model: str, best: dict, keys: list[str]) -> str:
    """The dvc exp run that trains the pipeline's model with the best trial's values."""
    sets = " ".join(f"-S 'train.{model}.{k}={json.dumps(best[k])}'" for k in keys)
    return f"dvc exp run {sets}".rstrip()

if __name__ == "__main__":
    main()
