"""Stage blend: weights over every model's val predictions, fitted on val ratings only, saved as a scorer in
models/blend (evaluate-blend then scores it on test like any model). Falls back to the best single model, with
a warning, when val is too small to trust or the fit does not beat that model on val.

    python -m pipeline.blend --predictions data/predictions/val --out models/blend
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from .lib import columns as C
from .lib.blend import Blend
from .lib.errors import stage_main
from .lib.evaluation import aligned_predictions, rounded
from .lib.io import atomic_dir, read_json, require, write_json
from .lib.metrics import rmse
from .lib.params import load_params


@stage_main("blend")
def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--split", default="data/split")
    parser.add_argument("--predictions", default="data/predictions/val", help="one val-predictions file per model")
    parser.add_argument("--out", default="models/blend")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    names, cfg = params["train"]["models"], params["blend"]
    meta = read_json(require(Path(args.prepared) / "meta.json"))

    # Fitting sees val ratings and val predictions only; test is never opened here.
    val = pd.read_parquet(require(Path(args.split) / "val.parquet"), columns=[C.USER, C.ITEM, C.RATING])
    frames = {n: pd.read_parquet(require(Path(args.predictions) / f"{n}.parquet")) for n in names}
    x = aligned_predictions(val, frames, "val")
    truth = val[C.RATING].to_numpy()
    start = time.perf_counter()
    blend = Blend.fit({n: x[:, i] for i, n in enumerate(names)}, truth, cfg["method"], cfg["alpha"],
                      cfg["min_val_ratings"], tuple(meta["rating_scale"]), meta["items"])
    seconds = time.perf_counter() - start
    val_rmse = {**{n: rmse(truth, x[:, i]) for i, n in enumerate(names)}, Blend.name: rmse(truth, blend.combine(x))}
    with atomic_dir(Path(args.out)) as tmp:
        blend.save(tmp)
        write_json({"model": Blend.name, "method": cfg["method"], "alpha": cfg["alpha"],
                    "val_rmse": rounded(val_rmse, 6),
                    "summary": {"val_rmse": round(val_rmse[Blend.name], 6), "train_seconds": round(seconds, 2),
                                "fallback": int(blend.fallback is not None)}}, tmp / "info.json")
    used = ", ".join(f"{n} {w:.3f}" for n, w in blend.weights.items() if w != 0)
    best = min(v for n, v in val_rmse.items() if n != Blend.name)
    return f"weights {used}; val RMSE {val_rmse[Blend.name]:.4f} (best single {best:.4f})"


if __name__ == "__main__":
    sys.exit(main())
