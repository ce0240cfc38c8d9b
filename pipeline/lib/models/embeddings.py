"""Models over (user, movie) pairs: biased matrix factorisation and an embedding + dense network."""

from __future__ import annotations

import keras
import numpy as np

from .. import columns as C
from .base import TrainData
from .baseline import AddConstant
from .keras_base import KerasRecommender

PAIRS_PER_CHUNK = 1 << 18


class _PairModel(KerasRecommender):
    def _fit(self, data: TrainData, callbacks, verbose) -> None:
        t = data.train
        x = [t[C.USER].to_numpy(np.int32), t[C.ITEM].to_numpy(np.int32)]
        self.net = self._network(data.n_users, data.n_items)
        self._run_fit(x, t[C.RATING].to_numpy(np.float32), data, callbacks, verbose, "mse")

    def _predict_raw(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        out = np.empty(len(users), dtype=np.float32)
        for start in range(0, len(users), PAIRS_PER_CHUNK):
            end = start + PAIRS_PER_CHUNK
            out[start:end] = self._numpy([users[start:end].astype(np.int32), items[start:end].astype(np.int32)])
        return out

    def _inputs(self):
        return keras.Input(shape=(), dtype="int32", name="user"), keras.Input(shape=(), dtype="int32", name="item")


class BiasedMF(_PairModel):
    """r_ui = mu + b_u + b_i + p_u . q_i, biases started from the bias baseline's.

    Args:
        factors: size of the user and movie factor vectors.
        l2: penalty on the factors and biases looked up for each rating (per-rating regularisation, as in
            SGD matrix factorisation).
        epochs, batch_size, learning_rate, patience: Adam training with early stopping on val RMSE.
    """

    name = "mf"

    def __init__(self, factors=32, l2=0.0001, epochs=100, batch_size=1024, learning_rate=0.001, patience=5):
        super().__init__(factors=factors, l2=l2, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                         patience=patience)

    def _network(self, n_users: int, n_items: int) -> keras.Model:
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


class EmbeddingMLP(_PairModel):
    """User and movie embeddings, concatenated, then dense layers with dropout, then the rating.

    Args:
        embedding_dim: size of each embedding.
        layers: sizes of the ReLU dense layers.
        dropout: dropout after each dense layer.
        l2: per-rating penalty on the embeddings looked up.
        epochs, batch_size, learning_rate, patience: Adam training with early stopping on val RMSE.
    """

    name = "embedding_mlp"

    def __init__(self, embedding_dim=32, layers=(64, 32), dropout=0.3, l2=0.00001, epochs=100, batch_size=1024,
                 learning_rate=0.001, patience=5):
        super().__init__(embedding_dim=embedding_dim, layers=list(layers), dropout=dropout, l2=l2, epochs=epochs,
                         batch_size=batch_size, learning_rate=learning_rate, patience=patience)

    def _network(self, n_users: int, n_items: int) -> keras.Model:
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
