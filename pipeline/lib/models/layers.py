"""The Keras pieces the models are built from: custom layers, losses and training callbacks.

Imported only when a model is built, trained or loaded, so that code which only needs a model's name or config
(params validation, the data stages) does not pay for importing Keras and its backend.
"""

from __future__ import annotations

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


class RowScorer(keras.Model):
    """An autoencoder's net run on rows given as their observed entries, its reconstruction read only at the
    (row, column) entries asked for. Same weights, same function as the net; the entries it handles are the rows'
    observed ones and the asked ones, instead of rows x columns (about 200 times fewer at ml-20m's density for
    val pairs), but by gathers, which cost far more per entry than a matmul (where that pays: autoencoders.py).

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
        layers = [layer for layer in net.layers if not isinstance(layer, keras.layers.InputLayer)]
        dense = [k for k, layer in enumerate(layers) if isinstance(layer, keras.layers.Dense)]
        allowed = (keras.layers.Dense, keras.layers.Dropout)
        if len(dense) < 2 or any(not isinstance(layer, allowed) for layer in layers) or dense[-1] != len(layers) - 1:
            raise TypeError(f"{net.name}: RowScorer needs a chain of Dense layers with Dropout between them")
        self.input_dropout, self.first = layers[:dense[0]], layers[dense[0]]
        self.middle, self.last = layers[dense[0] + 1:-1], layers[-1]
        self.built = True  # every weight is the net's, already built

    def encode(self, inputs: dict, n_rows: int, training=False):
        """The input of the reconstruction layer for each of the n_rows rows."""
        values, side = inputs["values"], inputs.get("side")
        for layer in self.input_dropout:  # dropping an unobserved zero changes nothing: observed entries suffice
            values = layer(values, training=training)
            side = None if side is None else layer(side, training=training)
        kernel = self.first.kernel
        if self.first.kernel_regularizer is None:
            # On TensorFlow the gradient of a row gather is IndexedSlices, with one slice per entry (a column
            # repeats); Keras's Adam squares such slices one by one (sum of squares, not square of the sum) and
            # takes a different step. A product makes the gradient dense. With weight decay it already is.
            kernel = kernel * 1.0
        h = ops.segment_sum(ops.take(kernel, inputs["cols"], axis=0) * ops.expand_dims(values, 1), inputs["rows"],
                            num_segments=n_rows)
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
        weights = ops.take(ops.transpose(self.last.kernel), cols, axis=0)  # (entries, units)
        out = ops.sum(ops.take(h, rows, axis=0) * weights, axis=1)
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
