"""bench/heavy_rater.py: the heaviest test user's numbers against hand-computed ones, and the column scaling."""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import heavy_rater  # noqa: E402
from pipeline.lib.models.autoencoders import AutoRec  # noqa: E402


@pytest.fixture
def restored(monkeypatch):
    """with_input patches AutoRec for the experiment; put back what it may change once the test ends."""
    for attr in ("_rows", "residual_input", "_side_features"):
        monkeypatch.setattr(AutoRec, attr, getattr(AutoRec, attr))


def test_reports_the_heaviest_test_user_beside_the_baseline(project, restored, capsys):
    heavy_rater.main(["--data", str(project), "--params", str(project / "params.yaml"), "--set", "epochs=2",
                      "--set", "hidden_units=8"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    test = pd.read_parquet(project / "split" / "test.parquet")
    heavy = test["user"].value_counts()
    mine = test[test["user"] == heavy.index[0]]
    assert out["heaviest_test_user"]["test_ratings"] == heavy.iloc[0]
    assert out["heaviest_test_user"]["mean_true"] == round(mine["rating"].mean(), 3)
    baseline = json.loads((project / "metrics" / "baseline.json").read_text())
    assert out["baseline_test_rmse"] == pytest.approx(baseline["rmse"], abs=1e-4)  # the baseline scorer's own
    assert 0 < out["test_rmse"] < 5 and 0 < out["val_rmse"] < 5


def test_column_power_scales_each_input_column_by_its_count(tiny_data, restored):
    data = tiny_data[0]
    raw = AutoRec()._rows(data, False)
    heavy_rater.with_input("ratings", 0.5)
    scaled = AutoRec()._rows(data, False)
    n = np.diff(raw.tocsc().indptr).astype(float)
    factor = np.sqrt(np.median(n[n > 0]) / np.maximum(n, 1))
    assert sp.issparse(scaled) and (scaled != 0).sum() == raw.nnz
    assert scaled.toarray() == pytest.approx(raw.toarray() * factor[None, :], rel=1e-6)
    assert factor.min() < 1 < factor.max()  # the fixture has heavier and lighter columns than the median
