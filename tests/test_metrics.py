import numpy as np
import pytest

from pipeline.lib import metrics as M


def test_rating_errors_by_hand():
    truth = np.array([4.0, 2.0, 5.0, 1.0])
    pred = np.array([3.0, 2.5, 5.0, 2.0])
    # errors 1, -0.5, 0, -1: squares 1, .25, 0, 1 -> mean .5625
    assert M.rmse(truth, pred) == pytest.approx(0.75)
    assert M.mae(truth, pred) == pytest.approx(0.625)
    # |e|/truth: .25, .25, 0, 1 -> mean .375
    assert M.mape(truth, pred) == pytest.approx(37.5)


def test_ranking_by_hand():
    scores = np.array([[0.9, 0.8, 0.7, 0.1, -np.inf],
                       [0.1, 0.2, 0.3, 0.4, 0.5],
                       [1.0, 1.0, 1.0, 1.0, 1.0]])
    relevant = np.array([[0, 1, 0, 1, 1],  # item 4 was rated in train (-inf): never ranked
                         [1, 0, 0, 0, 0],
                         [0, 0, 0, 0, 0]], dtype=bool)  # no relevant item: left out of the averages
    got = M.ranking_metrics(scores, relevant, k=2)
    # user 0: top2 = items 0, 1 -> 1 hit at rank 2; user 1: top2 = items 4, 3 -> 0 hits
    assert got["users"] == 2
    assert got["precision"] == pytest.approx((1 / 2 + 0) / 2)
    assert got["recall"] == pytest.approx((1 / 3 + 0) / 2)
    idcg0 = 1 + 1 / np.log2(3)  # 3 relevant, k=2: two ideal hits
    assert got["ndcg"] == pytest.approx(((1 / np.log2(3)) / idcg0 + 0) / 2)


def test_top_k_orders_best_first_and_breaks_ties_by_index():
    scores = np.array([[0.5, 0.9, 0.9, 0.1]])
    assert M.top_k(scores, 3).tolist() == [[1, 2, 0]]
