"""Autoencoders over rating vectors: AutoRec, a deep autoencoder, and a hybrid fed with side features.

A rating vector is a row of the train matrix (a movie's ratings by all users for item-based AutoRec,
a user's ratings of all movies otherwise). Unrated entries are zeros in the input; the masked loss
ignores them. A prediction for (user, movie) is the matching entry of the reconstructed vector.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field, NonNegativeFloat, PositiveInt

from ..errors import PipelineError, warn
from . import register
from .base import TrainData
from .config import TrainingConfig
from .keras_base import KerasRecommender

Activation = Literal["sigmoid", "elu", "selu", "relu", "tanh"]

ROWS_PER_CHUNK = 2048  # rows reconstructed at once when predicting
DENSE_LIMIT = 200_000_000  # train-matrix entries we are willing to hold densely (800 MB of float32)


def _dense(matrix: sp.csr_matrix, label: str) -> np.ndarray:
    if matrix.shape[0] * matrix.shape[1] > DENSE_LIMIT:
        raise PipelineError(f"train.{label}: a {matrix.shape[0]} x {matrix.shape[1]} rating matrix is too large "
                            "for this autoencoder's dense input; use mf or embedding_mlp for this dataset")
    return matrix.toarray()


class _Autoencoder(KerasRecommender):
    """Shared by the three autoencoders: rows, side inputs, batched reconstruction, saving the inputs."""

    item_based = False
    side: np.ndarray | None = None

    def _rows(self, data: TrainData) -> sp.csr_matrix:
        m = data.train_matrix
        return m.T.tocsr() if self.item_based else m

    def _input(self, rows: np.ndarray) -> np.ndarray:
        x = self.inputs[rows].toarray()
        return x if self.side is None else np.hstack([x, self.side[rows]])

    def _fit(self, data: TrainData, callbacks, verbose) -> None:
        self.inputs = self._rows(data)
        self.side = self._side_features(data)
        target = _dense(self.inputs, self.name)
        x = target if self.side is None else np.hstack([target, self.side]).astype(np.float32)
        self.net = self._network(x.shape[1], target.shape[1])
        self._run_fit(x, target, data, callbacks, verbose)

    def _side_features(self, data: TrainData) -> np.ndarray | None:
        return None

    def _loss(self):
        from .layers import MaskedMSE

        return MaskedMSE(masked=True)

    def _predict_raw(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        rows, cols = (items, users) if self.item_based else (users, items)
        unique, inverse = np.unique(rows, return_inverse=True)
        out = np.empty(len(rows), dtype=np.float32)
        for start in range(0, len(unique), ROWS_PER_CHUNK):
            block = unique[start:start + ROWS_PER_CHUNK]
            recon = self._numpy(self._input(block))
            sel = (inverse >= start) & (inverse < start + len(block))
            out[sel] = recon[inverse[sel] - start, cols[sel]]
        return out

    def _save(self, folder: Path) -> None:
        super()._save(folder)
        sp.save_npz(folder / "inputs.npz", self.inputs)
        if self.side is not None:
            np.save(folder / "side.npy", self.side)

    def _load(self, folder: Path) -> None:
        super()._load(folder)
        self.inputs = sp.load_npz(folder / "inputs.npz").tocsr()
        self.side = np.load(folder / "side.npy") if (folder / "side.npy").exists() else None


class AutoRecConfig(TrainingConfig):
    """AutoRec's hyperparameters."""

    orientation: Literal["item", "user"] = "item"
    """``item`` reconstructs each movie's ratings by all users (I-AutoRec, stronger); ``user`` each user's ratings."""
    hidden_units: PositiveInt = 500
    """Size of the hidden layer."""
    activation: Activation = "sigmoid"
    """Hidden activation (the paper uses sigmoid)."""
    l2: NonNegativeFloat = 0.001
    """Weight decay on both weight matrices."""
    masked_loss: bool = Field(default=True, strict=True)
    """True fits observed ratings only; false is the naive tutorial loss that also fits the zeros of unrated movies."""
    epochs: PositiveInt = 200
    learning_rate: float = Field(default=0.0003, gt=0)
    patience: PositiveInt = 15


@register
class AutoRec(_Autoencoder):
    """AutoRec (Sedhain et al., 2015): one hidden layer, identity output, L2 weight decay."""

    name = "autorec"
    Config = AutoRecConfig
    quick = {"hidden_units": 16, "epochs": 3, "batch_size": 16, "learning_rate": 0.01, "patience": 3}

    @property
    def item_based(self) -> bool:
        return self.config.orientation == "item"

    def _loss(self):
        from .layers import MaskedMSE

        return MaskedMSE(masked=self.config.masked_loss)

    def _network(self, n_in: int, n_out: int):
        import keras

        cfg = self.config
        reg = keras.regularizers.L2(cfg.l2) if cfg.l2 else None
        x = keras.Input(shape=(n_in,), name="ratings")
        h = keras.layers.Dense(cfg.hidden_units, activation=cfg.activation, kernel_regularizer=reg, name="hidden")(x)
        y = keras.layers.Dense(n_out, kernel_regularizer=reg, name="reconstruction")(h)
        return keras.Model(x, y, name="autorec")


