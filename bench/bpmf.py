"""Bayesian probabilistic matrix factorisation with biases, by Gibbs sampling, on a kept run's split: a candidate
column for the blend (issue 11's u1 blend), measured here before it is a model.

    python bench/accuracy.py --strategy predefined --fold u1 --models baseline autorec deep_autorec \
        hybrid_autorec mf embedding_mlp glocal_k --keep /tmp/u1                     # the other models, kept
    python bench/bpmf.py /tmp/u1 --name u1                                          # fits, writes bpmf's predictions
    python bench/blend_variants.py /tmp/u1 --name u1_bpmf --extra /tmp/u1:bpmf      # the blend with it

The model (Salakhutdinov and Mnih, "Bayesian Probabilistic Matrix Factorization using Markov Chain Monte Carlo",
ICML 2008), with user and movie biases: r_ui = mu + b_u + c_i + U_u . V_i + noise. U and V have Gaussian priors
whose mean and precision have Normal-Wishart hyperpriors; the biases Gaussian priors whose precisions have Gamma
hyperpriors; the noise precision a Gamma prior. Each sweep samples every one of them from its conditional given
the rest: a user's U_u from a d-dimensional Gaussian whose precision sums V_i V_i^T over the movies they rated
(one sparse product for all users: the indicator matrix times the movies' flattened outer products), and so on.
Predictions are the mean over the sweeps after burn-in, clipped to the scale. Fitted on train, it predicts val
(for the blend's weights) and test; where the run's train.refit applies, test is predicted by a second chain on
train + val, as the pipeline's models are. Writes data/predictions/{val,test}/<column>.parquet into the run folder
(--column, default bpmf: one per setting tried) and bench/results/bpmf_<name>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from _run import ROOT  # bench/ is on the path (the script's folder)

sys.path.insert(0, str(ROOT))


def _normal_wishart(x: np.ndarray, rng: np.random.Generator, beta0: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """A draw of the prior mean and precision of the rows of ``x`` from their Normal-Wishart posterior (prior: mean
    0, scale the identity, d degrees of freedom, ``beta0`` pseudo-rows)."""
    from scipy.stats import wishart

    n, d = x.shape
    mean = x.mean(axis=0)
    centred = x - mean
    scale_inv = np.eye(d) + centred.T @ centred + beta0 * n / (beta0 + n) * np.outer(mean, mean)
    scale = np.linalg.inv(scale_inv)
    precision = np.atleast_2d(wishart.rvs(df=d + n, scale=(scale + scale.T) / 2, random_state=rng))
    centre = rng.multivariate_normal(n * mean / (beta0 + n), np.linalg.inv((beta0 + n) * precision))
    return centre, precision


def _factors(x: np.ndarray, other: np.ndarray, rated: sp.csr_matrix, residual: sp.csr_matrix, noise: float,
             rng: np.random.Generator) -> np.ndarray:
    """Every row of ``x`` drawn from its Gaussian conditional given ``other`` (the factors of what it rated)."""
    d = x.shape[1]
    centre, precision = _normal_wishart(x, rng)
    outer = (other[:, :, None] * other[:, None, :]).reshape(len(other), d * d)
    posterior = (rated @ outer).reshape(-1, d, d) * noise + precision
    rhs = noise * (residual @ other) + precision @ centre
    mean = np.linalg.solve(posterior, rhs[:, :, None])[:, :, 0]
    lower = np.linalg.cholesky(posterior)  # x = mean + L^-T z has covariance posterior^-1
    z = rng.standard_normal(x.shape)
    return mean + np.linalg.solve(np.transpose(lower, (0, 2, 1)), z[:, :, None])[:, :, 0]


def fit_predict(users: np.ndarray, items: np.ndarray, ratings: np.ndarray, n_users: int, n_items: int,
                pairs: list[tuple[np.ndarray, np.ndarray]], factors: int = 10, sweeps: int = 1000,
                burn_in: int = 100, scale: tuple[float, float] = (1.0, 5.0), seed: int = 0,
                every: int = 0, log=print) -> list[np.ndarray]:
    """The posterior-mean prediction for each (users, items) array pair of ``pairs``: the mean over the sweeps
    after ``burn_in`` of each sweep's clipped prediction. ``every`` > 0: log the noise's standard deviation every
    that many sweeps."""
    rng = np.random.default_rng(seed)
    ratings = ratings.astype(np.float64)
    mu = ratings.mean()
    u_f = rng.normal(0.0, 0.1, (n_users, factors))
    i_f = rng.normal(0.0, 0.1, (n_items, factors))
    b_u, b_i = np.zeros(n_users), np.zeros(n_items)
    rated = sp.csr_matrix((np.ones_like(ratings), (users, items)), shape=(n_users, n_items))
    rated_t = rated.T.tocsr()
    n_u, n_i = np.bincount(users, minlength=n_users), np.bincount(items, minlength=n_items)
    noise, prec_u, prec_i = 1.0, 1.0, 1.0
    sums = [np.zeros(len(p[0])) for p in pairs]
    for sweep in range(sweeps):
        residual = sp.csr_matrix((ratings - mu - b_u[users] - b_i[items], (users, items)), shape=(n_users, n_items))
        u_f = _factors(u_f, i_f, rated, residual, noise, rng)
        i_f = _factors(i_f, u_f, rated_t, residual.T.tocsr(), noise, rng)
        dot = np.einsum("nd,nd->n", u_f[users], i_f[items])
        precision = prec_u + noise * n_u
        b_u = noise * np.bincount(users, ratings - mu - b_i[items] - dot, n_users) / precision \
            + rng.standard_normal(n_users) / np.sqrt(precision)
        precision = prec_i + noise * n_i
        b_i = noise * np.bincount(items, ratings - mu - b_u[users] - dot, n_items) / precision \
            + rng.standard_normal(n_items) / np.sqrt(precision)
        prec_u = rng.gamma(1 + n_users / 2, 1 / (1 + b_u @ b_u / 2))
        prec_i = rng.gamma(1 + n_items / 2, 1 / (1 + b_i @ b_i / 2))
        errors = ratings - mu - b_u[users] - b_i[items] - dot
        noise = rng.gamma(1 + len(ratings) / 2, 1 / (1 + errors @ errors / 2))
        if sweep >= burn_in:
            for total, (pu, pi) in zip(sums, pairs):
                total += np.clip(mu + b_u[pu] + b_i[pi] + np.einsum("nd,nd->n", u_f[pu], i_f[pi]), *scale)
        if every and (sweep + 1) % every == 0:
            log(f"sweep {sweep + 1}: noise sd {1 / np.sqrt(noise):.4f}")
    kept = max(sweeps - burn_in, 1)
    return [total / kept for total in sums]


def main(argv: list[str] | None = None) -> None:
    from pipeline.lib import columns as C
    from pipeline.lib.io import read_json
    from pipeline.lib.metrics import rmse
    from pipeline.lib.params import load_params, refit_enabled

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", type=Path, help="a bench/accuracy.py --keep folder")
    parser.add_argument("--name", required=True)
    parser.add_argument("--factors", type=int, default=10)
    parser.add_argument("--sweeps", type=int, default=1000)
    parser.add_argument("--burn-in", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--column", default="bpmf", help="the predictions' file name in the run folder")
    args = parser.parse_args(argv)
    split, out = args.work / "data" / "split", args.work / "data" / "predictions"
    train, val, test = (pd.read_parquet(split / f"{part}.parquet") for part in ("train", "val", "test"))
    meta = read_json(args.work / "data" / "prepared" / "meta.json")
    n_users, n_items, scale = meta["users"], meta["items"], tuple(meta["rating_scale"])
    refit = refit_enabled(load_params(args.work / "params.yaml"))
    pairs = {name: (f[C.USER].to_numpy(), f[C.ITEM].to_numpy()) for name, f in (("val", val), ("test", test))}
    settings = {"factors": args.factors, "sweeps": args.sweeps, "burn_in": args.burn_in, "seed": args.seed}
    start = time.perf_counter()

    def fit(frame, wanted):
        return fit_predict(frame[C.USER].to_numpy(), frame[C.ITEM].to_numpy(), frame[C.RATING].to_numpy(),
                           n_users, n_items, [pairs[w] for w in wanted], scale=scale, every=100, **settings)

    predicted = dict(zip(("val", "test"), fit(train, ["val", "test"])))
    seconds = {"train": round(time.perf_counter() - start, 1)}
    if refit:
        start = time.perf_counter()
        (predicted["test"],) = fit(pd.concat([train, val], ignore_index=True), ["test"])
        seconds["refit"] = round(time.perf_counter() - start, 1)
    for part, frame in (("val", val), ("test", test)):
        frame[[C.USER, C.ITEM]].assign(**{C.PREDICTION: predicted[part].astype(np.float32)}).to_parquet(
            out / part / f"{args.column}.parquet")
    result = {"work": str(args.work), **settings, "refit": refit, "seconds": seconds,
              "val_rmse": round(rmse(val[C.RATING].to_numpy(), predicted["val"]), 5),
              "test_rmse": round(rmse(test[C.RATING].to_numpy(), predicted["test"]), 5)}
    print(json.dumps(result))
    (ROOT / "bench" / "results" / f"bpmf_{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
