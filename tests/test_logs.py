"""A stage's output is its own lines: no TensorFlow/XLA C++ banners, and no TensorFlow where it is not used."""

import os
import re
import subprocess
import sys

from conftest import ROOT, stage_args

BANNERS = re.compile(r"oneDNN custom operations|cuda drivers|cuInit|absl::InitializeLog|cpu_feature_guard|"
                     r"TensorFlow binary is optimized|computation_placer|^[IWE]\d{4} ")


def run(module, *args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def test_train_and_evaluate_print_no_banner(project, tmp_path):
    train = run("pipeline.train", *stage_args(project, "--model", "mf", "--prepared", project / "prepared",
                                              "--split", project / "split", "--features", project / "features",
                                              "--out", tmp_path / "models" / "mf", "--predictions",
                                              tmp_path / "val.parquet"), cwd=tmp_path)
    assert train.returncode == 0, train.stderr
    evaluate = run("pipeline.evaluate", *stage_args(project, "--model", "mf", "--prepared", project / "prepared",
                                                    "--split", project / "split", "--models", tmp_path / "models",
                                                    "--out", tmp_path / "mf.json", "--predictions",
                                                    tmp_path / "test.parquet"), cwd=tmp_path)
    assert evaluate.returncode == 0, evaluate.stderr
    for done in (train, evaluate):
        noise = [line for line in (done.stdout + done.stderr).splitlines() if BANNERS.search(line)]
        assert noise == [], noise
    assert train.stdout.strip().splitlines()[-1].startswith("train: done: mf: ")
    assert "Epoch 1/" in train.stdout  # the per-epoch lines stay


def test_stages_without_models_never_import_tensorflow():
    probe = ("import sys, pipeline.check, pipeline.download, pipeline.reindex, pipeline.split, pipeline.features, "
             "pipeline.blend, pipeline.report; from pipeline.lib.training import live_callback; "
             "print(sorted(m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_baseline_trains_and_evaluates_without_keras(project, tmp_path):
    """Its stages skip the seconds of importing Keras and a backend: the baseline is NumPy only."""
    probe = ("import sys; from pipeline import evaluate, train; "
             "assert train.main(sys.argv[1].split('|')) == 0; assert evaluate.main(sys.argv[2].split('|')) == 0; "
             "print(sorted(m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules))")
    train = stage_args(project, "--model", "baseline", "--prepared", project / "prepared", "--split",
                       project / "split", "--features", project / "features", "--out", tmp_path / "models" / "baseline",
                       "--predictions", tmp_path / "val.parquet")
    evaluate = stage_args(project, "--model", "baseline", "--prepared", project / "prepared", "--split",
                          project / "split", "--models", tmp_path / "models", "--out", tmp_path / "baseline.json",
                          "--predictions", tmp_path / "test.parquet")
    done = subprocess.run([sys.executable, "-c", probe, "|".join(train), "|".join(evaluate)], capture_output=True,
                          text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert '"backend": "numpy"' in (tmp_path / "models" / "baseline" / "info.json").read_text()
