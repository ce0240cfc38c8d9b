"""GLocal-K on real ml-100k: val and test RMSE, training time and best epochs, next to the bias baseline.

    python bench/glocal_k.py                                  # both splits: predefined u1, then random
    python bench/glocal_k.py --split random --models baseline autorec glocal_k
    python bench/glocal_k.py --split predefined --set lambda_2=30 --name lambda30   # a variant, on val

Like bench/accuracy.py, it runs the pipeline's own stage modules (same code as `dvc repro`) in a temporary folder,
params.yaml changed only in split.strategy (predefined: fold u1 unless --fold), data.source (default pypi-mirror)
and train.glocal_k (the model's defaults, GLocalKConfig(), then each --set). Every setting is meant to be chosen on
val RMSE; test RMSE is printed because it is the benchmark. Prints a Markdown table and writes
bench/results/glocal_k_<split>.json (or glocal_k_<name>.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import yaml

from _run import ROOT, data_stages, loadavg, stage  # bench/ is on the path (the script's folder)

sys.path.insert(0, str(ROOT))





def run_split(split: str, args, overrides: dict) -> dict:
    from pipeline.lib.models import REGISTRY

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["split"]["strategy"] = split
    if split == "predefined":
        params["split"]["predefined"]["fold"] = args.fold
    params["data"]["source"] = args.source
    config = REGISTRY["glocal_k"].Config(**{**params["train"].get("glocal_k", {}), **overrides})
    params["train"]["glocal_k"] = config.model_dump(mode="json")
    params["train"]["models"] = [m for m in params["train"]["models"] if m in args.models] + \
        [m for m in args.models if m not in params["train"]["models"]]
    if params["recommend"]["model"] not in params["train"]["models"]:  # unused here, but validated
        params["recommend"]["model"] = params["train"]["models"][0]
    load_start = loadavg()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-glocal-k-") as tmp:
        work = Path(tmp)
        p = data_stages(work, params)
        for model in args.models:
            stage("train", *p, "--model", model, cwd=work)
            stage("evaluate", *p, "--model", model, cwd=work)
            metrics = json.loads((work / "metrics" / f"{model}.json").read_text())
            info = json.loads((work / "models" / model / "info.json").read_text())
            row = {"val_rmse": metrics["val_rmse"], "test_rmse": metrics["rmse"], "test_mae": metrics["mae"],
                   "train_seconds": metrics["train_seconds"], "epochs": metrics.get("epochs"),
                   "best_epoch": info["best_epoch"], "backend": info["backend"], "device": metrics.get("device")}
            extra = work / "models" / model / "glocal_k.json"
            if extra.exists():  # per phase: rounds run, best round, whether fine-tuning won on val
                row.update(json.loads(extra.read_text()))
            results[model] = row
    machine = {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
               "date": time.strftime("%Y-%m-%d"), "load_average": {"start": load_start, "end": loadavg()}}
    return {"split": split, **({"fold": args.fold} if split == "predefined" else {}), "source": args.source,
            "glocal_k": params["train"]["glocal_k"], "overrides": overrides, "machine": machine, "models": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", nargs="*", default=["predefined", "random"],
                        choices=["predefined", "random", "users", "temporal"])
    parser.add_argument("--fold", default="u1", help="split.predefined.fold for the predefined split")
    parser.add_argument("--source", default="pypi-mirror", help="data.source (pypi-mirror, grouplens, or a path)")
    parser.add_argument("--models", nargs="*", default=["baseline", "glocal_k"])
    parser.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                        help="a train.glocal_k setting, e.g. lambda_2=30 (repeatable; recorded in the JSON)")
    parser.add_argument("--name", help="results as bench/results/glocal_k_<name>.json (one split only)")
    args = parser.parse_args()
    if args.name and len(args.split) != 1:
        parser.error("--name goes with one --split")
    overrides = {}
    for assignment in args.overrides:
        key, sep, text = assignment.partition("=")
        if not sep:
            parser.error(f"--set {assignment}: expected KEY=VALUE")
        overrides[key.removeprefix("train.glocal_k.")] = yaml.safe_load(text)
    for split in args.split:
        result = run_split(split, args, overrides)
        label = split if split != "predefined" else f"predefined_{args.fold}"
        print(f"\n{label}, load average {result['machine']['load_average']}\n\n"
              "| model | val RMSE | test RMSE | test MAE | train s | epochs | best epoch |\n"
              "|---|---|---|---|---|---|---|")
        for model, m in result["models"].items():
            best = m["best_epoch"]
            if "best_epochs" in m:
                phases = m["best_epochs"]
                best = (f"pre-train {phases['pretrain']}/{m['pretrain_rounds']}, fine-tune {phases['finetune']}"
                        f"/{m['epochs'] - m['pretrain_rounds']}" + ("" if m["finetuned"] else " (pre-trained kept)"))
            print(f"| {model} | {m['val_rmse']:.4f} | {m['test_rmse']:.4f} | {m['test_mae']:.4f} "
                  f"| {m['train_seconds']:.1f} | {m['epochs']} | {best} |")
        out = ROOT / "bench" / "results" / f"glocal_k_{args.name or label}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwritten: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
