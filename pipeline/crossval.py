"""Five-fold cross-validation on ml-100k's predefined folds u1..u5, as DVC experiments, and its table.

    python -m pipeline.crossval            # runs the five folds (dvc exp run --temp each), then writes the table
    python -m pipeline.crossval --collect  # only the table, from the experiments already run
    python -m pipeline.crossval --folds u1 u2   # some of the folds only (at least two: a standard deviation)

Each fold is one experiment with `split.strategy=predefined` and `split.predefined.fold=u<k>` (every other param
as in params.yaml); the newest experiment of each fold is taken. Writes reports/cross_validation.md (mean ± standard
deviation over the folds per model and metric, like scikit-surprise's cross_validate prints, and which model
differences are smaller than the fold-to-fold spread) and reports/cross_validation_folds.csv (every fold's number).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

from .lib.errors import PipelineError, stage_main
from .lib.io import atomic_path, write_csv
from .lib.params import load_params, scorer_names

FOLDS = ("u1", "u2", "u3", "u4", "u5")
METRICS = ("rmse", "mae", "ndcg_at_{k}", "val_rmse")


def run_folds(folds=FOLDS) -> None:
    for fold in folds:
        print(f"crossval: fold {fold}", flush=True)
        done = subprocess.run([sys.executable, "-m", "dvc", "exp", "run", "--temp", "-S", "split.strategy=predefined",
                               "-S", f"split.predefined.fold={fold}"])
        if done.returncode:
            raise PipelineError(f"fold {fold}: `dvc exp run` failed (exit {done.returncode}); see its output above")


def _value(row: dict, key: str):
    """A column of dvc.api.exp_show's row, whether or not DVC prefixed it with its file."""
    if key in row:
        return row[key]
    matches = [v for name, v in row.items() if name.endswith(f":{key}")]
    return matches[0] if len(matches) == 1 else None


def collect(names: list[str], k: int, folds=FOLDS) -> pd.DataFrame:
    """One row per (fold, model) with each metric, from the newest experiment of each fold."""
    import dvc.api

    rows = dvc.api.exp_show(force=True)
    newest = {}
    for row in rows:
        if _value(row, "split.strategy") != "predefined" or row.get("Experiment") in (None, "workspace"):
            continue
        fold = _value(row, "split.predefined.fold")
        if fold in folds and (fold not in newest or str(row.get("Created")) > str(newest[fold].get("Created"))):
            newest[fold] = row
    missing = [f for f in folds if f not in newest]
    if missing:
        raise PipelineError(f"no experiment for fold {', '.join(missing)}: run `python -m pipeline.crossval`")
    records = []
    for fold in folds:
        for name in names:
            values = {m.format(k=k): _value(newest[fold], f"metrics/{name}.json:{m.format(k=k)}") for m in METRICS}
            records.append({"fold": fold, "model": name, "experiment": newest[fold].get("Experiment"), **values})
    return pd.DataFrame(records)


def summary_table(per_fold: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Mean and standard deviation (ddof=1, over folds) of each metric per model, best mean RMSE first."""
    grouped = per_fold.groupby("model")[metrics]
    table = pd.concat({"mean": grouped.mean(), "std": grouped.std(ddof=1)}, axis=1)
    table.columns = [f"{metric}_{stat}" for stat, metric in table.columns]
    return table.sort_values("rmse_mean")


def spread_notes(table: pd.DataFrame) -> list[str]:
    """The neighbours in the ranking whose mean RMSEs differ by less than the larger of their fold-to-fold
    standard deviations: the folds alone do not separate them."""
    notes = []
    names = list(table.index)
    for better, worse in zip(names, names[1:]):
        gap = table.loc[worse, "rmse_mean"] - table.loc[better, "rmse_mean"]
        spread = max(table.loc[better, "rmse_std"], table.loc[worse, "rmse_std"])
        if gap < spread:
            notes.append(f"{better} and {worse}: mean RMSE {gap:.4f} apart, less than the fold-to-fold standard "
                         f"deviation ({spread:.4f})")
    return notes


def markdown(table: pd.DataFrame, metrics: list[str], per_fold: pd.DataFrame) -> str:
    header = "| model | " + " | ".join(metrics) + " |"
    folds = sorted(per_fold["fold"].unique())
    title = ("Five-fold cross-validation, ml-100k u1..u5" if folds == list(FOLDS) else
             f"Cross-validation over ml-100k's folds {', '.join(folds)}")
    lines = [f"# {title}", "",
             f"Mean ± standard deviation over the folds {', '.join(folds)} "
             "(test = each fold's u<k>.test; val = a seeded share of its u<k>.base; every setting as in "
             "params.yaml). Written by `python -m pipeline.crossval`; every fold's numbers are in "
             "cross_validation_folds.csv.", "", header, "|---|" + "---:|" * len(metrics)]
    for name, row in table.iterrows():
        cells = [f"{row[f'{m}_mean']:.4f} ± {row[f'{m}_std']:.4f}" for m in metrics]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    notes = spread_notes(table)
    lines += ["", "Fold-to-fold spread against the differences between models (by RMSE): " +
              ("; ".join(notes) + "." if notes else "every neighbouring pair differs by more than the larger "
               "of their standard deviations.")]
    return "\n".join(lines) + "\n"


@stage_main("crossval")
def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--collect", action="store_true", help="only write the table from experiments already run")
    parser.add_argument("--out", default="reports")
    parser.add_argument("--folds", nargs="+", default=list(FOLDS), choices=FOLDS, metavar="FOLD",
                        help=f"the folds to run and tabulate, at least two of {', '.join(FOLDS)} (default: all)")
    args = parser.parse_args(argv)
    folds = tuple(sorted(set(args.folds)))
    if len(folds) < 2:
        raise PipelineError(f"--folds: at least two folds for a standard deviation, got {', '.join(folds)}")
    params = load_params(args.params)
    if params["data"]["dataset"] != "ml-100k":
        raise PipelineError(f"data.dataset: cross-validation runs on ml-100k's folds, got {params['data']['dataset']}")
    if not args.collect:
        run_folds(folds)
    k = params["evaluate"]["k"]
    metrics = [m.format(k=k) for m in METRICS]
    per_fold = collect(scorer_names(params), k, folds)
    table = summary_table(per_fold, metrics)
    out = Path(args.out)
    with atomic_path(out / "cross_validation.md") as tmp:
        tmp.write_text(markdown(table, metrics, per_fold))
    write_csv(per_fold.round(5), out / "cross_validation_folds.csv")
    best = table.index[0]
    return (f"{len(folds)} folds; best mean RMSE {best} {table.loc[best, 'rmse_mean']:.4f} ± "
            f"{table.loc[best, 'rmse_std']:.4f}; {out}/cross_validation.md")


if __name__ == "__main__":
    sys.exit(main())
