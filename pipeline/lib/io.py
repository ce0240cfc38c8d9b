"""Atomic writes: every artifact appears whole or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pandas as pd
import scipy.sparse as sp


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


TEMP_SUFFIX = ".tmp"  # .dvcignore ignores .*.tmp, so a temporary never changes a dependency folder's hash


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete the temporaries a killed run left beside ``path`` (``.{name}.<random>.tmp``); return them.

    Only this output's: the random part has no dot, so ``.a.b.<random>.tmp`` (output ``a.b``) is not
    ``a``'s. Nothing else writes ``path`` meanwhile: DVC locks a stage's outputs while it runs.
    """
    pattern = re.compile(re.escape(_temp_prefix(path)) + r"[^.]+" + re.escape(TEMP_SUFFIX))
    stale = [p for p in path.parent.iterdir() if pattern.fullmatch(p.name)]
    for p in stale:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return stale


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; on success rename it over ``path``, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    tmp.chmod(0o666 & ~_umask())  # mkstemp makes 0600; the artifact gets the usual permissions
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``path``; on success it replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), suffix=TEMP_SUFFIX, dir=path.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_parquet(df: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def write_json(obj, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_npz(matrix: sp.spmatrix, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:  # a file object stops numpy appending '.npz' to the temp name
            sp.save_npz(fh, matrix.tocsr())


def require(path: str | os.PathLike, stage: str | None = None) -> Path:
    """``path``, or a one-line error naming the stage that makes it (by default, the one dvc.yaml says)."""
    from .errors import PipelineError, not_found

    path = Path(path)
    if not path.exists():
        raise PipelineError(not_found(path, stage))
    return path


def read_json(path: str | os.PathLike):
    return json.loads(Path(path).read_text())
