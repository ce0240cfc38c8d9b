import copy
from pathlib import Path

import pytest
import yaml

from pipeline.lib.errors import PipelineError
from pipeline.lib.models import REGISTRY
from pipeline.lib.params import load_params, schema
from pipeline.lib.sections import load_section

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


def test_repository_params_are_the_code_defaults():
    """params.yaml holds every key with the value the code declares as its default (one home for each)."""
    assert load_params(ROOT / "params.yaml") == DEFAULT  # every key present, nothing coerced
    defaults = schema()().model_dump()
    for section, values in DEFAULT.items():
        if section == "train":
            for name, cls in REGISTRY.items():
                assert values[name] == cls.Config().model_dump(), f"train.{name} differs from {cls.__name__}.Config"
            values = {k: v for k, v in values.items() if k not in REGISTRY}
            defaults[section] = {k: v for k, v in defaults[section].items() if k not in REGISTRY}
            values.pop("models")  # which models run is a choice, not a default
            defaults[section].pop("models")
        assert values == defaults[section], f"params.yaml section {section} differs from the code's defaults"


def test_every_registered_model_has_its_section():
    assert set(REGISTRY) <= set(DEFAULT["train"])
    assert set(DEFAULT["train"]["models"]) == {name for name, cls in REGISTRY.items() if cls.in_default_run}


@pytest.mark.parametrize("edit, message", [
    (lambda p: p["data"].update(dataset="ml-5k"), "data.dataset: Input should be 'ml-100k', 'ml-1m'"),
    (lambda p: p["split"].update(strategy="kfold"), "split.strategy: Input should be 'users', 'random', 'temporal' or 'predefined', got 'kfold'"),
    (lambda p: p["split"]["random"].update(test_fraction=1.5), "split.random.test_fraction: Input should be less than 1"),
    (lambda p: p["train"]["mf"].update(factors=0), "train.mf.factors: Input should be greater than 0, got 0"),
    (lambda p: p["train"]["mf"].update(epochs="ten"), "train.mf.epochs: Input should be a valid integer"),
    (lambda p: p["train"]["mf"].update(factor=3), "unknown key train.mf.factor; allowed keys in train.mf: epochs, batch_size"),
    (lambda p: p["train"].update(models=["mf", "svd"]), "train.models[1]: Input should be 'autorec'"),
    (lambda p: p["train"].update(models=["mf", "mf"]), "train.models: must be distinct"),
    (lambda p: p["train"]["autorec"].update(masked_loss="yes"), "train.autorec.masked_loss: Input should be a valid boolean"),
    # a key that takes one of several types names every one, once, at the key (not at pydantic's member names)
    (lambda p: p["train"].update(refit="yes"), "train.refit: Input should be 'auto' or a valid boolean, got 'yes'"),
    (lambda p: p["train"].update(devices=0), "train.devices: Input should be 'auto' or greater than 0, got 0"),
    (lambda p: p.update(bogus=1), "unknown key bogus; allowed keys at the top level: data, reindex, split"),
    (lambda p: p["evaluate"].update(K=5), "unknown key evaluate.K; allowed keys in evaluate: k, relevance_threshold"),
    (lambda p: p["train"].update(epochs=5), "unknown key train.epochs; allowed keys in train: models, seed"),
    (lambda p: p["data"].update(source_path="x"), "unknown key data.source_path; allowed keys in data: dataset, source"),
    (lambda p: p["split"]["users"].update(val_users=0.6, test_users=0.5), "split.users: val_users + test_users must be < 1"),
    (lambda p: p["blend"].update(method="stacking"), "blend.method: Input should be 'nnls' or 'ridge', got 'stacking'"),
    (lambda p: p["report"].update(activity_edges=[50, 10]), "report: activity_edges must be increasing"),
    (lambda p: (p["train"].update(models=["baseline", "mf"]), p["recommend"].update(model="autorec")),
     "recommend.model must be one of baseline, mf, blend, got 'autorec'"),
    (lambda p: p["recommend"].update(k=0), "recommend.k: Input should be greater than 0, got 0"),
    (lambda p: p["train"]["mf"].update(learning_rate=float("nan")), "train.mf.learning_rate: Input should be a finite number"),
    (lambda p: p["train"]["autorec"].update(presets={"ml-99k": {}}),
     "train.autorec.presets.ml-99k.[key]: Input should be 'ml-100k', 'ml-1m'"),
    (lambda p: p["train"]["autorec"].update(presets={"ml-1m": {"orientation": "diagonal"}}),
     "train.autorec: presets.ml-1m.orientation: Input should be 'item' or 'user', got 'diagonal'"),
    (lambda p: p["train"]["mf"].update(presets={"ml-1m": {"factor": 8}}),
     "train.mf: unknown key presets.ml-1m.factor; allowed keys in a preset: epochs, batch_size, learning_rate, "
     "patience, factors, l2"),
])
def test_bad_params_name_the_key_and_what_is_allowed(tmp_path, edit, message):
    with pytest.raises(PipelineError) as err:
        load_with(tmp_path, edit)
    assert message in str(err.value)
    assert str(err.value).startswith(str(tmp_path / "params.yaml"))
    assert "\n" not in str(err.value)


def test_a_stage_validates_its_own_section_without_model_code(tmp_path):
    params = copy.deepcopy(DEFAULT)
    params["split"]["seed"] = -1
    path = write(tmp_path, params)
    with pytest.raises(PipelineError, match=r"split.seed: Input should be greater than or equal to 0, got -1"):
        load_section("split", path)
    assert load_section("evaluate", path) == DEFAULT["evaluate"]


def test_float_written_without_a_dot_is_accepted(tmp_path):
    path = tmp_path / "params.yaml"
    params = copy.deepcopy(DEFAULT)
    params["train"]["mf"]["learning_rate"] = "LR"
    path.write_text(yaml.safe_dump(params).replace("learning_rate: LR", "learning_rate: 3e-3"))
    assert "3e-3" in path.read_text()
    assert load_params(path)["train"]["mf"]["learning_rate"] == pytest.approx(3e-3)


def test_missing_or_broken_file_names_line_and_column(tmp_path):
    with pytest.raises(PipelineError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("data:\n  dataset: ml-100k\n  source: [auto\nsplit: {}\n")
    with pytest.raises(PipelineError) as err:
        load_params(tmp_path / "bad.yaml")
    assert str(err.value).startswith(f"{tmp_path / 'bad.yaml'}:4:6: not valid YAML: expected ','")
    (tmp_path / "list.yaml").write_text("- data\n")
    with pytest.raises(PipelineError, match="must be a mapping of sections"):
        load_params(tmp_path / "list.yaml")
