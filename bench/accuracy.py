"""Accuracy and training time of every model, on real ml-100k, for one split strategy and one Keras backend.

    python bench/accuracy.py --strategy random        # 90/10 rating split, val 5% of the rest
    python bench/accuracy.py --strategy users         # the default hold-out-users protocol
    python bench/accuracy.py --strategy predefined --fold u1      # ml-100k's u1.base / u1.test
    python bench/accuracy.py --strategy users --backend jax       # the stages under KERAS_BACKEND=jax
    python bench/accuracy.py --strategy users --models mf --set train.mf.factors=32 --name tune_mf   # tuning

Runs the pipeline's own stage modules (same code as `dvc repro`) in a temporary folder, with params.yaml changed
only in split.strategy (and split.predefined.fold, data.source: default pypi-mirror, and each --set), then prints a
Markdown table and writes bench/results/accuracy_<name>.json: by default <name> is the strategy, then the fold for
predefined, then _jax for --backend jax. With more than one model, the blend stage runs too, over the models
benchmarked. With the baseline among them, each other scorer's paired test-RMSE difference to it and its bootstrap
interval (``vs_baseline``, as the report's "Δ RMSE vs baseline" column: the same test users resampled for both)
say whether a model above or below the baseline is more than this test set's luck.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import yaml

from _run import ROOT, data_stages, loadavg, stage  # bench/ is on the path (the script's folder)

sys.path.insert(0, str(ROOT))  # the pipeline's own evaluation code, for vs_baseline


def override(params: dict, assignment: str) -> tuple[str, object]:
    """Apply one --set KEY=VALUE (dotted key, YAML value) to params; the key must be one params.yaml has."""
    key, sep, text = assignment.partition("=")
    *parents, leaf = key.split(".")
    section = params
    for part in parents:
        section = section.get(part) if isinstance(section, dict) else None
    if not sep or not isinstance(section, dict) or leaf not in section:
        sys.exit(f"--set {assignment}: expected KEY=VALUE with KEY a dotted path in params.yaml")
    section[leaf] = yaml.safe_load(text)
    return key, section[leaf]


def versus_baseline(split: Path, predictions: Path, names: list[str], bootstrap: dict) -> dict[str, dict]:
    """{scorer: {diff, low, high}}: its test RMSE minus the baseline's, with the bootstrap interval of
    params evaluate.bootstrap, from the test predictions the evaluate stage wrote into ``predictions``."""
    import pandas as pd

    from pipeline.lib.evaluation import aligned_predictions, user_squared_errors, versus

    test = pd.read_parquet(split / "test.parquet")
    errors = {name: user_squared_errors(test, aligned_predictions(
        test, {name: pd.read_parquet(predictions / f"{name}.parquet")}, "test")[:, 0]) for name in names}
    return {name: dict(zip(("diff", "low", "high"), (round(v, 5) for v in values)))
            for name, values in versus(errors, "baseline", bootstrap).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strategy", default="random", choices=["users", "random", "temporal", "predefined"])
    parser.add_argument("--fold", help="split.predefined.fold for --strategy predefined (u1..u5, ua, ub)")
    parser.add_argument("--backend", default="tensorflow", choices=["tensorflow", "jax"],
                        help="KERAS_BACKEND for every stage (default: tensorflow, whatever the environment says)")
    parser.add_argument("--source", default="pypi-mirror")
    parser.add_argument("--models", nargs="*", default=None)
    parser.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                        help="override a param, e.g. train.mf.factors=32 (repeatable; recorded in the JSON)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="run in DIR (made if missing) and keep its data/, models/ and metrics/ afterwards, "
                             "e.g. to try blends on the saved models; default: a temporary folder")
    parser.add_argument("--name", help="the results' name: bench/results/accuracy_<name>.json (default: the "
                                       "strategy, fold and backend)")
    args = parser.parse_args()
    if args.fold and args.strategy != "predefined":
        parser.error("--fold goes with --strategy predefined")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["split"]["strategy"] = args.strategy
    if args.fold:
        params["split"]["predefined"]["fold"] = args.fold
    params["data"]["source"] = args.source
    overrides = dict(override(params, assignment) for assignment in args.overrides)
    fold = params["split"]["predefined"]["fold"] if args.strategy == "predefined" else None
    label = args.name or "_".join([args.strategy, *([fold] if fold else []),
                                  *([args.backend] if args.backend != "tensorflow" else [])])
    os.environ["KERAS_BACKEND"] = args.backend  # every stage's subprocess inherits it
    models = args.models or params["train"]["models"]
    params["train"]["models"] = models  # what the blend stage combines
    if params["recommend"]["model"] not in [*models, "blend"]:  # unused here, but validated by every stage
        params["recommend"]["model"] = models[0]
    load_start = loadavg()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    with contextlib.nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory(
            prefix="bench-accuracy-") as tmp:
        work = Path(tmp)
        p = data_stages(work, params)
        results = {}
        start = time.perf_counter()
        for model in models:
            stage("train", *p, "--model", model, cwd=work)
            stage("evaluate", *p, "--model", model, cwd=work)
            results[model] = json.loads((work / "metrics" / f"{model}.json").read_text())
            results[model]["backend"] = json.loads((work / "models" / model / "info.json").read_text())["backend"]
        wall = time.perf_counter() - start
        if len(models) > 1:  # the blend stage, fitted on val predictions only, scored like one more model
            stage("blend", *p, cwd=work)
            stage("evaluate", *p, "--model", "blend", cwd=work)
            results["blend"] = json.loads((work / "metrics" / "blend.json").read_text())
        if "baseline" in results and len(results) > 1:
            for name, values in versus_baseline(work / "data" / "split", work / "data" / "predictions" / "test",
                                                list(results), params["evaluate"]["bootstrap"]).items():
                results[name]["vs_baseline"] = values
    k = params["evaluate"]["k"]
    print(f"\n| model | backend | val RMSE | test RMSE | vs baseline | MAE | NDCG@{k} | epochs | train s |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for model, m in results.items():
        d = m.get("vs_baseline")
        versus_cell = f"{d['diff']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]" if d else "-"
        print(f"| {model} | {m.get('backend', args.backend)} | {m['val_rmse']:.4f} | {m['rmse']:.4f} | {versus_cell} "
              f"| {m['mae']:.4f} | {m[f'ndcg_at_{k}']:.4f} | {m.get('epochs', '-')} | {m['train_seconds']:.1f} |")
    train_total = sum(m["train_seconds"] for name, m in results.items() if name != "blend")
    print(f"\ntraining {train_total:.1f} s in all; train+evaluate stages {wall:.1f} s wall, start-up included")
    out = ROOT / "bench" / "results" / f"accuracy_{label}.json"
    out.parent.mkdir(exist_ok=True)
    machine = {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
               "date": time.strftime("%Y-%m-%d"), "load_average": {"start": load_start, "end": loadavg()}}
    out.write_text(json.dumps({"strategy": args.strategy, **({"fold": fold} if fold else {}),
                               "backend": args.backend, "overrides": overrides, "machine": machine,
                               "train_seconds_total": train_total, "train_evaluate_wall_seconds": wall,
                               "models": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
