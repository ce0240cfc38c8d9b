"""Global mean plus regularised user and item biases, by alternating closed-form sweeps (numpy only).

The bias baseline is a model of its own and every other model's answer for users or movies that
have no train rating.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Biases:
    mu: float
    user: np.ndarray  # (n_users,)
    item: np.ndarray  # (n_items,)

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return (self.mu + self.user[users] + self.item[items]).astype(np.float32)

    def rows(self, users: np.ndarray) -> np.ndarray:
        """(len(users), n_items): every movie's prediction for each of ``users``."""
        return (self.mu + self.user[users][:, None] + self.item[None, :]).astype(np.float32)


def fit_biases(users: np.ndarray, items: np.ndarray, ratings: np.ndarray, n_users: int, n_items: int,
               reg_user: float, reg_item: float, sweeps: int) -> Biases:
    """Minimise sum (r - mu - b_u - b_i)^2 + reg_user |b_u|^2 + reg_item |b_i|^2 by coordinate sweeps."""
    ratings = ratings.astype(np.float64)
    mu = float(ratings.mean())
    n_u = np.bincount(users, minlength=n_users)
    n_i = np.bincount(items, minlength=n_items)
    b_u = np.zeros(n_users)
    b_i = np.zeros(n_items)
    for _ in range(sweeps):
        b_i = np.bincount(items, ratings - mu - b_u[users], minlength=n_items) / (reg_item + n_i)
        b_u = np.bincount(users, ratings - mu - b_i[items], minlength=n_users) / (reg_user + n_u)
    return Biases(mu, b_u.astype(np.float32), b_i.astype(np.float32))
