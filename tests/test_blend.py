"""The blend: weights against hand-computed cases, fitted on val only, and at least as good as any model on val."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

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
                                       "--predictions", project / "predictions" / "val", "--out", out))


def test_blend_stage_never_opens_test(project, tmp_path):
    """The blend is fitted from val alone: with only val.parquet in the split folder it fits the same blend."""
    val_only = tmp_path / "split"
    val_only.mkdir()
    shutil.copy(project / "split" / "val.parquet", val_only / "val.parquet")
    assert run_blend(project, val_only, tmp_path / "blend") == 0
    assert (tmp_path / "blend" / "model.json").read_text() == (project / "models" / "blend" / "model.json").read_text()


def test_the_blend_is_scored_like_a_model(project):
    metrics = json.loads((project / "metrics" / "blend.json").read_text())
    model = json.loads((project / "metrics" / "mf.json").read_text())
    # the same test metrics as a model, and no fields that only a model trained by epochs has
    assert set(metrics) - {"fallback"} == set(model) - {"epochs", "device", "replicas", "baseline_fallback", "shrink"}
    spec = json.loads((project / "models" / "blend" / "info.json").read_text())
    assert spec["val_rmse"]["blend"] <= min(spec["val_rmse"][m] for m in PROJECT_MODELS) + 1e-9
    weights = json.loads((project / "models" / "blend" / "model.json").read_text())["weights"]
    assert set(weights) == set(PROJECT_MODELS)  # a weight for each model (ridge by default: any sign)
    plot = pd.read_csv(project / "metrics" / "predicted_vs_actual" / "blend.csv")
    assert list(plot.columns) == ["actual", "predicted"] and (plot["predicted"] * 2 % 1 == 0).all()


def test_blend_stage_names_a_missing_model(project, tmp_path, capsys):
    predictions = tmp_path / "val"
    shutil.copytree(project / "predictions" / "val", predictions)
    (predictions / "mf.parquet").unlink()
    code = blend_stage.main(stage_args(project, "--prepared", project / "prepared", "--split", project / "split",
                                       "--predictions", predictions, "--out", tmp_path / "blend"))
    assert code == 2 and not (tmp_path / "blend").exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{predictions / 'mf.parquet'}: not found" in err


def fit(x, y, **kw):
    return Blend.fit({f"m{i}": x[:, i] for i in range(x.shape[1])}, y, kw.get("method", "nnls"), 1.0,
                     kw.get("min_val_ratings", 20), (1.0, 5.0), 10)


def test_too_few_val_ratings_fall_back_to_the_best_model_with_a_warning(rng, capsys):
    y = np.array([4.0, 2.0])
    x = np.column_stack([y + 1.0, y + 0.1, y - 2.0])  # m1 is best; any fit on 2 ratings would be noise
    blend = fit(x, y)
    assert blend.fallback and "2 val ratings for 3 models" in blend.fallback
    assert blend.weights == {"m0": 0.0, "m1": 1.0, "m2": 0.0} and blend.intercept == 0.0
    np.testing.assert_allclose(blend.combine(x), x[:, 1])
    assert "using the best single model, m1, instead (1 fallback)" in capsys.readouterr().err
    assert fit(np.repeat(x, 30, axis=0), np.repeat(y, 30)).fallback is None  # 60 >= 20 per model: fitted


def test_a_fit_that_does_not_beat_the_best_model_falls_back(rng):
    y = rng.integers(1, 6, 300).astype(float)
    x = np.column_stack([y, rng.uniform(1, 5, 300)])  # m0 is exact: nothing can beat an RMSE of 0
    blend = fit(x, y)
    assert blend.fallback.startswith("its val RMSE") and blend.weights == {"m0": 1.0, "m1": 0.0}


def test_a_fallback_is_recorded_in_the_metrics(project, tmp_path):
    from conftest import evaluate_args
    from pipeline import evaluate

    root = tmp_path / "p"
    for name in ("prepared", "split", "predictions"):
        shutil.copytree(project / name, root / name)
    shutil.copytree(project / "models", root / "models", ignore=shutil.ignore_patterns("blend"))
    args = stage_args(project, "--prepared", root / "prepared", "--split", root / "split", "--predictions",
                      root / "predictions" / "val", "--out", root / "models" / "blend")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["blend"]["min_val_ratings"] = 10**6
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    args[1] = str(tmp_path / "params.yaml")
    assert blend_stage.main(args) == 0
    assert evaluate.main([*args[:2], *map(str, evaluate_args(root, "blend"))]) == 0
    metrics = json.loads((root / "metrics" / "blend.json").read_text())
    best = min(PROJECT_MODELS, key=lambda m: json.loads((project / "metrics" / f"{m}.json").read_text())["val_rmse"])
    assert metrics["fallback"] == 1
    assert metrics["rmse"] == json.loads((project / "metrics" / f"{best}.json").read_text())["rmse"]
