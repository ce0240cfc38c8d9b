"""bench/peers.py: Surprise is fitted on exactly our train + val, predicts exactly our test pairs in our order, and is
scored with our metrics. Surprise itself is not in the pipeline's stack: every test but the last injects a fake
algorithm with Surprise's interface; the last runs the real algorithms where Surprise is installed."""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from pipeline.lib import metrics as M

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import peers  # noqa: E402


def write_split(folder: Path, seed: int = 0) -> dict[str, pd.DataFrame]:
    """A tiny split as the split stage writes it: 12 users x 10 movies; test holds user 11 and movie 9, which
    neither train nor val has, besides pairs of known users and movies."""
    rng = np.random.default_rng(seed)
    users, items = np.meshgrid(np.arange(11), np.arange(9), indexing="ij")
    known = pd.DataFrame({"user": users.ravel(), "item": items.ravel()}).sample(frac=0.7, random_state=seed)
    known = known.assign(rating=rng.integers(1, 6, len(known)).astype(np.float32),
                         timestamp=np.arange(len(known), dtype=np.int64))
    n_test, n_val = 12, 8
    cold = pd.DataFrame({"user": [11, 11, 3], "item": [2, 9, 9], "rating": [4.0, 2.0, 5.0], "timestamp": [0, 0, 0]})
    test = pd.concat([known.iloc[:n_test], cold], ignore_index=True)
    parts = {"train": known.iloc[n_test + n_val:], "val": known.iloc[n_test:n_test + n_val], "test": test}
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in parts.items():
        frame = frame.astype({"user": np.int32, "item": np.int32, "rating": np.float32, "timestamp": np.int64})
        frame.reset_index(drop=True).to_parquet(folder / f"{name}.parquet", index=False)
        parts[name] = frame.reset_index(drop=True)
    (folder / "summary.json").write_text(json.dumps({"strategy": "random", "seed": seed}))
    return parts


class FakeAlgorithm:
    """Surprise's interface: fit(trainset), predict(uid, iid) -> an object with .est (and .details)."""

    fitted_on = None

    def fit(self, trainset):
        FakeAlgorithm.fitted_on = trainset
        self.known = set(zip(trainset["user"], trainset["item"]))
        self.users = set(trainset["user"])
        return self

    def predict(self, uid, iid):
        if uid not in self.users:
            return SimpleNamespace(est=3.0, details={"was_impossible": True})
        return SimpleNamespace(est=1.0 + (uid * 7 + iid) % 5, details={"was_impossible": False})


def expected(test):
    return np.where(test["user"] == 11, 3.0, 1.0 + (test["user"] * 7 + test["item"]) % 5)


def test_fit_frame_is_train_then_val_in_the_columns_load_from_df_reads(tmp_path):
    parts = write_split(tmp_path)
    fit = peers.fit_frame(parts["train"], parts["val"])
    assert list(fit.columns) == ["user", "item", "rating"]  # load_from_df reads user, item, rating by position
    assert fit.dtypes.tolist() == [np.int64, np.int64, np.float64]
    both = pd.concat([parts["train"], parts["val"]], ignore_index=True)
    np.testing.assert_array_equal(fit.to_numpy(), both[["user", "item", "rating"]].to_numpy(np.float64))
    assert not fit.merge(parts["test"], on=["user", "item"]).shape[0]  # no test pair reaches the fit


def test_rating_scale_from_meta_else_from_the_ratings(tmp_path):
    parts = write_split(tmp_path)
    fit = peers.fit_frame(parts["train"], parts["val"])
    (tmp_path / "meta.json").write_text(json.dumps({"rating_scale": [0.5, 5.0]}))
    assert peers.rating_scale(fit, tmp_path / "meta.json") == ((0.5, 5.0), str(tmp_path / "meta.json"))
    scale, source = peers.rating_scale(fit, tmp_path / "missing.json")
    assert scale == (fit["rating"].min(), fit["rating"].max()) and "min and max" in source


def test_unknown_pairs_are_counted_against_train_plus_val(tmp_path):
    parts = write_split(tmp_path)
    fit = peers.fit_frame(parts["train"], parts["val"])
    counts = peers.unknown_counts(fit, parts["test"])
    assert counts == {"unknown_user_pairs": 2, "unknown_item_pairs": 2, "unknown_pairs": 3, "unknown_users": 1,
                      "unknown_items": 1}


