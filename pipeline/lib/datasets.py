"""What is known about each MovieLens release: where it lives, its archive's checksum, its layout, its size."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import NamedTuple

# Where data.source can point besides a local archive or folder.
SOURCES = ("auto", "grouplens", "pypi-mirror")

# Overridable for an internal mirror of files.grouplens.org (and for tests on a loopback server).
GROUPLENS_BASE_ENV = "MOVIELENS_BASE_URL"
GROUPLENS_BASE = "https://files.grouplens.org/datasets/movielens"


class ReleaseCounts(NamedTuple):
    """What a release's ratings file holds: ratings, distinct users, distinct rated movies."""

    ratings: int
    users: int
    movies: int

    def __str__(self) -> str:
        return f"{self.ratings:,} ratings, {self.users:,} users, {self.movies:,} movies"


@dataclass(frozen=True)
class Dataset:
    name: str
    layout: str  # "ml-100k" (u.data), "dat" (::-separated), "csv" (ratings.csv)
    half_stars: bool  # ratings 0.5..5 in half steps, else whole stars 1..5
    size: int | None = None  # archive bytes, where known and stable
    sha256: str | None = None
    counts: ReleaseCounts | None = None  # None where the release changes upstream

    @property
    def url(self) -> str:
        base = os.environ.get(GROUPLENS_BASE_ENV, GROUPLENS_BASE).rstrip("/")
        return f"{base}/{self.name}.zip"

    @property
    def scale(self) -> tuple[float, float]:
        return (0.5, 5.0) if self.half_stars else (1.0, 5.0)

    @property
    def layouts(self) -> tuple[str, ...]:
        """The layouts this release may come in: its own, and RecBole's for the release the PyPI mirror ships."""
        return (self.layout, "recbole") if self.name == PYPI_MIRROR["dataset"] else (self.layout,)

    def describe(self) -> str:
        """'ml-1m (ratings.dat, '::'-separated, whole stars; 1,000,209 ratings, 6,040 users, 3,706 movies)'."""
        files = " or ".join(LAYOUT_FILES[layout]["ratings"] for layout in self.layouts)
        separators = " or ".join(dict.fromkeys(LAYOUT_SEPARATORS[layout] for layout in self.layouts))
        stars = "half stars" if self.half_stars else "whole stars"
        counts = str(self.counts) if self.counts else "no fixed counts, it changes upstream"
        return f"{self.name} ({files}, {separators}-separated, {stars}; {counts})"


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset("ml-100k", "ml-100k", False, 4924029, "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
                ReleaseCounts(100_000, 943, 1_682)),
        Dataset("ml-1m", "dat", False, 5917549, "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
                ReleaseCounts(1_000_209, 6_040, 3_706)),
        Dataset("ml-10m", "dat", True, counts=ReleaseCounts(10_000_054, 69_878, 10_677)),
        Dataset("ml-20m", "csv", True, 198702078, "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
                ReleaseCounts(20_000_263, 138_493, 26_744)),
        Dataset("ml-25m", "csv", True, 261978986, "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
                ReleaseCounts(25_000_095, 162_541, 59_047)),
        # The archives of these three are re-packed upstream: the hash seen is recorded, a known one verified.
        # ml-32m and ml-latest-small keep their content; ml-latest grows, so it has no counts.
        Dataset("ml-32m", "csv", True, counts=ReleaseCounts(32_000_204, 200_948, 84_432)),
        Dataset("ml-latest-small", "csv", True, 978202, "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
                ReleaseCounts(100_836, 610, 9_724)),
        Dataset("ml-latest", "csv", True),
    ]
}

# The files each layout is made of: (role, file name); ratings are required, the rest optional.
# ml-100k's predefined folds (pipeline/lib/folds.py): the archive ships u1.base/u1.test ... ub.base/ub.test.
ML100K_FOLDS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")

LAYOUT_FILES: dict[str, dict[str, str]] = {
    "ml-100k": {"ratings": "u.data", "items": "u.item", "users": "u.user",
                **{f"{fold}{part}": f"{fold}{part}" for fold in ML100K_FOLDS for part in (".base", ".test")}},
    "dat": {"ratings": "ratings.dat", "items": "movies.dat", "users": "users.dat"},
    "csv": {"ratings": "ratings.csv", "items": "movies.csv"},
    "recbole": {"ratings": "ml-100k.inter", "items": "ml-100k.item", "users": "ml-100k.user"},
}

# The field separator of each layout's ratings file, for messages that say what was expected.
LAYOUT_SEPARATORS: dict[str, str] = {"ml-100k": "tab", "dat": "'::'", "csv": "comma", "recbole": "tab"}


def releases_in_layout(layout: str) -> str:
    """The releases that come in ``layout``, for messages: 'ml-1m or ml-10m'."""
    names = [d.name for d in DATASETS.values() if layout in d.layouts]
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)

# recbole 1.2.1 ships GroupLens ml-100k as atomic files; its ratings are byte-identical to u.data.
PYPI_MIRROR = {
    "requirement": "recbole==1.2.1",
    "wheel": "recbole-1.2.1-py3-none-any.whl",
    "sha256": "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
    "folder": "recbole/dataset_example/ml-100k/",
    "dataset": "ml-100k",
}
