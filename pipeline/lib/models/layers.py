"""The Keras pieces the models are built from: custom layers, losses and training callbacks.

Imported only when a model is built, trained or loaded, so that code which only needs a model's name or config
(params validation, the data stages) does not pay for importing Keras and its backend.
"""

from __future__ import annotations

import functools
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from .. import columns as C  # noqa: E402
from ..errors import PipelineError  # noqa: E402

PACKAGE = "movielens"


def masked_mse(y_true, y_pred):
    """Squared error averaged over observed entries only (y_true != 0); unrated movies contribute nothing."""
    mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
    sse = ops.sum(mask * ops.square(y_true - y_pred))
    return sse / ops.maximum(ops.sum(mask), 1.0)


def dense_mse(y_true, y_pred):
    """The naive tutorial loss: every entry counts, so the zeros of unrated movies are fitted too."""
    return ops.mean(ops.square(y_true - y_pred))


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedMSE(keras.losses.Loss):
    def __init__(self, masked: bool = True, name: str = "masked_mse", **kwargs):
        kwargs.pop("reduction", None)
        super().__init__(name=name, reduction="sum", **kwargs)
        self.masked = masked

    def call(self, y_true, y_pred):
        return masked_mse(y_true, y_pred) if self.masked else dense_mse(y_true, y_pred)

    def get_config(self):
        return {"masked": self.masked, "name": self.name}


@keras.saving.register_keras_serializable(package=PACKAGE)
class RefeedLoss(keras.losses.Loss):
    """y_pred = [f(x), f(f(x))]: masked error of f(x) against x, plus dense error of f(f(x)) against f(x)."""

    def __init__(self, name="refeed_loss", **kwargs):
        kwargs.pop("reduction", None)
        super().__init__(name=name, reduction="sum", **kwargs)

    def call(self, y_true, y_pred):
        n = ops.shape(y_true)[-1]
        first, second = y_pred[:, :n], y_pred[:, n:]
        return masked_mse(y_true, first) + ops.mean(ops.square(ops.stop_gradient(first) - second))


