"""`task.model.pooling` of `albert/sentence_prediction`: "cls" and "mean".

HuggingFace has no mean-pooled classifier, so the oracle here is numpy: the
logits must equal `mean(sequence_output over input_mask) @ kernel + bias`
computed from the same model's encoder output and classifier weights, on
real SST-2 batches with padding. "cls" stays the original head, dense on
the encoder's `pooled_output`.

Tests: `official_albert.modeling.heads`,
`official_albert.tasks.sentence_prediction`.
"""

import numpy as np
import pytest
import tensorflow as tf

import conftest
from official.core import config_definitions as cfg
from official_albert.configs import optimization
from official_albert.configs import overrides
from official_albert.data.finetuning import finetune_dataloader
from official_albert.errors import UserError
from official_albert.modeling import heads
from official_albert.tasks import sentence_prediction

SEQ = 64
TOLERANCE = 1e-5
TINY = conftest.TINY_ENCODER_OVERRIDE


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
  """16 real SST-2 training sentences, padded to the longest (int32)."""
  records = conftest.make_sst2_records(tmp_path_factory.mktemp("sst2"), SEQ)
  config = finetune_dataloader.FinetuneDataConfig(
      input_path=f"{records}/train.tfrecord", seq_length=SEQ,
      global_batch_size=16, is_training=False)
  result = next(iter(finetune_dataloader.FinetuneDataLoader(config).load()))
  lengths = result["input_mask"].numpy().sum(1)
  assert lengths.min() < lengths.max() == result["input_mask"].shape[1]
  return result


def _task(pooling, num_classes=2):
  params = overrides.parse_configuration(
      "albert/sentence_prediction", None,
      f"{TINY},task.model.pooling={pooling},"
      f"task.model.num_classes={num_classes},task.seed=3")
  return sentence_prediction.SentencePredictionTask(params.task)


def _numpy_logits(model, features, pooling):
  """The head's formula in numpy, from the model's own tensors."""
  outputs = model.encoder(features, training=False)
  if pooling == "mean":
    seq = outputs["sequence_output"].numpy().astype(np.float64)
    mask = features["input_mask"].numpy().astype(np.float64)[:, :, None]
    vector = (seq * mask).sum(1) / mask.sum(1)
  else:
    vector = outputs["pooled_output"].numpy().astype(np.float64)
  kernel, bias = (w.numpy().astype(np.float64)
                  for w in model.classifier.weights)
  return vector @ kernel + bias


def test_default_is_cls():
  assert _task("cls").task_config.model.pooling == "cls"
  params = overrides.parse_configuration("albert/sentence_prediction", None, "")
  assert params.task.model.pooling == "cls"


@pytest.mark.parametrize("pooling,num_classes", [
    ("cls", 2), ("mean", 2), ("mean", 1)])
def test_logits_equal_numpy_formula(batch, pooling, num_classes):
  model = _task(pooling, num_classes).build_model()
  got = model(batch, training=False).numpy()
  assert got.shape == (16, num_classes)
  want = _numpy_logits(model, batch, pooling)
  assert np.abs(got - want).max() <= TOLERANCE
  assert np.abs(want).max() > 100 * TOLERANCE


def test_mean_ignores_padding_and_differs_from_cls(batch):
  model = _task("mean").build_model()
  got = model(batch, training=False).numpy()
  padded = {k: tf.pad(v, [[0, 0], [0, 7]]) if len(v.shape) == 2 else v
            for k, v in batch.items()}
  assert np.abs(model(padded, training=False).numpy() - got).max() <= TOLERANCE
  # The same weights through [CLS] give other logits: the option is live.
  model.pooling = "cls"
  assert np.abs(model(batch, training=False).numpy() - got).max() > 1e-3


def test_mean_pooling_trains(batch):
  """A train step through the task with the pooler unused: the loss is
  finite, and the classifier and encoder move while the pooler does not."""
  task = _task("mean")
  model = task.build_model()
  model(batch, training=False)
  optimizer = task.create_optimizer(optimization.adamw(1e-2, 10, 0),
                                    cfg.RuntimeConfig())
  before = [v.numpy() for v in model.trainable_variables]
  logs = task.train_step(batch, model, optimizer)
  assert np.isfinite(float(logs["loss"]))
  moved = [v for v, old in zip(model.trainable_variables, before)
           if not np.array_equal(v.numpy(), old)]
  def has_moved(var):
    return any(var is v for v in moved)
  assert all(has_moved(v) for v in model.classifier.weights)
  assert has_moved(model.encoder.get_embedding_table())
  assert not any(has_moved(v) for v in model.encoder.pooler.weights)


def test_unknown_pooling_is_a_user_error():
  with pytest.raises(UserError, match=r"task.model.pooling='max'; use 'cls' "
                     r"or 'mean'"):
    _task("max").build_model()
  with pytest.raises(ValueError, match="pooling must be one of"):
    heads.AlbertClassifier(_task("cls").build_model().encoder, 2,
                           pooling="max")
