"""GLocal-K (Han et al., CIKM 2021): an item-based autoencoder whose weights are sparsified by a learned local
kernel, pre-trained on the rating matrix, then fine-tuned on the rating matrix convolved with a global kernel.

* Local kernel layer: ``act(x @ (W * K) + b)`` where ``K[i, j] = max(0, 1 - |u_i - v_j|^2)`` for small learned
  embeddings ``u`` (inputs x d) and ``v`` (units x d): a weight whose two ends are far apart is switched off.
  Its penalty ``lambda_s * sum(K^2) / 2 + lambda_2 * sum(W^2) / 2`` is added to the loss.
* The network: ``hidden_layers`` sigmoid kernel layers, then an identity kernel layer back to the number of users.
  A row is one movie's ratings by all users (0 where unrated); the loss is half the squared error over the
  observed ratings.
* Pre-training fits that autoencoder on the rows of the train matrix R (movies x users).
* Fine-tuning: ``m``, the pre-trained reconstruction averaged over users (one value per movie), and a trainable
  ``C`` (movies x k^2) give a k x k global kernel ``G = reshape(m C)``; the input becomes ``ReLU(conv2d(R, G,
  'same'))``, R taken as a one-channel image, and goes through the same (shared-weight) autoencoder with the same
  loss. ``m`` is computed once, from the pre-trained weights (the paper's graph recomputes it from the current
  weights at every step, a full pass over R per step; here a step costs what its rows cost).
* ``residual`` (not in the paper; chosen on val): the networks' targets are the train ratings' residuals from the
  bias baseline, the output layer starts at zero, and a prediction is the baseline plus the output, so the model
  starts as the baseline and stays near it where the data says little; the input is still the raw ratings, and
  ``m`` is taken of baseline plus output (the rating scale the paper's kernel sees).
* Prediction (``average_pretrained``, not in the paper; chosen on val): the mean of the fine-tuned network and a
  frozen copy of the pre-trained autoencoder, which is a different function of the same ratings (on ml-100k u1,
  val RMSE 0.8689 for the pair against 0.8733 for the fine-tuned network alone, settings otherwise equal).
* ``impute_query`` (as autorec's, not in the paper): a pair is predicted from its movie's row with that pair's
  entry set to the baseline's rating instead of 0, through both networks (``_query_reader``: the row's
  first-layer sum plus the changed entries' weights, then a hidden x hidden product per pair).

Memory is O(ratings + rows x users) for a block of rows: the convolution needs, for a movie's row, the k // 2
rows above and below it (its halo), so a batch holds each of its rows with its halo, read from the CSR matrix
(``halo_rows``; rows past either end are zeros, as 'same' padding has it).

The objective is the paper's, divided by the number of train ratings (so that step sizes do not depend on the
dataset's size): ``J = [sum over observed (r - r_hat)^2 / 2 + penalties] / ratings``. ``optimizer: lbfgs``
(the paper's; SciPy's L-BFGS-B over the flattened weights, ``lbfgs_iterations`` iterations per round, each
function value a full pass over the rows in blocks) minimises J itself; ``optimizer: adam`` minimises an unbiased
estimate of it on each batch of rows: ``(rows / batch rows) * batch squared error / 2 / ratings + penalties /
ratings``. Either way each phase stops early on val RMSE (the recommender's real predictions, measured after each
round or epoch) with its best weights restored; if fine-tuning never beats the best pre-trained val RMSE, the
pre-trained network is the model.

Keras is imported inside functions (see layers.py for why); the custom layers are defined, and registered for
loading, on first use.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field, NonNegativeFloat, PositiveInt, field_validator

from ..errors import PipelineError
from . import register
from .autoencoders import large_releases, no_imputing, query_fill, read_filled_pairs, residuals
from .base import TrainData
from .config import ImputeQueryConfig, Presets
from .keras_base import KerasRecommender

PACKAGE = "movielens"
ENTRIES_PER_BLOCK = 1 << 24  # input entries (rows x halo x users) per block of a full pass (64 MB of float32)
LBFGS_MEMORY = 10  # correction pairs L-BFGS-B keeps (maxcor; the paper's)
LBFGS_PARAMETER_LIMIT = 20_000_000  # above this, L-BFGS-B's history (2 x 10 x parameters float64) passes 3 GB


def local_kernel(u, v):
    """``K[i, j] = max(0, 1 - |u_i - v_j|^2)`` for u (n_in, d) and v (n_out, d): 1 where the two embeddings
    coincide, 0 at distance 1 and beyond. Computed as |u|^2 + |v|^2 - 2 u.v, so that memory is n_in x n_out,
    not n_in x n_out x d."""
    from keras import ops

    squared = (ops.sum(ops.square(u), axis=1, keepdims=True) + ops.transpose(ops.sum(ops.square(v), axis=1,
                                                                                     keepdims=True))
               - 2.0 * ops.matmul(u, ops.transpose(v)))
    return ops.maximum(0.0, 1.0 - ops.maximum(squared, 0.0))


def halo_order(size: int) -> list[int]:
    """Where each row offset -h..h (h = size // 2) sits in a halo input, whose blocks are: the row itself, then the
    rows above it (nearest last), then the rows below it (nearest first)."""
    h = size // 2
    return list(range(1, h + 1)) + [0] + list(range(h + 1, 2 * h + 1))


def halo_rows(padded: sp.csr_matrix, rows: np.ndarray, size: int) -> np.ndarray:
    """Rows ``rows`` of the matrix that ``padded`` holds with ``size // 2`` zero rows above and below it, each
    followed by its halo: (len(rows), size x columns) float32, in the block order of ``halo_order``. ``size`` 1:
    the rows alone."""
    h = size // 2
    offsets = [0, *range(-h, 0), *range(1, h + 1)]
    return np.hstack([padded[rows + h + offset].toarray() for offset in offsets]).astype(np.float32, copy=False)


def pad_rows(matrix: sp.csr_matrix, size: int) -> sp.csr_matrix:
    """``matrix`` with ``size // 2`` zero rows above and below (what halo_rows reads)."""
    h = size // 2
    if h == 0:
        return matrix.tocsr()
    zeros = sp.csr_matrix((h, matrix.shape[1]), dtype=matrix.dtype)
    return sp.vstack([zeros, matrix, zeros], format="csr")


@functools.cache
def keras_parts() -> SimpleNamespace:
    """LocalKernelDense, GlobalKernelConv, HalfSquaredError and HaloBatches, defined (and registered for loading)
    on first use, so that importing this module does not import Keras."""
    import keras
    from keras import ops

    from .batches import RowBatches

    @keras.saving.register_keras_serializable(package=PACKAGE)
    class LocalKernelDense(keras.layers.Layer):
        """``activation(x @ (W * K) + b)`` with K = local_kernel(u, v); adds its penalty, times ``penalty_scale``,
        to the model's losses."""

        def __init__(self, units: int, kernel_dim: int = 5, activation=None, lambda_2: float = 0.0,
                     lambda_s: float = 0.0, penalty_scale: float = 1.0, **kwargs):
            super().__init__(**kwargs)
            self.units, self.kernel_dim = int(units), int(kernel_dim)
            self.activation = keras.activations.get(activation)
            self.lambda_2, self.lambda_s, self.penalty_scale = float(lambda_2), float(lambda_s), float(penalty_scale)

        def build(self, input_shape):
            n_in = int(input_shape[-1])
            near_zero = keras.initializers.TruncatedNormal(stddev=1e-3)
            self.kernel = self.add_weight(name="kernel", shape=(n_in, self.units), initializer="glorot_uniform")
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
            self.u = self.add_weight(name="u", shape=(n_in, self.kernel_dim), initializer=near_zero)
            self.v = self.add_weight(name="v", shape=(self.units, self.kernel_dim), initializer=near_zero)

        def call(self, x):
            k = local_kernel(self.u, self.v)
            if self.lambda_2 or self.lambda_s:
                self.add_loss(self.penalty_scale * (self.lambda_s * ops.sum(ops.square(k))
                                                    + self.lambda_2 * ops.sum(ops.square(self.kernel))) / 2.0)
            return self.activation(ops.matmul(x, self.kernel * k) + self.bias)

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], self.units)

        def get_config(self):
            return {**super().get_config(), "units": self.units, "kernel_dim": self.kernel_dim,
                    "activation": keras.activations.serialize(self.activation), "lambda_2": self.lambda_2,
                    "lambda_s": self.lambda_s, "penalty_scale": self.penalty_scale}

    @keras.saving.register_keras_serializable(package=PACKAGE)
    class GlobalKernelConv(keras.layers.Layer):
        """``ReLU(conv2d(R, G, 'same'))`` for a batch of R's rows, each given with its halo (``halo_rows``), where
        ``G = reshape(m @ C, (size, size))``: ``m`` (one value per row of R, set once, not trained) and ``C``
        (rows x size^2, trained)."""

        def __init__(self, n_rows: int, size: int = 3, **kwargs):
            super().__init__(**kwargs)
            self.n_rows, self.size = int(n_rows), int(size)

        def build(self, input_shape):
            self.row_means = self.add_weight(name="row_means", shape=(self.n_rows,), initializer="zeros",
                                             trainable=False)
            self.c = self.add_weight(name="c", shape=(self.n_rows, self.size * self.size),
                                     initializer=keras.initializers.TruncatedNormal(stddev=0.1))

        def kernel(self):
            """G (size x size): G[a, b] weighs the entry a - size // 2 rows and b - size // 2 columns away."""
            return ops.reshape(ops.matmul(ops.expand_dims(self.row_means, 0), self.c), (self.size, self.size))

        def call(self, x):
            n_cols = x.shape[-1] // self.size
            stack = ops.take(ops.reshape(x, (-1, self.size, n_cols)), halo_order(self.size), axis=1)
            image = ops.transpose(stack, (0, 2, 1))  # (rows, columns, row offsets as channels)
            kernel = ops.expand_dims(ops.transpose(self.kernel()), -1)  # (column offset, row offset, 1)
            return ops.relu(ops.squeeze(ops.conv(image, kernel, padding="same"), -1))

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], input_shape[-1] // self.size)

        def get_config(self):
            return {**super().get_config(), "n_rows": self.n_rows, "size": self.size}

    @keras.saving.register_keras_serializable(package=PACKAGE)
    class OwnRow(keras.layers.Layer):
        """A halo input's first block: the row itself, without its halo."""

        def __init__(self, n_cols: int, **kwargs):
            super().__init__(**kwargs)
            self.n_cols = int(n_cols)

        def call(self, x):
            return x[:, :self.n_cols]

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], self.n_cols)

        def get_config(self):
            return {**super().get_config(), "n_cols": self.n_cols}

    @keras.saving.register_keras_serializable(package=PACKAGE)
    class HalfSquaredError(keras.losses.Loss):
        """Half the squared error over observed entries (y_true != 0), summed over the batch's rows and scaled to
        the whole objective per rating: times (rows / batch rows) / ratings = ``rows_per_rating / batch rows``."""

        def __init__(self, rows_per_rating: float = 1.0, name: str = "half_squared_error", **kwargs):
            kwargs.pop("reduction", None)
            super().__init__(name=name, reduction="sum", **kwargs)
            self.rows_per_rating = float(rows_per_rating)

        def call(self, y_true, y_pred):
            mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
            rows = ops.cast(ops.shape(y_true)[0], y_pred.dtype)
            return self.rows_per_rating * ops.sum(mask * ops.square(y_true - y_pred)) / (2.0 * rows)

        def get_config(self):
            return {"rows_per_rating": self.rows_per_rating, "name": self.name}

    class HaloBatches(RowBatches):
        """RowBatches whose inputs are the rows with their halo (``halo_rows``); targets the rows alone (or the
        same rows of ``targets``)."""

        def __init__(self, matrix: sp.csr_matrix, batch_size: int, seed: int, size: int,
                     targets: sp.csr_matrix | None = None):
            super().__init__(matrix, batch_size, seed, targets=targets)
            self.size = int(size)
            self.padded = pad_rows(self.matrix, self.size)

        def __getitem__(self, index: int):
            rows = self.rows(index)
            x = halo_rows(self.padded, rows, self.size)
            return x, (x[:, :self.matrix.shape[1]] if self.targets is None else self.targets[rows].toarray())

    return SimpleNamespace(LocalKernelDense=LocalKernelDense, GlobalKernelConv=GlobalKernelConv, OwnRow=OwnRow,
                           HalfSquaredError=HalfSquaredError, HaloBatches=HaloBatches)


