"""Training at ml-20m's size: time and memory of each model's train and evaluate stages, and how far an epoch is
from an estimated floor.

    python bench/scale.py --models mf embedding_mlp --epochs 1            # generates 20M synthetic ratings first
    python bench/scale.py --data /tmp/syn20m --models mf --epochs 2       # synthetic data already there
    python bench/scale.py --data /tmp/syn20m --workdir /tmp/scale --reuse-data --models mf   # data stages once

Runs the pipeline's own stage modules (the commands of dvc.yaml) on synthetic ml-20m-shaped data
(bench/synthetic.py; --data, generated there when it holds no ratings.csv) in a scratch folder: params.yaml with
data.dataset ml-20m, data.source the data, train.models the models and train.<model>.epochs --epochs (a sampler's
sweeps, its burn-in cut below them), every other key as in --params. The data stages run first (check, download,
reindex, split, matrices, features), then train and evaluate for each model. Each stage is a child process: its wall time and peak RSS (ru_maxrss of that child, from
os.wait4; on Linux a child's peak starts at this process's, about 60 MB while the stages run) are reported.

Per model: seconds per epoch (Keras's own epoch time from the train stage's log, validation included; whole
seconds), steps, ms per step (the epoch's time over its steps, so the first step's tracing is in it), train ratings
per second, and the ratio to an estimated floor: for the pair models the bytes of embedding rows an epoch must
move over the memory bandwidth this machine measures with numpy (``floor``); for the autoencoders the cheaper of
their two training steps' floors, products at the matmul rate numpy measures or bytes at that bandwidth
(``autoencoder_floor``). Writes bench/results/scale.json (--out) and prints Markdown tables.

    python bench/scale.py --refloor bench/results/scale.json --workdir /tmp/scale   # floors of an earlier run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
P = ["--params", "params.yaml"]
DATA_STAGES = [  # dvc.yaml's commands
    ("check", [*P, "--out", "data/source.json"]),
    ("download", [*P, "--out", "data/raw"]),
    ("reindex", [*P, "--raw", "data/raw", "--out", "data/prepared"]),
    ("split", [*P, "--prepared", "data/prepared", "--out", "data/split"]),
    ("matrices", ["--prepared", "data/prepared", "--split", "data/split", "--out", "data/matrices"]),
    ("features", [*P, "--prepared", "data/prepared", "--matrices", "data/matrices", "--out", "data/features"]),
]
# An epoch line of Keras's progress log at verbose=2: "18750/18750 - 96s - 5ms/step - loss: ..."
EPOCH_LINE = re.compile(r"^(\d+)/(\d+) - (\d+)s - (\d+)(s|ms|us)/step")
# Per lookup of a row, with lazy Adam: read it (forward), read its two moments, write them, read and write it.
ROW_PASSES = 7
# Autoencoders, per weight and step: Adam with weight decay reads the weight, its gradient and two moments, and
# writes the weight and the moments.
WEIGHT_PASSES = 7
# Autoencoders from observed entries, per entry: its row of the first layer's kernel and of the reconstruction
# kernel, each read forward, read again backward, and its gradient row read and written.
ENTRY_ROW_PASSES = 4


def run_stage(module: str, args: list[str], cwd: Path, log: Path) -> dict:
    """Run ``python -m pipeline.<module> args`` in cwd; its wall seconds and peak RSS (MiB), from os.wait4."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", f"pipeline.{module}", *args], cwd=cwd, env=env, stdout=out,
                                 stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text()
    if child.returncode:
        sys.exit(f"bench: {module} {' '.join(args)} failed (exit {child.returncode}); its log, {log}:\n{text[-3000:]}")
    lines = [line for line in text.splitlines() if line.strip()]
    return {"stage": module, "args": args, "seconds": round(seconds, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "summary": next((line for line in reversed(lines) if ": done:" in line), lines[-1] if lines else "")}


def epochs_from_log(log: Path) -> list[dict]:
    """Each epoch's steps, seconds and per-step time (after the first step) as Keras printed them."""
    epochs = []
    for line in log.read_text().splitlines():
        match = EPOCH_LINE.match(line.strip())
        if match and match.group(1) == match.group(2):
            unit = {"s": 1e3, "ms": 1.0, "us": 1e-3}[match.group(5)]
            epochs.append({"steps": int(match.group(2)), "seconds": float(match.group(3)),
                           "ms_per_step": float(match.group(4)) * unit})
    return epochs


def memory_bandwidth(size_mb: int = 512, repeats: int = 5) -> dict:
    """Bytes read + written per second by numpy copies of a large float32 array, in as many threads as cores
    (numpy releases the GIL while it copies); the best of ``repeats``."""
    threads = len(os.sched_getaffinity(0))
    n = size_mb * 2**20 // 4
    src = np.ones(n, np.float32)
    dst = np.empty_like(src)
    best = {}
    for k in sorted({1, threads}):
        bounds = np.linspace(0, n, k + 1).astype(int)
        parts = [(dst[bounds[i]:bounds[i + 1]], src[bounds[i]:bounds[i + 1]]) for i in range(k)]
        times = []
        for _ in range(repeats):
            workers = [threading.Thread(target=np.copyto, args=part) for part in parts]
            start = time.perf_counter()
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            times.append(time.perf_counter() - start)
        moved = 2 * sum(part[1].nbytes for part in parts)
        best[k] = moved / min(times)
    return {"bytes_per_second": max(best.values()), "by_threads": {str(k): round(v / 1e9, 2) for k, v in best.items()},
            "array_mb": size_mb}


def saved_config(saved: Path) -> dict:
    """The config.json of a model.keras file (read without loading Keras); {} when there is none."""
    if not saved.exists():
        return {}
    with zipfile.ZipFile(saved) as archive:
        return json.loads(archive.read("config.json"))


def layer_configs(config: dict) -> list[dict]:
    """Every layer entry ({"class_name", "config", ...}) of a saved model's config, nested models included, in
    order."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if "class_name" in node and isinstance(node.get("config"), dict):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return found


def embedding_widths(config: dict) -> list[int] | None:
    """Widths of a saved model's embedding tables (one row of each is looked up per rating), or None."""
    return [int(n["config"]["output_dim"]) for n in layer_configs(config)
            if str(n["class_name"]).endswith("Embedding") and "output_dim" in n["config"]] or None


def optimizer_name(config: dict) -> str | None:
    """The class of the optimizer the saved model was trained with."""
    return ((config.get("compile_config") or {}).get("optimizer") or {}).get("class_name")


def floor(widths: list[int] | None, ratings: int, bandwidth: float) -> dict | None:
    """Seconds an epoch needs at least to move its embedding rows: ratings x (sum of the looked-up row widths) x
    4 bytes x ROW_PASSES, over the measured bandwidth. Rows counted once per rating (no saving from a row repeated
    in a batch) and moved at streaming speed (random rows are slower): an estimate, not a bound."""
    if not widths:
        return None
    nbytes = ratings * sum(widths) * 4 * ROW_PASSES
    return {"bytes_per_epoch": nbytes, "seconds": nbytes / bandwidth, "row_widths": widths}


def matmul_rate(n: int = 2048, repeats: int = 3) -> float:
    """float32 FLOP per second of a numpy (BLAS, every core) n x n product; the best of ``repeats``."""
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - start)
    return 2 * n**3 / min(times)


