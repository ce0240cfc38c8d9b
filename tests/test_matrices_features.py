import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.lib.features import demographics, genre_affinity, user_features
from pipeline.lib.matrices import rating_matrix

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from tutorial_matrix import tutorial_rating_matrix  # noqa: E402


def test_vectorised_matrix_equals_the_tutorial_one(rng):
    frame = pd.DataFrame({"user": rng.integers(0, 30, 200), "item": rng.integers(0, 50, 200)}).drop_duplicates()
    frame["rating"] = rng.integers(1, 6, len(frame)).astype(np.float32)
    fast = rating_matrix(frame, 30, 50)
    slow = tutorial_rating_matrix(frame.reset_index(drop=True), 30, 50)
    assert fast.shape == (30, 50) and fast.dtype == np.float32
    assert (fast != slow).nnz == 0
    assert fast.nnz == len(frame)


def test_genre_affinity_counts_liked_movies_per_genre():
    # user 0 rated item 0 (Action) 5 and item 1 (Action|Comedy) 3; user 1 rated item 1 with 4
    train = rating_matrix(pd.DataFrame({"user": [0, 0, 1], "item": [0, 1, 1], "rating": [5.0, 3.0, 4.0]}), 2, 2)
    items = pd.DataFrame({"item": [0, 1], "genre_Action": [1, 1], "genre_Comedy": [0, 1]})
    got = genre_affinity(train, items, threshold=4.0)
    assert got.columns.tolist() == ["affinity_Action", "affinity_Comedy"]
    assert got.to_numpy().tolist() == [[1.0, 0.0], [1.0, 1.0]]


def test_affinity_sees_train_only():
    """A hidden (val/test) rating must not change any feature: features are built from the train matrix."""
    items = pd.DataFrame({"item": [0, 1], "genre_Action": [1, 0], "genre_Comedy": [0, 1]})
    users = pd.DataFrame({"user": [0]})
    train = rating_matrix(pd.DataFrame({"user": [0], "item": [0], "rating": [5.0]}), 1, 2)
    before, _ = user_features(users, train, items, 4.0)
    assert before["affinity_Comedy"].iloc[0] == 0.0  # a hidden 5 on the comedy is not counted


def test_demographics_encoded_or_absent():
    users = pd.DataFrame({"user": [0, 1, 2], "gender": ["M", "F", "M"], "age": pd.array([20, 40, 30], "Int16"),
                          "occupation": ["writer", "other", "writer"]})
    demo = demographics(users)
    assert demo[["gender_F", "gender_M"]].to_numpy().tolist() == [[0, 1], [1, 0], [0, 1]]
    assert demo["age_scaled"].tolist() == pytest.approx([0.0, 1.0, 0.5])
    assert demo["occupation_writer"].tolist() == [1, 0, 1]
    assert demographics(users[["user"]]) is None
