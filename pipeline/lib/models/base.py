"""The one interface every model has (fit, predict, save, load), and what they all share:
cold-start fallback to the bias baseline, the shrink towards it, clipping to the rating scale, and the training
data bundle."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import columns as C
from ..errors import warn
from ..metrics import rmse
from .biases import Biases, fit_biases
from .config import ModelConfig



@dataclass
class TrainData:
    """Everything a model may learn from. Val is only for early stopping; test never comes here."""

    train: pd.DataFrame  # user, item, rating
    val: pd.DataFrame  # user, item, rating
    n_users: int
    n_items: int
    scale: tuple[float, float]
    user_side: np.ndarray | None = None  # (n_users, d) side features, train-derived
    side_groups: dict[str, list[int]] = field(default_factory=dict)  # group name -> column indices
    item_side: np.ndarray | None = None  # (n_items, genres) 0/1 genre columns
    fallback: dict | None = None  # the baseline's hyperparameters (params train.baseline); None: its defaults
    dataset: str | None = None  # data.dataset as the prepare stage recorded it: picks a config's preset

    def with_val_in_train(self) -> "TrainData":
        """Train and val ratings together as train, for a refit (``Recommender.refit``); val stays as it was, so
        training loops that log a val RMSE still run, but it is no longer held out."""
        train = pd.concat([self.train, self.val], ignore_index=True)
        return replace(self, train=train)

    @cached_property
    def train_matrix(self) -> sp.csr_matrix:
        t = self.train
        return sp.csr_matrix((t[C.RATING].to_numpy(np.float32), (t[C.USER].to_numpy(), t[C.ITEM].to_numpy())),
                             shape=(self.n_users, self.n_items), dtype=np.float32)


class Scorer:
    """What evaluate, report and recommend use: a trained model, or a blend of them, loaded by ``load_scorer``."""

    name: ClassVar[str]

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted ratings for (user, item) pairs, on the rating scale."""
        raise NotImplementedError

    def cold_mask(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """True where the user or the movie has no train rating (the bias baseline answers there)."""
        raise NotImplementedError

    def score_users(self, users: np.ndarray) -> np.ndarray:
        """A (len(users), n_items) score matrix, for ranking."""
        raise NotImplementedError


class Recommender(Scorer):
    """Subclasses declare ``name`` and ``Config`` and implement _fit and _predict_raw; the rest is shared."""

    name: ClassVar[str] = "recommender"
    Config: ClassVar[type[ModelConfig]] = ModelConfig
    quick: ClassVar[dict] = {}  # hyperparameters for a seconds-long run on a tiny dataset (tests, smoke runs)
    # False for a model whose training does not fit the default run's time budget: it is trained when listed in
    # train.models, but the default list (params.yaml) leaves it out.
    in_default_run: ClassVar[bool] = True
    # A trained model predicts w * its own rating + (1 - w) * the bias baseline's, w in [0, 1] fitted on val by
    # least squares (the shrink): a correction that val confirms only in part is scaled down, and one that does not
    # help at all (w = 0) leaves the baseline itself, as if early stopping had picked "epoch 0". Never worse than
    # the baseline on val, by construction. False for the baseline, which is what it shrinks towards.
    shrinks_to_baseline: ClassVar[bool] = True
    # train.refit trains a second copy on train + val for the epochs val chose (``refit``). False for a model whose
    # val choices go beyond a number of epochs (glocal_k also picks between two networks on val).
    refits: ClassVar[bool] = True

    def __init__(self, config: ModelConfig | None = None, **overrides):
        base = config.model_dump() if config is not None else {}
        self.config = self.Config(**{**base, **overrides})
        self.biases: Biases | None = None
        self.seen_users: np.ndarray | None = None
        self.seen_items: np.ndarray | None = None
        self.scale = (1.0, 5.0)
        self.history: dict[str, list[float]] = {}
        self.shrink = 1.0  # w: the weight of the model's own prediction against the baseline's (see above)
        self.shrunk_val_rmse: float | None = None  # val RMSE of what it predicts, when w < 1
        self.held_out: Recommender | None = None  # for a refit model: the model val chose its epochs on

    # --- public interface --------------------------------------------------------------------------------
    def fit(self, data: TrainData, callbacks: list | None = None, verbose: int = 0) -> "Recommender":
        self.config = self.config.for_dataset(data.dataset)
        t = data.train
        users, items = t[C.USER].to_numpy(), t[C.ITEM].to_numpy()
        self.scale = tuple(data.scale)
        from .baseline import BiasBaseline

        # train.baseline (its defaults when None), with the dataset's preset like any config
        fallback = BiasBaseline.Config(**(data.fallback or {})).for_dataset(data.dataset)
        self.biases = fit_biases(users, items, t[C.RATING].to_numpy(), data.n_users, data.n_items,
                                 **fallback.model_dump(exclude={"presets"}))
        self.seen_users = np.bincount(users, minlength=data.n_users) > 0
        self.seen_items = np.bincount(items, minlength=data.n_items) > 0
        self._fit(data, callbacks or [], verbose)
        if self.held_out is not None:  # a refit: val is in train now, so what it says of val is the held-out model's
            held = self.held_out
            self.refit_history, self.history = self.history, held.history
            self.shrink, self.shrunk_val_rmse = held.shrink, held.shrunk_val_rmse
            self.best_epoch = held.best_epoch
            return self
        self._fit_shrink(data)
        if self.is_baseline:
            warn(f"train.{self.name}: val RMSE {self.kept_val_rmse:.4f}, and its corrections to the bias "
                 f"baseline do not help on val (baseline's val RMSE {self.shrunk_val_rmse:.4f}); the model predicts "
                 f"the baseline (1 fallback)")
        return self

    def refit(self, data: TrainData, verbose: int = 0) -> "Recommender":
        """A new model of the same config trained on train + val for the epochs val chose for this one
        (``refit_overrides``), with this one's shrink towards the baseline (fitted on held-out val) and its val
        history. Where this model fell back to the baseline, so does the refit one, on the refit baseline."""
        # this config has its dataset's preset applied already; a preset applied again would undo the overrides
        twin = type(self)(self.config, presets={}, **self.refit_overrides())
        twin.held_out = self
        return twin.fit(data.with_val_in_train(), verbose=verbose)

    def refit_overrides(self) -> dict:
        """Config values for the refit: train for the best epoch's number of epochs, with patience enough that the
        (no longer held-out) val RMSE cannot stop it sooner. A model whose Config has no such keys (one fitted in
        closed form) is fitted again on train + val as it is."""
        epochs = max(int(self.best_epoch), 1)
        return {key: epochs for key in ("epochs", "patience") if key in self.Config.model_fields}

    @property
    def kept_val_rmse(self) -> float:
        """Val RMSE of the model as kept, before the shrink: its best epoch's (early stopping restores that epoch's
        weights; a sampler keeps its last sweep)."""
        return self.history["val_rmse"][self.best_epoch - 1]

    @property
    def val_rmse(self) -> float:
        """Val RMSE of what it predicts: shrunk towards the baseline when w < 1, else as kept."""
        return self.shrunk_val_rmse if self.shrunk_val_rmse is not None else self.kept_val_rmse

    @property
    def is_baseline(self) -> bool:
        """True when this trained model answers with the bias baseline everywhere (a shrink of 0)."""
        return self.shrink == 0.0

    def _fit_shrink(self, data: TrainData) -> None:
        """w = argmin over [0, 1] of the val squared error of w * model + (1 - w) * baseline, both clipped to the
        scale: the least-squares slope of the baseline's val residuals on the model's differences from it."""
        self.shrink, self.shrunk_val_rmse = 1.0, None
        if not self.shrinks_to_baseline or data.val.empty:
            return
        users, items = data.val[C.USER].to_numpy(), data.val[C.ITEM].to_numpy()
        truth = data.val[C.RATING].to_numpy(np.float64)
        base = np.clip(self.biases.predict(users, items), *self.scale).astype(np.float64)
        change = self.predict(users, items).astype(np.float64) - base
        squares = float(change @ change)
        slope = float((truth - base) @ change) / squares if squares > 0 else 0.0
        if slope < 1.0:
            self.shrink = max(slope, 0.0)
            self.shrunk_val_rmse = rmse(truth, self.predict(users, items))

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted ratings for (user, item) pairs: cold pairs get the baseline, warm ones the model's prediction
        shrunk towards it; all on the scale."""
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        baseline = np.clip(self.biases.predict(users, items), *self.scale)
        out = baseline.astype(np.float32)
        warm = self.seen_users[users] & self.seen_items[items] & (not self.is_baseline)
        if warm.any():
            mine = np.clip(self._predict_warm(users[warm], items[warm]), *self.scale).astype(np.float32)
            out[warm] = self._mix(mine, baseline[warm])
        return out

    def _mix(self, mine: np.ndarray, baseline: np.ndarray) -> np.ndarray:
        """w * the model's clipped prediction + (1 - w) * the baseline's clipped one: on the scale, and the model's
        own prediction untouched when w is 1."""
        if self.shrink == 1.0:
            return mine.astype(np.float32)
        return (self.shrink * mine + (1.0 - self.shrink) * baseline).astype(np.float32)

    @property
    def hyperparameters(self) -> dict:
        return self.config.model_dump()

    def cold_mask(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return ~(self.seen_users[np.asarray(users)] & self.seen_items[np.asarray(items)])

    def score_users(self, users: np.ndarray) -> np.ndarray:
        """Every movie's predicted rating for each of ``users``: what ``predict`` gives pair by pair, cold pairs and
        clipping included, computed from a model's whole rows where it has them (``_score_rows``)."""
        n_items = len(self.seen_items)
        users = np.asarray(users, dtype=np.int64)
        rows = None if self.is_baseline else self._score_rows(users)
        if rows is None:
            return self.predict(np.repeat(users, n_items), np.tile(np.arange(n_items), len(users))).reshape(
                len(users), n_items)
        cold = ~(self.seen_users[users][:, None] & self.seen_items[None, :])
        baseline = np.clip(self.biases.rows(users), *self.scale) if cold.any() or self.shrink < 1.0 else None
        if cold.any():
            rows = np.where(cold, baseline, rows)
        # a cold cell mixes the baseline with itself
        return self._mix(np.clip(rows, *self.scale).astype(np.float32), baseline)

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "fallback.npz", mu=np.float64(self.biases.mu), user=self.biases.user,
                 item=self.biases.item, seen_users=self.seen_users, seen_items=self.seen_items,
                 scale=np.array(self.scale), shrink=np.float64(self.shrink), shrunk_val_rmse=np.float64(
                     np.nan if self.shrunk_val_rmse is None else self.shrunk_val_rmse))
        (folder / "model.json").write_text(json.dumps({"name": self.name,
                                                       "config": self.config.model_dump(mode="json")}, indent=2) + "\n")
        self._save(folder)

    @classmethod
    def load(cls, folder: Path) -> "Recommender":
        folder = Path(folder)
        spec = json.loads((folder / "model.json").read_text())
        model = cls(**spec["config"])
        with np.load(folder / "fallback.npz") as f:
            model.biases = Biases(float(f["mu"]), f["user"], f["item"])
            model.seen_users, model.seen_items = f["seen_users"], f["seen_items"]
            model.scale = tuple(float(x) for x in f["scale"])
            model.shrink = float(f["shrink"])
            shrunk = float(f["shrunk_val_rmse"])
            model.shrunk_val_rmse = None if np.isnan(shrunk) else shrunk
        model._load(folder)
        return model

    # --- for subclasses ----------------------------------------------------------------------------------
    def _fit(self, data: TrainData, callbacks: list, verbose: int) -> None:
        raise NotImplementedError

    def _predict_warm(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The prediction for pairs whose user and movie both have train ratings, before clipping: the model's own
        output, unless a model says how its output combines with the baseline."""
        return self._predict_raw(users, items)

    def _predict_raw(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _score_rows(self, users: np.ndarray) -> np.ndarray | None:
        """(len(users), n_items) warm predictions before clipping, for a model that computes whole rows faster than
        pair by pair (a product of factor matrices); None: score_users goes pair by pair through predict."""
        return None

    def _save(self, folder: Path) -> None:
        raise NotImplementedError

    def _load(self, folder: Path) -> None:
        raise NotImplementedError
