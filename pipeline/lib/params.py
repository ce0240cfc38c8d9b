"""params.yaml, validated at load time against a small schema per section.

Unknown keys are rejected (a typo must not silently fall back to a default), and every error
names the key path and what is allowed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import PipelineError


class Spec:
    def check(self, value: Any, path: str) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def fail(self, path: str, value: Any) -> PipelineError:
        return PipelineError(f"params.yaml: {path} must be {self.describe()}, got {value!r}")

    def describe(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError


class Int(Spec):
    def __init__(self, lo: int | None = None, hi: int | None = None):
        self.lo, self.hi = lo, hi

    def describe(self) -> str:
        bounds = [f">= {self.lo}" if self.lo is not None else "", f"<= {self.hi}" if self.hi is not None else ""]
        return "an integer " + " and ".join(b for b in bounds if b) if any(bounds) else "an integer"

    def check(self, value, path):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, value)
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise self.fail(path, value)
        return value


class Float(Spec):
    def __init__(self, lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False):
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open

    def describe(self) -> str:
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {self.lo}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '<='} {self.hi}")
        return "a number " + " and ".join(parts) if parts else "a number"

    def check(self, value, path):
        if isinstance(value, str):
            # PyYAML reads '1e-3' (no dot) as a string; people write it anyway.
            try:
                value = float(value)
            except ValueError:
                raise self.fail(path, value) from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(path, value)
        value = float(value)
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            raise self.fail(path, value)
        if self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi)):
            raise self.fail(path, value)
        return value


class Bool(Spec):
    def describe(self) -> str:
        return "true or false"

    def check(self, value, path):
        if not isinstance(value, bool):
            raise self.fail(path, value)
        return value


class Choice(Spec):
    def __init__(self, *choices: str):
        self.choices = choices

    def describe(self) -> str:
        return "one of " + ", ".join(map(str, self.choices))

    def check(self, value, path):
        if value not in self.choices:
            raise self.fail(path, value)
        return value


class ChoiceOrPath(Choice):
    def describe(self) -> str:
        return super().describe() + ", or a path to a local archive or folder"

    def check(self, value, path):
        if not isinstance(value, str) or not value:
            raise self.fail(path, value)
        return value


class ListOf(Spec):
    def __init__(self, item: Spec, min_len: int = 1, unique: bool = True):
        self.item, self.min_len, self.unique = item, min_len, unique

    def describe(self) -> str:
        return f"a list of at least {self.min_len} {'distinct ' if self.unique else ''}values, each {self.item.describe()}"

    def check(self, value, path):
        if not isinstance(value, list) or len(value) < self.min_len:
            raise self.fail(path, value)
        out = [self.item.check(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if self.unique and len(set(map(repr, out))) != len(out):
            raise self.fail(path, value)
        return out


class Section(Spec):
    def __init__(self, fields: Mapping[str, Spec]):
        self.fields = dict(fields)

    def describe(self) -> str:
        return "a mapping with keys " + ", ".join(self.fields)

    def check(self, value, path):
        if not isinstance(value, Mapping):
            raise self.fail(path, value)
        prefix = f"{path}." if path else ""
        unknown = [k for k in value if k not in self.fields]
        if unknown:
            raise PipelineError(
                f"params.yaml: unknown key {prefix}{unknown[0]}; allowed keys: {', '.join(self.fields)}"
            )
        missing = [k for k in self.fields if k not in value]
        if missing:
            raise PipelineError(f"params.yaml: missing key {prefix}{missing[0]} ({self.fields[missing[0]].describe()})")
        return {k: spec.check(value[k], f"{prefix}{k}") for k, spec in self.fields.items()}


DATASETS = ("ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m", "ml-32m", "ml-latest-small", "ml-latest")
MODELS = ("baseline", "autorec", "deep_autorec", "hybrid_autorec", "mf", "embedding_mlp")

_fraction = Float(0.0, 1.0, lo_open=True, hi_open=True)
_fraction0 = Float(0.0, 1.0, hi_open=True)
_positive = Float(0.0, lo_open=True)
_nonneg = Float(0.0)

# Settings every trained model shares: how long it trains and when it stops.
_TRAINING = {
    "epochs": Int(1),
    "batch_size": Int(1),
    "learning_rate": _positive,
    "patience": Int(1),
}

MODEL_SCHEMAS: dict[str, Section] = {
    "baseline": Section({"reg_user": _nonneg, "reg_item": _nonneg, "sweeps": Int(1)}),
    "autorec": Section(
        {
            "orientation": Choice("item", "user"),
            "hidden_units": Int(1),
            "activation": Choice("sigmoid", "elu", "selu", "relu", "tanh"),
            "l2": _nonneg,
            "masked_loss": Bool(),
            **_TRAINING,
        }
    ),
    "deep_autorec": Section(
        {
            "layers": ListOf(Int(1), unique=False),
            "activation": Choice("selu", "elu", "relu", "sigmoid", "tanh"),
            "dropout": _fraction0,
            "l2": _nonneg,
            "dense_refeeding": Bool(),
            **_TRAINING,
        }
    ),
    "hybrid_autorec": Section(
        {
            "hidden_units": Int(1),
            "activation": Choice("sigmoid", "elu", "selu", "relu", "tanh"),
            "dropout": _fraction0,
            "l2": _nonneg,
            "side_features": ListOf(Choice("affinity", "demographics"), min_len=0),
            "missing_side_features": Choice("error", "warn"),
            **_TRAINING,
        }
    ),
    "mf": Section({"factors": Int(1), "l2": _nonneg, **_TRAINING}),
    "embedding_mlp": Section(
        {
            "embedding_dim": Int(1),
            "layers": ListOf(Int(1), unique=False),
            "dropout": _fraction0,
            "l2": _nonneg,
            **_TRAINING,
        }
    ),
}

SCHEMA = Section(
    {
        "data": Section(
            {"dataset": Choice(*DATASETS), "source": ChoiceOrPath("auto", "grouplens", "pypi-mirror")}
        ),
        "reindex": Section({"unknown_ids": Choice("drop", "error")}),
        "split": Section(
            {
                "strategy": Choice("users", "random", "temporal"),
                "seed": Int(0),
                "min_ratings": Int(1),
                "users": Section(
                    {
                        "val_users": _fraction,
                        "test_users": _fraction,
                        "holdout_fraction": _fraction,
                        "holdout_order": Choice("random", "latest"),
                    }
                ),
                "random": Section({"test_fraction": _fraction, "val_fraction": _fraction}),
                "temporal": Section({"test_fraction": _fraction, "val_fraction": _fraction}),
            }
        ),
        "features": Section({"affinity_threshold": _positive}),
        "train": Section(
            {"models": ListOf(Choice(*MODELS)), "seed": Int(0), **MODEL_SCHEMAS}
        ),
        "evaluate": Section({"k": Int(1), "relevance_threshold": _positive}),
        "blend": Section({"method": Choice("nnls", "ridge"), "alpha": _nonneg}),
        "report": Section({"activity_edges": ListOf(Int(1))}),
        "recommend": Section({"model": Choice(*MODELS, "blend"), "k": Int(1)}),
    }
)


def load_params(path: str | Path = "params.yaml") -> dict:
    """Read and validate the whole params file; a stage then reads its own section."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found (run from the repository root)") from None
    except yaml.YAMLError as exc:
        raise PipelineError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    params = SCHEMA.check(raw if raw is not None else {}, "")
    split = params["split"]
    if split["strategy"] == "users" and split["users"]["val_users"] + split["users"]["test_users"] >= 1:
        raise PipelineError("params.yaml: split.users.val_users + split.users.test_users must be < 1")
    edges = params["report"]["activity_edges"]
    if edges != sorted(edges):
        raise PipelineError(f"params.yaml: report.activity_edges must be increasing, got {edges}")
    model = params["recommend"]["model"]
    if model != "blend" and model not in params["train"]["models"]:
        raise PipelineError(f"params.yaml: recommend.model must be one of train.models ({', '.join(params['train']['models'])})"
                            f" or blend, got {model!r}")
    for key in ("random", "temporal"):
        if split[key]["test_fraction"] + split[key]["val_fraction"] >= 1:
            raise PipelineError(f"params.yaml: split.{key}.test_fraction + split.{key}.val_fraction must be < 1")
    return params
