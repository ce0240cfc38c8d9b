"""Model registry: a name maps to its class. Modules are imported on demand, so that code which only
needs the names (params validation, the data stages) does not pay for importing Keras."""

from __future__ import annotations

import importlib

REGISTRY = {
    "baseline": ("pipeline.lib.models.baseline", "BiasBaseline"),
    "autorec": ("pipeline.lib.models.autoencoders", "AutoRec"),
    "deep_autorec": ("pipeline.lib.models.autoencoders", "DeepAutoRec"),
    "hybrid_autorec": ("pipeline.lib.models.autoencoders", "HybridAutoRec"),
    "mf": ("pipeline.lib.models.embeddings", "BiasedMF"),
    "embedding_mlp": ("pipeline.lib.models.embeddings", "EmbeddingMLP"),
}


def check_name(name: str) -> str:
    """Refuse an unknown model name (without importing any model code)."""
    from ..errors import PipelineError

    if name not in REGISTRY:
        raise PipelineError(f"unknown model {name!r}; known models: {', '.join(REGISTRY)}")
    return name


def model_class(name: str):
    module, attr = REGISTRY[check_name(name)]
    return getattr(importlib.import_module(module), attr)


def build(name: str, **hyperparameters):
    return model_class(name)(**hyperparameters)


def load(name: str, folder):
    return model_class(name).load(folder)
