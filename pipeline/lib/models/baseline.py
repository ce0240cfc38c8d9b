"""The bias baseline: global mean plus regularised user and movie biases (closed-form sweeps).

No Keras: the biases are what every model saves anyway (``fallback.npz``, for cold pairs), so the baseline is that
and nothing else, and its train and evaluate stages skip the seconds of importing Keras and its backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import NonNegativeFloat, PositiveInt

from .. import columns as C
from . import register
from .base import Recommender, TrainData
from .config import ModelConfig


class BaselineConfig(ModelConfig):
    """Regularised biases; every other model also uses these to answer for users and movies absent from train."""

    reg_user: NonNegativeFloat = 15.0
    """L2 penalty on user biases, as a count of pseudo-ratings at zero bias."""
    reg_item: NonNegativeFloat = 10.0
    """L2 penalty on movie biases."""
    sweeps: PositiveInt = 10
    """Alternating closed-form sweeps over movie, then user biases."""


@register
class BiasBaseline(Recommender):
    """r_ui = mu + b_u + b_i."""

    name = "baseline"
    Config = BaselineConfig
    shrinks_to_baseline = False  # it is what the others shrink towards

    def fit(self, data: TrainData, callbacks=None, verbose: int = 0):
        data.fallback = self.config.model_dump()  # the baseline is its own fallback
        return super().fit(data, callbacks, verbose)

    def _fit(self, data: TrainData, callbacks, verbose) -> None:
        val = data.val
        pred = self.predict(val[C.USER].to_numpy(), val[C.ITEM].to_numpy())
        rmse = float(np.sqrt(np.mean((pred - val[C.RATING].to_numpy()) ** 2))) if len(val) else float("nan")
        self.history = {"val_rmse": [rmse]}
        self.best_epoch = 1

    def _predict_raw(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.biases.predict(users, items)

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        return self.biases.rows(users)

    def count_params(self) -> int:
        return 1 + len(self.biases.user) + len(self.biases.item)

    def _save(self, folder: Path) -> None:
        pass  # the biases are in fallback.npz, which every model writes

    def _load(self, folder: Path) -> None:
        pass
