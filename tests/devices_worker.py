"""Trains every registered model with its quick settings on the tiny dataset on N devices and prints, as JSON,
each model's best val RMSE and replica count. Run in a fresh process (tests/test_devices.py): the number of logical
devices is fixed when the backend starts."""

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import tiny_pipeline  # noqa: E402
from movielens_fixtures import make_tiny  # noqa: E402

from pipeline.lib.models import REGISTRY  # noqa: E402
from pipeline.lib.training import train_and_save  # noqa: E402


def main(devices: int, names: list[str]) -> None:
    out = {}
    for name in names:
        data, _, _ = tiny_pipeline(make_tiny())
        with tempfile.TemporaryDirectory() as folder:
            model, info = train_and_save(name, REGISTRY[name].quick, 0, data, Path(folder), devices)
        out[name] = {"val_rmse": info["summary"]["val_rmse"], "replicas": info["summary"]["replicas"]}
    print(json.dumps(out))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2:] or list(REGISTRY))
