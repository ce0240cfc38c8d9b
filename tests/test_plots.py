"""dvc.yaml's plots name no model: `dvc plots show` draws whatever models ran, for any subset of train.models."""

import json
import shutil

import pytest
import yaml

from repo import ROOT, dvc, run


def plots_repo(dest, names):
    """A git + DVC repo with the project's plots definitions and fake outputs for ``names`` (and the blend)."""
    dest.mkdir()
    run(["git", "init", "-q"], dest)
    dvc("init", "-q", cwd=dest)
    plots = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
    (dest / "dvc.yaml").write_text(yaml.safe_dump({"plots": plots}, sort_keys=False))
    shutil.copy(ROOT / ".dvcignore", dest / ".dvcignore")
    shutil.copytree(ROOT / ".dvc" / "plots", dest / ".dvc" / "plots", dirs_exist_ok=True)
    (dest / "reports").mkdir()
    (dest / "reports" / "val_rmse_per_epoch.csv").write_text("model,epoch,val_rmse\n" + "".join(
        f"{n},{e},{1.2 - 0.05 * e + 0.01 * i:.4f}\n" for i, n in enumerate(names) for e in (1, 2, 3)))
    folder = dest / "metrics" / "predicted_vs_actual"
    folder.mkdir(parents=True)
    (folder / ".gitignore").write_text("".join(f"/{n}.csv\n" for n in names + ["blend"]))  # as DVC writes it
    for n in names + ["blend"]:
        (folder / f"{n}.csv").write_text("actual,predicted\n4.0,3.5\n3.0,3.0\n5.0,4.5\n1.0,2.0\n")
    return dest


@pytest.mark.parametrize("names", [["baseline"], ["autorec", "hybrid_autorec", "embedding_mlp"]])
def test_plots_show_any_subset_of_models(tmp_path, names):
    repo = plots_repo(tmp_path / "repo", names)
    done = dvc("plots", "show", "--json", cwd=repo)  # raises unless the exit status is 0
    shown = json.loads(done.stdout)
    assert not shown.get("errors") and "failed to load" not in done.stderr, (shown.get("errors"), done.stderr)
    (curves,) = shown["data"].pop("reports/val_rmse_per_epoch.csv")
    assert curves["content"]["encoding"]["color"]["field"] == "model"  # one line per model
    assert {r["model"] for r in curves["content"]["data"]["values"]} == set(names)
    confusion = {f"metrics/predicted_vs_actual/{n}.csv" for n in names + ["blend"]}
    assert set(shown["data"]) == confusion
    for path in confusion:
        (plot,) = shown["data"][path]
        assert plot["content"]["title"]["text"] == path  # titled with its file, that is its model
