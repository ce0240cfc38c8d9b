"""The bias baseline: global mean plus regularised user and movie biases (closed-form sweeps).

Stored as a small Keras model (two bias embeddings and the mean) so it saves and loads like the others.
"""

from __future__ import annotations

import numpy as np
from pydantic import NonNegativeFloat, PositiveInt

from .. import columns as C
from . import register
from .base import TrainData
from .config import ModelConfig
from .keras_base import KerasRecommender


class BaselineConfig(ModelConfig):
    """Regularised biases; every other model also uses these to answer for users and movies absent from train."""

    reg_user: NonNegativeFloat = 15.0
    """L2 penalty on user biases, as a count of pseudo-ratings at zero bias."""
    reg_item: NonNegativeFloat = 10.0
    """L2 penalty on movie biases."""
    sweeps: PositiveInt = 10
    """Alternating closed-form sweeps over movie, then user biases."""


def bias_network(n_users: int, n_items: int, mu: float):
    import keras

    from .layers import AddConstant

    user = keras.Input(shape=(), dtype="int32", name="user")
    item = keras.Input(shape=(), dtype="int32", name="item")
    b_u = keras.layers.Embedding(n_users, 1, embeddings_initializer="zeros", name="user_bias")(user)
    b_i = keras.layers.Embedding(n_items, 1, embeddings_initializer="zeros", name="item_bias")(item)
    out = AddConstant(mu, name="global_mean")(keras.layers.Add()([b_u, b_i]))
    return keras.Model([user, item], keras.layers.Reshape(())(out), name="baseline")


@register
class BiasBaseline(KerasRecommender):
    """r_ui = mu + b_u + b_i."""

    name = "baseline"
    Config = BaselineConfig
    falls_back_to_baseline = False  # it is the fallback

    def fit(self, data: TrainData, callbacks=None, verbose: int = 0):
        data.fallback = self.config.model_dump()  # the baseline is its own fallback
        return super().fit(data, callbacks, verbose)

    def _fit(self, data: TrainData, callbacks, verbose) -> None:
        self.net = bias_network(data.n_users, data.n_items, self.biases.mu)
        self.net.get_layer("user_bias").set_weights([self.biases.user[:, None]])
        self.net.get_layer("item_bias").set_weights([self.biases.item[:, None]])
        val = data.val
        pred = self.predict(val[C.USER].to_numpy(), val[C.ITEM].to_numpy())
        rmse = float(np.sqrt(np.mean((pred - val[C.RATING].to_numpy()) ** 2))) if len(val) else float("nan")
        self.history = {"val_rmse": [rmse]}
        self.best_epoch = 1

    def _predict_raw(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._numpy([users.astype(np.int32), items.astype(np.int32)])
