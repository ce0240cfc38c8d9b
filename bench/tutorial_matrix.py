"""The way well-known tutorials fill the rating matrix (lil_matrix, row by row with iloc): the baseline that
bench/data_stages.py measures the vectorised build against. Not used by the pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pipeline.lib import columns as C


def tutorial_rating_matrix(ratings: pd.DataFrame, n_users: int, n_items: int) -> sp.csr_matrix:
    """A CSR equal to pipeline.lib.matrices.rating_matrix, built one rating at a time (slow on purpose)."""
    matrix = sp.lil_matrix((n_users, n_items), dtype=np.float32)
    for i in range(len(ratings)):
        row = ratings.iloc[i]
        matrix[int(row[C.USER]), int(row[C.ITEM])] = row[C.RATING]
    return matrix.tocsr()
