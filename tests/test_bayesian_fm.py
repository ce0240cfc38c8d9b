"""bayesian_fm: its features come from train alone, its saved factors are the sampler's own posterior mean."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from pipeline.lib.models import build
from pipeline.lib.models.base import TrainData
from pipeline.lib.models.bayesian_fm import ProductSum, feature_blocks, truncated_product


def test_feature_rows_by_hand():
    train = pd.DataFrame({"user": [0, 0, 0, 0, 1, 2], "item": [0, 1, 2, 3, 1, 1], "rating": [5.0, 4, 3, 2, 1, 4]})
    val = pd.DataFrame({"user": [1], "item": [3], "rating": [5.0]})  # never a feature
    demo = np.array([[1, 0, 0.5], [0, 1, 0.25], [1, 0, 1.0]], np.float32)
    side = np.hstack([np.full((3, 2), 7.0, np.float32), demo])  # two affinity columns, then demographics
    genres = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], np.float32)
    data = TrainData(train, val, 3, 4, (1.0, 5.0), side, {"affinity": [0, 1], "demographics": [2, 3, 4]},
                     item_side=genres)
    users, items, groups = feature_blocks(data, implicit=True, side=True)
    rated = np.array([[1, 1, 1, 1], [0, 1, 0, 0], [0, 1, 0, 0]], float)
    np.testing.assert_allclose(users.toarray(), np.hstack([np.eye(3), rated / [[2], [1], [1]], demo]))
    raters = rated.T / np.sqrt([[1], [3], [1], [1]])
    np.testing.assert_allclose(items.toarray(), np.hstack([np.eye(4), raters, genres]))
    assert groups == [0] * 3 + [1] * 4 + [2] * 3 + [3] * 4 + [4] * 3 + [5] * 2
    users, items, groups = feature_blocks(data, implicit=False, side=False)
    np.testing.assert_array_equal(users.toarray(), np.eye(3))
    np.testing.assert_array_equal(items.toarray(), np.eye(4))
    assert groups == [0] * 3 + [1] * 4


def test_truncated_product_is_the_best_low_rank_product(rng):
    a, b = rng.normal(size=(30, 12)), rng.normal(size=(20, 12))
    full = a @ b.T
    x, y = truncated_product(a, b, 12)
    np.testing.assert_allclose(x @ y.T, full, atol=1e-10)
    for rows in (30, 5):  # more columns than users: a narrower exact product, not an error
        x, y = truncated_product(a[:rows], b, 64)
        np.testing.assert_allclose(x @ y.T, full[:rows], atol=1e-10)
        assert x.shape[1] == y.shape[1] <= 12
    x, y = truncated_product(a, b, 3)
    values = np.linalg.svd(full, compute_uv=False)
    # Eckart-Young: the error of the best rank-3 approximation is the trailing singular values
    assert np.linalg.norm(full - x @ y.T) == pytest.approx(np.sqrt((values[3:] ** 2).sum()))


def test_product_sum_is_the_sum_of_products_while_its_rank_fits(rng):
    pairs = [(rng.normal(size=(9, 2)), rng.normal(size=(7, 2))) for _ in range(5)]
    total = sum(u @ v.T for u, v in pairs)
    sums = ProductSum(dims=7)  # compresses every four samples; rank of the total is at most 7
    for u, v in pairs:
        sums.add(u, v)
    x, y = sums.result(0.5)
    np.testing.assert_allclose(x @ y.T, 0.5 * total, rtol=1e-4, atol=1e-4)


def test_the_saved_model_is_the_samplers_posterior_mean(tiny_data):
    """With dims covering every sample's factors, the saved model predicts what myFM itself predicts from the
    samples after the burn-in (its own FM formula over the same features and seed)."""
    import myfm

    data, parts, _ = tiny_data
    settings = {"sweeps": 12, "burn_in": 4, "rank": 3, "dims": 24}
    np.random.seed(0)
    model = build("bayesian_fm", **settings).fit(data)
    np.random.seed(0)
    seed = np.random.randint(0, 2 ** 31 - 1)
    users, items, groups = feature_blocks(data, implicit=True, side=True)
    t = data.train
    sampler = myfm.MyFMRegressor(rank=3, random_seed=seed).fit(
        None, t["rating"].to_numpy(np.float64), X_rel=[myfm.RelationBlock(t["user"].to_numpy(), users),
                                                       myfm.RelationBlock(t["item"].to_numpy(), items)],
        grouping=groups, n_iter=12, n_kept_samples=8)
    test = parts["test"]
    u, i = test["user"].to_numpy(), test["item"].to_numpy()
    expected = sampler.predict(None, [myfm.RelationBlock(u, users), myfm.RelationBlock(i, items)])
    np.testing.assert_allclose(model._predict_raw(u, i), expected, rtol=1e-4)
    assert len(model.history["val_rmse"]) == 12 and model.best_epoch == 12
    # the val RMSE it reports is the saved model's (the curve's other points are the running posterior mean's)
    val = data.val
    kept = np.sqrt(np.mean((model.predict(val["user"].to_numpy(), val["item"].to_numpy()) - val["rating"]) ** 2))
    assert model.kept_val_rmse == pytest.approx(kept, rel=1e-6)


def test_fewer_dims_change_the_prediction_little(tiny_data):
    data, parts, _ = tiny_data
    test = parts["test"]
    u, i = test["user"].to_numpy(), test["item"].to_numpy()
    predictions = {}
    for dims in (24, 4):
        np.random.seed(0)
        predictions[dims] = build("bayesian_fm", sweeps=12, burn_in=4, rank=3, dims=dims).fit(data)._predict_raw(u, i)
    assert 0 < np.abs(predictions[24] - predictions[4]).max() < 0.5


@pytest.mark.parametrize("values, message", [({"burn_in": 40, "sweeps": 40}, "burn_in (40) must be below sweeps (40)"),
                                             ({"dims": 0}, "greater than 0")])
def test_bad_settings_are_refused(values, message):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build("bayesian_fm", **values)


def test_implicit_features_hold_no_val_or_test_pair(tiny_data):
    data, parts, _ = tiny_data
    users, items, _ = feature_blocks(data, implicit=True, side=False)
    implicit_users = sp.csr_matrix(users[:, data.n_users:data.n_users + data.n_items])
    implicit_items = sp.csr_matrix(items[:, data.n_items:data.n_items + data.n_users])
    for part in ("val", "test"):
        frame = parts[part]
        assert not np.asarray(implicit_users[frame["user"], frame["item"]]).any()
        assert not np.asarray(implicit_items[frame["item"], frame["user"]]).any()
    assert implicit_users.nnz == len(data.train)
