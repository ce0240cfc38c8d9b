"""The autoencoders' ``residual`` setting: rating vectors hold each train rating's residual from the bias baseline,
and a prediction is the baseline plus the net's reconstruction (autoencoders.py)."""

import numpy as np
import pytest

from conftest import fed, fitted

from pipeline.lib.models import build, load_scorer
from pipeline.lib.models.autoencoders import OBSERVED_ZERO
from pipeline.lib.models.biases import Biases
from pipeline.lib.models.keras_base import KerasRecommender

AUTOENCODERS = ["autorec", "deep_autorec", "hybrid_autorec"]


@pytest.mark.parametrize("name", AUTOENCODERS)
def test_training_targets_are_the_baseline_residuals(name, tiny_data, run_fit_calls):
    data, _, _ = tiny_data
    model = fitted(name, data)
    assert model.config.residual  # the default
    x, y = fed(run_fit_calls[0]["x"])
    users, items = data.train["user"].to_numpy(), data.train["item"].to_numpy()
    rows, cols = (items, users) if model.item_based else (users, items)
    expected = data.train["rating"].to_numpy(np.float32) - model.biases.predict(users, items)
    np.testing.assert_allclose(y[rows, cols], expected, atol=1e-6)
    # Every train rating is observed for the masked loss (y != 0), nothing else is.
    assert (y != 0).sum() == len(data.train)
    # The input's rating part: the raw ratings, or the same residuals for a net that re-feeds its output.
    ratings = data.train["rating"].to_numpy(np.float32)
    np.testing.assert_array_equal(x[rows, cols], y[rows, cols] if model.residual_input else ratings)
    assert (x[:, :y.shape[1]] != 0).sum() == len(data.train)
    assert model.residual_input == (name == "deep_autorec")


def test_a_residual_of_exactly_zero_stays_observed(tiny_data):
    data, _, _ = tiny_data
    model = build("autorec", orientation="user")
    model.biases = Biases(4.0, np.zeros(data.n_users, np.float32), np.zeros(data.n_items, np.float32))
    rows = model._rows(data, True)
    fours = (data.train["rating"] == 4).to_numpy()
    assert fours.any() and rows.nnz == len(data.train)
    values = np.asarray(rows[data.train["user"].to_numpy(), data.train["item"].to_numpy()]).ravel()
    np.testing.assert_array_equal(values[fours], OBSERVED_ZERO)
    np.testing.assert_array_equal(values[~fours], data.train["rating"].to_numpy(np.float32)[~fours] - 4.0)
    assert (rows.toarray() != 0).sum() == len(data.train)


def zero_output(model):
    layer = model.net.get_layer("reconstruction")
    layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])


@pytest.mark.parametrize("name", AUTOENCODERS)
def test_a_net_that_outputs_zeros_predicts_the_baseline(name, tiny_data):
    data, _, _ = tiny_data
    model = fitted(name, data)
    zero_output(model)
    users = np.repeat(np.arange(data.n_users), data.n_items)
    items = np.tile(np.arange(data.n_items), data.n_users)
    expected = np.clip(model.biases.predict(users, items), *model.scale)
    np.testing.assert_array_equal(model.predict(users, items), expected)


def test_without_residual_the_reconstruction_is_the_rating(tiny_data):
    data, parts, _ = tiny_data
    model = fitted("autorec", data, residual=False)
    np.testing.assert_array_equal(model.inputs.toarray()[data.train["item"], data.train["user"]],
                                  data.train["rating"].to_numpy(np.float32))
    zero_output(model)
    test = parts["test"]
    warm = ~model.cold_mask(test["user"], test["item"])
    assert warm.any()
    assert (model.predict(test["user"], test["item"])[warm] == model.scale[0]).all()  # 0 clipped


@pytest.mark.parametrize("name,extra", [("autorec", {}), ("hybrid_autorec", {}), ("autorec", {"masked_loss": False}),
                                        ("deep_autorec", {"residual": False})])
