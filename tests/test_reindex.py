import numpy as np
import pandas as pd
import pytest

from movielens_fixtures import (make_tiny, release_shaped_ratings, write_csv, write_ml100k, write_ml1m,
                                write_ratings_csv, write_recbole)
from pipeline.lib import formats
from pipeline.lib.datasets import DATASETS
from pipeline.lib.errors import PipelineError
from pipeline.lib.reindex import reindex, validate_ratings


def prepare(folder, layout, on_unknown="drop"):
    ratings = formats.read_ratings(folder, layout)
    return reindex(ratings, formats.read_items(folder, layout), formats.read_users(folder, layout), on_unknown,
                   {"ratings": "ratings", "items": "movies", "users": "users"})


def test_indices_are_contiguous_and_map_back_to_original_ids(tmp_path, tiny):
    out = prepare(write_ml100k(tmp_path, tiny), "ml-100k")
    r = out.ratings
    assert r["user"].dtype == np.int32 and r["item"].dtype == np.int32
    assert set(r["user"]) == set(range(len(out.users))) and set(r["item"]) == set(range(len(out.items)))
    back = r.merge(out.users[["user", "user_id"]]).merge(out.items[["item", "item_id"]])
    original = tiny.ratings.set_index(["user_id", "item_id"])["rating"]
    assert np.allclose(back.set_index(["user_id", "item_id"])["rating"], original.loc[back.set_index(
        ["user_id", "item_id"]).index])
    assert out.users["user_id"].is_monotonic_increasing  # index order follows original id order
    genre_cols = [c for c in out.items.columns if c.startswith("genre_")]
    assert out.items[genre_cols].sum(axis=1).min() >= 1


def test_both_ml100k_sources_give_identical_ratings_artifacts(tmp_path, tiny):
    a = prepare(write_ml100k(tmp_path / "grouplens", tiny), "ml-100k")
    b = prepare(write_recbole(tmp_path / "recbole", tiny), "recbole")
    a.ratings.to_parquet(tmp_path / "a.parquet", index=False)
    b.ratings.to_parquet(tmp_path / "b.parquet", index=False)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    cols = ["item", "item_id", "title", "year", "genres"]
    pd.testing.assert_frame_equal(a.items[cols], b.items[cols])
    pd.testing.assert_frame_equal(a.users, b.users)


def test_unknown_movie_is_dropped_with_a_count(tmp_path, tiny, capsys):
    folder = write_ml100k(tmp_path, tiny)
    with open(folder / "u.data", "a") as fh:
        fh.write("%d\t99999\t4\t880000000\n%d\t99998\t3\t880000001\n" % (tiny.users.user_id[0],
                                                                          tiny.users.user_id[1]))
    out = prepare(folder, "ml-100k")
    assert out.stats["dropped_unknown_movie"] == 2
    assert len(out.ratings) == len(tiny.ratings)
    assert "2 rating(s) refer to a movie absent from movies" in capsys.readouterr().err
    with pytest.raises(PipelineError, match="2 rating\\(s\\) refer to a movie absent.*unknown_ids: drop"):
        prepare(folder, "ml-100k", on_unknown="error")


def test_rating_outside_the_scale_names_the_line(tmp_path, tiny):
    folder = write_ml100k(tmp_path, tiny)
    lines = (folder / "u.data").read_text().splitlines()
    parts = lines[4].split("\t")
    lines[4] = "\t".join([parts[0], parts[1], "6", parts[3]])
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    ratings = formats.read_ratings(folder, "ml-100k")
    with pytest.raises(PipelineError, match=r"u.data:5: rating 6 is outside ml-100k's scale \(whole stars 1 to 5\)"):
        validate_ratings(ratings, DATASETS["ml-100k"], folder / "u.data", 0)


def test_half_star_needs_a_half_star_dataset(tmp_path):
    folder = write_csv(tmp_path, make_tiny(half_stars=True))
    ratings = formats.read_ratings(folder, "csv")
    validate_ratings(ratings, DATASETS["ml-20m"], folder / "ratings.csv", 1)
    with pytest.raises(PipelineError, match="outside ml-1m's scale"):
        validate_ratings(ratings, DATASETS["ml-1m"], folder / "ratings.csv", 1)


def test_duplicate_rating_names_the_line(tmp_path, tiny):
    folder = write_csv(tmp_path, tiny)
    lines = (folder / "ratings.csv").read_text().splitlines()
    lines.append(lines[3])
    (folder / "ratings.csv").write_text("\n".join(lines) + "\n")
    ratings = formats.read_ratings(folder, "csv")
    with pytest.raises(PipelineError, match=f"ratings.csv:{len(lines)}: user .* a second time"):
        validate_ratings(ratings, DATASETS["ml-latest-small"], folder / "ratings.csv", 1)


