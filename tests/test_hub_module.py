"""Fine-tuning from TF-Hub modules (`task.hub_module_url`).

The oracle is Model Garden's own TF-Hub exporter
(`official.nlp.tools.export_tfhub_lib.export_model`) applied to Model
Garden's `AlbertEncoder`: fine-tuning from that module must give the same
first-step logits as the same weights converted to our checkpoint
(`interop.convert`) and restored through `task.init_checkpoint`. Our own
`serving.export` encoder SavedModel must load the same way.

Tests: `official_albert.tasks.hub_encoder`.
"""

import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf
import conftest
from official.nlp.configs import encoders as mg_encoders
from official.nlp.tools import export_tfhub_lib
from test_interop_model_garden import randomised

import train
from official_albert.configs import encoders
from official_albert.configs import overrides
from official_albert.data.finetuning import finetune_dataloader
from official_albert.errors import UserError
from official_albert.interop import convert
from official_albert.interop import layout
from official_albert.interop import model_garden
from official_albert.serving import export
from official_albert.tasks import sentence_prediction
from official_albert.tasks import squad

REPO = pathlib.Path(__file__).resolve().parents[1]
VOCAB = REPO / "assets/vocab/albert_demo_8k.model"
SEQ = 64
TOLERANCE = 1e-5
CONFIG = encoders.AlbertEncoderConfig(**conftest.TINY_ENCODER)
OURS = conftest.TINY_ENCODER_OVERRIDE


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
  """One set of random weights as MG checkpoint, MG hub module, ours."""
  root = tmp_path_factory.mktemp("hub")
  encoder = model_garden.build_encoder(CONFIG)
  randomised(encoder.weights, seed=7)
  (root / "mg").mkdir()
  prefix = tf.train.Checkpoint(encoder=encoder).save(str(root / "mg" / "ckpt"))
  layout.save_config(CONFIG, str(root / "mg" / layout.CONFIG_FILE))
  export_tfhub_lib.export_model(
      str(root / "mg_hub"),
      encoder_config=mg_encoders.EncoderConfig(
          type="albert", albert=mg_encoders.AlbertEncoderConfig(
              vocab_size=8000, embedding_width=16, hidden_size=32,
              num_layers=2, num_attention_heads=2, intermediate_size=64,
              max_position_embeddings=128, hidden_activation="gelu")),
      model_checkpoint_path=prefix, with_mlm=False,
      sp_model_file=str(VOCAB), do_lower_case=True)
  convert.convert("model_garden", "ours", str(root / "mg"), str(root / "ours"))
  export.main(["--input", str(root / "ours"), "--output",
               str(root / "ours_hub"), "--seq_length", str(SEQ)])
  return root


@pytest.fixture(scope="module")
def records(tmp_path_factory):
  return conftest.make_sst2_records(tmp_path_factory.mktemp("sst2"), SEQ)


def _task(task_cls, experiment, records, start):
  params = overrides.parse_configuration(experiment, None, (
      f"{OURS},{start},task.train_data.seq_length={SEQ},"
      f"task.train_data.input_path='{records}/train.tfrecord',"
      "task.train_data.global_batch_size=16"))
  return task_cls(params.task), params


def _first_batch(records):
  """The first 16 SST-2 training sentences, in file order."""
  config = finetune_dataloader.FinetuneDataConfig(
      input_path=f"{records}/train.tfrecord", seq_length=SEQ,
      global_batch_size=16, is_training=False)
  batch = next(iter(finetune_dataloader.FinetuneDataLoader(config).load()))
  return {k: batch[k] for k in export.ENCODER_INPUTS}


