"""What is known about each MovieLens release: where it lives, its archive's checksum, its layout."""

from __future__ import annotations

import os
from dataclasses import dataclass

# Overridable for an internal mirror of files.grouplens.org (and for tests on a loopback server).
GROUPLENS_BASE_ENV = "MOVIELENS_BASE_URL"
GROUPLENS_BASE = "https://files.grouplens.org/datasets/movielens"


@dataclass(frozen=True)
class Dataset:
    name: str
    layout: str  # "ml-100k" (u.data), "dat" (::-separated), "csv" (ratings.csv)
    half_stars: bool  # ratings 0.5..5 in half steps, else whole stars 1..5
    size: int | None = None  # archive bytes, where known and stable
    sha256: str | None = None

    @property
    def url(self) -> str:
        base = os.environ.get(GROUPLENS_BASE_ENV, GROUPLENS_BASE).rstrip("/")
        return f"{base}/{self.name}.zip"

    @property
    def scale(self) -> tuple[float, float]:
        return (0.5, 5.0) if self.half_stars else (1.0, 5.0)


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset("ml-100k", "ml-100k", False, 4924029, "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"),
        Dataset("ml-1m", "dat", False, 5917549, "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"),
        Dataset("ml-10m", "dat", True),
        Dataset("ml-20m", "csv", True, 198702078, "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3"),
        Dataset("ml-25m", "csv", True, 261978986, "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa"),
        # These three change upstream: the hash seen is recorded, a known one verified.
        Dataset("ml-32m", "csv", True),
        Dataset("ml-latest-small", "csv", True, 978202, "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436"),
        Dataset("ml-latest", "csv", True),
    ]
}

# The files each layout is made of: (role, file name); ratings are required, the rest optional.
LAYOUT_FILES: dict[str, dict[str, str]] = {
    "ml-100k": {"ratings": "u.data", "items": "u.item", "users": "u.user"},
    "dat": {"ratings": "ratings.dat", "items": "movies.dat", "users": "users.dat"},
    "csv": {"ratings": "ratings.csv", "items": "movies.csv"},
    "recbole": {"ratings": "ml-100k.inter", "items": "ml-100k.item", "users": "ml-100k.user"},
}

# recbole 1.2.1 ships GroupLens ml-100k as atomic files; its ratings are byte-identical to u.data.
PYPI_MIRROR = {
    "requirement": "recbole==1.2.1",
    "wheel": "recbole-1.2.1-py3-none-any.whl",
    "sha256": "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
    "folder": "recbole/dataset_example/ml-100k/",
    "dataset": "ml-100k",
}
