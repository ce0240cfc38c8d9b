"""A trained model no better than the bias baseline on val answers with the baseline (falls_back_to_baseline):
never worse than the baseline on val, by construction. Measured by val only; test is not read."""

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


def test_a_model_worse_than_the_baseline_on_val_predicts_it(tiny_data, monkeypatch, capsys, tmp_path):
    data, parts, _ = tiny_data
    # A network that learned nothing useful: every warm prediction 1 star.
    monkeypatch.setattr(BiasedMF, "_predict_raw", lambda self, users, items: np.ones(len(users), np.float32))
    model = fitted("mf", data)
    base = fitted("baseline", data)
    assert model.is_baseline and model.baseline_val_rmse == pytest.approx(val_rmse(base, data))
    warning = capsys.readouterr().err  # one counted warning, with both val RMSEs
    assert f"is not below the bias baseline's ({model.baseline_val_rmse:.4f})" in warning
    assert warning.startswith("warning: train.mf: val RMSE ") and "(1 fallback)" in warning
    test = parts["test"]
    users, items = test["user"].to_numpy(), test["item"].to_numpy()
    np.testing.assert_allclose(model.predict(users, items), base.predict(users, items), rtol=1e-6)
    np.testing.assert_allclose(model.score_users(np.arange(3)), base.score_users(np.arange(3)), rtol=1e-6)
    model.save(tmp_path / "mf")
    again = load_scorer(tmp_path / "mf")
    assert again.is_baseline and again.baseline_val_rmse == model.baseline_val_rmse


def test_a_model_better_than_the_baseline_answers_itself(tiny_data, tmp_path):
    data, _, _ = tiny_data
    model = fitted("mf", data)
    base = fitted("baseline", data)
    assert val_rmse(model, data) < val_rmse(base, data)
    assert not model.is_baseline and model.baseline_val_rmse is None
    model.save(tmp_path / "mf")
    assert not load_scorer(tmp_path / "mf").is_baseline


def test_the_baseline_is_never_replaced(tiny_data):
    data, _, _ = tiny_data
    assert not fitted("baseline", data).is_baseline


def test_the_train_stage_records_it(tiny_data, monkeypatch, tmp_path):
    from pipeline.lib.training import train_and_save

    data, _, _ = tiny_data
    monkeypatch.setattr(BiasedMF, "_predict_raw", lambda self, users, items: np.ones(len(users), np.float32))
    model, info = train_and_save("mf", REGISTRY["mf"].quick, 0, data, tmp_path / "mf")
    assert info["summary"]["baseline_fallback"] == 1 and info["best_epoch"] == 0
    assert info["summary"]["val_rmse"] == round(model.baseline_val_rmse, 6)  # what it predicts, not its network's
