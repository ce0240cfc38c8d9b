"""What the Keras models share: seeding, device detection, the training loop with val-RMSE early
stopping (best weights restored), a NaN stop, the masked loss, and save/load of model.keras."""

from __future__ import annotations

import math
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from .. import columns as C  # noqa: E402
from ..errors import PipelineError  # noqa: E402
from .base import Recommender, TrainData  # noqa: E402

PACKAGE = "movielens"


def seed_everything(seed: int) -> None:
    """Python, NumPy and backend RNGs, and deterministic TF kernels, so two runs give identical metrics."""
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def device_name() -> str:
    """'cpu', or 'gpu: <name>' when the backend has an accelerator."""
    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            return f"gpu: {gpus[0].name}" if gpus else "cpu"
        if backend == "jax":
            import jax

            dev = jax.devices()[0]
            return "cpu" if dev.platform == "cpu" else f"{dev.platform}: {dev.device_kind}"
        if backend == "torch":
            import torch

            return f"gpu: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "cpu"
    except Exception:  # a broken driver should not stop training on the CPU
        return "cpu"
    return "cpu"


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


class ValidationRMSE(keras.callbacks.Callback):
    """Puts val_rmse (the recommender's real predictions: fallback and clipping included) into the logs."""

    def __init__(self, recommender: Recommender, val):
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


class KerasRecommender(Recommender):
    """A Recommender whose scoring network is one Keras model, trained with early stopping on val RMSE."""

    net: keras.Model

    def _train_model(self) -> keras.Model:
        """The model that is fitted (the scoring net unless training needs extra outputs)."""
        return self.net

    def _run_fit(self, x, y, data: TrainData, callbacks: list, verbose: int, loss) -> None:
        hp = self.hyperparameters
        if data.val.empty:
            raise PipelineError(f"train.{self.name}: the val set is empty; early stopping needs hidden val ratings")
        model = self._train_model()
        model.compile(optimizer=keras.optimizers.Adam(hp["learning_rate"]), loss=loss, jit_compile=False)
        stop = keras.callbacks.EarlyStopping(monitor="val_rmse", mode="min", patience=hp["patience"],
                                             restore_best_weights=True)
        history = model.fit(x, y, batch_size=hp["batch_size"], epochs=hp["epochs"], shuffle=True, verbose=verbose,
                            callbacks=[ValidationRMSE(self, data.val), StopOnNaN(self.name), stop, *callbacks])
        self.history = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        self.best_epoch = int(np.argmin(self.history["val_rmse"])) + 1

    def _save(self, folder: Path) -> None:
        self.net.save(folder / "model.keras")

    def _load(self, folder: Path) -> None:
        self.net = keras.saving.load_model(folder / "model.keras", compile=False)

    def _numpy(self, x) -> np.ndarray:
        return ops.convert_to_numpy(self.net(x, training=False))
