"""Models over (user, movie) pairs: biased matrix factorisation and an embedding + dense network.

A step looks up one user row and one movie row per rating, so it should cost what the batch touches, not the size
of the tables. Three things make it so (they matter from ml-1m up; bench/scale.py measures them at ml-20m's size):

* ``RowAdam`` (the optimizer, through KerasRecommender's ``_optimizer`` hook) is Adam on the dense layers and lazy
  Adam on the embedding tables: only the rows a batch looked up get their moments and values updated. Plain Adam
  decays the moments of every row at every step, which rewrites every table in full at every step.
* ``RowEmbedding`` reads only the rows looked up. Keras's Embedding reads the whole table first (a dense read of
  the variable on TensorFlow), and once a variable has had row updates, TensorFlow makes each such read a copy of
  the whole table: lazy Adam alone still pays for the table.
* mf keeps each user's (movie's) factors and bias in one row, so a step updates two tables instead of four.

At ml-20m's size a step of 1,024 ratings went from about 50 ms to about 5.5 on the loaded 2-core development
machine, and no longer depends on the number of users and movies (tests/test_pair_models.py). On ml-100k, with
plain Adam, both networks give the committed metrics exactly; with RowAdam the default-split test RMSE moved by
under 0.001 (mf 0.92474 both, embedding_mlp 0.94433 -> 0.94342).
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
from pydantic import Field, NonNegativeFloat, PositiveInt

from .. import columns as C
from . import register
from .base import TrainData
from .config import TrainingConfig
from .keras_base import KerasRecommender

PAIRS_PER_CHUNK = 1 << 18
USERS_PER_PASS = 16  # embedding_mlp's whole rows: 16 x 27,000 movies x 64 units, 110 MB, at ml-20m's size
PACKAGE = "movielens"


@functools.cache
def keras_parts() -> SimpleNamespace:
    """RowEmbedding, RowAdam and BiasedDot. Defined (and registered for loading) on first use, so that importing
    this module does not import Keras (see layers.py)."""
    import keras
    from keras import ops

    def row_slices(gradient) -> bool:
        """True for a gradient given as the looked-up rows only (TensorFlow's IndexedSlices); JAX gives a dense
        gradient."""
        if keras.backend.backend() != "tensorflow":
            return False
        import tensorflow as tf

        return isinstance(gradient, tf.IndexedSlices)

    def take_rows(variable, rows):
        """Rows of a variable, without a dense read of the whole variable on TensorFlow."""
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            return tf.gather(variable.value if isinstance(variable, keras.Variable) else variable, rows)
        return ops.take(variable, rows, axis=0)

    @keras.saving.register_keras_serializable(package=PACKAGE)
    class RowEmbedding(keras.layers.Embedding):
        """keras.layers.Embedding that reads only the rows looked up (a gather on the variable itself).

        Same weights, same outputs, same gradient (the looked-up rows) as Keras's Embedding; on other backends,
        and with LoRA or quantisation, it is Keras's Embedding."""

        def call(self, inputs):
            if keras.backend.backend() != "tensorflow" or self.lora_enabled or self.quantization_mode:
                return super().call(inputs)
            if inputs.dtype not in ("int32", "int64"):
                inputs = ops.cast(inputs, "int32")
            return ops.cast(take_rows(self._embeddings, inputs), self.compute_dtype)

    @keras.saving.register_keras_serializable(package=PACKAGE)
    class RowAdam(keras.optimizers.Adam):
        """Adam, except on the variables named in ``row_tables`` (embedding tables), where it is lazy Adam: a step
        updates the first and second moments and the values of the rows the batch looked up, and leaves every
        other row, its moments included, as it was. On a looked-up row the update is Adam's, with the row's
        gradient summed over the ratings of the batch that share it; the bias correction uses the global step.

        On TensorFlow the tables' gradients are row slices, so a step costs the batch, not the table. On a backend
        whose gradients are dense (JAX), the rows whose gradient is not zero are the looked-up ones (a row looked
        up with an exactly zero gradient is the one difference), and the update is done on the whole table."""

        def __init__(self, learning_rate=0.001, row_tables=(), name="row_adam", **kwargs):
            super().__init__(learning_rate=learning_rate, name=name, **kwargs)
            self.row_tables = tuple(row_tables)

        def build(self, var_list):
            if self.built:
                return
            super().build(var_list)
            self._lazy = [variable.path in self.row_tables for variable in var_list]

        def update_step(self, gradient, variable, learning_rate):
            index = self._get_variable_index(variable)
            if not self._lazy[index]:
                return super().update_step(gradient, variable, learning_rate)
            m, v = self._momentums[index], self._velocities[index]
            dtype = variable.dtype
            step = ops.cast(self.iterations + 1, dtype)
            alpha = (ops.cast(learning_rate, dtype) * ops.sqrt(1 - ops.power(ops.cast(self.beta_2, dtype), step))
                     / (1 - ops.power(ops.cast(self.beta_1, dtype), step)))
            if row_slices(gradient):
                import tensorflow as tf

                # One slice per rating: a row looked up twice in the batch has two. Sum them first (Keras's Adam
                # would square them one by one), then update each row once.
                rows, position = ops.unique(gradient.indices, sorted=False, return_inverse=True)
                g = ops.segment_sum(ops.cast(gradient.values, dtype), position, num_segments=ops.shape(rows)[0])
                m_rows, v_rows = take_rows(m, rows), take_rows(v, rows)
                m_rows = m_rows + (g - m_rows) * (1 - self.beta_1)
                v_rows = v_rows + (ops.square(g) - v_rows) * (1 - self.beta_2)
                self.assign(m, tf.IndexedSlices(m_rows, rows))
                self.assign(v, tf.IndexedSlices(v_rows, rows))
                self.assign_sub(variable, tf.IndexedSlices(alpha * m_rows / (ops.sqrt(v_rows) + self.epsilon), rows))
                return
            g = ops.convert_to_tensor(gradient, dtype=dtype)
            m, v = ops.convert_to_tensor(m), ops.convert_to_tensor(v)
            looked_up = ops.any(ops.not_equal(g, 0), axis=-1, keepdims=True)
            m_new = ops.where(looked_up, m + (g - m) * (1 - self.beta_1), m)
            v_new = ops.where(looked_up, v + (ops.square(g) - v) * (1 - self.beta_2), v)
            self.assign(self._momentums[index], m_new)
            self.assign(self._velocities[index], v_new)
            self.assign_sub(variable, ops.where(looked_up, alpha * m_new / (ops.sqrt(v_new) + self.epsilon), 0.0))

        def get_config(self):
            return {**super().get_config(), "row_tables": list(self.row_tables)}

    @keras.saving.register_keras_serializable(package=PACKAGE)
    class BiasedDot(keras.layers.Layer):
        """[p, b_u], [q, b_i] -> p . q + b_u + b_i (the bias is each row's last column). Computed with a mask,
        not slices: on TensorFlow a slice's gradient is a scatter into a zero tensor, costlier than the rest."""

        def call(self, inputs):
            p, q = inputs
            bias = ops.one_hot(ops.shape(p)[-1] - 1, ops.shape(p)[-1], dtype=p.dtype)
            return ops.sum(p * q * (1 - bias) + (p + q) * bias, axis=-1)

        def compute_output_shape(self, input_shapes):
            return tuple(input_shapes[0][:-1])

    return SimpleNamespace(RowEmbedding=RowEmbedding, RowAdam=RowAdam, BiasedDot=BiasedDot)


class _PairModel(KerasRecommender):
    def _fit(self, data: TrainData, callbacks, verbose) -> None:
        t = data.train
        x = [t[C.USER].to_numpy(np.int32), t[C.ITEM].to_numpy(np.int32)]
        self.net = self._network(data.n_users, data.n_items)
        y = t[C.RATING].to_numpy(np.float32)
        if getattr(self.config, "residual", False):
            y = y - self.biases.predict(*x).astype(np.float32)
        self._run_fit(x, y, data, callbacks, verbose)

    def _optimizer(self):
        """RowAdam: Adam on the dense layers, lazy Adam on the embedding tables (module docstring)."""
        import keras

        tables = [w.path for layer in self.net.layers if isinstance(layer, keras.layers.Embedding)
                  for w in layer.trainable_weights]
        return keras_parts().RowAdam(self.config.learning_rate, row_tables=tables)

    def _load(self, folder) -> None:
        keras_parts()  # registers RowEmbedding before the file is read
        super()._load(folder)

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
    """r_ui = mu + b_u + b_i + p_u . q_i, biases started from the bias baseline's.

    Each user's (movie's) factors and bias are one row of one table, [p_u, b_u] ([q_i, b_i]): one lookup and one
    row update per side instead of two. Adam works coordinate by coordinate, so this trains exactly as separate
    factor and bias tables would; only the number of row operations a step runs is halved."""

    name = "mf"
    Config = BiasedMFConfig
    quick = {"factors": 4, "epochs": 3, "batch_size": 64, "learning_rate": 0.01, "patience": 3}

    def _network(self, n_users: int, n_items: int):
        import keras
        from keras import ops

        from .layers import AddConstant

        hp = self.hyperparameters
        k = hp["factors"]
        reg = keras.regularizers.L2(hp["l2"]) if hp["l2"] else None
        init = keras.initializers.RandomNormal(stddev=0.05)
        user, item = self._inputs()
        row = keras_parts().RowEmbedding
        p = row(n_users, k + 1, embeddings_initializer="zeros", activity_regularizer=reg, name="user_factors")(user)
        q = row(n_items, k + 1, embeddings_initializer="zeros", activity_regularizer=reg, name="item_factors")(item)
        out = keras_parts().BiasedDot(name="interaction")([p, q])
        out = AddConstant(self.biases.mu, name="global_mean")(out)
        model = keras.Model([user, item], out, name="mf")
        # Factors drawn as before the bias joined their table (one initializer, users then movies); biases last.
        for name, n, bias in (("user_factors", n_users, self.biases.user), ("item_factors", n_items, self.biases.item)):
            factors = ops.convert_to_numpy(init((n, k)))
            model.get_layer(name).set_weights([np.concatenate([factors, bias[:, None]], axis=1).astype(np.float32)])
        return model

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        """p_u . q_i + b_u + b_i + mu for every movie: one (users x k) by (k x movies) product instead of a lookup
        per pair (at ml-20m's size, ranking's 3.7e8 pairs took 160 s pair by pair)."""
        p = np.asarray(self.net.get_layer("user_factors").get_weights()[0][users], np.float32)
        q = np.asarray(self.net.get_layer("item_factors").get_weights()[0], np.float32)
        mu = np.float32(self.net.get_layer("global_mean").value)
        return p[:, :-1] @ q[:, :-1].T + p[:, -1:] + q[:, -1] + mu


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
    residual: bool = Field(default=True, strict=True)
    """True: the network learns a correction to the bias baseline (train.baseline): its targets are each train
    rating's residual from it, its output layer starts at zero, and a prediction is the baseline plus its output;
    false: it predicts the rating around the global mean alone."""
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
        row = keras_parts().RowEmbedding
        u = row(n_users, hp["embedding_dim"], activity_regularizer=reg, name="user_embedding")(user)
        i = row(n_items, hp["embedding_dim"], activity_regularizer=reg, name="item_embedding")(item)
        h = keras.layers.Concatenate()([u, i])
        for k, units in enumerate(hp["layers"]):
            h = keras.layers.Dense(units, activation="relu", name=f"dense_{k}")(h)
            if hp["dropout"]:
                h = keras.layers.Dropout(hp["dropout"])(h)
        # with residual, a zero correction to start from: the baseline
        out = keras.layers.Dense(1, kernel_initializer="zeros" if hp["residual"] else "glorot_uniform",
                                 name="rating")(h)
        mu = 0.0 if hp["residual"] else self.biases.mu
        out = AddConstant(mu, name="global_mean")(keras.layers.Reshape(())(out))
        return keras.Model([user, item], out, name="embedding_mlp")

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        """The network for every movie, without a lookup per pair: the first dense layer of [u, i] is u W_u + i W_i,
        so each user's and each movie's part is computed once; the rest runs on USERS_PER_PASS users x every movie
        at a time (bounded memory). Dropout is off at prediction, as in the network."""
        net = self.net
        u = net.get_layer("user_embedding").get_weights()[0][users]
        items = net.get_layer("item_embedding").get_weights()[0]
        dense = [net.get_layer(f"dense_{k}").get_weights() for k in range(len(self.config.layers))]
        w_out, b_out = net.get_layer("rating").get_weights()
        w1, b1 = dense[0]
        user_part, item_part = u @ w1[:u.shape[1]], items @ w1[u.shape[1]:] + b1
        out = np.empty((len(users), len(items)), np.float32)
        for start in range(0, len(users), USERS_PER_PASS):
            h = np.maximum(user_part[start:start + USERS_PER_PASS, None, :] + item_part[None], 0)
            for w, b in dense[1:]:
                h = np.maximum(h @ w + b, 0)
            out[start:start + USERS_PER_PASS] = (h @ w_out)[..., 0] + b_out[0]
        out += np.float32(net.get_layer("global_mean").value)
        return out + self.biases.rows(users) if self.config.residual else out
