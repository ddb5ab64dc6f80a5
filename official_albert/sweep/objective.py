"""What a sweep optimises: a metric of the experiment, read from its runs.

Every `train.py` run writes its final evaluation metrics to
`MODEL_DIR/metrics.json`; with the best-checkpoint exporter on (the sweep
turns it on), Model Garden also writes `MODEL_DIR/best_ckpt/info.json`, the
evaluation of the best checkpoint and its `best_ckpt_global_step`.
`reported_metrics` lists, before any run, the names a task's evaluation
reports, from the same code that computes them.
"""

import json
import math
from typing import Optional, Set, Tuple

import tensorflow as tf
from official.core import config_definitions as cfg
from official.core import task_factory

from official_albert import errors
from official_albert import io_utils
from official_albert.configs import finetuning
from official_albert.configs import pretraining
from official_albert.metrics import glue
from official_albert.metrics import squad

BEST_SUBDIR = "best_ckpt"
METRICS_FILE = "metrics.json"
_LOSS = "validation_loss"  # The trainer's evaluation loss (Model Garden).

# A two-question SQuAD v2.0 set: one answerable, one not, so that every key
# of the official scripts' output appears.
_SQUAD = [{"paragraphs": [{"context": "a b", "qas": [
    {"id": "1", "question": "?", "is_impossible": False,
     "answers": [{"text": "a", "answer_start": 0}]},
    {"id": "2", "question": "?", "is_impossible": True, "answers": []}]}]}]


def reported_metrics(params: cfg.ExperimentConfig
                     ) -> Tuple[Optional[str], Optional[Set[str]]]:
  """The main metric of an experiment and every metric its evaluation reports.

  Main metrics: `task.metric_type` for sentence prediction (accuracy, f1,
  matthews_corrcoef, pearson_spearman_corr), "f1" for SQuAD (the official
  script's final F1), "masked_lm_accuracy" for pretraining.

  Returns:
    (main metric, names); both None for a task this module does not know,
    whose metric is then checked after its first run.
  """
  task_config = params.task
  task = task_factory.get_task(task_config)
  names = {_LOSS} | {m.name for m in task.build_metrics(training=False)}
  if isinstance(task_config, finetuning.SentencePredictionConfig):
    kind = task_config.metric_type
    names |= set(glue.glue_metrics(kind, [0, 1, 1], [0, 1, 0]))
    return kind, names
  if isinstance(task_config, finetuning.SquadConfig):
    if task_config.validation_data.version_2_with_negative:
      names |= set(squad.squad_v2_metrics(_SQUAD, {"1": "a", "2": ""},
                                          {"1": 0.0, "2": 1.0}))
    else:
      names |= set(squad.squad_v1_metrics(_SQUAD, {"1": "a", "2": "b"}))
    return "f1", names
  if isinstance(task_config, pretraining.AlbertPretrainingConfig):
    return "masked_lm_accuracy", names
  return None, None


def default_direction(metric: str) -> str:
  """"minimize" for losses and errors, else "maximize"."""
  low = ("loss", "error", "perplexity")
  return "minimize" if any(w in metric for w in low) else "maximize"


def read_result(model_dir: str, metric: str) -> Tuple[float, Optional[int]]:
  """The metric of a finished run and the step of its best checkpoint.

  Returns:
    (value from metrics.json, best_ckpt_global_step or None).

  Raises:
    UserError: when metrics.json is missing or lacks the metric, or the value
      is NaN or infinite (the message is the trial's error line).
  """
  path = io_utils.join(model_dir, METRICS_FILE)
  try:
    with io_utils.open_file(path) as f:
      metrics = json.load(f)
  except (OSError, ValueError, tf.errors.NotFoundError):
    errors.fail(f"the run wrote no readable {path}")
  if metric not in metrics:
    errors.fail(f"the run did not report metric {metric!r}; it reported "
                f"{', '.join(sorted(metrics))}")
  value = float(metrics[metric])
  if not math.isfinite(value):
    errors.fail(f"metric {metric} is {value}")
  best_step = None
  info = io_utils.join(model_dir, BEST_SUBDIR, "info.json")
  if io_utils.isfile(info):
    with io_utils.open_file(info) as f:
      best_step = int(json.load(f).get("best_ckpt_global_step", 0)) or None
  return value, best_step
