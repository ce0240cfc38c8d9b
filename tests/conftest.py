import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from movielens_fixtures import make_tiny  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def networks_answer_themselves(request, monkeypatch):
    """Unit tests look at what each network learned. On the tiny data with quick settings several do no better
    than the bias baseline on val and would be shrunk towards it or answer with it (Recommender.shrinks_to_baseline),
    which would make their contract tests compare the baseline with itself; tests marked ``baseline_fallback`` keep
    the shrink.
    Stages run by the session fixtures and the end-to-end runs keep it too."""
    if request.node.get_closest_marker("baseline_fallback") is None:
        from pipeline.lib.models.base import Recommender

        monkeypatch.setattr(Recommender, "shrinks_to_baseline", False)


@pytest.fixture(scope="session")
def tiny():
    return make_tiny()


def tiny_pipeline(tiny, strategy="random", seed=3):
    """The tiny dataset taken through reindex, split and features in memory: (TrainData, parts, prepared)."""
    from pipeline.lib.features import item_features, user_features
    from pipeline.lib.matrices import rating_matrix
    from pipeline.lib.models.base import TrainData
    from pipeline.lib.reindex import reindex
    from pipeline.lib.split import split

    items = tiny.items.assign(genres=tiny.items["genres"].map("|".join))
    users = tiny.users.assign(occupation=tiny.users["occupation"].astype(str))
    prepared = reindex(tiny.ratings.astype({"rating": "float32"}), items, users, "drop", {"ratings": "r"})
    params = {"strategy": strategy, "seed": seed, "min_ratings": 3,
              "users": {"val_users": 0.2, "test_users": 0.2, "holdout_fraction": 0.3, "holdout_order": "random"},
              "random": {"test_fraction": 0.15, "val_fraction": 0.1},
              "temporal": {"test_fraction": 0.1, "val_fraction": 0.1}}
    parts = split(prepared.ratings, params)
    n_users, n_items = len(prepared.users), len(prepared.items)
    side, groups = user_features(prepared.users, rating_matrix(parts["train"], n_users, n_items), prepared.items, 4.0)
    side_cols = [c for c in side.columns if c != "user"]
    data = TrainData(parts["train"][["user", "item", "rating"]], parts["val"][["user", "item", "rating"]],
                     n_users, n_items, (1.0, 5.0), side[side_cols].to_numpy(np.float32),
                     {g: [side_cols.index(c) for c in cols] for g, cols in groups.items()},
                     item_side=item_features(prepared.items).drop(columns="item").to_numpy(np.float32))
    return data, parts, prepared


@pytest.fixture
def tiny_data(tiny):
    return tiny_pipeline(tiny)


@pytest.fixture
def run_fit_calls(monkeypatch):
    """What each KerasRecommender._run_fit call is given while training goes on: dicts with the model, x and y,
    in call order (a model fitted in closed form makes none)."""
    from pipeline.lib.models.keras_base import KerasRecommender

    calls = []
    original = KerasRecommender._run_fit

    def spy(self, x, y, *args, **kwargs):
        calls.append({"model": self, "x": x, "y": y})
        return original(self, x, y, *args, **kwargs)

    monkeypatch.setattr(KerasRecommender, "_run_fit", spy)
    return calls


def fitted(name, data, **extra):
    """Model ``name`` with its quick settings (and ``extra``), seeded, fitted on ``data``."""
    from pipeline.lib.models import REGISTRY, build
    from pipeline.lib.models.keras_base import seed_everything

    seed_everything(0)
    return build(name, **{**REGISTRY[name].quick, **extra}).fit(data)


def fed(batches):
    """The (inputs, targets) matrices one epoch of a RowBatches feeds, rows in the matrix's order (padding rows
    dropped). Every row must come exactly once."""
    count = np.zeros(batches.matrix.shape[0], int)
    x = y = None
    for index in range(len(batches)):
        inputs, targets = batches[index]
        rows = batches.rows(index)
        if x is None:
            x, y = np.zeros((len(count), inputs.shape[1])), np.zeros((len(count), targets.shape[1]))
        x[rows], y[rows] = inputs[:len(rows)], targets[:len(rows)]
        count[rows] += 1
    assert (count == 1).all()
    return x, y


class Scores:
    """A stand-in scorer whose score matrix (users x movies) is given."""

    def __init__(self, matrix):
        self.matrix = np.asarray(matrix, dtype=np.float64)

    def score_users(self, users):
        return self.matrix[users]


PROJECT_MODELS = ["baseline", "mf", "autorec"]


@pytest.fixture(scope="session")
def project(tmp_path_factory):
    """A tiny ml-100k-format dataset taken through every stage up to evaluating the blend, in-process, for three
    quick models.

    Returns the folder; it holds params.yaml and the stages' outputs under their usual names.
    """
    import yaml

    from movielens_fixtures import write_ml100k
    from pipeline import blend, download, evaluate, features, matrices, reindex, split, train
    from pipeline.lib.models import REGISTRY

    root = tmp_path_factory.mktemp("project")
    source = write_ml100k(root / "src", make_tiny(n_users=60, n_items=80, seed=11))
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["source"] = str(source)
    params["split"].update(strategy="random", min_ratings=3)
    params["train"]["models"] = PROJECT_MODELS
    for name in PROJECT_MODELS:
        params["train"][name].update(REGISTRY[name].quick)
    params["recommend"].update(model="mf", k=5)
    params["report"]["activity_edges"] = [1, 10, 20]
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    p = ["--params", str(root / "params.yaml")]
    steps = [(download.main, p + ["--out", root / "raw"]),
             (reindex.main, p + ["--raw", root / "raw", "--out", root / "prepared"]),
             (split.main, p + ["--prepared", root / "prepared", "--out", root / "split"]),
             (matrices.main, ["--prepared", root / "prepared", "--split", root / "split", "--out", root / "matrices"]),
             (features.main, p + ["--prepared", root / "prepared", "--matrices", root / "matrices",
                                  "--out", root / "features"])]
    for name in PROJECT_MODELS:
        steps.append((train.main, p + ["--model", name, "--prepared", root / "prepared", "--split", root / "split",
                                       "--features", root / "features", "--out", root / "models" / name,
                                       "--predictions", root / "predictions" / "val" / f"{name}.parquet"]))
        steps.append((evaluate.main, p + evaluate_args(root, name)))
    steps.append((blend.main, p + ["--prepared", root / "prepared", "--split", root / "split", "--predictions",
                                    root / "predictions" / "val", "--out", root / "models" / "blend"]))
    steps.append((evaluate.main, p + evaluate_args(root, "blend")))
    for main, args in steps:
        assert main([str(a) for a in args]) == 0, f"{main.__module__} failed"
    return root


def evaluate_args(root, name):
    """evaluate's arguments for one scorer (a model or the blend) of a fixture project."""
    return ["--model", name, "--prepared", root / "prepared", "--split", root / "split", "--models", root / "models",
            "--out", root / "metrics" / f"{name}.json", "--predictions", root / "predictions" / "test" / f"{name}.parquet",
            "--plot", root / "metrics" / "predicted_vs_actual" / f"{name}.csv"]


def stage_args(project, *args):
    """Arguments that point a stage at the fixture project's params and folders."""
    return ["--params", str(project / "params.yaml"), *[str(a) for a in args]]
