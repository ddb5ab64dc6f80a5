"""What XLA and TPUs need from an experiment config: static input shapes.

XLA (`runtime.enable_xla`, and every TPU program) compiles the train step
once per distinct input shape. Fine-tuning batches are padded to their own
longest sequence by default, up to `seq_length` shapes and as many
compilations; with XLA or a TPU they are padded to the length-bucket
boundaries instead (at most `ceil(seq_length / bucket_width)` shapes) with
full batches only, and on a TPU evaluation batches are padded to
`seq_length`. Pretraining batches are already static (`[batch, seq_length]`).
"""

from absl import logging
from official.core import config_definitions as cfg


def static_shapes(params: cfg.ExperimentConfig) -> cfg.ExperimentConfig:
  """Returns `params` with the input shapes its runtime needs.

  Args:
    params: a parsed (locked) experiment config.

  Returns:
    `params` itself without XLA or TPU, or when the task's data has no
    dynamic padding; else an unlocked copy whose `task.train_data` buckets by
    length, pads to the bucket boundaries and drops the remainder, and (TPU)
    whose `task.validation_data` is padded to `seq_length`.
  """
  tpu = params.runtime.distribution_strategy == "tpu"
  if not (params.runtime.enable_xla or tpu):
    return params
  task = {}
  train = params.task.train_data
  if getattr(train, "dynamic_padding", False):
    task["train_data"] = dict(length_bucketing=True,
                              pad_to_bucket_boundary=True, drop_remainder=True)
  if tpu and getattr(params.task.validation_data, "dynamic_padding", False):
    task["validation_data"] = dict(dynamic_padding=False)
  if not task:
    return params
  logging.info("XLA/TPU: static input shapes: %s", task)
  return params.replace(task=task)
