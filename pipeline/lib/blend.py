"""A blend of the trained models: one weight per model and an intercept, fitted on val ratings only.

The fit takes the models' val predictions and the val ratings and nothing else, so test ratings cannot leak
into the weights. Once saved, a blend is a scorer like any model (``models.load_scorer``): it predicts and ranks
by asking the models it weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from .errors import PipelineError, warn
from .io import read_json, write_json
from .metrics import rmse
from .models.base import Scorer


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


class Blend(Scorer):
    """intercept + sum of weight * model prediction, clipped to the rating scale."""

    name = "blend"

    def __init__(self, intercept: float, weights: dict[str, float], scale: tuple[float, float] = (1.0, 5.0),
                 n_items: int = 0, fallback: str | None = None, models: dict | None = None):
        self.intercept, self.weights, self.scale, self.n_items = intercept, weights, tuple(scale), n_items
        self.fallback = fallback  # why the best single model stands in for a fitted blend, if it does
        self.models = models or {}

    @classmethod
    def fit(cls, val_predictions: dict[str, np.ndarray], ratings: np.ndarray, method: str, alpha: float,
            min_val_ratings: int, scale: tuple[float, float], n_items: int) -> "Blend":
        """Weights fitted on val; the best single model instead when val is too small to trust the fit or the fit
        does not beat that model on val (a counted warning says which)."""
        names = list(val_predictions)
        x = np.column_stack([val_predictions[n] for n in names]).astype(np.float64)
        single = {n: rmse(ratings, x[:, i]) for i, n in enumerate(names)}
        best = min(single, key=single.get)
        reason = None
        if len(ratings) < min_val_ratings * len(names):
            reason = (f"{len(ratings)} val ratings for {len(names)} models, fewer than blend.min_val_ratings "
                      f"({min_val_ratings}) per model")
        else:
            intercept, weights = fit_weights(x, ratings, method, alpha)
            blend = cls(intercept, {n: float(w) for n, w in zip(names, weights)}, scale, n_items)
            fitted = rmse(ratings, blend.combine(x))
            if fitted < single[best]:
                return blend
            reason = f"its val RMSE {fitted:.4f} is not below the best single model's ({single[best]:.4f})"
        warn(f"blend: {reason}; using the best single model, {best}, instead (1 fallback)")
        return cls(0.0, {n: float(n == best) for n in names}, scale, n_items, fallback=reason)

    def combine(self, predictions: np.ndarray) -> np.ndarray:
        """The blend of an (n, n_models) prediction matrix whose columns follow ``weights``."""
        w = np.fromiter(self.weights.values(), dtype=np.float64, count=len(self.weights))
        return np.clip(self.intercept + predictions @ w, *self.scale).astype(np.float32)

    def _weighted(self) -> dict[str, float]:
        return {name: w for name, w in self.weights.items() if w != 0}

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        x = np.zeros((len(users), len(self.weights)))  # models with weight 0 are not asked
        for i, (name, weight) in enumerate(self.weights.items()):
            if weight != 0:
                x[:, i] = self.models[name].predict(users, items)
        return self.combine(x)

    def cold_mask(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        # Every model is trained on the same ratings, so they agree on which pairs are cold.
        model = next(iter(self.models.values()), None)
        return np.zeros(len(users), dtype=bool) if model is None else model.cold_mask(users, items)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        """Weighted sum of the models' score matrices; models with weight 0 are not even scored."""
        total = np.zeros((len(users), self.n_items))
        for name, weight in self._weighted().items():
            total += weight * self.models[name].score_users(users).astype(np.float64)
        return np.clip(self.intercept + total, *self.scale)

    def to_json(self) -> dict:
        return {"name": self.name, "intercept": self.intercept, "weights": self.weights, "scale": list(self.scale),
                "n_items": self.n_items, "fallback": self.fallback}

    def save(self, folder: Path) -> None:
        write_json(self.to_json(), Path(folder) / "model.json")

    @classmethod
    def load(cls, folder: Path) -> "Blend":
        """The blend saved in ``folder``, with the models it weights from the sibling folders (models/<name>)."""
        from .models import load_scorer

        folder = Path(folder)
        spec = read_json(folder / "model.json")
        blend = cls(spec["intercept"], spec["weights"], spec["scale"], spec["n_items"], spec.get("fallback"))
        blend.models = {name: load_scorer(folder.parent / name) for name in blend._weighted()}
        return blend
