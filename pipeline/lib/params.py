"""params.yaml as a whole: the sections of sections.py plus ``train``, whose schema is built from the model
registry (each registered model's ``Config`` is the schema of ``train.<model>``), so a new model needs no edit
here. Every key has its default in the code; a test checks that params.yaml agrees with them.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import (Field, NonNegativeInt, PositiveInt, StrictBool, create_model, field_validator,
                      model_validator)

from .sections import SECTIONS, Section, read_yaml, validate


# split.strategy values whose val ratings are hidden ratings of users that test never asks about (the users split
# holds out disjoint val and test users): there train.refit "auto" does not refit.
REFIT_AUTO_SKIPS = ("users",)


def refit_enabled(params: dict) -> bool:
    """train.refit resolved against the split: as given when true or false; "auto" refits unless split.strategy
    is one of REFIT_AUTO_SKIPS."""
    refit = params["train"]["refit"]
    return params["split"]["strategy"] not in REFIT_AUTO_SKIPS if refit == "auto" else refit


def scorer_names(params: dict) -> list[str]:
    """What evaluate, report and recommend can score: every model in train.models, and their blend."""
    from .blend import Blend

    return [*params["train"]["models"], Blend.name]


@functools.cache
def _schema(names: tuple[str, ...]) -> type[Section]:
    """The whole file's schema for the models registered now (tests register throwaway models)."""
    from .models import REGISTRY

    def distinct(cls, models):
        if len(set(models)) != len(models):
            raise ValueError(f"must be distinct, got {models}")
        return models

    TrainParams = create_model(
        "TrainParams", __base__=Section,
        __validators__={"distinct": field_validator("models")(distinct)},
        models=(list[Literal[names]], Field(
            default=[n for n in names if REGISTRY[n].in_default_run], min_length=1,
            description="The models to train and evaluate (one stage pair each). Any registered model may be "
            "listed; the default leaves out the ones too slow for the default run (in_default_run False).")),
        seed=(NonNegativeInt, Field(default=42, description="Seed of initialisation and shuffling.")),
        devices=(Literal["auto"] | PositiveInt, Field(
            default="auto", description="Devices to train each model on, data-parallel: auto (every accelerator "
            "the backend sees; one replica without any) or a number N (the first N accelerators; without "
            "accelerators, the CPU split into N logical devices, which only tries the parallel code out).")),
        refit=(Literal["auto"] | StrictBool, Field(
            default="auto", description="After early stopping on val, train each model again on train + val for "
            "the epochs val chose, and save that one; val predictions (what the blend is fitted on), val RMSE and "
            "the shrink stay the held-out model's. auto: refit unless split.strategy is "
            + " or ".join(REFIT_AUTO_SKIPS) + " (val's ratings there belong to users test never asks about, so "
            "the refit costs training time and barely helps test); true or false: always or never. Models whose "
            "val choices are more than a number of epochs keep the held-out model: "
            + (", ".join(n for n in names if not REGISTRY[n].refits) or "none") + ".")),
        **{name: (REGISTRY[name].Config, REGISTRY[name].Config()) for name in names},
    )

    fields = {**{name: (cls, cls()) for name, cls in SECTIONS.items()}, "train": (TrainParams, TrainParams())}

    class Whole(Section):
        @model_validator(mode="after")
        def _recommend_model(self):
            allowed = scorer_names({"train": {"models": self.train.models}})
            if self.recommend.model not in allowed:
                raise ValueError(f"recommend.model must be one of {', '.join(allowed)}, got {self.recommend.model!r}")
            return self

    return create_model("Params", __base__=Whole, **fields)


def schema() -> type[Section]:
    from .models import REGISTRY

    return _schema(tuple(REGISTRY))


def load_params(path: str | Path = "params.yaml") -> dict:
    """Read and validate the whole params file; a stage then reads its own section (plain dicts)."""
    return validate(schema(), read_yaml(path), path)
