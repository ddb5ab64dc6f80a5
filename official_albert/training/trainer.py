"""Model Garden's trainer with XLA wherever `runtime.enable_xla` asks for it.

Model Garden's `base_trainer.Trainer.train_step` jit-compiles the task's train
step only when `runtime.num_gpus > 0`, so `runtime.enable_xla=true` silently
does nothing on a CPU (or a host with `num_gpus: 0`). This subclass honours
the flag on every device, so that what the config says is what runs. On the
2-core CPU of docs/performance.md XLA measured slower for ALBERT-base (0.93x
of Model Garden in float32, against 1.40x without it), which is why
`enable_xla` stays off by default. Everything else (metrics, checkpoints,
evaluation) is the base trainer's.
"""

import tensorflow as tf
from official.core import base_trainer


class AlbertTrainer(base_trainer.Trainer):
  """`base_trainer.Trainer` that jit-compiles the train step on any device.

  With `runtime.enable_xla`, `task.train_step` (forward, loss, gradients and
  the optimizer update) runs as one XLA cluster per replica. Evaluation is
  not compiled: it runs rarely and its batches may be ragged (no
  `drop_remainder`), which would recompile.
  """

  def train_step(self, iterator):
    """One training step on every replica (see `orbit.StandardTrainer`)."""
    task_train_step = self.task.train_step
    if self.config.runtime.enable_xla:
      task_train_step = tf.function(task_train_step, jit_compile=True)

    def step_fn(inputs):
      logs = task_train_step(inputs, model=self.model,
                             optimizer=self.optimizer,
                             metrics=self.train_metrics)
      self._train_loss.update_state(logs[self.task.loss])
      self.global_step.assign_add(1)

    self.strategy.run(step_fn, args=(self.next_train_inputs(iterator),),
                      options=self._runtime_options)
