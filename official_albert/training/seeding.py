"""One seed for a whole run: `task.seed`.

Model Garden has no run-wide seed in `RuntimeConfig`; its tasks that need one
keep it in the task config (`task.seed`, as the YOLO task does) and its
`DataConfig.seed` seeds `InputReader`'s file and example shuffles. Here
`task.seed` drives both:
* `seed_data_configs` (applied while the config is built) copies it to
  `task.train_data.seed` and `task.validation_data.seed` where those are unset
  and asks tf.data for deterministic element order;
* `set_global_seed` (applied by `train.py` before the model is built) seeds
  Python, NumPy and TensorFlow (`tf_keras.utils.set_random_seed`), which fixes
  the initial weights of the heads and of any encoder not restored from a
  checkpoint, and the dropout masks.

Two CPU runs with the same seed and config then produce the same metrics.
What stays non-deterministic is in docs/reproducibility.md.
"""

from typing import Optional

import tf_keras
from official.core import config_definitions as cfg


def seed_data_configs(params: cfg.ExperimentConfig) -> None:
  """Copies `task.seed` to the data configs that have no seed of their own.

  Args:
    params: the (unlocked) experiment config; changed in place. Nothing
      happens when `task.seed` is None.
  """
  seed = getattr(params.task, "seed", None)
  if seed is None:
    return
  for name in ("train_data", "validation_data"):
    data = getattr(params.task, name, None)
    if not isinstance(data, cfg.DataConfig):
      continue
    if data.seed is None:
      data.seed = seed
    if data.deterministic is None:
      data.deterministic = True


def set_global_seed(seed: Optional[int]) -> None:
  """Seeds Python's, NumPy's and TensorFlow's global generators.

  Args:
    seed: `task.seed`; None leaves the generators unseeded.
  """
  if seed is not None:
    tf_keras.utils.set_random_seed(seed)
