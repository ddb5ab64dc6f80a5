"""The run report: final table and curves of a real (tiny) pretraining run.

Tests: `official_albert.tools.run_report`, `official_albert.tools.baselines`.
"""

import json
import math
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.stats

import conftest
from official_albert import errors
from official_albert.tools import baselines
from official_albert.tools import run_report


@pytest.mark.parametrize("k,n", [(2197, 4324), (30, 40), (1, 7)])
def test_wilson_interval_matches_scipy(k, n):
  want = scipy.stats.binomtest(k, n).proportion_ci(method="wilson")
  np.testing.assert_allclose(run_report.wilson_interval(k / n, n),
                             (want.low, want.high), rtol=1e-9)


def test_report_of_a_real_run(tmp_path):
  records = conftest.make_pretraining_records(tmp_path, 6, 64, 10)
  pattern = str(records / "*.tfrecord")
  model_dir = tmp_path / "model"
  override = (
      "task.model.encoder.vocab_size=8000,task.model.encoder.embedding_size=16,"
      "task.model.encoder.hidden_size=32,task.model.encoder.num_hidden_layers=1,"
      "task.model.encoder.num_attention_heads=2,"
      "task.model.encoder.intermediate_size=32,"
      f"task.train_data.input_path='{pattern}',"
      f"task.validation_data.input_path='{pattern}',"
      "task.train_data.seq_length=64,task.validation_data.seq_length=64,"
      "task.train_data.max_predictions_per_seq=10,"
      "task.validation_data.max_predictions_per_seq=10,"
      "task.train_data.global_batch_size=8,"
      "task.validation_data.global_batch_size=64,"
      "runtime.distribution_strategy='one_device',trainer.train_steps=4,"
      "trainer.steps_per_loop=2,trainer.summary_interval=2,"
      "trainer.checkpoint_interval=4,trainer.validation_interval=2,"
      "trainer.validation_steps=-1,"
      "trainer.optimizer_config.learning_rate.polynomial.decay_steps=4,"
      "trainer.optimizer_config.warmup.linear.warmup_steps=1")
  run = subprocess.run(
      [sys.executable, str(conftest.REPO / "train.py"),
       "--experiment=albert/pretraining", "--mode=train_and_eval",
       f"--model_dir={model_dir}", f"--params_override={override}"],
      capture_output=True, text=True, cwd=conftest.REPO, check=False)
  assert run.returncode == 0, run.stderr[-3000:]
  out = tmp_path / "curves.png"
  result = subprocess.run(
      [sys.executable, "-m", "official_albert.tools.run_report",
       "--model_dir", str(model_dir), "--train", pattern, "--eval", pattern,
       "--plot", str(out)], capture_output=True, text=True,
      cwd=conftest.REPO, check=True)
  lines = result.stdout.splitlines()
  assert lines[0].split() == ["metric", "value", "baseline", "95%",
                              "interval"]
  metrics = json.loads((model_dir / "metrics.json").read_text())
  base = baselines.compute(pattern, pattern)
  rows = {line.split()[0]: line.split()[1:] for line in lines[1:5]}
  sop = metrics["sentence_order_accuracy"]
  low, high = run_report.wilson_interval(sop, base["eval_examples"])
  assert rows["sentence_order_accuracy"] == [
      f"{sop:.3f}", f"{base['sentence_order_accuracy']:.3f}",
      f"{low:.3f}-{high:.3f}"]
  assert rows["sentence_order_loss"][1] == f"{math.log(2):.3f}"
  assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  curves = run_report.read_curves(str(model_dir))
  assert [s for s, _ in curves["train"]["masked_lm_loss"]] == [2, 4]
  assert [s for s, _ in curves["validation"]["sentence_order_accuracy"]] == [
      2, 4]
  assert curves["validation"]["sentence_order_accuracy"][-1][1] == (
      pytest.approx(sop, abs=1e-6))
  # With wall times (benchmarks.pretraining_budget): the same points, and
  # times of this run, in order.
  timed = run_report.read_curves(str(model_dir), ("steps_per_second",
                                                  "masked_lm_loss"), True)
  assert [p[:2] for p in timed["train"]["masked_lm_loss"]] == (
      curves["train"]["masked_lm_loss"])
  times = [p[2] for p in timed["train"]["masked_lm_loss"]]
  assert times == sorted(times) and time.time() - 3600 < times[0]
  assert [p[0] for p in timed["train"]["steps_per_second"]] == [2, 4]
  assert "sentence_order_accuracy" not in timed["validation"]


def test_missing_run_is_a_user_error(tmp_path):
  with pytest.raises(errors.UserError, match="metrics.json not found"):
    run_report.main(["--model_dir", str(tmp_path), "--train", "x",
                     "--eval", "x"])
