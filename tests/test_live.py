"""Per-epoch curves through DVCLive: the Keras 3 callback writes one row per epoch with the same val RMSE as the
model's history; the baseline, which has no epoch loop, gets its one row."""

import sys

import pandas as pd
import pytest

from pipeline.lib.models import build
from pipeline.lib.models.keras_base import seed_everything
from pipeline.lib.training import finish_live, live_callback
from pipeline.lib.models import REGISTRY


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """DVCLive's default (dvcyaml="dvc.yaml") writes ./dvc.yaml: run where that shows, not in the repository."""
    monkeypatch.chdir(tmp_path)


def fit_logged(name, data, folder):
    seed_everything(0)
    model = build(name, **REGISTRY[name].quick)
    live = live_callback(folder)
    model.fit(data, callbacks=[live])
    finish_live(live, model.history)
    return model, live


def curve(folder):
    return pd.read_csv(folder / "plots" / "metrics" / "eval" / "rmse.tsv", sep="\t")


def test_every_epoch_is_logged(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dvclive.keras", None)  # never needed: it would import TensorFlow under JAX
    model, live = fit_logged("mf", tiny_data[0], tmp_path / "dvclive")
    rows = curve(tmp_path / "dvclive")
    assert rows["step"].tolist() == list(range(len(model.history["val_rmse"])))
    assert rows["rmse"].tolist() == pytest.approx(model.history["val_rmse"])
    loss = pd.read_csv(tmp_path / "dvclive" / "plots" / "metrics" / "train" / "loss.tsv", sep="\t")
    assert loss["loss"].tolist() == pytest.approx(model.history["loss"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dvclive"]  # no dvc.yaml of DVCLive's own


def test_the_baseline_gets_its_single_point(tiny_data, tmp_path):
    model, _ = fit_logged("baseline", tiny_data[0], tmp_path / "dvclive")
    rows = curve(tmp_path / "dvclive")
    assert rows["step"].tolist() == [0] and rows["rmse"].tolist() == pytest.approx(model.history["val_rmse"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dvclive"]
