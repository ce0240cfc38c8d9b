"""A blend of the trained models: one weight per model and an intercept, fitted on val ratings only.

The fit takes the models' val predictions and the val ratings and nothing else, so test ratings cannot leak
into the weights; the blend stage reads test only after the weights are fixed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from . import columns as C
from .errors import PipelineError


def aligned_predictions(pairs: pd.DataFrame, frames: dict[str, pd.DataFrame], label: str) -> np.ndarray:
    """(len(pairs), n_models) predictions in ``frames`` order, matched on (user, item)."""
    keys = pairs[[C.USER, C.ITEM]]
    columns = []
    for name, frame in frames.items():
        merged = keys.merge(frame[[C.USER, C.ITEM, C.PREDICTION]], on=[C.USER, C.ITEM], how="left", validate="1:1")
        missing = int(merged[C.PREDICTION].isna().sum())
        if missing:
            raise PipelineError(f"{label}: {name} has no prediction for {missing} pairs; re-run train@{name}")
        columns.append(merged[C.PREDICTION].to_numpy(np.float64))
    return np.column_stack(columns)


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
        w = np.array([self.weights[name] for name in self.weights])
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

    @classmethod
    def load(cls, folder: Path, models_dir: Path) -> "Blend":
        """The blend in ``folder`` (weights.json) with every model it gives weight to, loaded from ``models_dir``."""
        from .models import load

        spec = json.loads((Path(folder) / "weights.json").read_text())
        models = {name: load(name, Path(models_dir) / name) for name, w in spec["weights"].items() if w != 0}
        return cls(spec["intercept"], spec["weights"], models, tuple(spec["scale"]), spec["n_items"])
