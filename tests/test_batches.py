"""The autoencoders' training batches (rows read from the CSR matrix, never the dense matrix) and the sparse paths
(layers.RowScorer for training, _sparse_reader for predictions): the reconstruction read at the observed entries
only gives the dense path's loss, training step and predictions."""

import numpy as np
import pytest
import scipy.sparse as sp

from pipeline.lib.models import build
from pipeline.lib.models.batches import dense_batch, padded_size, sparse_batch, sparse_product
from pipeline.lib.models.keras_base import seed_everything


def ratings(n_rows=13, n_cols=9, density=0.3, seed=0):
    rng = np.random.default_rng(seed)
    m = sp.random(n_rows, n_cols, density=density, random_state=seed, dtype=np.float32).tocsr()
    m.data = rng.integers(1, 6, m.nnz).astype(np.float32)
    m.data[m.indptr[3]:m.indptr[4]] = 0  # a row with no rating
    m.eliminate_zeros()
    return m


def test_padded_size():
    sizes = np.array([padded_size(n) for n in range(1, 5000)])
    n = np.arange(1, 5000)
    assert (sizes >= n).all() and (sizes <= np.maximum(1.25 * n, 8)).all()
    assert (np.diff(sizes) >= 0).all()
    # four size classes per doubling
    assert np.unique(sizes[n > 1024]).tolist() == [1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120]
    assert padded_size(0) == 8 and padded_size(100) == 112 and padded_size(4096) == 4096


def test_every_row_once_per_epoch_in_a_seeded_order():
    from pipeline.lib.models.batches import RowBatches

    m = ratings()
    a, b, c = RowBatches(m, 4, seed=7), RowBatches(m, 4, seed=7), RowBatches(m, 4, seed=8)
    assert len(a) == 4
    orders = []
    for _ in range(3):
        rows = np.concatenate([a.rows(i) for i in range(len(a))])
        assert sorted(rows) == list(range(m.shape[0]))
        np.testing.assert_array_equal(rows, np.concatenate([b.rows(i) for i in range(len(b))]))
        np.testing.assert_array_equal(a[1][1], m.toarray()[a.rows(1)])
        orders.append(rows)
        a.on_epoch_end(), b.on_epoch_end()
    assert not np.array_equal(orders[0], orders[1])  # shuffled again each epoch
    assert not np.array_equal(orders[0], np.concatenate([c.rows(i) for i in range(len(c))]))


def test_dense_batch_is_the_rows_with_side_features_appended():
    m = ratings()
    side = np.arange(13 * 2, dtype=np.float32).reshape(13, 2)
    rows = np.array([5, 3, 0])
    x, y = dense_batch(m, rows, side)
    np.testing.assert_array_equal(y, m.toarray()[rows])
    np.testing.assert_array_equal(x, np.hstack([m.toarray()[rows], side[rows]]))
    x, y = dense_batch(m, rows, None)
    assert x is y and x.dtype == np.float32


def test_sparse_batch_holds_the_observed_entries_padded():
    m = ratings()
    side = np.ones((13, 2), np.float32)
    rows = np.array([5, 3, 0])
    inputs, target = sparse_batch(m, rows, side, n_rows=4)
    n = m[rows].nnz
    assert len(target) == padded_size(n) > n
    assert (target[n:] == 0).all() and (inputs["rows"][n:] == 0).all() and (inputs["cols"][n:] == 0).all()
    rebuilt = np.zeros((3, 9), np.float32)
    rebuilt[inputs["rows"][:n], inputs["cols"][:n]] = inputs["values"][:n]
    np.testing.assert_array_equal(rebuilt, m.toarray()[rows])
    np.testing.assert_array_equal(target, inputs["values"])
    np.testing.assert_array_equal(inputs["side"], [[1, 1]] * 3 + [[0, 0]])  # padded to n_rows
    assert inputs["rows"].dtype == inputs["cols"].dtype == np.int32


@pytest.mark.parametrize("cores", [1, 3, 8])
def test_sparse_product_over_threads_is_the_product(cores, monkeypatch):
    """Rows split over threads (a block of rows each, the last one shorter): the same rows, in place, each the
    same sum."""
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(cores)))
    m = ratings(n_rows=401, n_cols=30, density=0.2)
    dense = np.random.default_rng(2).random((30, 7)).astype(np.float32)
    out = sparse_product(m, dense)
    assert out.dtype == np.float32 and out.shape == (401, 7)
    np.testing.assert_array_equal(out, m @ dense)