def _first_logits(task_cls, experiment, records, start, head_from=None):
  """The model after `initialize`, and its logits on the first batch."""
  task, _ = _task(task_cls, experiment, records, start)
  model = task.build_model()
  task.initialize(model)
  features = _first_batch(records)
  model(features, training=False)
  if head_from is not None:  # The same (random) head on both encoders.
    head = [v for v in model.trainable_variables
            if not any(v is w for w in model.encoder.trainable_variables)]
    source = [v for v in head_from.trainable_variables
              if not any(v is w for w in head_from.encoder.trainable_variables)]
    assert len(head) == len(source) > 0
    for mine, theirs in zip(head, source):
      mine.assign(theirs)
  return model, np.concatenate([np.reshape(x, (len(x), -1)) for x in
                                tf.nest.flatten(model(features,
                                                      training=False))], -1)


@pytest.mark.parametrize("task_cls, experiment, head", [
    (sentence_prediction.SentencePredictionTask, "albert/sentence_prediction",
     ""),
    (squad.SquadTask, "albert/squad", ""),
    (squad.SquadTask, "albert/squad", "task.model.head=beam,"
     "task.validation_data.version_2_with_negative=true,"),
])
def test_hub_module_logits_equal_converted_checkpoint(
    modules, records, task_cls, experiment, head):
  ours, want = _first_logits(task_cls, experiment, records,
                             f"{head}task.init_checkpoint='{modules / 'ours'}'")
  for name in ("mg_hub", "ours_hub"):
    hub_model, got = _first_logits(
        task_cls, experiment, records,
        f"{head}task.hub_module_url='{modules / name}'", head_from=ours)
    # The encoder is trainable, with every variable of ours.
    assert (len(hub_model.encoder.trainable_variables) ==
            len(ours.encoder.trainable_variables))
    diff = float(np.abs(got - want).max())
    print(f"{experiment}: {name} vs converted checkpoint, max abs diff of "
          f"first-batch logits {diff:.3g}")
    assert diff <= TOLERANCE
    assert np.abs(want).max() > 1e-3


def test_train_py_fine_tunes_from_a_hub_module(modules, records, tmp_path):
  model_dir = tmp_path / "model"
  override = (
      f"{OURS},task.hub_module_url='{modules / 'mg_hub'}',"
      f"task.train_data.input_path='{records}/train.tfrecord',"
      f"task.validation_data.input_path='{records}/dev.tfrecord',"
      f"task.train_data.seq_length={SEQ},task.validation_data.seq_length={SEQ},"
      "task.train_data.global_batch_size=16,"
      "task.validation_data.global_batch_size=32,"
      "trainer.train_steps=4,trainer.steps_per_loop=4,"
      "trainer.checkpoint_interval=4,trainer.summary_interval=4,"
      "trainer.validation_interval=4")
  train.run("albert/sentence_prediction", "train_and_eval", str(model_dir),
            None, override)
  metrics = json.loads((model_dir / "metrics.json").read_text())
  assert 0.0 <= metrics["accuracy"] <= 1.0
  # The module's encoder was fine-tuned: its weights moved from the export.
  reader = tf.train.load_checkpoint(str(model_dir))
  exported = tf.saved_model.load(str(modules / "mg_hub"))
  start = {v.name: v.numpy() for v in exported.trainable_variables}
  stored = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k.startswith("encoder/") and "OPTIMIZER_SLOT" not in k}
  moved = [k for k, v in stored.items() if not any(
      s.shape == v.shape and np.array_equal(s, v) for s in start.values())]
  assert len(stored) >= len(start) and moved


def test_hub_module_and_init_checkpoint_together_is_an_error(modules, records):
  with pytest.raises(UserError, match="are both set"):
    _first_logits(sentence_prediction.SentencePredictionTask,
                  "albert/sentence_prediction", records,
                  f"task.hub_module_url='{modules / 'mg_hub'}',"
                  f"task.init_checkpoint='{modules / 'ours'}'")
  with pytest.raises(UserError, match="not a SavedModel directory"):
    _first_logits(squad.SquadTask, "albert/squad", records,
                  f"task.hub_module_url='{modules / 'ours'}'")
