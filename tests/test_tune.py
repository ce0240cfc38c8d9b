"""bench/tune.py: a grid over train.<model> keys, trained on the fixture project's train and val, ranked by val."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import tune  # noqa: E402


def test_grid_is_ranked_by_val_and_names_the_command(project, tmp_path, capsys):
    out = tmp_path / "trials.json"
    tune.main(["--model", "mf", "--data", str(project), "--params", str(project / "params.yaml"),
               "--set", "l2=0|30", "--set", "factors=2", "--out", str(out)])
    saved = json.loads(out.read_text())
    trials = saved["trials"]
    assert sorted(t["l2"] for t in trials) == [0, 30]
    assert [t["val_rmse"] for t in trials] == sorted(t["val_rmse"] for t in trials)
    assert trials[0]["val_rmse"] < trials[1]["val_rmse"]  # a penalty of 30 per rating leaves mf at its biases
    printed = capsys.readouterr().out
    best = trials[0]
    assert f"-S 'train.mf.l2={best['l2']}' -S 'train.mf.factors=2'" in printed
    assert printed.index(f"| 1 | {best['l2']} | 2 |") < printed.index(f"| 2 | {trials[1]['l2']} | 2 |")


def test_an_unknown_key_is_one_line(project):
    with pytest.raises(SystemExit, match="train.mf's keys: .*factors"):
        tune.main(["--model", "mf", "--data", str(project), "--params", str(project / "params.yaml"),
                   "--set", "units=3"])


def test_rank_keeps_grid_order_on_ties():
    trials = [{"a": 1, "val_rmse": 0.9}, {"a": 2, "val_rmse": 0.8}, {"a": 3, "val_rmse": 0.9}]
    assert [t["a"] for t in tune.rank(trials)] == [2, 1, 3]
