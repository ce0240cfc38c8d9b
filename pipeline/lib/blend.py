"""A blend of the trained models: one weight per model and an intercept, fitted on val ratings only.

The fit takes the models' val predictions and the val ratings and nothing else, so test ratings cannot leak
into the weights; the blend stage reads test only after the weights are fixed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from .errors import PipelineError


def fit_weights(predictions: np.ndarray, ratings: np.ndarray, method: str = "nnls",
                alpha: float = 1.0) -> tuple[float, np.ndarray]:
    """Intercept and per-model weights minimising squared error on (val) ratings.

    nnls: weights >= 0 (a model can only help or be ignored, which keeps the blend readable);
    ridge: any sign, shrunk towards zero by ``alpha``. The intercept is never penalised: both fit on centred data.
    """
    x = np.asarray(predictions, np.float64)
    y = np.asarray(ratings, np.float64)
    if len(y) == 0:
        raise PipelineError("blend: the val set is empty; the blend is fitted on val ratings")
    x_mean, y_mean = x.mean(axis=0), y.mean()
    xc, yc = x - x_mean, y - y_mean
    if method == "nnls":
        weights, _ = nnls(xc, yc)
    elif method == "ridge":
        weights = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ yc)
    else:
        raise PipelineError(f"blend.method must be nnls or ridge, got {method!r}")
    return float(y_mean - x_mean @ weights), weights


class Blend:
    """intercept + sum of weight * model prediction, clipped to the rating scale; same predict/score_users as a model."""

    def __init__(self, intercept: float, weights: dict[str, float], models: dict | None = None,
                 scale: tuple[float, float] = (1.0, 5.0), n_items: int = 0):
        self.intercept, self.weights, self.models, self.scale = intercept, weights, models or {}, scale
        self.n_items = n_items

    def combine(self, predictions: np.ndarray) -> np.ndarray:
        """The blend of an (n, n_models) prediction matrix whose columns follow ``weights``."""
        w = np.fromiter(self.weights.values(), dtype=np.float64, count=len(self.weights))
        return np.clip(self.intercept + predictions @ w, *self.scale).astype(np.float32)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        """Weighted sum of the models' score matrices; models with weight 0 are not even scored."""
        total = None
        for name, weight in self.weights.items():
            if weight == 0:
                continue
            part = weight * self.models[name].score_users(users).astype(np.float64)
            total = part if total is None else total + part
        if total is None:
            total = np.zeros((len(users), self.n_items))
        return np.clip(self.intercept + total, *self.scale)

    def to_json(self) -> dict:
        return {"intercept": self.intercept, "weights": self.weights, "scale": list(self.scale), "n_items": self.n_items}

    def with_models(self, models_dir: Path) -> "Blend":
        """Load every model the blend gives weight to from ``models_dir`` (needed by score_users only)."""
        from .models import load

        self.models = {name: load(name, Path(models_dir) / name) for name, w in self.weights.items() if w != 0}
        return self

    @classmethod
    def load(cls, folder: Path, models_dir: Path) -> "Blend":
        """The blend in ``folder`` (weights.json), with its models from ``models_dir``."""
        spec = json.loads((Path(folder) / "weights.json").read_text())
        blend = cls(spec["intercept"], spec["weights"], scale=tuple(spec["scale"]), n_items=spec["n_items"])
        return blend.with_models(models_dir)
