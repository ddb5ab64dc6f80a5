"""Floats as people write them (`5e-5`, `1E-5`, `3e-05`) in configs.

PyYAML (YAML 1.1) reads `5e-5` as a string; our loader reads it as a float
in both the comma form of `--params_override` and YAML files, and still
rejects real strings in float fields. Python's `float()` is the oracle.

Tests: `official_albert.configs.overrides`.
"""

import pathlib
import subprocess
import sys

import pytest
import yaml

from official_albert.configs import overrides
from official_albert.errors import UserError

REPO = pathlib.Path(__file__).resolve().parents[1]
LR = "trainer.optimizer_config.learning_rate.polynomial.initial_learning_rate"
FLOATS = ["5e-5", "1E-5", "3e-05", "-2e+3", "1.5e5", "1.0e-05", ".5e-3",
          "7E2"]


@pytest.mark.parametrize("text", FLOATS)
def test_exponent_floats_are_floats(text):
  value = overrides.safe_load(text)
  assert isinstance(value, float)
  assert value == float(text)


@pytest.mark.parametrize("text", ["5e", "e5", "1e-5x", "abc", "1e-5.0"])
def test_strings_stay_strings(text):
  assert overrides.safe_load(text) == text


def test_plain_pyyaml_reads_them_as_strings_and_is_unchanged():
  # Why the loader exists, and proof that it changes nothing global.
  assert yaml.safe_load("5e-5") == "5e-5"
  assert overrides.safe_load("5e-5") == 5e-5
  assert yaml.safe_load("5e-5") == "5e-5"


@pytest.mark.parametrize("text", ["5e-5", "1E-5", "3e-05"])
def test_comma_override(text):
  params = overrides.parse_configuration(
      "albert/sentence_prediction", None,
      f"{LR}={text},task.model.dropout_rate={text}")
  opt = params.trainer.optimizer_config
  assert opt.learning_rate.polynomial.initial_learning_rate == float(text)
  assert params.task.model.dropout_rate == float(text)


def test_yaml_override_and_file(tmp_path):
  path = tmp_path / "lr.yaml"
  path.write_text("trainer:\n  optimizer_config:\n    learning_rate:\n"
                  "      polynomial: {initial_learning_rate: 3e-05}\n"
                  "task:\n  model: {dropout_rate: 1E-1}\n")
  params = overrides.parse_configuration(
      "albert/sentence_prediction", [str(path)],
      "{trainer: {optimizer_config: {warmup: {linear: {warmup_steps: 7}}}}}")
  opt = params.trainer.optimizer_config
  assert opt.learning_rate.polynomial.initial_learning_rate == 3e-5
  assert params.task.model.dropout_rate == 0.1
  assert opt.warmup.linear.warmup_steps == 7


@pytest.mark.parametrize("override, key", [
    (f"{LR}=5e-5x", "initial_learning_rate"),
    (f"{LR}=fast", "initial_learning_rate"),
    ("trainer.train_steps=1e3", "train_steps"),  # A float in an int field.
])
def test_strings_and_floats_in_wrong_fields_are_rejected(override, key):
  with pytest.raises(UserError, match=rf"{key}' in --params_override expects"):
    overrides.parse_configuration("albert/sentence_prediction", None,
                                  override)


def test_train_py_accepts_the_new_user_override(tmp_path):
  # The exact command of the issue, through train.py's flags; it stops at the
  # missing training records, after the config was accepted.
  result = subprocess.run(
      [sys.executable, "train.py", "--experiment=albert/sentence_prediction",
       "--mode=train", f"--model_dir={tmp_path / 'm'}",
       f"--params_override={LR}=5e-5,"
       f"task.train_data.input_path={tmp_path / 'none.tfrecord'}"],
      capture_output=True, text=True, cwd=REPO, check=False)
  assert result.returncode == 2, result.stderr[-2000:]
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: ") and "expects" not in last, last
  assert "none.tfrecord" in last

