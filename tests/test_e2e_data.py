"""dvc repro through the data stages, in a throwaway repository, on a fixture archive; and real ml-100k."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from movielens_fixtures import write_ml1m, zip_folder
from repo import dvc, edit_params, make_repo, run


def ran(stdout):
    return {line.split("'")[1] for line in stdout.splitlines() if line.startswith("Running stage")}


@pytest.mark.slow
def test_dvc_repro_data_stages(tmp_path, tiny):
    archive = zip_folder(write_ml1m(tmp_path / "src", tiny), tmp_path / "ml-1m.zip", "ml-1m")
    repo = make_repo(tmp_path / "repo", archive, lambda p: p["data"].update(dataset="ml-1m"))
    done = dvc("repro", "features", cwd=repo)
    for name in ("download", "reindex", "split", "matrices", "features"):
        assert f"Running stage '{name}'" in done.stdout
    meta = json.loads((repo / "data/prepared/meta.json").read_text())
    assert meta["dataset"] == "ml-1m" and meta["ratings"] == len(tiny.ratings)
    # nothing changed: nothing re-runs but the check of params.yaml and the data source
    assert ran(dvc("repro", "features", cwd=repo).stdout) == {"check"}
    # a split param re-runs split and what depends on it, not download or reindex
    edit_params(repo, lambda p: p["split"].update(strategy="random"))
    done = dvc("repro", "features", cwd=repo)
    assert "Running stage 'split'" in done.stdout and "Running stage 'features'" in done.stdout
    assert "Running stage 'download'" not in done.stdout and "Running stage 'reindex'" not in done.stdout
    # a features param re-runs features alone
    edit_params(repo, lambda p: p["features"].update(affinity_threshold=3.0))
    done = dvc("repro", "features", cwd=repo)
    assert "Running stage 'features'" in done.stdout and "Running stage 'split'" not in done.stdout


@pytest.mark.slow
def test_misspelled_keys_and_edited_sources_are_never_silent(tmp_path, tiny):
    folder = write_ml1m(tmp_path / "src", tiny)
    repo = make_repo(tmp_path / "repo", folder, lambda p: p["data"].update(dataset="ml-1m"))
    dvc("repro", "features", cwd=repo)
    # a typo in a section that no stage of this run reads still stops the run, with one line naming it
    edit_params(repo, lambda p: p["evaluate"].update(K=5))
    done = dvc("repro", "features", cwd=repo, check=False)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors == ["error: check: params.yaml: unknown key evaluate.K; allowed keys in evaluate: k, "
                      "relevance_threshold, bootstrap"], done.stderr
    assert "Traceback" not in done.stderr
    edit_params(repo, lambda p: p["evaluate"].pop("K"))
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", "data stages"], repo)
    done = dvc("exp", "run", "-S", "+train.bogus=1", "features", cwd=repo, check=False)
    assert done.returncode != 0 and "unknown key train.bogus; allowed keys in train: models, seed" in done.stderr
    run(["git", "checkout", "params.yaml"], repo)
    # the local source folder edited in place: download, reindex and what follows run again, on the new data
    assert ran(dvc("repro", "features", cwd=repo).stdout) == {"check"}
    ratings = (folder / "ratings.dat").read_text().splitlines()
    (folder / "ratings.dat").write_text("\n".join(ratings[:-5]) + "\n")
    done = dvc("repro", "features", cwd=repo)
    assert "Running stage 'download'" in done.stdout and "Running stage 'reindex'" in done.stdout
    assert json.loads((repo / "data/prepared/meta.json").read_text())["ratings"] == len(ratings) - 5


def pypi_reachable() -> bool:
    done = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "recbole", "--disable-pip-version-check"],
                          capture_output=True, text=True, timeout=120)
    return done.returncode == 0


@pytest.mark.slow
def test_real_ml100k_through_the_pypi_mirror(tmp_path):
    if not pypi_reachable():
        pytest.skip("PyPI is unreachable from this machine, so the recbole wheel cannot be fetched")
    repo = make_repo(tmp_path / "repo", "pypi-mirror")
    dvc("repro", "reindex", cwd=repo)
    ratings = pd.read_parquet(repo / "data/prepared/ratings.parquet")
    assert len(ratings) == 100_000
    assert ratings["user"].nunique() == 943 and ratings["item"].nunique() == 1682
    items = pd.read_parquet(repo / "data/prepared/items.parquet")
    assert items.loc[items["item_id"] == 1, "title"].item() == "Toy Story"
    assert json.loads((repo / "data/raw/manifest.json").read_text())["source"] == "pypi-mirror"
