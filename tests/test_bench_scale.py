"""bench/scale.py's floor for the autoencoders: the layer shapes read from a saved model, and the estimate."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import scale  # noqa: E402


def test_dense_layers_of_a_saved_autoencoder(tiny_data, tmp_path):
    from pipeline.lib.models import REGISTRY, build
    from pipeline.lib.models.keras_base import seed_everything

    data = tiny_data[0]
    seed_everything(0)
    model = build("deep_autorec", **{**REGISTRY["deep_autorec"].quick, "layers": [6, 4]}).fit(data)
    model.save(tmp_path)
    config = scale.saved_config(tmp_path / "model.keras")
    # user rows in (one column per movie), mirrored decoder, reconstruction back to the movies
    assert scale.dense_layers(config) == [(data.n_items, 6), (6, 4), (4, 6), (6, data.n_items)]
    assert scale.embedding_widths(config) is None


def test_autoencoder_floor_by_hand():
    layers = [(1000, 10), (10, 1000)]  # 20,000 weights; 200 rows of 1,000 columns
    floor = scale.autoencoder_floor(layers, cells=200_000, ratings=5_000, steps=4, bandwidth=1e6, flops=1e9)
    optimizer = 4 * 20_000 * 4 * scale.WEIGHT_PASSES / 1e6  # steps x weights x 4 bytes x passes
    assert floor["optimizer_seconds"] == pytest.approx(optimizer)
    assert floor["dense_seconds"] == pytest.approx(max(6 * 200 * 20_000 / 1e9, optimizer))
    assert floor["sparse_seconds"] == pytest.approx(5_000 * (10 + 10) * 4 * scale.ENTRY_ROW_PASSES / 1e6 + optimizer)
    assert floor["seconds"] == min(floor["dense_seconds"], floor["sparse_seconds"]) == floor["dense_seconds"]
    # far fewer ratings than cells: the sparse step's floor is the lower one
    sparse = scale.autoencoder_floor(layers, cells=200_000, ratings=5, steps=4, bandwidth=1e9, flops=1e6)
    assert sparse["seconds"] == sparse["sparse_seconds"] < sparse["dense_seconds"]
    assert scale.autoencoder_floor([(5, 3)], cells=10, ratings=1, steps=1, bandwidth=1, flops=1) is None


def test_params_set_epochs_or_a_samplers_sweeps(tmp_path):
    import argparse

    import yaml

    args = argparse.Namespace(params=scale.ROOT / "params.yaml", epochs=3)
    scale.write_params(args, tmp_path, tmp_path / "data", ["baseline", "mf", "bayesian_fm"])
    train = yaml.safe_load((tmp_path / "params.yaml").read_text())["train"]
    default = yaml.safe_load(args.params.read_text())["train"]
    assert train["mf"]["epochs"] == 3 and train["baseline"] == default["baseline"]  # closed-form sweeps untouched
    assert (train["bayesian_fm"]["sweeps"], train["bayesian_fm"]["burn_in"]) == (3, 2)  # burn-in below the sweeps
    from pipeline.lib.params import load_params

    load_params(tmp_path / "params.yaml")  # what the check stage will accept
