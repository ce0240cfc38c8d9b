"""Stage blend: weights over every model's val predictions, fitted on val ratings only, then scored on test
exactly like one model (metrics/blend.json has evaluate's keys).

    python -m pipeline.blend --models models --out data/blend --metrics metrics/blend.json

Its artifacts live in data/blend, not models/blend: the stage depends on the whole models/ folder (every model in
train.models, whatever that list is), and DVC refuses an output inside a dependency.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from .lib import columns as C
from .lib.blend import Blend, fit_weights
from .lib.errors import stage_main
from .lib.evaluation import aligned_predictions, predicted_vs_actual, rounded, score
from .lib.io import atomic_dir, read_json, require, write_csv, write_json, write_parquet
from .lib.metrics import rmse
from .lib.params import load_params


def read_predictions(models: Path, names: list[str], part: str) -> dict[str, pd.DataFrame]:
    return {n: pd.read_parquet(require(models / n / f"predictions_{part}.parquet", f"train@{n}")) for n in names}


@stage_main("blend")
def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--split", default="data/split")
    parser.add_argument("--models", default="models", help="folder with one trained model per train.models entry")
    parser.add_argument("--out", default="data/blend")
    parser.add_argument("--metrics", default="metrics/blend.json")
    parser.add_argument("--plot", default=None, help="predicted vs actual test ratings (CSV); default: none")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    names, models, split = params["train"]["models"], Path(args.models), Path(args.split)
    meta = read_json(Path(args.prepared) / "meta.json")

    # Fitting sees val ratings and val predictions only; test.parquet is not even opened before the weights exist.
    val = pd.read_parquet(split / "val.parquet", columns=[C.USER, C.ITEM, C.RATING])
    val_x = aligned_predictions(val, read_predictions(models, names, "val"), "val")
    start = time.perf_counter()
    intercept, weights = fit_weights(val_x, val[C.RATING].to_numpy(), params["blend"]["method"],
                                     params["blend"]["alpha"])
    seconds = time.perf_counter() - start
    blend = Blend(intercept, {n: float(w) for n, w in zip(names, weights)}, scale=tuple(meta["rating_scale"]),
                  n_items=meta["items"])
    val_rmse = {name: rmse(val[C.RATING].to_numpy(), val_x[:, i]) for i, name in enumerate(names)}
    val_rmse["blend"] = rmse(val[C.RATING].to_numpy(), blend.combine(val_x))

    test = pd.read_parquet(split / "test.parquet")
    test_frames = read_predictions(models, names, "test")
    predictions = test[[C.USER, C.ITEM]].merge(test_frames[names[0]][[C.USER, C.ITEM, "cold"]], on=[C.USER, C.ITEM],
                                               how="left", validate="1:1")
    predictions.insert(2, C.PREDICTION, blend.combine(aligned_predictions(test, test_frames, "test")))
    blend.with_models(models)
    train = pd.read_parquet(split / "train.parquet", columns=[C.USER, C.ITEM])
    k = params["evaluate"]["k"]
    metrics = score(blend, predictions, train, test, meta["items"], k, params["evaluate"]["relevance_threshold"])
    metrics.update({"val_rmse": val_rmse["blend"], "train_seconds": round(seconds, 2), "epochs": 1, "device": "cpu"})
    metrics = rounded(metrics)

    with atomic_dir(Path(args.out)) as tmp:
        write_json({"method": params["blend"]["method"], "alpha": params["blend"]["alpha"], **blend.to_json(),
                    "val_rmse": rounded(val_rmse, 6)}, tmp / "weights.json")
        write_parquet(predictions, tmp / "predictions_test.parquet")
    write_json(metrics, Path(args.metrics))
    if args.plot:
        write_csv(predicted_vs_actual(test, predictions), Path(args.plot))
    used = ", ".join(f"{n} {w:.3f}" for n, w in blend.weights.items() if w != 0)
    return (f"weights {used}; val RMSE {val_rmse['blend']:.4f} (best single {min(v for n, v in val_rmse.items() if n != 'blend'):.4f}); "
            f"test RMSE {metrics['rmse']:.4f}")


if __name__ == "__main__":
    sys.exit(main())
