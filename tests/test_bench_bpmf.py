"""bench/bpmf.py: the Gibbs sampler learns a planted low-rank taste term beyond the biases, and is seeded."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bpmf  # noqa: E402


def planted(seed=0, n_users=60, n_items=50, rank=2, density=0.5, noise=0.3):
    rng = np.random.default_rng(seed)
    users, items = np.nonzero(rng.random((n_users, n_items)) < density)
    b_u, b_i = rng.normal(0, 0.5, n_users), rng.normal(0, 0.5, n_items)
    taste = rng.normal(0, 0.8, (n_users, rank)) @ rng.normal(0, 0.8, (rank, n_items))
    biases = 3.0 + b_u[users] + b_i[items]
    ratings = biases + taste[users, items] + rng.normal(0, noise, len(users))
    held = rng.random(len(users)) < 0.2
    return users, items, ratings, biases, held, n_users, n_items


def test_it_learns_the_taste_term_beyond_the_biases():
    users, items, ratings, biases, held, n_users, n_items = planted()
    fit = ~held
    (pred,) = bpmf.fit_predict(users[fit], items[fit], ratings[fit], n_users, n_items, [(users[held], items[held])],
                               factors=2, sweeps=150, burn_in=50, scale=(-10.0, 10.0))
    rmse = np.sqrt(np.mean((pred - ratings[held]) ** 2))
    oracle_biases = np.sqrt(np.mean((biases[held] - ratings[held]) ** 2))  # the true biases, no taste term
    assert rmse < 0.5 * oracle_biases  # 0.34 against 1.02 here; the noise alone is 0.3


def test_a_seed_gives_the_same_predictions_and_another_seed_others():
    users, items, ratings, _, held, n_users, n_items = planted(seed=1)
    fit, asked = ~held, [(users[held], items[held])]
    runs = [bpmf.fit_predict(users[fit], items[fit], ratings[fit], n_users, n_items, asked, factors=2, sweeps=20,
                             burn_in=5, seed=s)[0] for s in (3, 3, 4)]
    assert np.array_equal(runs[0], runs[1]) and not np.allclose(runs[0], runs[2])
