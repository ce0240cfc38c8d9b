"""A throwaway copy of the project as its own git + DVC repository, for end-to-end runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = yaml.safe_load((ROOT / "params.yaml").read_text())["train"]["models"]


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd), "TF_CPP_MIN_LOG_LEVEL": "3", "DVC_NO_ANALYTICS": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "dvc", *args], cwd, check)


def edit_params(repo: Path, edit) -> None:
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    edit(params)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def make_repo(dest: Path, source: Path, edit=None) -> Path:
    """Copy dvc.yaml, params.yaml, pipeline/ and DVC's settings (.dvcignore, plot templates) into ``dest``, point
    data.source at ``source``, commit."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "pipeline", dest / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    edit_params(dest, lambda p: (p["data"].update(source=str(source)), edit and edit(p)))
    run(["git", "init", "-q", "-b", "main"], dest)
    dvc("init", "-q", cwd=dest)  # writes its own .dvcignore: ours replaces it
    shutil.copy(ROOT / ".dvcignore", dest / ".dvcignore")
    shutil.copytree(ROOT / ".dvc" / "plots", dest / ".dvc" / "plots", dirs_exist_ok=True)
    dvc("config", "core.analytics", "false", cwd=dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-q", "-m", "fixture repo"], dest)
    return dest
