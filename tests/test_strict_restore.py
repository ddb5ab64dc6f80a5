"""Strict restores in real runs, through train.py, on real trainer checkpoints.

The checkpoints are those Model Garden's trainer writes (`encoder`,
`masked_lm`, `sop_classifier`, `model`, `optimizer`, `global_step` at the
root), made by a real `train.py` pretraining run, and that run's weights
converted to the original TF1 layout and back. A model that disagrees with
the checkpoint (another hidden size, fewer groups) must stop before its
first step with one `error:` line naming the variables; a matching one must
start from the checkpoint's weights (checked with a zero learning rate, so
that the fine-tuned checkpoint still holds them).

Tests: `official_albert.tasks.checkpoints`.
"""

import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import conftest

import train
from official_albert.errors import UserError
from official_albert.interop import convert

REPO = pathlib.Path(__file__).resolve().parents[1]
VOCAB = REPO / "assets/vocab/albert_demo_8k.model"
SEQ, PRED = 64, 10
# Two groups of one layer each (num_hidden_layers 2), so that "fewer groups"
# is a model the checkpoint does not fit.
ENCODER = ("task.model.encoder.vocab_size=8000,"
           "task.model.encoder.embedding_size=16,"
           "task.model.encoder.num_hidden_layers=2,"
           "task.model.encoder.num_attention_heads=2,"
           "task.model.encoder.intermediate_size=64,")
SCHEDULE = ("runtime.distribution_strategy='one_device',"
            "trainer.steps_per_loop=2,trainer.summary_interval=2,"
            "trainer.checkpoint_interval=2,trainer.validation_interval=2,"
            "trainer.validation_steps=1,trainer.train_steps=2,")
ENCODER_KEY = ("encoder/groups/1/0/_intermediate_dense/kernel/"
               ".ATTRIBUTES/VARIABLE_VALUE")


def _train_py(experiment, model_dir, override, mode="train",
              in_process=False):
  """Runs train.py: in a subprocess, or its `run` in this process (faster;
  then a bad input raises the UserError that train.py prints)."""
  if in_process:
    return train.run(experiment, mode, str(model_dir), None, override)
  return subprocess.run(
      [sys.executable, str(REPO / "train.py"), f"--experiment={experiment}",
       f"--mode={mode}", f"--model_dir={model_dir}",
       f"--params_override={override}"],
      capture_output=True, text=True, cwd=REPO, check=False)


def _encoder(hidden=32, groups=2):
  return (ENCODER + f"task.model.encoder.hidden_size={hidden},"
          f"task.model.encoder.num_hidden_groups={groups},")


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
  """A real train.py pretraining run (2 steps) and its records."""
  root = tmp_path_factory.mktemp("pretrained")
  records = conftest.make_pretraining_records(root, 6, SEQ, PRED)
  override = (_encoder() + SCHEDULE +
              f"task.train_data.seq_length={SEQ},"
              f"task.train_data.max_predictions_per_seq={PRED},"
              "task.train_data.global_batch_size=8,"
              f"task.train_data.input_path='{records}/*.tfrecord'")
  run = _train_py("albert/pretraining", root / "model", override)
  assert run.returncode == 0, run.stderr[-3000:]
  roots = {k.split("/")[0] for k, _ in tf.train.list_variables(
      str(root / "model"))}
  assert {"encoder", "masked_lm", "sop_classifier", "optimizer",
          "global_step"} <= roots
  return root / "model", records


@pytest.fixture(scope="module")
def sst2_records(tmp_path_factory):
  return conftest.make_sst2_records(tmp_path_factory.mktemp("sst2"), SEQ)


def _finetune(model_dir, records, init_checkpoint, encoder, in_process=False):
  override = (encoder + SCHEDULE +
              "trainer.optimizer_config.learning_rate.polynomial."
              "initial_learning_rate=0.0,"
              "task.model.num_classes=2,"
              f"task.init_checkpoint='{init_checkpoint}',"
              f"task.train_data.input_path='{records}/train.tfrecord',"
              f"task.train_data.seq_length={SEQ},"
              "task.train_data.global_batch_size=8")
  return _train_py("albert/sentence_prediction", model_dir, override,
                   in_process=in_process)


def _encoder_values(path):
  reader = tf.train.load_checkpoint(str(path))
  return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
          if k.startswith("encoder/") and "OPTIMIZER_SLOT" not in k}