# (model, hyperparameters): the three architectures the sparse path reads, dropout off so both paths are exact.
NETS = [("autorec", {"hidden_units": 6}), ("autorec", {"hidden_units": 6, "activation": "elu", "l2": 0.0}),
        ("deep_autorec", {"layers": [6, 4], "dropout": 0.0, "dense_refeeding": False}),
        ("hybrid_autorec", {"hidden_units": 5, "dropout": 0.0})]


def two_paths(name, hp, n_side):
    """A model's net and a RowScorer over an exact copy of it, each compiled with the masked loss."""
    import keras

    from pipeline.lib.models.layers import MaskedMSE, RowScorer

    seed_everything(0)
    model = build(name, **hp, learning_rate=0.01)
    net = model._network(9 + n_side, 9)
    twin = keras.models.clone_model(net)
    twin.set_weights(net.get_weights())
    scorer = RowScorer(twin, n_side, 16)
    for m in (net, scorer):
        m.compile(optimizer=keras.optimizers.Adam(0.01), loss=MaskedMSE(masked=True), jit_compile=False)
    return net, scorer


@pytest.mark.parametrize("chunk", [None, 7], ids=["one_chunk", "chunks_of_7"])
@pytest.mark.parametrize("name,hp", NETS)
def test_sparse_path_gives_the_dense_masked_loss_and_step(name, hp, chunk, monkeypatch):
    """Also with the entries read in chunks of 7 (TensorFlow's path reads SPARSE_CHUNK at a time): several
    chunks, the last one short."""
    from pipeline.lib.models import layers

    if chunk:
        if not layers._tensorflow():
            pytest.skip("only TensorFlow's CPU path reads the entries in chunks")
        monkeypatch.setattr(layers, "SPARSE_CHUNK", chunk)
    m = ratings()
    side = np.random.default_rng(1).random((13, 3)).astype(np.float32) if name == "hybrid_autorec" else None
    net, scorer = two_paths(name, hp, 0 if side is None else side.shape[1])
    rows = np.array([12, 0, 3, 7, 5, 1, 9, 2, 11, 4, 6, 10, 8])  # one batch of every row, the empty one included
    x, y = dense_batch(m, rows, side)
    inputs, target = sparse_batch(m, rows, side, n_rows=16)
    # The loss (masked error plus weight decay) of one batch, same weights: equal both ways.
    dense_loss = float(net.test_on_batch(x, y))
    assert float(scorer.test_on_batch(inputs, target)) == pytest.approx(dense_loss, rel=1e-5)
    # A training step from there (same gradients) leaves the same weights, and the same loss after it.
    net.train_on_batch(x, y)
    scorer.train_on_batch(inputs, target)
    for a, b in zip(net.get_weights(), scorer.net.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert float(scorer.test_on_batch(inputs, target)) == pytest.approx(float(net.test_on_batch(x, y)), rel=1e-5)


@pytest.mark.parametrize("name", ["autorec", "deep_autorec", "hybrid_autorec"])
@pytest.mark.parametrize("gain", [0, np.inf], ids=["sparse_read", "dense_read"])
def test_predictions_are_the_dense_reconstruction(name, gain, tiny_data, monkeypatch):
    """_predict_raw, read either way, in blocks: the net's reconstruction of the dense rows at the asked pairs
    (the read with the asked entry filled in, impute_query, is tests/test_impute_query.py's)."""
    from keras import ops

    from pipeline.lib.models import REGISTRY, autoencoders

    data, parts, _ = tiny_data
    seed_everything(0)
    plain = {"impute_query": False} if "impute_query" in REGISTRY[name].Config.model_fields else {}
    model = build(name, **REGISTRY[name].quick, **plain).fit(data)
    users = np.repeat(np.arange(data.n_users), data.n_items)
    items = np.tile(np.arange(data.n_items), data.n_users)
    rows, cols = (items, users) if model.item_based else (users, items)
    x, _ = dense_batch(model.inputs, np.arange(model.inputs.shape[0]), model.side)
    dense = ops.convert_to_numpy(model.net(x, training=False))[rows, cols]
    monkeypatch.setattr(autoencoders, "SPARSE_READ_GAIN", gain)
    np.testing.assert_allclose(model._predict_raw(users, items), dense, rtol=1e-5, atol=1e-5)
    # Small blocks and chunks, pairs in any order: every pair still read once, in place.
    for setting, value in (("ROWS_PER_BLOCK", 3), ("PAIRS_PER_CHUNK", 7),
                           ("DENSE_ENTRIES_PER_BLOCK", 3 * model.inputs.shape[1] - 1)):
        monkeypatch.setattr(autoencoders, setting, value)
    pick = np.random.default_rng(0).permutation(len(users))[:500]
    np.testing.assert_allclose(model._predict_raw(users[pick], items[pick]), dense[pick], rtol=1e-5, atol=1e-5)


def test_which_read_pays():
    """The sparse read for few pairs of sparse rows, the dense one for dense rows or whole score rows."""
    model = build("autorec", orientation="user", impute_query=False)
    model.net, model.side = None, None
    calls = []
    model._read_dense = lambda block, local, cols: calls.append("dense") or np.zeros(len(local), np.float32)
    model._sparse_reader = lambda: lambda block, local, cols: calls.append("sparse") or np.zeros(len(local),
                                                                                                np.float32)
    model.inputs = sp.random(1000, 20_000, density=0.002, format="csr", random_state=0, dtype=np.float32)
    model._predict_raw(np.arange(1000), np.arange(1000))  # one pair per user: 20M entries dense, 41k sparse
    model._predict_raw(np.repeat([1, 2], 20_000), np.tile(np.arange(20_000), 2))  # whole score rows
    model.inputs = sp.random(1000, 2000, density=0.05, format="csr", random_state=0, dtype=np.float32)
    model._predict_raw(np.arange(1000), np.arange(1000))  # ml-100k's density
    assert calls == ["sparse", "dense", "dense"]


@pytest.mark.parametrize("name", ["autorec", "hybrid_autorec"])
def test_the_sparse_step_trains_as_the_dense_step(name, tiny_data, monkeypatch, run_fit_calls):
    """Training from the batches' observed entries (chosen where it pays: _sparse_step) fits the same model: each
    step is the dense step (test above), so a whole fit, early stopping included, gives the same val RMSE per epoch
    up to float order. Residual targets ride along with the raw-rating inputs, entry for entry."""
    from conftest import fitted

    from pipeline.lib.models import autoencoders

    data = tiny_data[0]
    no_dropout = {"dropout": 0.0} if name == "hybrid_autorec" else {}
    dense = fitted(name, data, **no_dropout)
    monkeypatch.setattr(autoencoders, "SPARSE_ENTRY_COST", 0)
    monkeypatch.setattr(autoencoders, "SPARSE_TABLE_COST", 0)
    sparse = fitted(name, data, **no_dropout)
    steps = [call["x"].sparse for call in run_fit_calls]
    assert steps == [False, True]
    x, y = run_fit_calls[1]["x"][0]
    observed = np.count_nonzero(x["values"])
    assert y.shape == x["values"].shape and (y[:observed] != x["values"][:observed]).any()  # residual targets
    assert sparse.history["val_rmse"] == pytest.approx(dense.history["val_rmse"], rel=1e-4)
    users, items = data.val["user"].to_numpy(), data.val["item"].to_numpy()
    np.testing.assert_allclose(sparse.predict(users, items), dense.predict(users, items), rtol=1e-3, atol=1e-3)


def test_which_step_pays():
    """Dense at ml-100k's density and in small batches; sparse on ml-20m-like rows in batches of 256 and more;
    never for a loss over every entry or for dense re-feeding."""
    from types import SimpleNamespace

    def step(name, shape, nnz, batch_size, units=500, **hp):
        model = build(name, batch_size=batch_size, **hp)
        model.inputs = SimpleNamespace(shape=shape, nnz=nnz)
        first = SimpleNamespace(kernel=SimpleNamespace(shape=(shape[1], units)), units=units)
        model.net = SimpleNamespace(layers=[SimpleNamespace(), first])  # an input layer, then the first Dense
        return model._sparse_step()

    ml20m_items = ((27_000, 138_000), 19_200_000)
    assert [step("autorec", *ml20m_items, b) for b in (64, 256, 512)] == [False, True, True]
    assert not step("autorec", (1682, 943), 96_000, 64)  # ml-100k
    assert not step("autorec", *ml20m_items, 512, masked_loss=False)
    assert step("hybrid_autorec", (138_000, 27_000), 19_200_000, 512)
    assert not step("deep_autorec", (138_000, 27_000), 19_200_000, 512, units=256)  # dense re-feeding
