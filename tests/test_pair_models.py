"""mf and embedding_mlp at scale: lazy Adam on the embedding tables (RowAdam), row reads (RowEmbedding), and mf's
factors and bias in one table; what they change (the cost of a step) and what they must not (Adam on the rows a
batch looked up, the same outputs, the same training with plain Adam)."""

import time

import numpy as np
import pytest

from pipeline.lib.models import build
from pipeline.lib.models.biases import Biases
from pipeline.lib.models.embeddings import BiasedMF, EmbeddingMLP, keras_parts
from pipeline.lib.models.keras_base import KerasRecommender, seed_everything


def row_gradient(rows, values, shape):
    """The gradient of a table whose rows ``rows`` were looked up (one slice per lookup), as the backend gives it:
    row slices on TensorFlow, a dense tensor (duplicates summed) elsewhere."""
    import keras

    rows = np.asarray(rows, dtype=np.int32)
    values = np.asarray(values, dtype=np.float32)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.IndexedSlices(tf.constant(values), tf.constant(rows), tf.constant(shape))
    dense = np.zeros(shape, np.float32)
    np.add.at(dense, rows, values)
    return keras.ops.convert_to_tensor(dense)


def test_row_adam_updates_only_the_rows_looked_up_and_is_adam_there():
    import keras

    rng = np.random.default_rng(0)
    start_table = rng.normal(size=(6, 3)).astype(np.float32)
    start_dense = rng.normal(size=(4,)).astype(np.float32)
    table = keras.Variable(start_table, name="table")
    dense = keras.Variable(start_dense, name="dense")
    lazy = keras_parts().RowAdam(0.01, row_tables=[table.path])
    lazy.build([table, dense])
    # Plain Adam on the same start, fed the dense gradient of the rows that every step looks up (0 and 2).
    ref_table, ref_dense = keras.Variable(start_table[[0, 2]]), keras.Variable(start_dense)
    adam = keras.optimizers.Adam(0.01)
    adam.build([ref_table, ref_dense])
    for step in range(5):
        rows = [0, 2, 0] + ([4] if step == 1 else [])  # row 0 twice in a batch; row 4 only at step 2
        values = rng.normal(size=(len(rows), 3)).astype(np.float32)
        g_dense = rng.normal(size=(4,)).astype(np.float32)
        lazy.apply([row_gradient(rows, values, (6, 3)), keras.ops.convert_to_tensor(g_dense)], [table, dense])
        summed = np.stack([values[0] + values[2], values[1]])  # rows 0 and 2, their slices summed
        adam.apply([keras.ops.convert_to_tensor(summed), keras.ops.convert_to_tensor(g_dense)], [ref_table, ref_dense])
        if step == 1:
            after_step_2 = keras.ops.convert_to_numpy(table)[4].copy()
    out = keras.ops.convert_to_numpy(table)
    np.testing.assert_allclose(out[[0, 2]], keras.ops.convert_to_numpy(ref_table), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(dense), keras.ops.convert_to_numpy(ref_dense), rtol=1e-6)
    # never looked up: untouched, moments still zero; looked up once: moved then, never after
    np.testing.assert_array_equal(out[[1, 3, 5]], start_table[[1, 3, 5]])
    index = lazy._get_variable_index(table)
    for moments in (lazy._momentums[index], lazy._velocities[index]):
        assert not keras.ops.convert_to_numpy(moments)[[1, 3, 5]].any()
    assert not np.array_equal(after_step_2, start_table[4])
    np.testing.assert_array_equal(out[4], after_step_2)


def test_row_embedding_is_keras_embedding():
    import keras

    ids = np.array([3, 0, 3, 7], dtype=np.int32)
    ours = keras_parts().RowEmbedding(8, 5)
    theirs = keras.layers.Embedding(8, 5)
    ours.build((None,))
    theirs.build((None,))
    theirs.set_weights(ours.get_weights())
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours(ids)), keras.ops.convert_to_numpy(theirs(ids)))
    assert ours.get_config() == {**theirs.get_config(), "name": ours.name}
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        grads = []
        for layer in (ours, theirs):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(ids) ** 2)
            grads.append(tf.convert_to_tensor(tape.gradient(loss, layer.trainable_weights[0])).numpy())
        np.testing.assert_array_equal(*grads)


def separate_tables_mf(model: BiasedMF, n_users: int, n_items: int):
    """mf as it was before a user's (movie's) factors and bias shared a table: four tables, a Dot layer; weights
    copied from ``model``'s net."""
    import keras

    from pipeline.lib.models.layers import AddConstant

    k, l2 = model.config.factors, model.config.l2
    user, item = model._inputs()
    reg = keras.regularizers.L2(l2)
    layers = {name: keras.layers.Embedding(n, width, activity_regularizer=reg, name=name)
              for name, n, width in (("user_factors", n_users, k), ("item_factors", n_items, k),
                                     ("user_bias", n_users, 1), ("item_bias", n_items, 1))}
    p, q = layers["user_factors"](user), layers["item_factors"](item)
    b_u, b_i = layers["user_bias"](user), layers["item_bias"](item)
    out = keras.layers.Add()([keras.layers.Dot(axes=1)([p, q]), keras.layers.Reshape((1,))(b_u),
                              keras.layers.Reshape((1,))(b_i)])
    net = keras.Model([user, item], AddConstant(model.biases.mu)(keras.layers.Reshape(())(out)))
    for side in ("user", "item"):
        table = model.net.get_layer(f"{side}_factors").get_weights()[0]
        layers[f"{side}_factors"].set_weights([table[:, :k]])
        layers[f"{side}_bias"].set_weights([table[:, k:]])
    return net


