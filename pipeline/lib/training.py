"""Loading what a model may see, training it, and writing what training produced (train stage, tests, bench)."""

from __future__ import annotations

import contextlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import columns as C
from .io import read_json, require, write_json
from .models.base import TrainData


def load_train_data(prepared: Path, split: Path, features: Path | None, fallback: dict | None) -> TrainData:
    """Train ratings, val ratings (early stopping only) and train-derived side features. Never test."""
    meta = read_json(require(Path(prepared) / "meta.json"))
    cols = [C.USER, C.ITEM, C.RATING]
    data = TrainData(
        train=pd.read_parquet(require(Path(split) / "train.parquet"), columns=cols),
        val=pd.read_parquet(require(Path(split) / "val.parquet"), columns=cols),
        n_users=meta["users"], n_items=meta["items"], scale=tuple(meta["rating_scale"]), fallback=fallback,
        dataset=meta.get("dataset"),
    )
    if features is not None:
        users = pd.read_parquet(require(Path(features) / "users.parquet")).sort_values(C.USER)
        groups = json.loads(require(Path(features) / "columns.json").read_text())
        side_cols = [c for c in users.columns if c != C.USER]
        data.user_side = users[side_cols].to_numpy(np.float32)
        data.side_groups = {g: [side_cols.index(c) for c in groups.get(g, [])] for g in ("affinity", "demographics")}
        items = pd.read_parquet(require(Path(features) / "items.parquet")).sort_values(C.ITEM)
        data.item_side = items[[c for c in items.columns if c != C.ITEM]].to_numpy(np.float32)
    return data


def train_and_save(name: str, config: dict, seed: int, data: TrainData, folder: Path, devices: int | str = 1,
                   refit: bool = False):
    """Seed, fit ``name`` with ``config`` on ``data`` (DVCLive curves under folder/dvclive), save it and its
    history and info into ``folder``, on ``devices`` (params train.devices; models/distribute.py). With ``refit``
    (params train.refit) a model that ``refits`` is trained again on train + val (``Recommender.refit``) and that
    one is saved; its ``held_out`` is the first. Returns the model and the info written."""
    from .models import build, model_class
    from .models.keras_base import KerasRecommender

    # Keras only for a Keras model, and only once params are known to be good: importing it takes seconds
    if issubclass(model_class(name), KerasRecommender):
        from .models.backend import import_keras
        from .models.distribute import cpu_devices, data_parallel
        from .models.keras_base import device_name, seed_everything

        keras = import_keras(cpu_devices(devices))
        reseed = seed_everything
        backend, device, parallel = keras.backend.backend(), device_name(), data_parallel(devices)
    else:  # the baseline: NumPy only, on one CPU
        def reseed(seed):
            random.seed(seed)
            np.random.seed(seed)
        backend, device, parallel = "numpy", "cpu", contextlib.nullcontext(1)
    reseed(seed)
    verbose = 1 if sys.stdout.isatty() else 2  # one line per epoch in logs
    live = live_callback(Path(folder) / "dvclive", keras_callback=backend != "numpy")  # curves for `dvc plots`
    with parallel as replicas:
        model = build(name, **config)
        start = time.perf_counter()
        model.fit(data, callbacks=[live], verbose=verbose)
        seconds = time.perf_counter() - start
        refitted = None
        if refit and model.refits:
            start = time.perf_counter()
            reseed(seed)  # the same start as the held-out model: the data is all that differs
            model = model.refit(data, verbose=verbose)
            refitted = {"epochs": len(next(iter(model.refit_history.values()), [])),
                        "ratings": len(data.train) + len(data.val), "seconds": round(time.perf_counter() - start, 2)}
            seconds += refitted["seconds"]
    finish_live(live, model.history)
    # `summary` is what evaluate copies into metrics/<model>.json beside the test metrics.
    # A model shrunk towards the baseline (Recommender.shrink < 1) reports the val RMSE of what it predicts; one
    # shrunk all the way answers with the baseline, and its best epoch is 0 (before any training).
    fell_back = model.is_baseline
    val_rmse = model.val_rmse
    preset = (model.held_out or model).config.presets.get(data.dataset)
    info = {"model": name, "backend": backend, "best_epoch": 0 if fell_back else model.best_epoch,
            "preset": {data.dataset: preset} if preset else {},
            "parameters": model.count_params(), **({"refit": refitted} if refitted else {}),
            "summary": {"val_rmse": round(val_rmse, 6), "baseline_fallback": int(fell_back),
                        "shrink": round(model.shrink, 6),
                        "train_seconds": round(seconds, 2),
                        "epochs": len(next(iter(model.history.values()), [])), "device": device,
                        "replicas": replicas}}
    model.save(folder)
    write_json(model.history, Path(folder) / "history.json")
    write_json(info, Path(folder) / "info.json")
    return model, info


def prediction_frame(model, pairs: pd.DataFrame) -> pd.DataFrame:
    users, items = pairs[C.USER].to_numpy(), pairs[C.ITEM].to_numpy()
    return pd.DataFrame({C.USER: users.astype(np.int32), C.ITEM: items.astype(np.int32),
                         C.PREDICTION: model.predict(users, items), "cold": model.cold_mask(users, items)})


def live_callback(folder: Path, keras_callback: bool = True):
    """A callback logging per-epoch metrics with DVCLive under ``folder`` (plots/metrics/{train,eval}/*.tsv), as
    DVCLive's own Keras callback does, written in Keras 3: dvclive.keras imports TensorFlow whatever the backend.
    ``keras_callback`` False: the same logger without Keras, for a model trained without a Keras epoch loop.

    dvcyaml=False and save_dvc_exp=False: dvc.yaml's own top-level plots show these files, and DVC itself
    records experiments, so DVCLive must not write a dvc.yaml or make experiments of its own.
    """
    from dvclive import Live

    live = Live(dir=str(folder), dvcyaml=False, save_dvc_exp=False, report=None)
    return _keras_live(live) if keras_callback else LiveLog(live)


def finish_live(callback, history: dict[str, list[float]]) -> None:
    """Models trained without a Keras epoch loop (the baseline) never call the callback: replay their history
    through it, so their files are written exactly as a Keras fit would write them."""
    if callback.live.step == 0 and not callback.live.summary:
        for epoch in range(len(next(iter(history.values()), []))):
            callback.on_epoch_end(epoch, {name: values[epoch] for name, values in history.items()})
        callback.on_train_end()


class LiveLog:
    """Per-epoch logs (a Keras callback's ``on_epoch_end`` logs) into a DVCLive ``Live``."""

    def __init__(self, live):
        self.live = live

    def on_epoch_end(self, epoch, logs=None):
        from dvclive.utils import standardize_metric_name

        for name, value in (logs or {}).items():
            self.live.log_metric(standardize_metric_name(name, "dvclive.keras"), value)
        self.live.next_step()

    def on_train_end(self, logs=None):
        self.live.end()


def _keras_live(live):
    import keras

    class KerasLive(LiveLog, keras.callbacks.Callback):
        def __init__(self):
            keras.callbacks.Callback.__init__(self)
            LiveLog.__init__(self, live)

    return KerasLive()
