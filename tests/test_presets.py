"""Per-dataset presets (``presets`` in every model's section, ModelConfig.for_dataset): applied by fit when the
data is that dataset, and only then; recorded in info.json. Their validation is in test_params.py."""

import numpy as np

from conftest import fitted
from pipeline.lib.models import build
from pipeline.lib.training import train_and_save


def test_a_preset_replaces_the_sections_values_for_its_dataset_only(tiny_data):
    data, _, _ = tiny_data
    preset = {"ml-latest-small": {"reg_user": 0.0, "reg_item": 2.0}}
    plain = fitted("baseline", data, reg_user=0.0, reg_item=2.0)
    default = fitted("baseline", data)
    data.dataset = "ml-latest-small"
    with_preset = fitted("baseline", data, presets=preset)
    assert with_preset.config.reg_user == 0.0 and with_preset.config.presets == preset
    np.testing.assert_array_equal(with_preset.biases.user, plain.biases.user)
    data.dataset = "ml-1m"
    np.testing.assert_array_equal(fitted("baseline", data, presets=preset).biases.user, default.biases.user)
    assert not np.array_equal(plain.biases.user, default.biases.user)  # the preset changes something


def test_a_models_preset_and_the_baselines_preset_both_apply(tiny_data):
    """train.baseline's preset applies to every model's fallback biases; a model's own preset to the model."""
    data, _, _ = tiny_data
    data.dataset = "ml-latest-small"
    data.fallback = {"reg_user": 15.0, "reg_item": 10.0, "sweeps": 10,
                     "presets": {"ml-latest-small": {"reg_user": 0.0}}}
    model = fitted("autorec", data, orientation="item", presets={"ml-latest-small": {"orientation": "user"}})
    assert not model.item_based and model.inputs.shape[0] == data.n_users  # user rows, as the preset says
    data.dataset = None
    np.testing.assert_array_equal(model.biases.user, fitted("baseline", data, reg_user=0.0).biases.user)


def test_info_records_the_preset_applied(tiny_data, tmp_path):
    data, _, _ = tiny_data
    config = {**build("baseline").config.model_dump(), "presets": {"ml-latest-small": {"sweeps": 2}}}
    data.dataset = "ml-latest-small"
    _, info = train_and_save("baseline", config, 0, data, tmp_path / "a")
    assert info["preset"] == {"ml-latest-small": {"sweeps": 2}}
    data.dataset = "ml-100k"
    _, info = train_and_save("baseline", config, 0, data, tmp_path / "b")
    assert info["preset"] == {}
