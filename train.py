r"""Runs an ALBERT experiment: Model Garden's train/eval loop on Orbit.

  python train.py --experiment=albert/pretraining --mode=train_and_eval \
    --model_dir=DIR --config_file=configs/models/albert_base_v2.yaml \
    --config_file=experiments/pretraining/demo.yaml \
    --params_override=task.train_data.global_batch_size=64

Flags are Model Garden's (`official.common.flags`): --experiment, --mode
(train, eval, train_and_eval, continuous_eval, ...), --model_dir, --config_file
(repeatable, applied in order), --params_override (comma form or YAML),
--gin_file, --gin_params, --tpu, and tensorflow_hub's --tfhub_cache_dir
(where TF-Hub modules named by task.hub_module_url are cached). The final config is written to
`DIR/params.yaml`, the final evaluation metrics to `DIR/metrics.json`.
Bad input ends with one line `error: ...` and exit status 2.

Example (on bundled data; the examples of train.py, the data commands,
convert, export, predict and sweep chain through /tmp/albert_example):

  # 20 pretraining steps on the records of create_pretraining_data's example:
  python train.py --experiment=albert/pretraining --mode=train \
      --model_dir=/tmp/albert_example/pretrain \
      --config_file=configs/models/albert_tiny.yaml \
      --config_file=configs/runtime/cpu.yaml \
      --config_file=experiments/pretraining/demo.yaml \
      --params_override="task.train_data.input_path=/tmp/albert_example/records/*.tfrecord,task.train_data.global_batch_size=16,trainer.train_steps=20,trainer.steps_per_loop=10,trainer.checkpoint_interval=20,trainer.validation_interval=0"
  # SST-2 from that checkpoint, on create_finetuning_data's example records:
  python train.py --experiment=albert/sentence_prediction \
      --mode=train_and_eval --model_dir=/tmp/albert_example/sst2_model \
      --config_file=configs/models/albert_tiny.yaml \
      --config_file=configs/runtime/cpu.yaml \
      --config_file=experiments/glue/sst2_demo.yaml \
      --params_override="task.init_checkpoint=/tmp/albert_example/pretrain,task.train_data.input_path=/tmp/albert_example/sst2/train.tfrecord,task.validation_data.input_path=/tmp/albert_example/sst2/dev.tfrecord,task.train_data.seq_length=64,task.validation_data.seq_length=64,trainer.train_steps=20,trainer.steps_per_loop=10,trainer.checkpoint_interval=20,trainer.validation_interval=20"
"""

import json
import os
import sys

import official_albert  # pylint: disable=unused-import  # First: quiets TF.
import gin
import tensorflow as tf
from absl import app
from absl import flags
from absl import logging
from official.common import distribute_utils
from official.common import flags as tfm_flags
from official.core import task_factory
from official.core import train_lib
from official.core import train_utils
from official.modeling import performance

from official_albert import configs  # pylint: disable=unused-import
from official_albert import errors
from official_albert import io_utils
from official_albert import tasks  # pylint: disable=unused-import
from official_albert.configs import accelerators
from official_albert.configs import overrides
from official_albert.training import run_guard
from official_albert.training import seeding
from official_albert.training import trainer as trainer_lib

FLAGS = flags.FLAGS


def _write_metrics(model_dir: str, mode: str, logs) -> None:
  """Prints the final metrics and saves them to model_dir/metrics.json."""
  metrics = {k: float(v) for k, v in (logs or {}).items()
             if getattr(v, "shape", ()) == () and not isinstance(v, str)}
  if not metrics:
    return
  print(f"final {mode} metrics: " + ", ".join(
      f"{k}={v:.4f}" for k, v in sorted(metrics.items())), flush=True)
  path = os.path.join(model_dir, "metrics.json")
  with io_utils.atomic_path(path) as tmp:
    with tf.io.gfile.GFile(tmp, "w") as f:
      json.dump(metrics, f, indent=2, sort_keys=True)


