"""``impute_query`` (autorec, hybrid_autorec): a prediction for an unrated pair reads its input row with that pair's
entry set to the bias baseline's rating, instead of the 0 that training never shows at a rating's own entry
(autoencoders.py)."""

import numpy as np
import pytest

from conftest import fitted


def by_hand(model, data, users, items, impute):
    """The reconstruction at (user, movie) pairs, from the weights: each pair's own input row (and its side
    features), its entry filled with the baseline's clipped rating where it is empty (impute), through
    sigmoid(x W1 + b1) W2 + b2 (dropout is off at prediction)."""
    w1, b1 = model.net.get_layer("hidden").get_weights()
    w2, b2 = model.net.get_layer("reconstruction").get_weights()
    matrix = data.train_matrix.T.tocsr() if model.item_based else data.train_matrix
    rows, cols = (items, users) if model.item_based else (users, items)
    x = matrix[rows].toarray().astype(np.float64)
    at = np.arange(len(rows))
    base = np.clip(model.biases.predict(users, items), *model.scale)
    if impute:
        x[at, cols] = np.where(x[at, cols] == 0, base, x[at, cols])
    if model.side is not None:
        x = np.hstack([x, model.side[rows]])
    h = 1 / (1 + np.exp(-(x @ w1 + b1)))
    return np.einsum("ij,ji->i", h, w2[:, cols]) + b2[cols]


def served(model, raw, users, items):
    """What predict gives from a raw reconstruction: plus the baseline (residual), clipped, mixed by the shrink."""
    base = np.clip(model.biases.predict(users, items), *model.scale)
    mine = np.clip(raw + model.biases.predict(users, items), *model.scale)
    return model.shrink * mine + (1 - model.shrink) * base


def warm(model, pairs):
    users, items = pairs["user"].to_numpy(), pairs["item"].to_numpy()
    keep = model.seen_users[users] & model.seen_items[items]
    return users[keep], items[keep]


@pytest.mark.parametrize("name, extra", [("autorec", {"orientation": "item"}), ("autorec", {"orientation": "user"}),
                                         ("hybrid_autorec", {})], ids=["autorec-item", "autorec-user", "hybrid"])
def test_imputed_predictions_by_hand(name, extra, tiny_data):
    data, parts, _ = tiny_data
    model = fitted(name, data, **extra)
    assert (model.side is not None) == (name == "hybrid_autorec")
    assert model.config.impute_query  # the default
    users, items = warm(model, parts["test"])
    hand = by_hand(model, data, users, items, impute=True)
    np.testing.assert_allclose(model.predict(users, items), served(model, hand, users, items), rtol=1e-5, atol=1e-5)
    # The filled entry matters: the same weights read with a 0 there answer differently.
    plain = by_hand(model, data, users, items, impute=False)
    assert np.abs(hand - plain).max() > 1e-3


def test_without_it_the_net_reads_the_rows_as_they_are(tiny_data):
    data, parts, _ = tiny_data
    model = fitted("autorec", data, impute_query=False)
    users, items = warm(model, parts["test"])
    hand = by_hand(model, data, users, items, impute=False)
    np.testing.assert_allclose(model.predict(users, items), served(model, hand, users, items), rtol=1e-5, atol=1e-5)


def test_a_rated_entry_is_not_filled_again(tiny_data):
    """A train pair's entry holds its rating already: the prediction reads the row as it is."""
    data, _, _ = tiny_data
    model = fitted("autorec", data)
    users, items = data.train["user"].to_numpy(), data.train["item"].to_numpy()
    np.testing.assert_allclose(model._predict_raw(users, items), by_hand(model, data, users, items, impute=False),
                               rtol=1e-5, atol=1e-5)

