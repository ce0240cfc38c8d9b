"""Stage train@<model>: fit one model on train (val for early stopping), save it with its history and its
predictions for the val and test pairs.

    python -m pipeline.train --model autorec --out models/autorec
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from .lib import columns as C
from .lib.errors import stage_main
from .lib.io import atomic_dir, write_json, write_parquet
from .lib.models import check_name
from .lib.params import load_params
from .lib.training import finish_live, live_callback, load_train_data, prediction_frame


@stage_main("train")
def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--split", default="data/split")
    parser.add_argument("--features", default="data/features")
    parser.add_argument("--out", default=None, help="default: models/<model>")
    args = parser.parse_args(argv)
    check_name(args.model)
    params = load_params(args.params)["train"]
    out = Path(args.out or f"models/{args.model}")

    from .lib.models import build  # Keras is imported only once params are known to be good
    from .lib.models.keras_base import device_name, seed_everything

    seed_everything(params["seed"])
    data = load_train_data(Path(args.prepared), Path(args.split), Path(args.features), params["baseline"])
    test_pairs = pd.read_parquet(Path(args.split) / "test.parquet", columns=[C.USER, C.ITEM])
    model = build(args.model, **params[args.model])
    verbose = 1 if sys.stdout.isatty() else 2  # one line per epoch in logs

    import keras

    with atomic_dir(out) as tmp:
        live = live_callback(tmp / "dvclive")  # per-epoch curves for `dvc plots`
        start = time.perf_counter()
        model.fit(data, callbacks=[live], verbose=verbose)
        seconds = time.perf_counter() - start
        finish_live(live, model.history)
        info = {"model": args.model, "device": device_name(), "backend": keras.backend.backend(),
                "train_seconds": round(seconds, 2), "epochs": len(next(iter(model.history.values()), [])),
                "best_epoch": model.best_epoch, "best_val_rmse": round(min(model.history["val_rmse"]), 6),
                "parameters": int(model.net.count_params())}
        model.save(tmp)
        write_json(model.history, tmp / "history.json")
        write_json(info, tmp / "info.json")
        write_parquet(prediction_frame(model, data.val), tmp / "predictions_val.parquet")
        write_parquet(prediction_frame(model, test_pairs), tmp / "predictions_test.parquet")
    return (f"{args.model}: {info['epochs']} epochs on {info['device']} in {seconds:.1f} s, "
            f"best val RMSE {info['best_val_rmse']:.4f} at epoch {info['best_epoch']}")


if __name__ == "__main__":
    sys.exit(main())
