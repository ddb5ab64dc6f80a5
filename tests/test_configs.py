"""Experiment registry, YAML/override semantics and bad-config errors.

Tests: `official_albert.configs.overrides`,
`official_albert.configs.pretraining`, `official_albert.configs.finetuning`,
`official_albert.errors`.
"""

import pathlib

import pytest

from official_albert import configs  # pylint: disable=unused-import
from official_albert.configs import overrides
from official_albert.errors import UserError

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_pretraining_defaults_are_the_paper_recipe():
  params = overrides.get_experiment("albert/pretraining")
  opt = params.trainer.optimizer_config
  assert opt.optimizer.type == "lamb"
  assert opt.optimizer.lamb.weight_decay_rate == 0.01
  assert opt.optimizer.lamb.global_clipnorm == 1.0
  assert opt.optimizer.lamb.epsilon == 1e-6
  assert "LayerNorm" in opt.optimizer.lamb.exclude_from_weight_decay
  assert "bias" in opt.optimizer.lamb.exclude_from_layer_adaptation
  assert opt.learning_rate.polynomial.initial_learning_rate == 0.00176
  assert opt.learning_rate.polynomial.decay_steps == 125000
  assert opt.learning_rate.polynomial.end_learning_rate == 0.0
  assert opt.learning_rate.polynomial.power == 1.0
  assert opt.warmup.linear.warmup_steps == 3125
  assert params.trainer.train_steps == 125000
  data = params.task.train_data
  assert (data.global_batch_size, data.seq_length,
          data.max_predictions_per_seq) == (4096, 512, 20)


def test_config_files_apply_in_order_then_override(tmp_path):
  first = tmp_path / "a.yaml"
  first.write_text("task:\n  model:\n    encoder:\n      hidden_size: 64\n"
                   "      num_attention_heads: 4\n")
  second = tmp_path / "b.yaml"
  second.write_text("task:\n  model:\n    encoder:\n      hidden_size: 128\n")
  params = overrides.parse_configuration(
      "albert/pretraining", [str(first), str(second)],
      "task.train_data.global_batch_size=64,runtime.mixed_precision_dtype="
      "'bfloat16'")
  assert params.task.model.encoder.hidden_size == 128  # Later file wins.
  assert params.task.model.encoder.num_attention_heads == 4
  assert params.task.train_data.global_batch_size == 64
  assert params.runtime.mixed_precision_dtype == "bfloat16"
  with pytest.raises(ValueError, match="locked"):
    params.override({"trainer": {"train_steps": 1}})


def test_override_accepts_yaml_form():
  params = overrides.parse_configuration(
      "albert/pretraining", None,
      "{task: {train_data: {seq_length: 128}}, trainer: {train_steps: 7}}")
  assert params.task.train_data.seq_length == 128
  assert params.trainer.train_steps == 7


def test_model_yaml_sizes_parse():
  base = overrides.parse_configuration(
      "albert/pretraining", [str(REPO / "configs/models/albert_base_v1.yaml")],
      None)
  assert base.task.model.encoder.hidden_dropout_prob == 0.1
  xxl = overrides.parse_configuration(
      "albert/pretraining",
      [str(REPO / "configs/models/albert_xxlarge_v2.yaml")], None)
  assert xxl.task.model.encoder.hidden_size == 4096
  assert xxl.task.model.encoder.num_attention_heads == 64


def test_unknown_experiment_lists_known_ones():
  with pytest.raises(UserError, match=r"unknown experiment 'albert/pretrain'.*"
                     r"did you mean 'albert/pretraining'.*known experiments:"):
    overrides.parse_configuration("albert/pretrain", None, None)


def test_unknown_key_names_closest_valid_key():
  with pytest.raises(UserError, match=r"unknown config key "
                     r"'task.model.encoder.hiden_size'.*did you mean "
                     r"'task.model.encoder.hidden_size'"):
    overrides.parse_configuration("albert/pretraining", None,
                                  "task.model.encoder.hiden_size=64")


def test_unknown_key_in_config_file_names_the_file(tmp_path):
  path = tmp_path / "bad.yaml"
  path.write_text("trainer:\n  train_step: 5\n")
  with pytest.raises(UserError, match=r"'trainer.train_step' in config file "
                     r".*bad.yaml.*did you mean 'trainer.train_steps'"):
    overrides.parse_configuration("albert/pretraining", [str(path)], None)


@pytest.mark.parametrize("override, key", [
    ("trainer.optimizer_config.learning_rate.polynomial.initial_learning_rate"
     "='fast'", "initial_learning_rate"),
    ("task.train_data.global_batch_size=1.5", "global_batch_size"),
    ("task.train_data.is_training=1", "is_training"),
    ("task.model.encoder.hidden_act=3", "hidden_act"),
])
def test_wrong_value_type_is_rejected(override, key):
  with pytest.raises(UserError, match=rf"{key}' in --params_override expects"):
    overrides.parse_configuration("albert/pretraining", None, override)


def test_int_is_accepted_for_float():
  params = overrides.parse_configuration(
      "albert/pretraining", None, "task.model.encoder.hidden_dropout_prob=0")
  assert params.task.model.encoder.hidden_dropout_prob == 0.0


@pytest.mark.parametrize("override", ["task.train_data", "=3", "[1, 2]"])
def test_malformed_override(override):
  with pytest.raises(UserError, match="malformed --params_override"):
    overrides.parse_configuration("albert/pretraining", None, override)


def test_missing_and_invalid_config_files(tmp_path):
  with pytest.raises(UserError, match="not found"):
    overrides.parse_configuration("albert/pretraining",
                                  [str(tmp_path / "nope.yaml")], None)
  bad = tmp_path / "bad.yaml"
  bad.write_text("task: [unclosed\n")
  with pytest.raises(UserError, match="not valid YAML"):
    overrides.parse_configuration("albert/pretraining", [str(bad)], None)
  unsafe = tmp_path / "unsafe.yaml"
  unsafe.write_text("task: !!python/object/apply:os.system ['true']\n")
  with pytest.raises(UserError, match="not valid YAML"):
    overrides.parse_configuration("albert/pretraining", [str(unsafe)], None)
