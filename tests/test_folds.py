"""ml-100k's predefined folds: regenerated from u.data's line order, equal to the archive's fold files, and split
so that test is exactly the fold's test file and val never touches it."""

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from movielens_fixtures import make_tiny, write_csv, write_ml100k
from pipeline import check, download, reindex, split
from pipeline.lib import folds
from pipeline.lib.errors import PipelineError
from test_stages import params_file


def write_fold_files(folder, lines):
    """The archive's fold files, made the way its mku.sh and allbut.pl make them (written out plainly here)."""
    n = len(lines)
    for k in range(1, 6):
        lo, hi = round((k - 1) * n / 5), round(k * n / 5)
        test, base = lines[lo:hi], lines[:lo] + lines[hi:]
        for suffix, part in ((".test", test), (".base", base)):
            rows = sorted(part, key=lambda line: tuple(int(x) for x in line.split("\t")[:2]))
            (folder / f"u{k}{suffix}").write_text("".join(line + "\n" for line in rows))
    for name, (first, last) in {"ua": (1, 10), "ub": (11, 20)}.items():
        seen, test, base = Counter(), [], []
        for line in lines:
            user = line.split("\t")[0]
            seen[user] += 1
            (test if first <= seen[user] <= last else base).append(line)
        (folder / f"{name}.test").write_text("".join(line + "\n" for line in test))
        (folder / f"{name}.base").write_text("".join(line + "\n" for line in base))


@pytest.fixture
def archive_folder(tmp_path):
    folder = write_ml100k(tmp_path / "ml-100k", make_tiny(n_users=40, n_items=60, seed=8))
    write_fold_files(folder, (folder / "u.data").read_text().splitlines())
    return folder


def ids(folder):
    frame = pd.read_csv(folder / "u.data", sep="\t", header=None, usecols=[0, 1])
    return frame[0].to_numpy(), frame[1].to_numpy()


@pytest.mark.parametrize("fold", folds.FOLDS)
def test_regenerated_folds_equal_the_archive_files(archive_folder, fold):
    users, items = ids(archive_folder)
    listed = folds.from_files(archive_folder, fold, users, items)
    np.testing.assert_array_equal(folds.regenerate(users, fold), listed)
    mask, source = folds.test_mask(archive_folder, fold, users, items)
    assert source.startswith("the archive's fold files") and mask.any() and not mask.all()


def test_the_five_folds_partition_the_ratings_and_ua_holds_ten_per_user(archive_folder):
    users, _ = ids(archive_folder)
    total = sum(folds.regenerate(users, f"u{k}").astype(int) for k in range(1, 6))
    assert (total == 1).all()
    per_user = pd.Series(folds.regenerate(users, "ua")).groupby(users).sum()
    counts = pd.Series(users).value_counts().sort_index()
    assert (per_user == np.minimum(counts, 10)).all()


def test_fold_files_of_a_reordered_u_data_are_refused(archive_folder):
    users, items = ids(archive_folder)
    order = np.random.default_rng(0).permutation(len(users))
    with pytest.raises(PipelineError, match="u1.test: .* ratings differ from the fold regenerated"):
        folds.test_mask(archive_folder, "u1", users[order], items[order])


def run(tmp_path, source, **edits):
    params = params_file(tmp_path, source, split__strategy="predefined", **edits)
    p = ["--params", str(params)]
    for main, args in [(check.main, ["--out", tmp_path / "source.json"]), (download.main, ["--out", tmp_path / "raw"]),
                       (reindex.main, ["--raw", tmp_path / "raw", "--out", tmp_path / "prepared"]),
                       (split.main, ["--prepared", tmp_path / "prepared", "--raw", tmp_path / "raw",
                                     "--out", tmp_path / "split"])]:
        code = main(p + [str(a) for a in args])
        if code:
            return code
    return 0


@pytest.mark.parametrize("fold", ["u3", "ub"])
def test_split_test_is_the_fold_file_and_val_never_overlaps_it(archive_folder, tmp_path, fold, capsys):
    params_edit = {"split__predefined": {"fold": fold, "val_fraction": 0.1}}
    assert run(tmp_path, archive_folder, **params_edit) == 0
    assert f"predefined {fold}, test from the archive's fold files" in capsys.readouterr().out
    parts = {p: pd.read_parquet(tmp_path / "split" / f"{p}.parquet") for p in ("train", "val", "test")}
    users = pd.read_parquet(tmp_path / "prepared" / "users.parquet").set_index("user")["user_id"]
    items = pd.read_parquet(tmp_path / "prepared" / "items.parquet").set_index("item")["item_id"]
    listed = pd.read_csv(archive_folder / f"{fold}.test", sep="\t", header=None, usecols=[0, 1])
    got = set(zip(users[parts["test"]["user"]].to_numpy(), items[parts["test"]["item"]].to_numpy()))
    assert got == set(zip(listed[0], listed[1]))
    pairs = {p: set(zip(f["user"], f["item"])) for p, f in parts.items()}
    assert not pairs["val"] & pairs["test"] and not pairs["train"] & pairs["test"]
    base = sum(len(f) for p, f in parts.items() if p != "test")
    assert len(parts["val"]) == round(0.1 * base)
    summary = json.loads((tmp_path / "split" / "summary.json").read_text())
    assert summary["predefined"]["fold"] == fold


def test_without_fold_files_the_folds_are_regenerated(tmp_path, capsys):
    folder = write_ml100k(tmp_path / "plain", make_tiny(n_users=30, n_items=40, seed=2))
    assert run(tmp_path, folder) == 0
    assert "test from u.data's line order (no fold files to compare with)" in capsys.readouterr().out


def test_predefined_is_ml100k_only(tmp_path, capsys):
    folder = write_csv(tmp_path / "csv", make_tiny(n_users=30, n_items=40, seed=2))
    assert run(tmp_path, folder, data__dataset="ml-latest-small") == 2
    assert "split.strategy: predefined is ml-100k's folds (u1, u2, u3, u4, u5, ua, ub); data.dataset is " \
           "ml-latest-small" in capsys.readouterr().err