def test_predictions_follow_test_order_and_are_scored_with_our_metrics(tmp_path):
    parts = write_split(tmp_path)
    fit = peers.fit_frame(parts["train"], parts["val"])
    test = parts["test"].sample(frac=1.0, random_state=5)  # any order: the answer must follow it
    results = peers.score({"Fake": FakeAlgorithm}, fit, test, (1.0, 5.0), build_trainset=lambda f, s: f,
                          log=lambda *_: None)
    pd.testing.assert_frame_equal(FakeAlgorithm.fitted_on, fit)
    r = results["Fake"]
    np.testing.assert_array_equal(r["predictions"], expected(test))
    assert r["rmse"] == M.rmse(test["rating"].to_numpy(), expected(test))
    assert r["mae"] == M.mae(test["rating"].to_numpy(), expected(test))
    assert r["impossible"] == 2


def test_run_prints_the_table_writes_the_json_and_joins_ours(tmp_path):
    parts = write_split(tmp_path / "split")
    ours = tmp_path / "accuracy_random.json"
    n_test = len(parts["test"])
    ours.write_text(json.dumps({"strategy": "random",
                                "models": {"mf": {"rmse": 0.1, "mae": 0.05, "train_seconds": 2.5, "n_test": n_test}}}))
    lines = []
    doc = peers.run(tmp_path / "split", None, ["Fake"], ours, tmp_path / "out", factory=lambda name: FakeAlgorithm(),
                    build_trainset=lambda f, s: f, log=lines.append)
    written = json.loads((tmp_path / "out" / "peers_random.json").read_text())
    assert written == doc
    assert (doc["n_train"], doc["n_val"], doc["n_test"]) == (len(parts["train"]), len(parts["val"]), n_test)
    assert doc["n_fit"] == len(parts["train"]) + len(parts["val"]) and doc["unknown_pairs"] == 3
    assert doc["rating_scale"] == [1.0, 5.0] and "scikit-surprise" in doc["machine"]
    fake = doc["algorithms"]["Fake"]
    assert "predictions" not in fake and fake["rmse"] == pytest.approx(M.rmse(parts["test"]["rating"],
                                                                               expected(parts["test"])))
    assert doc["ours"]["mf"] == {"rmse": 0.1, "mae": 0.05, "fit_seconds": 2.5}
    table = lines[-1].strip().splitlines()
    assert table[0] == "| algorithm | test RMSE | test MAE | fit s |"
    assert table[2] == "| ours: mf | 0.1000 | 0.0500 | 2.5 |"  # sorted by RMSE
    assert table[3].startswith(f"| Surprise Fake | {fake['rmse']:.4f} | {fake['mae']:.4f} |")

    for other in ({"strategy": "random", "models": {"mf": {"rmse": 0.1, "mae": 0.05, "n_test": n_test + 1}}},
                  {"strategy": "users", "models": {"mf": {"rmse": 0.1, "mae": 0.05, "n_test": n_test}}}):
        ours.write_text(json.dumps(other))
        with pytest.raises(SystemExit, match="not the same split"):
            peers.run(tmp_path / "split", None, ["Fake"], ours, tmp_path / "out",
                      factory=lambda name: FakeAlgorithm(), build_trainset=lambda f, s: f, log=lines.append)


def test_split_name_carries_the_predefined_fold():
    assert peers.split_name({"strategy": "users"}) == "users"
    assert peers.split_name({"strategy": "predefined", "predefined": {"fold": "u1"}}) == "predefined_u1"


def test_real_surprise_algorithms_on_the_tiny_split(tmp_path):
    surprise = pytest.importorskip("surprise", reason="scikit-surprise is not installed (pip install -r bench/"
                                                      "requirements-peers.txt); it is not in the pipeline's stack")
    parts = write_split(tmp_path / "split")
    peers.main(["--split", str(tmp_path / "split"), "--out", str(tmp_path / "out")])
    doc = json.loads((tmp_path / "out" / "peers_random.json").read_text())
    assert set(doc["algorithms"]) == set(peers.ALGORITHMS) and doc["machine"]["scikit-surprise"] == surprise.__version__
    for r in doc["algorithms"].values():
        assert 0.0 < r["rmse"] < 2.5 and r["mae"] <= r["rmse"] and r["impossible"] == 0

    # our conversion gives Surprise the same trainset as its own loading of the same ratings, and each test pair's
    # prediction is the one Surprise gives that pair; a pair it knows neither side of gets the global mean
    fit = peers.fit_frame(parts["train"], parts["val"])
    trainset = peers.surprise_trainset(fit, (1.0, 5.0))
    assert (trainset.n_ratings, trainset.global_mean) == (len(fit), pytest.approx(fit["rating"].mean()))
    algorithm = surprise.BaselineOnly(verbose=False).fit(trainset)
    pred, _ = peers.predict_pairs(algorithm, parts["test"])
    assert pred[13] == pytest.approx(trainset.global_mean)  # user 11, movie 9: both unknown
    assert pred.tolist() == [algorithm.predict(int(u), int(i)).est for u, i in zip(parts["test"]["user"],
                                                                                    parts["test"]["item"])]
