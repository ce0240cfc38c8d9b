"""The stages of dvc.yaml as DVC expands them, read with PyYAML alone.

Error messages ("run `dvc repro split` first") and tests need to know which stage makes a path and what each
stage lists, without importing DVC (slow, and not needed to run a stage). This reads dvc.yaml the way DVC does
for what this repository uses: ``matrix:`` and ``foreach:`` expansion (``train@mf``), ``${...}`` from
params.yaml, ``vars:`` and the loop item, and ``wdir:``.
"""

from __future__ import annotations

import itertools
import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DVC_FILE = "dvc.yaml"
DEFAULT_PARAMS = "params.yaml"
JOIN = "@"  # DVC's separator between a looped stage's name and its key
# DVC's own pattern: ${...}, not preceded by a backslash (the escape)
INTERPOLATION = re.compile(r"(?<!\\)\$\{(?P<inner>.*?)\}")


class DagError(Exception):
    """dvc.yaml cannot be read or expanded."""


@dataclass
class Stage:
    name: str
    cmd: str
    deps: list[str] = field(default_factory=list)
    outs: list[str] = field(default_factory=list)  # outs, metrics and plots: every path the stage writes
    params: list = field(default_factory=list)  # as written: "key", or {file: [keys]}


def _lookup(context: dict, expression: str):
    """``a.b[0].c`` in ``context``; a missing key is a DagError naming the expression."""
    value = context
    for part in expression.replace("[", ".").replace("]", "").split("."):
        try:
            value = value[int(part)] if isinstance(value, list) else value[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise DagError(f"${{{expression}}}: not defined") from None
    return value


def _to_str(value) -> str:
    if isinstance(value, bool):  # DVC writes booleans the YAML way
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise DagError(f"cannot put {value!r} inside a string")
    return str(value)


def _interpolate(value, context: dict):
    """``value`` with every ``${...}`` resolved: a string that is exactly one ``${...}`` keeps the value's type
    (a list stays a list), as in DVC. Dict keys are resolved too (``- metrics/${item.model}.json: {cache: false}``)."""
    if isinstance(value, str):
        whole = INTERPOLATION.fullmatch(value)
        if whole:
            return _lookup(context, whole["inner"].strip())
        text = INTERPOLATION.sub(lambda m: _to_str(_lookup(context, m["inner"].strip())), value)
        return text.replace("\\${", "${")
    if isinstance(value, list):
        return [_interpolate(v, context) for v in value]
    if isinstance(value, dict):
        return {_interpolate(k, context): _interpolate(v, context) for k, v in value.items()}
    return value


def _read_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise DagError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None


def _context(root: Path, document: dict) -> dict:
    """params.yaml (when there is one, as DVC loads it by default), then ``vars:`` entries (dicts or YAML files,
    ``file.yaml:key`` for one key) merged over it."""
    context: dict = {}
    if (root / DEFAULT_PARAMS).exists():
        context.update(_read_yaml(root / DEFAULT_PARAMS) or {})
    for entry in document.get("vars") or []:
        if isinstance(entry, dict):
            context.update(entry)
            continue
        name, _, keys = str(entry).partition(":")
        loaded = _read_yaml(root / name) or {}
        context.update({k: loaded[k] for k in keys.split(",")} if keys else loaded)
    return context


def _paths(entries, wdir: str) -> list[str]:
    """Paths of a deps/outs/metrics/plots list: ``- path`` or ``- path: {options}``, relative to the repository."""
    paths = []
    for entry in entries or []:
        for path in (entry if isinstance(entry, dict) else [entry]):
            paths.append(posixpath.normpath(posixpath.join(wdir, str(path))))
    return paths


def _stage(name: str, body: dict, context: dict) -> Stage:
    body = _interpolate(body, context)
    cmd = body.get("cmd", "")
    # DVC runs a list of commands one after another, stopping at the first failure
    cmd = " && ".join(str(c).strip() for c in cmd) if isinstance(cmd, list) else str(cmd).strip()
    wdir = str(body.get("wdir", "."))
    outs = [*_paths(body.get("outs"), wdir), *_paths(body.get("metrics"), wdir), *_paths(body.get("plots"), wdir)]
    return Stage(name, cmd, _paths(body.get("deps"), wdir), outs, list(body.get("params") or []))


def _expand(name: str, body: dict, context: dict) -> list[Stage]:
    """One stage, or one per combination of a ``matrix:`` / per entry of a ``foreach:``, named as DVC names them."""
    if "matrix" in body:
        matrix = {key: _interpolate(values, context) for key, values in body["matrix"].items()}
        rest = {k: v for k, v in body.items() if k != "matrix"}
        stages = []
        for combination in itertools.product(*(list(enumerate(v)) for v in matrix.values())):
            item = {key: value for key, (_, value) in zip(matrix, combination)}
            # a scalar names itself; a list or dict is named by its key and position (model0)
            key = "-".join(f"{k}{i}" if isinstance(v, (dict, list)) else _to_str(v)
                           for k, (i, v) in zip(matrix, combination))
            stages.append(_stage(f"{name}{JOIN}{key}", rest, {**context, "item": item}))
        return stages
    if "foreach" in body:
        iterable = _interpolate(body["foreach"], context)
        if isinstance(iterable, dict):
            pairs = [(_to_str(k), {"key": k, "item": v}) for k, v in iterable.items()]
        elif any(isinstance(v, (dict, list)) for v in iterable):
            pairs = [(str(i), {"key": i, "item": v}) for i, v in enumerate(iterable)]
        else:
            pairs = [(_to_str(v), {"item": v}) for v in iterable]
        return [_stage(f"{name}{JOIN}{key}", body.get("do") or {}, {**context, **extra}) for key, extra in pairs]
    return [_stage(name, body, context)]


class Dag:
    """Every stage of ``root``/dvc.yaml, expanded, in file order."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        path = self.root / DVC_FILE
        try:
            document = _read_yaml(path) or {}
        except FileNotFoundError:
            raise DagError(f"{path}: not found") from None
        context = _context(self.root, document)
        self.stages: dict[str, Stage] = {}
        for name, body in (document.get("stages") or {}).items():
            for stage in _expand(name, body or {}, context):
                self.stages[stage.name] = stage

    def _relative(self, path: str | os.PathLike) -> str | None:
        """``path`` relative to the root, in posix form: as given when relative, else from the root; None
        outside it. Symlinks are resolved only as a fallback (/tmp may be a link), because a DVC output can be
        a link into the cache."""
        if not os.path.isabs(path):
            return posixpath.normpath(Path(path).as_posix())
        for resolve in (os.path.abspath, os.path.realpath):
            relative = os.path.relpath(resolve(path), resolve(self.root))
            if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
                return Path(relative).as_posix()
        return None

    def producer(self, path: str | os.PathLike) -> str | None:
        """The stage whose output is ``path`` or a folder holding it; None when no stage makes it."""
        relative = self._relative(path)
        if relative is None:
            return None
        best, best_len = None, -1
        for stage in self.stages.values():
            for out in stage.outs:
                if (relative == out or relative.startswith(out.rstrip("/") + "/")) and len(out) > best_len:
                    best, best_len = stage.name, len(out)  # the deepest output wins (DVC forbids overlaps anyway)
        return best


def find_root(start: str | os.PathLike | None = None) -> Path | None:
    """The nearest folder holding a dvc.yaml, from ``start`` (default: the working directory) upwards."""
    here = Path(os.path.abspath(start or os.getcwd()))
    for folder in (here, *here.parents):
        if (folder / DVC_FILE).is_file():
            return folder
    return None


def load(root: str | os.PathLike | None = None) -> Dag:
    """The Dag of ``root``, or of the nearest dvc.yaml above the working directory."""
    found = Path(root) if root is not None else find_root()
    if found is None:
        raise DagError(f"no {DVC_FILE} in {os.getcwd()} or above")
    return Dag(found)


def stages(root: str | os.PathLike | None = None) -> list[Stage]:
    return list(load(root).stages.values())


def producer(path: str | os.PathLike, root: str | os.PathLike | None = None) -> str | None:
    """The stage that makes ``path`` (relative to the repository root, or absolute); None when no stage makes it,
    there is no dvc.yaml, or it cannot be read: this only decorates error messages, so it never raises."""
    try:
        return load(root).producer(path)
    except Exception:  # noqa: BLE001 - a dvc.yaml being edited must not hide the error being reported
        return None
