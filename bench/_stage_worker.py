"""One measurement in a fresh process, so that each has its own peak RSS; used by bench/data_stages.py.

    python bench/_stage_worker.py stage RESULT.json STAGE [stage arguments ...]
    python bench/_stage_worker.py matrix RESULT.json TRAIN.parquet META.json METHOD REPEATS

``stage``: imports pipeline.STAGE (and so pandas, pyarrow, scipy ...) first, then times only its ``main(argv)``
with time.perf_counter; start-up and imports are not in the time. Peak memory is the process's
ru_maxrss (it includes the ~100-200 MB the imports take, which is reported separately as ``rss_after_import_mb``);
a stage's own child processes (pip for the PyPI mirror) are reported as ``children_peak_rss_mb``.

``matrix``: times pipeline.lib.matrices.rating_matrix or tutorial_rating_matrix on a train split, REPEATS times
in this process, and checks the result equals the vectorised one.
"""

from __future__ import annotations

import gc
import importlib
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _mb(kilobytes: int) -> float:
    return kilobytes / 1024  # Linux reports ru_maxrss in KiB


def _rss_now_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def run_stage(stage: str, argv: list[str]) -> dict:
    module = importlib.import_module(f"pipeline.{stage}")
    gc.collect()
    after_import = _rss_now_mb()
    start = time.perf_counter()
    status = module.main(argv)
    seconds = time.perf_counter() - start
    return {
        "stage": stage, "status": status, "seconds": seconds,
        "peak_rss_mb": _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        "children_peak_rss_mb": _mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss),
        "rss_after_import_mb": after_import,
    }


def run_matrix(train_path: str, meta_path: str, method: str, repeats: int) -> dict:
    import pandas as pd

    from pipeline.lib import matrices
    from tutorial_matrix import tutorial_rating_matrix

    train = pd.read_parquet(train_path)
    meta = json.loads(Path(meta_path).read_text())
    shape = (meta["users"], meta["items"])
    build = {"vectorised": matrices.rating_matrix, "tutorial": tutorial_rating_matrix}[method]
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        matrix = build(train, *shape)
        times.append(time.perf_counter() - start)
    reference = matrices.rating_matrix(train, *shape)
    same = matrix.shape == reference.shape and (matrix != reference).nnz == 0
    return {"method": method, "ratings": len(train), "shape": list(shape), "seconds": times,
            "nnz": int(matrix.nnz), "equal_to_vectorised": bool(same)}


def main() -> int:
    mode, result_path, *rest = sys.argv[1:]
    if mode == "stage":
        result = run_stage(rest[0], rest[1:])
    elif mode == "matrix":
        result = run_matrix(rest[0], rest[1], rest[2], int(rest[3]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    Path(result_path).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