class DeepAutoRecConfig(TrainingConfig):
    """The deep autoencoder's hyperparameters."""

    layers: list[PositiveInt] = Field(default=[256, 128], min_length=1)
    """Encoder sizes; the decoder mirrors them (e.g. [512, 512, 1024] gives 512-512-1024-512-512-n_items)."""
    activation: Activation = "selu"
    """selu or elu as in the paper; relu, sigmoid, tanh also allowed."""
    dropout: float = Field(default=0.6, ge=0.0, lt=1.0)
    """Dropout rate on the code (the last encoder layer); the paper uses 0.8."""
    l2: NonNegativeFloat = 0.001
    """Weight decay."""
    dense_refeeding: bool = Field(default=True, strict=True)
    """Also train the reconstruction, re-fed as input, to reproduce itself."""
    epochs: PositiveInt = 200
    learning_rate: float = Field(default=0.0003, gt=0)


@register
class DeepAutoRec(_Autoencoder):
    """Deep user-based autoencoder (Kuchaiev and Ginsburg, 2017) with masked loss."""

    name = "deep_autorec"
    Config = DeepAutoRecConfig
    quick = {"layers": [16, 8], "dropout": 0.2, "epochs": 3, "batch_size": 8, "learning_rate": 0.005, "patience": 3}

    def _network(self, n_in: int, n_out: int):
        import keras

        hp = self.hyperparameters
        reg = keras.regularizers.L2(hp["l2"]) if hp["l2"] else None
        init = "lecun_normal" if hp["activation"] == "selu" else "glorot_uniform"
        x = keras.Input(shape=(n_in,), name="ratings")
        h = x
        for k, units in enumerate(hp["layers"]):
            h = keras.layers.Dense(units, activation=hp["activation"], kernel_initializer=init,
                                   kernel_regularizer=reg, name=f"encoder_{k}")(h)
        if hp["dropout"]:
            h = keras.layers.Dropout(hp["dropout"], name="code_dropout")(h)
        for k, units in enumerate(reversed(hp["layers"][:-1])):
            h = keras.layers.Dense(units, activation=hp["activation"], kernel_initializer=init,
                                   kernel_regularizer=reg, name=f"decoder_{k}")(h)
        y = keras.layers.Dense(n_out, kernel_regularizer=reg, name="reconstruction")(h)
        return keras.Model(x, y, name="deep_autorec")

    def _train_model(self):
        import keras

        from .layers import StopGradient

        if not self.config.dense_refeeding:
            return self.net
        x = keras.Input(shape=self.net.input_shape[1:], name="ratings")
        first = self.net(x)
        second = self.net(StopGradient()(first))
        return keras.Model(x, keras.layers.Concatenate()([first, second]), name="deep_autorec_refeeding")

    def _loss(self):
        from .layers import MaskedMSE, RefeedLoss

        return RefeedLoss() if self.config.dense_refeeding else MaskedMSE(masked=True)


class HybridAutoRecConfig(TrainingConfig):
    """The hybrid autoencoder's hyperparameters."""

    hidden_units: PositiveInt = 500
    """Size of the hidden layer."""
    activation: Activation = "sigmoid"
    """Hidden activation."""
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    """Dropout on the input (ratings and side features)."""
    l2: NonNegativeFloat = 0.001
    """Weight decay on both weight matrices."""
    side_features: list[Literal["affinity", "demographics"]] = ["affinity", "demographics"]
    """Groups to feed: ``affinity`` (per-genre share of the movies the user liked in train) and ``demographics``
    (gender, scaled age, occupation)."""
    missing_side_features: Literal["warn", "error"] = "warn"
    """``error`` stops when a requested group is absent from the dataset (ml-10m and later have no demographics);
    ``warn`` goes on with what there is."""
    epochs: PositiveInt = 200
    learning_rate: float = Field(default=0.0003, gt=0)


@register
class HybridAutoRec(_Autoencoder):
    """User-based autoencoder whose input is the user's ratings plus side features; the loss covers the
    rating part only."""

    name = "hybrid_autorec"
    Config = HybridAutoRecConfig
    quick = {"hidden_units": 16, "epochs": 3, "batch_size": 8, "learning_rate": 0.01, "patience": 3}

    def _side_features(self, data: TrainData) -> np.ndarray | None:
        hp = self.hyperparameters
        missing = [g for g in hp["side_features"] if not data.side_groups.get(g)]
        if missing:
            message = f"train.hybrid_autorec: this dataset has no {' or '.join(missing)} side features"
            if hp["missing_side_features"] == "error":
                raise PipelineError(f"{message}; remove them from train.hybrid_autorec.side_features or set "
                                    "missing_side_features: warn")
            present = [g for g in hp["side_features"] if g not in missing]
            warn(f"{message}; going on with {', '.join(present) if present else 'ratings only'}")
        blocks = []
        for group in hp["side_features"]:
            cols = data.side_groups.get(group) or []
            if not cols:
                continue
            block = data.user_side[:, cols].astype(np.float32)
            if group == "affinity":  # counts to shares, so heavy and light raters are comparable
                block = block / np.maximum(block.sum(axis=1, keepdims=True), 1.0)
            blocks.append(block)
        return np.hstack(blocks).astype(np.float32) if blocks else None

    def _network(self, n_in: int, n_out: int):
        import keras

        hp = self.hyperparameters
        reg = keras.regularizers.L2(hp["l2"]) if hp["l2"] else None
        x = keras.Input(shape=(n_in,), name="ratings_and_side")
        h = keras.layers.Dropout(hp["dropout"])(x) if hp["dropout"] else x
        h = keras.layers.Dense(hp["hidden_units"], activation=hp["activation"], kernel_regularizer=reg,
                               name="hidden")(h)
        y = keras.layers.Dense(n_out, kernel_regularizer=reg, name="reconstruction")(h)
        return keras.Model(x, y, name="hybrid_autorec")
