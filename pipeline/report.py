"""Stage report: reports/leaderboard.md (from metrics/) and PNG figures (learning curves, error by user activity,
predicted vs true rating distribution) for every scorer: the models in train.models and their blend.

    python -m pipeline.report --metrics metrics --models models --predictions data/predictions/test --out reports
    python -m pipeline.report --sync-readme      # copy reports/leaderboard.md into README.md's leaderboard block
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from .lib import columns as C
from .lib import report as R
from .lib.errors import PipelineError, stage_main
from .lib.evaluation import aligned_predictions, user_squared_errors, versus
from .lib.io import atomic_path, read_json, require, write_csv
from .lib.models.baseline import BiasBaseline
from .lib.params import load_params, scorer_names


def sync_readme(leaderboard: Path, readme: Path) -> str:
    text = readme.read_text()
    if R.LEADERBOARD_START not in text or R.LEADERBOARD_END not in text:
        raise PipelineError(f"{readme}: no leaderboard block ({R.LEADERBOARD_START} ... {R.LEADERBOARD_END})")
    head, rest = text.split(R.LEADERBOARD_START, 1)
    tail = rest.split(R.LEADERBOARD_END, 1)[1]
    with atomic_path(readme) as tmp:
        tmp.write_text(f"{head}{R.LEADERBOARD_START}\n{leaderboard.read_text()}{R.LEADERBOARD_END}{tail}")
    return f"{readme}: leaderboard block replaced with {leaderboard}"


@stage_main("report")
def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--split", default="data/split")
    parser.add_argument("--models", default="models")
    parser.add_argument("--metrics", default="metrics")
    parser.add_argument("--predictions", default="data/predictions/test", help="one test-predictions file per scorer")
    parser.add_argument("--out", default="reports")
    parser.add_argument("--sync-readme", action="store_true", help="only copy the leaderboard into README.md")
    parser.add_argument("--readme", default="README.md")
    args = parser.parse_args(argv)
    out, models, metrics_dir = Path(args.out), Path(args.models), Path(args.metrics)
    if args.sync_readme:
        return sync_readme(require(out / "leaderboard.md", "report"), Path(args.readme))
    params = load_params(args.params)
    names = scorer_names(params)
    k = params["evaluate"]["k"]
    metrics = {n: read_json(require(metrics_dir / f"{n}.json")) for n in names}
    if any(f"ndcg_at_{k}" not in m for m in metrics.values()):
        raise PipelineError(f"{metrics_dir}: metrics without ndcg_at_{k}; run `dvc repro` so evaluate uses k={k}")
    # Learning curves of the models trained by epochs (a blend has none).
    histories = {n: read_json(path) for n in names if (path := models / n / "history.json").exists()}
    split = Path(args.split)
    train = pd.read_parquet(require(split / "train.parquet"), columns=[C.USER])
    test = pd.read_parquet(require(split / "test.parquet"), columns=[C.USER, C.ITEM, C.RATING])
    frames = {n: pd.read_parquet(require(Path(args.predictions) / f"{n}.parquet")) for n in names}
    matrix = aligned_predictions(test, frames, "test")
    predictions = {n: matrix[:, i] for i, n in enumerate(names)}  # one array per model, in test's row order
    scale = tuple(read_json(require(Path(args.prepared) / "meta.json"))["rating_scale"])
    # Is each scorer distinguishable from the best? Paired bootstrap on the same resampled test users.
    bootstrap = params["evaluate"]["bootstrap"]
    best = min(metrics, key=lambda n: (metrics[n]["rmse"], n))
    errors = {n: user_squared_errors(test, p) for n, p in predictions.items()}
    versus_best = versus(errors, best, bootstrap)
    # Does each scorer beat the bias baseline on this test set, or only by its luck? (when the baseline is trained)
    versus_baseline = versus(errors, BiasBaseline.name, bootstrap) if BiasBaseline.name in errors else None
    by_activity = R.error_by_activity(train, test, predictions, params["report"]["activity_edges"])

    # One file at a time: reports/ also holds what this stage does not make (the cross-validation table).
    with atomic_path(out / "leaderboard.md") as tmp:
        tmp.write_text(R.leaderboard(metrics, k, versus_best, bootstrap["confidence"], versus_baseline))
    write_csv(by_activity.round(5), out / "error_by_activity.csv")
    write_csv(R.learning_curves_table(histories).round(5), out / "val_rmse_per_epoch.csv")
    for name, plot in [("learning_curves", lambda path: R.plot_learning_curves(histories, path)),
                       ("error_by_activity", lambda path: R.plot_error_by_activity(by_activity, path)),
                       ("rating_distribution", lambda path: R.plot_rating_distribution(
                           test[C.RATING].to_numpy(), predictions, scale, path))]:
        with atomic_path(out / f"{name}.png") as tmp:
            plot(tmp)
    return f"{len(names)} models; best test RMSE {best} {metrics[best]['rmse']:.4f}; {out}/leaderboard.md and 3 figures"


if __name__ == "__main__":
    sys.exit(main())