class GLocalKConfig(ImputeQueryConfig):
    """GLocal-K's hyperparameters. Defaults: the paper's ml-100k settings (L-BFGS-B, 30 pre-training rounds of 5
    iterations, 500 x 2 hidden units, d 5, lambda_2 20, lambda_s 0.006, a 3 x 3 global kernel), which no variant
    tried beat on val, except for two that did: at most 120 fine-tuning rounds instead of the paper's 60 (early
    stopping ended them sooner on val, at a better val RMSE), and the pair of networks (``average_pretrained``)."""

    optimizer: Literal["lbfgs", "adam"] = "lbfgs"
    """``lbfgs``: SciPy's L-BFGS-B on the whole objective, in rounds of ``lbfgs_iterations`` iterations (the
    paper's; parameters are limited to 20 million); ``adam``: Adam on batches of ``batch_size`` movies (for data
    too large for lbfgs; its settings are not tuned: ml-100k u1 val RMSE 0.8746 in 47 s, against 0.8689)."""
    hidden_units: PositiveInt = 500
    """Units of each hidden kernel layer."""
    hidden_layers: PositiveInt = 2
    """Hidden (sigmoid) kernel layers before the identity output layer."""
    kernel_dim: PositiveInt = 5
    """Dimension d of the embeddings u, v of each layer's local kernel."""
    lambda_2: NonNegativeFloat = 20.0
    """L2 penalty on the weights W: lambda_2 * sum(W^2) / 2, against half the summed squared error."""
    lambda_s: NonNegativeFloat = 0.006
    """Penalty on the local kernels K: lambda_s * sum(K^2) / 2 (it pushes weights to be switched off)."""
    global_kernel_size: PositiveInt = 3
    """Side k of the global convolution kernel (odd); each movie's row is convolved with the k // 2 rows on either
    side."""
    pretrain_epochs: PositiveInt = 30
    """Most pre-training rounds (lbfgs) or epochs (adam); early stopping on val RMSE may end it sooner."""
    epochs: PositiveInt = 120
    """Most fine-tuning rounds (lbfgs) or epochs (adam); early stopping on val RMSE may end it sooner."""
    residual: bool = Field(default=True, strict=True)
    """True: the networks learn a correction to the bias baseline (train.baseline): their targets are each train
    rating's residual from it, their output layer starts at zero, and a prediction is the baseline plus the output
    (the input stays the raw ratings, and the global kernel's movie means are taken of baseline plus output). False:
    they reconstruct the raw ratings, as in the paper."""
    average_pretrained: bool = Field(default=True, strict=True)
    """Predict the mean of the pre-trained autoencoder (on R, kept as it was after pre-training) and the fine-tuned
    one (on the convolved R); val RMSE during fine-tuning is the pair's. False: the fine-tuned network alone, as in
    the paper."""
    lbfgs_iterations: PositiveInt = 5
    """L-BFGS-B iterations per round (val RMSE is measured after each round)."""
    patience: PositiveInt = 10
    """Rounds (lbfgs) or epochs (adam) without a better val RMSE before a phase stops."""
    learning_rate: float = Field(default=0.001, gt=0)
    """Adam's step size (optimizer adam)."""
    batch_size: PositiveInt = 64
    """Movies per Adam step (optimizer adam); lbfgs reads all movies at each step, in blocks that bound memory."""
    # ml-latest-small (about ten ratings a movie): half the weight decay was below the baseline on val on all four
    # stand-ins, where 20 fell back on one, and better on their mean (docs/models.md#per-dataset-presets).
    # ml-20m and up: an imputed pair costs 7.6 us here (two hidden x hidden products), more than the autoencoders'.
    presets: Presets = Field(default_factory=lambda: {"ml-latest-small": {"lambda_2": 10.0},
                                                      **no_imputing({dataset: {} for dataset in large_releases()})})

    @field_validator("global_kernel_size")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("must be odd (a kernel centred on the entry)")
        return value


