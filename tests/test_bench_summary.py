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


def test_a_column_of_several_runs_shows_means_and_paired_differences(tmp_path, capsys):
    """Two seeds: mf below its run's baseline in one, above in the other; the mean difference decides the mark."""
    runs = {"s1": {"baseline": (0.95, 0.94, 1), "mf": (0.93, 0.90, 4)},
            "s2": {"baseline": (0.99, 0.96, 1), "mf": (1.00, 0.92, 10)}}
    for name, models in runs.items():
        (tmp_path / f"accuracy_{name}.json").write_text(json.dumps(result(models)))
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps(PARAMS))
    summary.main(["both=s1+s2", "s2", "--results", str(tmp_path), "--params", str(params)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| model | both | s2 |"
    rows = {line.split(" | ")[0].strip("| "): line for line in lines}
    assert rows["baseline"] == "| baseline | 0.9700 (0.9500) | 0.9900 (0.9600) |"
    # differences -0.02 and +0.01: mean -0.005, standard deviation 0.0212 (ddof 1), below in 1 of 2
    assert rows["mf"] == "| mf | 0.9650 (0.9100) -0.0050 ± 0.0212, 1/2 ⏹ 1 | 1.0000 (0.9200) ▲ ⏹ |"
    runs["s2"]["mf"] = (1.04, 0.92, 3)  # now +0.05: the mean difference is above 0
    (tmp_path / "accuracy_s2.json").write_text(json.dumps(result(runs["s2"])))
    assert "+0.0150 ± 0.0495, 1/2 ▲ |" in summary.table(
        {"both": [json.loads((tmp_path / f"accuracy_{n}.json").read_text()) for n in ("s1", "s2")]}, PARAMS)
