"""Every layout parses to the same normalised ratings, movies and users; bad lines are named."""

import numpy as np
import pandas as pd
import pytest

from movielens_fixtures import add_bom, write_csv, write_ml100k, write_ml1m, write_recbole, make_tiny
from pipeline.lib.datasets import LAYOUT_FILES
from pipeline.lib import formats
from pipeline.lib.errors import PipelineError

WRITERS = {"ml-100k": write_ml100k, "dat": write_ml1m, "csv": write_csv, "recbole": write_recbole}


def sorted_ratings(frame):
    return frame.sort_values(["user_id", "item_id"]).reset_index(drop=True)


@pytest.mark.parametrize("layout", list(WRITERS))
def test_ratings_parse_identically_in_every_layout(tmp_path, tiny, layout):
    folder = WRITERS[layout](tmp_path / layout, tiny)
    got = formats.read_ratings(folder, layout)
    assert list(got.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert got["rating"].dtype == np.float32 and got["timestamp"].dtype == np.int64
    expected = tiny.ratings.astype({"rating": np.float32})
    pd.testing.assert_frame_equal(sorted_ratings(got), sorted_ratings(expected), check_dtype=False)


@pytest.mark.parametrize("layout", list(WRITERS))
def test_items_have_title_year_and_genres(tmp_path, tiny, layout):
    folder = WRITERS[layout](tmp_path / layout, tiny)
    items = formats.read_items(folder, layout).set_index("item_id")
    first = tiny.items.iloc[1]
    row = items.loc[first.item_id]
    assert row["year"] == first.year
    assert row["title"].startswith("Movie 1") and not row["title"].endswith(")")
    assert row["genres"] == "|".join(sorted(first.genres))
    if layout == "csv":  # '(no genres listed)' is normalised to 'unknown'
        assert items.loc[tiny.items.iloc[0].item_id, "genres"] == "unknown"
        assert items.loc[first.item_id, "title"] == "Movie 1, The"  # quoted comma survives


@pytest.mark.parametrize("layout", ["ml-100k", "dat", "recbole"])
def test_users_have_demographics(tmp_path, tiny, layout):
    folder = WRITERS[layout](tmp_path / layout, tiny)
    users = formats.read_users(folder, layout).set_index("user_id")
    first = tiny.users.iloc[0]
    assert users.loc[first.user_id, "gender"] == first.gender
    assert users.loc[first.user_id, "age"] == first.age
    assert isinstance(users.loc[first.user_id, "occupation"], str)


def test_csv_has_no_users(tmp_path, tiny):
    assert formats.read_users(write_csv(tmp_path, tiny), "csv") is None


def corrupt(path, line_no, new_line):
    lines = path.read_text(encoding="latin-1").splitlines()
    lines[line_no - 1] = new_line
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")


@pytest.mark.parametrize("layout, file, line, bad, message", [
    ("ml-100k", "u.data", 7, "1\t2\t3", "u.data:7: expected 4 fields"),
    ("ml-100k", "u.data", 3, "1\t2\tfive\t880000000", "u.data:3: field 'rating' is not a number: 'five'"),
    ("ml-100k", "u.data", 5, "x1\t2\t3\t880000000", "u.data:5: field 'user_id' is not an integer"),
    ("dat", "ratings.dat", 4, "1::2:3::880000000", "ratings.dat:4: expected 4 fields"),
    ("csv", "ratings.csv", 9, "1,2,3", "ratings.csv:9: expected 4 fields"),
    ("recbole", "ml-100k.inter", 2, "1\t2", "ml-100k.inter:2: expected 4 fields"),
    ("ml-100k", "u.item", 2, "17|Broken", "u.item:2: expected 24 fields"),
    ("ml-100k", "u.user", 3, "5|old|M|writer|12345", "u.user:3: field 'age' is not an integer: 'old'"),
    ("dat", "users.dat", 1, "9::X::25::3::12345", "users.dat:1: gender must be M or F"),
    # ids below 1, with or without a users file to check them against
    ("ml-100k", "u.data", 3, "0\t2\t3\t880000000", "u.data:3: user id 0 is not allowed: ids are integers from 1 up"),
    ("ml-100k", "u.data", 4, "1\t-2\t3\t880000000", "u.data:4: movie id -2 is not allowed: ids are integers from 1 up"),
    ("dat", "ratings.dat", 5, "-1::2::3::880000000", "ratings.dat:5: user id -1 is not allowed: ids are integers from 1 up"),
    ("csv", "ratings.csv", 6, "-7,2,3.5,880000000", "ratings.csv:6: user id -7 is not allowed: ids are integers from 1 up"),
    ("csv", "ratings.csv", 2, "1,0,3.5,880000000", "ratings.csv:2: movie id 0 is not allowed: ids are integers from 1 up"),
    ("recbole", "ml-100k.inter", 3, "-4\t2\t3\t880000000", "ml-100k.inter:3: user id -4 is not allowed: ids are integers from 1 up"),
    ("ml-100k", "u.item", 2, "0|Zero (1990)|01-Jan-1990||x" + "|0" * 19, "u.item:2: movie id 0 is not allowed: ids are integers from 1 up"),
    ("dat", "movies.dat", 3, "-5::Minus (1990)::Drama", "movies.dat:3: movie id -5 is not allowed: ids are integers from 1 up"),
    ("csv", "movies.csv", 4, "0,Zero (1990),Drama", "movies.csv:4: movie id 0 is not allowed: ids are integers from 1 up"),
    ("recbole", "ml-100k.item", 2, "-1\tMinus\t1990\tDrama", "ml-100k.item:2: movie id -1 is not allowed: ids are integers from 1 up"),
    ("ml-100k", "u.user", 3, "0|30|M|writer|12345", "u.user:3: user id 0 is not allowed: ids are integers from 1 up"),
    ("dat", "users.dat", 2, "-3::F::25::3::12345", "users.dat:2: user id -3 is not allowed: ids are integers from 1 up"),
    ("recbole", "ml-100k.user", 4, "0\t30\tM\twriter\t12345", "ml-100k.user:4: user id 0 is not allowed: ids are integers from 1 up"),
])
def test_malformed_line_is_named(tmp_path, tiny, layout, file, line, bad, message):
    folder = WRITERS[layout](tmp_path / layout, tiny)
    corrupt(folder / file, line, bad)
    with pytest.raises(PipelineError) as err:
        formats.read_ratings(folder, layout)
        formats.read_items(folder, layout)
        formats.read_users(folder, layout)
    assert message in str(err.value)


def test_wrong_csv_header_is_refused(tmp_path, tiny):
    folder = write_csv(tmp_path, tiny)
    corrupt(folder / "ratings.csv", 1, "user,movie,stars,time")
    with pytest.raises(PipelineError, match="ratings.csv:1: expected the header userId,movieId,rating,timestamp"):
        formats.read_ratings(folder, "csv")


def test_half_star_csv(tmp_path):
    tiny = make_tiny(half_stars=True)
    got = formats.read_ratings(write_csv(tmp_path, tiny), "csv")
    assert (got["rating"] % 1 == 0.5).any()


@pytest.mark.parametrize("layout", list(WRITERS))
def test_byte_order_mark_is_stripped_in_every_file(tmp_path, tiny, layout):
    plain = WRITERS[layout](tmp_path / "plain", tiny)
    marked = WRITERS[layout](tmp_path / "marked", tiny)
    for name in LAYOUT_FILES[layout].values():
        if (marked / name).exists():
            add_bom(marked / name)
    for read in (formats.read_ratings, formats.read_items, formats.read_users):
        expected, got = read(plain, layout), read(marked, layout)
        if expected is None:
            assert got is None
        else:
            pd.testing.assert_frame_equal(got, expected)


def test_byte_order_mark_means_utf8_in_a_latin1_layout(tmp_path, tiny):
    folder = write_ml1m(tmp_path, tiny)
    item_id = tiny.items.item_id[0]
    (folder / "movies.dat").write_bytes(b"\xef\xbb\xbf" + f"{item_id}::Amélie (2001)::Comedy\n".encode("utf-8"))
    assert formats.read_items(folder, "dat")["title"].tolist() == ["Amélie"]


