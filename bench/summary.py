"""One table of test RMSE over several bench/accuracy.py results: each model beside the bias baseline of the same
split, and whether its early stopping ended training before the epoch limit.

    python bench/summary.py users predefined_u1 random sparse30_users_with_glocal_k
    python bench/summary.py sparse30_users=sparse30_users_all7+sparse30_users_all7_seed1+sparse30_users_all7_seed2

Each name is a bench/results/accuracy_<name>.json. A cell is test RMSE (val RMSE in brackets); "▲" marks a test
RMSE at or above that split's baseline's, "⏹" a model that ran to its epoch limit (params.yaml's
train.<model>.epochs, plus pretrain_epochs for a model trained in two phases, as the run set them: --set, or the
preset of its dataset) instead of stopping early.

A column of names joined by "+" (runs of one dataset and strategy with different split seeds) shows the means over
its runs, then the model's test RMSE minus the baseline's of the same run, as mean ± standard deviation over the
runs (ddof 1), and in how many runs the model was below the baseline; "▲" marks a mean difference at or above 0,
"⏹ k" the k runs that reached the epoch limit. "LABEL=" before a column names its header.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def epoch_limit(params: dict, model: str, overrides: dict) -> int | None:
    """The run's epoch limit: the section's value, a --set of it, and over both the preset of the run's dataset
    (a preset wins in the pipeline too)."""
    section = dict(params["train"].get(model, {}))
    if "epochs" not in section:
        return None  # fitted in closed form (the baseline)
    for key in ("epochs", "pretrain_epochs"):
        if f"train.{model}.{key}" in overrides:
            section[key] = overrides[f"train.{model}.{key}"]
    dataset = overrides.get("data.dataset", params.get("data", {}).get("dataset"))
    section.update(section.get("presets", {}).get(dataset, {}))
    return int(section["epochs"]) + int(section.get("pretrain_epochs", 0))


def cell(m: dict, baseline: dict | None, limit: int | None) -> str:
    text = f"{m['rmse']:.4f} ({m['val_rmse']:.4f})"
    if baseline is not None and m is not baseline and m["rmse"] >= baseline["rmse"]:
        text += " ▲"
    if reached_limit(m, limit):
        text += " ⏹"
    return text


def reached_limit(m: dict, limit: int | None) -> bool:
    return limit is not None and m.get("epochs") is not None and m["epochs"] >= limit


def group_cell(model: str, docs: list[dict], params: dict) -> str:
    """Means over runs of one dataset and strategy, and the paired difference to each run's own baseline."""
    runs = [doc for doc in docs if model in doc["models"]]
    if len(runs) != len(docs):
        return "-"
    test = statistics.fmean(doc["models"][model]["rmse"] for doc in runs)
    val = statistics.fmean(doc["models"][model]["val_rmse"] for doc in runs)
    text = f"{test:.4f} ({val:.4f})"
    if model != "baseline" and all("baseline" in doc["models"] for doc in runs):
        diffs = [doc["models"][model]["rmse"] - doc["models"]["baseline"]["rmse"] for doc in runs]
        mean, spread = statistics.fmean(diffs), statistics.stdev(diffs) if len(diffs) > 1 else 0.0
        text += f" {mean:+.4f} ± {spread:.4f}, {sum(d < 0 for d in diffs)}/{len(diffs)}" + (" ▲" if mean >= 0 else "")
    limited = sum(reached_limit(doc["models"][model], epoch_limit(params, model, doc.get("overrides", {})))
                  for doc in runs)
    if limited:
        text += f" ⏹ {limited}"
    return text


def table(results: dict[str, dict | list[dict]], params: dict) -> str:
    """A column is one run (a dict) or several runs of one dataset and strategy (a list, shown as means)."""
    groups = {name: docs if isinstance(docs, list) else [docs] for name, docs in results.items()}
    models = list(dict.fromkeys(m for docs in groups.values() for doc in docs for m in doc["models"]))
    rows = ["| model | " + " | ".join(results) + " |", "|---|" + "---:|" * len(results)]
    for model in models:
        cells = []
        for name, docs in results.items():
            if isinstance(docs, list):
                cells.append(group_cell(model, docs, params))
                continue
            m = docs["models"].get(model)
            cells.append("-" if m is None else cell(m, docs["models"].get("baseline"),
                                                    epoch_limit(params, model, docs.get("overrides", {}))))
        rows.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", help="results names: bench/results/accuracy_<name>.json; names joined "
                                                  "by + make one column of means (LABEL=a+b+c names it)")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    args = parser.parse_args(argv)
    results: dict[str, dict | list[dict]] = {}
    for column in args.names:
        label, _, spec = column.rpartition("=")
        docs = []
        for name in spec.split("+"):
            path = args.results / f"accuracy_{name}.json"
            if not path.exists():
                sys.exit(f"{path}: no such result; run bench/accuracy.py --name {name} first")
            docs.append(json.loads(path.read_text()))
        results[label or spec] = docs if "+" in spec else docs[0]
    print(table(results, yaml.safe_load(args.params.read_text())))


if __name__ == "__main__":
    main()
