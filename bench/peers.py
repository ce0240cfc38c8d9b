"""scikit-surprise's classic algorithms on exactly the pipeline's split: same fit ratings, test pairs and metrics.

    pip install -r bench/requirements-peers.txt        # Surprise is not part of the pipeline's stack
    python bench/peers.py                                # strategy users (params.yaml's default), made in a temp folder
    python bench/peers.py --strategy random
    python bench/peers.py --strategy predefined --fold u1
    python bench/peers.py --split data/split             # a split the pipeline already made
    python bench/peers.py --algorithms SVD BaselineOnly  # a subset
    python bench/peers.py --strategy random --ours bench/results/accuracy_random.json   # our models in the table too

Without --split, the pipeline's own download, reindex and split stages make the split in a temporary folder, from
params.yaml changed only in split.strategy (and split.predefined.fold, data.source: default pypi-mirror), as
bench/accuracy.py does. Each algorithm is fitted on train + val (Surprise has no early stopping, so val is simply
more training data; our models use val for early stopping and the blend) with Surprise's defaults, as its
benchmark (examples/benchmark.py) runs them: random_state=0 where there is one. It then predicts every test
(user, movie) pair in the order of test.parquet, with Surprise's own fallback for a user or movie the trainset never
saw, and is scored with pipeline.lib.metrics. Prints a Markdown table and writes bench/results/peers_<split>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.lib import columns as C  # noqa: E402
from pipeline.lib import metrics as M  # noqa: E402

ALGORITHMS = ("BaselineOnly", "SVD", "SVDpp", "KNNBaseline")
SEEDED = {"SVD", "SVDpp"}  # the ones whose constructor takes random_state; benchmark.py gives them 0


def make_algorithm(name: str):
    """A Surprise algorithm with its defaults (verbose off: it only prints progress)."""
    import surprise

    kwargs = {"random_state": 0} if name in SEEDED else {}
    if name in ("BaselineOnly", "KNNBaseline"):
        kwargs["verbose"] = False
    return getattr(surprise, name)(**kwargs)


def surprise_trainset(fit: pd.DataFrame, scale: tuple[float, float]):
    """Surprise's trainset over every row of ``fit`` (user, item, rating, in that order)."""
    from surprise import Dataset, Reader

    return Dataset.load_from_df(fit, Reader(rating_scale=scale)).build_full_trainset()


# --- the parts that do not need Surprise ---------------------------------------------------------------------

def read_split(folder: Path) -> dict[str, pd.DataFrame]:
    return {part: pd.read_parquet(Path(folder) / f"{part}.parquet", columns=[C.USER, C.ITEM, C.RATING])
            for part in C.PARTS}


def fit_frame(train: pd.DataFrame, val: pd.DataFrame) -> pd.DataFrame:
    """Train then val rows, in file order, as the three columns ``Dataset.load_from_df`` reads by position:
    user and item ids (int64; Surprise calls them raw ids) and the rating (float64)."""
    both = pd.concat([train[[C.USER, C.ITEM, C.RATING]], val[[C.USER, C.ITEM, C.RATING]]], ignore_index=True)
    return both.astype({C.USER: np.int64, C.ITEM: np.int64, C.RATING: np.float64})


def rating_scale(fit: pd.DataFrame, meta: Path | None = None) -> tuple[tuple[float, float], str]:
    """The dataset's labelled scale from reindex's meta.json where there is one, else the fit ratings' range."""
    if meta is not None and Path(meta).exists():
        lo, hi = json.loads(Path(meta).read_text())["rating_scale"]
        return (float(lo), float(hi)), str(meta)
    return (float(fit[C.RATING].min()), float(fit[C.RATING].max())), "min and max of train + val ratings"


def unknown_counts(fit: pd.DataFrame, test: pd.DataFrame) -> dict[str, int]:
    """Test pairs whose user, movie, or either, the trainset never saw (Surprise falls back for them)."""
    user = ~np.isin(test[C.USER].to_numpy(), fit[C.USER].unique())
    item = ~np.isin(test[C.ITEM].to_numpy(), fit[C.ITEM].unique())
    return {"unknown_user_pairs": int(user.sum()), "unknown_item_pairs": int(item.sum()),
            "unknown_pairs": int((user | item).sum()), "unknown_users": int(test.loc[user, C.USER].nunique()),
            "unknown_items": int(test.loc[item, C.ITEM].nunique())}


