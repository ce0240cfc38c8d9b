import json

import numpy as np
import pandas as pd
import pytest
import yaml

from movielens_fixtures import (make_tiny, release_shaped_ratings, write_csv, write_ml100k, write_ml1m,
                                write_ratings_csv, write_recbole)
from pipeline.lib import formats
from pipeline.lib.datasets import DATASETS
from pipeline.lib.errors import PipelineError
from pipeline.lib.reindex import most_active_users, reindex, validate_ratings


def prepare(folder, layout, on_unknown="drop", **kwargs):
    ratings = formats.read_ratings(folder, layout)
    return reindex(ratings, formats.read_items(folder, layout), formats.read_users(folder, layout), on_unknown,
                   {"ratings": "ratings", "items": "movies", "users": "users"}, **kwargs)


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


# reindex.top_users, on a frame small enough to check by hand. Ratings per user: 30 has 3; 20 and 10 have 2 each
# (a tie: 10 wins, being the smaller id, although 20 comes first in the file); 5 has 1. Movie 500 is rated by 20
# alone, 600 by 5 alone, and 700 by nobody (in the metadata only).
HAND = pd.DataFrame({
    "user_id": [20, 30, 20, 10, 30, 5, 10, 30],
    "item_id": [200, 100, 500, 100, 200, 600, 400, 300],
    "rating": np.array([4, 3, 5, 2, 4, 1, 3, 5], dtype=np.float32),
    "timestamp": np.arange(8, dtype=np.int64) + 880_000_000,
})
HAND_ITEMS = pd.DataFrame({"item_id": [100, 200, 300, 400, 500, 600, 700], "title": list("ABCDEFG"),
                           "year": pd.array([1990] * 7, dtype="Int16"), "genres": ["Drama"] * 7})
HAND_USERS = pd.DataFrame({"user_id": [5, 10, 20, 30], "gender": list("MFMF")})


def hand(top_users=None):
    kwargs = {} if top_users is None else {"top_users": top_users}
    return reindex(HAND, HAND_ITEMS, HAND_USERS, "error", {"ratings": "r"}, **kwargs)


def test_top_users_keeps_the_most_active_ties_to_the_smaller_id():
    out = hand(top_users=2)
    assert out.users["user_id"].tolist() == [10, 30] and out.users["user"].tolist() == [0, 1]
    assert out.users["gender"].tolist() == ["F", "F"]  # metadata follows the kept users
    # 500 (rated by 20 only) and 600 (by 5 only) are left without ratings: gone, like 700 that nobody rated
    assert out.items["item_id"].tolist() == [100, 200, 300, 400] and out.items["item"].tolist() == [0, 1, 2, 3]
    back = out.ratings.merge(out.users[["user", "user_id"]]).merge(out.items[["item", "item_id"]])
    kept = HAND[HAND["user_id"].isin([10, 30])]
    assert sorted(zip(back["user_id"], back["item_id"], back["rating"])) == sorted(
        zip(kept["user_id"], kept["item_id"], kept["rating"]))
    assert hand(top_users=3).users["user_id"].tolist() == [10, 20, 30]  # 20 beats 5
    assert hand(top_users=1).users["user_id"].tolist() == [30]


def test_top_users_stats_say_what_was_kept_and_what_was_read():
    s = hand(top_users=2).stats
    assert (s["ratings"], s["users"], s["items"]) == (5, 2, 4)
    assert s["top_users"] == 2
    assert (s["ratings_kept"], s["users_kept"], s["movies_kept"]) == (5, 2, 4)
    assert (s["ratings_not_kept"], s["users_not_kept"], s["movies_not_kept"]) == (3, 2, 2)
    assert (s["ratings_read"], s["users_read"], s["movies_read"]) == (8, 4, 6)  # the whole file, as read
    assert s["unrated_movies_not_indexed"] == 1  # 700 alone: never rated, with or without the subset


@pytest.mark.parametrize("top_users", [4, 5, 1_000_000])
def test_top_users_at_or_above_the_number_of_users_keeps_everything(top_users):
    everything, out = hand(), hand(top_users=top_users)
    for a, b in [(everything.ratings, out.ratings), (everything.users, out.users), (everything.items, out.items)]:
        pd.testing.assert_frame_equal(a, b)
    assert {k: v for k, v in out.stats.items() if k in everything.stats} == everything.stats
    assert out.stats["top_users"] == top_users
    assert (out.stats["ratings_not_kept"], out.stats["users_not_kept"], out.stats["movies_not_kept"]) == (0, 0, 0)


def test_top_users_zero_is_todays_output(tmp_path, tiny):
    folder = write_ml100k(tmp_path, tiny)
    today, zero = prepare(folder, "ml-100k"), prepare(folder, "ml-100k", top_users=0)
    for a, b in [(today.ratings, zero.ratings), (today.users, zero.users), (today.items, zero.items)]:
        pd.testing.assert_frame_equal(a, b)
    assert zero.stats == today.stats and "top_users" not in zero.stats  # meta.json byte-identical when off
    s = hand(top_users=0).stats
    assert (s["ratings"], s["users"], s["items"], s["unrated_movies_not_indexed"]) == (8, 4, 6, 1)


def test_most_active_users_matches_a_sort_by_count_then_id():
    rng = np.random.default_rng(1)
    ratings = pd.DataFrame({"user_id": rng.integers(1, 300, 5_000)})  # many ties among ~17 ratings per user
    counts = ratings["user_id"].value_counts()
    expected = sorted(counts.index, key=lambda u: (-counts[u], u))
    for n in (1, 7, 100, len(counts) - 1):
        mask = most_active_users(ratings, n)
        assert set(ratings["user_id"][mask]) == set(expected[:n])
    assert most_active_users(ratings, len(counts)).all()


def test_the_stage_writes_the_subset_to_meta_and_its_summary(tmp_path, tiny, capsys):
    from pipeline import reindex as stage

    raw = write_ml100k(tmp_path / "raw", tiny)
    (raw / "manifest.json").write_text(json.dumps({"dataset": "ml-100k", "layout": "ml-100k", "source": "local"}))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"reindex": {"top_users": 10}}))
    out = tmp_path / "prepared"
    assert stage.main(["--params", str(tmp_path / "params.yaml"), "--raw", str(raw), "--out", str(out)]) == 0
    meta = json.loads((out / "meta.json").read_text())
    per_user = tiny.ratings["user_id"].value_counts()
    top = sorted(per_user.index, key=lambda u: (-per_user[u], u))[:10]
    kept = tiny.ratings[tiny.ratings["user_id"].isin(top)]
    assert (meta["top_users"], meta["users_kept"], meta["ratings_kept"], meta["movies_kept"]) == (
        10, 10, len(kept), kept["item_id"].nunique())
    assert (meta["users"], meta["ratings"], meta["items"]) == (10, len(kept), kept["item_id"].nunique())
    assert meta["ratings_read"] == len(tiny.ratings)  # the release check and the read counts see the whole file
    assert sorted(pd.read_parquet(out / "users.parquet")["user_id"]) == sorted(top)
    assert len(pd.read_parquet(out / "items.parquet")) == kept["item_id"].nunique()
    summary = capsys.readouterr().out
    assert (f"reindex: done: kept the 10 most active of {len(per_user)} users (reindex.top_users: 10): "
            f"{len(kept)} ratings, 10 users, {kept['item_id'].nunique()} movies") in summary
