"""bench/accuracy.py: each scorer's paired test-RMSE difference to the baseline, from the evaluate stage's files."""

import json
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import accuracy  # noqa: E402


def test_versus_baseline_is_each_rmse_minus_the_baselines_with_an_interval_around_it(project):
    metrics = {p.stem: json.loads(p.read_text()) for p in (project / "metrics").glob("*.json")}
    assert "baseline" in metrics and len(metrics) > 2
    bootstrap = yaml.safe_load((project / "params.yaml").read_text())["evaluate"]["bootstrap"]
    out = accuracy.versus_baseline(project / "split", project / "predictions" / "test", list(metrics), bootstrap)
    assert set(out) == set(metrics) - {"baseline"}
    for name, d in out.items():  # the metrics files' RMSEs are rounded to 5 digits
        assert d["diff"] == pytest.approx(metrics[name]["rmse"] - metrics["baseline"]["rmse"], abs=2e-5), name
        assert d["low"] < d["diff"] < d["high"], name