def test_save_and_load_predict_the_same(name, extra, tiny_data, tmp_path):
    data, parts, _ = tiny_data
    model = fitted(name, data, **extra)
    test = parts["test"]
    pred = model.predict(test["user"].to_numpy(), test["item"].to_numpy())
    model.save(tmp_path / name)
    again = load_scorer(tmp_path / name)
    assert again.config == model.config
    np.testing.assert_array_equal(again.predict(test["user"].to_numpy(), test["item"].to_numpy()), pred)
    users = np.array([0, 1])
    np.testing.assert_array_equal(again.score_users(users), model.score_users(users))


def test_untrained_it_is_the_baseline(tiny_data, monkeypatch):
    """With residual, the reconstruction layer starts at zero: before any step the model is the baseline."""
    data, _, _ = tiny_data
    monkeypatch.setattr(KerasRecommender, "_run_fit", lambda self, *args, **kwargs: None)
    users = np.repeat(np.arange(data.n_users), data.n_items)
    items = np.tile(np.arange(data.n_items), data.n_users)
    for name in AUTOENCODERS:
        model = fitted(name, data)
        np.testing.assert_array_equal(model.predict(users, items), np.clip(model.biases.predict(users, items), 1, 5))
        assert fitted(name, data, residual=False).net.get_layer("reconstruction").get_weights()[0].any()  # random


def test_unmasked_residual_loss_pulls_unrated_entries_towards_the_baseline(tiny_data):
    """masked_loss false: the zeros of unrated entries it also fits are, with residual, corrections of 0 (the
    baseline), not ratings of 0, so the naive loss no longer drags predictions towards the bottom of the scale."""
    data, parts, _ = tiny_data
    test = parts["test"]
    users, items, truth = test["user"].to_numpy(), test["item"].to_numpy(), test["rating"].to_numpy()

    def rmse(model):
        return np.sqrt(np.mean((model.predict(users, items) - truth) ** 2))

    residual = fitted("autorec", data, masked_loss=False)
    raw = fitted("autorec", data, masked_loss=False, residual=False)
    base = np.sqrt(np.mean((np.clip(residual.biases.predict(users, items), 1, 5) - truth) ** 2))
    assert rmse(residual) < base + 0.05 < rmse(raw)


def test_embedding_mlp_learns_a_correction_to_the_baseline(tiny_data, run_fit_calls):
    """embedding_mlp's ``residual`` (the default): its targets are the train ratings' residuals, and a prediction
    (pairs and ranking's whole rows alike) is the baseline plus the network's output."""
    data, _, _ = tiny_data
    model = fitted("embedding_mlp", data)
    assert model.config.residual
    users, items = data.train["user"].to_numpy(), data.train["item"].to_numpy()
    expected = data.train["rating"].to_numpy(np.float32) - model.biases.predict(users, items)
    np.testing.assert_allclose(run_fit_calls[0]["y"], expected, atol=1e-6)
    model.shrink = 1.0  # its own predictions, whatever val said
    every_user = np.arange(data.n_users)
    pairs = model.predict(np.repeat(every_user, data.n_items), np.tile(np.arange(data.n_items), data.n_users))
    np.testing.assert_allclose(model.score_users(every_user), pairs.reshape(data.n_users, -1), rtol=1e-5, atol=1e-5)
    assert not np.allclose(pairs, np.clip(model.biases.predict(np.repeat(every_user, data.n_items),
                                                               np.tile(np.arange(data.n_items), data.n_users)), 1, 5))


@pytest.mark.parametrize("residual", [True, False])
def test_embedding_mlp_untrained_is_the_baseline_only_with_residual(residual, tiny_data, monkeypatch):
    data, _, _ = tiny_data
    monkeypatch.setattr(KerasRecommender, "_run_fit", lambda self, *args, **kwargs: None)
    model = fitted("embedding_mlp", data, residual=residual)
    model.shrink = 1.0
    users = np.repeat(np.arange(data.n_users), data.n_items)
    items = np.tile(np.arange(data.n_items), data.n_users)
    baseline = np.clip(model.biases.predict(users, items), *model.scale)
    assert np.array_equal(model.predict(users, items), baseline) == residual
