"""The model registry. Each model is one module in this package: its class with a typed ``Config`` beside it,
registered with ``@register``. The params schema, the tests and the docs iterate ``REGISTRY``; nothing else lists
model names. Model modules import Keras only when a model is built or loaded, so discovering them is cheap.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

REGISTRY: dict[str, type] = {}

# Modules of this package that hold shared code, not models.
_SHARED = {"backend", "base", "batches", "biases", "config", "distribute", "keras_base", "layers"}


def register(cls):
    """Class decorator: make a Recommender subclass available under its ``name``."""
    if "name" not in vars(cls):  # the base class's placeholder name would register it under the wrong key
        raise TypeError(f"{cls.__name__} needs a class attribute `name`")
    REGISTRY[cls.name] = cls
    return cls


def _discover() -> None:
    for module in sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])):
        if module not in _SHARED:
            importlib.import_module(f"{__name__}.{module}")


def check_name(name: str) -> str:
    """Refuse an unknown model name."""
    from ..errors import PipelineError

    if name not in REGISTRY:
        raise PipelineError(f"unknown model {name!r}; known models: {', '.join(REGISTRY)}")
    return name


def model_class(name: str):
    return REGISTRY[check_name(name)]


def build(name: str, **hyperparameters):
    return model_class(name)(**hyperparameters)


def load(name: str, folder):
    return model_class(name).load(folder)


def load_scorer(folder):
    """Whatever was saved in ``folder`` (a trained model or a blend of models), ready to predict and rank.

    ``model.json`` names what it is; a missing folder is one line naming the stage that makes it.
    """
    from ..errors import PipelineError
    from ..io import read_json, require

    folder = Path(folder)
    spec = read_json(require(folder / "model.json"))
    from ..blend import Blend

    if spec["name"] == Blend.name:
        return Blend.load(folder)
    if spec["name"] not in REGISTRY:
        raise PipelineError(f"{folder / 'model.json'}: unknown model {spec['name']!r}; known: {', '.join(REGISTRY)}")
    from .keras_base import KerasRecommender

    if issubclass(REGISTRY[spec["name"]], KerasRecommender):
        from .backend import import_keras

        import_keras()  # quietly, before the model's own import (backend.py)
    return REGISTRY[spec["name"]].load(folder)


_discover()
