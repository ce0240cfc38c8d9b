"""Autoencoders over rating vectors: AutoRec, a deep autoencoder, and a hybrid fed with side features.

A rating vector is a row of the train matrix (a movie's ratings by all users for item-based AutoRec,
a user's ratings of all movies otherwise). Unrated entries are zeros in the input; the masked loss
ignores them. A prediction for (user, movie) is the matching entry of the reconstructed vector.

With ``residual`` (the default), the net learns a correction to the bias baseline: its targets are each train
rating's residual r_ui - (mu + b_u + b_i) (unrated entries stay 0, masked out), its reconstruction layer starts at
zero, and a prediction is the baseline plus the reconstruction. A movie or user with few ratings, whose output
weights few steps reach, so falls back towards the baseline instead of towards noise. The input stays the raw
ratings (see _Autoencoder.residual_input).
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
from .config import ImputeQueryConfig, Presets, TrainingConfig
from .keras_base import KerasRecommender

Activation = Literal["sigmoid", "elu", "selu", "relu", "tanh"]

# Prediction, in blocks of rows that bound memory. Two ways to read the reconstruction at the asked pairs:
# - dense: the net on whole rows, then the asked entries picked (one matmul per layer: fast per entry);
# - sparse (_sparse_reader): the rows' observed entries in, the asked entries out, nothing else computed; it
#   handles far fewer entries, but by a sparse product and gathers, slower per entry than the matmuls.
#   So it is used when the dense way would compute over SPARSE_READ_GAIN times more entries: at ml-20m's density
#   for val pairs, not at ml-100k's, nor for whole score rows.
SPARSE_READ_GAIN = 100
DENSE_ENTRIES_PER_BLOCK = 1 << 25  # dense: rows x columns reconstructed at once (128 MB of float32)
ROWS_PER_BLOCK = 2048  # sparse: rows encoded at once (a rows x units hidden layer)
PAIRS_PER_CHUNK = 1 << 16  # sparse: pairs read at once (a pairs x units gather)
QUERY_PAIRS_PER_CHUNK = 1 << 14  # impute_query: pairs read at once (a few pairs x units arrays, 32 MB each at 500)
# The masked loss takes y_true != 0 as "observed", and a dense row has no other way to tell: an observed residual
# of exactly 0 (a rating equal to its baseline prediction, in float32) would read as unrated. It is stored as this
# instead, a millionth of a star: the loss and the input change by nothing that matters.
OBSERVED_ZERO = np.float32(1e-6)
# Training from observed entries (_Autoencoder._sparse_step): an observed entry's cost in dense entries, and the
# sparse step's fixed extra in dense entries per weight of the first layer; fitted to the step times measured there.
SPARSE_ENTRY_COST = 130
SPARSE_TABLE_COST = 0.12


def residuals(matrix: sp.csr_matrix, biases) -> sp.csr_matrix:
    """The users x movies train matrix with each rating replaced by its residual from the bias baseline, r_ui -
    (mu + b_u + b_i); same entries (an exact 0 stored as OBSERVED_ZERO), float32."""
    m = matrix.tocoo()
    values = m.data - biases.predict(m.row, m.col)
    values[values == 0] = OBSERVED_ZERO
    return sp.csr_matrix((values.astype(np.float32), (m.row, m.col)), shape=m.shape)


def query_fill(model, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``impute_query``: per asked entry (rows, cols) of ``model.inputs`` (rows are movies if ``model.item_based``),
    what is added to its input row at that entry: the bias baseline's rating (on the scale) where the entry is empty,
    0 where it holds a train rating already."""
    users, items = (cols, rows) if model.item_based else (rows, cols)
    base = np.clip(model.biases.predict(users, items), *model.scale)
    empty = np.asarray(model.inputs[rows, cols]).ravel() == 0
    return np.where(empty, base, 0.0).astype(np.float32)


