"""Training batches of rating vectors read from the CSR train matrix, so that no dense rating matrix is held:
memory is O(ratings + batch x columns).

``RowBatches`` is a ``keras.utils.PyDataset`` yielding numpy arrays (so it feeds the TensorFlow and JAX backends
alike): each batch's rows, dense, side features appended to the input. Its rows are shuffled each epoch by a
seeded NumPy Generator, so two runs with one seed feed the same batches in the same order (fit is given
``shuffle=False``: Keras would otherwise shuffle the batches again with its own RNG).

``sparse_batch`` gives rows as their observed entries instead, for ``layers.RowScorer``, which trains on the
reconstruction at those entries only (the sparse step; see autoencoders.py for where it pays). ``sparse_product``
is the first layer of reading predictions from sparse rows.

The registry imports every module of this package to find the models, and code that only validates params must
not pay for importing Keras: ``RowBatches`` is defined on first use (a module attribute all the same).
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp


def padded_size(n: int) -> int:
    """n rounded up to 4, 5, 6 or 7 times a power of two (at most 25% more; 8 at least).

    The sparse read's sizes (entries, rows, pairs) change from block to block; a backend that compiles per input
    shape (JAX) then compiles once per size class, four per doubling, instead of once per block."""
    if n <= 8:
        return 8
    shift = n.bit_length() - 3  # keep the three leading bits, rounded up
    return -(-n >> shift) << shift


def sparse_product(rows: sp.csr_matrix, dense: np.ndarray) -> np.ndarray:
    """rows @ dense, the rows split over the machine's cores: SciPy's sparse product runs on one thread but lets
    go of the GIL (ml-20m's 27,000 x 138,000 movie rows times a 138,000 x 500 kernel: 6.3 s on one core, 3.2 s on
    two). Each output row is the same sum in the same order either way."""
    threads = min(len(os.sched_getaffinity(0)), max(1, rows.shape[0] // 64))
    if threads == 1:
        return np.asarray(rows @ dense)
    bounds = np.linspace(0, rows.shape[0], threads + 1).astype(int)
    out = np.empty((rows.shape[0], dense.shape[1]), dtype=np.result_type(rows.dtype, dense.dtype))

    def part(k: int) -> None:
        out[bounds[k]:bounds[k + 1]] = rows[bounds[k]:bounds[k + 1]] @ dense

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(part, range(threads)))
    return out


def dense_batch(matrix: sp.csr_matrix, rows: np.ndarray, side: np.ndarray | None):
    """(inputs, targets) for ``rows``: (rows, columns [+ side]) and (rows, columns), float32."""
    target = matrix[rows].toarray()
    if side is None:
        return target, target
    return np.hstack([target, side[rows]]).astype(np.float32, copy=False), target


def sparse_batch(matrix: sp.csr_matrix, rows: np.ndarray, side: np.ndarray | None, n_rows: int):
    """(inputs, ratings) for ``rows``: their observed entries, padded with zero ratings to ``padded_size``; what
    ``layers.RowScorer`` reads.

    inputs: ``rows`` (each entry's row within the batch), ``cols``, ``values``, and ``side`` (n_rows, d) when there
    are side features. A padding entry is (0, 0, 0.0): it adds nothing to the input, and the masked loss ignores
    its zero rating. ``side`` is padded with zero rows to ``n_rows``; rows beyond ``len(rows)`` have no entry."""
    block = matrix[rows]
    n, size = block.nnz, padded_size(block.nnz)
    local = np.zeros(size, dtype=np.int32)
    local[:n] = np.repeat(np.arange(len(rows), dtype=np.int32), np.diff(block.indptr))
    cols = np.zeros(size, dtype=np.int32)
    cols[:n] = block.indices
    values = np.zeros(size, dtype=np.float32)
    values[:n] = block.data
    inputs = {"rows": local, "cols": cols, "values": values}
    if side is not None:
        inputs["side"] = np.zeros((n_rows, side.shape[1]), dtype=np.float32)
        inputs["side"][:len(rows)] = side[rows]
    return inputs, values


@functools.cache
def _row_batches() -> type:
    import keras

    class RowBatches(keras.utils.PyDataset):
        """(inputs, targets) batches of ``batch_size`` rows of ``matrix``, in an order drawn anew each epoch from
        ``seed``: dense rows (``dense_batch``), or with ``sparse`` their observed entries (``sparse_batch``, what
        ``layers.RowScorer`` trains on). The targets are the same rows of ``targets`` when given (the residuals
        beside the raw ratings: same entries, other values), of ``matrix`` otherwise."""

        def __init__(self, matrix: sp.csr_matrix, batch_size: int, seed: int, side: np.ndarray | None = None,
                     targets: sp.csr_matrix | None = None, sparse: bool = False):
            super().__init__(workers=1, use_multiprocessing=False)
            self.matrix = matrix.tocsr()
            self.batch_size = int(batch_size)
            self.side = None if side is None else np.asarray(side, dtype=np.float32)
            self.targets = targets
            self.sparse = sparse
            if sparse and targets is not None and not (np.array_equal(targets.indptr, self.matrix.indptr) and
                                                       np.array_equal(targets.indices, self.matrix.indices)):
                raise ValueError("sparse batches need targets with the matrix's entries, in its order")
            self._rng = np.random.default_rng(seed)
            # Set by the trainer when every batch must have batch_size rows (JAX splits each batch evenly over
            # its devices): the last batch is filled up with empty rows.
            self.full_batches = False
            self.order = self._rng.permutation(self.matrix.shape[0])

        def __len__(self) -> int:
            return -(-self.matrix.shape[0] // self.batch_size)

        def rows(self, index: int) -> np.ndarray:
            """The rows of the matrix that batch ``index`` holds this epoch."""
            return self.order[index * self.batch_size:(index + 1) * self.batch_size]

        def __getitem__(self, index: int):
            rows = self.rows(index)
            if self.sparse:
                x, y = sparse_batch(self.matrix, rows, self.side, self.batch_size)
                if self.targets is not None:
                    values = self.targets[rows].data
                    y = np.zeros_like(y)
                    y[:len(values)] = values
                return x, y
            x, y = dense_batch(self.matrix, rows, self.side)
            if self.targets is not None:
                y = self.targets[rows].toarray()
            missing = self.batch_size - len(x) if self.full_batches else 0
            if missing:  # rows without a rating: the masked loss ignores them
                x, y = (np.pad(a, ((0, missing), (0, 0))) for a in (x, y))
            return x, y

        def on_epoch_end(self) -> None:
            # Keras calls this once the epoch's batches are all read (its prefetching stops at the epoch's end), so
            # the next epoch's order never mixes with this one's.
            self.order = self._rng.permutation(self.matrix.shape[0])

    return RowBatches


def __getattr__(name: str):
    if name == "RowBatches":
        return _row_batches()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
