"""Sparse user x item rating matrices, built in one vectorised call."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import columns as C


def rating_matrix(ratings: pd.DataFrame, n_users: int, n_items: int) -> sp.csr_matrix:
    """CSR of shape (n_users, n_items), float32 ratings; absent pairs are structural zeros."""
    return sp.csr_matrix(
        (ratings[C.RATING].to_numpy(np.float32),
         (ratings[C.USER].to_numpy(np.int64), ratings[C.ITEM].to_numpy(np.int64))),
        shape=(n_users, n_items), dtype=np.float32,
    )