def dense_layers(config: dict) -> list[tuple[int, int]]:
    """(inputs, units) of each Dense layer of a saved model, in order."""
    return [(int(n["build_config"]["input_shape"][-1]), int(n["config"]["units"])) for n in layer_configs(config)
            if n["class_name"] == "Dense" and "units" in n["config"]]


def autoencoder_floor(layers: list[tuple[int, int]], cells: int, ratings: int, steps: int, bandwidth: float,
                      flops: float) -> dict | None:
    """Seconds an autoencoder's epoch needs at least, the cheaper of its two training steps (_sparse_step):
    - dense: each row's forward and backward products through every layer, 6 x rows x weights FLOPs at the
      measured matmul rate, or Adam's WEIGHT_PASSES over every weight at each step if that takes longer;
    - sparse: for each train rating ENTRY_ROW_PASSES over its row of the first and of the reconstruction kernel,
      plus Adam's passes over every weight at each step, all at the measured memory bandwidth.
    ``cells`` is users x movies: the rows of an epoch are cells / (the reconstruction's width). The layers between
    (rows x units, small) and deep_autorec's re-fed second pass are left out: an estimate, not a bound."""
    if len(layers) < 2:
        return None
    weights = sum(n_in * n_out for n_in, n_out in layers)
    rows = cells // layers[-1][1]
    optimizer = steps * weights * 4 * WEIGHT_PASSES / bandwidth
    dense = max(6 * rows * weights / flops, optimizer)
    entries = ratings * (layers[0][1] + layers[-1][0]) * 4 * ENTRY_ROW_PASSES / bandwidth
    sparse = entries + optimizer
    return {"seconds": min(dense, sparse), "dense_seconds": dense, "sparse_seconds": sparse,
            "optimizer_seconds": optimizer, "layers": layers}


