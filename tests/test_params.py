import copy
from pathlib import Path

import pytest
import yaml

from pipeline.lib.errors import PipelineError
from pipeline.lib.params import load_params

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((ROOT / "params.yaml").read_text())


def write(tmp_path, params) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def load_with(tmp_path, edit):
    params = copy.deepcopy(DEFAULT)
    edit(params)
    return load_params(write(tmp_path, params))


def test_repository_params_are_valid():
    params = load_params(ROOT / "params.yaml")
    assert params["data"]["dataset"] == "ml-100k"


@pytest.mark.parametrize("edit, message", [
    (lambda p: p["data"].update(dataset="ml-5k"), "data.dataset must be one of ml-100k"),
    (lambda p: p["split"].update(strategy="kfold"), "split.strategy must be one of users, random, temporal"),
    (lambda p: p["split"]["random"].update(test_fraction=1.5), "split.random.test_fraction must be a number > 0.0"),
    (lambda p: p["train"]["mf"].update(factors=0), "train.mf.factors must be an integer >= 1, got 0"),
    (lambda p: p["train"]["mf"].update(epochs="ten"), "train.mf.epochs must be an integer"),
    (lambda p: p["train"]["mf"].update(factor=3), "unknown key train.mf.factor; allowed keys: factors"),
    (lambda p: p["train"]["mf"].pop("l2"), "missing key train.mf.l2"),
    (lambda p: p["train"].update(models=["mf", "svd"]), "train.models[1] must be one of baseline"),
    (lambda p: p["train"]["autorec"].update(masked_loss="yes"), "train.autorec.masked_loss must be true or false"),
    (lambda p: p.update(extra={}), "unknown key extra"),
    (lambda p: p["split"]["users"].update(val_users=0.6, test_users=0.5), "val_users + split.users.test_users"),
    (lambda p: p["blend"].update(method="stacking"), "blend.method must be one of nnls, ridge, got 'stacking'"),
    (lambda p: p["report"].update(activity_edges=[50, 10]), "report.activity_edges must be increasing"),
    (lambda p: (p["train"].update(models=["baseline", "mf"]), p["recommend"].update(model="autorec")),
     "recommend.model must be one of train.models (baseline, mf) or blend, got 'autorec'"),
    (lambda p: p["recommend"].update(k=0), "recommend.k must be an integer >= 1, got 0"),
])
def test_bad_params_name_the_key_and_what_is_allowed(tmp_path, edit, message):
    with pytest.raises(PipelineError) as err:
        load_with(tmp_path, edit)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_float_written_without_a_dot_is_accepted(tmp_path):
    path = tmp_path / "params.yaml"
    params = copy.deepcopy(DEFAULT)
    params["train"]["mf"]["learning_rate"] = "LR"
    path.write_text(yaml.safe_dump(params).replace("learning_rate: LR", "learning_rate: 3e-3"))
    assert "3e-3" in path.read_text()
    assert load_params(path)["train"]["mf"]["learning_rate"] == pytest.approx(3e-3)


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(PipelineError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("data: [unclosed\n")
    with pytest.raises(PipelineError, match="not valid YAML"):
        load_params(tmp_path / "bad.yaml")
