"""How an autoencoder does on the heaviest rater among the test users, against the bias baseline: an experiment
on the failure of item autoencoders fed raw ratings (docs/models.md#every-dataset-and-split).

    python bench/accuracy.py --strategy users --models baseline glocal_k --set data.source=/tmp/syn100k \
        --set data.dataset=ml-latest-small --set split.seed=5 --keep /tmp/keep5
    python bench/heavy_rater.py --data /tmp/keep5/data --model autorec --set orientation=item
    python bench/heavy_rater.py --data /tmp/keep5/data --model autorec --set orientation=item --input residuals

--data is a pipeline run's data folder (prepared/, split/, features/) and its params.yaml beside it. The model
trains as the train stage would (params and preset of that run, each --set on top; trained again on train + val
where that run's train.refit says so, the baseline with it); --input changes what an
AutoRec's input rows hold, for this experiment only: ``ratings`` (the pipeline's), ``residuals`` (each rating's
residual from the bias baseline, so a hidden rating reads as the baseline's), ``residuals+rated`` (those and a
0/1 rated indicator per entry); --column-power P scales each input column by (median ratings per column / its
ratings) ** P, so that a heavy rater's own ratings weigh less in the input (0: unchanged). Prints val and test
RMSE of the model, the baseline's, and the mean true, predicted and baseline rating of the test user with the
most test ratings, and the RMSE of everyone else.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tune import tried  # noqa: E402  (bench/ is on the path: the script's folder)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def with_input(kind: str, power: float) -> None:
    """Make AutoRec's input rows ``kind``, columns scaled by ``power`` (see the module docstring); ``ratings`` at
    power 0 leaves the pipeline as it is."""
    import scipy.sparse as sp

    from pipeline.lib.models.autoencoders import AutoRec

    if power:
        rows = AutoRec._rows

        def scaled(self, data, residual):
            m = rows(self, data, residual)
            if residual:  # the targets (residuals) stay; only the raw-rating input rows are scaled
                return m
            n = np.diff(m.tocsc().indptr).astype(np.float64)
            return (m @ sp.diags(((np.median(n[n > 0]) / np.maximum(n, 1)) ** power).astype(np.float32))).tocsr()

        AutoRec._rows = scaled
    if kind == "ratings":
        return
    AutoRec.residual_input = property(lambda self: True)
    if kind == "residuals+rated":  # the indicator rides in as side features, appended to each input row
        AutoRec._side_features = lambda self, data: (self._rows(data, False) != 0).astype(np.float32).toarray()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--params", type=Path, help="the run's params.yaml (default: beside --data)")
    parser.add_argument("--model", default="autorec")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--input", default="ratings", choices=["ratings", "residuals", "residuals+rated"])
    parser.add_argument("--column-power", type=float, default=0.0)
    args = parser.parse_args(argv)
    if (args.input != "ratings" or args.column_power) and args.model != "autorec":
        parser.error("--input and --column-power apply to autorec only")
    if args.column_power and args.input != "ratings":
        parser.error("--column-power scales the raw-rating input (--input ratings)")

    import pandas as pd

    from pipeline.lib import columns as C
    from pipeline.lib.models import build
    from pipeline.lib.models.keras_base import seed_everything
    from pipeline.lib.params import load_params, refit_enabled
    from pipeline.lib.training import load_train_data

    whole = load_params(args.params or args.data.parent / "params.yaml")
    params = whole["train"]
    hp = tried(params[args.model], {key: yaml.safe_load(value) for key, _, value in
                                    (item.partition("=") for item in args.set)})
    if args.input != "ratings" or args.column_power:  # these inputs stand in for impute_query's remedy: not both
        hp["impute_query"] = False
    with_input(args.input, args.column_power)
    seed_everything(params["seed"])
    data = load_train_data(args.data / "prepared", args.data / "split", args.data / "features", params["baseline"])
    model = build(args.model, **hp)
    model.fit(data)
    # what it predicts on val: shrunk towards the baseline when w < 1, else its best epoch's
    val_rmse = model.val_rmse
    if refit_enabled(whole) and model.refits:  # as the train stage does (training.train_and_save): same seed
        seed_everything(params["seed"])
        model = model.refit(data)
    test = pd.read_parquet(args.data / "split" / "test.parquet")
    users, items = test[C.USER].to_numpy(), test[C.ITEM].to_numpy()
    truth = test[C.RATING].to_numpy(np.float64)
    pred = model.predict(users, items).astype(np.float64)
    base = np.clip(model.biases.predict(users, items), *model.scale)  # the baseline scorer's clipped predictions
    heavy = test[C.USER].value_counts().index[0]
    at = users == heavy
    rmse = lambda p, sel: float(np.sqrt(np.mean((truth[sel] - p[sel]) ** 2)))  # noqa: E731
    print(json.dumps({
        "model": args.model, "set": args.set, "input": args.input, "column_power": args.column_power,
        "best_epoch": model.best_epoch, "val_rmse": round(val_rmse, 4),
        "shrink": round(float(getattr(model, "shrink", 1.0)), 3),
        "test_rmse": round(rmse(pred, slice(None)), 4), "baseline_test_rmse": round(rmse(base, slice(None)), 4),
        "heaviest_test_user": {"train_ratings": int(data.train_matrix[heavy].nnz), "test_ratings": int(at.sum()),
                               "mean_true": round(float(truth[at].mean()), 3),
                               "mean_predicted": round(float(pred[at].mean()), 3),
                               "mean_baseline": round(float(base[at].mean()), 3)},
        "others_rmse": round(rmse(pred, ~at), 4), "others_baseline_rmse": round(rmse(base, ~at), 4)}))


if __name__ == "__main__":
    main()
