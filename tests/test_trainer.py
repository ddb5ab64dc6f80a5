"""`official_albert.training.trainer.AlbertTrainer`: Model Garden's train
step, with the task's step compiled when `enable_xla` is set on a device
where Model Garden would not compile it.

Tests: `official_albert.training.trainer`.
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras
from official.core import base_task
from official.core import base_trainer
from official.core import config_definitions as cfg

from official_albert.training import trainer as trainer_lib


class _Regression(base_task.Task):
  """y = 2x on one weight: small enough to build a trainer in a test."""
  loss = "loss"

  def build_model(self):
    return tf_keras.Sequential([tf_keras.layers.Dense(1, use_bias=False)])

  def build_losses(self, labels, model_outputs, aux_losses=None):
    return tf.reduce_mean(tf.square(labels - model_outputs))

  def build_inputs(self, params, input_context=None):
    x = tf.constant([[1.0], [2.0], [3.0], [4.0]])
    return tf.data.Dataset.from_tensor_slices((x, 2 * x)).batch(2).repeat()


def _trainer(enable_xla):
  config = cfg.ExperimentConfig(
      runtime=cfg.RuntimeConfig(enable_xla=enable_xla, num_gpus=0),
      trainer=cfg.TrainerConfig(optimizer_config={
          "optimizer": {"type": "sgd"},
          "learning_rate": {"type": "constant",
                            "constant": {"learning_rate": 0.01}}}))
  task = _Regression(cfg.TaskConfig())
  model = task.build_model()
  model(tf.zeros([1, 1]))
  model.set_weights([np.ones([1, 1], np.float32)])
  optimizer = task.create_optimizer(config.trainer.optimizer_config,
                                    config.runtime)
  return trainer_lib.AlbertTrainer(
      config, task, model=model, optimizer=optimizer, evaluate=False,
      train_dataset=task.build_inputs(None))


def test_the_train_step_is_model_gardens():
  assert (trainer_lib.AlbertTrainer.train_step
          is base_trainer.Trainer.train_step)


@pytest.mark.parametrize("enable_xla", [True, False])
def test_xla_compiles_the_task_step_where_model_garden_would_not(enable_xla):
  # num_gpus=0: Model Garden's own step would not compile it.
  trainer = _trainer(enable_xla)
  assert getattr(trainer.task.train_step, "_jit_compile", False) is enable_xla


def test_xla_and_plain_steps_train_the_same():
  losses = {}
  for xla in (False, True):
    trainer = _trainer(xla)
    losses[xla] = [float(trainer.train(tf.constant(1))["training_loss"])
                   for _ in range(4)]
  # The two batches alternate; each one's loss falls.
  assert losses[True][2] < losses[True][0]
  np.testing.assert_allclose(losses[True], losses[False], rtol=1e-6)
