"""pipeline.lib.dag: dvc.yaml's stages expanded as DVC expands them, and which stage makes a path."""

import os
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from pipeline.lib import dag
from repo import ROOT

DVC_YAML = """
stages:
  prepare:
    cmd: python -m pkg.prepare --out data/prepared
      --seed ${seed}
    deps:
      - pkg/prepare.py
      - data/raw
    params:
      - seed
    outs:
      - data/prepared
  train:
    matrix:
      model: ${models}
    cmd: python -m pkg.train --model ${item.model} --out models/${item.model} --verbose ${verbose}
    deps:
      - data/prepared
    params:
      - train.${item.model}
    outs:
      - models/${item.model}
    metrics:
      - metrics/${item.model}.json:
          cache: false
    plots:
      - plots/${item.model}.csv:
          x: epoch
  grid:
    matrix:
      lr: [0.1, 0.01]
      layers: [[8], [16, 8]]
    cmd: echo ${item.lr} ${item.layers[0]}
    outs:
      - grid/${item.lr}-${item.layers[0]}
  each:
    foreach: ${models}
    do:
      cmd: echo ${item}
      wdir: sub
      outs:
        - out/${item}.txt
  steps:
    cmd:
      - echo one
      - echo two
    outs:
      - steps.txt
"""
PARAMS = {"seed": 7, "verbose": False, "models": ["mf", "autorec"], "train": {"mf": {}, "autorec": {}}}


@pytest.fixture
def small(tmp_path):
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    return dag.load(tmp_path)


def test_matrix_expands_into_one_stage_per_item(small):
    assert list(small.stages) == ["prepare", "train@mf", "train@autorec", "grid@0.1-layers0", "grid@0.1-layers1",
                                  "grid@0.01-layers0", "grid@0.01-layers1", "each@mf", "each@autorec", "steps"]
    mf = small.stages["train@mf"]
    assert mf.cmd == "python -m pkg.train --model mf --out models/mf --verbose false"
    assert mf.deps == ["data/prepared"]
    assert mf.outs == ["models/mf", "metrics/mf.json", "plots/mf.csv"]  # metrics and plots are outputs too
    assert mf.params == ["train.mf"]
    assert small.stages["grid@0.01-layers1"].cmd == "echo 0.01 16"


def test_plain_stage_foreach_wdir_and_command_lists(small):
    prepare = small.stages["prepare"]
    assert prepare.cmd == "python -m pkg.prepare --out data/prepared --seed 7"  # a folded line: one space
    assert prepare.deps == ["pkg/prepare.py", "data/raw"] and prepare.outs == ["data/prepared"]
    assert small.stages["each@autorec"].outs == ["sub/out/autorec.txt"]
    assert small.stages["steps"].cmd == "echo one && echo two"


def test_producer_is_the_stage_whose_output_holds_the_path(small, tmp_path):
    assert small.producer("data/prepared") == "prepare"
    assert small.producer("data/prepared/ratings.parquet") == "prepare"
    assert small.producer("models/mf/weights.h5") == "train@mf"
    assert small.producer("metrics/autorec.json") == "train@autorec"
    assert small.producer(tmp_path / "models" / "autorec" / "x") == "train@autorec"  # absolute
    assert small.producer("data/raw/u.data") is None  # an input nobody makes
    assert small.producer("data") is None  # a folder above an output is not made by its stage
    assert small.producer("models/mfx") is None  # a name that merely starts like an output
    assert small.producer(tmp_path.parent / "models" / "mf") is None  # outside the repository


def test_module_level_producer_finds_the_nearest_dvc_yaml(small, tmp_path, monkeypatch):
    (tmp_path / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "deep" / "er")
    assert dag.producer(tmp_path / "models" / "mf" / "x") == "train@mf"
    monkeypatch.chdir(tmp_path.parent)  # no dvc.yaml here or above: no producer, and no exception
    assert dag.producer("models/mf") is None


def test_undefined_variable_is_named(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo ${nope.x}\n")
    with pytest.raises(dag.DagError, match=r"\$\{nope.x\}: not defined"):
        dag.load(tmp_path)
    assert dag.producer("a", root=tmp_path) is None  # producer only decorates messages: it never raises


def test_repository_dvc_yaml():
    repo = dag.load(ROOT)
    models = yaml.safe_load((ROOT / "params.yaml").read_text())["train"]["models"]
    for model in models:
        assert f"train@{model}" in repo.stages and f"evaluate@{model}" in repo.stages
        assert repo.producer(f"models/{model}/info.json") == f"train@{model}"
        assert f"--model {model}" in repo.stages[f"train@{model}"].cmd
    assert repo.producer("data/split/train.parquet") == "split"
    assert repo.producer(ROOT / "data" / "prepared" / "meta.json") == "reindex"
    assert repo.producer("pipeline/train.py") is None
    for stage in repo.stages.values():
        assert "${" not in stage.cmd + " ".join(stage.deps + stage.outs), stage.name


def test_same_expansion_as_dvc_itself(tmp_path):
    """DVC's own parser, on copies of the repository's files and of the small example, agrees stage by stage."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    (tmp_path / "small").mkdir()
    (tmp_path / "small" / "dvc.yaml").write_text(textwrap.dedent(DVC_YAML))
    (tmp_path / "small" / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    (tmp_path / "repo").mkdir()
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, tmp_path / "repo" / name)
    for folder in ("small", "repo"):
        root = tmp_path / folder
        ours = {s.name: (s.cmd, s.deps, s.outs) for s in dag.stages(root)}

        def from_root(stage, path):  # DVC keeps paths relative to the stage's wdir; ours are from the root
            return Path(os.path.relpath(os.path.join(stage.wdir, path), root)).as_posix()

        with Repo(str(root), uninitialized=True) as repo:
            theirs = {s.name: (s.cmd if isinstance(s.cmd, str) else " && ".join(s.cmd),
                               [from_root(s, d.def_path) for d in s.deps if not isinstance(d, ParamsDependency)],
                               [from_root(s, o.def_path) for o in s.outs]) for s in repo.index.stages}
        assert ours == theirs, folder
