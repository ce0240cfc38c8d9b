"""What the Keras models share: seeding, device detection, the training loop with val-RMSE early
stopping (best weights restored), a NaN stop, and save/load of model.keras.

Keras is imported inside the functions (see layers.py for why).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import PipelineError
from .backend import import_keras
from .base import Recommender, TrainData
from .config import TrainingConfig


def seed_everything(seed: int) -> None:
    """Python, NumPy and backend RNGs, and deterministic TF kernels, so two runs give identical metrics."""
    keras = import_keras()  # the first import may happen here (bench scripts): quietly

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def device_name() -> str:
    """'cpu', or 'gpu: <name>' when the backend has an accelerator."""
    keras = import_keras()  # the first import may happen here (bench scripts): quietly

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


class KerasRecommender(Recommender):
    """A Recommender whose scoring network is one Keras model, trained with early stopping on val RMSE."""

    Config = TrainingConfig
    net: "keras.Model"  # noqa: F821

    def _train_model(self):
        """The model that is fitted (the scoring net unless training needs extra outputs)."""
        return self.net

    def _loss(self):
        return "mse"

    def _run_fit(self, x, y, data: TrainData, callbacks: list, verbose: int) -> None:
        import keras

        from .layers import StopOnNaN, ValidationRMSE

        cfg = self.config
        if data.val.empty:
            raise PipelineError(f"train.{self.name}: the val set is empty; early stopping needs hidden val ratings")
        model = self._train_model()
        model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss=self._loss(), jit_compile=False)
        stop = keras.callbacks.EarlyStopping(monitor="val_rmse", mode="min", patience=cfg.patience,
                                             restore_best_weights=True)
        history = model.fit(x, y, batch_size=cfg.batch_size, epochs=cfg.epochs, shuffle=True, verbose=verbose,
                            callbacks=[ValidationRMSE(self, data.val), StopOnNaN(self.name), stop, *callbacks])
        self.history = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        self.best_epoch = int(np.argmin(self.history["val_rmse"])) + 1

    def count_params(self) -> int:
        return int(self.net.count_params())

    def _save(self, folder: Path) -> None:
        self.net.save(folder / "model.keras")

    def _load(self, folder: Path) -> None:
        import keras

        from . import layers  # noqa: F401  (registers the custom layers before the file is read)

        self.net = keras.saving.load_model(folder / "model.keras", compile=False)

    def _numpy(self, x) -> np.ndarray:
        from keras import ops

        return ops.convert_to_numpy(self.net(x, training=False))
