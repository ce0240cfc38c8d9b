"""The cross-validation table against hand-computed means and standard deviations, and its spread notes."""

import pandas as pd
import pytest

from pipeline.crossval import _value, markdown, spread_notes, summary_table

PER_FOLD = pd.DataFrame({
    "fold": ["u1", "u2", "u3"] * 2,
    "model": ["a"] * 3 + ["b"] * 3,
    "rmse": [0.90, 0.92, 0.94, 0.91, 0.93, 0.98],
    "mae": [0.70, 0.70, 0.70, 0.72, 0.74, 0.76],
})


def test_means_and_standard_deviations_by_hand():
    table = summary_table(PER_FOLD, ["rmse", "mae"])
    assert list(table.index) == ["a", "b"]  # best mean RMSE first
    assert table.loc["a", "rmse_mean"] == pytest.approx(0.92)
    assert table.loc["a", "rmse_std"] == pytest.approx(0.02)  # sqrt(((-.02)^2 + 0 + .02^2) / (3 - 1))
    assert table.loc["b", "rmse_mean"] == pytest.approx(0.94)
    assert table.loc["b", "rmse_std"] == pytest.approx(((0.03 ** 2 + 0.01 ** 2 + 0.04 ** 2) / 2) ** 0.5)
    assert table.loc["a", "mae_std"] == pytest.approx(0.0)
    text = markdown(table, ["rmse", "mae"], PER_FOLD)
    assert "| a | 0.9200 ± 0.0200 | 0.7000 ± 0.0000 |" in text


def test_the_spread_note_names_pairs_the_folds_cannot_separate():
    table = summary_table(PER_FOLD, ["rmse"])
    assert spread_notes(table) == ["a and b: mean RMSE 0.0200 apart, less than the fold-to-fold standard "
                                   "deviation (0.0361)"]
    apart = PER_FOLD.assign(rmse=[0.90, 0.901, 0.902, 0.95, 0.951, 0.952])
    assert spread_notes(summary_table(apart, ["rmse"])) == []
    assert "every neighbouring pair differs" in markdown(summary_table(apart, ["rmse"]), ["rmse"], apart)


def test_exp_show_columns_are_found_with_or_without_their_file():
    assert _value({"split.strategy": "predefined"}, "split.strategy") == "predefined"
    assert _value({"params.yaml:split.strategy": "users"}, "split.strategy") == "users"
    assert _value({"metrics/a.json:rmse": 0.9, "metrics/b.json:rmse": 1.0}, "rmse") is None  # ambiguous
