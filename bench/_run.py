"""What the accuracy scripts (accuracy.py, glocal_k.py) share: running the pipeline's own stage modules, the data
stages in a scratch folder with given params, and the load average each result records."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def stage(module: str, *args: str, cwd: Path) -> str:
    """Run ``python -m pipeline.<module> args`` in ``cwd`` with this checkout's code; print and return its summary
    line; exit with its stderr's tail if it fails."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-m", f"pipeline.{module}", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{module} failed:\n{done.stderr[-2000:]}")
    line = done.stdout.strip().splitlines()[-1]
    print(line, flush=True)
    return line


def data_stages(work: Path, params: dict) -> list[str]:
    """Write ``params`` to work/params.yaml and run download, reindex, split, matrices and features there (dvc.yaml's
    commands). Returns the ``--params`` arguments for the stages that follow."""
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    p = ["--params", "params.yaml"]
    stage("download", *p, "--out", "data/raw", cwd=work)
    stage("reindex", *p, "--raw", "data/raw", "--out", "data/prepared", cwd=work)
    stage("split", *p, "--prepared", "data/prepared", "--out", "data/split", cwd=work)
    stage("matrices", "--prepared", "data/prepared", "--split", "data/split", "--out", "data/matrices", cwd=work)
    stage("features", *p, "--prepared", "data/prepared", "--matrices", "data/matrices", "--out", "data/features",
          cwd=work)
    return p


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
