"""The report: a Markdown leaderboard from metrics/, and figures (learning curves, error by user activity,
distribution of predicted vs true ratings). Pure functions over frames and dicts; the report stage does the I/O."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import columns as C

LEADERBOARD_START = "<!-- leaderboard:start (written by `python -m pipeline.report --sync-readme`) -->"
LEADERBOARD_END = "<!-- leaderboard:end -->"


def _with_interval(m: dict, key: str) -> str:
    low, high = m.get(f"{key}_ci_low"), m.get(f"{key}_ci_high")
    return f"{m[key]:.4f}" + (f" [{low:.4f}, {high:.4f}]" if low is not None else "")


def _difference(diff: float, low: float, high: float, above: str = "") -> str:
    """A paired difference with its interval, marked ≈ when the interval contains 0 and ``above`` when all of it
    is above 0."""
    mark = "≈" if low <= 0 <= high else above if low > 0 else ""
    return f"{diff:+.4f} [{low:+.4f}, {high:+.4f}]" + (f" {mark}" if mark else "")


def leaderboard(metrics: dict[str, dict], k: int, versus_best: dict[str, tuple] | None = None,
                confidence: float = 0.95, versus_baseline: dict[str, tuple] | None = None) -> str:
    """Markdown table, best test RMSE first: RMSE and NDCG@k with their bootstrap intervals, the paired RMSE
    difference to the best model with its interval (``versus_best``: name -> (difference, low, high)), the same
    to the bias baseline (``versus_baseline``; the column only when given), MAE, val RMSE, epochs, train
    seconds; then a legend."""
    rows = sorted(metrics.items(), key=lambda item: (item[1]["rmse"], item[0]))
    versus_best = versus_best or {}
    to_baseline = versus_baseline is not None
    head = ["rank", "model", "RMSE", "Δ RMSE vs best", *(["Δ RMSE vs baseline"] if to_baseline else []), "MAE",
            f"NDCG@{k}", "val RMSE", "epochs", "train s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" if h != "model" else "---" for h in head) + "|"]
    for rank, (name, m) in enumerate(rows, start=1):
        if rank == 1 and versus_best:
            delta = "best"
        elif name not in versus_best:
            delta = "-"
        else:
            delta = _difference(*versus_best[name])
        cells = [str(rank), name, _with_interval(m, "rmse"), delta]
        if to_baseline:
            cells.append(_difference(*versus_baseline[name], above="▲") if name in versus_baseline else "-")
        cells += [f"{m['mae']:.4f}", _with_interval(m, f"ndcg_at_{k}"), f"{m['val_rmse']:.4f}",
                  str(m.get("epochs", "-")), f"{m['train_seconds']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    legend = (f"\nIn brackets: {confidence:.0%} bootstrap intervals over test users (resampled with their ratings). "
              "Δ RMSE vs best: the paired difference to the best model's test RMSE on the same resamples; "
              "≈ marks a model that the test set cannot tell apart from the best (its interval contains 0).")
    if to_baseline:
        legend += (" Δ RMSE vs baseline: the same against the bias baseline; ≈ marks a model that the test set "
                   "cannot tell apart from it, ▲ one worse than it (the whole interval above 0).")
    return "\n".join(lines) + "\n" + (legend + "\n" if versus_best else "")


def parse_leaderboard(text: str) -> dict[str, dict]:
    """The table back as {model: {column: first number of the cell, or None for '-', or the text}}."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    table = {}
    for line in lines[2:]:
        cells = dict(zip(header, (cell.strip() for cell in line.strip("|").split("|"))))
        name = cells.pop("model")
        table[name] = {key: _number(value) for key, value in cells.items()}
    return table


def _number(cell: str):
    if cell == "-":
        return None
    first = cell.split(" ")[0]
    try:
        return float(first)
    except ValueError:
        return cell


def learning_curves_table(histories: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    """Long format for dvc.yaml's val RMSE plot: a row per model and epoch (from 1, as in learning_curves.png)."""
    rows = [(name, epoch, value) for name, history in histories.items()
            for epoch, value in enumerate(history.get("val_rmse", []), start=1)]
    return pd.DataFrame(rows, columns=["model", "epoch", "val_rmse"])


def activity_groups(edges: list[int]) -> list[str]:
    """Labels of the groups [e0, e1), [e1, e2), ..., [e_last, ...) of train ratings per user; below e0 is 'cold'."""
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(edges[:-1], edges[1:])] + [f"{edges[-1]}+"]
    return (["0 (cold)"] if edges[0] > 0 else []) + labels


