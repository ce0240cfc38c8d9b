"""A Bayesian factorisation machine fitted by Gibbs sampling (myFM), with implicit feedback both ways and side
information: the strongest simple model for explicit MovieLens ratings that we know of.

Rendle, "Factorization Machines" (ICDM 2010) and "Factorization Machines with libFM" (TIST 2012): a rating is
w0 + the weights of the active features + the dot products of their factor vectors, pair by pair. Sampled, not
optimised: every weight and factor is drawn in turn from its Gaussian conditional, with Gamma/Normal hyperpriors
per feature group, so there is no learning rate, no L2 to tune and no epoch to choose; the prediction is the mean
over the samples after a burn-in. Rendle, Zhang and Koren ("On the Difficulty of Evaluating Baselines", 2019)
found such a sampler with "SVD++ flipped" features ahead of every published model on MovieLens 10M. Ours: a user
is their id, the movies they rated in train (1/sqrt(count) each: SVD++'s implicit feedback) and their
demographics; a movie its id, the users who rated it in train (the "flipped" part) and its genres. No dates: a
prediction here is asked for a (user, movie) pair only.

The sampler is myFM's (Ohtsuki; C++, relational blocks so that a sweep costs the ratings, not ratings x features).
Saved is the posterior mean. Per sample, a user's features reduce to a scalar and a ``rank``-vector (a movie's
likewise), and the prediction is the two scalars plus the vectors' dot product; so the mean over samples is the
mean scalars plus the mean of the samples' user x movie products, a matrix of rank at most samples x ``rank``.
That product is kept as two thin factors, truncated to its ``dims`` leading singular directions as samples come
(QR of both sides, SVD of the small core): memory and the saved model are ``dims`` floats per user and movie,
never users x movies. On ml-100k's u1 (val carved from u1.base), 64 dims gave val RMSE 0.86057 against 0.86054
for the exact product (dims 1000, above its rank; bench/results/accuracy_u1_bfm_dims1000.json).
"""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import numpy as np
import scipy.sparse as sp
from pydantic import Field, NonNegativeInt, PositiveInt, model_validator

from .. import columns as C
from . import register
from .base import Recommender, TrainData
from .config import ModelConfig

PAIRS_PER_CHUNK = 1 << 16  # pairs predicted at once: their vectors are PAIRS x dims floats


class BayesianFMConfig(ModelConfig):
    """A Gibbs-sampled factorisation machine over user and movie features."""

    rank: PositiveInt = 10
    """Factors per feature."""
    sweeps: PositiveInt = 600
    """Gibbs sampling sweeps, each drawing every parameter once (the curve logs one point per sweep)."""
    burn_in: NonNegativeInt = 30
    """Sweeps discarded before the samples are averaged; fewer than ``sweeps``."""
    dims: PositiveInt = 64
    """Columns of the saved user and movie matrices whose product is the posterior mean of the user x movie
    interactions (its leading singular directions)."""
    implicit: bool = Field(default=True, strict=True)
    """Add each user's rated movies and each movie's raters (train ratings) as features (SVD++ flipped)."""
    side: bool = Field(default=True, strict=True)
    """Add users' demographics (where the release has them) and movies' genres as features."""

    @model_validator(mode="after")
    def _samples_after_burn_in(self):
        if self.burn_in >= self.sweeps:
            raise ValueError(f"burn_in ({self.burn_in}) must be below sweeps ({self.sweeps})")
        return self


