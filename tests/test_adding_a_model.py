"""A model defined and registered here, in the test alone, goes through train, evaluate, blend and report:
adding a model needs its own file and nothing else (docs/adding-a-model.md)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import NonNegativeFloat

from conftest import PROJECT_MODELS, evaluate_args
from pipeline import blend, evaluate, report, train
from pipeline.lib.errors import PipelineError
from pipeline.lib.models import REGISTRY, register
from pipeline.lib.models.base import Recommender
from pipeline.lib.models.config import ModelConfig
from pipeline.lib.params import load_params


class ItemMeanConfig(ModelConfig):
    shrinkage: NonNegativeFloat = 5.0
    """Pseudo-ratings at the global mean added to each movie's ratings."""


class ItemMean(Recommender):
    """Each movie's shrunk mean rating: a model with no Keras at all."""

    name = "item_mean"
    Config = ItemMeanConfig

    def _fit(self, data, callbacks, verbose):
        t = data.train
        sums = np.bincount(t["item"], t["rating"], minlength=data.n_items)
        counts = np.bincount(t["item"], minlength=data.n_items)
        k = self.config.shrinkage
        self.means = ((sums + k * self.biases.mu) / (counts + k)).astype(np.float32)
        val = data.val
        self.history = {"val_rmse": [float(np.sqrt(np.mean((self.predict(val["user"], val["item"]) - val["rating"]) ** 2)))]}
        self.best_epoch = 1

    def _predict_raw(self, users, items):
        return self.means[items]

    def count_params(self):
        return len(self.means)

    def _save(self, folder: Path):
        np.save(folder / "means.npy", self.means)

    def _load(self, folder: Path):
        self.means = np.load(folder / "means.npy")


@pytest.fixture
def registered():
    register(ItemMean)
    yield ItemMean
    del REGISTRY[ItemMean.name]


def test_a_model_registered_here_goes_through_every_stage(registered, project, tmp_path):
    params = yaml.safe_load((project / "params.yaml").read_text())
    with pytest.raises(PipelineError, match="unknown key train.item_mea;"):  # its schema is its Config
        load_params(write(tmp_path, {**params, "train": {**params["train"], "item_mea": {}}}))
    params["train"]["models"] = [*PROJECT_MODELS, "item_mean"]
    params["train"]["item_mean"] = {"shrinkage": 2.0}
    path = write(tmp_path, params)
    assert load_params(path)["train"]["item_mean"] == {"shrinkage": 2.0, "presets": {}}

    root = tmp_path / "p"  # a copy of the fixture project, which stays as it was for the other tests
    for name in ("prepared", "split", "features", "models", "predictions", "metrics"):
        shutil.copytree(project / name, root / name)
    p = ["--params", str(path)]
    assert train.main(p + ["--model", "item_mean", "--prepared", str(root / "prepared"), "--split",
                           str(root / "split"), "--features", str(root / "features"), "--out",
                           str(root / "models" / "item_mean"), "--predictions",
                           str(root / "predictions" / "val" / "item_mean.parquet")]) == 0
    assert evaluate.main(p + [str(a) for a in evaluate_args(root, "item_mean")]) == 0
    assert blend.main(p + ["--prepared", str(root / "prepared"), "--split", str(root / "split"), "--predictions",
                           str(root / "predictions" / "val"), "--out", str(root / "models" / "blend")]) == 0
    assert evaluate.main(p + [str(a) for a in evaluate_args(root, "blend")]) == 0
    assert report.main(p + ["--prepared", str(root / "prepared"), "--split", str(root / "split"), "--models",
                            str(root / "models"), "--metrics", str(root / "metrics"), "--predictions",
                            str(root / "predictions" / "test"), "--out", str(root / "reports")]) == 0

    metrics = json.loads((root / "metrics" / "item_mean.json").read_text())
    assert 0 < metrics["rmse"] < 2 and metrics["epochs"] == 1
    assert "item_mean" in json.loads((root / "models" / "blend" / "model.json").read_text())["weights"]
    assert "| item_mean |" in (root / "reports" / "leaderboard.md").read_text()


def write(tmp_path, params):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path
