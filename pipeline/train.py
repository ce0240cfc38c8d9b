"""Stage train@<model>: fit one model on train (val for early stopping), with train.refit (by default unless the
split holds out users) again on train + val for the epochs val chose; save it with its history, and the held-out
model's predictions for the val pairs (what the blend is fitted on).

    python -m pipeline.train --model autorec --out models/autorec --predictions data/predictions/val/autorec.parquet
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .lib.errors import stage_main
from .lib.io import atomic_dir, write_parquet
from .lib.models import check_name
from .lib.params import load_params, refit_enabled
from .lib.training import load_train_data, prediction_frame, train_and_save


def epochs(n: int) -> str:
    return f"{n} epoch" + ("s" if n != 1 else "")


@stage_main("train")
def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--split", default="data/split")
    parser.add_argument("--features", default="data/features")
    parser.add_argument("--out", default=None, help="default: models/<model>")
    parser.add_argument("--predictions", default=None, help="val predictions; default: data/predictions/val/<model>.parquet")
    args = parser.parse_args(argv)
    check_name(args.model)
    whole = load_params(args.params)
    params = whole["train"]
    out = Path(args.out or f"models/{args.model}")
    data = load_train_data(Path(args.prepared), Path(args.split), Path(args.features), params["baseline"])
    with atomic_dir(out) as tmp:
        model, info = train_and_save(args.model, params[args.model], params["seed"], data, tmp, params["devices"],
                                     refit_enabled(whole))
    # a refit model has seen val: the blend is fitted on what the held-out one predicts there
    write_parquet(prediction_frame(model.held_out or model, data.val),
                  Path(args.predictions or f"data/predictions/val/{args.model}.parquet"))
    replicas = f" ({info['summary']['replicas']} replicas)" if info["summary"]["replicas"] > 1 else ""
    return (f"{args.model}: {epochs(info['summary']['epochs'])} on {info['summary']['device']} in "
            f"{info['summary']['train_seconds']:.1f} s{replicas}, best val RMSE {model.kept_val_rmse:.4f} "
            f"at epoch {info['best_epoch']}"
            + (f"; refit on train + val for {epochs(info['refit']['epochs'])} in {info['refit']['seconds']:.1f} s"
               if "refit" in info else "")
            + "".join(f"; preset {name}: " + ", ".join(f"{k}={v}" for k, v in values.items())
                      for name, values in info["preset"].items())
            + ("; no better than the baseline on val, so it predicts the baseline"
               if info["summary"]["baseline_fallback"] else
               f"; shrunk towards the baseline (weight {model.shrink:.3f}): val RMSE {info['summary']['val_rmse']:.4f}"
               if model.shrink < 1 else ""))


if __name__ == "__main__":
    sys.exit(main())
