"""Loading what a model may see, and writing what training produced (used by the train stage and tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import columns as C
from .io import read_json
from .models.base import TrainData


def load_train_data(prepared: Path, split: Path, features: Path | None, fallback: dict) -> TrainData:
    """Train ratings, val ratings (early stopping only) and train-derived side features. Never test."""
    meta = read_json(Path(prepared) / "meta.json")
    cols = [C.USER, C.ITEM, C.RATING]
    data = TrainData(
        train=pd.read_parquet(Path(split) / "train.parquet", columns=cols),
        val=pd.read_parquet(Path(split) / "val.parquet", columns=cols),
        n_users=meta["users"], n_items=meta["items"], scale=tuple(meta["rating_scale"]), fallback=dict(fallback),
    )
    if features is not None and (Path(features) / "users.parquet").exists():
        users = pd.read_parquet(Path(features) / "users.parquet").sort_values(C.USER)
        groups = json.loads((Path(features) / "columns.json").read_text())
        side_cols = [c for c in users.columns if c != C.USER]
        data.user_side = users[side_cols].to_numpy(np.float32)
        data.side_groups = {g: [side_cols.index(c) for c in groups.get(g, [])] for g in ("affinity", "demographics")}
    return data


def prediction_frame(model, pairs: pd.DataFrame) -> pd.DataFrame:
    users, items = pairs[C.USER].to_numpy(), pairs[C.ITEM].to_numpy()
    return pd.DataFrame({C.USER: users.astype(np.int32), C.ITEM: items.astype(np.int32),
                         C.PREDICTION: model.predict(users, items), "cold": model.cold_mask(users, items)})