def run(experiment: str, mode: str, model_dir: str, config_files, override,
        tpu=None, gin_files=None, gin_params=None):
  """Parses the config, checks inputs, then trains and/or evaluates.

  A training mode holds `model_dir/train.lock` (one run per model_dir) and
  resumes from the newest readable checkpoint (`run_guard`); in a
  multi-worker cluster only the chief does.

  Returns:
    The final evaluation logs (a dict of metric name to value), or None.

  Raises:
    UserError: on bad flags, config or inputs, before any training work; a
      model_dir in use by another run; no readable checkpoint to resume; a
      loss above trainer.loss_upper_bound (or NaN) more often than
      trainer.recovery_max_trials allows.
  """
  for name, value in (("--experiment", experiment), ("--mode", mode),
                      ("--model_dir", model_dir)):
    if not value:
      errors.fail(f"{name} is required")
  params = overrides.parse_configuration(experiment, config_files, override,
                                         tpu)
  params = accelerators.static_shapes(params)  # XLA/TPU: few input shapes.
  if "train" not in mode or not run_guard.is_chief():
    return _run(params, mode, model_dir, gin_files, gin_params)
  with run_guard.model_dir_lock(model_dir):
    run_guard.check_latest_checkpoint(model_dir)
    try:
      return _run(params, mode, model_dir, gin_files, gin_params)
    except RuntimeError as e:
      # Model Garden's RecoveryCondition, after recovery_max_trials restores.
      if not str(e).startswith("The loss value is"):
        raise
      errors.fail(
          f"training stopped at step {_latest_step(model_dir)}: {e} (bound "
          f"trainer.loss_upper_bound={params.trainer.loss_upper_bound}, "
          f"trainer.recovery_max_trials={params.trainer.recovery_max_trials})"
          "; lower the learning rate or raise the bound or the trials")


def _latest_step(model_dir: str) -> str:
  latest = tf.train.latest_checkpoint(model_dir)
  return latest.rsplit("-", 1)[-1] if latest else "0 (no checkpoint yet)"


def _run(params, mode, model_dir, gin_files, gin_params):
  """Builds the task and trainer for `params` and runs `mode`."""
  if gin_files or gin_params:
    gin.parse_config_files_and_bindings(gin_files, gin_params)
  seeding.set_global_seed(getattr(params.task, "seed", None))
  if params.runtime.mixed_precision_dtype:
    # runtime.loss_scale is applied by the task's optimizer (float16 only);
    # Model Garden's set_mixed_precision_policy rejects any loss_scale.
    performance.set_mixed_precision_policy(
        params.runtime.mixed_precision_dtype)
  strategy = distribute_utils.get_distribution_strategy(
      distribution_strategy=params.runtime.distribution_strategy,
      all_reduce_alg=params.runtime.all_reduce_alg,
      num_gpus=params.runtime.num_gpus,
      tpu_address=params.runtime.tpu)
  with strategy.scope():
    task = task_factory.get_task(params.task, logging_dir=model_dir)
  if hasattr(task, "check_inputs"):
    task.check_inputs(mode)
  with strategy.scope():  # Our trainer: runtime.enable_xla works on CPU too.
    trainer = train_utils.create_trainer(
        params, task, train="train" in mode, evaluate="eval" in mode,
        checkpoint_exporter=train_lib.maybe_create_best_ckpt_exporter(
            params, model_dir),
        trainer_cls=trainer_lib.AlbertTrainer)
  if "train" in mode:
    train_utils.serialize_config(params, model_dir)
  logs = {}  # The last evaluation's metrics, kept by an eval action.
  train_lib.run_experiment(
      distribution_strategy=strategy, task=task, mode=mode, params=params,
      model_dir=model_dir, trainer=trainer, eval_actions=[logs.update])
  if gin_files or gin_params:
    train_utils.save_gin_config(mode, model_dir)
  if "eval" in mode:
    _write_metrics(model_dir, mode, logs)
  return logs


def main(_):
  """Runs `run` with the flags; user errors exit 2 with one line."""
  if not FLAGS["verbosity"].present:  # Orbit prints progress; keep logs quiet.
    logging.set_verbosity(logging.WARNING)
  errors.run_cli(lambda: run(
      FLAGS.experiment, FLAGS.mode, FLAGS.model_dir, FLAGS.config_file,
      FLAGS.params_override, FLAGS.tpu, FLAGS.gin_file, FLAGS.gin_params))


if __name__ == "__main__":
  tfm_flags.define_flags()
  app.run(main, argv=sys.argv)
