"""bench/summary.py: the cross-split table marks a model at or above its split's baseline and one that ran to
its epoch limit, and nothing else."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import summary  # noqa: E402

PARAMS = {"train": {"baseline": {"sweeps": 10}, "mf": {"epochs": 10}, "glocal_k": {"epochs": 6, "pretrain_epochs": 4}}}


def result(models):
    return {"models": {name: {"rmse": r, "val_rmse": v, "epochs": e} for name, (r, v, e) in models.items()}}


def test_marks_above_baseline_and_epoch_limit(tmp_path, capsys):
    (tmp_path / "accuracy_a.json").write_text(json.dumps(result(
        {"baseline": (0.95, 0.94, 1), "mf": (0.95, 0.90, 4), "glocal_k": (0.90, 0.88, 10)})))
    (tmp_path / "accuracy_b.json").write_text(json.dumps(result(
        {"baseline": (0.95, 0.94, 1), "mf": (0.9499, 0.90, 10), "glocal_k": (0.90, 0.88, 9)})))
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps(PARAMS))  # JSON is YAML
    summary.main(["a", "b", "--results", str(tmp_path), "--params", str(params)])
    rows = {line.split(" | ")[0].strip("| "): line for line in capsys.readouterr().out.splitlines()}
    assert rows["baseline"] == "| baseline | 0.9500 (0.9400) | 0.9500 (0.9400) |"
    assert rows["mf"] == "| mf | 0.9500 (0.9000) ▲ | 0.9499 (0.9000) ⏹ |"
    assert rows["glocal_k"] == "| glocal_k | 0.9000 (0.8800) ⏹ | 0.9000 (0.8800) |"


def test_an_epochs_override_is_the_limit():
    doc = {"models": {"mf": {"rmse": 0.9, "val_rmse": 0.9, "epochs": 3}}, "overrides": {"train.mf.epochs": 3}}
    assert summary.table({"x": doc}, PARAMS).endswith("| mf | 0.9000 (0.9000) ⏹ |")


def test_the_preset_of_the_runs_dataset_is_the_limit():
    """As in the pipeline, a preset of the run's data.dataset wins over the section and over a --set."""
    params = {"data": {"dataset": "ml-100k"},
              "train": {"mf": {"epochs": 10, "presets": {"ml-latest-small": {"epochs": 3}}}}}
    doc = {"models": {"mf": {"rmse": 0.9, "val_rmse": 0.9, "epochs": 3}}}
    on_small = {"data.dataset": "ml-latest-small", "train.mf.epochs": 5}
    assert summary.table({"x": {**doc, "overrides": on_small}}, params).endswith("| mf | 0.9000 (0.9000) ⏹ |")
    assert summary.table({"x": doc}, params).endswith("| mf | 0.9000 (0.9000) |")  # ml-100k: the limit is 10