def test_finetuning_starts_from_a_train_py_checkpoint(pretrained, sst2_records,
                                                     tmp_path):
  model_dir, _ = pretrained
  run = _finetune(tmp_path / "ft", sst2_records, model_dir, _encoder())
  assert run.returncode == 0, run.stderr[-3000:]
  source, tuned = _encoder_values(model_dir), _encoder_values(tmp_path / "ft")
  # The word embeddings are stored under masked_lm/ in the pretraining
  # checkpoint (shared with the MLM head) and under encoder/ here.
  assert len(tuned) == len(source) + 1 and ENCODER_KEY in tuned
  for key, value in source.items():
    np.testing.assert_array_equal(tuned[key], value, err_msg=key)


def test_wrong_hidden_size_fails_before_the_first_step(
    pretrained, sst2_records, tmp_path):
  model_dir, _ = pretrained
  run = _finetune(tmp_path / "ft", sst2_records, model_dir,
                  _encoder(hidden=48))
  print(run.stderr.strip().splitlines()[-1])
  assert run.returncode == 2
  last = run.stderr.strip().splitlines()[-1]
  assert last.startswith(f"error: checkpoint '{model_dir}/ckpt-2' does not "
                         "match the ALBERT config: shape mismatch "
                         "encoder/embedding_hidden_mapping_in/bias (32,) "
                         "(config: (48,))")
  assert "Traceback" not in run.stderr
  assert not (tmp_path / "ft" / "checkpoint").exists()


def test_fewer_groups_fails_before_the_first_step(pretrained, sst2_records,
                                                 tmp_path):
  model_dir, _ = pretrained
  with pytest.raises(UserError) as e:
    _finetune(tmp_path / "ft", sst2_records, model_dir, _encoder(groups=1),
              in_process=True)
  print(e.value)
  assert str(e.value).startswith(
      f"checkpoint '{model_dir}/ckpt-2' does not match the ALBERT config: "
      "unexpected encoder/groups/1/0/_attention_layer/_key_dense/bias")
  assert not (tmp_path / "ft" / "checkpoint").exists()


def test_continued_pretraining_with_more_groups_fails(pretrained, tmp_path):
  model_dir, records = pretrained
  override = (_encoder().replace("num_hidden_layers=2", "num_hidden_layers=3")
              + "task.model.encoder.num_hidden_groups=3," + SCHEDULE +
              f"task.init_checkpoint='{model_dir}',"
              f"task.train_data.seq_length={SEQ},"
              f"task.train_data.max_predictions_per_seq={PRED},"
              "task.train_data.global_batch_size=8,"
              f"task.train_data.input_path='{records}/*.tfrecord'")
  with pytest.raises(UserError, match=(
      "does not match the ALBERT config: missing encoder/groups/2/0/")):
    _train_py("albert/pretraining", tmp_path / "more", override,
              in_process=True)
  assert not (tmp_path / "more" / "checkpoint").exists()


def test_converted_tf1_checkpoint_restores_in_real_runs(pretrained,
                                                       sst2_records, tmp_path):
  model_dir, records = pretrained
  convert.convert("ours", "tf1", str(model_dir), str(tmp_path / "tf1"))
  convert.convert("tf1", "ours", str(tmp_path / "tf1"), str(tmp_path / "ours"))
  _finetune(tmp_path / "ft", sst2_records, tmp_path / "ours", _encoder(),
            in_process=True)
  source, tuned = _encoder_values(model_dir), _encoder_values(tmp_path / "ft")
  for key, value in source.items():
    np.testing.assert_array_equal(tuned[key], value, err_msg=key)
  # Continued pretraining: encoder and both heads from the converted files.
  override = (_encoder() + SCHEDULE +
              "trainer.optimizer_config.learning_rate.polynomial."
              "initial_learning_rate=0.0,"
              f"task.init_checkpoint='{tmp_path / 'ours'}',"
              f"task.train_data.seq_length={SEQ},"
              f"task.train_data.max_predictions_per_seq={PRED},"
              "task.train_data.global_batch_size=8,"
              f"task.train_data.input_path='{records}/*.tfrecord'")
  _train_py("albert/pretraining", tmp_path / "continued", override,
            in_process=True)
  before = tf.train.load_checkpoint(str(model_dir))
  after = tf.train.load_checkpoint(str(tmp_path / "continued"))
  for key in before.get_variable_to_shape_map():
    if key.split("/")[0] in ("encoder", "masked_lm", "sop_classifier") and (
        "OPTIMIZER_SLOT" not in key):
      np.testing.assert_array_equal(after.get_tensor(key),
                                    before.get_tensor(key), err_msg=key)
