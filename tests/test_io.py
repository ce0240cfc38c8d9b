"""Atomic writes: a run killed mid-write leaves only a temporary that DVC ignores and the next write removes."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from pipeline.lib.io import atomic_dir, atomic_path, remove_stale_temps
from repo import ROOT, dvc, run

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from pipeline.lib.io import atomic_dir, atomic_path

    kind, target = sys.argv[1], Path(sys.argv[2])
    with (atomic_dir if kind == "dir" else atomic_path)(target) as tmp:
        (tmp / "weights.h5" if kind == "dir" else tmp).write_text("half")
        print(tmp, flush=True)  # the parent kills us once it reads this
        time.sleep(600)
""")


def killed_mid_write(kind: str, target: Path) -> Path:
    """Run an atomic write of ``target`` in a subprocess and SIGKILL it inside the block; return its temporary."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, kind, str(target)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        line = proc.stdout.readline().strip()
        assert line, "the writer died before entering the block"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return Path(line)


def test_sigkill_in_atomic_dir_leaves_a_temporary_the_next_run_removes(tmp_path):
    target = tmp_path / "models" / "autorec"
    stale = killed_mid_write("dir", target)
    assert stale.parent == target.parent and stale.name.startswith(".autorec.") and stale.name.endswith(".tmp")
    assert stale.is_dir() and (stale / "weights.h5").exists()
    assert not target.exists()
    # another output's temporaries and ordinary files beside it are not ours to delete
    others = [target.parent / ".autorec.b.k2j4x9_a.tmp", target.parent / ".autorec2.k2j4x9_a.tmp",
              target.parent / "autorec.k2j4x9_a.tmp", target.parent / "mf"]
    for other in others:
        other.mkdir()

    with atomic_dir(target) as tmp:
        (tmp / "weights.h5").write_text("whole")
    assert not stale.exists()
    assert (target / "weights.h5").read_text() == "whole" and [p.name for p in target.iterdir()] == ["weights.h5"]
    assert sorted(p.name for p in target.parent.iterdir()) == sorted(["autorec", *(p.name for p in others)])


def test_sigkill_in_atomic_path_leaves_a_temporary_the_next_run_removes(tmp_path):
    target = tmp_path / "metrics" / "mf.json"
    stale = killed_mid_write("file", target)
    assert stale.is_file() and stale.name.startswith(".mf.json.") and not target.exists()
    with atomic_path(target) as tmp:
        tmp.write_text("{}")
    assert not stale.exists() and target.read_text() == "{}"
    assert [p.name for p in target.parent.iterdir()] == ["mf.json"]


def test_remove_stale_temps_matches_only_its_own_output(tmp_path):
    mine = [tmp_path / ".a.x1y2z3.tmp", tmp_path / ".a.q_9.tmp"]
    theirs = [tmp_path / ".a.b.x1y2z3.tmp", tmp_path / ".ab.x1y2z3.tmp", tmp_path / ".a.x1y2z3.tmp.bak",
              tmp_path / "a.x1y2z3.tmp", tmp_path / ".a..tmp"]
    mine[0].mkdir()
    (mine[0] / "f").write_text("")
    mine[1].write_text("")
    for p in theirs:
        p.write_text("")
    assert sorted(remove_stale_temps(tmp_path / "a")) == sorted(mine)
    assert sorted(tmp_path.iterdir()) == sorted(theirs)


def test_dvcignore_keeps_temporaries_out_of_dependency_hashes(tmp_path):
    """A real `dvc status`: a killed run's .autorec.<random>.tmp/ inside models/ must not make models/ changed,
    or every stage depending on models/ would re-run (and the hash recorded would include half-written files)."""
    repo = tmp_path / "repo"
    (repo / "models" / "mf").mkdir(parents=True)
    (repo / "models" / "mf" / "info.json").write_text("{}")
    (repo / "dvc.yaml").write_text("stages:\n  use:\n    cmd: ls models > listing.txt\n    deps: [models]\n"
                                   "    outs: [listing.txt]\n")
    run(["git", "init", "-q", "-b", "main"], repo)
    dvc("init", "-q", cwd=repo)
    dvc("config", "core.analytics", "false", cwd=repo)
    dvc("repro", "-q", cwd=repo)
    stale = repo / "models" / ".autorec.k2j4x9_a.tmp"
    stale.mkdir()
    (stale / "weights.h5").write_text("half")

    def changed() -> bool:
        out = dvc("status", "--json", cwd=repo).stdout.strip()
        return out not in ("{}", "")

    assert changed(), "the temporary should change models/ without .dvcignore: this test would prove nothing"
    shutil.copy(ROOT / ".dvcignore", repo / ".dvcignore")
    assert not changed()
    (repo / "models" / "mf" / "info.json").write_text('{"epochs": 3}')  # a real change still counts
    assert changed()
