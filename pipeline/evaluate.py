"""Stage evaluate@<model> (and evaluate-blend): predict the hidden test ratings with a saved scorer (a model or
the blend); RMSE, MAE, MAPE on them; precision, recall and NDCG at k over test users; metrics/<name>.json.

    python -m pipeline.evaluate --model autorec
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from .lib import columns as C
from .lib.errors import stage_main
from .lib.evaluation import predicted_vs_actual, rounded, score
from .lib.io import read_json, require, write_csv, write_json, write_parquet
from .lib.models import load_scorer
from .lib.params import load_params
from .lib.training import prediction_frame


@stage_main("evaluate")
def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="a model in train.models, or blend")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--split", default="data/split")
    parser.add_argument("--models", default="models", help="folder of saved scorers (models/<model>)")
    parser.add_argument("--out", default=None, help="default: metrics/<model>.json")
    parser.add_argument("--predictions", default=None, help="default: data/predictions/test/<model>.parquet")
    parser.add_argument("--plot", default=None, help="predicted vs actual test ratings (CSV); default: none")
    args = parser.parse_args(argv)
    params = load_params(args.params)["evaluate"]
    name, split, folder = args.model, Path(args.split), Path(args.models) / args.model
    test = pd.read_parquet(require(split / "test.parquet"))
    # what the user rated outside test is never a ranking candidate
    known = pd.concat([pd.read_parquet(require(split / f"{part}.parquet"), columns=[C.USER, C.ITEM])
                       for part in ("train", "val")], ignore_index=True)
    n_items = read_json(require(Path(args.prepared) / "meta.json"))["items"]
    scorer = load_scorer(folder)
    predictions = prediction_frame(scorer, test)
    metrics = score(scorer, predictions, known, test, n_items, params["k"], params["relevance_threshold"],
                    params["bootstrap"])
    # val RMSE and how training went, beside the test metrics, so experiments can be ranked without looking at test
    metrics = rounded({**metrics, **read_json(require(folder / "info.json"))["summary"]})
    write_json(metrics, Path(args.out or f"metrics/{name}.json"))
    write_parquet(predictions, Path(args.predictions or f"data/predictions/test/{name}.parquet"))
    if args.plot:
        write_csv(predicted_vs_actual(test, predictions), Path(args.plot))
    k = params["k"]
    return (f"{name}: RMSE {metrics['rmse']:.4f} [{metrics['rmse_ci_low']:.4f}, {metrics['rmse_ci_high']:.4f}], "
            f"MAE {metrics['mae']:.4f}, NDCG@{k} {metrics[f'ndcg_at_{k}']:.4f} on {metrics['n_test']} test ratings")


if __name__ == "__main__":
    sys.exit(main())