def test_mf_one_table_trains_as_separate_factor_and_bias_tables(tiny_data):
    """With the same start and plain Adam, mf's [factors, bias] tables train exactly as four tables would (Adam is
    per coordinate). The start itself is the baseline's biases and the factors drawn as before."""
    import keras

    data, _, _ = tiny_data
    seed_everything(0)
    model = build("mf", factors=4, l2=0.05, epochs=1).fit(data)  # for its biases
    t = data.train
    x = [t["user"].to_numpy(np.int32), t["item"].to_numpy(np.int32)]
    y = t["rating"].to_numpy(np.float32)
    model.net = model._network(data.n_users, data.n_items)
    for side, bias in (("user", model.biases.user), ("item", model.biases.item)):
        np.testing.assert_array_equal(model.net.get_layer(f"{side}_factors").get_weights()[0][:, -1], bias)
    old = separate_tables_mf(model, data.n_users, data.n_items)
    for net in (model.net, old):
        net.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", jit_compile=False)
        net.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
    every_user = np.arange(data.n_users, dtype=np.int32)
    pairs = [every_user, every_user % data.n_items]
    # Exact up to float32 rounding on TensorFlow; on JAX the fused sums round differently, and Adam's steps
    # (g / sqrt(v)) magnify that on coordinates whose gradient is near zero: 1e-3 after three epochs.
    tolerance = 1e-5 if keras.backend.backend() == "tensorflow" else 3e-3
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.net(pairs)), keras.ops.convert_to_numpy(old(pairs)),
                               rtol=tolerance, atol=tolerance)


def step_seconds(model_cls, n_users: int, n_items: int, steps: int = 60, batch: int = 1024, **config):
    """Median seconds of one training step of a pair model's net, with its own optimizer, on tables of that size."""
    import keras

    model = model_cls(**config)
    model.biases = Biases(3.5, np.zeros(n_users, np.float32), np.zeros(n_items, np.float32))
    model.net = model._network(n_users, n_items)
    model.net.compile(optimizer=model._optimizer(), loss="mse", jit_compile=False)
    rng = np.random.default_rng(0)
    n = batch * (steps + 10)
    x = [rng.integers(0, n_users, n).astype(np.int32), rng.integers(0, n_items, n).astype(np.int32)]
    y = rng.uniform(1, 5, n).astype(np.float32)
    times = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter())

    model.net.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=[Clock()])
    return float(np.median(np.diff(times[10:])))


@pytest.mark.parametrize("model_cls, config", [(BiasedMF, {"factors": 32}), (EmbeddingMLP, {"embedding_dim": 32})])
def test_a_step_costs_the_batch_not_the_table(model_cls, config):
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("JAX differentiates an embedding lookup into a dense table-sized gradient: there a step costs "
                    "the table (docs/benchmarks.md)")
    """A step on tables of 1,000,000 users costs about what it costs at ml-100k's 943 (plain Adam, which rewrites
    every row of every table at every step, takes over 20 times longer there)."""
    small = step_seconds(model_cls, 943, 1682, **config)
    large = step_seconds(model_cls, 1_000_000, 27_000, **config)
    assert large < 3 * small + 0.003, f"{large * 1e3:.1f} ms a step at 1M users against {small * 1e3:.1f} at 943"


@pytest.mark.skipif(not hasattr(KerasRecommender, "_optimizer"),
                    reason="KerasRecommender has no _optimizer hook yet: the pair models still train with Adam")
@pytest.mark.parametrize("name", ["mf", "embedding_mlp"])
def test_pair_models_train_with_row_adam(name, tiny_data, tmp_path):
    from pipeline.lib.models import REGISTRY, load_scorer

    data, parts, _ = tiny_data
    seed_everything(0)
    model = build(name, **REGISTRY[name].quick).fit(data)
    assert type(model.net.optimizer).__name__ == "RowAdam"
    tables = sorted(model.net.optimizer.row_tables)
    assert tables == sorted(w.path for w in model.net.trainable_weights if w.path.endswith("/embeddings"))
    model.save(tmp_path / name)
    test = parts["test"]
    np.testing.assert_array_equal(load_scorer(tmp_path / name).predict(test["user"], test["item"]),
                                  model.predict(test["user"], test["item"]))


@pytest.mark.parametrize("layers", [[8], [8, 4, 3]])
def test_embedding_mlp_whole_rows_are_its_pairs(layers, tiny_data):
    """Ranking's whole rows (the first dense layer split into a user part and a movie part) equal the network run
    pair by pair, with one dense layer and with several."""
    data, _, _ = tiny_data
    seed_everything(0)
    model = build("embedding_mlp", **{**EmbeddingMLP.quick, "layers": layers}).fit(data)
    users = np.arange(data.n_users)
    pairs = model.predict(np.repeat(users, data.n_items), np.tile(np.arange(data.n_items), len(users)))
    np.testing.assert_allclose(model.score_users(users), pairs.reshape(len(users), -1), rtol=1e-5, atol=1e-5)
