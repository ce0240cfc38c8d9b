"""dvc repro of the whole pipeline on a fixture archive at two epochs per model, then the experiment workflow on
it: a param change re-runs only what depends on it, `dvc exp run -S`, metrics diff, plots.

Four of the default models, one of each kind the stages treat differently: the baseline (no Keras), an item
autoencoder (recommend's default model), the autoencoder that reads the features stage, a pair model. Each
further model adds a train and two evaluate runs (about 15 s); every registered model trains, saves and reloads in
test_models.py, and goes through the train stage's code there and in the project fixture (conftest.py)."""

import csv
import io
import json
import shutil
import sys

import pytest

from movielens_fixtures import make_tiny, write_ml100k, zip_folder
from pipeline.lib.models import REGISTRY
from repo import DEFAULT_MODELS, ROOT, dvc, edit_params, make_repo, run

REQUIRED = {"rmse", "mae", "mape", "precision_at_10", "recall_at_10", "ndcg_at_10", "n_test", "n_cold",
            "train_seconds", "epochs", "device", "replicas"}


MODELS = ["baseline", "autorec", "hybrid_autorec", "mf"]


def quick(params):
    params["split"]["min_ratings"] = 3
    params["train"]["models"] = MODELS
    for name, cls in REGISTRY.items():
        params["train"][name].update({k: (2 if k == "epochs" else v) for k, v in cls.quick.items()})


def ran(stdout):
    return {line.split("'")[1] for line in stdout.splitlines() if line.startswith("Running stage")}


@pytest.mark.slow
def test_dvc_repro_trains_and_evaluates_the_models(tmp_path):
    tiny = make_tiny(n_users=50, n_items=70, seed=5)
    archive = zip_folder(write_ml100k(tmp_path / "src", tiny), tmp_path / "ml-100k.zip", "ml-100k")
    repo = make_repo(tmp_path / "repo", archive, quick)
    dvc("repro", cwd=repo)
    models = MODELS
    assert set(MODELS) <= set(DEFAULT_MODELS)
    metrics = {m: json.loads((repo / f"metrics/{m}.json").read_text()) for m in models}
    for name, values in metrics.items():
        assert REQUIRED <= set(values), name
        assert 0 < values["rmse"] < 5 and values["device"] == "cpu"
        assert json.loads((repo / f"models/{name}/model.json").read_text())["name"] == name
    assert metrics["mf"]["epochs"] == 2
    blend = json.loads((repo / "metrics/blend.json").read_text())
    assert not {"epochs", "device", "replicas"} & set(blend)  # no fake fields
    for name in models:  # DVCLive's per-epoch files, inside each model's stage output
        curve = (repo / f"models/{name}/dvclive/plots/metrics/eval/rmse.tsv").read_text().splitlines()
        assert curve[0] == "step\trmse" and len(curve) == 1 + metrics[name]["epochs"]
    assert {"blend", *models} == {p.stem for p in (repo / "metrics").glob("*.json")}
    assert (repo / "reports/leaderboard.md").exists() and (repo / "data/recommendations.parquet").exists()
    assert json.loads(dvc("status", "--json", cwd=repo).stdout) == {"check": ["always changed"]}
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", "baseline run"], repo)
    # check runs every time; blend and what reads every model follow any model
    downstream = {"check", "blend", "evaluate-blend", "report", "recommend"}

    # an experiment on one model's param re-runs that model's stages and what reads every model, nothing else
    done = dvc("exp", "run", "-S", "train.mf.factors=3", cwd=repo)
    assert ran(done.stdout) == {"train@mf", "evaluate@mf"} | downstream
    diff = json.loads(dvc("metrics", "diff", "--json", cwd=repo).stdout)
    assert diff["metrics/mf.json"]["rmse"]["diff"] != 0
    assert "metrics/autorec.json" not in diff or all(
        v["diff"] in (0, None) for k, v in diff["metrics/autorec.json"].items() if k != "train_seconds")
    assert json.loads(dvc("params", "diff", "--json", cwd=repo).stdout) == {
        "params.yaml": {"train.mf.factors": {"old": 4, "new": 3, "diff": -1}}}
    rows = list(csv.DictReader(io.StringIO(dvc("exp", "show", "--csv", cwd=repo).stdout)))
    assert [r["train.mf.factors"] for r in rows if r["Experiment"]] == ["3"]  # the experiment, beside main
    # an evaluation param re-runs every evaluation and what reads metrics, but no training
    edit_params(repo, lambda p: p["evaluate"].update(k=5))
    assert ran(dvc("repro", cwd=repo).stdout) == {f"evaluate@{m}" for m in models} | {"check", "evaluate-blend",
                                                                                     "report"}
    assert "ndcg_at_5" in json.loads((repo / "metrics/mf.json").read_text())
    assert "NDCG@5" in (repo / "reports/leaderboard.md").read_text()

    # the plots page: every plot has data; and, where Chromium is installed, it renders
    page = tmp_path / "plots"
    dvc("plots", "show", "-o", str(page), cwd=repo)
    html = (page / "index.html").read_text()
    n_plots = 1 + len(models) + 1  # the learning curves; a confusion matrix per model and the blend
    assert html.count("vegaEmbed(") == n_plots and "var spec = {};" not in html
    if shutil.which("chromium"):
        done = run([sys.executable, str(ROOT / "bench/check_plots.py"), "--expect", str(n_plots), "--out",
                    str(tmp_path / "plots.png")], repo)
        assert done.stdout.startswith(f"plots: {n_plots} of {n_plots} rendered")
