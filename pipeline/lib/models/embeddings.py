"""Models over (user, movie) pairs: biased matrix factorisation and an embedding + dense network."""

from __future__ import annotations

import numpy as np
from pydantic import Field, NonNegativeFloat, PositiveInt

from .. import columns as C
from . import register
from .base import TrainData
from .config import TrainingConfig
from .keras_base import KerasRecommender

PAIRS_PER_CHUNK = 1 << 18


class _PairModel(KerasRecommender):
    def _fit(self, data: TrainData, callbacks, verbose) -> None:
        t = data.train
        x = [t[C.USER].to_numpy(np.int32), t[C.ITEM].to_numpy(np.int32)]
        self.net = self._network(data.n_users, data.n_items)
        self._run_fit(x, t[C.RATING].to_numpy(np.float32), data, callbacks, verbose)

    def _predict_raw(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        out = np.empty(len(users), dtype=np.float32)
        for start in range(0, len(users), PAIRS_PER_CHUNK):
            end = start + PAIRS_PER_CHUNK
            out[start:end] = self._numpy([users[start:end].astype(np.int32), items[start:end].astype(np.int32)])
        return out

    def _inputs(self):
        import keras

        return keras.Input(shape=(), dtype="int32", name="user"), keras.Input(shape=(), dtype="int32", name="item")


class BiasedMFConfig(TrainingConfig):
    """Biased matrix factorisation's hyperparameters."""

    factors: PositiveInt = 64
    """Size of the user and movie factor vectors."""
    l2: NonNegativeFloat = 0.1
    """Penalty on the factors and biases looked up for each rating (per-rating regularisation, as in SGD MF)."""
    batch_size: PositiveInt = 1024
    learning_rate: float = Field(default=0.003, gt=0)
    patience: PositiveInt = 5


@register
class BiasedMF(_PairModel):
    """r_ui = mu + b_u + b_i + p_u . q_i, biases started from the bias baseline's."""

    name = "mf"
    Config = BiasedMFConfig
    quick = {"factors": 4, "epochs": 3, "batch_size": 64, "learning_rate": 0.01, "patience": 3}

    def _network(self, n_users: int, n_items: int):
        import keras

        from .layers import AddConstant

        hp = self.hyperparameters
        reg = keras.regularizers.L2(hp["l2"]) if hp["l2"] else None
        init = keras.initializers.RandomNormal(stddev=0.05)
        user, item = self._inputs()
        p = keras.layers.Embedding(n_users, hp["factors"], embeddings_initializer=init, activity_regularizer=reg,
                                   name="user_factors")(user)
        q = keras.layers.Embedding(n_items, hp["factors"], embeddings_initializer=init, activity_regularizer=reg,
                                   name="item_factors")(item)
        b_u = keras.layers.Embedding(n_users, 1, embeddings_initializer="zeros", activity_regularizer=reg,
                                     name="user_bias")(user)
        b_i = keras.layers.Embedding(n_items, 1, embeddings_initializer="zeros", activity_regularizer=reg,
                                     name="item_bias")(item)
        dot = keras.layers.Dot(axes=1, name="interaction")([p, q])
        out = keras.layers.Add()([dot, keras.layers.Reshape((1,))(b_u), keras.layers.Reshape((1,))(b_i)])
        out = AddConstant(self.biases.mu, name="global_mean")(keras.layers.Reshape(())(out))
        model = keras.Model([user, item], out, name="mf")
        model.get_layer("user_bias").set_weights([self.biases.user[:, None]])
        model.get_layer("item_bias").set_weights([self.biases.item[:, None]])
        return model


class EmbeddingMLPConfig(TrainingConfig):
    """The embedding + dense network's hyperparameters."""

    embedding_dim: PositiveInt = 32
    """Size of each embedding."""
    layers: list[PositiveInt] = Field(default=[64, 32], min_length=1)
    """Sizes of the ReLU dense layers."""
    dropout: float = Field(default=0.5, ge=0.0, lt=1.0)
    """Dropout after each dense layer."""
    l2: NonNegativeFloat = 0.003
    """Per-rating penalty on the embeddings looked up."""
    batch_size: PositiveInt = 1024
    patience: PositiveInt = 5


@register
class EmbeddingMLP(_PairModel):
    """User and movie embeddings, concatenated, then dense layers with dropout, then the rating."""

    name = "embedding_mlp"
    Config = EmbeddingMLPConfig
    quick = {"embedding_dim": 4, "layers": [8], "epochs": 3, "batch_size": 64, "learning_rate": 0.01, "patience": 3}

    def _network(self, n_users: int, n_items: int):
        import keras

        from .layers import AddConstant

        hp = self.hyperparameters
        reg = keras.regularizers.L2(hp["l2"]) if hp["l2"] else None
        user, item = self._inputs()
        u = keras.layers.Embedding(n_users, hp["embedding_dim"], activity_regularizer=reg, name="user_embedding")(user)
        i = keras.layers.Embedding(n_items, hp["embedding_dim"], activity_regularizer=reg, name="item_embedding")(item)
        h = keras.layers.Concatenate()([u, i])
        for k, units in enumerate(hp["layers"]):
            h = keras.layers.Dense(units, activation="relu", name=f"dense_{k}")(h)
            if hp["dropout"]:
                h = keras.layers.Dropout(hp["dropout"])(h)
        out = keras.layers.Dense(1, name="rating")(h)
        out = AddConstant(self.biases.mu, name="global_mean")(keras.layers.Reshape(())(out))
        return keras.Model([user, item], out, name="embedding_mlp")
