"""Accuracy and training time of every model, on real ml-100k, for one split strategy.

    python bench/accuracy.py --strategy random        # 90/10 rating split, val 5% of the rest
    python bench/accuracy.py --strategy users         # the default hold-out-users protocol

Runs the pipeline's own stage modules (same code as `dvc repro`) in a temporary folder, with
params.yaml changed only in split.strategy (and data.source, default pypi-mirror), then prints a
Markdown table and writes bench/results/accuracy_<strategy>.json. With more than one model, the blend stage runs
too, over the models benchmarked.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def stage(module: str, *args: str, cwd: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-m", f"pipeline.{module}", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{module} failed:\n{done.stderr[-2000:]}")
    print(done.stdout.strip().splitlines()[-1], flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strategy", default="random", choices=["users", "random", "temporal"])
    parser.add_argument("--source", default="pypi-mirror")
    parser.add_argument("--models", nargs="*", default=None)
    args = parser.parse_args()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["split"]["strategy"] = args.strategy
    params["data"]["source"] = args.source
    models = args.models or params["train"]["models"]
    params["train"]["models"] = models  # what the blend stage combines
    with tempfile.TemporaryDirectory(prefix="bench-accuracy-") as tmp:
        work = Path(tmp)
        (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        p = ["--params", "params.yaml"]
        stage("download", *p, "--out", "data/raw", cwd=work)
        stage("reindex", *p, "--raw", "data/raw", "--out", "data/prepared", cwd=work)
        stage("split", *p, "--prepared", "data/prepared", "--out", "data/split", cwd=work)
        stage("matrices", "--prepared", "data/prepared", "--split", "data/split", "--out", "data/matrices", cwd=work)
        stage("features", *p, "--prepared", "data/prepared", "--matrices", "data/matrices", "--out",
              "data/features", cwd=work)
        results = {}
        start = time.perf_counter()
        for model in models:
            stage("train", *p, "--model", model, cwd=work)
            stage("evaluate", *p, "--model", model, cwd=work)
            results[model] = json.loads((work / "metrics" / f"{model}.json").read_text())
        wall = time.perf_counter() - start
        if len(models) > 1:  # the blend stage, fitted on val predictions only, scored like one more model
            stage("blend", *p, cwd=work)
            stage("evaluate", *p, "--model", "blend", cwd=work)
            results["blend"] = json.loads((work / "metrics" / "blend.json").read_text())
    k = params["evaluate"]["k"]
    print(f"\n| model | val RMSE | test RMSE | MAE | NDCG@{k} | epochs | train s |\n|---|---|---|---|---|---|---|")
    for model, m in results.items():
        print(f"| {model} | {m['val_rmse']:.4f} | {m['rmse']:.4f} | {m['mae']:.4f} | {m[f'ndcg_at_{k}']:.4f} "
              f"| {m.get('epochs', '-')} | {m['train_seconds']:.1f} |")
    train_total = sum(m["train_seconds"] for name, m in results.items() if name != "blend")
    print(f"\ntraining {train_total:.1f} s in all; train+evaluate stages {wall:.1f} s wall, start-up included")
    out = ROOT / "bench" / "results" / f"accuracy_{args.strategy}.json"
    out.parent.mkdir(exist_ok=True)
    machine = {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
               "date": time.strftime("%Y-%m-%d")}
    out.write_text(json.dumps({"strategy": args.strategy, "machine": machine, "train_seconds_total": train_total,
                               "train_evaluate_wall_seconds": wall, "models": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
