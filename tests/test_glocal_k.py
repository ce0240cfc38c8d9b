"""GLocal-K's own pieces: the local kernel by hand, the global kernel's convolution read from rows with their halo
against the dense convolution, what training reads (train ratings only, on both optimizers), and its refusals.
The registry's contract tests (tests/test_models.py) cover the rest: shapes, learning, save/load, cold pairs."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.signal import correlate2d

from pipeline.lib.errors import PipelineError
from pipeline.lib.models import REGISTRY, build, load_scorer
from pipeline.lib.models import glocal_k as gk
from pipeline.lib.models.base import TrainData
from pipeline.lib.models.keras_base import seed_everything


def numpy(x):
    from keras import ops

    return ops.convert_to_numpy(x)


def test_local_kernel_by_hand():
    u = np.array([[0.0, 0.0], [0.5, 0.0], [0.5, 0.5]], dtype=np.float32)
    v = np.array([[0.0, 0.0], [1.0, 0.0], [1.5, 0.0], [0.5, 0.0], [3.0, 4.0]], dtype=np.float32)
    k = numpy(gk.local_kernel(u, v))
    # K = max(0, 1 - |u - v|^2): 1 at distance 0, 0 at distance 1 and beyond, in between 1 - d^2
    expected = np.array([
        [1.0, 0.0, 0.0, 0.75, 0.0],  # u0: d^2 = 0, 1, 2.25, 0.25, 25
        [0.75, 0.75, 0.0, 1.0, 0.0],  # u1: d^2 = 0.25, 0.25, 1, 0, 21.25
        [0.5, 0.5, 0.0, 0.75, 0.0],  # u2: d^2 = 0.5, 0.5, 1.25, 0.25, 19.25
    ])
    np.testing.assert_allclose(k, expected, atol=1e-6)
    assert (k[expected == 0] == 0).all() and k.min() >= 0 and k.max() <= 1


def ratings(n_rows=9, n_cols=7, density=0.4, seed=0):
    rng = np.random.default_rng(seed)
    m = sp.random(n_rows, n_cols, density=density, random_state=seed, dtype=np.float32).tocsr()
    m.data = rng.integers(1, 6, m.nnz).astype(np.float32)
    return m


@pytest.mark.parametrize("size", [1, 3, 5])
def test_rows_with_their_halo_give_the_dense_convolution(size):
    m = ratings()
    dense = m.toarray()
    rng = np.random.default_rng(size)
    layer = gk.keras_parts().GlobalKernelConv(m.shape[0], size)
    layer.build((None, size * m.shape[1]))
    layer.row_means.assign(rng.uniform(1, 5, m.shape[0]).astype(np.float32))
    g = numpy(layer.kernel())
    assert g.shape == (size, size)
    np.testing.assert_allclose(g.ravel(), numpy(layer.row_means) @ numpy(layer.c), rtol=1e-5)
    # what the paper computes: ReLU(conv2d(R, G, 'same')) over the whole matrix (conv2d is a cross-correlation)
    expected = np.maximum(correlate2d(dense, g, mode="same", boundary="fill"), 0)
    padded = gk.pad_rows(m, size)
    for rows in (np.array([4, 0, 8]), np.arange(m.shape[0]), np.array([1])):  # any rows, any order, the edges
        x = gk.halo_rows(padded, rows, size)
        assert x.shape == (len(rows), size * m.shape[1])
        np.testing.assert_array_equal(x[:, :m.shape[1]], dense[rows])  # the row itself comes first
        np.testing.assert_allclose(numpy(layer(x)), expected[rows], rtol=1e-5, atol=1e-4)


def test_lbfgs_objective_by_hand():
    """The value L-BFGS-B reads: weight x (half the squared error over observed entries, per rating, + each
    layer's penalty), as a Python float: summed outside the graph, so that it is the same on every call (in the
    graph, its last bit changed in about one fine-tuning call in thirty, and two long runs then drifted apart)."""
    import keras

    seed_everything(0)
    m = ratings(n_rows=12, n_cols=8)
    parts, n_rows, n_cols = gk.keras_parts(), *m.shape
    x_in = keras.Input((n_cols,))
    hidden = parts.LocalKernelDense(6, 5, "sigmoid", 20.0, 0.006, 1.0 / m.nnz)
    out = parts.LocalKernelDense(n_cols, 5, None, 20.0, 0.006, 1.0 / m.nnz)
    net = keras.Model(x_in, out(hidden(x_in)))
    rng = np.random.default_rng(0)
    values = [rng.normal(0, 0.3, tuple(v.shape)).astype(np.float32) for v in net.trainable_variables]
    net.set_weights(values)
    loss_fn = parts.HalfSquaredError(rows_per_rating=n_rows / m.nnz)
    rows = np.array([0, 3, 5, 11])
    x = m[rows].toarray()
    value, grads = gk._value_and_grad(net, loss_fn)(values, x, x, 0.25)
    pred = numpy(net(x)).astype(np.float64)
    data_term = (n_rows / m.nnz) * np.sum((x != 0) * (x - pred) ** 2) / (2 * len(rows))
    penalty = sum(0.5 / m.nnz * (0.006 * np.sum(numpy(gk.local_kernel(layer.u, layer.v)).astype(np.float64) ** 2)
                                 + 20.0 * np.sum(numpy(layer.kernel).astype(np.float64) ** 2))
                  for layer in (hidden, out))
    assert isinstance(value, float)
    assert value == pytest.approx(0.25 * (data_term + penalty), rel=1e-5)
    assert [g.shape for g in grads] == [v.shape for v in values]


def fit(data, **extra):
    seed_everything(0)
    return build("glocal_k", **{**REGISTRY["glocal_k"].quick, **extra}).fit(data)


def test_fine_tuned_model_has_a_global_kernel(tiny_data, tmp_path):
    data, parts, _ = tiny_data
    model = fit(data, lambda_2=0.01, pretrain_epochs=1, epochs=3)
    if model.finetuned:
        assert model.global_kernel().shape == (3, 3) and model.halo_size == 3
    else:  # fine-tuning never beat pre-training on val: the pre-trained net answers
        assert model.global_kernel() is None and model.halo_size == 1
    assert model.pretrain_rounds == 1 and 1 <= len(model.history["val_rmse"]) - 1 <= 3
    model.save(tmp_path / "m")
    again = load_scorer(tmp_path / "m")
    assert again.halo_size == model.halo_size
    test = parts["test"]
    np.testing.assert_array_equal(again.predict(test["user"].to_numpy(), test["item"].to_numpy()),
                                  model.predict(test["user"].to_numpy(), test["item"].to_numpy()))


@pytest.mark.parametrize("average", [True, False])
def test_prediction_is_the_pair_or_the_fine_tuned_net(tiny_data, average):
    data, parts, _ = tiny_data
    # raw ratings: on this tiny data a residual net's fine-tuning never beats its pre-training, and the test is
    # about how the two networks make the prediction, whatever their targets
    model = fit(data, lambda_2=0.01, pretrain_epochs=1, epochs=3, average_pretrained=average, residual=False,
                impute_query=False)
    if not model.finetuned:
        pytest.skip("fine-tuning did not beat pre-training on val here")
    items = np.arange(data.n_items)
    padded = gk.pad_rows(model.inputs, 3)
    x = gk.halo_rows(padded, items, 3)
    names = [layer.name for layer in model.net.layers]
    fine = numpy(model.net.get_layer("glocal_k")(x) if average else model.net(x))
    if average:
        pre = numpy(model.net.get_layer("pretrained_autoencoder")(x[:, :data.n_users]))
        assert not np.allclose(pre, fine)
        np.testing.assert_allclose(numpy(model.net(x)), (pre + fine) / 2, rtol=1e-5, atol=1e-5)
    else:
        assert "pretrained_autoencoder" not in names
    users = np.arange(data.n_users)
    np.testing.assert_allclose(model._predict_raw(np.tile(users, 2), np.repeat([0, 1], data.n_users)),
                               numpy(model.net(x))[[0, 1]].ravel(), rtol=1e-5, atol=1e-5)


def read_with_entry_filled(model, users, items):
    """The net's raw output at each (user, movie) pair from the whole matrix with that one entry set to the clipped
    baseline rating where it is empty: the model's own Keras net on the changed matrix's rows and their halo."""
    out = []
    for user, item in zip(users, items):
        m = model.inputs.tolil(copy=True)
        if m[item, user] == 0:
            m[item, user] = np.clip(model.biases.predict(np.array([user]), np.array([item])), *model.scale)[0]
        x = gk.halo_rows(gk.pad_rows(m.tocsr(), model.halo_size), np.array([item]), model.halo_size)
        out.append(numpy(model.net(x))[0, user])
    return np.array(out)


@pytest.mark.parametrize("average, epochs", [(True, 3), (False, 3), (True, None)],
                         ids=["pair", "fine-tuned", "pre-trained"])
def test_imputed_query_is_the_net_on_the_matrix_with_the_entry_filled(tiny_data, average, epochs):
    data, parts, _ = tiny_data
    extra = {"epochs": epochs} if epochs else {"epochs": 1, "pretrain_epochs": 3}
    model = fit(data, lambda_2=0.01, average_pretrained=average, residual=False, **extra)
    assert model.config.impute_query  # the default
    if epochs and not model.finetuned:
        pytest.skip("fine-tuning did not beat pre-training on val here")
    if not epochs and model.finetuned:  # the pre-trained net alone (what fine-tuning that never beats it leaves)
        model.net, model.halo_size = model.net.get_layer("pretrained_autoencoder"), 1
    test = pd.concat([parts["test"], parts["val"]]).head(40)
    users, items = test["user"].to_numpy(), test["item"].to_numpy()
    users, items = np.append(users, [0, data.n_users - 1]), np.append(items, [0, data.n_items - 1])  # the edges
    train_user, train_item = (a[:3] for a in data.train_matrix.nonzero())  # rated already: nothing to fill
    users, items = np.append(users, train_user), np.append(items, train_item)
    expected = read_with_entry_filled(model, users, items)
    np.testing.assert_allclose(model._predict_raw(users, items), expected, rtol=1e-4, atol=1e-4)
    model.config = model.config.model_copy(update={"impute_query": False})
    reread = model._predict_raw(users, items)
    assert np.abs(reread[:-3] - expected[:-3]).max() > 1e-3  # the filled entry matters
    np.testing.assert_allclose(reread[-3:], expected[-3:], rtol=1e-4, atol=1e-4)


def hidden_entries(parts):
    hidden = pd.concat([parts["val"], parts["test"]])
    return hidden["item"].to_numpy(), hidden["user"].to_numpy()  # (row, column) of the movies x users matrix


def test_lbfgs_reads_train_ratings_only(tiny_data, monkeypatch):
    data, parts, _ = tiny_data
    read = []
    original = gk.halo_rows

    def spy(padded, rows, size):
        x = original(padded, rows, size)
        read.append((rows.copy(), size, x))
        return x

    monkeypatch.setattr(gk, "halo_rows", spy)
    model = fit(data, epochs=3)
    assert {size for _, size, _ in read} == {1, 3}  # pre-training and fine-tuning read rows
    train = data.train_matrix.T.toarray()  # movies x users
    padded = np.vstack([np.zeros((1, data.n_users)), train, np.zeros((1, data.n_users))])
    rows, cols = hidden_entries(parts)
    assert (train[rows, cols] == 0).all()
    for r, size, x in read:  # each block of the input is the train matrix's row itself, or a neighbour of it
        for block, offset in enumerate([0, -1, 1][:size]):
            np.testing.assert_array_equal(x[:, block * data.n_users:(block + 1) * data.n_users],
                                          padded[r + 1 + offset])
    np.testing.assert_array_equal(model.inputs.toarray(), train)


def test_adam_trains_on_train_ratings_only_and_saves(tiny_data, run_fit_calls, tmp_path):
    data, parts, _ = tiny_data
    model = fit(data, optimizer="adam", batch_size=16, learning_rate=0.01)
    fed = [call["x"] for call in run_fit_calls]
    assert len(fed) == 2  # pre-training, fine-tuning
    rows, cols = hidden_entries(parts)
    train = data.train_matrix.T.toarray()
    for batches in fed:
        n = batches.matrix.shape[0]
        x = np.zeros((n, batches.size * data.n_users))
        y = np.zeros((n, data.n_users))
        for index in range(len(batches)):
            inputs, targets = batches[index]
            x[batches.rows(index)], y[batches.rows(index)] = inputs, targets
        # targets: the residuals from the baseline at the train ratings (residual, the default), 0 elsewhere
        observed = train != 0
        np.testing.assert_array_equal(y != 0, observed)
        items, users = np.nonzero(observed)
        np.testing.assert_allclose(y[observed], train[observed] - model.biases.predict(users, items), atol=1e-5)
        np.testing.assert_array_equal(x[:, :data.n_users], train)
        assert (y[rows, cols] == 0).all()
    assert model.history["loss"][-1] < model.history["loss"][0]
    test = parts["test"]
    pred = model.predict(test["user"].to_numpy(), test["item"].to_numpy())
    model.save(tmp_path / "adam")
    np.testing.assert_allclose(load_scorer(tmp_path / "adam").predict(test["user"].to_numpy(),
                                                                       test["item"].to_numpy()), pred, rtol=1e-6)


def test_refusals():
    with pytest.raises(Exception, match="must be odd"):
        REGISTRY["glocal_k"].Config(global_kernel_size=4)
    users = 30_000  # 2 x 30,000 x 500 weights: beyond what L-BFGS-B's history may hold
    train = pd.DataFrame({"user": [0, 1, users - 1], "item": [0, 1, 2], "rating": [4.0, 3.0, 5.0]})
    data = TrainData(train, train.iloc[:1], users, 3, (1.0, 5.0))
    with pytest.raises(PipelineError, match=r"train.glocal_k: .* too many for L-BFGS-B's memory; set "
                                            r"train.glocal_k.optimizer: adam"):
        build("glocal_k").fit(data)
