"""One table of test RMSE over several bench/accuracy.py results: each model beside the bias baseline of the same
split, and whether its early stopping ended training before the epoch limit.

    python bench/summary.py users predefined_u1 random sparse30_users_with_glocal_k

Each name is a bench/results/accuracy_<name>.json. A cell is test RMSE (val RMSE in brackets); "▲" marks a test
RMSE at or above that split's baseline's, "⏹" a model that ran to its epoch limit (params.yaml's
train.<model>.epochs, plus pretrain_epochs for a model trained in two phases, as the run set them: --set, or the
preset of its dataset) instead of stopping early.
"""

from __future__ import annotations

import argparse
import json
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
    if limit is not None and m.get("epochs") is not None and m["epochs"] >= limit:
        text += " ⏹"
    return text


def table(results: dict[str, dict], params: dict) -> str:
    models = list(dict.fromkeys(m for doc in results.values() for m in doc["models"]))
    rows = ["| model | " + " | ".join(results) + " |", "|---|" + "---:|" * len(results)]
    for model in models:
        cells = []
        for doc in results.values():
            m = doc["models"].get(model)
            cells.append("-" if m is None else cell(m, doc["models"].get("baseline"),
                                                    epoch_limit(params, model, doc.get("overrides", {}))))
        rows.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", help="results names: bench/results/accuracy_<name>.json")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    args = parser.parse_args(argv)
    results = {}
    for name in args.names:
        path = args.results / f"accuracy_{name}.json"
        if not path.exists():
            sys.exit(f"{path}: no such result; run bench/accuracy.py --name {name} first")
        results[name] = json.loads(path.read_text())
    print(table(results, yaml.safe_load(args.params.read_text())))


if __name__ == "__main__":
    main()
