"""bench/blend_variants.py --extra: a model of another kept run of the same split joins as a column; another split
is refused."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import blend_variants  # noqa: E402

VAL = pd.DataFrame({"user": [0, 1, 2], "item": [5, 6, 7], "rating": [4.0, 3.0, 5.0]})
TEST = pd.DataFrame({"user": [0, 2], "item": [8, 9], "rating": [2.0, 1.0]})


def kept_run(folder: Path, val: pd.DataFrame, test: pd.DataFrame, model: str, offset: float) -> Path:
    """A --keep folder's split and one model's predictions (the rating plus ``offset``, rows shuffled)."""
    (folder / "data" / "split").mkdir(parents=True)
    for part, frame in (("val", val), ("test", test)):
        frame.to_parquet(folder / "data" / "split" / f"{part}.parquet")
        (folder / "data" / "predictions" / part).mkdir(parents=True)
        predicted = frame.assign(prediction=frame["rating"] + offset).drop(columns="rating").iloc[::-1]
        predicted.to_parquet(folder / "data" / "predictions" / part / f"{model}.parquet")
    return folder


def test_an_extra_model_joins_in_the_pairs_order(tmp_path):
    work = kept_run(tmp_path / "a", VAL, TEST, "mf", 0.5)
    other = kept_run(tmp_path / "b", VAL, TEST, "autorec", -1.0)
    names, xv, xt = blend_variants.predictions(work, ["mf"], [f"{other}:autorec"], VAL, TEST)
    assert names == ["mf", f"autorec@{other}"]
    assert np.array_equal(xv, np.column_stack([VAL["rating"] + 0.5, VAL["rating"] - 1.0]))
    assert np.array_equal(xt, np.column_stack([TEST["rating"] + 0.5, TEST["rating"] - 1.0]))


@pytest.mark.parametrize("part", ["val", "test"])
def test_a_run_of_another_split_is_refused(tmp_path, part):
    work = kept_run(tmp_path / "a", VAL, TEST, "mf", 0.0)
    moved = {"val": VAL, "test": TEST}
    moved[part] = moved[part].assign(item=moved[part]["item"] + 100)  # the same users, other movies
    other = kept_run(tmp_path / "b", moved["val"], moved["test"], "autorec", 0.0)
    with pytest.raises(SystemExit, match=f"its {part} pairs are not .*another split"):
        blend_variants.predictions(work, ["mf"], [f"{other}:autorec"], VAL, TEST)
