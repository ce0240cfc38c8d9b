"""One contract every registered model must meet (the registry drives it), and model-specific checks."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from conftest import fed, fitted, tiny_pipeline
from pipeline.lib import columns as C
from pipeline.lib.errors import PipelineError
from pipeline.lib.models import REGISTRY, build, load, load_scorer

MODELS = list(REGISTRY)


@pytest.mark.parametrize("name", MODELS)
def test_config_is_documented_and_refuses_unknown_keys(name):
    config = REGISTRY[name].Config
    for field, info in config.model_json_schema()["properties"].items():
        assert info.get("description"), f"{name}.{field} has no docstring"
    with pytest.raises(Exception, match="Extra inputs are not permitted"):
        config(bogus=1)
    config(**REGISTRY[name].quick)  # the quick settings are valid settings


@pytest.mark.parametrize("name", MODELS)
def test_model_contract(name, tiny_data, tmp_path):
    data, parts, _ = tiny_data
    model = fitted(name, data)
    test = parts["test"]
    pred = model.predict(test["user"].to_numpy(), test["item"].to_numpy())
    assert pred.shape == (len(test),) and pred.dtype == np.float32
    assert pred.min() >= 1.0 and pred.max() <= 5.0
    if "loss" in model.history:  # trained by epochs (the baseline is fitted in closed form)
        assert model.history["loss"][-1] < model.history["loss"][0]  # it learns
    assert len(model.history["val_rmse"]) >= 1
    # save and reload give the same predictions
    model.save(tmp_path / name)
    again = load_scorer(tmp_path / name)
    assert type(again) is type(model) and again.config == model.config
    np.testing.assert_allclose(again.predict(test["user"].to_numpy(), test["item"].to_numpy()), pred, rtol=1e-6)
    scores = again.score_users(np.array([0, 1]))
    assert scores.shape == (2, data.n_items)


@pytest.mark.parametrize("name", MODELS)
def test_cold_pairs_get_the_baseline_prediction(name, tiny_data):
    data, _, _ = tiny_data
    keep = data.train["item"] != 0  # make movie 0 cold
    data.train = data.train[keep]
    model = fitted(name, data)
    base = fitted("baseline", data)
    users = np.arange(5)
    items = np.zeros(5, dtype=int)
    assert model.cold_mask(users, items).all()
    np.testing.assert_allclose(model.predict(users, items), base.predict(users, items), rtol=1e-6)
    # Ranking's whole rows (a model's own fast path, if it has one) are predict's pairs, the cold movie included.
    pairs = model.predict(np.repeat(users, data.n_items), np.tile(np.arange(data.n_items), len(users)))
    np.testing.assert_allclose(model.score_users(users), pairs.reshape(len(users), -1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_two_runs_are_identical(name, tiny_data):
    data, parts, _ = tiny_data
    test = parts["test"]
    a = fitted(name, data).predict(test["user"].to_numpy(), test["item"].to_numpy())
    b = fitted(name, data).predict(test["user"].to_numpy(), test["item"].to_numpy())
    np.testing.assert_array_equal(a, b)


def test_masked_loss_by_hand():
    from pipeline.lib.models.layers import dense_mse, masked_mse
    from keras import ops

    y_true = np.array([[5.0, 0.0, 3.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    y_pred = np.array([[4.0, 2.0, 3.5], [9.0, 9.0, 2.0]], dtype=np.float32)
    # observed: (5,4) (3,3.5) (1,2): squares 1, .25, 1 -> 2.25 / 3; unobserved 2.0 and the 9s count for nothing
    assert float(ops.convert_to_numpy(masked_mse(y_true, y_pred))) == pytest.approx(0.75)
    # the naive loss fits the zeros too: (1 + 4 + .25 + 81 + 81 + 1) / 6
    assert float(ops.convert_to_numpy(dense_mse(y_true, y_pred))) == pytest.approx(168.25 / 6)


def test_naive_unmasked_autorec_differs(tiny_data):
    data, parts, _ = tiny_data
    test = parts["test"]
    masked = fitted("autorec", data).predict(test["user"].to_numpy(), test["item"].to_numpy())
    naive = fitted("autorec", data, masked_loss=False).predict(test["user"].to_numpy(), test["item"].to_numpy())
    assert not np.allclose(masked, naive)


@pytest.mark.parametrize("name, extra", [(name, {}) for name in MODELS] + [("autorec", {"orientation": "user"})],
                         ids=[*MODELS, "autorec-user"])
def test_no_hidden_rating_reaches_the_training_input(name, extra, tiny_data, run_fit_calls):
    """Every model, and autorec in the user orientation ml-latest-small's preset gives it."""
    data, parts, _ = tiny_data
    model = fitted(name, data, **extra)
    seen = {}
    if run_fit_calls:
        call = run_fit_calls[0]
        seen = {"x": call["x"], "y": call["y"], "item_based": getattr(call["model"], "item_based", False)}
    hidden = pd.concat([parts["val"], parts["test"]])
    if "x" not in seen:  # fitted outside Keras's fit (the baseline, a sampler; glocal_k's L-BFGS under JAX):
        # scrambled val ratings must not move what it learns from train
        val = data.val.assign(rating=data.val["rating"].to_numpy()[::-1])
        other = fitted(name, dataclasses.replace(data, val=val), **extra)
        np.testing.assert_array_equal(model.biases.user, other.biases.user)
        np.testing.assert_array_equal(model.biases.item, other.biases.item)
        from pipeline.lib.models.keras_base import KerasRecommender

        if not issubclass(REGISTRY[name], KerasRecommender):  # no early stopping: val chooses nothing at all
            users, items = hidden["user"].to_numpy(), hidden["item"].to_numpy()
            np.testing.assert_array_equal(model.predict(users, items), other.predict(users, items))
        return
    if isinstance(seen["x"], list):  # (user, movie) pair inputs
        trained_pairs = set(zip(seen["x"][0].tolist(), seen["x"][1].tolist()))
        assert not trained_pairs & set(zip(hidden["user"], hidden["item"]))
        assert len(seen["y"]) == len(parts["train"])
    else:  # rating vectors, batched from the train matrix: put back together what the batches feed
        x, y = fed(seen["x"])
        rows, cols = (hidden["item"], hidden["user"]) if seen["item_based"] else (hidden["user"], hidden["item"])
        assert (x[rows.to_numpy(), cols.to_numpy()] == 0).all()
        assert (y[rows.to_numpy(), cols.to_numpy()] == 0).all()
        assert (y != 0).sum() == len(parts["train"])



