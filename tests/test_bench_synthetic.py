"""bench/synthetic.py: small synthetic ml-20m-shaped data has the promised shape and parses as ml-20m."""

import sys
from pathlib import Path

from pipeline.lib import formats
from pipeline.lib.datasets import DATASETS
from pipeline.lib.reindex import reindex, validate_ratings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import synthetic  # noqa: E402


def test_synthetic_data_is_ml20m_shaped_and_parses(tmp_path):
    stats = synthetic.generate(60_000, 500, 800, seed=3, out=tmp_path, verbose=False)
    assert (tmp_path / "ratings.csv").read_text().startswith("userId,movieId,rating,timestamp\n")
    assert (tmp_path / "movies.csv").read_text().startswith("movieId,title,genres\n")
    ratings = formats.read_ratings(tmp_path, "csv")
    validate_ratings(ratings, DATASETS["ml-20m"], tmp_path / "ratings.csv", 1)  # half stars, no duplicate pairs
    assert len(ratings) == 60_000 == stats["ratings"]
    per_user = ratings.groupby("user_id").size()
    assert len(per_user) == 500 and per_user.min() >= 20
    shares = ratings["rating"].value_counts(normalize=True)
    assert shares.idxmax() == 4.0 and abs(ratings["rating"].mean() - 3.5) < 0.15
    assert shares[[1.0, 2.0, 3.0, 4.0, 5.0]].sum() > 0.7
    items = formats.read_items(tmp_path, "csv")
    assert len(items) == 800 and items["item_id"].max() > 800  # non-contiguous ids
    assert items["title"].str.contains(",").any() and (items["genres"] == "unknown").any()
    assert set(ratings["item_id"]) <= set(items["item_id"])
    prepared = reindex(ratings, items, None, "error", {"ratings": "ratings.csv", "items": "movies.csv"})
    assert prepared.stats["ratings"] == 60_000


def test_synthetic_is_seeded(tmp_path):
    synthetic.generate(30_000, 300, 400, seed=5, out=tmp_path / "a", verbose=False)
    synthetic.generate(30_000, 300, 400, seed=5, out=tmp_path / "b", verbose=False)
    for name in ("ratings.csv", "movies.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
