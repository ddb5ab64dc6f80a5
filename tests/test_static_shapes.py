"""Static input shapes for XLA and TPUs, on real SST-2, SQuAD and corpus text.

XLA compiles the train step once per input shape. With `runtime.enable_xla`
(or a TPU) fine-tuning batches are padded to length-bucket boundaries; the
compilations are counted from XLA's own log of a real `train.py` run.

Tests: `official_albert.configs.accelerators`.
"""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
import tensorflow as tf
import conftest

from official_albert.configs import accelerators
from official_albert.configs import overrides
from official_albert.data.finetuning import finetune_dataloader
from official_albert.tasks import pretraining as pretraining_task
from official_albert.tasks import squad as squad_task

REPO = pathlib.Path(__file__).resolve().parents[1]
VOCAB = REPO / "assets/vocab/albert_demo_8k.model"
SEQ, WIDTH, BATCH = 128, 16, 16
TINY = ("task.model.encoder.vocab_size=8000,"
        "task.model.encoder.embedding_size=16,"
        "task.model.encoder.hidden_size=32,"
        "task.model.encoder.num_hidden_layers=2,"
        "task.model.encoder.num_attention_heads=2,"
        "task.model.encoder.intermediate_size=64,")


@pytest.fixture(scope="module")
def sst2_records(tmp_path_factory):
  return conftest.make_sst2_records(tmp_path_factory.mktemp("sst2"), SEQ)


def _batch_lengths(records, padded, batches=48):
  config = finetune_dataloader.FinetuneDataConfig(
      input_path=str(records / "train.tfrecord"), seq_length=SEQ,
      global_batch_size=BATCH, is_training=True, bucket_width=WIDTH,
      pad_to_bucket_boundary=padded)
  dataset = finetune_dataloader.FinetuneDataLoader(config).load()
  return [tuple(b["input_word_ids"].shape) for b in dataset.take(batches)]


def test_bucket_boundary_padding_bounds_the_shapes(sst2_records):
  loose = set(_batch_lengths(sst2_records, padded=False))
  static = set(_batch_lengths(sst2_records, padded=True))
  print(f"distinct batch shapes over 48 batches: per-batch padding "
        f"{len(loose)}, bucket padding {len(static)}")
  assert {b for b, _ in static} == {BATCH}
  assert {n for _, n in static} <= set(range(WIDTH, SEQ + 1, WIDTH))
  assert len(loose) > len(static) >= 2


def test_static_shapes_follows_the_runtime():
  def parse(experiment, override):
    return accelerators.static_shapes(overrides.parse_configuration(
        experiment, None, override))
  plain = parse("albert/sentence_prediction", "")
  assert not plain.task.train_data.pad_to_bucket_boundary
  xla = parse("albert/sentence_prediction", "runtime.enable_xla=true")
  assert xla.task.train_data.pad_to_bucket_boundary
  assert xla.task.train_data.length_bucketing
  assert xla.task.validation_data.dynamic_padding  # Eval is not compiled.
  tpu = parse("albert/squad", "runtime.distribution_strategy='tpu'")
  assert tpu.task.train_data.pad_to_bucket_boundary
  assert tpu.task.train_data.drop_remainder
  assert not tpu.task.validation_data.dynamic_padding
  fixed = overrides.parse_configuration(
      "albert/sentence_prediction", None,
      "runtime.enable_xla=true,task.train_data.dynamic_padding=false")
  assert accelerators.static_shapes(fixed) is fixed
  pretraining = overrides.parse_configuration(
      "albert/pretraining", None, "runtime.enable_xla=true")
  assert accelerators.static_shapes(pretraining) is pretraining


def test_tpu_yaml_parses_for_every_experiment():
  for experiment in ("albert/pretraining", "albert/sentence_prediction",
                     "albert/squad"):
    params = overrides.parse_configuration(
        experiment, [str(REPO / "configs/runtime/tpu.yaml")], "")
    assert params.runtime.distribution_strategy == "tpu"
    assert params.runtime.mixed_precision_dtype == "bfloat16"
    assert params.task.train_data.drop_remainder


