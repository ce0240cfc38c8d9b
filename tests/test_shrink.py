"""Every trained model predicts w * its own rating + (1 - w) * the bias baseline's, w in [0, 1] fitted on val by
least squares (Recommender.shrinks_to_baseline); w = 0 answers with the baseline. Never worse than the baseline on
val, by construction. Measured by val only; test is not read."""

import numpy as np
import pytest
from conftest import fitted

from pipeline.lib.metrics import rmse
from pipeline.lib.models import REGISTRY, load_scorer
from pipeline.lib.models.embeddings import BiasedMF

pytestmark = pytest.mark.baseline_fallback


def val_rmse(model, data):
    v = data.val
    return rmse(v["rating"].to_numpy(), model.predict(v["user"].to_numpy(), v["item"].to_numpy()))


def on_val(data, gain):
    """A network answering baseline + gain * (the val rating - baseline) on val pairs, where that stays on the scale,
    and the baseline elsewhere: gain 1.5 overshoots every correction by half, gain -1 points each the wrong way."""
    truth = dict(zip(zip(data.val["user"], data.val["item"]), data.val["rating"]))

    def predict_raw(self, users, items):
        base = self.biases.predict(users, items).astype(np.float64)
        rating = np.array([truth.get(pair, np.nan) for pair in zip(users, items)])
        out = base + gain * (rating - base)
        return np.where(np.isnan(out) | (out < 1) | (out > 5), base, out).astype(np.float32)
    return predict_raw


def test_a_model_that_points_the_wrong_way_predicts_the_baseline(tiny_data, monkeypatch, capsys, tmp_path):
    data, parts, _ = tiny_data
    monkeypatch.setattr(BiasedMF, "_predict_raw", on_val(data, -1.0))
    model = fitted("mf", data)
    base = fitted("baseline", data)
    assert model.shrink == 0.0 and model.is_baseline
    assert model.shrunk_val_rmse == pytest.approx(val_rmse(base, data))
    warning = capsys.readouterr().err  # one counted warning, with the baseline's val RMSE
    assert f"do not help on val (baseline's val RMSE {model.shrunk_val_rmse:.4f})" in warning
    assert warning.startswith("warning: train.mf: val RMSE ") and "(1 fallback)" in warning
    test = parts["test"]
    users, items = test["user"].to_numpy(), test["item"].to_numpy()
    np.testing.assert_allclose(model.predict(users, items), base.predict(users, items), rtol=1e-6)
    np.testing.assert_allclose(model.score_users(np.arange(3)), base.score_users(np.arange(3)), rtol=1e-6)
    model.save(tmp_path / "mf")
    again = load_scorer(tmp_path / "mf")
    assert again.is_baseline and again.shrunk_val_rmse == model.shrunk_val_rmse


def test_an_overshooting_model_is_scaled_back_by_hand_computed_weight(tiny_data, monkeypatch, tmp_path):
    """Corrections 1.5 times too large: the least-squares weight is 1 / 1.5, and the shrunk model is exact on val."""
    data, parts, _ = tiny_data
    monkeypatch.setattr(BiasedMF, "_predict_raw", on_val(data, 1.5))
    model = fitted("mf", data)
    assert model.shrink == pytest.approx(1 / 1.5, abs=1e-6)
    base = np.clip(model.biases.predict(data.val["user"].to_numpy(), data.val["item"].to_numpy()), 1, 5)
    shrunk = model.predict(data.val["user"].to_numpy(), data.val["item"].to_numpy())
    moved = np.abs(shrunk - base) > 1e-6  # the val pairs whose overshoot stayed on the scale
    assert moved.sum() > 10
    np.testing.assert_allclose(shrunk[moved], data.val["rating"].to_numpy()[moved], atol=1e-5)
    assert model.shrunk_val_rmse == pytest.approx(val_rmse(model, data))
    model.save(tmp_path / "mf")
    again = load_scorer(tmp_path / "mf")
    assert again.shrink == model.shrink
    np.testing.assert_array_equal(again.predict(parts["test"]["user"].to_numpy(), parts["test"]["item"].to_numpy()),
                                  model.predict(parts["test"]["user"].to_numpy(), parts["test"]["item"].to_numpy()))


@pytest.mark.parametrize("name", ["mf", "autorec", "embedding_mlp"])
def test_a_shrunk_model_mixes_its_own_prediction_and_the_baseline_in_pairs_and_rows(name, tiny_data):
    """mf and embedding_mlp rank from whole rows, autorec from its codes: ranking applies the same mix as predict."""
    data, parts, _ = tiny_data
    model = fitted(name, data)
    model.shrink = 1.0
    every_user = np.arange(data.n_users)
    users, items = np.repeat(every_user, data.n_items), np.tile(np.arange(data.n_items), data.n_users)
    own = model.predict(users, items)
    model.shrink = 0.25
    expected = 0.25 * own + 0.75 * np.clip(model.biases.predict(users, items), 1, 5)
    cold = model.cold_mask(users, items)
    expected[cold] = np.clip(model.biases.predict(users[cold], items[cold]), 1, 5)
    np.testing.assert_allclose(model.predict(users, items), expected, rtol=1e-6)
    np.testing.assert_allclose(model.score_users(every_user), expected.reshape(data.n_users, -1), rtol=1e-5)


def test_the_weight_is_the_val_least_squares_slope_capped_at_one(tiny_data):
    data, _, _ = tiny_data
    model = fitted("mf", data)
    users, items, truth = data.val["user"].to_numpy(), data.val["item"].to_numpy(), data.val["rating"].to_numpy()
    base = np.clip(model.biases.predict(users, items), 1, 5)
    kept, model.shrink = model.shrink, 1.0
    change = model.predict(users, items) - base
    slope = ((truth - base) @ change) / (change @ change)
    model.shrink = kept
    assert model.shrink == pytest.approx(min(max(slope, 0.0), 1.0), abs=1e-6)
    assert val_rmse(model, data) <= val_rmse(fitted("baseline", data), data) + 1e-9


def test_the_baseline_is_never_shrunk(tiny_data):
    data, _, _ = tiny_data
    model = fitted("baseline", data)
    assert model.shrink == 1.0 and not model.is_baseline


def test_the_train_stage_records_it(tiny_data, monkeypatch, tmp_path):
    from pipeline.lib.training import train_and_save

    data, _, _ = tiny_data
    monkeypatch.setattr(BiasedMF, "_predict_raw", on_val(data, 1.5))
    model, info = train_and_save("mf", REGISTRY["mf"].quick, 0, data, tmp_path / "mf")
    assert info["summary"]["shrink"] == round(model.shrink, 6) and info["summary"]["baseline_fallback"] == 0
    assert info["summary"]["val_rmse"] == round(model.shrunk_val_rmse, 6)  # what it predicts, not its network's
    monkeypatch.setattr(BiasedMF, "_predict_raw", on_val(data, -1.0))
    model, info = train_and_save("mf", REGISTRY["mf"].quick, 0, data, tmp_path / "mf2")
    assert info["summary"]["baseline_fallback"] == 1 and info["best_epoch"] == 0 and info["summary"]["shrink"] == 0