def read_filled_pairs(sums: np.ndarray, weights: np.ndarray, local: np.ndarray, at: np.ndarray,
                      change: np.ndarray, code, out_kernel: np.ndarray, out_bias: np.ndarray,
                      cols: np.ndarray) -> np.ndarray:
    """``impute_query``'s read, per pair k, of an input row that differs from an already summed row by a few
    entries: its first-layer sum is ``sums[local[k]]`` plus ``change[k, j]`` times row ``at[k, j]`` of the first
    layer's ``weights`` for each j (a sparse product: 13 ms against 29 ms for adding gathered rows, for 16,384
    pairs of three entries at 500 units), ``code`` takes those sums to the output layer's input (NumPy in and
    out), and only output column ``cols[k]`` is computed; returned before the output layer's activation."""
    per_pair = at.shape[1]
    out = np.empty(len(local), dtype=np.float32)
    for lo in range(0, len(local), QUERY_PAIRS_PER_CHUNK):
        sl = slice(lo, lo + QUERY_PAIRS_PER_CHUNK)
        n = len(local[sl])
        changed = sp.csr_matrix((change[sl].ravel(), at[sl].ravel(), np.arange(0, n * per_pair + 1, per_pair)),
                                shape=(n, len(weights)))
        h = code(sums[local[sl]] + changed @ weights)
        to = cols[sl]
        out[sl] = np.einsum("ij,ij->i", h, out_kernel[to]) + out_bias[to]
    return out


