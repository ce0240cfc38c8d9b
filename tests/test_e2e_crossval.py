"""`python -m pipeline.crossval` end to end: each fold a real `dvc exp run --temp` of the whole pipeline on a fixture
archive with its fold files, then the table from those experiments. Two folds (``--folds``) and the baseline alone
(no stage imports Keras) keep it short; the table's code is tested on hand-computed numbers in test_crossval.py."""

import re
import sys

import numpy as np
import pandas as pd
import pytest

from movielens_fixtures import make_tiny, write_ml100k
from pipeline.lib.models import REGISTRY
from pipeline.lib.models.biases import fit_biases
from repo import make_repo, run
from test_folds import write_fold_files

FOLDS = ["u1", "u2"]


def quick(params):
    params["split"]["min_ratings"] = 3
    params["train"]["models"] = ["baseline"]
    params["recommend"]["model"] = "baseline"


def read(folder, name):
    return pd.read_csv(folder / name, sep="\t", header=None, names=["user", "item", "rating", "time"])


@pytest.mark.slow
def test_crossval_runs_each_fold_as_an_experiment_and_tabulates_them(tmp_path):
    source = write_ml100k(tmp_path / "ml-100k", make_tiny(n_users=40, n_items=60, seed=8))
    write_fold_files(source, (source / "u.data").read_text().splitlines())
    repo = make_repo(tmp_path / "repo", source, quick)
    done = run([sys.executable, "-m", "pipeline.crossval", "--folds", *FOLDS], repo)
    assert "crossval: done: 2 folds" in done.stdout
    per_fold = pd.read_csv(repo / "reports" / "cross_validation_folds.csv")
    assert sorted(per_fold["fold"].unique()) == FOLDS and set(per_fold["model"]) == {"baseline", "blend"}
    assert per_fold.groupby("fold")["experiment"].nunique().eq(1).all() and per_fold["experiment"].nunique() == 2

    # each fold's baseline is that fold's: with train.refit auto it was fitted again on the whole u<k>.base, so
    # its test RMSE is that of biases fitted by hand on u<k>.base, scored on u<k>.test
    config = {k: v for k, v in REGISTRY["baseline"].Config().model_dump().items() if k != "presets"}
    for fold in FOLDS:
        base, test = read(source, f"{fold}.base"), read(source, f"{fold}.test")
        n_users, n_items = int(max(base.user.max(), test.user.max())) + 1, int(max(base.item.max(), test.item.max())) + 1
        biases = fit_biases(base.user.to_numpy(), base.item.to_numpy(), base.rating.to_numpy(), n_users, n_items,
                            **config)
        pred = np.clip(biases.predict(test.user.to_numpy(), test.item.to_numpy()), 1, 5)
        mine = float(np.sqrt(np.mean((pred - test.rating.to_numpy()) ** 2)))
        theirs = per_fold.query("fold == @fold and model == 'baseline'")["rmse"].item()
        assert theirs == pytest.approx(mine, abs=1e-5), fold
    assert per_fold.query("model == 'baseline'")["rmse"].nunique() == 2  # two folds, two test sets

    # the table: mean and standard deviation over the two folds, as computed here
    table = (repo / "reports" / "cross_validation.md").read_text()
    assert table.startswith("# Cross-validation over ml-100k's folds u1, u2")
    for model, rows in per_fold.groupby("model"):
        cell = re.search(rf"^\| {model} \| ([0-9.]+) ± ([0-9.]+) \|", table, re.M)
        assert cell, model
        assert float(cell[1]) == pytest.approx(rows["rmse"].mean(), abs=1e-4)
        assert float(cell[2]) == pytest.approx(rows["rmse"].std(ddof=1), abs=1e-4)