def predict_pairs(algorithm, test: pd.DataFrame) -> tuple[np.ndarray, int]:
    """Surprise's ``predict(uid, iid).est`` for every test row, in test's row order, and how many of them Surprise
    marked ``was_impossible`` (answered with its default prediction, the global mean).

    A Python loop: ``predict`` one pair at a time is Surprise's own interface (it maps raw ids to inner ids and
    applies its fallback and clipping), and ~10-20k pairs take seconds."""
    users, items = test[C.USER].tolist(), test[C.ITEM].tolist()  # Python ints, as the raw ids were read
    predictions = [algorithm.predict(u, i) for u, i in zip(users, items)]
    est = np.fromiter((p.est for p in predictions), dtype=np.float64, count=len(predictions))
    impossible = sum(bool(getattr(p, "details", {}).get("was_impossible", False)) for p in predictions)
    return est, impossible


def score(algorithms: dict[str, Callable[[], object]], fit: pd.DataFrame, test: pd.DataFrame,
          scale: tuple[float, float], build_trainset: Callable = surprise_trainset, log=print) -> dict:
    """Fit each algorithm (made by its factory) on the trainset built from ``fit``; predict and score ``test``.

    Returns {name: {rmse, mae, fit_seconds, predict_seconds, impossible, predictions}}; predictions is aligned with
    test's rows."""
    start = time.perf_counter()
    trainset = build_trainset(fit, scale)
    log(f"trainset: {len(fit)} ratings, built in {time.perf_counter() - start:.2f} s")
    truth = test[C.RATING].to_numpy(np.float64)
    results = {}
    for name, factory in algorithms.items():
        algorithm = factory()
        start = time.perf_counter()
        algorithm.fit(trainset)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        pred, impossible = predict_pairs(algorithm, test)
        predict_seconds = time.perf_counter() - start
        results[name] = {"rmse": M.rmse(truth, pred), "mae": M.mae(truth, pred), "fit_seconds": fit_seconds,
                         "predict_seconds": predict_seconds, "impossible": impossible, "predictions": pred}
        log(f"{name}: RMSE {results[name]['rmse']:.4f}, MAE {results[name]['mae']:.4f}, fit {fit_seconds:.1f} s, "
            f"predict {predict_seconds:.1f} s")
    return results


def read_ours(path: Path, n_test: int, strategy: str | None = None) -> dict[str, dict]:
    """Our models' test metrics from bench/accuracy.py's JSON, refused if they were scored on another split (another
    strategy, or another number of test ratings)."""
    doc = json.loads(Path(path).read_text())
    models = doc["models"]
    if strategy is not None and doc.get("strategy", strategy) != strategy:
        raise SystemExit(f"{path}: our models were scored on the {doc['strategy']} split, this one is {strategy}: "
                         "not the same split")
    other = {m["n_test"] for m in models.values()} - {n_test}
    if other:
        raise SystemExit(f"{path}: our models were scored on {sorted(other)} test ratings, this split has {n_test}: "
                         "not the same split")
    return {name: {"rmse": m["rmse"], "mae": m["mae"], "fit_seconds": m.get("train_seconds")}
            for name, m in models.items()}


def table(results: dict[str, dict], ours: dict[str, dict] | None = None) -> str:
    rows = ["| algorithm | test RMSE | test MAE | fit s |", "|---|---:|---:|---:|"]
    labelled = [(f"Surprise {name}", r) for name, r in results.items()]
    labelled += [(f"ours: {name}", r) for name, r in (ours or {}).items()]
    for label, r in sorted(labelled, key=lambda lr: lr[1]["rmse"]):
        seconds = "-" if r.get("fit_seconds") is None else f"{r['fit_seconds']:.1f}"
        rows.append(f"| {label} | {r['rmse']:.4f} | {r['mae']:.4f} | {seconds} |")
    return "\n".join(rows)


def machine() -> dict:
    import importlib.metadata as md

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    versions = {}
    for package in ("scikit-surprise", "numpy", "pandas"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            versions[package] = None
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "platform": platform.platform(),
            "load_average": list(os.getloadavg()), "date": time.strftime("%Y-%m-%d"), **versions}