@register
class GLocalK(KerasRecommender):
    """GLocal-K (Han et al., 2021): item autoencoder with locally kernelised weights, fine-tuned on a global kernel."""

    name = "glocal_k"
    Config = GLocalKConfig
    quick = {"hidden_units": 16, "kernel_dim": 3, "lambda_2": 1.0, "pretrain_epochs": 2, "epochs": 2,
             "lbfgs_iterations": 3, "patience": 2}
    # About 4 minutes on ml-100k on the 2-core machine (bench/results/glocal_k_*.json), more than the whole
    # default run's budget: trained when listed in train.models (docs/models.md).
    in_default_run = False
    # Val picks more than its rounds: the pre-trained or the fine-tuned net, each phase's best round. A refit
    # would make those choices on val it trains on, nearly double the training, and gained 0.0003 on u1 in a
    # script's estimate (docs/models.md#refit).
    refits = False

    item_based = True  # rows of the train matrix are movies, columns users
    halo_size = 1  # rows per input row (1: the pre-trained net, which reads the rows alone)

    # --- training ----------------------------------------------------------------------------------------
    def _fit(self, data: TrainData, callbacks: list, verbose: int) -> None:
        import keras

        cfg = self.config
        parts = keras_parts()
        self._epoch_offset = 0
        self._require_val(data)
        self.inputs = data.train_matrix.T.tocsr()  # movies x users
        n_rows, n_cols = self.inputs.shape
        ratings = max(self.inputs.nnz, 1)
        layer_sizes = [n_cols] + [cfg.hidden_units] * cfg.hidden_layers + [n_cols]
        n_params = sum(a * b + b + (a + b) * cfg.kernel_dim for a, b in zip(layer_sizes, layer_sizes[1:]))
        if cfg.optimizer == "lbfgs" and n_params > LBFGS_PARAMETER_LIMIT:
            raise PipelineError(f"train.{self.name}: {n_params:,} weights for {n_cols:,} users are too many for "
                                "L-BFGS-B's memory; set train.glocal_k.optimizer: adam (or fewer hidden_units)")
        self._loss_fn = parts.HalfSquaredError(rows_per_rating=n_rows / ratings)
        self._targets = None
        if cfg.residual:
            self._targets = residuals(data.train_matrix, self.biases).T.tocsr()

        autoencoder = self._autoencoder(n_cols, ratings, "glocal_k_autoencoder")
        if cfg.residual:  # a zero correction to start from: the baseline
            out = autoencoder.get_layer("reconstruction")
            out.kernel.assign(np.zeros(out.kernel.shape, np.float32))
            out.bias.assign(np.zeros(out.bias.shape, np.float32))
        seed = int(np.random.randint(2**31 - 1))  # seed_everything seeded NumPy: the batch order follows train.seed

        # Pre-training.
        self.net = self._training = autoencoder
        self.halo_size = 1
        pre = self._phase(data, cfg.pretrain_epochs, seed, callbacks, verbose, last=False)

        # The global kernel from the pre-trained reconstruction, then fine-tuning. With average_pretrained, a copy
        # of the pre-trained autoencoder, frozen, answers beside the fine-tuned one (val RMSE is the pair's).
        size = cfg.global_kernel_size
        conv = parts.GlobalKernelConv(n_rows, size, name="global_kernel")
        halo_input = keras.Input(shape=(size * n_cols,), name="ratings_with_halo")
        finetune = keras.Model(halo_input, autoencoder(conv(halo_input)), name="glocal_k")
        conv.row_means.assign(self._row_means(autoencoder).astype(np.float32))
        pretrained = self._autoencoder(n_cols, ratings, "pretrained_autoencoder")
        pretrained.set_weights(autoencoder.get_weights())
        pretrained.trainable = False
        if cfg.average_pretrained:
            both = [pretrained(parts.OwnRow(n_cols, name="own_row")(halo_input)), finetune(halo_input)]
            self.net = keras.Model(halo_input, keras.layers.Average(name="average")(both), name="glocal_k_pair")
        else:
            self.net = finetune
        self._training, self.halo_size = finetune, size
        fine = self._phase(data, cfg.epochs, seed + 1, callbacks, verbose, last=True)

        history = {key: pre[key] + fine[key] for key in ("loss", "val_rmse")}
        self.history = history
        self.finetuned = min(fine["val_rmse"]) < min(pre["val_rmse"])
        if not self.finetuned:  # fine-tuning never did better on val: the pre-trained net is the model
            self.net, self.halo_size = pretrained, 1
        self.pretrain_rounds = len(pre["val_rmse"])
        self.best_epoch = int(np.argmin(history["val_rmse"])) + 1
        self.phase_best = {"pretrain": int(np.argmin(pre["val_rmse"])) + 1,
                           "finetune": int(np.argmin(fine["val_rmse"])) + 1}

    def _autoencoder(self, n_cols: int, ratings: int, name: str):
        """The kernel layers, from n_cols back to n_cols; penalties per train rating."""
        import keras

        cfg, parts = self.config, keras_parts()
        x = keras.Input(shape=(n_cols,), name="ratings")
        h = x
        for k in range(cfg.hidden_layers):
            h = parts.LocalKernelDense(cfg.hidden_units, cfg.kernel_dim, "sigmoid", cfg.lambda_2, cfg.lambda_s,
                                       1.0 / ratings, name=f"kernel_{k}")(h)
        y = parts.LocalKernelDense(n_cols, cfg.kernel_dim, None, cfg.lambda_2, cfg.lambda_s, 1.0 / ratings,
                                   name="reconstruction")(h)
        return keras.Model(x, y, name=name)

    def _train_model(self):
        return self._training

    def _phase(self, data: TrainData, epochs: int, seed: int, callbacks: list, verbose: int, last: bool) -> dict:
        """Fit the training net (``_train_model``) with early stopping on the val RMSE of self.net's predictions, best
        weights restored; its loss and val_rmse per epoch. ``last``: the user's callbacks see the end of training."""
        if self.config.optimizer == "adam":
            return self._adam_phase(data, epochs, seed, callbacks if last else [_EpochsOnly(callbacks)], verbose)
        return self._lbfgs_phase(data, epochs, callbacks, verbose, last)

    def _batches(self, batch_size: int, seed: int):
        return keras_parts().HaloBatches(self.inputs, batch_size, seed, self.halo_size, self._targets)

    def _loss(self):
        return self._loss_fn

    def _adam_phase(self, data, epochs, seed, callbacks, verbose) -> dict:
        self._run_fit(self._batches(self.config.batch_size, seed), None, data, callbacks, verbose, epochs=epochs)
        return {key: self.history[key] for key in ("loss", "val_rmse")}

    def _lbfgs_phase(self, data, epochs, callbacks, verbose, last) -> dict:
        from keras import ops
        from scipy.optimize import minimize

        from .layers import StopOnNaN, ValidationRMSE

        cfg = self.config
        n_rows, n_cols = self.inputs.shape
        model = self._train_model()
        variables = model.trainable_variables
        shapes = [tuple(v.shape) for v in variables]
        sizes = [int(np.prod(s)) for s in shapes]
        value_and_grad = _value_and_grad(model, self._loss_fn)
        blocks = self._blocks()
        padded = pad_rows(self.inputs, self.halo_size)

        def unflatten(flat):
            return [piece.reshape(shape).astype(np.float32) for piece, shape in
                    zip(np.split(flat, np.cumsum(sizes)[:-1]), shapes)]

        def objective(flat):
            values = unflatten(flat)
            total, grad = 0.0, None
            for rows in blocks:
                x = halo_rows(padded, rows, self.halo_size)
                y = x[:, :n_cols] if self._targets is None else self._targets[rows].toarray()
                loss, grads = value_and_grad(values, x, y, len(rows) / n_rows)
                total += float(loss)
                flat_grad = np.concatenate([np.asarray(g, dtype=np.float64).ravel() for g in grads])
                grad = flat_grad if grad is None else grad + flat_grad
            return total, grad

        validation, nan_stop = ValidationRMSE(self, data.val), StopOnNaN(self.name)
        history = {"loss": [], "val_rmse": []}
        best, best_weights, wait = np.inf, None, 0
        for epoch in range(epochs):
            x0 = np.concatenate([ops.convert_to_numpy(v.value).astype(np.float64).ravel() for v in variables])
            result = minimize(objective, x0, jac=True, method="L-BFGS-B",
                              options={"maxiter": cfg.lbfgs_iterations, "maxcor": LBFGS_MEMORY})
            for variable, value in zip(variables, unflatten(result.x)):
                variable.assign(value)
            logs = {"loss": float(result.fun)}
            nan_stop.on_epoch_begin(epoch)
            nan_stop.on_train_batch_end(0, logs)
            validation.on_epoch_end(epoch, logs)
            for callback in callbacks:
                callback.on_epoch_end(self._epoch_offset + epoch, logs)
            if verbose:
                print(f"{self.name} {'fine-tuning' if self.halo_size > 1 else 'pre-training'} round {epoch + 1}: "
                      f"loss {logs['loss']:.4f}, val_rmse {logs['val_rmse']:.4f}", flush=True)
            history["loss"].append(logs["loss"])
            history["val_rmse"].append(logs["val_rmse"])
            if logs["val_rmse"] < best:
                best, best_weights, wait = logs["val_rmse"], model.get_weights(), 0
            else:
                wait += 1
                if wait >= cfg.patience:
                    break
        model.set_weights(best_weights)
        self._epoch_offset += len(history["val_rmse"])
        if last:
            for callback in callbacks:
                callback.on_train_end()
        return history


    def _blocks(self) -> list[np.ndarray]:
        """Every row once, in blocks of at most ENTRIES_PER_BLOCK input entries."""
        n_rows, n_cols = self.inputs.shape
        per_block = max(1, ENTRIES_PER_BLOCK // (self.halo_size * n_cols))
        return [np.arange(start, min(start + per_block, n_rows)) for start in range(0, n_rows, per_block)]

    def _row_means(self, autoencoder) -> np.ndarray:
        """Each row's reconstruction averaged over the columns (users): the pre-trained net on every row; with
        ``residual``, of the baseline plus the net's correction (on the rating scale, as in the paper)."""
        from keras import ops

        means = np.empty(self.inputs.shape[0], dtype=np.float64)
        for rows in self._blocks():
            recon = ops.convert_to_numpy(autoencoder(self.inputs[rows].toarray(), training=False))
            means[rows] = recon.mean(axis=1)
        if self.config.residual:
            means += self.biases.mu + self.biases.user.mean() + self.biases.item
        return means

    # --- prediction, saving ------------------------------------------------------------------------------
    def _predict_raw(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        unique, inverse = np.unique(items, return_inverse=True)
        padded = pad_rows(self.inputs, self.halo_size)
        per_block = max(1, ENTRIES_PER_BLOCK // (self.halo_size * self.inputs.shape[1]))
        read = self._query_reader() if self.config.impute_query else self._read_rows
        out = np.empty(len(items), dtype=np.float32)
        for start in range(0, len(unique), per_block):
            block = unique[start:start + per_block]
            sel = np.flatnonzero((inverse >= start) & (inverse < start + len(block)))
            out[sel] = read(halo_rows(padded, block, self.halo_size), block, inverse[sel] - start, users[sel])
        return out

    def _read_rows(self, x: np.ndarray, block: np.ndarray, local: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The net's output for rows ``block`` (given with their halo, ``x``) at (block[local[k]], cols[k])."""
        return self._numpy(x)[local, cols]

    def _query_reader(self):
        """A reader like _read_rows whose every asked entry reads its row with that entry set to ``query_fill``
        (``impute_query``, as autorec's). Each network's first layer sums the row as it is, then adds, per asked
        entry, the weights of the input entries the fill changes: the entry itself for the pre-trained net; for the
        fine-tuned one, which reads ReLU(conv(R, G)), the k entries of the row's convolution within k // 2 columns of
        it, each moved by G's centre row times the fill before its ReLU. The layers after it run per entry (a
        hidden x hidden product each), and only the asked column of the output is computed."""
        nets = self._query_nets()
        n_cols = self.inputs.shape[1]
        g = self.global_kernel()
        h = 0 if g is None else len(g) // 2
        offsets = np.arange(-h, h + 1)

        def read(x: np.ndarray, block: np.ndarray, local: np.ndarray, cols: np.ndarray) -> np.ndarray:
            fill = query_fill(self, block[local], cols)
            out = np.zeros(len(local), dtype=np.float64)
            for layers, convolved in nets:
                (w_in, b_in, act_in), *middle, (w_out, b_out, act_out) = layers
                if convolved:
                    s = convolve_rows(x, g)
                    z = np.maximum(s, 0) @ w_in + b_in
                    at = cols[:, None] + offsets
                    inside = (at >= 0) & (at < n_cols)
                    at = np.clip(at, 0, n_cols - 1)
                    before = s[local[:, None], at]
                    after = before + g[h, h - offsets] * fill[:, None]
                    change = np.where(inside, np.maximum(after, 0) - np.maximum(before, 0), 0).astype(np.float32)
                else:
                    z = x[:, :n_cols] @ w_in + b_in
                    at, change = cols[:, None], fill[:, None]
                code = functools.partial(_code, act_in, middle)
                out += act_out(read_filled_pairs(z, w_in, local, at, change, code, w_out, b_out, cols))
            return (out / len(nets)).astype(np.float32)

        return read

    def _query_nets(self) -> list[tuple[list, bool]]:
        """The networks whose mean is the prediction, each as its kernel layers' (W * K, b, activation), NumPy in
        and out, the last layer's W * K transposed (a row per output column), and whether it reads the convolved
        rows: the pre-trained (or still pre-training) net alone, or the fine-tuned one and, with
        ``average_pretrained``, the frozen pre-trained one beside it."""
        from keras import ops

        parts = keras_parts()

        def numpy_layers(net):
            kernel_layers = [layer for layer in net.layers if isinstance(layer, parts.LocalKernelDense)]
            out = []
            for k, layer in enumerate(kernel_layers):
                w = ops.convert_to_numpy(layer.kernel * local_kernel(layer.u, layer.v))
                act = numpy_activation(layer.activation)
                out.append((np.ascontiguousarray(w.T) if k == len(kernel_layers) - 1 else w,
                            ops.convert_to_numpy(layer.bias), act))
            return out

        if self.halo_size == 1:
            return [(numpy_layers(self.net), False)]
        found = {layer.name: layer for layer in _nested_layers(self.net)}
        nets = [(numpy_layers(found["glocal_k_autoencoder"]), True)]
        if "pretrained_autoencoder" in found:
            nets.append((numpy_layers(found["pretrained_autoencoder"]), False))
        return nets

    def global_kernel(self) -> np.ndarray | None:
        """The fine-tuned global kernel G (k x k), or None when the model is the pre-trained net."""
        from keras import ops

        if self.halo_size == 1:
            return None
        for layer in _nested_layers(self.net):  # the fine-tuned net may sit inside the pair with the pre-trained one
            if layer.name == "global_kernel":
                return ops.convert_to_numpy(layer.kernel())
        raise LookupError("no global_kernel layer")

    def _save(self, folder: Path) -> None:
        super()._save(folder)
        sp.save_npz(folder / "inputs.npz", self.inputs)
        (folder / "glocal_k.json").write_text(json.dumps({
            "finetuned": bool(self.halo_size > 1), "pretrain_rounds": getattr(self, "pretrain_rounds", None),
            "best_epochs": getattr(self, "phase_best", None)}, indent=2) + "\n")

    def _load(self, folder: Path) -> None:
        keras_parts()  # registers the custom layers before the file is read
        super()._load(folder)
        self.inputs = sp.load_npz(folder / "inputs.npz").tocsr()
        self.halo_size = int(self.net.input_shape[-1]) // self.inputs.shape[1]


def convolve_rows(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """conv(R, G, 'same') before its ReLU, for rows given with their halo (``halo_rows``, size len(g)): entry
    (i, c) is the sum over a, b of G[a, b] R[i + a - h, c + b - h], h = len(g) // 2, zero outside R."""
    size = len(g)
    h = size // 2
    n_cols = x.shape[1] // size
    stack = x.reshape(len(x), size, n_cols)[:, halo_order(size)]  # row offsets -h..h
    stack = np.pad(stack, ((0, 0), (0, 0), (h, h)))
    out = np.zeros((len(x), n_cols), dtype=np.float32)
    for a in range(size):
        for b in range(size):
            out += g[a, b] * stack[:, a, b:b + n_cols]
    return out


def _code(act_in, middle: list, z: np.ndarray) -> np.ndarray:
    """A kernel net's first-layer sums z through its first activation and its middle layers ((W * K, b, activation)
    each, NumPy): the output layer's input."""
    h = act_in(z)
    for w, b, act in middle:
        h = act(h @ w + b)
    return h


def numpy_activation(activation):
    """A Keras activation as a function of a float32 NumPy array: sigmoid and linear in NumPy, in place (through
    Keras and back, they took about a third of an imputed read's time), any other through Keras."""
    import keras
    from keras import ops

    name = keras.activations.serialize(activation)
    if name == "sigmoid":
        return _sigmoid_in_place
    if name == "linear":
        return lambda a: a
    return lambda a: ops.convert_to_numpy(activation(a))


def _sigmoid_in_place(a: np.ndarray) -> np.ndarray:
    """sigmoid(a) = (1 + tanh(a / 2)) / 2, written over a: NumPy's tanh is vectorised, three times the speed of
    scipy's expit on this machine."""
    a *= 0.5
    np.tanh(a, out=a)
    a += 1.0
    a *= 0.5
    return a


def _nested_layers(net):
    """Every layer of ``net``, and of the models inside it."""
    layers = list(net.layers)
    while layers:
        layer = layers.pop()
        yield layer
        layers.extend(getattr(layer, "layers", []))


def _value_and_grad(net, loss_fn):
    """``f(values, x, y, weight)``: weight * (loss_fn(y, net(x)) + the net's penalties) and its gradient with respect
    to the net's trainable variables, at ``values`` (numpy arrays, one per variable). TensorFlow and JAX."""
    import keras

    backend = keras.backend.backend()
    variables = net.trainable_variables
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(reduce_retracing=True)
        def step(x, y, weight):
            with tf.GradientTape() as tape:
                pred = net(x, training=True)
                terms = [loss_fn(y, pred), *net.losses]
                loss = weight * tf.add_n(terms)
            return terms, tape.gradient(loss, [v.value for v in variables])

        def value_and_grad(values, x, y, weight):
            for variable, value in zip(variables, values):
                variable.assign(value)
            terms, grads = step(tf.constant(x), tf.constant(y), tf.constant(weight, tf.float32))
            # The terms and gradients come out the same on every call, but their sum inside the graph did not
            # (its last bit, in about one call in thirty of fine-tuning), and L-BFGS-B's line search then took
            # another path: two runs drifted apart after ~45 rounds. Summed here, in float64, it cannot.
            return weight * float(np.sum([np.float64(t.numpy()) for t in terms])), [g.numpy() for g in grads]

        return value_and_grad
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        non_trainable = [v.value for v in net.non_trainable_variables]

        def loss_of(values, x, y, weight):
            pred, _, losses = net.stateless_call(values, non_trainable, x, training=True, return_losses=True)
            return weight * (loss_fn(y, pred) + sum(losses, jnp.float32(0.0)))

        step = jax.jit(jax.value_and_grad(loss_of))

        def value_and_grad(values, x, y, weight):
            loss, grads = step([jnp.asarray(v) for v in values], x, y, jnp.float32(weight))
            return float(loss), [np.asarray(g) for g in grads]

        return value_and_grad
    raise PipelineError(f"train.glocal_k.optimizer: lbfgs needs the tensorflow or jax backend, not {backend}; "
                        "set train.glocal_k.optimizer: adam")


def _EpochsOnly(callbacks: list):
    """The callbacks, as one Keras callback that passes on each epoch's end but not the end of training (the
    pre-training phase of the adam optimizer: training goes on with fine-tuning)."""
    import keras

    class EpochsOnly(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)

    return EpochsOnly()