def test_xla_train_step_compiles_once_per_bucket(sst2_records, tmp_path):
  """Counts XLA's compilations in a real train.py run on an SST-2 slice."""
  steps = 48  # Three passes over the 256 training sentences.
  override = (TINY + "runtime.enable_xla=true,"
              "runtime.distribution_strategy='one_device',"
              f"trainer.train_steps={steps},trainer.steps_per_loop={steps},"
              f"trainer.summary_interval={steps},"
              f"trainer.checkpoint_interval={steps},"
              f"task.train_data.input_path='{sst2_records}/train.tfrecord',"
              f"task.train_data.seq_length={SEQ},"
              f"task.train_data.bucket_width={WIDTH},"
              f"task.train_data.global_batch_size={BATCH}")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0",
             TF_CPP_VMODULE="device_compiler=1")
  run = subprocess.run(
      [sys.executable, str(REPO / "train.py"),
       "--experiment=albert/sentence_prediction", "--mode=train",
       f"--model_dir={tmp_path / 'model'}", f"--params_override={override}"],
      capture_output=True, text=True, cwd=REPO, env=env, check=False)
  assert run.returncode == 0, run.stderr[-3000:]
  compiles = re.findall(r"Compilation of XLA executable time", run.stderr)
  shapes = set(_batch_lengths(sst2_records, padded=True, batches=steps))
  print(f"XLA compilations of the train step, {steps} steps: "
        f"{len(compiles)} (bucket shapes seen: {len(shapes)}, "
        f"at most {SEQ // WIDTH})")
  assert 2 <= len(compiles) <= SEQ // WIDTH
  params = (tmp_path / "model" / "params.yaml").read_text()
  assert "pad_to_bucket_boundary: true" in params


def test_pretraining_batches_are_static(tmp_path):
  records = conftest.make_pretraining_records(tmp_path, 4, 64, 10)
  params = overrides.parse_configuration("albert/pretraining", None, (
      TINY + f"task.train_data.input_path='{records}/*.tfrecord',"
      "task.train_data.seq_length=64,"
      "task.train_data.max_predictions_per_seq=10,"
      "task.train_data.global_batch_size=4"))
  task = pretraining_task.AlbertPretrainingTask(params.task)
  dataset = task.build_inputs(params.task.train_data)
  for name, spec in dataset.element_spec.items():
    assert spec.shape.is_fully_defined(), (name, spec.shape)
    assert spec.shape[0] == 4
  assert dataset.element_spec["input_word_ids"].shape == (4, 64)


def test_squad_evaluation_batches_are_full(test_data, tmp_path):
  squad = json.loads((test_data / "squad_v1.1_head" /
                      "dev-v1.1-two-articles.json").read_text())
  eval_json = tmp_path / "eval.json"
  eval_json.write_text(json.dumps(dict(squad, data=squad["data"][1:])))
  params = overrides.parse_configuration("albert/squad", None, (
      TINY + f"task.validation_data.input_path='{eval_json}',"
      f"task.validation_data.vocab_file='{VOCAB}',"
      "task.validation_data.seq_length=128,"
      "task.validation_data.global_batch_size=4"))
  task = squad_task.SquadTask(params.task, logging_dir=str(tmp_path))
  windows = len(task._eval_features)  # pylint: disable=protected-access
  records = sum(1 for _ in tf.data.TFRecordDataset(
      str(tmp_path / "eval.tf_record")))
  assert windows % 4 and records == windows + (-windows % 4)
  dataset = task.build_inputs(params.task.validation_data)
  sizes = [int(f["input_word_ids"].shape[0]) for f, _ in dataset]
  assert sizes == [4] * (records // 4)
