"""`benchmarks.learning_curves` chooses each initialisation's rate with
`official_albert.sweep`.

A two-point `--grid` over the learning rate, on a 40-example subset of the
SST-2 slice in `tests/data/glue`, from scratch, 4 steps per run: every point
must come back with the rate its own run trained at (read from the run's
`sweep.yaml`, which train.py was given) and the score that run wrote (its
`metrics.json`). The score is the dev loss here, not the accuracy: after 4
steps both rates predict one class (the same accuracy), while their losses
differ, so a point paired with the other rate's run would fail.

Tests: `benchmarks.learning_curves`.
"""

import argparse
import json
import pathlib

import tensorflow as tf
import yaml

from benchmarks import finetune_oracle
from benchmarks import learning_curves

REPO = pathlib.Path(__file__).resolve().parents[1]
RATES = [1e-4, 3e-2]


def test_rate_sweep_reports_each_rate_with_its_own_run(tmp_path,
                                                       monkeypatch):
  monkeypatch.chdir(REPO)
  monkeypatch.setattr(learning_curves, "steps_for", lambda n: 4)
  monkeypatch.setitem(finetune_oracle.TASKS, "sst-2", finetune_oracle.TASKS[
      "sst-2"][:2] + ("validation_loss",) + finetune_oracle.TASKS["sst-2"][3:])
  records = tmp_path / "records"
  finetune_oracle.make_records("sst-2", str(REPO / "tests/data"),
                               str(records / "sst-2"))
  args = argparse.Namespace(
      records_dir=str(records), run_dir=str(tmp_path / "curves"),
      checkpoint="", model_config=finetune_oracle.MODEL_CONFIG)
  runs = learning_curves.rate_sweep(args, "sst-2", 40, 1, "scratch", RATES)
  assert sorted(r["rate"] for r in runs) == RATES
  sweep_dir = tmp_path / "curves/sst-2/n40/sweep_scratch_seed1"
  trials = sorted(sweep_dir.glob("trial-*-seed1"))
  assert len(trials) == len(RATES)
  by_rate = {}
  for trial in trials:
    config = yaml.safe_load((trial / "sweep.yaml").read_text())
    rate = config["trainer"]["optimizer_config"]["learning_rate"][
        "polynomial"]["initial_learning_rate"]
    by_rate[rate] = json.loads((trial / "metrics.json").read_text())
  losses = [m["validation_loss"] for m in by_rate.values()]
  assert abs(losses[0] - losses[1]) > 1e-3  # Else the check below is blind.
  for run in runs:
    assert run["score"] == by_rate[run["rate"]]["validation_loss"]
    assert (run["task"], run["n"], run["seed"], run["init"], run["steps"]) == (
        "sst-2", 40, 1, "scratch", 4)
  # The subset the grid trained on: 40 of the slice's records.
  subset = records / "sst-2/train_40_seed1.tfrecord"
  assert sum(1 for _ in tf.data.TFRecordDataset(str(subset))) == 40
