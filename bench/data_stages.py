"""Speed and peak memory of the data stages (download, reindex, split, matrices, features).

    python bench/data_stages.py                      # ml-100k (PyPI mirror) x5 and synthetic 20M x3
    python bench/data_stages.py --datasets ml-100k --repeat 5
    python bench/data_stages.py --datasets 20m --repeat-large 1 --synthetic /tmp/syn20m

Each stage runs in its own fresh process (bench/_stage_worker.py) with the arguments dvc.yaml gives it,
all paths in a temporary working folder. The worker imports the stage module first and times only the
stage's ``main(argv)`` with time.perf_counter, so interpreter start-up and imports are excluded; peak memory
is that process's ru_maxrss (imports included). Every repetition runs the whole chain in a fresh folder;
the table shows the median over repetitions. Results go to bench/results/data_stages.json.

Datasets: (a) real ml-100k, data.source: pypi-mirror (the download stage pip-downloads the recbole wheel);
(b) synthetic ml-20m-shaped data from bench/synthetic.py, given as a local folder (data.dataset: ml-20m),
so its "download" is a folder copy. On ml-100k's train split it also times the vectorised rating_matrix
against the tutorial lil_matrix fill (tutorial_rating_matrix).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "bench" / "_stage_worker.py"
STAGES = ["download", "reindex", "split", "matrices", "features"]
DATA_LIB = ["columns", "dag", "datasets", "errors", "features", "fetch", "formats", "io", "matrices", "reindex", "sections",
            "split"]
TARGET_TOTAL_S = 60.0  # 20M: download + reindex + split + matrices + features
TARGET_PEAK_MB = 4096.0  # 20M: each stage


def stage_argv(stage: str, params: Path, d: Path) -> list[str]:
    """The arguments dvc.yaml gives each stage, with every path inside the folder d."""
    p = ["--params", str(params)]
    return {
        "download": [*p, "--out", str(d / "raw")],
        "reindex": [*p, "--raw", str(d / "raw"), "--out", str(d / "prepared")],
        "split": [*p, "--prepared", str(d / "prepared"), "--out", str(d / "split")],
        "matrices": ["--prepared", str(d / "prepared"), "--split", str(d / "split"), "--out", str(d / "matrices")],
        "features": [*p, "--prepared", str(d / "prepared"), "--matrices", str(d / "matrices"),
                     "--out", str(d / "features")],
    }[stage]


def worker(mode: str, args: list[str], scratch: Path) -> tuple[dict, str]:
    result = scratch / f".result-{os.getpid()}.json"
    result.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(WORKER), mode, str(result), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0 or not result.exists():
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"bench: worker {mode} {' '.join(args[:1])} failed (exit {done.returncode})")
    out = json.loads(result.read_text())
    result.unlink()
    if out.get("status", 0) != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"bench: stage {out['stage']} exited with status {out['status']}")
    summary = [line for line in done.stdout.splitlines() if ": done: " in line]
    return out, summary[-1] if summary else ""


def write_params(base: Path, dest: Path, dataset: str, source: str) -> Path:
    params = yaml.safe_load(base.read_text())
    params["data"] = {"dataset": dataset, "source": source}
    dest.write_text(yaml.safe_dump(params, sort_keys=False))
    return dest


def run_chain(name: str, params: Path, folder: Path, repeats: int, keep_last: bool) -> dict:
    """All five stages, ``repeats`` times, each repetition in a fresh sub-folder."""
    runs: dict[str, list[dict]] = {s: [] for s in STAGES}
    summaries: dict[str, str] = {}
    for rep in range(repeats):
        d = folder / f"rep{rep}"
        for stage in STAGES:
            out, summary = worker("stage", [stage, *stage_argv(stage, params, d)], folder)
            runs[stage].append(out)
            summaries.setdefault(stage, summary)
            print(f"  {name} rep {rep + 1}/{repeats} {stage:9s} {out['seconds']:8.3f} s "
                  f"{out['peak_rss_mb']:8.0f} MB peak", flush=True)
        if not (keep_last and rep == repeats - 1):
            shutil.rmtree(d)
    stages = {}
    for stage, outs in runs.items():
        secs = [o["seconds"] for o in outs]
        peaks = [o["peak_rss_mb"] for o in outs]
        stages[stage] = {
            "median_s": statistics.median(secs), "min_s": min(secs), "max_s": max(secs), "seconds": secs,
            "median_peak_rss_mb": statistics.median(peaks), "max_peak_rss_mb": max(peaks), "peak_rss_mb": peaks,
            "rss_after_import_mb": statistics.median(o["rss_after_import_mb"] for o in outs),
            "children_peak_rss_mb": max(o["children_peak_rss_mb"] for o in outs),
            "summary": summaries[stage],
        }
    total = sum(s["median_s"] for s in stages.values())
    return {"repeats": repeats, "stages": stages, "total_median_s": total,
            "max_peak_rss_mb": max(s["max_peak_rss_mb"] for s in stages.values())}


def machine_info() -> dict:
    model = "unknown"
    mem_kb = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    versions = {}
    for mod in ("numpy", "pandas", "pyarrow", "scipy"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        sources = [f"pipeline/{s}.py" for s in STAGES] + [f"pipeline/lib/{m}.py" for m in DATA_LIB]
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", *sources], cwd=ROOT,
                                    capture_output=True, text=True).stdout.strip())
    except OSError:
        commit, dirty = None, None
    return {
        "nproc": len(os.sched_getaffinity(0)), "cpu_count": os.cpu_count(), "cpu_model": model,
        "mem_total_gb": round(mem_kb / 2**20, 1) if mem_kb else None,
        "python": platform.python_version(), "platform": platform.platform(), "versions": versions,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": commit, "data_stage_sources_uncommitted": dirty,
        "loadavg_start": list(os.getloadavg()),
    }


def synthetic_folder(args, work: Path) -> tuple[Path, dict]:
    if args.synthetic and (args.synthetic / "ratings.csv").exists():
        print(f"bench: using the synthetic data already in {args.synthetic}", flush=True)
        return args.synthetic, {"folder": str(args.synthetic), "reused": True}
    folder = args.synthetic or work / "synthetic-20m"
    cmd = [sys.executable, str(ROOT / "bench" / "synthetic.py"), "--ratings", str(args.ratings), "--users",
           str(args.users), "--items", str(args.items), "--seed", str(args.seed), "--out", str(folder)]
    print("bench: " + " ".join(cmd[1:]), flush=True)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    print("  " + done.stdout.strip(), flush=True)
    return folder, {"folder": str(folder), "reused": False, "wall_s": time.perf_counter() - start,
                    "stats": done.stdout.strip()}


def fmt_s(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def table(results: dict) -> str:
    names = [n for n in ("ml-100k", "synthetic-20m") if n in results["datasets"]]
    head = "| stage |" + "".join(f" {n} s | {n} peak MB |" for n in names)
    lines = [head, "|---|" + "---:|---:|" * len(names)]
    for stage in STAGES:
        row = f"| {stage} |"
        for n in names:
            s = results["datasets"][n]["stages"][stage]
            row += f" {fmt_s(s['median_s'])} | {s['median_peak_rss_mb']:.0f} |"
        lines.append(row)
    row = "| **total** |"
    for n in names:
        d = results["datasets"][n]
        row += f" **{fmt_s(d['total_median_s'])}** | max {d['max_peak_rss_mb']:.0f} |"
    lines.append(row)
    reps = ", ".join(f"{n} x{results['datasets'][n]['repeats']}" for n in names)
    lines.append(f"\nMedians over repetitions ({reps}); seconds exclude start-up and imports; peak MB is the "
                 "stage process's max RSS (imports included).")
    if "matrix_build" in results:
        m = results["matrix_build"]
        lines += ["", f"Train matrix build on ml-100k's train split ({m['vectorised']['ratings']} ratings, "
                      f"{m['vectorised']['shape'][0]} x {m['vectorised']['shape'][1]}):", "",
                  "| method | median s | repetitions | equal to vectorised |", "|---|---:|---:|---|"]
        for key in ("tutorial", "vectorised"):
            r = m[key]
            lines.append(f"| {key} ({r['function']}) | {r['median_s']:.4f} | {len(r['seconds'])} | "
                         f"{r['equal_to_vectorised']} |")
        lines.append(f"\nSpeed-up: {m['speedup']:.0f}x")
    if "targets" in results:
        t = results["targets"]
        lines.append(f"\n20M targets: total {fmt_s(t['total_s'])} s (< {TARGET_TOTAL_S:.0f} s: "
                     f"{'met' if t['total_met'] else 'MISSED'}); max stage peak {t['max_peak_rss_mb']:.0f} MB "
                     f"(< {TARGET_PEAK_MB:.0f} MB: {'met' if t['peak_met'] else 'MISSED'})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="ml-100k,20m", help="comma-separated: ml-100k, 20m")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions on ml-100k (median reported)")
    parser.add_argument("--repeat-large", type=int, default=3, help="repetitions on the synthetic 20M")
    parser.add_argument("--matrix-repeat", type=int, default=20, help="repetitions of the vectorised build")
    parser.add_argument("--tutorial-repeat", type=int, default=3, help="repetitions of the tutorial build")
    parser.add_argument("--ratings", type=int, default=20_000_000)
    parser.add_argument("--users", type=int, default=138_000)
    parser.add_argument("--items", type=int, default=27_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--synthetic", type=Path, help="folder of synthetic data: reused if it has ratings.csv, "
                                                       "else generated there (default: inside the work folder)")
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml", help="base params (data is replaced)")
    parser.add_argument("--workdir", type=Path, help="where outputs go (default: a temporary folder, removed)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "data_stages.json")
    args = parser.parse_args(argv)
    wanted = [d.strip() for d in args.datasets.split(",") if d.strip()]
    if unknown := set(wanted) - {"ml-100k", "20m"}:
        parser.error(f"unknown dataset(s) {sorted(unknown)}; use ml-100k and/or 20m")

    work = Path(tempfile.mkdtemp(prefix="bench-data-", dir=args.workdir))
    results: dict = {"machine": machine_info(), "datasets": {}}
    try:
        if "ml-100k" in wanted:
            folder = work / "ml-100k"
            folder.mkdir()
            params = write_params(args.params, folder / "params.yaml", "ml-100k", "pypi-mirror")
            print(f"bench: ml-100k via the PyPI mirror, {args.repeat} repetitions", flush=True)
            results["datasets"]["ml-100k"] = run_chain("ml-100k", params, folder, args.repeat, keep_last=True)
            last = folder / f"rep{args.repeat - 1}"
            matrix = {}
            for key, reps, function in (("vectorised", args.matrix_repeat, "rating_matrix"),
                                        ("tutorial", args.tutorial_repeat, "tutorial_rating_matrix")):
                print(f"bench: {function} on ml-100k train, {reps} repetitions", flush=True)
                out, _ = worker("matrix", [str(last / "split" / "train.parquet"),
                                           str(last / "prepared" / "meta.json"), key, str(reps)], folder)
                out.update(function=function, median_s=statistics.median(out["seconds"]))
                matrix[key] = out
                print(f"  {function}: median {out['median_s']:.4f} s", flush=True)
            matrix["speedup"] = matrix["tutorial"]["median_s"] / matrix["vectorised"]["median_s"]
            results["matrix_build"] = matrix
            shutil.rmtree(last)
        if "20m" in wanted:
            source, synth = synthetic_folder(args, work)
            folder = work / "synthetic-20m-run"
            folder.mkdir()
            params = write_params(args.params, folder / "params.yaml", "ml-20m", str(source.resolve()))
            print(f"bench: synthetic 20M from {source}, {args.repeat_large} repetitions", flush=True)
            res = run_chain("20m", params, folder, args.repeat_large, keep_last=False)
            res["synthetic"] = {**synth, "ratings": args.ratings, "users": args.users, "items": args.items,
                                "seed": args.seed}
            results["datasets"]["synthetic-20m"] = res
            results["targets"] = {
                "total_s": res["total_median_s"], "total_limit_s": TARGET_TOTAL_S,
                "total_met": res["total_median_s"] < TARGET_TOTAL_S,
                "max_peak_rss_mb": res["max_peak_rss_mb"], "peak_limit_mb": TARGET_PEAK_MB,
                "peak_met": res["max_peak_rss_mb"] < TARGET_PEAK_MB,
            }
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    results["machine"]["loadavg_end"] = list(os.getloadavg())

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(tmp, args.out)
    m = results["machine"]
    print(f"\n{m['cpu_model']}, {m['nproc']} cores, {m['mem_total_gb']} GB, Python {m['python']}, {m['date']}, "
          f"load average {m['loadavg_start'][0]:.2f} -> {m['loadavg_end'][0]:.2f}\n")
    print(table(results))
    print(f"\nbench: results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
