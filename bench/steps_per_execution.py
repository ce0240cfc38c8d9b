"""Milliseconds per training step of the pair models at ml-20m's table sizes, by Keras's steps_per_execution.

    python bench/steps_per_execution.py                     # mf and embedding_mlp; 1, 8, 32, 128 steps per call
    python bench/steps_per_execution.py --ratings 2000000 --repeats 5 --models mf

Builds each model's own network (its class's ``_network`` and ``_optimizer``: RowEmbedding, RowAdam) for 138,000
users x 27,000 movies, fits it on --ratings random (user, movie, rating) triples at the model's default batch size
for one epoch to trace and warm up, then --repeats more epochs, each timed; reports the median ms per step and
checks that the weights after the runs equal those of steps_per_execution 1 bit for bit (same steps, same order).
Writes bench/results/steps_per_execution.json (--out) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from _run import ROOT, loadavg  # bench/ is on the path (the script's folder)

sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

N_USERS, N_ITEMS = 138_000, 27_000


def run(model_name: str, spe: int, ratings: int, repeats: int) -> tuple[list[float], np.ndarray]:
    from pipeline.lib.models import build
    from pipeline.lib.models.biases import Biases
    from pipeline.lib.models.keras_base import seed_everything

    seed_everything(0)
    model = build(model_name)
    model.biases = Biases(3.5, np.zeros(N_USERS, np.float32), np.zeros(N_ITEMS, np.float32))
    model.net = model._network(N_USERS, N_ITEMS)
    rng = np.random.default_rng(0)
    x = [rng.integers(0, N_USERS, ratings).astype(np.int32), rng.integers(0, N_ITEMS, ratings).astype(np.int32)]
    y = rng.uniform(1, 5, ratings).astype(np.float32)
    model.net.compile(optimizer=model._optimizer(), loss="mse", jit_compile="auto", steps_per_execution=spe)
    batch = model.config.batch_size
    model.net.fit(x, y, batch_size=batch, epochs=1, shuffle=True, verbose=0)  # tracing, first allocations
    steps = -(-ratings // batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.net.fit(x, y, batch_size=batch, epochs=1, shuffle=True, verbose=0)
        times.append(1000 * (time.perf_counter() - start) / steps)
    return times, np.concatenate([w.ravel() for w in model.net.get_weights()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=["mf", "embedding_mlp"])
    parser.add_argument("--steps", nargs="*", type=int, default=[1, 8, 32, 128])
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "steps_per_execution.json")
    args = parser.parse_args()
    from pipeline.lib.models.keras_base import STEPS_PER_EXECUTION

    start_load = loadavg()
    rows = []
    for name in args.models:
        reference = None
        for spe in args.steps:
            times, weights = run(name, spe, args.ratings, args.repeats)
            reference = weights if reference is None else reference
            rows.append({"model": name, "steps_per_execution": spe, "ms_per_step": [round(t, 3) for t in times],
                         "median_ms_per_step": round(statistics.median(times), 3),
                         "weights_equal_first": bool(np.array_equal(weights, reference))})
            print(f"{name} spe={spe}: {rows[-1]['median_ms_per_step']} ms/step", flush=True)
    result = {"ratings": args.ratings, "users": N_USERS, "movies": N_ITEMS, "repeats": args.repeats,
              "pipeline_steps_per_execution": STEPS_PER_EXECUTION, "rows": rows,
              "machine": {"nproc": os.cpu_count(), "python": platform.python_version(),
                          "load_average": {"start": start_load, "end": loadavg()}}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("\n| model | steps per execution | median ms per step | weights equal to 1 step per execution |")
    print("|---|---:|---:|---|")
    for r in rows:
        print(f"| {r['model']} | {r['steps_per_execution']} | {r['median_ms_per_step']} | {r['weights_equal_first']} |")


if __name__ == "__main__":
    main()
