"""Every stage run before its inputs exist (a fresh clone, or a stage run out of order) stops with one line that
names the missing file and the stage that makes it: no traceback.

The stages come from dvc.yaml through pipeline.lib.dag, so a new stage is covered without editing this file.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from movielens_fixtures import make_tiny, write_ml100k
from pipeline.lib import dag
from pipeline.lib.errors import PipelineError, stage_main
from pipeline.lib.io import require
from repo import ROOT

DAG = dag.load(ROOT)
STAGES = DAG.stages
# download depends on data/source.json only so that DVC re-runs it when the source changes; it reads data.source
# (the network, or a path in params) instead: tested apart below, offline.
NOT_READ = {"download"}


def made_elsewhere(name: str) -> list[str]:
    """The deps of stage ``name`` that another stage makes: what is missing in a fresh clone."""
    return [d for d in STAGES[name].deps if DAG.producer(d) not in (None, name)]


WITH_INPUTS = [n for n in STAGES if n not in NOT_READ and made_elsewhere(n)]

# "error: <stage>: <path>: ...`dvc repro <producer>`..."
ERROR = re.compile(r"error: (?P<stage>[^:]+): (?P<path>[^:]+): .*`dvc repro (?P<producer>[^`\s]+)`")


def env() -> dict:
    # `python` in a stage's cmd must be this venv's; the package is imported from the repository
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT)}


def workspace(folder: Path, edit=None) -> Path:
    """A folder holding only dvc.yaml and params.yaml: no data, no models, no metrics."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dvc.yaml", folder / "dvc.yaml")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    if edit:
        edit(params)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return folder


def start(cmd: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, shell=True, cwd=cwd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each stage's own cmd, each in its own empty workspace, all at once (each one mostly waits on imports)."""
    base = tmp_path_factory.mktemp("missing")
    procs = {name: (start(STAGES[name].cmd, workspace(base / name)), base / name) for name in WITH_INPUTS}
    done = {}
    for name, (proc, cwd) in procs.items():
        out, err = proc.communicate(timeout=600)
        done[name] = (proc.returncode, out, err, cwd)
    return done


def check_one_line(returncode: int, err: str) -> str:
    assert "Traceback" not in err, err
    assert returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # nothing else on stderr either: no library noise around the message
    assert lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize("name", list(STAGES))
def test_stage_without_inputs_names_the_missing_file_and_its_stage(runs, name):
    if name in NOT_READ:
        pytest.skip("reads no file another stage makes (see NOT_READ)")
    if name not in WITH_INPUTS:
        pytest.skip("no dep made by another stage: nothing can be missing")
    returncode, _, err, cwd = runs[name]
    line = check_one_line(returncode, err)
    match = ERROR.match(line)
    assert match, f"no `<path>: ... dvc repro <stage>` in: {line}"
    path, producer = match["path"], match["producer"]
    assert not (cwd / path).exists(), line
    assert producer == dag.load(cwd).producer(path), f"{path} is made by {dag.load(cwd).producer(path)}: {line}"
    assert producer != name, line
    # the file it stopped on is one it declares: otherwise DVC would not know to run the producer first
    deps = STAGES[name].deps
    assert any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps), f"{path} not under {deps}"


def test_download_from_a_missing_local_source_is_one_line(tmp_path):
    """download reads data.source, no file another stage makes: a local path that does not exist fails fast,
    offline."""
    source = tmp_path / "no-such-release"
    cwd = workspace(tmp_path / "ws", lambda p: p["data"].update(source=str(source)))
    proc = start(STAGES["download"].cmd, cwd)
    _, err = proc.communicate(timeout=300)
    line = check_one_line(proc.returncode, err)
    assert str(source) in line
    assert not (cwd / "data" / "raw").exists()


def test_recommend_blend_before_the_blend_stage_names_it(tmp_path):
    """`recommend --model blend` with data/prepared made but the blend stage never run: run `dvc repro blend`."""
    from pipeline import download, reindex

    tiny = make_tiny()
    cwd = workspace(tmp_path / "ws", lambda p: p["data"].update(source=str(write_ml100k(tmp_path / "src", tiny))))
    params = ["--params", str(cwd / "params.yaml")]
    assert download.main([*params, "--out", str(cwd / "data" / "raw")]) == 0
    assert reindex.main([*params, "--raw", str(cwd / "data" / "raw"), "--out", str(cwd / "data" / "prepared")]) == 0
    user = str(tiny.users["user_id"].iloc[0])
    proc = start(f"python -m pipeline.recommend --user {user} --model blend", cwd)
    _, err = proc.communicate(timeout=600)
    line = check_one_line(proc.returncode, err)
    match = ERROR.match(line)
    assert match and match["producer"] == "blend", line
    assert dag.load(cwd).producer(match["path"]) == "blend", line


def raise_(exc):
    raise exc


@pytest.mark.parametrize("raise_missing", [
    lambda p: open(p),  # filename set
    lambda p: raise_(FileNotFoundError(str(p))),  # pandas' read_parquet: the path alone
    lambda p: raise_(FileNotFoundError(f"[Errno 2] Failed to open local file '{p}'. Detail: x")),  # Arrow
], ids=["open", "pandas", "arrow"])
def test_stage_main_turns_a_missing_file_into_one_line(raise_missing, tmp_path, monkeypatch, capsys):
    workspace(tmp_path)
    monkeypatch.chdir(tmp_path)

    @stage_main("evaluate")
    def main():
        raise_missing(tmp_path / "data" / "split" / "test.parquet")

    assert main() == 2
    err = capsys.readouterr().err
    assert err == "error: evaluate: data/split/test.parquet: not found; run `dvc repro split` first\n"


def test_missing_file_outside_the_working_directory_or_made_by_no_stage(tmp_path, monkeypatch, capsys):
    workspace(tmp_path / "repo")
    monkeypatch.chdir(tmp_path / "repo")

    @stage_main("report")
    def main(path):
        open(path)

    assert main("data/ml-100k.zip") == 2  # an input no stage makes: nothing to re-run
    assert capsys.readouterr().err == "error: report: data/ml-100k.zip: not found\n"
    assert main(tmp_path / "elsewhere.csv") == 2  # outside the working directory: shown absolute
    assert capsys.readouterr().err == f"error: report: {tmp_path / 'elsewhere.csv'}: not found\n"


def test_other_os_errors_keep_their_traceback(tmp_path):
    @stage_main("report")
    def main():
        raise PermissionError(13, "Permission denied", str(tmp_path))

    with pytest.raises(PermissionError):  # not a missing input: the message would mislead
        main()


def test_require_names_the_producer_from_dvc_yaml(tmp_path, monkeypatch):
    workspace(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PipelineError, match=r"^models/mf/info.json: not found; run `dvc repro train@mf` first$"):
        require("models/mf/info.json")
    with pytest.raises(PipelineError, match=r"^x.json: not found; run `dvc repro blend` first$"):
        require("x.json", "blend")  # an explicit stage still wins
    (tmp_path / "here.json").write_text("{}")
    assert require("here.json") == Path("here.json")
