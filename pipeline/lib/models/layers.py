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
