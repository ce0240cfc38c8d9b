"""dvc repro of the whole pipeline on a fixture archive with every model at two epochs."""

import json

import pytest

from movielens_fixtures import make_tiny, write_ml100k, zip_folder
from repo import dvc, edit_params, make_repo
from test_models import QUICK

REQUIRED = {"rmse", "mae", "mape", "precision_at_10", "recall_at_10", "ndcg_at_10", "n_test", "n_cold",
            "train_seconds", "epochs", "device"}


def quick(params):
    params["split"]["min_ratings"] = 3
    for name, overrides in QUICK.items():
        params["train"][name].update({k: (2 if k == "epochs" else v) for k, v in overrides.items()})


def ran(stdout):
    return {line.split("'")[1] for line in stdout.splitlines() if line.startswith("Running stage")}


@pytest.mark.slow
def test_dvc_repro_trains_and_evaluates_every_model(tmp_path):
    tiny = make_tiny(n_users=50, n_items=70, seed=5)
    archive = zip_folder(write_ml100k(tmp_path / "src", tiny), tmp_path / "ml-100k.zip", "ml-100k")
    repo = make_repo(tmp_path / "repo", archive, quick)
    dvc("repro", cwd=repo)
    models = ["baseline", "autorec", "deep_autorec", "hybrid_autorec", "mf", "embedding_mlp"]
    metrics = {m: json.loads((repo / f"metrics/{m}.json").read_text()) for m in models}
    for name, values in metrics.items():
        assert REQUIRED <= set(values), name
        assert 0 < values["rmse"] < 5 and values["device"] == "cpu"
        assert (repo / f"models/{name}/model.keras").exists()
    assert metrics["mf"]["epochs"] == 2
    # one model's param re-runs that model's stages and nothing else
    edit_params(repo, lambda p: p["train"]["mf"].update(factors=3))
    assert ran(dvc("repro", cwd=repo).stdout) == {"train@mf", "evaluate@mf"}
    # an evaluation param re-runs every evaluation but no training
    edit_params(repo, lambda p: p["evaluate"].update(k=5))
    assert ran(dvc("repro", cwd=repo).stdout) == {f"evaluate@{m}" for m in models}
    assert "ndcg_at_5" in json.loads((repo / "metrics/mf.json").read_text())
