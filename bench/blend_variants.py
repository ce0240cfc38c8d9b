"""Blend variants compared by cross-validation inside val, on the models a bench/accuracy.py --keep run saved.

    python bench/accuracy.py --strategy predefined --fold u1 --keep /tmp/u1      # train and keep every model
    python bench/blend_variants.py /tmp/u1 --name u1                              # then compare blends
    python bench/blend_variants.py /tmp/u1 --name u1_plus --extra /tmp/u1_seed7:autorec   # a model of another run

--extra DIR:MODEL adds a model another --keep run of the same split saved (another seed, another setting) as one
more column, named MODEL@DIR; a run whose val or test pairs differ from WORK's is refused.

For each variant, 5-fold cross-validation over the val ratings (fit on four fifths of val, predict the fifth):
that RMSE is the honest choice criterion, since the blend stage fits on all of val. Variants: the pipeline's
nnls and ridge (blend.method), and feature-weighted linear stacking (Sill et al., 2009): each model's prediction
also multiplied by the user's and the movie's standardised log number of train ratings, fitted by ridge. Test RMSE
is printed beside, for the record only: choose by the cross-validated val column. Writes
bench/results/blend_variants_<name>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from _run import ROOT  # bench/ is on the path (the script's folder)

sys.path.insert(0, str(ROOT))

VARIANTS = [("plain", "nnls", 0.0), *[("plain", "ridge", a) for a in (1.0, 10.0, 100.0)],
            *[("fwls", "ridge", a) for a in (1.0, 10.0, 100.0, 1000.0)]]


def support(frame: pd.DataFrame, train: pd.DataFrame, column: str) -> np.ndarray:
    return np.log1p(frame[column].map(train[column].value_counts()).fillna(0).to_numpy(np.float64))


def predictions(work: Path, models: list[str], extra: list[str], val: pd.DataFrame,
                test: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The columns' names and the (val, test) prediction matrices: ``models`` of ``work``, then each DIR:MODEL of
    ``extra`` (refused unless DIR's split has the same val and test pairs, in the same order)."""
    from pipeline.lib import columns as C
    from pipeline.lib.evaluation import aligned_predictions

    sources = [(work, m, m) for m in models]
    for spec in extra:
        folder, _, model = spec.rpartition(":")
        folder = Path(folder)
        for part, mine in (("val", val), ("test", test)):
            theirs = pd.read_parquet(folder / "data" / "split" / f"{part}.parquet", columns=[C.USER, C.ITEM])
            if not theirs.equals(mine[[C.USER, C.ITEM]].reset_index(drop=True)):
                raise SystemExit(f"--extra {spec}: its {part} pairs are not {work}'s: another split")
        sources.append((folder, model, f"{model}@{folder}"))
    x = {part: np.column_stack([aligned_predictions(
        frame, {label: pd.read_parquet(folder / "data" / "predictions" / part / f"{model}.parquet")}, part)
        for folder, model, label in sources]) for part, frame in (("val", val), ("test", test))}
    return [label for _, _, label in sources], x["val"], x["test"]


def main(argv: list[str] | None = None) -> None:
    from pipeline.lib import columns as C
    from pipeline.lib.blend import fit_weights
    from pipeline.lib.metrics import rmse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", type=Path, help="a bench/accuracy.py --keep folder")
    parser.add_argument("--name", required=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--models", nargs="+", help="a subset of the run's train.models (default: all of them)")
    parser.add_argument("--extra", nargs="+", default=[], metavar="DIR:MODEL",
                        help="a model another --keep run of the same split saved, as one more column")
    args = parser.parse_args(argv)
    import yaml

    models = args.models or yaml.safe_load((args.work / "params.yaml").read_text())["train"]["models"]
    split = args.work / "data" / "split"
    train, val, test = (pd.read_parquet(split / f"{part}.parquet") for part in ("train", "val", "test"))
    models, xv, xt = predictions(args.work, models, args.extra, val, test)
    yv, yt = val[C.RATING].to_numpy(np.float64), test[C.RATING].to_numpy(np.float64)
    sv = np.column_stack([support(val, train, C.USER), support(val, train, C.ITEM)])
    st = np.column_stack([support(test, train, C.USER), support(test, train, C.ITEM)])
    centre, spread = sv.mean(axis=0), sv.std(axis=0)

    def design(x, s, kind):
        if kind == "plain":
            return x
        z = (s - centre) / spread
        return np.column_stack([x, x * z[:, :1], x * z[:, 1:], z])

    fold = np.random.default_rng(0).integers(0, args.folds, len(yv))
    rows = []
    for kind, method, alpha in VARIANTS:
        dv, dt = design(xv, sv, kind), design(xt, st, kind)
        held = np.empty(len(yv))
        for k in range(args.folds):
            b, w = fit_weights(dv[fold != k], yv[fold != k], method, alpha)
            held[fold == k] = np.clip(b + dv[fold == k] @ w, 1, 5)
        b, w = fit_weights(dv, yv, method, alpha)
        rows.append({"features": kind, "method": method, "alpha": alpha, "cv_val_rmse": round(rmse(yv, held), 5),
                     "fit_val_rmse": round(rmse(yv, np.clip(b + dv @ w, 1, 5)), 5),
                     "test_rmse": round(rmse(yt, np.clip(b + dt @ w, 1, 5)), 5)})
    singles = {m: {"val_rmse": round(rmse(yv, xv[:, i]), 5), "test_rmse": round(rmse(yt, xt[:, i]), 5)}
               for i, m in enumerate(models)}
    print("| features | method | alpha | val RMSE, 5-fold within val | val RMSE, fitted on val | test RMSE |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['features']} | {r['method']} | {r['alpha']:g} | {r['cv_val_rmse']:.4f} | {r['fit_val_rmse']:.4f} "
              f"| {r['test_rmse']:.4f} |")
    out = ROOT / "bench" / "results" / f"blend_variants_{args.name}.json"
    out.write_text(json.dumps({"work": str(args.work), "models": models, "variants": rows,
                               "single_models": singles}, indent=2) + "\n")


if __name__ == "__main__":
    main()
