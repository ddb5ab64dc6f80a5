"""Numerics of the speed options: gradient accumulation, XLA, mixed precision.

Oracles: the same update without the option (one big batch, float32 without
XLA), from the same initial weights on the same real records.

Tests: `official_albert.training.trainer`,
`official_albert.configs.optimization`.
"""

import pathlib

import numpy as np
import pytest
import tensorflow as tf
import tf_keras
import conftest
from official.core import exp_factory

from official_albert import configs  # pylint: disable=unused-import
from official_albert.configs import optimization
from official_albert.errors import UserError
from official_albert.tasks import pretraining as pretraining_task
from official_albert.training import trainer as trainer_lib

SEQ, PRED, BATCH = 64, 10, 8
TINY = dict(vocab_size=8000, embedding_size=16, hidden_size=32,
            num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def make_records(root: pathlib.Path) -> str:
  """The file pattern of records from 8 real held-out documents."""
  return str(conftest.make_pretraining_records(root, 8, SEQ, PRED) /
             "*.tfrecord")


def tiny_params(records: str, **task_fields):
  """A tiny `albert/pretraining` config on `records`, batch 8."""
  params = exp_factory.get_exp_config("albert/pretraining")
  data = dict(input_path=records, global_batch_size=BATCH, seq_length=SEQ,
              max_predictions_per_seq=PRED)
  params.override({"task": dict(model={"encoder": TINY}, train_data=data,
                                **task_fields)}, is_strict=True)
  return params


def fixed_batches(params, count: int):
  """The first `count` batches of the records, in file order (no shuffle)."""
  data = params.task.train_data.replace(is_training=False)
  task = pretraining_task.AlbertPretrainingTask(params.task)
  return list(task.build_inputs(data).take(count))


def constant_lr(optimizer: str, learning_rate: float = 1e-3):
  """SGD (sensitive to the gradient's scale) or the recipe's LAMB, lr fixed."""
  config = optimization.lamb(learning_rate, 10, 1)
  config.override({"learning_rate": {"type": "constant", "constant": {
                       "learning_rate": learning_rate}},
                   "warmup": {"type": None}})
  if optimizer == "sgd":
    config.override({"optimizer": {"type": "sgd",
                                   "sgd": {"momentum": 0.0}}})
    config.learning_rate.constant.learning_rate = 0.5
  return config


@pytest.fixture(scope="module")
def records(tmp_path_factory):
  return make_records(tmp_path_factory.mktemp("records"))


@pytest.mark.parametrize("optimizer", ["sgd", "lamb"])
def test_accumulation_equals_one_big_batch(records, optimizer):
  """4 micro-batches of 4 = one batch of 16: same loss, same weights.

  Also with the accumulating step compiled by XLA (its `tf.while_loop`).
  """
  batch = fixed_batches(tiny_params(records).replace(
      task={"train_data": {"global_batch_size": 16}}), 1)[0]
  weights, results = None, []
  for steps, xla in ((1, False), (4, False), (4, True)):
    params = tiny_params(records, gradient_accumulation_steps=steps)
    task = pretraining_task.AlbertPretrainingTask(params.task)
    model = task.build_model()
    model(batch)
    if weights is None:
      weights = model.get_weights()
    model.set_weights(weights)
    opt = task.create_optimizer(constant_lr(optimizer))
    logs = tf.function(task.train_step, jit_compile=xla)(
        batch, model=model, optimizer=opt)
    results.append((float(logs["loss"]), model.get_weights()))
  loss1, after1 = results[0]
  assert max(np.abs(a - w).max() for a, w in zip(after1, weights)) > 1e-4
  for loss, after in results[1:]:
    assert loss == pytest.approx(loss1, rel=1e-5)
    for a, b in zip(after1, after):
      np.testing.assert_allclose(b, a, atol=1e-5, rtol=0)


@pytest.mark.parametrize("steps", [3, 0])
def test_accumulation_must_divide_the_batch(records, steps):
  params = tiny_params(records, gradient_accumulation_steps=steps)
  task = pretraining_task.AlbertPretrainingTask(params.task)
  with pytest.raises(UserError, match=f"gradient_accumulation_steps={steps} "):
    task.check_inputs("train")


def _train_with_trainer(params, batches, weights):
  """Trains `len(batches)` steps in `AlbertTrainer`; returns the step losses.

  The mixed-precision policy is set while the model is built and trained
  (as train.py does for the whole run) and reset afterwards.
  """
  dtype = params.runtime.mixed_precision_dtype
  tf_keras.mixed_precision.set_global_policy(
      {"float32": "float32", "bfloat16": "mixed_bfloat16",
       "float16": "mixed_float16"}[dtype])
  try:
    task = pretraining_task.AlbertPretrainingTask(params.task)
    model = task.build_model()
    model(batches[0])
    model.set_weights(weights)
    optimizer = task.create_optimizer(params.trainer.optimizer_config,
                                      params.runtime)
    dataset = tf.data.Dataset.from_tensor_slices(
        tf.nest.map_structure(lambda *x: tf.stack(x), *batches)).repeat()
    trainer = trainer_lib.AlbertTrainer(
        params, task, model=model, optimizer=optimizer, evaluate=False,
        train_dataset=dataset.map(lambda x: x))
    return [float(trainer.train(tf.constant(1))["training_loss"])
            for _ in batches]
  finally:
    tf_keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("xla,dtype,rtol", [
    (True, "float32", 1e-4),   # Same math, fused: float32 rounding only.
    (False, "bfloat16", 3e-2),  # 8-bit mantissa activations.
    (False, "float16", 1e-2),   # With dynamic loss scaling.
])
def test_xla_and_mixed_precision_track_float32(records, xla, dtype, rtol):
  """Losses of 5 LAMB steps (one real batch, so the loss must fall) stay
  within `rtol` of float32 without XLA."""
  batches = fixed_batches(tiny_params(records), 1) * 5
  reference = tiny_params(records)
  reference.runtime.mixed_precision_dtype = "float32"
  reference.trainer.optimizer_config = constant_lr("lamb", 1e-2)
  task = pretraining_task.AlbertPretrainingTask(reference.task)
  model = task.build_model()
  model(batches[0])
  weights = model.get_weights()
  expected = _train_with_trainer(reference, batches, weights)
  params = reference.replace(runtime={"enable_xla": xla,
                                      "mixed_precision_dtype": dtype})
  got = _train_with_trainer(params, batches, weights)
  assert expected[-1] < expected[0] - 0.05  # Training moved the loss.
  np.testing.assert_allclose(got, expected, rtol=rtol)
