"""train.refit: after early stopping on val, a model is trained again on train + val for the epochs val chose; the
blend, val RMSE and the shrink keep using the held-out model, so nothing reported about val was fitted on it."""

from typing import get_args

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import fitted

from pipeline import train
from pipeline.lib.io import read_json
from pipeline.lib.models import REGISTRY, load_scorer
from pipeline.lib.sections import SECTIONS

REFITTING = [name for name, cls in REGISTRY.items() if cls.refits]


def pairs(frame):
    return frame["user"].to_numpy(), frame["item"].to_numpy()


@pytest.mark.parametrize("name", REFITTING)
def test_a_refit_model_learns_from_val_for_the_epochs_val_chose(tiny_data, monkeypatch, name):
    import keras

    restores = []
    stopping = keras.callbacks.EarlyStopping

    def spy(*args, **kwargs):
        restores.append(kwargs["restore_best_weights"])
        return stopping(*args, **kwargs)

    monkeypatch.setattr(keras.callbacks, "EarlyStopping", spy)
    data, _, _ = tiny_data
    held = fitted(name, data)
    model = held.refit(data)
    # the held-out fit keeps its best val epoch; the refit, whose val is in train, its last epoch (a model fitted
    # without Keras has no early stopping: its sweeps are its own)
    from pipeline.lib.models.keras_base import KerasRecommender

    assert restores == ([True, False] if issubclass(REGISTRY[name], KerasRecommender) else [])
    both = data.with_val_in_train()
    biases = fitted("baseline", both).biases  # the baseline, fitted on train + val
    users, items = pairs(data.val)
    assert np.allclose(model.biases.predict(users, items), biases.predict(users, items))
    assert not np.allclose(model.biases.predict(users, items), held.biases.predict(users, items))
    assert len(next(iter(model.refit_history.values()))) == held.best_epoch
    assert (model.shrink, model.shrunk_val_rmse, model.best_epoch) == (held.shrink, held.shrunk_val_rmse,
                                                                       held.best_epoch)
    assert model.history == held.history and model.held_out is held
    assert len(both.train) == len(data.train) + len(data.val)  # every train and val rating, none twice


def test_a_model_that_fell_back_to_the_baseline_still_does_after_the_refit(tiny_data):
    data, _, _ = tiny_data
    held = fitted("mf", data)
    held.shrink = 0.0  # as if its corrections had pointed the wrong way on val
    model = held.refit(data)
    users, items = pairs(data.val)
    assert model.is_baseline
    assert np.allclose(model.predict(users, items), np.clip(model.biases.predict(users, items), *model.scale))


def run_train(project, tmp_path, name, refit, strategy="random"):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["refit"] = refit
    params["split"]["strategy"] = strategy  # only read for refit auto: the split's data stay the project's
    path = tmp_path / f"params_{refit}_{strategy}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    out, val = tmp_path / f"{name}_{refit}_{strategy}", tmp_path / f"{name}_{refit}_{strategy}.parquet"
    args = ["--params", path, "--model", name, "--prepared", project / "prepared", "--split", project / "split",
            "--features", project / "features", "--out", out, "--predictions", val]
    assert train.main([str(a) for a in args]) == 0
    return out, pd.read_parquet(val)


def test_the_train_stage_saves_the_refit_model_and_the_held_out_val_predictions(project, tmp_path, capsys):
    held_dir, held_val = run_train(project, tmp_path, "mf", False)
    capsys.readouterr()
    refit_dir, refit_val = run_train(project, tmp_path, "mf", True)
    assert "refit on train + val for" in capsys.readouterr().out
    pd.testing.assert_frame_equal(held_val, refit_val)  # what the blend is fitted on did not see val
    info, held_info = read_json(refit_dir / "info.json"), read_json(held_dir / "info.json")
    assert info["refit"]["epochs"] == held_info["best_epoch"] and "refit" not in held_info
    val = pd.read_parquet(project / "split" / "val.parquet")
    assert info["refit"]["ratings"] == len(pd.read_parquet(project / "split" / "train.parquet")) + len(val)
    assert info["summary"]["val_rmse"] == held_info["summary"]["val_rmse"]
    users, items = pairs(val)
    saved = load_scorer(refit_dir).predict(users, items)
    assert not np.allclose(saved, held_val["prediction"].to_numpy())
    # from the same seeded start as the held-out model: refitting it by hand, reseeded, gives the same model
    from pipeline.lib.models.keras_base import seed_everything
    from pipeline.lib.training import load_train_data

    params = yaml.safe_load((project / "params.yaml").read_text())["train"]
    data = load_train_data(project / "prepared", project / "split", project / "features", params["baseline"])
    seed_everything(params["seed"])
    held = load_scorer(held_dir)
    held.best_epoch, held.history = held_info["best_epoch"], read_json(held_dir / "history.json")
    seed_everything(params["seed"])
    assert np.array_equal(held.refit(data).predict(users, items), saved)


@pytest.mark.parametrize("name", [name for name, cls in REGISTRY.items() if not cls.refits])
def test_a_model_that_does_not_refit_is_saved_as_trained(tiny_data, tmp_path, name):
    from pipeline.lib.training import train_and_save

    data, _, _ = tiny_data
    model, info = train_and_save(name, REGISTRY[name].quick, 0, data, tmp_path / name, refit=True)
    assert model.held_out is None and "refit" not in info
    users, items = pairs(data.val)
    assert np.array_equal(load_scorer(tmp_path / name).predict(users, items), model.predict(users, items))


@pytest.mark.parametrize("strategy", get_args(SECTIONS["split"].model_fields["strategy"].annotation))
def test_auto_refits_unless_the_split_holds_out_users(project, tmp_path, capsys, strategy):
    out, _ = run_train(project, tmp_path, "baseline", "auto", strategy)
    said = capsys.readouterr().out
    refitted = "refit on train + val for" in said
    assert refitted == ("refit" in read_json(out / "info.json")) == (strategy != "users")
    assert "baseline: 1 epoch on" in said and ("for 1 epoch in" in said) == refitted  # one fit of the biases


def test_refit_must_be_a_boolean_or_auto(tmp_path):
    from conftest import ROOT

    from pipeline.lib.errors import PipelineError
    from pipeline.lib.params import load_params

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"]["refit"] = "yes"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(PipelineError, match=r"train\.refit.*auto"):
        load_params(path)
