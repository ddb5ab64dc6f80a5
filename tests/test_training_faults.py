"""Faults injected into train.py runs (issue: hardening).

A tiny ALBERT (the TINY override of test_pretraining) pretrains on records
made by our CLI from real held-out text (WikiText-2 test, bundled in
assets/corpus/heldout.txt). Faults: SIGKILL at random moments, a second run
on the same model_dir, a truncated or deleted newest checkpoint, a learning
rate that blows the loss up.

Tests: `official_albert.training.run_guard`.
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
import conftest
from test_pretraining import REPO, SEQ, PRED, TINY

from official_albert import errors
from official_albert.training import run_guard


@pytest.fixture(scope="module")
def records(tmp_path_factory):
  return conftest.make_pretraining_records(
      tmp_path_factory.mktemp("records"), 6, SEQ, PRED)


def command(model_dir, records, steps, *overrides):
  override = ",".join([
      TINY, f"trainer.train_steps={steps}",
      f"task.train_data.input_path='{records}/*.tfrecord'",
      f"task.validation_data.input_path='{records}/*.tfrecord'", *overrides])
  return [sys.executable, str(REPO / "train.py"),
          "--experiment=albert/pretraining", "--mode=train",
          f"--model_dir={model_dir}", f"--params_override={override}"]


def train(model_dir, records, steps, *overrides):
  return subprocess.run(command(model_dir, records, steps, *overrides),
                        capture_output=True, text=True, cwd=REPO, check=False)


def checkpoints(model_dir):
  """Step numbers of the checkpoints on disk (by their index files)."""
  return sorted(int(m.group(1)) for m in (
      re.fullmatch(r"ckpt-(\d+)\.index", n) for n in os.listdir(model_dir))
                if m)


def assert_all_readable(model_dir):
  for step in checkpoints(model_dir):
    assert run_guard._unreadable(str(model_dir / f"ckpt-{step}")) is None


def error_line(stderr):
  lines = [l for l in stderr.splitlines() if l.startswith("error:")]
  assert len(lines) == 1 and "Traceback" not in stderr, stderr
  return lines[0]


def wait_and_kill(proc, model_dir, moment, rng):
  """SIGKILLs `proc` at `moment`: "start" (a random time in its first
  seconds), "writing" (as soon as a checkpoint's `*_temp` staging or its
  index is on disk) or "between" (a random time after a new checkpoint
  appeared). Returns False if the run ended first."""
  def listing():
    return os.listdir(model_dir) if model_dir.exists() else []
  if moment == "start":
    time.sleep(rng.uniform(0, 8))
  else:
    before = set(listing())
    while proc.poll() is None:
      new = set(listing()) - before
      # TF stages a save in ckpt-N_temp/, then writes the index, then the
      # state file; a tiny model's save can fall between two polls.
      if moment == "writing" and any("_temp" in n or n.endswith(".index")
                                     for n in new):
        break
      if moment == "between" and any(n.endswith(".index") for n in new):
        time.sleep(rng.uniform(0, 1))
        break
      time.sleep(0.01)
  if proc.poll() is not None:
    return False
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  return True


def test_sigkill_at_random_moments_then_finish(records, tmp_path):
  model_dir = tmp_path / "model"
  steps = 40
  rng = random.Random(1234)
  moments = ["start", "writing", "between", "writing", "between", "writing"]
  killed = []
  for moment in moments:
    proc = subprocess.Popen(command(model_dir, records, steps), cwd=REPO,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    if wait_and_kill(proc, model_dir, moment, rng):
      killed.append((moment, checkpoints(model_dir) if model_dir.exists()
                     else []))
      if model_dir.exists():
        assert_all_readable(model_dir)
  assert len(killed) >= 5, killed
  # Every restart resumed: checkpoints only ever grew.
  steps_seen = [c[-1] for _, c in killed if c]
  assert steps_seen == sorted(steps_seen)
  run = train(model_dir, records, steps)
  assert run.returncode == 0, run.stderr[-3000:]
  assert checkpoints(model_dir)[-1] == steps
  assert tf.train.latest_checkpoint(str(model_dir)).endswith(f"ckpt-{steps}")
  assert_all_readable(model_dir)
  assert not (model_dir / run_guard.LOCK_NAME).exists()
  assert not [n for n in os.listdir(model_dir) if n.endswith("_temp")]
  reader = tf.train.load_checkpoint(str(model_dir / f"ckpt-{steps}"))
  dtypes = reader.get_variable_to_dtype_map()
  weights = [reader.get_tensor(n) for n in dtypes if dtypes[n].is_floating]
  assert weights and all(np.isfinite(w).all() for w in weights)


def test_second_run_on_a_model_dir_is_refused(records, tmp_path):
  model_dir = tmp_path / "model"
  first = subprocess.Popen(command(model_dir, records, 100000), cwd=REPO,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
  try:
    deadline = time.time() + 120
    while not (model_dir / run_guard.LOCK_NAME).exists():
      assert time.time() < deadline and first.poll() is None
      time.sleep(0.2)
    second = train(model_dir, records, 4)
    assert second.returncode == 2
    line = error_line(second.stderr)
    assert f"in use by the run of pid {first.pid} on host" in line
  finally:
    first.send_signal(signal.SIGKILL)
    first.wait()
  # The killed run's lock is stale: the next run says so and proceeds.
  third = train(model_dir, records, 2)
  assert third.returncode == 0, third.stderr[-3000:]
  assert f"stale lock {model_dir / run_guard.LOCK_NAME}" in third.stderr


def test_corrupt_newest_checkpoint_falls_back_to_the_previous(records,
                                                             tmp_path):
  model_dir = tmp_path / "model"
  assert train(model_dir, records, 4).returncode == 0
  assert checkpoints(model_dir) == [2, 4]
  data = model_dir / "ckpt-4.data-00000-of-00001"
  data.write_bytes(data.read_bytes()[:len(data.read_bytes()) // 2])
  (model_dir / "ckpt-6_temp").mkdir()  # as a save cut short leaves it
  run = train(model_dir, records, 6)
  assert run.returncode == 0, run.stderr[-3000:]
  assert re.search(r"warning: checkpoint \S*ckpt-4 is unreadable", run.stderr)
  assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-6")
  assert not [n for n in os.listdir(model_dir) if n.endswith("_temp")]
  # Index files deleted: the same fallback, found without starting TF
  # training; none left readable is a one-line error, never a fresh start.
  (model_dir / "ckpt-6.index").unlink()
  assert run_guard.check_latest_checkpoint(str(model_dir)).endswith("ckpt-4")
  for step in checkpoints(model_dir):
    (model_dir / f"ckpt-{step}.index").unlink()
  with pytest.raises(errors.UserError, match="no checkpoint listed in"):
    run_guard.check_latest_checkpoint(str(model_dir))


def test_loss_blow_up_recovers_then_stops_with_one_line(records, tmp_path):
  model_dir = tmp_path / "model"
  assert train(model_dir, records, 2).returncode == 0  # a good checkpoint
  lr = "trainer.optimizer_config.learning_rate.polynomial"
  run = train(model_dir, records, 40,
              f"{lr}.initial_learning_rate=1000000000.0",
              "trainer.loss_upper_bound=50", "trainer.recovery_max_trials=2")
  assert run.returncode == 2, run.stderr[-3000:]
  assert run.stderr.count("Recovering the model from checkpoint") == 2
  line = error_line(run.stderr)
  assert "training stopped at step" in line and "recovery_max_trials=2" in line
  assert "happens 3 times" in line or "NaN" in line


def test_only_the_chief_of_a_cluster_takes_the_lock(monkeypatch):
  cluster = {"worker": ["a:1", "b:2"]}
  for task, chief in ((None, True), ({"type": "worker", "index": 0}, True),
                      ({"type": "worker", "index": 1}, False)):
    monkeypatch.setenv("TF_CONFIG", "{}" if task is None else
                       json.dumps({"cluster": cluster, "task": task}))
    assert run_guard.is_chief() == chief
  monkeypatch.setenv("TF_CONFIG", json.dumps({
      "cluster": dict(cluster, chief=["c:3"]),
      "task": {"type": "worker", "index": 0}}))
  assert not run_guard.is_chief()