def test_csv_without_users_and_items_indexed(tmp_path, tiny):
    out = prepare(write_csv(tmp_path, tiny), "csv")
    assert "gender" not in out.users.columns
    assert out.stats["has_demographics"] is False


def test_ratings_of_another_release_are_refused_by_their_counts(tmp_path, capsys):
    # ml-latest-small passes as ml-20m on layout and scale: only the counts tell them apart
    folder = write_ratings_csv(tmp_path, release_shaped_ratings(100_836, 610, 9_724))
    ratings = formats.read_ratings(folder, "csv")
    path = folder / "ratings.csv"
    for label in ("ml-20m", "ml-latest"):
        with pytest.raises(PipelineError) as err:
            validate_ratings(ratings, DATASETS[label], path, 1)
        message = str(err.value)
        assert "\n" not in message
        assert message.startswith(f"{path} holds exactly ml-latest-small's ratings (100,836 ratings, 610 users, "
                                  f"9,724 movies), but data.dataset is {label} (ratings.csv")
        assert message.endswith("set data.dataset: ml-latest-small")
    assert validate_ratings(ratings, DATASETS["ml-latest-small"], path, 1) == (100_836, 610, 9_724)
    assert "warning" not in capsys.readouterr().err


def test_counts_unlike_the_release_warn_once(tmp_path, tiny, capsys):
    folder = write_ml100k(tmp_path, tiny)
    ratings = formats.read_ratings(folder, "ml-100k")
    n_users, n_items = ratings["user_id"].nunique(), ratings["item_id"].nunique()
    validate_ratings(ratings, DATASETS["ml-100k"], folder / "u.data", 0)
    err = capsys.readouterr().err
    assert err.count("warning:") == 1
    assert (f"u.data holds {len(ratings):,} ratings, {n_users} users, {n_items} movies, not the 100,000 ratings, "
            "943 users, 1,682 movies of ml-100k as released") in err
    validate_ratings(ratings, DATASETS["ml-latest"], folder / "u.data", 0)
    assert capsys.readouterr().err == ""  # ml-latest changes upstream: nothing to compare with


def test_counts_are_in_the_stats(tmp_path, tiny):
    folder = write_ml100k(tmp_path, tiny)
    with open(folder / "u.data", "a") as fh:  # a movie absent from u.item: dropped, but it was read
        fh.write(f"{tiny.users.user_id[0]}\t99999\t4\t880000000\n")
    ratings = formats.read_ratings(folder, "ml-100k")
    out = reindex(ratings, formats.read_items(folder, "ml-100k"), formats.read_users(folder, "ml-100k"), "drop",
                  {"ratings": "u.data"}, dataset=DATASETS["ml-100k"])
    s = out.stats
    assert (s["ratings_read"], s["users_read"], s["movies_read"]) == (len(tiny.ratings) + 1, len(tiny.users),
                                                                      len(tiny.items) + 1)
    assert s["items"] == len(tiny.items)
    assert s["release_counts"] == {"ratings": 100_000, "users": 943, "movies": 1_682}
    assert s["matches_release"] is False
    s = reindex(ratings, None, None, "drop", {"ratings": "u.data"}, dataset=DATASETS["ml-latest"]).stats
    assert (s["ratings_read"], s["users_read"], s["movies_read"]) == (s["ratings"], s["users"], s["items"])
    assert s["movies_read"] == len(tiny.items) + 1 and s["matches_release"] is None


@pytest.mark.parametrize("label, hint", [
    ("ml-1m", "; half stars suggest ml-10m, not ml-1m: check data.dataset"),
    ("ml-100k", "; ml-100k has only whole stars, half stars come from ml-10m and later: check data.dataset"),
])
def test_half_stars_under_a_whole_star_label_name_the_likely_cause(tmp_path, label, hint):
    tiny = make_tiny(half_stars=True)
    folder = write_ml1m(tmp_path, tiny)
    # write_ml1m writes whole stars; put the half stars back, as ml-10m's ratings.dat has them
    (folder / "ratings.dat").write_text("".join(f"{a}::{b}::{c:g}::{d}\n"
                                                for a, b, c, d in tiny.ratings.itertuples(index=False)))
    ratings = formats.read_ratings(folder, "dat")
    with pytest.raises(PipelineError) as err:
        validate_ratings(ratings, DATASETS[label], folder / "ratings.dat", 0)
    assert "is outside" in str(err.value) and str(err.value).endswith(hint)


def test_rating_off_every_scale_names_no_release(tmp_path, tiny):
    ratings = tiny.ratings.astype({"rating": np.float32})
    ratings.loc[3, "rating"] = 0.0
    with pytest.raises(PipelineError) as err:
        validate_ratings(ratings, DATASETS["ml-1m"], tmp_path / "ratings.dat", 0)
    assert str(err.value).endswith("rating 0 is outside ml-1m's scale (whole stars 1 to 5)")
