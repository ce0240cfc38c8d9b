"""The stage commands themselves: one line and a non-zero exit on bad input, nothing half-written."""

import subprocess
import sys

import pandas as pd
import pytest
import yaml

from movielens_fixtures import write_csv, write_ml100k, zip_folder
from repo import ROOT


def stage(name, *args, cwd):
    return subprocess.run([sys.executable, "-m", f"pipeline.{name}", *args], cwd=cwd, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def params_file(tmp_path, source, **edits):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["source"] = str(source)
    for key, value in edits.items():
        section, name = key.split("__")
        params[section][name] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def run_data_stages(tmp_path, params):
    outs = {}
    for name, args in [("check", ["--out", "source.json"]), ("download", ["--out", "raw"]), ("reindex", ["--raw", "raw", "--out", "prepared"]),
                       ("split", ["--prepared", "prepared", "--out", "split"]),
                       ("matrices", ["--prepared", "prepared", "--split", "split", "--out", "matrices"]),
                       ("features", ["--prepared", "prepared", "--matrices", "matrices", "--out", "features"])]:
        uses_params = name != "matrices"
        done = stage(name, *(["--params", str(params)] if uses_params else []), *args, cwd=tmp_path)
        outs[name] = done
        if done.returncode:
            break
    return outs


def test_data_stages_on_a_local_archive(tmp_path, tiny):
    archive = zip_folder(write_ml100k(tmp_path / "src", tiny), tmp_path / "ml-100k.zip", "ml-100k")
    outs = run_data_stages(tmp_path, params_file(tmp_path, archive))
    for name, done in outs.items():
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().startswith(f"{name}: done: ")  # one summary line per stage
    ratings = pd.read_parquet(tmp_path / "prepared" / "ratings.parquet")
    assert len(ratings) == len(tiny.ratings)
    assert {p.name for p in (tmp_path / "split").iterdir()} == {"train.parquet", "val.parquet", "test.parquet",
                                                                "summary.json"}
    users = pd.read_parquet(tmp_path / "features" / "users.parquet")
    assert len(users) == len(tiny.users) and "gender_F" in users.columns


def test_bad_line_stops_with_one_line_and_leaves_no_output(tmp_path, tiny):
    folder = write_ml100k(tmp_path / "src", tiny)
    lines = (folder / "u.data").read_text().splitlines()
    lines[10] = "1\t2\t3"
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    outs = run_data_stages(tmp_path, params_file(tmp_path, folder))
    done = outs["reindex"]
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("error: reindex: ") and "u.data:11: expected 4 fields" in done.stderr
    assert not (tmp_path / "prepared").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".prepared")]  # no temp leftovers


def test_bad_param_stops_before_any_work(tmp_path, tiny):
    folder = write_csv(tmp_path / "src", tiny)
    params = params_file(tmp_path, folder, split__strategy="kfold")
    outs = run_data_stages(tmp_path, params)
    # the check stage validates the whole file, so it refuses before any work
    assert list(outs) == ["check"] and outs["check"].returncode == 2
    assert "split.strategy: Input should be 'users', 'random', 'temporal' or 'predefined', got 'kfold'" in outs["check"].stderr
    assert not (tmp_path / "raw").exists()


def test_unknown_dataset_param(tmp_path, tiny):
    params = params_file(tmp_path, tmp_path, data__dataset="ml-3m")
    done = stage("download", "--params", str(params), "--out", "raw", cwd=tmp_path)
    assert done.returncode == 2 and "data.dataset: Input should be 'ml-100k', 'ml-1m'" in done.stderr
    assert not (tmp_path / "raw").exists()