class _Autoencoder(KerasRecommender):
    """Shared by the three autoencoders: rows, side inputs, training batches read from the CSR rows, reading the
    reconstruction at asked pairs, saving the inputs."""

    item_based = False
    side: np.ndarray | None = None

    @property
    def residual_input(self) -> bool:
        """With ``residual``, whether the input rows hold the residuals too, not only the targets. By default they
        hold the raw ratings, which tell what was rated as well as how (a residual of 0 reads like no rating): the
        better input for autorec and hybrid_autorec on val, on ml-100k and on a 30% sample of it
        (bench/results/residual_*.json). A net that re-feeds its output as an input needs residuals."""
        return False

    def _rows(self, data: TrainData, residual: bool) -> sp.csr_matrix:
        """The rating vectors: rows of the train matrix (its transpose when item-based), or with ``residual`` the
        baseline's residual of each of its ratings (self.biases, fitted on train, is set before _fit)."""
        m = residuals(data.train_matrix, self.biases) if residual else data.train_matrix
        return m.T.tocsr() if self.item_based else m

    def _fit(self, data: TrainData, callbacks, verbose) -> None:
        from .batches import RowBatches

        residual = self.config.residual
        self.inputs = self._rows(data, residual and self.residual_input)
        self.side = self._side_features(data)
        n_cols, n_side = self.inputs.shape[1], 0 if self.side is None else self.side.shape[1]
        self.net = self._network(n_cols + n_side, n_cols)
        if residual:
            # The net starts as the baseline (a zero correction), and the output weights of users or movies with
            # few ratings, which few gradient steps reach, stay near it rather than near their random start.
            layer = self.net.get_layer("reconstruction")
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
        # seed_everything seeded NumPy's global RNG: this draw, so the batch order, follows train.seed.
        seed = int(np.random.randint(2**31 - 1))
        sparse = self._sparse_step()
        targets = self._rows(data, True) if residual and not self.residual_input else None
        batches = RowBatches(self.inputs, self.config.batch_size, seed, self.side, targets, sparse)
        if sparse:
            from .layers import RowScorer

            self._sparse_trainer = RowScorer(self.net, n_side, self.config.batch_size)
        try:
            self._run_fit(batches, None, data, callbacks, verbose)
        finally:
            self._sparse_trainer = None

    def _sparse_step(self) -> bool:
        """Whether training steps read the batch's observed entries only (layers.RowScorer: same loss and step as
        the dense batch, tests/test_batches.py) instead of its dense rows. It pays on sparse rows in large batches.

        Measured at ml-20m's size on the 2-core CPU (500 hidden units; seconds per step, dense / sparse): movie rows
        of 138,000 columns, 0.5% observed: batch 64: 0.68 / 0.85; 256: 1.72 / 1.18; 512: 2.71 / 1.88; user rows of
        27,000 columns: batch 64: 0.157 / 0.152; 256: 0.312 / 0.229. An observed entry costs the sparse step about
        SPARSE_ENTRY_COST times what a dense entry costs the dense step (gathers against a matmul), and the sparse
        step pays a fixed extra of about SPARSE_TABLE_COST dense entries per weight of the first layer (its
        gradient made dense for the weight decay, the output kernel transposed). In small batches both steps are
        mostly Adam and weight decay over every weight, which the sparse step does not spare. At ml-100k's to
        ml-10m's density the dense step always wins. The sparse step needs a net that is one chain trained on its
        own masked loss (no dense re-feeding, no tutorial dense loss), on one device."""
        from .distribute import even_split_replicas
        from .layers import MaskedMSE

        loss = self._loss()
        if not (isinstance(loss, MaskedMSE) and loss.masked) or self._train_model() is not self.net \
                or even_split_replicas() > 1:
            return False
        n_rows, n_cols = self.inputs.shape
        batch = min(self.config.batch_size, n_rows)
        observed = self.inputs.nnz * batch / n_rows
        first = next(layer for layer in self.net.layers if hasattr(layer, "kernel"))
        return batch * n_cols > SPARSE_ENTRY_COST * observed + SPARSE_TABLE_COST * first.kernel.shape[0] * first.units

    def _train_model(self):
        trainer = getattr(self, "_sparse_trainer", None)
        return trainer if trainer is not None else super()._train_model()

    def _side_features(self, data: TrainData) -> np.ndarray | None:
        return None

    def _loss(self):
        from .layers import MaskedMSE

        return MaskedMSE(masked=True)

    def _predict_raw(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        rows, cols = (items, users) if self.item_based else (users, items)
        order = np.argsort(rows, kind="stable")
        cols = cols[order].astype(np.int32)
        unique, first = np.unique(rows[order], return_index=True)  # row unique[k]'s pairs start at first[k]
        ends = np.append(first[1:], len(rows))
        nnz = np.diff(self.inputs.indptr)[unique]
        n_cols = self.inputs.shape[1]
        sparse = self._imputes_query or len(unique) * n_cols > SPARSE_READ_GAIN * (nnz.sum() + len(rows))
        per_block = ROWS_PER_BLOCK if sparse else max(1, DENSE_ENTRIES_PER_BLOCK // n_cols)
        starts = np.arange(0, len(unique), per_block)
        read = self._query_reader() if self._imputes_query else self._sparse_reader() if sparse else self._read_dense
        out = np.empty(len(rows), dtype=np.float32)
        for start, stop in zip(starts, np.append(starts[1:], len(unique))):
            lo, hi = first[start], ends[stop - 1]
            local = np.repeat(np.arange(stop - start, dtype=np.int32), ends[start:stop] - first[start:stop])
            out[lo:hi] = read(unique[start:stop], local, cols[lo:hi])
        result = np.empty_like(out)
        result[order] = out
        return result

    def _read_dense(self, block: np.ndarray, local: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The reconstruction of rows ``block`` at (block[local[k]], cols[k]): whole rows, then picked."""
        from .batches import dense_batch

        x, _ = dense_batch(self.inputs, block, self.side)
        return self._numpy(x)[local, cols]

    def _first_layer_sums(self):
        """(the first Dense layer, its kernel as NumPy, a function from rows (indices into self.inputs) to their
        first-layer sums before the activation): a sparse product of the rows and the kernel
        (batches.sparse_product), plus the bias and the rows' side features' part."""
        from keras import ops

        from .batches import sparse_product
        from .layers import chain

        first = chain(self.net)[1]
        kernel = ops.convert_to_numpy(first.kernel)
        n_cols = self.inputs.shape[1]
        bias = ops.convert_to_numpy(first.bias) if first.use_bias else 0

        def sums(rows: np.ndarray) -> np.ndarray:
            z = sparse_product(self.inputs[rows], kernel[:n_cols]) + bias
            if self.side is not None:
                z += self.side[rows] @ kernel[n_cols:]
            return z

        return first, kernel, sums

    def _encoder(self):
        """A function from rows (indices into self.inputs) to their codes, the reconstruction layer's input, as a
        NumPy array: the first layer's sums (_first_layer_sums), then the layers between (the Keras layers, so any
        activation works). Built from the current weights."""
        from keras import ops

        from .layers import chain

        middle = chain(self.net)[2]
        first, _, sums = self._first_layer_sums()

        def encode(rows: np.ndarray) -> np.ndarray:
            h = first.activation(sums(rows))
            for layer in middle:
                h = layer(h, training=False)
            return ops.convert_to_numpy(h)

        return encode

    def _output_weights(self):
        """(the reconstruction layer, its kernel transposed, a row per column read, its bias) as NumPy."""
        from keras import ops

        from .layers import chain

        last = chain(self.net)[3]
        out_kernel = np.ascontiguousarray(ops.convert_to_numpy(last.kernel).T)
        out_bias = ops.convert_to_numpy(last.bias) if last.use_bias else np.zeros(len(out_kernel), np.float32)
        return last, out_kernel, out_bias

    def _sparse_reader(self):
        """A reader like _read_dense that goes from the rows' observed entries to the asked entries only: the
        block's codes (_encoder), then the reconstruction at each asked entry alone (one dot product). NumPy and
        SciPy, except the activations and the middle layers."""
        from keras import ops

        encode = self._encoder()
        last, out_kernel, out_bias = self._output_weights()

        def read(block: np.ndarray, local: np.ndarray, cols: np.ndarray) -> np.ndarray:
            h = encode(block)
            out = np.empty(len(local), dtype=np.float32)
            for lo in range(0, len(local), PAIRS_PER_CHUNK):
                at, to = local[lo:lo + PAIRS_PER_CHUNK], cols[lo:lo + PAIRS_PER_CHUNK]
                out[lo:lo + len(at)] = np.einsum("ij,ij->i", h[at], out_kernel[to]) + out_bias[to]
            return ops.convert_to_numpy(last.activation(out))

        return read

    @property
    def _imputes_query(self) -> bool:
        """Whether a prediction reads its row with the asked entry filled in (a config's ``impute_query``); only
        for raw-rating input, where an empty entry is a 0 and the baseline's rating is what fills it."""
        return bool(getattr(self.config, "impute_query", False)) and not self.residual_input

    def _query_reader(self):
        """A reader like _sparse_reader whose every asked entry (row, column) reads the row with that entry set to
        ``query_fill`` (``impute_query``): the row's first-layer sum plus that one entry's weights, then the layers
        after it for that entry alone (read_filled_pairs). Training sees each rating's own entry in the input; a 0
        there would read as a very low rating, and a net that passes a column's entries through returns it as a low
        prediction."""
        from keras import ops

        from .layers import chain

        middle = chain(self.net)[2]
        first, kernel, sums = self._first_layer_sums()
        last, out_kernel, out_bias = self._output_weights()

        def code(z: np.ndarray) -> np.ndarray:
            h = first.activation(z)
            for layer in middle:
                h = layer(h, training=False)
            return ops.convert_to_numpy(h)

        def read(block: np.ndarray, local: np.ndarray, cols: np.ndarray) -> np.ndarray:
            fill = query_fill(self, block[local], cols)
            out = read_filled_pairs(sums(block), kernel, local, cols[:, None], fill[:, None], code, out_kernel,
                                    out_bias, cols)
            return ops.convert_to_numpy(last.activation(out))

        return read

    def _save(self, folder: Path) -> None:
        super()._save(folder)
        sp.save_npz(folder / "inputs.npz", self.inputs)
        if self.side is not None:
            np.save(folder / "side.npy", self.side)

    def _load(self, folder: Path) -> None:
        super()._load(folder)
        self.inputs = sp.load_npz(folder / "inputs.npz").tocsr()
        self.side = np.load(folder / "side.npy") if (folder / "side.npy").exists() else None


# ml-20m's size and up: a step of 64 rows there is mostly Adam and weight decay over every weight (two 138,000 x 500
# matrices for item-based autorec), so an epoch of 64-row steps takes about three times the one of 512-row steps,
# which read only the batch's observed entries (docs/scale.md#measured-at-ml-20ms-size).
def large_releases() -> dict[str, dict]:
    return {dataset: {"batch_size": 512} for dataset in ("ml-20m", "ml-25m", "ml-32m")}


def no_imputing(presets: dict[str, dict]) -> dict[str, dict]:
    """``presets`` with impute_query off: at ml-20m's size and up, a filled-in entry costs each (user, movie) pair
    its own hidden layer (3.5 us a pair at 500 units on the 2-core machine), and ranking every movie for ml-20m's
    13,800 test users would take an estimated 20 minutes more."""
    return {dataset: {**preset, "impute_query": False} for dataset, preset in presets.items()}


class AutoencoderConfig(TrainingConfig):
    """What the autoencoders' hyperparameters share."""

    residual: bool = Field(default=True, strict=True)
    """True: the net learns a correction to the bias baseline (train.baseline), trained on each rating's residual
    from it and started at zero, and a prediction is the baseline plus the correction, so movies and users with few
    ratings fall back towards the baseline; false: the net reconstructs the raw ratings."""


class RawInputConfig(AutoencoderConfig, ImputeQueryConfig):
    """What the autoencoders fed raw ratings (autorec, hybrid_autorec) share."""


class AutoRecConfig(RawInputConfig):
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
    """True fits observed ratings only; false is the naive tutorial loss that also fits the zeros of unrated movies
    (with ``residual``, a zero residual: unrated entries are pulled towards the baseline instead of towards 0)."""
    epochs: PositiveInt = 200
    learning_rate: float = Field(default=0.0003, gt=0)
    patience: PositiveInt = 15
    # On ml-latest-small's shape (9,700 movies with ~10 ratings each, 610 users) a movie's row is too thin to
    # encode from: user-based was better on val on three of the four stand-ins (docs/models.md#per-dataset-presets).
    presets: Presets = Field(default_factory=lambda: {
        "ml-latest-small": {"orientation": "user"},
        **no_imputing(large_releases())})


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

    def _score_rows(self, users: np.ndarray) -> np.ndarray | None:
        """Item-based, ranking asks every movie for a few users: each movie's code (the hidden layer, from its
        sparse row) is computed once and kept, and only the asked users' output columns are decoded. Reading
        whole movie rows decoded every user's column for each block of users (at ml-20m's size 27,000 x 138,000
        outputs per block of 512 users)."""
        if not self.item_based or self._imputes_query:  # imputed: each pair its own hidden layer, via predict
            return None
        if getattr(self, "_codes", (None,))[0] is not self.net:
            self._codes = (self.net, self._encoder()(np.arange(self.inputs.shape[0])))
        w, b = self.net.get_layer("reconstruction").get_weights()
        out = (self._codes[1] @ w[:, users] + b[users]).T
        if self.config.residual:
            out = out + self.biases.rows(users)
        return out


class DeepAutoRecConfig(AutoencoderConfig):
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

    @property
    def residual_input(self) -> bool:
        # Dense re-feeding feeds the reconstruction (a residual) back as an input: input and output on one scale.
        return self.config.dense_refeeding

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
            return super()._train_model()
        x = keras.Input(shape=self.net.input_shape[1:], name="ratings")
        first = self.net(x)
        second = self.net(StopGradient()(first))
        return keras.Model(x, keras.layers.Concatenate()([first, second]), name="deep_autorec_refeeding")

    def _loss(self):
        from .layers import MaskedMSE, RefeedLoss

        return RefeedLoss() if self.config.dense_refeeding else MaskedMSE(masked=True)


class HybridAutoRecConfig(RawInputConfig):
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
    # ml-latest-small (few ratings per movie): ten times the weight decay was better on val on three of the four
    # stand-ins, both 30% samples of ml-100k among them, and below the baseline on all four
    # (docs/models.md#per-dataset-presets).
    presets: Presets = Field(default_factory=lambda: {"ml-latest-small": {"l2": 0.01},
                                                      **no_imputing(large_releases())})


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