def machine_info() -> dict:
    model, mem_kb = "unknown", None
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal:"))
    except (OSError, StopIteration):
        pass
    versions = {}
    for package in ("numpy", "pandas", "keras", "tensorflow", "jax"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "pipeline"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip())
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_model": model,
            "mem_total_gb": round(mem_kb / 2**20, 1) if mem_kb else None, "python": platform.python_version(),
            "platform": platform.platform(), "versions": versions, "keras_backend": os.environ.get("KERAS_BACKEND",
                                                                                                   "tensorflow"),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "git_commit": commit or None,
            "pipeline_uncommitted": dirty, "loadavg_start": [round(x, 2) for x in os.getloadavg()]}


def ensure_data(args) -> Path:
    folder = args.data
    if (folder / "ratings.csv").exists():
        print(f"bench: synthetic data in {folder}", flush=True)
        return folder
    print(f"bench: generating {args.ratings:,} synthetic ratings into {folder}", flush=True)
    subprocess.run([sys.executable, str(ROOT / "bench" / "synthetic.py"), "--ratings", str(args.ratings), "--users",
                    str(args.users), "--items", str(args.items), "--seed", str(args.seed), "--out", str(folder)],
                   check=True)
    return folder


def write_params(args, work: Path, source: Path, models: list[str]) -> None:
    params = yaml.safe_load(args.params.read_text())
    params["data"].update(dataset="ml-20m", source=str(source))
    params["train"]["models"] = models
    for model in models:
        section = params["train"][model]
        if "epochs" in section:  # the baseline is fitted in closed form, without epochs
            section["epochs"] = args.epochs
        elif "burn_in" in section:  # a sampler (bayesian_fm): --epochs sweeps, the burn-in cut to fit
            section.update(sweeps=args.epochs, burn_in=min(section["burn_in"], args.epochs - 1))
    if params.get("recommend", {}).get("model") not in [*models, "blend"]:
        params["recommend"]["model"] = models[0]  # the check stage refuses one that is not trained
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def train_ratings(work: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(work / "data" / "split" / "train.parquet").metadata.num_rows


def tables(result: dict) -> str:
    out = ["| stage | model | wall s | peak RSS MB |", "|---|---|---:|---:|"]
    for s in result["stages"]:
        out.append(f"| {s['stage']} | {s.get('model', '')} | {s['seconds']:.1f} | {s['peak_rss_mb']:,.0f} |")
    out += ["", "| model | optimizer | epochs | s/epoch | steps/epoch | ms/step | ratings/s | floor s/epoch "
                "| x floor | train s (fit) | val RMSE |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, m in result["models"].items():
        fl = m["floor"]
        cells = [name, m["optimizer"] or "-", str(m["epochs"]), f"{m['seconds_per_epoch']:.0f}",
                 str(m["steps_per_epoch"] or "-"),
                 "-" if m["ms_per_step"] is None else f"{m['ms_per_step']:.1f}", f"{m['ratings_per_second']:,.0f}",
                 f"{fl['seconds']:.3g}" if fl else "-", f"{m['times_floor']:.1f}" if fl else "-",
                 f"{m['train_seconds']:.1f}", f"{m['val_rmse']:.4f}"]
        out.append("| " + " | ".join(cells) + " |")
    bw = result["memory_bandwidth"]
    out += ["", f"floor, pair models: train ratings x row widths x {ROW_PASSES} passes x 4 bytes; autoencoders: the "
                f"cheaper of the dense step (6 FLOPs per row and weight, at {result['matmul_flops'] / 1e9:.0f} "
                f"GFLOP/s, numpy matmul) and the sparse step (train ratings x {ENTRY_ROW_PASSES} passes over a "
                f"kernel row at each end, plus {WEIGHT_PASSES} passes over every weight per step); bytes over "
                f"{bw['bytes_per_second'] / 1e9:.1f} GB/s (numpy copy, by threads: {bw['by_threads']} GB/s); "
                f"load average {result['machine']['loadavg_start']} at start, {result['loadavg_end']} at end"]
    return "\n".join(out)


def add_floors(result: dict, work: Path) -> None:
    """Each model's floor and its epoch's ratio to it, from the saved models in ``work`` and this machine's measured
    memory bandwidth and matmul rate (kept in ``result``)."""
    result["memory_bandwidth"] = bandwidth = memory_bandwidth()
    result["matmul_flops"] = flops = matmul_rate()
    meta = json.loads((work / "data" / "prepared" / "meta.json").read_text())
    for model, m in result["models"].items():
        saved = saved_config(work / "models" / model / "model.keras")
        m["floor"] = floor(embedding_widths(saved), m["train_ratings"], bandwidth["bytes_per_second"])
        if m["floor"] is None and m["steps_per_epoch"]:
            m["floor"] = autoencoder_floor(dense_layers(saved), meta["users"] * meta["items"], m["train_ratings"],
                                           m["steps_per_epoch"], bandwidth["bytes_per_second"], flops)
        m["times_floor"] = m["seconds_per_epoch"] / m["floor"]["seconds"] if m["floor"] else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="synthetic data folder (generated when empty); "
                        "default: <workdir>/synthetic-20m")
    parser.add_argument("--models", nargs="+", default=None, help="default: train.models of --params")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder, kept; default: a temporary one")
    parser.add_argument("--reuse-data", action="store_true",
                        help="skip the data stages when --workdir already holds their outputs from the same --data")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale.json")
    parser.add_argument("--ratings", type=int, default=20_000_000)
    parser.add_argument("--users", type=int, default=138_000)
    parser.add_argument("--items", type=int, default=27_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--refloor", type=Path, default=None, metavar="RESULTS",
                        help="only (re)compute the floors of an earlier results file, from the saved models in "
                             "--workdir (the same models with the same architecture), and rewrite it")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if args.refloor:
        if not args.workdir:
            parser.error("--refloor needs --workdir, where the results' models were saved")
        result = json.loads(args.refloor.read_text())
        add_floors(result, args.workdir)
        args.refloor.write_text(json.dumps(result, indent=2) + "\n")
        print(tables(result))
        return 0
    models = args.models or yaml.safe_load(args.params.read_text())["train"]["models"]
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        args.data = (args.data or work / "synthetic-20m").resolve()
        source = ensure_data(args)
        write_params(args, work, source, models)
        p = P
        stages = []
        manifest = work / "data" / "raw" / "manifest.json"
        reused = (args.reuse_data and (work / "data" / "features" / "columns.json").exists() and manifest.exists()
                  and Path(json.loads(manifest.read_text()).get("url", "")).resolve() == source)
        if reused:
            print(f"bench: data stages skipped, their outputs in {work / 'data'} reused", flush=True)
        else:
            for stage, stage_args in DATA_STAGES:
                stages.append(run_stage(stage, stage_args, work, work / "logs" / f"{stage}.log"))
                print(f"bench: {stage} {stages[-1]['seconds']:.1f} s, {stages[-1]['peak_rss_mb']:,.0f} MB", flush=True)
        ratings = train_ratings(work)
        results = {}
        for model in models:
            log = work / "logs" / f"train-{model}.log"
            train = {**run_stage("train", [*p, "--model", model], work, log), "model": model}
            evaluate = {**run_stage("evaluate", [*p, "--model", model], work, work / "logs" / f"evaluate-{model}.log"),
                        "model": model}
            stages += [train, evaluate]
            info = json.loads((work / "models" / model / "info.json").read_text())
            metrics = json.loads((work / "metrics" / f"{model}.json").read_text())
            epochs = epochs_from_log(log)
            n_epochs = info["summary"]["epochs"]
            per_epoch = (float(np.mean([e["seconds"] for e in epochs])) if epochs
                         else info["summary"]["train_seconds"] / n_epochs)
            saved = saved_config(work / "models" / model / "model.keras")
            results[model] = {
                "epochs": n_epochs, "seconds_per_epoch": per_epoch, "epoch_log": epochs,
                "steps_per_epoch": epochs[0]["steps"] if epochs else None,
                "ms_per_step": round(1000 * per_epoch / epochs[0]["steps"], 2) if epochs else None,
                "ratings_per_second": ratings / per_epoch, "train_ratings": ratings,
                "train_seconds": info["summary"]["train_seconds"], "optimizer": optimizer_name(saved),
                "val_rmse": metrics["val_rmse"], "test_rmse": metrics["rmse"],
                "hyperparameters": json.loads((work / "models" / model / "model.json").read_text())["config"],
            }
            print(f"bench: {model}: {per_epoch:.0f} s/epoch ({n_epochs} epochs), train stage {train['seconds']:.0f} s "
                  f"{train['peak_rss_mb']:,.0f} MB, evaluate {evaluate['seconds']:.0f} s", flush=True)
    result = {"machine": machine, "loadavg_end": [round(x, 2) for x in os.getloadavg()], "data": str(source),
              "data_stages_reused": bool(reused), "epochs": args.epochs, "stages": stages, "models": results,
              "self_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    # Measured last, in this process: a child's peak RSS starts from its parent's (the stages run while this
    # process is small).
    add_floors(result, work)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("\n" + tables(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
