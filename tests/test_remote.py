"""Sharing through an S3 remote: push outputs and the run cache from one clone, pull them into a fresh clone, and
nothing there needs to run again. The remote is a real S3-protocol server (moto's) started on 127.0.0.1."""

import json
import logging
import threading
import time
from pathlib import Path

import pytest

from movielens_fixtures import write_ml1m, zip_folder
from repo import dvc, edit_params, make_repo, run

BUCKET = "dvc-remote-test"
DATA_STAGES = ["check", "download", "reindex", "split", "matrices", "features"]


def ran(stdout):
    return {line.split("'")[1] for line in stdout.splitlines() if line.startswith("Running stage")}


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path (DVC's .gitignore files left out)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".gitignore"}


@pytest.fixture
def s3_server(tmp_path, monkeypatch):
    """moto's S3 server on a free port of 127.0.0.1 with one empty bucket: its endpoint URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    # Neither the developer's AWS settings nor a proxy may reach the test: no credentials until a step sets them.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "HTTP_PROXY", "HTTPS_PROXY",
                 "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    # start() waits for the server's thread to bind, and waits forever when binding fails (the thread dies with
    # the error): start from another thread, with a time limit, and catch what the server's thread raised.
    server, errors = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False), []
    with monkeypatch.context() as patch:
        patch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
        starter = threading.Thread(target=server.start, daemon=True)
        starter.start()
        deadline = time.monotonic() + 60
        while starter.is_alive() and not errors and time.monotonic() < deadline:
            starter.join(timeout=0.1)
    if starter.is_alive() or errors:
        # werkzeug prints a failure to bind and exits the thread: the OSError is the context of that SystemExit
        error = errors and (errors[0].__context__ or errors[0])
        pytest.skip(f"moto's S3 server could not start on 127.0.0.1: {error!r}" if errors
                    else "moto's S3 server was not listening on 127.0.0.1 after 60 s")
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
                 region_name="us-east-1").create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.mark.slow
def test_push_then_pull_into_a_fresh_clone_leaves_nothing_to_run(tmp_path, tiny, s3_server, monkeypatch):
    import boto3

    archive = zip_folder(write_ml1m(tmp_path / "src", tiny), tmp_path / "ml-1m.zip", "ml-1m")
    origin = make_repo(tmp_path / "origin", archive, lambda p: p["data"].update(dataset="ml-1m"))
    # The remote and its endpoint are committed; the credentials go to .dvc/config.local, which git ignores.
    dvc("remote", "add", "-d", "storage", f"s3://{BUCKET}/dvcstore", cwd=origin)
    dvc("remote", "modify", "storage", "endpointurl", s3_server, cwd=origin)
    dvc("remote", "modify", "--local", "storage", "access_key_id", "testing", cwd=origin)
    dvc("remote", "modify", "--local", "storage", "secret_access_key", "testing", cwd=origin)
    assert "testing" not in (origin / ".dvc/config").read_text()

    # Two runs of the data stages: one with another features param, never committed (the run cache records it,
    # and `dvc push` from the workspace that holds its outputs sends them), then the committed one.
    edit_params(origin, lambda p: p["features"].update(affinity_threshold=3.0))
    dvc("repro", "features", cwd=origin)
    dvc("push", cwd=origin)
    other_features = files(origin / "data/features")
    run(["git", "checkout", "params.yaml"], origin)
    assert "Running stage 'features'" in dvc("repro", "features", cwd=origin).stdout
    assert files(origin / "data/features") != other_features
    run(["git", "add", "-A"], origin)
    run(["git", "commit", "-q", "-m", "data stages, S3 remote"], origin)
    assert run(["git", "status", "--porcelain"], origin).stdout == ""
    dvc("push", "--run-cache", cwd=origin)
    keys = [o["Key"] for page in boto3.client("s3", endpoint_url=s3_server, aws_access_key_id="testing",
                                               aws_secret_access_key="testing")
            .get_paginator("list_objects_v2").paginate(Bucket=BUCKET) for o in page.get("Contents", [])]
    assert any(k.startswith("dvcstore/files/md5/") for k in keys), keys
    assert any(k.startswith("dvcstore/runs/") for k in keys), keys

    # A fresh clone: git history and DVC settings only, no cache, no outputs; credentials from the environment.
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    assert not (clone / ".dvc/cache").exists() and files(clone / "data") == {}
    assert not (clone / ".dvc/config.local").exists()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    dvc("pull", "--run-cache", *DATA_STAGES, cwd=clone)
    assert any((clone / ".dvc/cache/runs").rglob("*")), "dvc pull --run-cache brought no run records"

    assert files(clone / "data") == files(origin / "data")
    assert (clone / "data/prepared/ratings.parquet").read_bytes() == \
        (origin / "data/prepared/ratings.parquet").read_bytes()
    # Every stage up to date but check, which DVC always runs (it validates params.yaml on every run).
    status = json.loads(dvc("status", "--json", *DATA_STAGES, cwd=clone).stdout)
    assert status == {"check": ["always changed"]}, status
    done = dvc("repro", "features", cwd=clone)
    assert ran(done.stdout) == {"check"}, done.stdout
    assert files(clone / "data") == files(origin / "data")

    # The pulled run cache restores the uncommitted features run without running it; `--pull` fetches its outputs
    # (`dvc pull` fetches only what dvc.lock names, and `--run-cache` adds the run records, not their outputs).
    edit_params(clone, lambda p: p["features"].update(affinity_threshold=3.0))
    done = dvc("repro", "--pull", "features", cwd=clone)
    assert ran(done.stdout) == {"check"}, done.stdout
    assert "Stage 'features' is cached - skipping run, checking out outputs" in done.stdout, done.stdout
    assert files(clone / "data/features") == other_features
