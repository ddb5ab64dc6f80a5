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

  The train step itself is Model Garden's: where it would not compile (no
  GPU in the config), the task's own `train_step` is compiled once here,
  and Model Garden's step calls it.

  Example:

  ```python
  trainer = AlbertTrainer(params, task, model=task.build_model(),
                          optimizer=task.create_optimizer(
                              params.trainer.optimizer_config,
                              params.runtime))
  trainer.train(tf.constant(100))  # 100 steps, with XLA if enable_xla
  ```
  """

  def __init__(self, config, task, *args, **kwargs):
    runtime = config.runtime
    if (runtime.enable_xla and not runtime.num_gpus > 0
        and not getattr(task.train_step, "_jit_compile", False)):
      # Model Garden compiles `task.train_step` only when num_gpus > 0;
      # elsewhere its step calls this compiled one (the same function it
      # would have built; the task is this trainer's).
      task.train_step = tf.function(task.train_step, jit_compile=True)
    super().__init__(config, task, *args, **kwargs)
