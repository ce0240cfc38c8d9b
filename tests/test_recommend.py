"""Recommendations: top-N over unrated movies by hand, the stage's Parquet, and the one-user command."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from conftest import ROOT, Scores, stage_args
from pipeline import recommend as recommend_stage
from pipeline.lib import recommend as R


def test_top_n_skips_rated_movies_and_ranks_by_score():
    model = Scores([[0.1, 0.9, 0.5, 0.7], [0.4, 0.3, 0.2, 0.1]])
    rated = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 1, 1, 0]], dtype=bool))
    top = R.top_n(model, np.array([0, 1]), rated, k=2)
    assert top.to_dict("list") == {"user": [0, 0, 1], "item": [3, 2, 3], "prediction": pytest.approx([0.7, 0.5, 0.1]),
                                   "rank": [1, 2, 1]}  # user 1 has one unrated movie left


def recommend(project, *args):
    return subprocess.run([sys.executable, "-m", "pipeline.recommend", *stage_args(project, *args),
                           "--prepared", str(project / "prepared"), "--models", str(project / "models")],
                          capture_output=True, text=True, cwd=project, env={"PYTHONPATH": str(ROOT),
                                                                             "PATH": "/usr/bin:/bin",
                                                                             "TF_CPP_MIN_LOG_LEVEL": "3"})


@pytest.fixture(scope="module")
def stage_output(project, tmp_path_factory):
    out = tmp_path_factory.mktemp("recs") / "recommendations.parquet"
    assert recommend_stage.main(stage_args(project, "--prepared", project / "prepared", "--models",
                                           project / "models", "--out", out)) == 0
    return pd.read_parquet(out)


def test_stage_writes_k_unseen_movies_per_user_with_original_ids(project, stage_output):
    recs = stage_output
    users = pd.read_parquet(project / "prepared" / "users.parquet")
    items = pd.read_parquet(project / "prepared" / "items.parquet")
    ratings = pd.read_parquet(project / "prepared" / "ratings.parquet")
    assert list(recs.columns) == ["user_id", "item_id", "title", "year", "prediction", "rank"]
    assert set(recs["user_id"]) == set(users["user_id"])
    assert (recs.groupby("user_id").size() == 5).all()  # params recommend.k
    assert recs["title"].notna().all() and set(recs["item_id"]) <= set(items["item_id"])
    rated = ratings.merge(users, on="user").merge(items, on="item")[["user_id", "item_id"]]
    assert recs.merge(rated, on=["user_id", "item_id"]).empty  # nothing the user already rated
    ordered = recs.sort_values(["user_id", "rank"])
    assert (ordered.groupby("user_id")["prediction"].diff().dropna() <= 0).all()


def test_command_prints_the_users_favourites_then_k_unseen_movies(project, stage_output):
    users = pd.read_parquet(project / "prepared" / "users.parquet")
    user_id = int(users["user_id"].iloc[3])
    done = recommend(project, "--user", str(user_id), "-k", "4", "--model", "mf")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith(f"User {user_id} rated ") and "the highest rated:" in out
    head, tail = out.split("Top 4 unseen movies from mf:")
    *table, summary = tail.strip().splitlines()
    assert summary.startswith(f"recommend: done: mf, user {user_id}; ")
    rows = [line.split() for line in table[1:]]
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4]
    expected = stage_output[stage_output["user_id"] == user_id].sort_values("rank").head(4)
    assert [int(r[1]) for r in rows] == expected["item_id"].tolist()  # the same as the stage's output
    for title in expected["title"]:
        assert title in tail


def test_command_refuses_an_unknown_user_and_model(project):
    done = recommend(project, "--user", "999999")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: recommend: unknown user '999999': not in ")
    user_id = str(pd.read_parquet(project / "prepared" / "users.parquet")["user_id"].iloc[0])
    done = recommend(project, "--user", user_id, "--model", "svd")
    assert done.returncode == 2 and "unknown model 'svd'; known models: baseline, mf, autorec, blend" in done.stderr
    done = recommend(project, "--user", user_id, "--model", "embedding_mlp")  # registered, but not in train.models
    assert done.returncode == 2 and "unknown model 'embedding_mlp'" in done.stderr


def test_command_names_a_scorer_that_is_not_there(project, tmp_path):
    import shutil

    shutil.copytree(project / "models", tmp_path / "models", ignore=shutil.ignore_patterns("blend"))
    user_id = str(pd.read_parquet(project / "prepared" / "users.parquet")["user_id"].iloc[0])
    done = subprocess.run([sys.executable, "-m", "pipeline.recommend", *stage_args(project, "--user", user_id),
                           "--model", "blend", "--prepared", str(project / "prepared"), "--models",
                           str(tmp_path / "models")], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == "error: recommend: models/blend/model.json: not found"


def test_the_blend_recommends_from_its_weighted_models(project, tmp_path, capsys):
    from pipeline.lib.blend import Blend
    from pipeline.lib.models import load, load_scorer

    blend = load_scorer(project / "models" / "blend")
    assert isinstance(blend, Blend) and set(blend.models) == {n for n, w in blend.weights.items() if w != 0}
    users = np.arange(5)
    by_hand = blend.intercept + sum(w * load(n, project / "models" / n).score_users(users)
                                    for n, w in blend.weights.items() if w != 0)
    assert blend.score_users(users) == pytest.approx(np.clip(by_hand, 1, 5), abs=1e-5)
    user_id = str(pd.read_parquet(project / "prepared" / "users.parquet")["user_id"].iloc[0])
    capsys.readouterr()
    assert recommend_stage.main(stage_args(project, "--user", user_id, "--model", "blend", "-k", "3", "--prepared",
                                           project / "prepared", "--models", project / "models")) == 0
    assert "Top 3 unseen movies from blend:" in capsys.readouterr().out