def test_nan_loss_stops_with_a_clear_message(tiny_data):
    data, _, _ = tiny_data
    with pytest.raises(PipelineError, match="train.mf: the loss became (nan|inf).*lower train.mf.learning_rate"):
        fitted("mf", data, learning_rate=1e30)


def test_empty_val_is_refused(tiny_data):
    data, _, _ = tiny_data
    data.val = data.val.iloc[:0]
    with pytest.raises(PipelineError, match="train.autorec: the val set is empty"):
        fitted("autorec", data)


def test_hybrid_without_demographics(tiny_data, capsys):
    data, parts, _ = tiny_data
    data.side_groups = {**data.side_groups, "demographics": []}
    with pytest.raises(PipelineError, match="no demographics side features; remove them"):
        fitted("hybrid_autorec", data, missing_side_features="error")
    model = fitted("hybrid_autorec", data, missing_side_features="warn")
    assert "going on with affinity" in capsys.readouterr().err
    assert model.side.shape[1] == len(data.side_groups["affinity"])


def test_unknown_model():
    with pytest.raises(PipelineError, match=f"unknown model 'svd'; known models: {', '.join(MODELS)}$"):
        build("svd")


def test_users_strategy_predicts_held_out_users(tiny):
    data, parts, _ = tiny_pipeline(tiny, strategy="users")
    model = fitted("deep_autorec", data)
    test = parts["test"]
    assert not model.cold_mask(test["user"].to_numpy(), test["item"].to_numpy()).all()
