"""The report: the leaderboard and error-by-activity table against hand-computed values, the stage's files, and
the committed README and reports/ against the committed metrics/."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import PROJECT_MODELS, ROOT, stage_args
from pipeline import report as report_stage
from pipeline.lib import report as R

METRICS = {
    "b": {"rmse": 0.95, "mae": 0.75, "ndcg_at_10": 0.07, "val_rmse": 0.94, "train_seconds": 0.12},
    "a": {"rmse": 0.89812, "rmse_ci_low": 0.85, "rmse_ci_high": 0.951, "mae": 0.70001, "ndcg_at_10": 0.16,
          "val_rmse": 0.88, "epochs": 12, "train_seconds": 25.26},
    "c": {"rmse": 0.99, "mae": 0.8, "ndcg_at_10": 0.05, "val_rmse": 0.97, "train_seconds": 1.0},
}


def test_leaderboard_is_sorted_by_rmse_marks_the_indistinguishable_and_reads_back():
    text = R.leaderboard(METRICS, 10, {"a": (0.0, 0.0, 0.0), "b": (0.05188, -0.01, 0.12), "c": (0.0919, 0.02, 0.16)})
    lines = text.splitlines()
    assert lines[0] == "| rank | model | RMSE | Δ RMSE vs best | MAE | NDCG@10 | val RMSE | epochs | train s |"
    assert lines[2] == "| 1 | a | 0.8981 [0.8500, 0.9510] | best | 0.7000 | 0.1600 | 0.8800 | 12 | 25.3 |"
    # b's interval contains 0: not distinguishable from the best; c's does not; b has no epochs
    assert lines[3] == "| 2 | b | 0.9500 | +0.0519 [-0.0100, +0.1200] ≈ | 0.7500 | 0.0700 | 0.9400 | - | 0.1 |"
    assert lines[4].startswith("| 3 | c | 0.9900 | +0.0919 [+0.0200, +0.1600] | ")
    assert "95% bootstrap intervals" in text
    table = R.parse_leaderboard(text)
    assert table["a"]["RMSE"] == 0.8981 and table["b"]["train s"] == 0.1 and table["b"]["epochs"] is None
    assert table["b"]["Δ RMSE vs best"] == 0.0519 and table["a"]["Δ RMSE vs best"] == "best"


def test_versus_baseline_column_marks_the_models_the_test_set_cannot_separate_from_it():
    versus_best = {"a": (0.0, 0.0, 0.0), "b": (0.05188, -0.01, 0.12), "c": (0.0919, 0.02, 0.16)}
    # a beats the baseline b beyond its interval, c loses to it beyond its interval; no column without the dict
    text = R.leaderboard(METRICS, 10, versus_best, 0.9, {"a": (-0.05188, -0.12, -0.001), "c": (0.04, 0.0001, 0.08)})
    lines = text.splitlines()
    assert lines[0].split(" | ")[3:5] == ["Δ RMSE vs best", "Δ RMSE vs baseline"]
    assert lines[1].count("|") == lines[0].count("|")
    assert " | best | -0.0519 [-0.1200, -0.0010] | 0.7000 | " in lines[2]
    assert " | +0.0519 [-0.0100, +0.1200] ≈ | - | 0.7500 | " in lines[3]  # the baseline itself: -
    assert " | +0.0919 [+0.0200, +0.1600] | +0.0400 [+0.0001, +0.0800] ▲ | 0.8000 | " in lines[4]
    assert "90% bootstrap intervals" in text and "▲ one worse than it" in text
    near = R.leaderboard(METRICS, 10, versus_best, 0.95, {"a": (-0.01, -0.03, 0.0), "c": (0.01, -0.001, 0.02)})
    assert "-0.0100 [-0.0300, +0.0000] ≈" in near and "+0.0100 [-0.0010, +0.0200] ≈" in near
    assert R.parse_leaderboard(text)["c"]["Δ RMSE vs baseline"] == 0.04
    assert "vs baseline" not in R.leaderboard(METRICS, 10, versus_best)


def test_error_by_activity_by_hand():
    # user 0 has 1 train rating, user 1 has 3, user 2 has none (cold)
    train = pd.DataFrame({"user": [0, 1, 1, 1]})
    test = pd.DataFrame({"user": [0, 0, 1, 2], "item": [5, 6, 5, 5], "rating": [4.0, 2.0, 3.0, 5.0]})
    pred = np.array([3.0, 2.0, 3.5, 3.0])  # aligned with test's rows
    table = R.error_by_activity(train, test, {"m": pred}, edges=[1, 2])
    assert list(table["group"]) == ["0 (cold)", "1-1", "2+"]
    assert table["rmse"].to_numpy() == pytest.approx([2.0, np.sqrt(0.5), 0.5])
    assert list(table["ratings"]) == [1, 2, 1] and list(table["users"]) == [1, 1, 1]


def test_report_stage_writes_a_leaderboard_matching_metrics_and_figures(project, tmp_path):
    out = tmp_path / "reports"
    assert report_stage.main(stage_args(project, "--prepared", project / "prepared", "--split", project / "split",
                                        "--models", project / "models", "--metrics", project / "metrics",
                                        "--predictions", project / "predictions" / "test", "--out", out)) == 0
    assert {p.name for p in out.iterdir()} == {"leaderboard.md", "error_by_activity.csv", "learning_curves.png",
                                               "error_by_activity.png", "rating_distribution.png",
                                               "val_rmse_per_epoch.csv"}
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert_leaderboard_matches(out / "leaderboard.md", project / "metrics", PROJECT_MODELS + ["blend"])
    table = R.parse_leaderboard((out / "leaderboard.md").read_text())
    rmse = {n: json.loads((project / "metrics" / f"{n}.json").read_text())["rmse"] for n in table}
    assert table["baseline"]["Δ RMSE vs baseline"] is None
    for name in set(table) - {"baseline"}:  # the paired difference's point is the difference of the two RMSEs
        assert table[name]["Δ RMSE vs baseline"] == pytest.approx(rmse[name] - rmse["baseline"], abs=1.1e-4), name
    curves = pd.read_csv(out / "val_rmse_per_epoch.csv")
    for name in PROJECT_MODELS:  # one row per epoch of each model trained by epochs, as in its history
        history = json.loads((project / "models" / name / "history.json").read_text())["val_rmse"]
        assert curves.loc[curves["model"] == name, "val_rmse"].tolist() == pytest.approx(history, abs=5e-6)
    assert "blend" not in set(curves["model"])


def shown(value, digits):
    """The number as the leaderboard prints it: compared exactly, since a tolerance fails at a rounding half (a
    train time of 0.75 s shows as 0.8)."""
    return float(f"{value:.{digits}f}")


def assert_leaderboard_matches(leaderboard, metrics_dir, names):
    text = leaderboard.read_text()
    table = R.parse_leaderboard(text)
    cells = {line.split("|")[2].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert set(table) == set(names)
    for name in names:
        m = json.loads((metrics_dir / f"{name}.json").read_text())
        row = table[name]
        assert row["RMSE"] == shown(m["rmse"], 4), name
        if "rmse_ci_low" in m:
            assert f"[{m['rmse_ci_low']:.4f}, {m['rmse_ci_high']:.4f}]" in cells[name]
        assert row["MAE"] == shown(m["mae"], 4), name
        assert row["NDCG@10"] == shown(m["ndcg_at_10"], 4), name
        assert row["train s"] == shown(m["train_seconds"], 1), name
        assert row["val RMSE"] == shown(m["val_rmse"], 4), name
        assert row["epochs"] == m.get("epochs"), name
    ranks = sorted(table, key=lambda n: table[n]["rank"])
    assert [table[n]["RMSE"] for n in ranks] == sorted(table[n]["RMSE"] for n in ranks)


def test_committed_leaderboard_matches_committed_metrics_and_readme():
    """reports/ and README.md must come from the same run as metrics/ (python -m pipeline.report --sync-readme)."""
    import yaml

    names = yaml.safe_load((ROOT / "params.yaml").read_text())["train"]["models"] + ["blend"]
    assert_leaderboard_matches(ROOT / "reports" / "leaderboard.md", ROOT / "metrics", names)
    readme = (ROOT / "README.md").read_text()
    block = readme.split(R.LEADERBOARD_START, 1)[1].split(R.LEADERBOARD_END, 1)[0]
    assert block.strip() == (ROOT / "reports" / "leaderboard.md").read_text().strip()


def test_sync_readme_replaces_only_the_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{R.LEADERBOARD_START}\nold table\n{R.LEADERBOARD_END}\noutro\n")
    board = tmp_path / "leaderboard.md"
    board.write_text("| new |\n")
    assert report_stage.main(["--sync-readme", "--out", str(tmp_path), "--readme", str(readme)]) == 0
    assert readme.read_text() == f"intro\n{R.LEADERBOARD_START}\n| new |\n{R.LEADERBOARD_END}\noutro\n"
