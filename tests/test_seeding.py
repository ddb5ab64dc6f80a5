"""`task.seed`: two train.py runs with one seed agree exactly; another differs.

Three CPU fine-tuning runs of a tiny ALBERT on the bundled SST-2 slice, each
a separate `train.py` process as users start it. The seed must fix the head
and encoder initialisation, dropout and the input shuffle; the final
evaluation metrics and the trained weights are compared.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import sst2_slice
from official_albert.configs import overrides


def _train(model_dir, files, seed):
  return subprocess.Popen(
      [sys.executable, "train.py", "--experiment=albert/sentence_prediction",
       "--mode=train_and_eval", f"--model_dir={model_dir}"]
      + [f"--config_file={f}" for f in files]
      + [f"--params_override=task.seed={seed}"],
      cwd=sst2_slice.REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
      text=True)


def _weights(model_dir):
  reader = tf.train.load_checkpoint(str(model_dir))
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()
          if name.startswith("model/")}


def test_same_seed_same_metrics_other_seed_other_metrics(tmp_path, test_data):
  records = sst2_slice.make_records(test_data, tmp_path)
  files = sst2_slice.config_files(records, tmp_path)
  runs = {name: (tmp_path / name, seed)
          for name, seed in (("a", 7), ("b", 7), ("c", 8))}
  procs = {name: _train(d, files, seed) for name, (d, seed) in runs.items()}
  for name, proc in procs.items():
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, f"run {name}:\n{out[-3000:]}"
  metrics = {name: json.loads((d / "metrics.json").read_text())
             for name, (d, _) in runs.items()}
  assert metrics["a"] == metrics["b"]
  assert metrics["a"]["validation_loss"] != metrics["c"]["validation_loss"]
  weights = {name: _weights(d) for name, (d, _) in runs.items()}
  assert weights["a"].keys() == weights["c"].keys() and weights["a"]
  for name in weights["a"]:
    np.testing.assert_array_equal(weights["a"][name], weights["b"][name])
  assert any(not np.array_equal(weights["a"][n], weights["c"][n])
             for n in weights["a"])


def test_seed_reaches_the_input_pipeline():
  params = overrides.parse_configuration(
      "albert/sentence_prediction", None,
      "task.seed=5,task.validation_data.seed=9")
  assert params.task.train_data.seed == 5
  assert params.task.validation_data.seed == 9  # An explicit seed stays.
  assert params.task.train_data.deterministic is True
  unseeded = overrides.parse_configuration("albert/sentence_prediction",
                                           None, "")
  assert unseeded.task.seed is None and unseeded.task.train_data.seed is None


@pytest.mark.parametrize("experiment", ["albert/pretraining", "albert/squad"])
def test_every_experiment_has_the_seed(experiment):
  params = overrides.parse_configuration(experiment, None, "task.seed=3")
  assert params.task.train_data.seed == 3
