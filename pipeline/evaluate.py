"""Stage evaluate@<model>: RMSE, MAE, MAPE on the hidden test ratings; precision, recall and NDCG at k
over test users; written to metrics/<model>.json.

    python -m pipeline.evaluate --model autorec --trained models/autorec --out metrics/autorec.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from .lib import columns as C
from .lib.errors import PipelineError, stage_main
from .lib.evaluation import predicted_vs_actual, rounded, score
from .lib.io import read_json, write_csv, write_json
from .lib.models import check_name
from .lib.params import load_params


@stage_main("evaluate")
def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--split", default="data/split")
    parser.add_argument("--trained", default=None, help="default: models/<model>")
    parser.add_argument("--out", default=None, help="default: metrics/<model>.json")
    parser.add_argument("--plot", default=None, help="predicted vs actual test ratings (CSV); default: none")
    args = parser.parse_args(argv)
    check_name(args.model)
    params = load_params(args.params)["evaluate"]
    trained = Path(args.trained or f"models/{args.model}")
    out = Path(args.out or f"metrics/{args.model}.json")

    from .lib.models import load

    split = Path(args.split)
    test = pd.read_parquet(split / "test.parquet")
    train = pd.read_parquet(split / "train.parquet", columns=[C.USER, C.ITEM])
    predictions = pd.read_parquet(trained / "predictions_test.parquet")
    n_items = read_json(Path(args.prepared) / "meta.json")["items"]
    model = load(args.model, trained)
    try:
        metrics = score(model, predictions, train, test, n_items, params["k"], params["relevance_threshold"])
    except ValueError as exc:
        raise PipelineError(f"{trained / 'predictions_test.parquet'}: {exc}; re-run train@{args.model}") from None
    info = read_json(trained / "info.json")
    # val RMSE beside the test metrics, so experiments can be ranked without looking at test
    metrics.update({"val_rmse": info["best_val_rmse"], **{key: info[key] for key in ("train_seconds", "epochs", "device")}})
    metrics = rounded(metrics)
    write_json(metrics, out)
    if args.plot:
        write_csv(predicted_vs_actual(test, predictions), Path(args.plot))
    k = params["k"]
    return (f"{args.model}: RMSE {metrics['rmse']:.4f}, MAE {metrics['mae']:.4f}, "
            f"NDCG@{k} {metrics[f'ndcg_at_{k}']:.4f} on {metrics['n_test']} test ratings")


if __name__ == "__main__":
    sys.exit(main())