def payload(name: str, summary: dict, n: dict, scale, scale_from: str, unknown: dict, results: dict,
            ours: dict | None) -> dict:
    algorithms = {k: {key: v for key, v in r.items() if key != "predictions"} for k, r in results.items()}
    out = {"split": name, "summary": summary, "rating_scale": list(scale), "rating_scale_from": scale_from, **n,
           **unknown, "settings": "Surprise defaults, random_state=0 for SVD and SVDpp (as its examples/benchmark.py)",
           "machine": machine(), "algorithms": algorithms}
    if ours is not None:
        out["ours"] = ours
    return out


def split_name(summary: dict) -> str:
    fold = summary.get("predefined", {}).get("fold")
    return f"{summary['strategy']}_{fold}" if fold else summary["strategy"]


# --- making a split with the pipeline's own stages -----------------------------------------------------------

def make_split(work: Path, strategy: str, fold: str | None, source: str) -> Path:
    """download -> reindex -> split into ``work``, in-process, with params.yaml changed only in the split strategy
    (and fold) and the data source. Returns the split folder."""
    from pipeline import download, reindex, split

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["split"]["strategy"] = strategy
    if fold:
        params["split"]["predefined"]["fold"] = fold
    params["data"]["source"] = source
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    p = ["--params", str(work / "params.yaml")]
    raw, prepared, out = (str(work / "data" / part) for part in ("raw", "prepared", "split"))
    for main, args in ((download.main, p + ["--out", raw]), (reindex.main, p + ["--raw", raw, "--out", prepared]),
                       (split.main, p + ["--prepared", prepared, "--raw", raw, "--out", out])):
        if main(args):
            raise SystemExit(f"{main.__module__} failed")
    return Path(out)


def run(split: Path, meta: Path | None, algorithms: list[str], ours_path: Path | None, out_dir: Path,
        name: str | None = None, factory: Callable = make_algorithm, build_trainset: Callable = surprise_trainset,
        log=print) -> dict:
    """Everything after the split exists: fit, predict, score, print the table, write the JSON. Returns the JSON."""
    parts = read_split(split)
    summary_path = Path(split) / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {"strategy": Path(split).name}
    name = name or split_name(summary)
    fit = fit_frame(parts["train"], parts["val"])
    test = parts["test"]
    scale, scale_from = rating_scale(fit, meta)
    unknown = unknown_counts(fit, test)
    n = {"n_train": len(parts["train"]), "n_val": len(parts["val"]), "n_fit": len(fit), "n_test": len(test)}
    log(f"{name}: fit on train {n['n_train']} + val {n['n_val']} ratings, test {n['n_test']} pairs, "
        f"{unknown['unknown_pairs']} of them with a user or movie unknown to the trainset; scale {scale}")
    ours = read_ours(ours_path, len(test), summary.get("strategy")) if ours_path else None  # fails before fitting
    results = score({a: (lambda a=a: factory(a)) for a in algorithms}, fit, test, scale, build_trainset, log)
    log("\n" + table(results, ours))
    doc = payload(name, summary, n, scale, scale_from, unknown, results, ours)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"peers_{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", type=Path, help="a folder with train/val/test.parquet the pipeline made "
                                                   "(default: make one in a temporary folder)")
    parser.add_argument("--prepared", type=Path, help="reindex's folder, for meta.json's rating scale (default: "
                                                      "the split folder's sibling 'prepared', if there is one)")
    parser.add_argument("--strategy", default="users", choices=["users", "random", "temporal", "predefined"])
    parser.add_argument("--fold", help="split.predefined.fold for --strategy predefined (u1..u5, ua, ub)")
    parser.add_argument("--source", default="pypi-mirror", help="data.source for the download stage")
    parser.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS), choices=ALGORITHMS)
    parser.add_argument("--ours", type=Path, help="bench/accuracy.py's JSON for the same split: our models' rows "
                                                  "join the table")
    parser.add_argument("--name", help="the results' name: bench/results/peers_<name>.json (default: the strategy, "
                                       "and fold)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    if args.split is not None:
        prepared = args.prepared or args.split.parent / "prepared"
        run(args.split, prepared / "meta.json", args.algorithms, args.ours, args.out, args.name)
        return
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        split = make_split(Path(tmp), args.strategy, args.fold, args.source)
        run(split, split.parent / "prepared" / "meta.json", args.algorithms, args.ours, args.out, args.name)


if __name__ == "__main__":
    main()
