import numpy as np
import pandas as pd
import pytest

from pipeline.lib.split import split, summarise

BASE = {
    "seed": 7, "min_ratings": 5,
    "users": {"val_users": 0.2, "test_users": 0.2, "holdout_fraction": 0.3, "holdout_order": "random"},
    "random": {"test_fraction": 0.1, "val_fraction": 0.05},
    "temporal": {"test_fraction": 0.2, "val_fraction": 0.1},
}
STRATEGIES = ["users", "random", "temporal"]


@pytest.fixture
def ratings(rng):
    n_users, n_items = 60, 80
    counts = rng.integers(1, 40, n_users)
    counts[:3] = [1, 2, 4]  # below min_ratings
    user = np.repeat(np.arange(n_users), counts)
    item = np.concatenate([rng.choice(n_items, c, replace=False) for c in counts])
    return pd.DataFrame({"user": user.astype(np.int32), "item": item.astype(np.int32),
                         "rating": rng.integers(1, 6, len(user)).astype(np.float32),
                         "timestamp": rng.integers(0, 10**6, len(user))}).sample(frac=1, random_state=1)


def params(strategy, **changes):
    return {**BASE, "strategy": strategy, **changes}


def pairs(frame):
    return set(zip(frame["user"], frame["item"]))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_parts_are_disjoint_and_cover_every_rating(ratings, strategy):
    parts = split(ratings, params(strategy))
    assert sum(len(p) for p in parts.values()) == len(ratings)
    assert not pairs(parts["train"]) & pairs(parts["val"])
    assert not pairs(parts["train"]) & pairs(parts["test"])
    assert not pairs(parts["val"]) & pairs(parts["test"])
    assert len(parts["val"]) and len(parts["test"])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_seeded(ratings, strategy):
    a, b = split(ratings, params(strategy)), split(ratings, params(strategy))
    c = split(ratings, params(strategy, seed=8))
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    if strategy == "temporal":  # the seed only breaks timestamp ties, and this fixture has none in a user
        assert pairs(a["test"]) == pairs(c["test"])
    else:
        assert pairs(a["test"]) != pairs(c["test"])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_users_below_min_ratings_stay_in_train(ratings, strategy):
    parts = split(ratings, params(strategy))
    small = ratings.groupby("user").size().loc[lambda s: s < 5].index
    hidden = pd.concat([parts["val"], parts["test"]])
    assert not hidden["user"].isin(small).any()
    # every held-out user keeps at least one visible rating in train
    assert hidden["user"].isin(parts["train"]["user"]).all()


def test_users_strategy_holds_out_whole_users(ratings):
    parts = split(ratings, params("users"))
    val_users, test_users = set(parts["val"]["user"]), set(parts["test"]["user"])
    assert not val_users & test_users
    eligible = (ratings.groupby("user").size() >= 5).sum()
    assert len(test_users) == round(0.2 * eligible)
    for user in test_users:
        n = (ratings["user"] == user).sum()
        assert (parts["test"]["user"] == user).sum() == max(1, min(n - 1, round(0.3 * n)))


def test_users_strategy_latest_hides_the_newest(ratings):
    parts = split(ratings, params("users", users={**BASE["users"], "holdout_order": "latest"}))
    for user in set(parts["test"]["user"]):
        seen = parts["train"].loc[parts["train"]["user"] == user, "timestamp"]
        hidden = parts["test"].loc[parts["test"]["user"] == user, "timestamp"]
        assert hidden.min() >= seen.max()


def test_temporal_targets_are_each_users_latest(ratings):
    parts = split(ratings, params("temporal"))
    last_train = parts["train"].groupby("user")["timestamp"].max()
    first_val = parts["val"].groupby("user")["timestamp"].min()
    first_test = parts["test"].groupby("user")["timestamp"].min()
    assert (first_val >= last_train.loc[first_val.index]).all()
    assert (first_test >= parts["val"].groupby("user")["timestamp"].max().reindex(first_test.index).fillna(-1)).all()


def test_random_fractions(ratings):
    parts = split(ratings, params("random"))
    eligible = ratings.groupby("user")["user"].transform("size").ge(5).sum()
    assert len(parts["test"]) == round(0.1 * eligible)
    assert len(parts["val"]) == round(0.05 * (eligible - len(parts["test"])))


def test_summary_counts(ratings):
    parts = split(ratings, params("random"))
    summary = summarise(parts, "random", 7)
    assert summary["test"]["ratings"] == len(parts["test"])
    assert summary["train"]["users"] == parts["train"]["user"].nunique()
    cold = set(parts["test"]["item"]) - set(parts["train"]["item"])
    assert summary["test"]["cold_items"] == len(cold)
