"""The blend: weights against hand-computed cases, fitted on val only, and at least as good as any model on val."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import PROJECT_MODELS, stage_args
from pipeline import blend as blend_stage
from pipeline.lib.blend import Blend, fit_weights
from pipeline.lib.errors import PipelineError


def test_nnls_recovers_exact_weights_and_intercept(rng):
    x = rng.uniform(1, 5, size=(200, 3))
    y = 0.25 + 0.6 * x[:, 0] + 0.3 * x[:, 2]
    intercept, w = fit_weights(x, y, "nnls")
    assert intercept == pytest.approx(0.25, abs=1e-9)
    assert w == pytest.approx([0.6, 0.0, 0.3], abs=1e-9)


def test_nnls_never_gives_a_negative_weight_where_least_squares_would(rng):
    good = rng.uniform(1, 5, 300)
    y = good + rng.normal(0, 0.1, 300)
    x = np.column_stack([good, 6 - y + rng.normal(0, 0.5, 300)])  # anti-correlated: OLS wants a negative weight
    ols = np.linalg.lstsq(np.column_stack([np.ones(300), x]), y, rcond=None)[0]
    assert ols[2] < 0
    _, w = fit_weights(x, y, "nnls")
    assert w[1] == 0 and w[0] > 0.9


def test_ridge_with_no_penalty_is_least_squares_and_a_penalty_shrinks(rng):
    x = rng.uniform(1, 5, size=(100, 2))
    y = 1.0 + 0.5 * x[:, 0] - 0.2 * x[:, 1] + rng.normal(0, 0.1, 100)
    coef = np.linalg.lstsq(np.column_stack([np.ones(100), x]), y, rcond=None)[0]
    intercept, w = fit_weights(x, y, "ridge", alpha=0.0)
    assert intercept == pytest.approx(coef[0]) and w == pytest.approx(coef[1:])
    _, shrunk = fit_weights(x, y, "ridge", alpha=1e4)
    assert np.abs(shrunk).sum() < np.abs(w).sum()


def test_empty_val_is_an_error():
    with pytest.raises(PipelineError, match="val set is empty"):
        fit_weights(np.empty((0, 2)), np.empty(0))


def test_combine_clips_to_the_scale():
    blend = Blend(0.5, {"a": 1.0, "b": 0.5}, scale=(1.0, 5.0))
    assert blend.combine(np.array([[4.0, 4.0], [0.0, 0.0], [2.0, 1.0]])) == pytest.approx([5.0, 1.0, 3.0])


def run_blend(project, split, out):
    return blend_stage.main(stage_args(project, "--prepared", project / "prepared", "--split", split,
                                       "--models", project / "models", "--out", out / "blend",
                                       "--metrics", out / "blend.json", "--plot", out / "blend.csv"))


def test_blend_stage_fits_on_val_only(project, tmp_path):
    """Scrambling the test ratings must change the blend's test metrics and nothing in its weights."""
    assert run_blend(project, project / "split", tmp_path / "a") == 0
    scrambled = tmp_path / "split"
    shutil.copytree(project / "split", scrambled)
    test = pd.read_parquet(scrambled / "test.parquet")
    test["rating"] = (6.0 - test["rating"]).astype(test["rating"].dtype)
    test.to_parquet(scrambled / "test.parquet", index=False)
    assert run_blend(project, scrambled, tmp_path / "b") == 0

    weights = [json.loads((tmp_path / run / "blend" / "weights.json").read_text()) for run in "ab"]
    assert weights[0] == weights[1]
    metrics = [json.loads((tmp_path / run / "blend.json").read_text()) for run in "ab"]
    assert metrics[0]["rmse"] != metrics[1]["rmse"]
    # the same keys as a model's metrics, so dvc metrics diff and the report treat it as one more model
    model_keys = set(json.loads((project / "metrics" / "mf.json").read_text()))
    assert set(metrics[0]) == model_keys


def test_blend_is_at_least_as_good_as_every_model_on_val(project, tmp_path):
    assert run_blend(project, project / "split", tmp_path) == 0
    spec = json.loads((tmp_path / "blend" / "weights.json").read_text())
    assert set(spec["weights"]) == set(PROJECT_MODELS)
    assert all(w >= 0 for w in spec["weights"].values())
    assert spec["val_rmse"]["blend"] <= min(spec["val_rmse"][m] for m in PROJECT_MODELS) + 1e-9
    plot = pd.read_csv(tmp_path / "blend.csv")
    assert list(plot.columns) == ["actual", "predicted"] and (plot["predicted"] * 2 % 1 == 0).all()


def test_blend_stage_names_a_missing_model(project, tmp_path, capsys):
    models = tmp_path / "models"
    shutil.copytree(project / "models", models)
    shutil.rmtree(models / "mf")
    code = blend_stage.main(stage_args(project, "--prepared", project / "prepared", "--split", project / "split",
                                       "--models", models, "--out", tmp_path / "blend",
                                       "--metrics", tmp_path / "blend.json"))
    assert code == 2 and not (tmp_path / "blend").exists() and not (tmp_path / "blend.json").exists()
    assert "mf/predictions_val.parquet: not found; run `dvc repro train@mf` first" in capsys.readouterr().err