def error_by_activity(train: pd.DataFrame, test: pd.DataFrame, predictions: dict[str, np.ndarray],
                      edges: list[int]) -> pd.DataFrame:
    """Test RMSE per model for users grouped by how many train ratings they have: one row per (group, model).

    ``predictions`` holds one array per model, aligned with the rows of ``test``."""
    n_users = int(max(train[C.USER].max(), test[C.USER].max())) + 1
    counts = np.bincount(train[C.USER].to_numpy(), minlength=n_users)
    labels = activity_groups(edges)
    offset = 1 if edges[0] > 0 else 0
    group = np.digitize(counts[test[C.USER].to_numpy()], edges) - 1 + offset
    users, truth = test[C.USER].to_numpy(), test[C.RATING].to_numpy(np.float64)
    errors = pd.concat([pd.DataFrame({"group": group, "model": name, "user": users,
                                      "se": (truth - np.asarray(pred, np.float64)) ** 2})
                        for name, pred in predictions.items()], ignore_index=True)
    table = errors.groupby(["group", "model"], sort=False).agg(rmse=("se", "mean"), ratings=("se", "size"),
                                                              users=("user", "nunique")).reset_index()
    table["rmse"] = np.sqrt(table["rmse"])
    table["group"] = [labels[g] for g in table["group"]]
    order = {label: i for i, label in enumerate(labels)}
    models = {name: i for i, name in enumerate(predictions)}
    return table.sort_values(["group", "model"], key=lambda s: s.map(order if s.name == "group" else models),
                             ignore_index=True)


def _figure(width: float = 8.0, height: float = 4.5):
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    return fig, ax


def _save(fig, path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})  # no version stamp: same data, same bytes
    plt.close(fig)


def plot_learning_curves(histories: dict[str, dict[str, list[float]]], path) -> None:
    fig, ax = _figure()
    for name, history in histories.items():
        curve = history.get("val_rmse", [])
        if len(curve) == 1:  # closed-form fit: a reference line, not a curve
            ax.axhline(curve[0], linestyle="--", linewidth=1, color="grey", label=f"{name} ({curve[0]:.4f})")
        elif curve:
            best = int(np.argmin(curve))
            line, = ax.plot(np.arange(1, len(curve) + 1), curve, linewidth=1.5, label=f"{name} ({curve[best]:.4f})")
            ax.plot(best + 1, curve[best], "o", color=line.get_color(), markersize=4)
    values = np.concatenate([np.asarray(h.get("val_rmse", []), np.float64) for h in histories.values()])
    if len(values):  # the first epochs of an autoencoder sit far above everything else; zoom on the finish
        ax.set_ylim(values.min() - 0.02, min(values.max(), values.min() + 0.25) + 0.02)
    # log scale: a sampler's hundreds of sweeps and a network's tens of epochs both stay readable
    ax.set_xscale("log")
    ax.set(xlabel="epoch or sampling sweep (log scale)", ylabel="val RMSE",
           title="Learning curves: val RMSE per epoch (dot: best)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_error_by_activity(table: pd.DataFrame, path) -> None:
    fig, ax = _figure()
    groups = list(dict.fromkeys(table["group"]))
    models = list(dict.fromkeys(table["model"]))
    width = 0.8 / len(models)
    pivot = table.pivot(index="group", columns="model", values="rmse").reindex(index=groups, columns=models)
    for i, name in enumerate(models):
        ax.bar(np.arange(len(groups)) + (i - (len(models) - 1) / 2) * width, pivot[name].to_numpy(), width,
               label=name)
    users = table.drop_duplicates("group").set_index("group")["users"].reindex(groups)
    ax.set_xticks(np.arange(len(groups)), [f"{g}\n({u} users)" for g, u in zip(groups, users)])
    ax.set(xlabel="train ratings per user (cold to heavy)", ylabel="test RMSE", title="Error by user activity")
    low = np.nanmin(pivot.to_numpy())
    ax.set_ylim(max(0.0, low - 0.15), np.nanmax(pivot.to_numpy()) + 0.05)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    _save(fig, path)


def plot_rating_distribution(truth: np.ndarray, predictions: dict[str, np.ndarray], scale: tuple[float, float],
                             path) -> None:
    fig, ax = _figure()
    bins = np.arange(scale[0] - 0.25, scale[1] + 0.5, 0.5)  # half-star bins centred on the scale's steps
    ax.hist(truth, bins=bins, weights=np.full(len(truth), 1 / len(truth)), color="lightgrey", edgecolor="grey",
            label="true test ratings")
    for name, pred in predictions.items():
        ax.hist(pred, bins=bins, weights=np.full(len(pred), 1 / len(pred)), histtype="step", linewidth=1.5,
                label=name)
    ax.set(xlabel="rating (predictions rounded to the nearest half star)", ylabel="share of test ratings",
           title="Test ratings: predicted vs true distribution")
    ax.legend(fontsize=8)
    _save(fig, path)
