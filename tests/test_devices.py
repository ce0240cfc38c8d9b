"""train.devices: data-parallel training through each installed backend's own distribution, tried on the CPU
split into two logical devices (models/distribute.py)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.lib.errors import PipelineError

WORKER = Path(__file__).with_name("devices_worker.py")
# The array path (mf) and the batched-rows path with dropout (deep_autorec).
MODELS = ["mf", "deep_autorec"]
BACKENDS = [b for b in ("tensorflow", "jax") if importlib.util.find_spec(b) is not None]


def trained(backend: str, devices: int) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, str(WORKER), str(devices), *MODELS], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_two_logical_devices_train_like_one(backend):
    one, two = trained(backend, 1), trained(backend, 2)
    for name in MODELS:
        assert one[name]["replicas"] == 1 and two[name]["replicas"] == 2, (name, one[name], two[name])
        # Three quick epochs from the same start: the replicas average their shares' gradients (and their dropout
        # masks are drawn per replica), so the two runs differ by float order and masks only; measured up to
        # 1.3% apart.
        assert two[name]["val_rmse"] == pytest.approx(one[name]["val_rmse"], rel=0.03), name


def test_more_devices_than_the_backend_sees_is_one_line():
    from pipeline.lib.models.backend import import_keras
    from pipeline.lib.models.distribute import data_parallel

    import_keras()  # started with one CPU device, as the test process is
    with pytest.raises(PipelineError, match=r"train\.devices: 64 asked, the \w+ backend sees 1 .*allowed: auto or 1"):
        with data_parallel(64):
            pass
    with data_parallel("auto") as replicas:  # no accelerator here
        assert replicas == 1


@pytest.mark.parametrize("value", [0, -1, "all", 1.5])
def test_bad_devices_value_names_the_key(tmp_path, value):
    import yaml

    from pipeline.lib.params import load_params

    params = yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text())
    params["train"]["devices"] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(PipelineError, match=r"train\.devices"):
        load_params(path)


def test_full_batches_pads_with_weightless_copies():
    from pipeline.lib.models.distribute import full_batches

    x = [np.arange(5), np.arange(5) * 10]
    y = np.arange(5, dtype=np.float32)
    (users, items), ratings, weights = full_batches(x, y, 4)
    assert len(ratings) == 8 and list(users[5:]) == [0, 1, 2] and list(items[5:]) == [0, 10, 20]
    assert list(weights) == [1, 1, 1, 1, 1, 0, 0, 0] and list(ratings[:5]) == list(y)
    (_,), _, weights = full_batches([np.arange(8)], np.zeros(8), 4)  # already whole: nothing added
    assert len(weights) == 8 and weights.all()


def test_row_batches_fill_the_last_batch_with_empty_rows():
    import scipy.sparse as sp

    from pipeline.lib.models.batches import RowBatches

    m = sp.random(10, 6, density=0.5, format="csr", random_state=0, dtype=np.float32)
    m.data += 1
    batches = RowBatches(m, 4, seed=1)
    last = len(batches) - 1
    assert batches[last][0].shape == (2, 6)
    batches.full_batches = True
    x, y = batches[last]
    assert x.shape == y.shape == (4, 6) and not y[2:].any()
    np.testing.assert_array_equal(y[:2], m[batches.rows(last)].toarray())