def feature_blocks(data: TrainData, implicit: bool, side: bool) -> tuple[sp.csr_matrix, sp.csr_matrix, list[int]]:
    """Each user's and each movie's feature row, and the group of every column (users' columns, then movies')."""
    t = data.train
    rated = sp.csr_matrix((np.ones(len(t)), (t[C.USER].to_numpy(), t[C.ITEM].to_numpy())),
                          shape=(data.n_users, data.n_items))
    rated.sum_duplicates()
    rated.data[:] = 1.0

    def normalised(m: sp.csr_matrix) -> sp.csr_matrix:
        counts = np.asarray(m.sum(axis=1)).ravel()
        return sp.diags(1.0 / np.sqrt(np.maximum(counts, 1.0))) @ m

    users, items = [sp.identity(data.n_users, format="csr")], [sp.identity(data.n_items, format="csr")]
    if implicit:
        users.append(normalised(rated))
        items.append(normalised(rated.T.tocsr()))
    if side:
        demographics = data.side_groups.get("demographics", [])
        if data.user_side is not None and demographics:
            users.append(sp.csr_matrix(data.user_side[:, demographics].astype(np.float64)))
        if data.item_side is not None and data.item_side.shape[1]:
            items.append(sp.csr_matrix(data.item_side.astype(np.float64)))
    groups = [g for g, block in enumerate(users + items) for _ in range(block.shape[1])]
    return sp.hstack(users, format="csr"), sp.hstack(items, format="csr"), groups


