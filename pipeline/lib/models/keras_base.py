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


# Training steps per call into the compiled function. One call per step costs a Python round trip, a callback
# pass and a read of the loss, which took more than half of a small step (mf at ml-20m's size: 6.9 -> 3.1 ms per
# 1,024 ratings with 64; bench/steps_per_execution.py). The steps and their order are the same, so the weights are
# bit-identical; callbacks that look at batches see every 32nd.
STEPS_PER_EXECUTION = 32


class KerasRecommender(Recommender):
    """A Recommender whose scoring network is one Keras model, trained with early stopping on val RMSE."""

    Config = TrainingConfig
    net: "keras.Model"  # noqa: F821

    def _train_model(self):
        """The model that is fitted (the scoring net unless training needs extra outputs)."""
        return self.net

    def _loss(self):
        return "mse"

    def _require_val(self, data: TrainData) -> None:
        """Early stopping (here, or a model's own training loop) needs hidden val ratings."""
        if data.val.empty:
            raise PipelineError(f"train.{self.name}: the val set is empty; early stopping needs hidden val ratings")

    def _optimizer(self):
        """The optimizer a fit starts with (built after the network, so it may look at the network's layers)."""
        import keras

        return keras.optimizers.Adam(self.config.learning_rate)

    def _run_fit(self, x, y, data: TrainData, callbacks: list, verbose: int, epochs: int | None = None) -> None:
        """Fit on arrays (x, y), or on a keras.utils.PyDataset x (y None) that yields (inputs, targets) batches, for
        at most ``epochs`` (default: the config's; a model trained in phases gives each phase its own)."""
        import keras

        from .distribute import even_split_replicas, full_batches, steps_per_call
        from .layers import StopOnNaN, ValidationRMSE

        cfg = self.config
        self._require_val(data)
        model = self._train_model()
        # "auto": XLA-compiled steps on JAX (eager otherwise: 8 times slower on ml-100k). On TensorFlow, a
        # tf.function without XLA: Keras turns XLA off while op determinism (seed_everything) is on.
        model.compile(optimizer=self._optimizer(), loss=self._loss(), jit_compile="auto",
                      steps_per_execution=steps_per_call(STEPS_PER_EXECUTION))
        # A refit trains on val: its val RMSE cannot pick an epoch, so it keeps the last of the epochs val chose.
        stop = keras.callbacks.EarlyStopping(monitor="val_rmse", mode="min", patience=cfg.patience,
                                             restore_best_weights=self.held_out is None)
        # A PyDataset (x alone) makes its own batches in its own seeded order; Keras must not shuffle them again.
        batched = isinstance(x, keras.utils.PyDataset)
        weights = None
        replicas = even_split_replicas()
        if replicas > 1:
            if cfg.batch_size % replicas:
                raise PipelineError(f"train.{self.name}.batch_size: {cfg.batch_size} does not split evenly over "
                                    f"train.devices ({replicas}); allowed: multiples of {replicas}")
            if batched:
                x.full_batches = True
            else:
                x, y, weights = full_batches(x, y, cfg.batch_size)
        history = model.fit(x, y, sample_weight=weights, batch_size=None if batched else cfg.batch_size,
                            epochs=epochs or cfg.epochs, shuffle=not batched, verbose=verbose,
                            callbacks=[ValidationRMSE(self, data.val), StopOnNaN(self.name), stop, *callbacks])
        self.history = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        self.best_epoch = int(np.argmin(self.history["val_rmse"])) + 1

    def _predict_warm(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """For a model whose config has ``residual`` (the autoencoders, glocal_k, embedding_mlp) set, the network's
        output (_predict_raw) is a correction added to the bias baseline."""
        out = self._predict_raw(users, items)
        return out + self.biases.predict(users, items) if getattr(self.config, "residual", False) else out

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
