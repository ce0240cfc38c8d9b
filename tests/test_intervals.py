"""Confidence intervals by a bootstrap over test users, and the paired comparison with the best model."""

import numpy as np
import pandas as pd
import pytest

from conftest import Scores
from pipeline.lib import metrics as M
from pipeline.lib.evaluation import paired_rmse_difference, ranking, score

BOOT = {"resamples": 1000, "seed": 0, "confidence": 0.95}


def test_resamples_draw_whole_users_with_replacement_and_repeat_with_the_seed():
    draws = np.concatenate(list(M.bootstrap_counts(7, 250, seed=3)))
    assert draws.shape == (250, 7) and (draws.sum(axis=1) == 7).all()  # each resample: 7 users drawn
    assert (draws == 0).any() and (draws > 1).any()  # with replacement: some left out, some twice
    again = np.concatenate(list(M.bootstrap_counts(7, 250, seed=3)))
    np.testing.assert_array_equal(draws, again)
    assert not np.array_equal(draws, np.concatenate(list(M.bootstrap_counts(7, 250, seed=4))))


def test_a_hand_case_with_a_known_answer():
    # Two users, one rating each, squared errors 0 and 4. A resample draws (2, 0), (1, 1) or (0, 2) copies with
    # probabilities 1/4, 1/2, 1/4: RMSE 0, sqrt(2), 2. The 95% percentile interval spans [0, 2].
    samples = np.sqrt(M.ratio_of_sums(np.array([0.0, 4.0]), np.array([1.0, 1.0]), 4000, seed=1))
    values, counts = np.unique(np.round(samples, 6), return_counts=True)
    assert values.tolist() == [0.0, round(np.sqrt(2), 6), 2.0]
    assert counts / 4000 == pytest.approx([0.25, 0.5, 0.25], abs=0.03)
    assert M.interval(samples, 0.95) == (0.0, 2.0)
    # and a 40% interval (30th to 70th percentile) sits on the middle value, drawn half the time
    assert M.interval(samples, 0.4) == pytest.approx((np.sqrt(2), np.sqrt(2)))


def test_identical_predictions_give_a_difference_interval_around_zero(rng):
    n = rng.integers(1, 10, 40).astype(float)
    sse = rng.uniform(0, 5, 40) * n
    assert paired_rmse_difference(sse, sse, n, BOOT) == (0.0, 0.0, 0.0)
    # a model worse on every user is worse in every resample: the interval excludes 0
    diff, low, high = paired_rmse_difference(sse * 1.5, sse, n, BOOT)
    assert 0 < low <= diff <= high


def test_ranking_never_counts_a_movie_the_user_rated_outside_test():
    # user 0 rated movie 0 in val (known): it scores highest but is no candidate; movie 2 is the hidden test hit
    model = Scores([[0.9, 0.1, 0.8, 0.2]])
    known = pd.DataFrame({"user": [0], "item": [0]})
    test = pd.DataFrame({"user": [0], "item": [2], "rating": [5.0]})
    got = ranking(model, known, test, np.array([0]), 4, k=1, threshold=4.0)
    assert got["precision"].tolist() == [1.0] and got["ndcg"].tolist() == [1.0]
    # had movie 0 been a candidate, it would take the only slot
    got = ranking(model, known.iloc[:0], test, np.array([0]), 4, k=1, threshold=4.0)
    assert got["precision"].tolist() == [0.0]


def test_score_puts_each_interval_beside_its_metric_and_around_it(rng):
    users = np.repeat(np.arange(30), 5)
    items = np.tile(np.arange(5), 30)
    test = pd.DataFrame({"user": users, "item": items, "rating": rng.integers(1, 6, 150).astype(float)})
    predictions = test[["user", "item"]].assign(prediction=test["rating"] + rng.normal(0, 0.8, 150), cold=False)
    model = Scores(rng.uniform(size=(30, 8)))
    known = pd.DataFrame({"user": users, "item": items + 3})
    metrics = score(model, predictions, known, test, 8, 3, 4.0, BOOT)
    keys = list(metrics)
    for key in ("rmse", "mae", "ndcg_at_3"):
        i = keys.index(key)
        assert keys[i + 1:i + 3] == [f"{key}_ci_low", f"{key}_ci_high"]
        assert metrics[f"{key}_ci_low"] < metrics[key] < metrics[f"{key}_ci_high"]
    assert metrics == score(model, predictions, known, test, 8, 3, 4.0, BOOT)  # the same seed, the same numbers


def test_ranking_in_chunks_equals_ranking_at_once(rng, monkeypatch):
    """Users are scored a chunk at a time (bounded memory at ml-20m size): the chunk size changes nothing."""
    from pipeline.lib import evaluation

    model = Scores(rng.uniform(size=(50, 30)))
    known = pd.DataFrame({"user": rng.integers(0, 50, 300), "item": rng.integers(0, 30, 300)}).drop_duplicates()
    test = pd.DataFrame({"user": rng.integers(0, 50, 200), "item": rng.integers(0, 30, 200)}).drop_duplicates()
    test = test.merge(known, how="left", indicator=True).query("_merge == 'left_only'").drop(columns="_merge")
    test["rating"] = rng.integers(1, 6, len(test)).astype(float)
    users = np.unique(test["user"])
    at_once = ranking(model, known, test, users, 30, 5, 4.0)
    monkeypatch.setattr(evaluation, "USERS_PER_CHUNK", 3)
    chunked = ranking(model, known, test, users, 30, 5, 4.0)
    for key in at_once:
        np.testing.assert_array_equal(at_once[key], chunked[key])


def test_recommendations_in_chunks_equal_recommendations_at_once(rng, monkeypatch):
    import scipy.sparse as sp

    from pipeline.lib import recommend as R

    model = Scores(rng.uniform(size=(40, 25)))
    rated = sp.csr_matrix(rng.uniform(size=(40, 25)) < 0.3)
    at_once = R.top_n(model, np.arange(40), rated, 5)
    monkeypatch.setattr(R, "USERS_PER_CHUNK", 7)
    pd.testing.assert_frame_equal(at_once, R.top_n(model, np.arange(40), rated, 5))