def _reduce(x: sp.csr_matrix, squared: sp.csr_matrix, w: np.ndarray, v: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """One side's rows reduced for one sample: the FM terms within the side (scalar) and its summed factors.

    Over a row x with factors V: sum of w.x + (||V^T x||^2 - sum_f x_f^2 ||v_f||^2) / 2, and V^T x. ``squared`` is
    x with its entries squared (the same every sweep)."""
    vectors = x @ v
    within = x @ w + 0.5 * ((vectors ** 2).sum(axis=1) - squared @ (v ** 2).sum(axis=1))
    return within, vectors


def truncated_product(a: np.ndarray, b: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """Thin (a', b') with a' b'^T the best rank-``dims`` approximation of a b^T, without forming a b^T."""
    qa, ra = np.linalg.qr(a)
    qb, rb = np.linalg.qr(b)
    left, values, right = np.linalg.svd(ra @ rb.T, full_matrices=False)
    keep = min(dims, len(values))  # fewer users (or movies) than dims: the product is exact, and that narrow
    root = np.sqrt(values[:keep])
    return qa @ (left[:, :keep] * root), qb @ (right[:keep].T * root)


class ProductSum:
    """The running sum of user x movie products u_s v_s^T as thin factors, truncated to ``dims`` directions once
    the samples waiting reach ``dims`` columns per side."""

    def __init__(self, dims: int):
        self.dims, self.pending, self.factors = dims, [], None

    def add(self, users: np.ndarray, items: np.ndarray) -> None:
        self.pending.append((users, items))
        if sum(u.shape[1] for u, _ in self.pending) >= self.dims:
            self._compress()

    def _compress(self) -> None:
        parts = ([self.factors] if self.factors is not None else []) + self.pending
        self.factors = truncated_product(np.hstack([u for u, _ in parts]), np.hstack([v for _, v in parts]),
                                         self.dims)
        self.pending = []

    def result(self, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """The sum times ``scale``, as float32 factors."""
        if self.pending:
            self._compress()
        root = np.sqrt(scale)
        return tuple((f * root).astype(np.float32) for f in self.factors)


@register
class BayesianFM(Recommender):
    """The posterior mean of w0 + the user's scalar + the movie's scalar + the user's vector . the movie's."""

    name = "bayesian_fm"
    Config = BayesianFMConfig
    quick = {"sweeps": 20, "burn_in": 5, "dims": 8, "rank": 4}

    def _fit(self, data: TrainData, callbacks, verbose) -> None:
        import myfm

        cfg = self.config
        x_users, x_items, groups = feature_blocks(data, cfg.implicit, cfg.side)
        n_user_features = x_users.shape[1]
        t, val = data.train, data.val
        val_users, val_items = val[C.USER].to_numpy(), val[C.ITEM].to_numpy()
        truth = val[C.RATING].to_numpy(np.float64)
        squared = {side: x.power(2) for side, x in (("user", x_users), ("item", x_items))}
        sums = {"user": 0.0, "item": 0.0, "val": 0.0}  # w0 is folded into the users' scalars
        products = ProductSum(cfg.dims)
        history: list[float] = []

        def sweep(i, fm, hyper, _history):
            user, user_vec = _reduce(x_users, squared["user"], fm.w[:n_user_features], fm.V[:n_user_features])
            item, item_vec = _reduce(x_items, squared["item"], fm.w[n_user_features:], fm.V[n_user_features:])
            user += fm.w0
            pred = user[val_users] + item[val_items] + np.einsum("ij,ij->i", user_vec[val_users], item_vec[val_items])
            if i >= cfg.burn_in:
                for key, value in (("user", user), ("item", item), ("val", pred)):
                    sums[key] = sums[key] + value
                products.add(user_vec, item_vec)
                pred = sums["val"] / (i - cfg.burn_in + 1)
            score = float(np.sqrt(np.mean((np.clip(pred, *self.scale) - truth) ** 2))) if len(truth) else np.nan
            history.append(score)
            return False, f"sweep {i + 1}: val RMSE {score:.4f}"

        # the seed comes from NumPy's generator, which the train stage seeds from train.seed
        sampler = myfm.MyFMRegressor(rank=cfg.rank, random_seed=int(np.random.randint(0, 2 ** 31 - 1)))
        # myFM draws a tqdm bar on stderr; tqdm reads TQDM_* variables when a bar is made
        with mock.patch.dict(os.environ, {} if verbose else {"TQDM_DISABLE": "1"}):
            sampler.fit(None, t[C.RATING].to_numpy(np.float64),
                        X_rel=[myfm.RelationBlock(t[C.USER].to_numpy(), x_users),
                               myfm.RelationBlock(t[C.ITEM].to_numpy(), x_items)],
                        grouping=groups, n_iter=cfg.sweeps, n_kept_samples=1, callback=sweep)
        n = cfg.sweeps - cfg.burn_in
        self.user_scalar = sums["user"] / n
        self.item_scalar = sums["item"] / n
        self.user_vectors, self.item_vectors = products.result(1.0 / n)
        if len(truth):  # the last point is the saved model's own: its product truncated to dims, cold pairs included
            history[-1] = float(np.sqrt(np.mean((self.predict(val_users, val_items) - truth) ** 2)))
        self.history = {"val_rmse": history}
        self.best_epoch = cfg.sweeps  # the kept model is the last sweep's mean, whatever the curve did before

    def _predict_raw(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        out = np.empty(len(users), dtype=np.float64)
        for start in range(0, len(users), PAIRS_PER_CHUNK):
            u, i = users[start:start + PAIRS_PER_CHUNK], items[start:start + PAIRS_PER_CHUNK]
            out[start:start + len(u)] = (self.user_scalar[u] + self.item_scalar[i]
                                         + np.einsum("ij,ij->i", self.user_vectors[u], self.item_vectors[i]))
        return out

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        return (self.user_scalar[users][:, None] + self.item_scalar[None, :]
                + self.user_vectors[users] @ self.item_vectors.T)

    def count_params(self) -> int:
        return sum(a.size for a in (self.user_scalar, self.item_scalar, self.user_vectors, self.item_vectors))

    def _save(self, folder: Path) -> None:
        np.savez(Path(folder) / "posterior.npz", user_scalar=self.user_scalar, item_scalar=self.item_scalar,
                 user_vectors=self.user_vectors, item_vectors=self.item_vectors)

    def _load(self, folder: Path) -> None:
        with np.load(Path(folder) / "posterior.npz") as f:
            self.user_scalar, self.item_scalar = f["user_scalar"], f["item_scalar"]
            self.user_vectors, self.item_vectors = f["user_vectors"], f["item_vectors"]