@keras.saving.register_keras_serializable(package=PACKAGE)
class AddConstant(keras.layers.Layer):
    def __init__(self, value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.value = float(value)

    def call(self, x):
        return x + self.value

    def get_config(self):
        return {**super().get_config(), "value": self.value}


@keras.saving.register_keras_serializable(package=PACKAGE)
class StopGradient(keras.layers.Layer):
    def call(self, x):
        return ops.stop_gradient(x)


# The sparse step's two gathers, with their gradients written out. Autodiff of the same ops keeps each (entries,
# units) product of the forward pass for the backward one, about 730 MB apiece for a batch of 512 movies at
# ml-20m's size; these keep only their inputs. On TensorFlow's CPU, every sum over entries is TensorFlow's
# sparse-dense product, which accumulates entry by entry without an (entries, units) product at all, and the one
# gather left (the forward of gathered_dot) runs over chunks of SPARSE_CHUNK entries: the step then holds no
# (entries, units) tensor (docs/scale.md). Elsewhere they gather and segment-sum (XLA may fuse the two). The
# gradients are dense tables, as the weight decay needs them anyway.
SPARSE_CHUNK = 16384


@functools.cache
def _tensorflow() -> bool:
    """TensorFlow on the CPU: its sparse-dense product is not deterministic on a GPU (it refuses to run there
    while op determinism is on), where the generic path's segment sums are."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.config.list_physical_devices("GPU")


def _entry_product(rows, cols, values, shape: tuple[int, int], dense, transposed: bool = False):
    """M @ dense (M.T @ dense when ``transposed``) for M the ``shape`` matrix of the entries (rows[k], cols[k],
    values[k]); duplicates, such as the padding entries, add up. TensorFlow's sparse-dense product on its CPU, a
    gather and a segment sum elsewhere."""
    if _tensorflow():
        import tensorflow as tf

        index = tf.stack([tf.cast(rows, tf.int64), tf.cast(cols, tf.int64)], axis=1)
        return tf.sparse.sparse_dense_matmul(tf.SparseTensor(index, values, shape), dense, adjoint_a=transposed)
    take, into, size = (rows, cols, shape[1]) if transposed else (cols, rows, shape[0])
    return ops.segment_sum(ops.take(dense, take, axis=0) * ops.expand_dims(values, 1), into, num_segments=size)


def _entry_dot(h, table, rows, cols):
    """h[rows[k]] . table[cols[k]] for each entry k; on TensorFlow's CPU SPARSE_CHUNK entries at a time."""
    if not _tensorflow():
        return ops.sum(ops.take(h, rows, axis=0) * ops.take(table, cols, axis=0), axis=1)
    import tensorflow as tf

    n = tf.shape(rows)[0]
    chunks = (n + SPARSE_CHUNK - 1) // SPARSE_CHUNK

    def body(i, parts):
        start = i * SPARSE_CHUNK
        r, c = rows[start:start + SPARSE_CHUNK], cols[start:start + SPARSE_CHUNK]
        return i + 1, parts.write(i, tf.reduce_sum(tf.gather(h, r) * tf.gather(table, c), axis=1))

    parts = tf.TensorArray(h.dtype, size=chunks, infer_shape=False, element_shape=tf.TensorShape([None]))
    _, parts = tf.while_loop(lambda i, _: i < chunks, body, (tf.constant(0), parts), parallel_iterations=1)
    return parts.concat()


def gathered_sum(table, cols, values, rows, n_rows: int):
    """sum over entries k of row r of values[k] * table[cols[k]]: (n_rows, units)."""
    shape = (int(n_rows), int(table.shape[0]))

    @ops.custom_gradient
    def f(table, cols, values, rows):
        def grad(*args, upstream=None):
            g = args[0] if upstream is None else upstream
            return _entry_product(rows, cols, values, shape, g, transposed=True), None, None, None

        return _entry_product(rows, cols, values, shape, table), grad

    return f(table, cols, values, rows)


def gathered_dot(h, table, rows, cols):
    """h[rows[k]] . table[cols[k]] for each entry k: (entries,)."""
    shape = (int(h.shape[0]), int(table.shape[0]))

    @ops.custom_gradient
    def f(h, table, rows, cols):
        def grad(*args, upstream=None):
            g = args[0] if upstream is None else upstream
            return (_entry_product(rows, cols, g, shape, table),
                    _entry_product(rows, cols, g, shape, h, transposed=True), None, None)

        return _entry_dot(h, table, rows, cols), grad

    return f(h, table, rows, cols)


def chain(net: keras.Model) -> tuple[list, keras.layers.Dense, list, keras.layers.Dense]:
    """An autoencoder's layers as (input dropouts, first Dense, the layers between, reconstruction Dense), for a
    net that is a chain of Dense layers with Dropout before and between them; TypeError otherwise."""
    layers = [layer for layer in net.layers if not isinstance(layer, keras.layers.InputLayer)]
    dense = [k for k, layer in enumerate(layers) if isinstance(layer, keras.layers.Dense)]
    allowed = (keras.layers.Dense, keras.layers.Dropout)
    if len(dense) < 2 or any(not isinstance(layer, allowed) for layer in layers) or dense[-1] != len(layers) - 1:
        raise TypeError(f"{net.name}: not a chain of Dense layers with Dropout between them")
    return layers[:dense[0]], layers[dense[0]], layers[dense[0] + 1:-1], layers[-1]


class RowScorer(keras.Model):
    """An autoencoder's net run on rows given as their observed entries, its reconstruction read only at the
    (row, column) entries asked for: the training step of sparse batches. Same weights, same function as the net;
    the entries it handles are the rows' observed ones, instead of rows x columns (about 200 times fewer at
    ml-20m's density), but by gathers, which cost far more per entry than a matmul (where that pays:
    autoencoders.py).

    The net is a chain: optional Dropout on the input, then Dense layers (Dropout between them allowed), the last
    one the reconstruction. Its input is the row's ratings, then ``n_side`` side features.

    Inputs (``batches.sparse_batch``): ``rows`` (the entry's row, 0 .. n_rows-1), ``cols``, ``values``, and
    ``side`` (n_rows, n_side) when the net has side features. Fitted on them, it reads the observed entries, and
    the masked loss, its gradients and the step equal those of the net on the dense rows (tests/test_batches.py);
    n_rows is then the batch size."""

    def __init__(self, net: keras.Model, n_side: int, n_rows: int, **kwargs):
        super().__init__(**kwargs)
        self.net = net
        self.n_side = int(n_side)
        self.n_rows = int(n_rows)  # rows per training batch (a shape the backend needs to know)
        self.input_dropout, self.first, self.middle, self.last = chain(net)
        self.built = True  # every weight is the net's, already built

    def encode(self, inputs: dict, n_rows: int, training=False):
        """The input of the reconstruction layer for each of the n_rows rows."""
        values, side = inputs["values"], inputs.get("side")
        for layer in self.input_dropout:  # dropping an unobserved zero changes nothing: observed entries suffice
            values = layer(values, training=training)
            side = None if side is None else layer(side, training=training)
        kernel = self.first.kernel
        h = gathered_sum(kernel, inputs["cols"], values, inputs["rows"], n_rows)
        if self.n_side:
            h = h + ops.matmul(side, kernel[-self.n_side:])
        if self.first.use_bias:
            h = h + self.first.bias
        h = self.first.activation(h)
        for layer in self.middle:
            h = layer(h, training=training)
        return h

    def decode(self, h, rows, cols):
        """The reconstruction at (rows[k], cols[k]) alone: one dot product each instead of the whole layer."""
        out = gathered_dot(h, ops.transpose(self.last.kernel), rows, cols)
        if self.last.use_bias:
            out = out + ops.take(self.last.bias, cols)
        return self.last.activation(out)

    def call(self, inputs, training=False):
        return self.decode(self.encode(inputs, self.n_rows, training), inputs["rows"], inputs["cols"])


class ValidationRMSE(keras.callbacks.Callback):
    """Puts val_rmse (the recommender's real predictions: fallback and clipping included) into the logs."""

    def __init__(self, recommender, val):
        super().__init__()
        self.recommender = recommender
        self.users = val[C.USER].to_numpy()
        self.items = val[C.ITEM].to_numpy()
        self.truth = val[C.RATING].to_numpy(np.float64)

    def on_epoch_end(self, epoch, logs=None):
        pred = self.recommender.predict(self.users, self.items)
        rmse = float(np.sqrt(np.mean((pred - self.truth) ** 2)))
        if logs is not None:
            logs["val_rmse"] = rmse


class StopOnNaN(keras.callbacks.Callback):
    def __init__(self, model_name: str):
        super().__init__()
        self.model_name = model_name
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise PipelineError(f"train.{self.model_name}: the loss became {float(loss)} at epoch {self.epoch + 1}, "
                                f"batch {batch + 1}; lower train.{self.model_name}.learning_rate or raise its l2")
